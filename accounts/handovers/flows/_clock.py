"""The handover clock: grants revoked on the leaving date, overdue items notified once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from accounts.handovers.enums import (
    HandoverItemKind,
    HandoverItemState,
    HandoverState,
)
from accounts.handovers.flows._items import sync_handover
from accounts.handovers.services import overdue_items, today
from accounts.handovers.tables import (
    Handover,
    HandoverItem,
)
from register import audit
from register.actor import Actor
from register.db import fetch, json_value, now, write_transaction
from register.enums import Role
from register.errors import (
    Conflict,
    NotFound,
)
from register.notifications.enums import EventType, MailKind


async def revoke_due_grants(*, actor: Actor, on: dt.date | None = None) -> int:
    """On (or after) the leaving date, revoke the grants open handovers list; how many were revoked."""
    from accounts.services import revoke_grant

    on = on or today()
    rows = await fetch(
        'SELECT i."id", i."handover", i."target_id", i."detail" FROM "handover_item" i '
        'JOIN "handover" h ON h."id" = i."handover" WHERE h."state" = $1 AND i."state" = $2 '
        'AND i."kind" = $3 AND h."leaving_date" <= $4',
        HandoverState.open.value,
        HandoverItemState.open.value,
        HandoverItemKind.revoke_grant.value,
        on,
    )
    revoked = 0
    for r in rows:
        account_id = json_value(r["detail"], {}).get("account_id")
        try:
            await revoke_grant(
                actor=actor,
                account_id=account_id,
                grant_id=r["target_id"],
                reason=f"leaving date reached (handover {r['handover']})",
            )
            revoked += 1
        except (Conflict, NotFound):
            # Already revoked, or the custodian's own access while custody has not moved yet.
            continue
    for handover_id in sorted({r["handover"] for r in rows}):
        await sync_handover(handover_id=handover_id, actor=actor)
    return revoked


async def notify_overdue(*, actor: Actor | None = None, on: dt.date | None = None) -> int:
    """Publish `handover.item_overdue` once per newly overdue item, grouped per handover."""
    from register.notifications.flows import publish, publish_mail

    actor = actor or Actor.system("register")
    items = [i for i in await overdue_items(on=on) if not i["notified"]]
    by_handover: dict[int, list[dict[str, Any]]] = {}
    for i in items:
        by_handover.setdefault(i["handover_id"], []).append(i)
    sent = 0
    for handover_id, group in by_handover.items():
        async with write_transaction():
            stamp = now()
            marked = (
                await HandoverItem.update({HandoverItem.overdue_notified_at: stamp})
                .where(
                    HandoverItem.id.is_in([i["id"] for i in group])
                    & HandoverItem.overdue_notified_at.is_null()
                )
                .returning(HandoverItem.id)
            )
            ids = {m["id"] for m in marked}
            group = [i for i in group if i["id"] in ids]
            if not group:
                continue
            await Handover.update({Handover.overdue_notified_at: stamp}).where(
                (Handover.id == handover_id) & Handover.overdue_notified_at.is_null()
            )
            name = group[0]["employee_name"]
            await publish(
                EventType.handover_item_overdue.value,
                {
                    "handover_id": handover_id,
                    "employee": name,
                    "items": [
                        {
                            "id": i["id"],
                            "title": i["title"],
                            "owner_role": i["owner_role"],
                            "due_date": i["due_date"].isoformat(),
                        }
                        for i in group
                    ],
                    "link": f"/api/v1/handovers/{handover_id}",
                },
                summary=f"{len(group)} handover item(s) overdue for {name}.",
                audience=sorted({Role(i["owner_role"]) for i in group}),
            )
            for i in group:
                # The team hears of it above; the person it was given to, by e-mail.
                await publish_mail(
                    MailKind.step_past_due,
                    payload={
                        "title": i["title"],
                        "handover_of": name,
                        "due_date": i["due_date"],
                        "handover_id": handover_id,
                        "item_id": i["id"],
                    },
                    path=f"/handovers/{handover_id}",
                    summary=f"handover step '{i['title']}' is past due",
                    employees=[i["assignee_id"]],
                )
            await audit.record(
                actor,
                "handover.overdue_notified",
                "handover",
                handover_id,
                {"items": [None, sorted(ids)]},
            )
            sent += len(group)
    return sent
