"""How the accounts app plugs into the core: routes, CLI commands, key rewrap, demo data."""

from __future__ import annotations

from typing import Any

from register.extensions import Extensions


def register(ext: Extensions) -> None:
    """Register the accounts app's parts with the core."""
    from accounts.commands.cli import add_commands
    from accounts.commands.demo import demo_accounts, demo_connections
    from accounts.controllers import CONTROLLERS
    from accounts.services import leavers_credentials_due
    from accounts.vault import rewrap_all

    ext.add_controllers("accounts", CONTROLLERS)
    ext.add_commands("accounts", add_commands)
    ext.rewrap_handlers["credential"] = rewrap_all
    ext.demo_steps.append(demo_accounts)
    ext.demo_steps.append(demo_connections)
    ext.on_employees_left.append(leavers_credentials_due)
    ext.periodic_tasks.append(risk_clock)
    ext.digest_sources.append(risk_digest)
    _register_handovers(ext)


async def risk_clock() -> None:
    """New risk findings and re-certifications due, notified (worker clock)."""
    from accounts.risks import risk_clock as clock

    await clock()


async def risk_digest(role: Any, since: Any) -> list[dict[str, Any]]:
    """The daily digest's new risk findings."""
    from accounts.risks import risk_digest as digest

    return await digest(role, since)


def _register_handovers(ext: Extensions) -> None:
    """Offboarding handovers: routes, `register handover`, the demo's handover, digest, the clock."""
    from accounts.commands.demo_handover import demo_handover
    from accounts.commands.handover import add_commands as add_handover_commands
    from accounts.handover_controllers import HANDOVER_CONTROLLERS
    from accounts.handovers import digest_source

    ext.add_controllers("handovers", HANDOVER_CONTROLLERS)
    ext.add_commands("handovers", add_handover_commands)
    ext.demo_steps.append(demo_handover)
    ext.digest_sources.append(digest_source)
    ext.periodic_tasks.append(handover_clock)


async def handover_clock() -> None:
    """Revoke grants whose leaving date came, then notify newly overdue items (worker clock)."""
    from accounts.handovers import notify_overdue, revoke_due_grants
    from register.actor import Actor

    actor = Actor.system("handover clock")
    await revoke_due_grants(actor=actor)
    await notify_overdue(actor=actor)
