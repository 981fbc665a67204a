"""Sign-off by HR and IT, and the signed certificate it issues."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accounts.handovers.enums import (
    HandoverItemKind,
    HandoverItemState,
    HandoverState,
    HandoverTeam,
)
from accounts.handovers.files import sha256_hex, sign_certificate
from accounts.handovers.flows._items import get_handover, sync_handover
from accounts.handovers.services import (
    as_date,
    check_signer,
    exceptions_of,
    handover_items,
    handover_row,
    holding_text,
    item_out,
    other_findings,
    remaining,
    sign_off_out,
)
from accounts.handovers.tables import (
    Handover,
    HandoverItem,
    SignOff,
)
from accounts.services import account_handles
from register import audit
from register.access import refuse
from register.actor import Actor
from register.db import now, write_transaction
from register.enums import Role
from register.errors import (
    Conflict,
)
from register.i18n import N_
from register.notifications.enums import EventType
from register.queries import unique_or_409
from register.staff.services import employee_names, employees_by_id


async def sign_off(
    *,
    actor: Actor,
    signing_key: Ed25519PrivateKey,
    handover_id: int,
    team: HandoverTeam,
    note: str = "",
) -> dict[str, Any]:
    """HR or IT signs; the second sign-off, by someone else, completes the handover."""
    await check_signer(actor=actor, handover_id=handover_id)
    team = HandoverTeam(team)
    allowed = actor.role == Role.admin or (
        actor.role is not None and actor.role.value == team.value
    )
    if not allowed or actor.user_id is None:
        raise await refuse(
            actor,
            "handover.sign",
            "handover",
            handover_id,
            N_("only %(team)s (or an admin) signs off for %(team)s"),
            {"team": team.value.upper()},
        )
    await sync_handover(handover_id=handover_id, actor=actor)
    async with write_transaction():
        await audit.lock_chain()
        row = await handover_row(handover_id)
        if row["state"] not in (HandoverState.open.value, HandoverState.awaiting_sign_off.value):
            raise Conflict(
                N_(
                    "handover %(handover_id)s is %(state)s: sign-off comes when every item is done or waived"
                ),
                params={"handover_id": handover_id, "state": row["state"]},
            )
        if await HandoverItem.exists().where(
            (HandoverItem.handover == handover_id)
            & (HandoverItem.state == HandoverItemState.open.value)
        ):
            raise Conflict(
                N_("handover %(handover_id)s still has open items"),
                params={"handover_id": handover_id},
            )
        # Checked at every sign-off: access given back after the last item closed counts too.
        await refuse_what_remains(row)
        if row["state"] != HandoverState.awaiting_sign_off.value:
            raise Conflict(
                N_("handover %(handover_id)s is %(state)s: not awaiting sign-off"),
                params={"handover_id": handover_id, "state": row["state"]},
            )
        signed = await SignOff.select().where(SignOff.handover == handover_id)
        if any(s["team"] == team.value for s in signed):
            raise Conflict(
                N_("%(value)s has already signed off this handover"),
                field="team",
                params={"value": team.value.upper()},
            )
        if any(s["user_id"] == actor.user_id for s in signed):
            raise Conflict(
                N_("the two sign-offs must be by different people: you have already signed"),
                field="team",
            )
        async with unique_or_409(N_("this sign-off was given at the same moment"), "team"):
            await SignOff.insert(
                SignOff(
                    handover=handover_id,
                    team=team.value,
                    user_id=actor.user_id,
                    user_email=actor.email,
                    note=note.strip(),
                    signed_at=now(),
                )
            )
        await audit.record(
            actor, "handover.sign_off", "handover", handover_id, {"team": [None, team.value]}
        )
        if len(signed) + 1 == len(HandoverTeam):
            await _complete(actor, signing_key, row)
    return await get_handover(handover_id=handover_id, sync=False)


async def refuse_what_remains(row: dict[str, Any]) -> None:
    """Refuse (409) a sign-off while the leaver holds what no exception names, naming each."""
    left = await remaining(row)
    if not left:
        return
    name = (await employee_names([row["employee"]])).get(row["employee"], "the leaver")
    raise Conflict(
        N_(
            "%(name)s still holds: %(value)s. Remove it, or an admin names it as an exception (POST /api/v1/handovers/%(id)s/exceptions)"
        ),
        remaining=[{k: h[k] for k in ("holding", "account_id", "grant_id")} for h in left],
        params={"name": name, "value": "; ".join(holding_text(h) for h in left), "id": row["id"]},
    )


async def _complete(actor: Actor, signing_key: Ed25519PrivateKey, row: dict[str, Any]) -> None:
    from register.notifications.flows import publish

    handover_id = row["id"]
    stamp = now()
    body = await certificate_body(handover_id=handover_id, completed_at=stamp)
    data = sign_certificate(body, signing_key)
    digest = sha256_hex(data)
    updated = (
        await Handover.update(
            {
                Handover.state: HandoverState.completed.value,
                Handover.completed_at: stamp,
                Handover.certificate: data.decode("utf-8"),
                Handover.certificate_sha256: digest,
                Handover.version: row["version"] + 1,
                Handover.updated_at: stamp,
            }
        )
        .where(
            (Handover.id == handover_id) & (Handover.state == HandoverState.awaiting_sign_off.value)
        )
        .returning(Handover.id)
    )
    if not updated:
        raise Conflict(
            N_("handover %(handover_id)s changed at the same moment; try again"),
            params={"handover_id": handover_id},
        )
    await audit.record(
        actor,
        "handover.complete",
        "handover",
        handover_id,
        {"state": ["awaiting_sign_off", "completed"], "certificate_sha256": [None, digest]},
    )
    leaver = body["handover"]["employee"]
    await publish(
        EventType.handover_completed.value,
        {
            "handover_id": handover_id,
            "employee_id": leaver["id"],
            "employee": leaver["name"],
            "certificate_sha256": digest,
            "link": f"/api/v1/handovers/{handover_id}/certificate",
        },
        summary=f"Handover of {leaver['name']} completed and signed off by HR and IT.",
        audience=[Role.hr, Role.it],
    )


async def certificate_body(*, handover_id: int, completed_at: dt.datetime) -> dict[str, Any]:
    """What the certificate states: the handover, its items and evidence, sign-offs, exceptions, findings."""
    row = await handover_row(handover_id)
    people = {
        i: {k: r[k] for k in ("id", "name", "work_email", "department")}
        for i, r in (await employees_by_id([row["employee"], row["successor"]])).items()
    }
    items = [item_out(i) for i in await handover_items(handover_id)]
    for i in items:
        i.pop("overdue", None)
        i.pop("version", None)
    body: dict[str, Any] = {
        "handover": {
            "id": handover_id,
            "employee": people[row["employee"]],
            "successor": people[row["successor"]],
            "leaving_date": as_date(row["leaving_date"]).isoformat(),
            "started_at": row["started_at"],
            "opened_at": row["opened_at"],
            "completed_at": completed_at,
        },
        "items": items,
        "sign_offs": [
            sign_off_out(s)
            for s in await SignOff.select()
            .where(SignOff.handover == handover_id)
            .order_by(SignOff.id)
        ],
        "exceptions": [
            {k: v for k, v in e.items() if k != "id"} for e in await exceptions_of(handover_id)
        ],
        "other": await other_findings(row["employee"]),
        "issued_at": completed_at,
    }
    changes = await _approver_changes(items, people[row["employee"]])
    if changes:
        # Only when there are any: a certificate without them reads (and verifies) as before.
        body["post_approvers"] = changes
    return body


async def _approver_changes(
    items: list[dict[str, Any]], leaver: dict[str, Any]
) -> list[dict[str, Any]]:
    """Who approves each account's posts in the leaver's place, from the items that moved it."""
    done = [
        i
        for i in items
        if i["kind"] == HandoverItemKind.replace_post_approver.value
        and i["state"] == HandoverItemState.done.value
    ]
    names = await account_handles(sorted({i["target_id"] for i in done}))
    return [
        {
            "account_id": i["target_id"],
            "platform": names.get(i["target_id"], {}).get("platform", ""),
            "handle": names.get(i["target_id"], {}).get("handle", ""),
            "removed": i["evidence"].get("removed")
            or [{"name": leaver["name"], "email": leaver["work_email"]}],
            "replacement": i["evidence"].get("replacement"),
            "approvers": i["evidence"].get("approvers", []),
            "by": i["resolved_by_email"],
            "at": i["resolved_at"],
        }
        for i in done
    ]


async def certificate(*, handover_id: int) -> bytes:
    """The signed certificate file of a completed handover."""
    row = await handover_row(handover_id)
    if row["state"] != HandoverState.completed.value or not row["certificate"]:
        raise Conflict(
            N_("handover %(handover_id)s is %(state)s: no certificate until completed"),
            params={"handover_id": handover_id, "state": row["state"]},
        )
    return row["certificate"].encode("utf-8")
