"""How notifications plug into the core: routes, CLI, the secrets' rewrap, the in-process worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from register.extensions import Extensions

PART = "notifications"


def register(ext: Extensions) -> None:
    """Register notifications with the core."""
    from register.notifications.api import NOTIFICATION_CONTROLLERS
    from register.notifications.commands import add_commands
    from register.notifications.flows import MAIL_CHOICES
    from register.notifications.pages import register_pages
    from register.notifications.services import rewrap_all

    ext.add_controllers(PART, NOTIFICATION_CONTROLLERS)
    ext.add_commands(PART, add_commands)
    ext.rewrap_handlers["subscription"] = rewrap_all
    ext.on_bind.append(bind_worker)
    ext.lifespans.append(deliver_in_process)
    ext.on_checkpoint.append(publish_checkpoint)
    ext.audited_records["subscription"] = count_subscriptions
    ext.mail_choices.extend(MAIL_CHOICES)
    register_pages(ext)


async def publish_checkpoint(entry: dict[str, Any]) -> None:
    """A signed audit checkpoint, to the subscriptions that witness it."""
    from register.notifications.enums import EventType
    from register.notifications.flows import publish

    await publish(
        EventType.audit_checkpoint.value,
        entry,
        summary=f"The audit trail is signed up to event {entry['seq']}.",
    )


async def count_subscriptions() -> int:
    """Subscriptions (each made by an audited change)."""
    from register.notifications.tables import Subscription

    return await Subscription.count()


def bind_worker(app: Any) -> None:
    """One delivery client per process, shared by the in-process worker and "send test"."""
    from register.notifications.flows import Worker

    app.state.outbox_worker = Worker(app.state.settings, app.state.keyring.get)


@asynccontextmanager
async def deliver_in_process(app: Any) -> AsyncIterator[None]:
    """Deliver the outbox from the app's own process unless a separate worker is configured."""
    worker = app.state.outbox_worker
    stop = asyncio.Event()
    delivery = (
        asyncio.create_task(worker.run(stop)) if app.state.settings.worker_in_process else None
    )
    try:
        yield
    finally:
        stop.set()
        if delivery is not None:
            # The batch in flight finishes (bounded by the webhook timeouts) before the pool closes.
            await delivery
        await worker.close()
