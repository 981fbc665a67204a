"""`register employee`: the staff directory's import and leaver sweep."""

from __future__ import annotations

import argparse

from register.actor import Actor
from register.commands import print_json, read_input_file
from register.runtime import runtime
from register.settings import Settings


async def cmd_employee_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import employees from a CSV file, all or nothing."""
    from register.staff.files import import_employees

    if (content := await read_input_file(args.file)) is None:
        return 2
    async with runtime(settings, announce=False):
        summary = await import_employees(
            actor=Actor.system("cli"),
            content=content,
            mapping=args.mapping,
            date_order=args.date_order,
        )
    print_json(summary)
    return 0


async def cmd_employee_sweep(args: argparse.Namespace, settings: Settings) -> int:
    """Mark everyone whose leaving date has passed as left (the server also does this hourly)."""
    from register.staff.services import sweep_leavers

    async with runtime(settings, announce=False):
        left = await sweep_leavers(actor=Actor.system("cli"))
    print(f"{len(left)} employee(s) marked as left" + (f": {left}" if left else ""))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `employee import` and `employee sweep` to the CLI."""
    employee = sub.add_parser("employee", help="the staff directory").add_subparsers(
        dest="employee_command", required=True
    )
    eimport = employee.add_parser("import", help="import an HR CSV export, all or nothing")
    eimport.add_argument("file")
    eimport.add_argument(
        "--mapping", help='JSON object of header -> field, e.g. {"Mail": "work_email"}'
    )
    eimport.add_argument("--date-order", choices=["DMY", "MDY"])
    eimport.set_defaults(handler=cmd_employee_import)
    sweep = employee.add_parser("sweep", help="mark everyone whose leaving date has passed as left")
    sweep.set_defaults(handler=cmd_employee_sweep)
