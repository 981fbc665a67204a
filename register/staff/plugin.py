"""How the staff directory plugs into the core: routes, CLI, the demo's people, the leaver sweep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from register.extensions import Extensions

PART = "staff"
log = logging.getLogger("register")


def register(ext: Extensions) -> None:
    """Register the staff directory with the core."""
    from register.staff.api import EmployeeController
    from register.staff.commands import add_commands
    from register.staff.demo import demo_staff
    from register.staff.services import (
        employee_by_email,
        employee_exists,
        employee_names,
        work_emails,
    )

    ext.add_controllers(PART, [EmployeeController])
    ext.add_commands(PART, add_commands)
    ext.demo_steps.append(demo_staff)
    ext.exists["employee"] = employee_exists
    ext.names["employee"] = employee_names
    # Addresses for e-mail to people who do not sign in to the register (their work e-mail).
    ext.names["employee_email"] = work_emails
    ext.by_email["employee"] = employee_by_email
    ext.lifespans.append(sweep_while_serving)
    ext.audited_records["employee"] = count_employees

    # The person picker every form uses to choose someone by name.
    from register.staff.pages import register_pages

    register_pages(ext)


async def count_employees() -> int:
    """People in the directory (each added by an audited change)."""
    from register.staff.tables import Employee

    return await Employee.count()


async def sweep_leavers_hourly(stop: asyncio.Event) -> None:
    """Mark people whose leaving date has passed as left: at start, then every hour."""
    from register.actor import Actor
    from register.staff.services import sweep_leavers

    while not stop.is_set():
        try:
            left = await sweep_leavers(actor=Actor.system("leaver sweep"))
            if left:
                log.info("leaver sweep: %d employee(s) now left", len(left))
        except Exception:
            log.exception("leaver sweep failed; retrying in an hour")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 3600)


@asynccontextmanager
async def sweep_while_serving(app: Any) -> AsyncIterator[None]:
    """The leaver sweep runs for as long as the app serves."""
    stop = asyncio.Event()
    sweeper = asyncio.create_task(sweep_leavers_hourly(stop))
    try:
        yield
    finally:
        # Stopped between sweeps, not cancelled inside one: a cancel that lands in a
        # transaction's BEGIN leaks its connection, and closing the pool then waits for ever.
        stop.set()
        await sweeper
