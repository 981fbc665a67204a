"""`register keys rotate|rewrap`: add a master key version, and re-seal every data key under it."""

from __future__ import annotations

import argparse

from register.commands.output import print_json
from register.extensions import extensions
from register.keys import KeyRing, write_private
from register.settings import Settings


def rotate(settings: Settings) -> KeyRing:
    """Add a new master key version to the key ring file and make it current."""
    ring = KeyRing.from_json(settings.keyring_file.read_text()).rotated()
    write_private(settings.keyring_file, ring.to_json().encode())
    return ring


async def rewrap(settings: Settings) -> dict[str, dict[str, int]]:
    """Re-seal every kind's data keys under the current master key; counts per kind."""
    from register.notifications import rewrap_all as rewrap_subscriptions
    from register.runtime import runtime

    handlers = {**extensions.rewrap_handlers, "subscription": rewrap_subscriptions}
    async with runtime(settings, announce=False) as secrets:
        return {kind: await handler(secrets.keyring) for kind, handler in sorted(handlers.items())}


async def cmd_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Add a master key version."""
    ring = rotate(settings)
    print(
        f"key ring {settings.keyring_file}: version {ring.current} is now current (versions {sorted(ring.keys)})."
    )
    print(
        "Running servers seal new credentials with it at once; run 'register keys rewrap' to move every existing data key to it."
    )
    return 0


async def cmd_rewrap(args: argparse.Namespace, settings: Settings) -> int:
    """Re-wrap every data key and report counts."""
    counts = await rewrap(settings)
    print_json(counts)
    return 0 if all(c.get("remaining_on_old_versions", 0) == 0 for c in counts.values()) else 1


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `keys rotate` and `keys rewrap` to the CLI."""
    keys = sub.add_parser("keys", help="the master key ring").add_subparsers(
        dest="keys_command", required=True
    )
    keys.add_parser("rotate", help="add a new master key version and make it current").set_defaults(
        handler=cmd_rotate
    )
    keys.add_parser(
        "rewrap", help="re-seal every data key under the current master key"
    ).set_defaults(handler=cmd_rewrap)
