"""`register report risks` and `register accounts export|import`: the account register's commands."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from register.actor import Actor
from register.commands import print_json, read_input_file
from register.settings import Settings


async def cmd_report_risks(args: argparse.Namespace, settings: Settings) -> int:
    """Print the risk findings across the register."""
    from accounts.services import risk_report
    from register.runtime import runtime

    items: list[dict] = []
    async with runtime(settings, announce=False):
        offset: int | None = 0
        report: dict = {}
        while offset is not None:
            report = await risk_report(settings=settings, kind=args.kind, limit=200, offset=offset)
            items.extend(report["items"])
            offset = report["next_offset"]
    if args.json:
        print_json({"accounts": report["accounts"], "totals": report["totals"], "items": items})
        return 0
    print(f"{report['accounts']} live accounts; findings by kind:")
    for kind, count in report["totals"].items():
        print(f"  {kind:<28} {count}")
    for item in items:
        kinds = ", ".join(f["kind"] for f in item["findings"])
        print(f"{item['account_id']:>6}  {item['platform']:<16} {item['handle']:<32} {kinds}")
    return 0


async def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write the inventory CSV to a file or stdout."""
    from accounts.files import export_csv
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        body = await export_csv()
    if args.output in (None, "-"):
        sys.stdout.write(body)
    else:
        await asyncio.to_thread(Path(args.output).write_text, body, encoding="utf-8")
    return 0


async def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import IT's inventory CSV, all or nothing."""
    from accounts.files import import_csv
    from register.runtime import runtime

    if (content := await read_input_file(args.file)) is None:
        return 2
    async with runtime(settings, announce=False):
        summary = await import_csv(
            actor=Actor.system("cli"), settings=settings, content=content, mapping=args.mapping
        )
    print_json(summary)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the accounts commands to the CLI."""
    report = sub.add_parser("report", help="reports").add_subparsers(
        dest="report_command", required=True
    )
    risks = report.add_parser("risks", help="risk findings across the account register")
    risks.add_argument("--kind", help="only this kind of finding")
    risks.add_argument("--json", action="store_true")
    risks.set_defaults(handler=cmd_report_risks)
    accounts = sub.add_parser("accounts", help="the account register").add_subparsers(
        dest="accounts_command", required=True
    )
    exp = accounts.add_parser("export", help="inventory CSV (no secrets)")
    exp.add_argument("--output", "-o")
    exp.set_defaults(handler=cmd_export)
    imp = accounts.add_parser("import", help="import IT's inventory CSV, all or nothing")
    imp.add_argument("file")
    imp.add_argument(
        "--mapping", help='JSON object of header -> field, e.g. {"Owner": "custodian_email"}'
    )
    imp.set_defaults(handler=cmd_import)
