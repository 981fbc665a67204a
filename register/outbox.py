"""The outbox: events are queued in the caller's transaction and delivered later by a worker.

`publish()` writes one row per interested subscription, inside the write transaction of the
change that caused the event, so a crash never loses an event and a rolled-back change never
sends one. Every row of one event shares the event id, which receivers use to de-duplicate.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from typing import Any

from register.db import bulk_insert, fetch, get_engine, json_value
from register.db import now as utcnow
from register.enums import EventType, OutboxState, Role

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
    # default=str: dates and decimals in a payload arrive as their text rather than failing.
    body = json.dumps(event, default=str, separators=(",", ":"))
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


async def publish(
    event_type: str,
    payload: dict[str, Any],
    *,
    summary: str,
    audience: Iterable[Role] = (),
) -> str:
    """Queue one event for every active subscription that wants it, in the caller's transaction."""
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
    if targets:
        await queue(event, targets)
    return event_id
