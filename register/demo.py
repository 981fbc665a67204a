"""`register demo`: a small realistic company to try the register on; every part adds its share."""

from __future__ import annotations

import datetime as dt
from typing import Any

from register.actor import Actor
from register.db import write_transaction
from register.extensions import extensions
from register.settings import Settings


async def run_demo(settings: Settings, today: dt.date | None = None) -> list[str]:
    """Create the demo company in one transaction; refuses a database that already has employees."""
    extensions.load()
    actor = Actor.system("demo")
    # Each part reads what the ones before it made (the people by name, the accounts) here.
    # The settings are the caller's (a test's own key ring), not whatever get_settings() reads.
    context: dict[str, Any] = {"today": today or dt.date.today(), "settings": settings}
    lines: list[str] = []
    async with write_transaction():
        for add in extensions.demo_steps:
            lines.extend(await add(actor, context))
    return lines
