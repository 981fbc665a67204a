"""How the accounts app plugs into the core: routes, CLI commands, key rewrap, demo data."""

from __future__ import annotations

from register.extensions import Extensions


def register(ext: Extensions) -> None:
    """Register the accounts app's parts with the core."""
    from accounts.commands.cli import add_commands
    from accounts.commands.demo import demo_accounts
    from accounts.controllers import CONTROLLERS
    from accounts.services import leavers_credentials_due
    from accounts.vault import rewrap_all

    ext.controllers.extend(CONTROLLERS)
    ext.cli_commands.append(add_commands)
    ext.rewrap_handlers["credential"] = rewrap_all
    ext.demo_steps.append(demo_accounts)
    ext.on_employees_left.append(leavers_credentials_due)
