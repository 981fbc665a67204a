"""How the connections register plugs into the core: routes, CLI, the demo's exports."""

from __future__ import annotations

from register.extensions import Extensions

PART = "connections"


def register(ext: Extensions) -> None:
    """Register the connections register with the core."""
    from accounts.connections.api import CONTROLLERS
    from accounts.connections.commands import add_commands
    from accounts.connections.demo import demo_connections

    ext.add_controllers(PART, CONTROLLERS)
    ext.add_commands(PART, add_commands)
    ext.demo_steps.append(demo_connections)
    from accounts.connections.pages import register_pages

    register_pages(ext)
