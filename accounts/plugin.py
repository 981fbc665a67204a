"""How the account register plugs into the core: routes, CLI, the vault's rewrap, demo, risk clock."""

from __future__ import annotations

from typing import Any

from register.extensions import Extensions

PART = "accounts"


def register(ext: Extensions) -> None:
    """Register the account register with the core."""
    from accounts.api import CONTROLLERS
    from accounts.commands import add_commands
    from accounts.demo import demo_accounts
    from accounts.pages import register_pages
    from accounts.services import holders_on_platforms, leavers_credentials_due, rewrap_all

    ext.add_controllers(PART, CONTROLLERS)
    ext.add_commands(PART, add_commands)
    ext.rewrap_handlers["credential"] = rewrap_all
    ext.demo_steps.append(demo_accounts)
    ext.on_employees_left.append(leavers_credentials_due)
    ext.periodic_tasks.append(risk_clock)
    ext.digest_sources.append(risk_digest)
    # Whom a course required by platform applies to (register/policies asks through this).
    ext.grant_holders.append(holders_on_platforms)
    register_pages(ext)


async def risk_clock() -> None:
    """New risk findings and re-certifications due, notified (worker clock)."""
    from accounts.services import risk_clock as clock

    await clock()


async def risk_digest(role: Any, since: Any) -> list[dict[str, Any]]:
    """The daily digest's new risk findings."""
    from accounts.services import risk_digest as digest

    return await digest(role, since)
