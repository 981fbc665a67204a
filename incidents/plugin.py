"""How incidents plug into the core: routes, CLI, evidence rewrap, demo, digest, footprint, clocks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from register.enums import Role
from register.extensions import Extensions

PART = "incidents"


async def digest_past_sla(role: Role, since: dt.datetime) -> list[dict[str, Any]]:
    """The daily digest's incidents section: open tasks past due, for the teams that own them."""
    from incidents.services import past_sla

    if role == Role.auditor:
        return []
    owners = {Role.hr: ["hr"], Role.it: ["it"], Role.legal: ["legal"]}.get(role)
    rows = await past_sla(owner_roles=owners)
    if not rows:
        return []
    return [
        {
            "title": "Incident tasks past due",
            "count": len(rows),
            "items": [
                f"{r['reference']} ({r['severity']}): {r['title']} (due {r['due_at']:%Y-%m-%d %H:%M} UTC)"
                for r in rows[:20]
            ],
        }
    ]


async def footprint_open_incidents(employee_id: int) -> list[dict[str, Any]]:
    """Open incidents on the accounts a leaver holds or backs."""
    from incidents.services import open_incidents_on_accounts_of

    return await open_incidents_on_accounts_of(employee_id)


def register(ext: Extensions) -> None:
    """Register incidents with the core."""
    from incidents.api import CONTROLLERS
    from incidents.commands import add_commands
    from incidents.demo import demo_incidents
    from incidents.services import rewrap_evidence

    ext.add_controllers(PART, CONTROLLERS)
    ext.add_commands(PART, add_commands)
    ext.rewrap_handlers["evidence"] = rewrap_evidence
    ext.demo_steps.append(demo_incidents)
    ext.footprint_sources["incidents"] = footprint_open_incidents
    ext.digest_sources.append(digest_past_sla)
    ext.periodic_tasks.append(check_clocks)
    from incidents.pages import register_pages

    register_pages(ext)


async def check_clocks() -> None:
    """Re-notify unacknowledged incidents, tasks past due and status updates due (worker clock)."""
    from incidents.flows import check_clocks as check

    await check()
