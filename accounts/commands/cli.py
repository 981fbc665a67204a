"""CLI commands of the accounts app: `register report risks`, `register accounts import|export`,
`register connections import|purge|subject-access|erase|reindex`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from register.actor import Actor
from register.commands import print_json
from register.settings import Settings


async def cmd_report_risks(args: argparse.Namespace, settings: Settings) -> int:
    """Print the risk findings across the register."""
    from accounts.risks import risk_report
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
    from accounts.inventory import export_csv
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
    from accounts.inventory import import_csv
    from register.runtime import runtime

    content = await asyncio.to_thread(Path(args.file).read_bytes)
    async with runtime(settings, announce=False):
        summary = await import_csv(
            actor=Actor.system("cli"), settings=settings, content=content, mapping=args.mapping
        )
    print_json(summary)
    return 0


async def cmd_connections_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import an employee's LinkedIn Connections.csv, all or nothing."""
    from accounts.connection_import import import_connections
    from accounts.connections import index_pending
    from register.errors import NotFound
    from register.runtime import runtime
    from register.staff.tables import Employee

    content = await asyncio.to_thread(Path(args.file).read_bytes)
    async with runtime(settings, announce=False):
        person = (
            await Employee.select(Employee.id)
            .where(Employee.work_email == args.employee.strip().lower())
            .first()
        )
        if person is None:
            raise NotFound(f"no employee with work e-mail {args.employee}")
        result = await import_connections(
            actor=Actor.system("cli"),
            employee_id=person["id"],
            content=content,
            filename=Path(args.file).name,
        )
        await index_pending()
    print_json(result)
    return 0


async def cmd_connections_purge(args: argparse.Namespace, settings: Settings) -> int:
    """Delete the connections of people who left more than connection_retention_days ago."""
    from accounts.connections import purge
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        result = await purge(actor=Actor.system("cli"), settings=settings, dry_run=args.dry_run)
    print_json(result)
    return 0


async def cmd_connections_subject(args: argparse.Namespace, settings: Settings) -> int:
    """Print everything held about one person (subject access), as JSON."""
    from accounts.connections import subject_access
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        found = await subject_access(
            actor=Actor.system("cli"), profile_url=args.profile_url, email=args.email
        )
    print_json(found)
    return 0


async def cmd_connections_erase(args: argparse.Namespace, settings: Settings) -> int:
    """Erase one person everywhere."""
    from accounts.connections import erase
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        result = await erase(
            actor=Actor.system("cli"), profile_url=args.profile_url, email=args.email
        )
    print_json(result)
    return 0


async def cmd_connections_reindex(args: argparse.Namespace, settings: Settings) -> int:
    """Bring the connection search index up to date (after a bulk load or an interrupted run)."""
    from accounts.connections import index_pending
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        added = await index_pending()
    print(f"search index: {added} connection(s) added")
    return 0


def _add_connection_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    connections = sub.add_parser(
        "connections", help="LinkedIn connections kept as the employer's"
    ).add_subparsers(dest="connections_command", required=True)
    imp = connections.add_parser(
        "import", help="import an employee's Connections.csv, all or nothing"
    )
    imp.add_argument("--employee", required=True, help="the employee's work e-mail")
    imp.add_argument("file", help="Connections.csv from LinkedIn's data download")
    imp.set_defaults(handler=cmd_connections_import)
    purge = connections.add_parser(
        "purge",
        help="delete connections of people who left more than connection_retention_days ago",
    )
    purge.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    purge.set_defaults(handler=cmd_connections_purge)
    for name, handler, what in (
        ("subject-access", cmd_connections_subject, "print everything held about one person"),
        ("erase", cmd_connections_erase, "erase one person everywhere"),
    ):
        cmd = connections.add_parser(name, help=what)
        cmd.add_argument("--profile-url", dest="profile_url", default="")
        cmd.add_argument("--email", default="")
        cmd.set_defaults(handler=handler)
    reindex = connections.add_parser("reindex", help="bring the search index up to date")
    reindex.set_defaults(handler=cmd_connections_reindex)


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
    _add_connection_commands(sub)
