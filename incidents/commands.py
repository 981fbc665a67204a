"""CLI commands of the incidents app: `register incidents check|playbooks|list`, `register report incidents`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from register.actor import Actor
from register.commands import print_json
from register.settings import Settings

MEASURES = ("acknowledge", "contain", "resolve")


def _when(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


async def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Notify again what is late (run every minute from cron or a timer)."""
    from incidents.flows import check_clocks
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        counts = await check_clocks(at=_when(args.at))
    print(json.dumps(counts))
    return 0


async def cmd_playbooks_load(args: argparse.Namespace, settings: Settings) -> int:
    """Load the shipped playbooks of categories that have none in the database yet."""
    from incidents.services import load_all
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        loaded = await load_all(Actor.system("cli"))
    print(f"playbooks loaded: {', '.join(loaded) if loaded else 'none (all present)'}")
    return 0


async def cmd_playbooks_list(args: argparse.Namespace, settings: Settings) -> int:
    """Print the current playbook of every category."""
    from incidents.services import list_playbooks
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        books = await list_playbooks()
    for book in books:
        print(
            f"{book['category']:<20} v{book['version']:<3} {len(book['steps']):>2} steps  {book['title']}"
        )
    return 0


async def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    """List open incidents, newest first."""
    from incidents.services import list_incidents
    from register.runtime import runtime

    rows: list[dict[str, Any]] = []
    async with runtime(settings, announce=False):
        offset: int | None = 0
        while offset is not None:
            page, offset = await list_incidents(
                actor=Actor.system("cli"),
                limit=200,
                offset=offset,
                # open_only=False would mean closed ones only: --all asks for no filter at all.
                open_only=None if args.all else True,
            )
            rows += page
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        print(
            f"{r['reference']:<15} {r['severity']:<5} {r['status']:<10} {r['category']:<20} {r['title']}"
        )
    return 0


async def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Time to acknowledge, contain and resolve by severity (now, at filing, highest) and category."""
    from incidents.services import metrics
    from register.runtime import runtime

    until = _when(args.until)
    since = _when(args.since) or (until or dt.datetime.now(dt.UTC)) - dt.timedelta(days=args.days)
    async with runtime(settings, announce=False):
        report = await metrics(since=since, until=until)
    if args.json:
        print_json(report)
        return 0
    print(
        f"incidents filed {report['since']:%Y-%m-%d} .. {report['until']:%Y-%m-%d}: {report['filed']}"
    )
    print(
        "open by severity: " + ", ".join(f"{k} {v}" for k, v in report["open_by_severity"].items())
    )
    print(f"overdue tasks: {report['overdue_tasks']}")
    for title, key in (
        ("severity now", "by_severity"),
        ("severity at filing", "by_severity_at_filing"),
        ("highest severity", "by_highest_severity"),
        ("category", "by_category"),
    ):
        print(f"\nby {title} (median minutes from filing)")
        print(f"  {'':<40} {'filed':>5}  " + "  ".join(f"{m:>11}" for m in MEASURES))
        for name, g in report[key].items():
            if not g["filed"]:
                continue
            cells = [g[m]["median_minutes"] for m in MEASURES]
            print(
                f"  {name:<40} {g['filed']:>5}  "
                + "  ".join(f"{'-' if c is None else c:>11}" for c in cells)
            )
    return 0


def _report_parsers(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    """The `report` group (another app may have added it already)."""
    parser = sub.choices.get("report")
    if parser is not None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action
    return sub.add_parser("report", help="reports").add_subparsers(
        dest="report_command", required=True
    )


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the incidents commands to the CLI."""
    report = _report_parsers(sub).add_parser(
        "incidents", help="incident handling times by severity and category; open; overdue tasks"
    )
    report.add_argument(
        "--days", type=int, default=90, help="period length ending now (default 90)"
    )
    report.add_argument("--since", help="start of the period (ISO 8601)")
    report.add_argument("--until", help="end of the period (ISO 8601)")
    report.add_argument("--json", action="store_true")
    report.set_defaults(handler=cmd_report)
    incidents = sub.add_parser("incidents", help="social media incidents").add_subparsers(
        dest="incidents_command", required=True
    )
    check = incidents.add_parser(
        "check", help="re-notify unacknowledged incidents, overdue tasks and due status updates"
    )
    check.add_argument("--at", help="check as of this time (ISO 8601; default now)")
    check.set_defaults(handler=cmd_check)
    listing = incidents.add_parser("list", help="open incidents (--all: closed too)")
    listing.add_argument("--all", action="store_true")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_list)
    books = incidents.add_parser("playbooks", help="crisis playbooks").add_subparsers(
        dest="playbooks_command", required=True
    )
    load = books.add_parser("load", help="load shipped playbooks missing from the database")
    load.set_defaults(handler=cmd_playbooks_load)
    show = books.add_parser("list", help="the current playbook of every category")
    show.set_defaults(handler=cmd_playbooks_list)
