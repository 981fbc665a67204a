"""An incident's timeline: what happened, in order, with notes and status updates."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from incidents.enums import (
    SEVERITIES,
    Severity,
    Status,
    TimelineKind,
)
from incidents.services._checks import clean_text
from incidents.services._records import incident_row
from incidents.tables import (
    Incident,
    TimelineEntry,
)
from register import audit
from register.actor import Actor
from register.db import (
    fetch,
    json_default,
    json_value,
    now,
    write_transaction,
)
from register.enums import Role
from register.errors import (
    Conflict,
)
from register.i18n import N_
from register.notifications.flows import Published
from register.queries import page, page_bounds


async def timeline(
    actor: Actor,
    incident_id: int,
    kind: TimelineKind,
    text: str,
    data: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
    said: dict[str, Any] | None = None,
) -> int:
    """Add a line to the incident's timeline (inside the caller's transaction); its id."""
    if said is not None:
        # The text stays as the API has always said it; a page says the line in its reader's
        # words from the catalogue message and its params.
        data = {**(data or {}), "said": said}
    rows = await TimelineEntry.insert(
        TimelineEntry(
            incident=incident_id,
            at=at or now(),
            actor_id=actor.user_id,
            actor=actor.email,
            kind=kind.value,
            text=text[:5000],
            data=json.dumps(data or {}, default=json_default),
        )
    ).returning(TimelineEntry.id)
    return rows[0]["id"]


def say(message: str, **params: Any) -> dict[str, Any]:
    """A timeline line as a catalogue message with its params (a param may be another line)."""
    return {"message": message, "params": params}


def reached(
    published: Published, event_type: str, audience: Iterable[Role]
) -> tuple[str, dict[str, Any]]:
    """What a timeline says a notice did: queued for how many subscriptions, or reached nobody."""
    n = published.queued
    data: dict[str, Any] = {"event_id": published.event_id, "subscriptions": n}
    if n:
        data["reach"] = say(N_("queued for %(subscriptions)s subscription(s)"), subscriptions=n)
        return f"queued for {n} subscription{'' if n == 1 else 's'}", data
    # Said plainly, so nobody reads the timeline as proof that someone was told.
    held = sorted(Role(r).value for r in audience)
    data["reach"] = say(
        N_("nobody reachable: no active subscription takes %(event)s for %(roles)s"),
        event=event_type,
        roles=held,
    )
    roles = ", ".join(held) or "anyone"
    return f"nobody reachable: no active subscription takes {event_type} for {roles}", data


async def list_timeline(
    *,
    incident_id: int,
    limit: int,
    offset: int,
    kind: TimelineKind | None = None,
    after: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """An incident's timeline, oldest first (`after`: only the entries after that one)."""
    limit, offset = page_bounds(limit, offset)
    await incident_row(incident_id)
    args: list[Any] = [incident_id]
    where = '"incident" = $1'
    if kind is not None:
        args.append(kind.value)
        where += f' AND "kind" = ${len(args)}'
    if after is not None:
        args.append(after)
        where += f' AND "id" > ${len(args)}'
    rows = await fetch(
        'SELECT "id", "at", "actor_id", "actor", "kind", "text", "data" FROM "timeline_entry" '
        f'WHERE {where} ORDER BY "id" LIMIT {limit + 1} OFFSET {offset}',
        *args,
    )
    for r in rows:
        r["data"] = json_value(r["data"]) or {}
    return page(rows, limit, offset)


async def add_note(
    *, actor: Actor, incident_id: int, text: str, status_update: bool = False
) -> dict[str, Any]:
    """A person's note; a status update also restarts the update cadence."""
    text = clean_text(text, "text", 5000, required=True)
    async with write_transaction():
        row = await incident_row(incident_id)
        kind = TimelineKind.status_update if status_update else TimelineKind.note
        stamp = now()
        if status_update:
            if row["status"] == Status.closed.value:
                raise Conflict(
                    N_("incident %(reference)s is closed"), params={"reference": row["reference"]}
                )
            cadence = SEVERITIES[Severity(row["severity"])].update_every
            await Incident.update(
                {Incident.next_update_due_at: stamp + cadence, Incident.update_reminded_at: None}
            ).where(Incident.id == incident_id)
        entry_id = await timeline(actor, incident_id, kind, text, at=stamp)
        await audit.record(
            actor, f"incident.{kind.value}", "incident", incident_id, {"text": [None, text[:200]]}
        )
    rows = await fetch(
        'SELECT "id", "at", "actor_id", "actor", "kind", "text", "data" FROM "timeline_entry" '
        'WHERE "id" = $1',
        entry_id,
    )
    rows[0]["data"] = json_value(rows[0]["data"]) or {}
    return rows[0]
