"""How SCIM provisioning plugs into the core: the /scim/v2 routes and `register scim`."""

from __future__ import annotations

from register.extensions import Extensions

PART = "scim"


def register(ext: Extensions) -> None:
    """Register SCIM provisioning with the core."""
    from register.scim.api import scim_router
    from register.scim.commands import add_commands

    ext.add_controllers(PART, [scim_router()])
    ext.add_commands(PART, add_commands)
