"""`register connections ...`: import, purge, subject access, erasure, reindex."""

from __future__ import annotations

import argparse
from pathlib import Path

from register.actor import Actor
from register.commands import open_input_file, print_json
from register.i18n import N_
from register.settings import Settings


async def cmd_connections_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import an employee's LinkedIn Connections.csv; --strict: all rows or none."""
    from accounts.connections.files import import_connections
    from accounts.connections.services import index_pending
    from register.errors import NotFound
    from register.runtime import runtime
    from register.staff.services import employee_by_email

    if (content := await open_input_file(args.file)) is None:
        return 2
    # Read as a stream: a large export never sits in memory whole.
    with content:
        async with runtime(settings, announce=False):
            person = await employee_by_email(args.employee)
            if person is None:
                raise NotFound(
                    N_("no employee with work e-mail %(employee)s"),
                    params={"employee": args.employee},
                )
            result = await import_connections(
                actor=Actor.system("cli"),
                employee_id=person["id"],
                content=content,
                filename=Path(args.file).name,
                strict=args.strict,
            )
            await index_pending()
    print_json(result)
    return 0


async def cmd_connections_purge(args: argparse.Namespace, settings: Settings) -> int:
    """Delete the connections of people who left more than connection_retention_days ago."""
    from accounts.connections.services import purge
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        result = await purge(actor=Actor.system("cli"), settings=settings, dry_run=args.dry_run)
    print_json(result)
    return 0


async def cmd_connections_subject(args: argparse.Namespace, settings: Settings) -> int:
    """Print everything held about one person (subject access), as JSON."""
    from accounts.connections.services import subject_access
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        found = await subject_access(
            actor=Actor.system("cli"), profile_url=args.profile_url, email=args.email
        )
    print_json(found)
    return 0


async def cmd_connections_erase(args: argparse.Namespace, settings: Settings) -> int:
    """Erase one person everywhere."""
    from accounts.connections.services import erase
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        result = await erase(
            actor=Actor.system("cli"), profile_url=args.profile_url, email=args.email
        )
    print_json(result)
    return 0


async def cmd_connections_reindex(args: argparse.Namespace, settings: Settings) -> int:
    """Bring the connection search index up to date (after a bulk load or an interrupted run)."""
    from accounts.connections.services import index_pending
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        added = await index_pending()
    print(f"search index: {added} connection(s) added")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `connections ...` to the CLI."""
    connections = sub.add_parser(
        "connections", help="LinkedIn connections kept as the employer's"
    ).add_subparsers(dest="connections_command", required=True)
    imp = connections.add_parser(
        "import",
        help="import an employee's Connections.csv; lines that cannot be read are listed and kept",
    )
    imp.add_argument("--employee", required=True, help="the employee's work e-mail")
    imp.add_argument(
        "--strict", action="store_true", help="all rows or none: refuse the file for one bad line"
    )
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
