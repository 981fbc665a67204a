"""Publishing: events are queued in the caller's transaction and delivered later by a worker.

`publish()` writes one row per interested subscription, inside the write transaction of the
change that caused the event, so a crash never loses an event and a rolled-back change never
sends one. Every row of one event shares the event id, which receivers use to de-duplicate.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets as pysecrets
import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

from register import audit
from register.actor import Actor
from register.db import (
    bulk_insert,
    fetch,
    get_engine,
    is_postgres,
    json_default,
    json_value,
    rfc3339,
    write_transaction,
)
from register.db import now as utcnow
from register.enums import Role
from register.extensions import extensions
from register.notifications.enums import EventType, MailKind, OutboxState
from register.notifications.flows._mail import mail_on, publish_mail
from register.notifications.services import get_message, get_subscription
from register.notifications.tables import OutboxMessage

OUTBOX_COLUMNS = (
    "event_id",
    "event_type",
    "subscription",
    "event",
    "state",
    "due_at",
    "attempts",
    "claimed_by",
    "last_error",
    "created_at",
)


def wants(
    subscription_events: Iterable[str],
    subscription_roles: Iterable[str],
    event_type: str,
    audience: Iterable[str],
) -> bool:
    """Whether a subscription receives an event: its type is chosen and the audiences meet.

    An event with no audience concerns everyone; a subscription with no roles hears every role.
    """
    if event_type not in set(subscription_events):
        return False
    roles, wanted = set(subscription_roles), set(audience)
    return not roles or not wanted or bool(roles & wanted)


def envelope(
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    summary: str,
    audience: Iterable[str],
    occurred_at: dt.datetime,
) -> dict[str, Any]:
    """The event as every format starts from it (and as the generic JSON format sends it)."""
    return {
        "id": event_id,
        "type": event_type,
        "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
        "summary": summary,
        "audience": sorted(audience),
        "payload": payload,
    }


async def queue(event: dict[str, Any], subscription_ids: Iterable[int]) -> int:
    """Write the outbox rows of one event for the given subscriptions; how many were written."""
    now = utcnow()
    # Times in a payload arrive as the API writes them, dates and decimals as their text.
    body = json.dumps(event, default=json_default, separators=(",", ":"))
    rows = [
        (
            event["id"],
            event["type"],
            sid,
            body,
            OutboxState.pending.value,
            now,
            0,
            "",
            "",
            now,
        )
        for sid in subscription_ids
    ]
    return await bulk_insert("outbox_message", OUTBOX_COLUMNS, rows)


class Published(NamedTuple):
    """An event published: its id, and how many subscriptions it was queued for (0: nobody)."""

    event_id: str
    queued: int


async def publish(
    event_type: str,
    payload: dict[str, Any],
    *,
    summary: str,
    audience: Iterable[Role] = (),
) -> str:
    """Queue one event for every active subscription that wants it, in the caller's transaction."""
    published = await publish_event(event_type, payload, summary=summary, audience=audience)
    return published.event_id


async def publish_event(
    event_type: str,
    payload: dict[str, Any],
    *,
    summary: str,
    audience: Iterable[Role] = (),
) -> Published:
    """Publish as publish() does, and say how many subscriptions took the event."""
    kind = EventType(event_type)
    if get_engine().current_transaction.get() is None:
        raise RuntimeError("publish() must be called inside register.db.write_transaction()")
    roles = sorted({Role(r).value for r in audience})
    event_id = uuid.uuid4().hex
    event = envelope(event_id, kind.value, payload, summary, roles, utcnow())
    subscriptions = await fetch(
        'SELECT id, event_types, roles FROM "subscription" WHERE active = $1', True
    )
    targets = [
        s["id"]
        for s in subscriptions
        if wants(json_value(s["event_types"]), json_value(s["roles"]), kind.value, roles)
    ]
    queued = await queue(event, targets) if targets else 0
    return Published(event_id, queued)


async def queue_test(*, actor: Actor, subscription_id: int) -> dict[str, Any]:
    """Queue a test event for one subscription only; returns its outbox message."""
    async with write_transaction():
        row = await get_subscription(subscription_id=subscription_id)
        event = envelope(
            pysecrets.token_hex(16),
            EventType.test.value,
            {"subscription": row["name"], "requested_by": actor.email},
            f"Test notification for '{row['name']}' from the social asset register.",
            (),
            utcnow(),
        )
        await queue(event, [subscription_id])
        await audit.record(
            actor,
            "subscription.test",
            "subscription",
            subscription_id,
            {"event_id": [None, event["id"]]},
        )
    message = (
        await OutboxMessage.select(OutboxMessage.id)
        .where(OutboxMessage.event_id == event["id"])
        .first()
    )
    assert message is not None
    return await get_message(message_id=message["id"])


async def digest_sections(role: Role, since: dt.datetime) -> list[dict[str, Any]]:
    """Every registered digest source's sections for one role, in registration order."""
    extensions.load()
    sections: list[dict[str, Any]] = []
    for source in extensions.digest_sources:
        for section in await source(role, since):
            sections.append(
                {
                    "title": str(section["title"]),
                    "count": int(section["count"]),
                    "items": [str(i) for i in section.get("items", [])][:20],
                }
            )
    return sections


def digest_summary(role: Role, sections: list[dict[str, Any]]) -> str:
    """One sentence for the chat line of a digest."""
    busy = [f"{s['count']} {s['title'].lower()}" for s in sections if s["count"]]
    if not busy:
        return f"Daily digest for {role.value}: nothing needs attention."
    return f"Daily digest for {role.value}: " + ", ".join(busy) + "."


# Days whose digest had nothing to mail and went to no subscription: without this, e-mail on
# would build every role's digest again each minute of such a day.
_QUIET_DAYS: set[dt.date] = set()


async def _digest_lock() -> None:
    # One digest per day even with several workers: PostgreSQL serialises on an advisory lock;
    # a SQLite write transaction already holds the only write lock.
    if is_postgres():
        await get_engine().run_ddl("SELECT pg_advisory_xact_lock(724001)")


async def publish_digest(
    *, now: dt.datetime | None = None, hour: int = 7, force: bool = False
) -> list[str]:
    """Publish today's digest per role once it is due; the event ids (empty if not due or done)."""
    now = now or utcnow()
    due = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if now < due and not force:
        return []
    subscriptions = await fetch(
        'SELECT event_types, roles FROM "subscription" WHERE active = $1', True
    )
    hooked = [
        role
        for role in Role
        if any(
            wants(
                json_value(s["event_types"]), json_value(s["roles"]), EventType.digest_daily, [role]
            )
            for s in subscriptions
        )
    ]
    # With e-mail on, every role's users get their role's digest by mail too; a day found with
    # nothing to mail is not looked at again by this process.
    mailing = mail_on() and (force or due.date() not in _QUIET_DAYS)
    roles = list(Role) if mailing else hooked
    if not roles:
        return []
    async with write_transaction():
        await _digest_lock()
        if not force:
            done = await fetch(
                'SELECT 1 AS one FROM "outbox_message" WHERE event_type IN ($1, $2) '
                "AND created_at >= $3 LIMIT 1",
                EventType.digest_daily.value,
                MailKind.digest_daily.value,
                due,
            )
            if done:
                return []
        since = due - dt.timedelta(days=1)
        ids = []
        mailed = 0
        for role in roles:
            sections = await digest_sections(role, since)
            payload = {
                "role": role.value,
                "date": due.date().isoformat(),
                "since": rfc3339(since),
                "sections": sections,
            }
            if role in hooked:
                ids.append(
                    await publish(
                        EventType.digest_daily.value,
                        payload,
                        summary=digest_summary(role, sections),
                        audience=[role],
                    )
                )
            if mailing and any(s["count"] for s in sections):
                # A digest with nothing in it is not worth a mail.
                mailed += 1
                await publish_mail(
                    MailKind.digest_daily,
                    payload=payload,
                    path="/",
                    summary=digest_summary(role, sections),
                    roles=[role],
                )
        if mailing and not mailed and not ids:
            _QUIET_DAYS.add(due.date())
    return ids
