"""Handovers as stored: reading them, who may work what, what is overdue, the digest."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from accounts.enums import TransferState
from accounts.flows import check_responder, last_transfer
from accounts.handovers.enums import (
    HandoverItemKind,
    HandoverItemState,
    HandoverState,
    HandoverTeam,
)
from accounts.handovers.services._holdings import (
    exceptions_of,
    other_findings,
    still_held,
    unexcepted,
)
from accounts.handovers.tables import (
    Handover,
    HandoverDocument,
    HandoverItem,
    SignOff,
)
from register.access import refuse
from register.actor import Actor
from register.db import fetch, json_value, now, rfc3339_text
from register.enums import Role
from register.errors import (
    Conflict,
    InvalidInput,
    NotFound,
)
from register.i18n import N_
from register.queries import MAX_LIMIT, page, page_bounds
from register.settings import Settings
from register.staff.enums import EmployeeStatus
from register.staff.services import employee_names, employees_by_id, list_employees

LIVE = (HandoverState.draft.value, HandoverState.open.value, HandoverState.awaiting_sign_off.value)


K = HandoverItemKind


IT, HR = HandoverTeam.it.value, HandoverTeam.hr.value


# kind -> (owner team, days from the leaving date, evidence needed)
ITEM_RULES: dict[HandoverItemKind, tuple[str, int, str]] = {
    K.transfer_custody: (
        IT,
        -2,
        "Custody moved to the named successor in the register, and the successor accepted.",
    ),
    K.rotate_credential: (
        IT,
        0,
        "The credential replaced in the vault (a rotation) after the handover started.",
    ),
    K.revoke_grant: (IT, 0, "The grant revoked in the register on the leaving date."),
    K.replace_mfa_holder: (
        IT,
        -2,
        "Someone else recorded as holding the second factor (phone, key, app).",
    ),
    K.replace_recovery_contact: (
        IT,
        -2,
        "Recovery e-mail and phone changed to company-controlled ones, not the leaver's.",
    ),
    K.export_connections: (
        HR,
        -3,
        "The employer's connections exported to the successor; the file's SHA-256 recorded.",
    ),
    K.attest_deletion: (
        HR,
        0,
        "The leaver's written attestation: the statement, their typed name, the date, "
        "optionally the signed PDF.",
    ),
    K.replace_post_approver: (
        IT,
        -2,
        "The leaver no longer approves the account's posts: someone else named in their place, "
        "or removed where others approve (an account whose posts need approval keeps one).",
    ),
    K.withdraw_post_requests: (
        IT,
        -2,
        "The leaver's post requests still open withdrawn, with the reason in their history.",
    ),
}


ATTESTATION = (
    "I, {name}, confirm that I have deleted from my personal LinkedIn profile every connection "
    "that the company's register records as made in the course of my employment, that I have "
    "kept no copy of them, and that the company holds them as its own database."
)


KIND_TARGETS = {
    K.transfer_custody: "social_account",
    K.rotate_credential: "social_account",
    K.revoke_grant: "access_grant",
    K.replace_mfa_holder: "social_account",
    K.replace_recovery_contact: "social_account",
    K.export_connections: "employee",
    K.attest_deletion: "employee",
    K.replace_post_approver: "social_account",
    K.withdraw_post_requests: "employee",
    K.template: "handover_template",
}


def today() -> dt.date:
    """Today's date (UTC)."""
    return now().date()


def as_date(value: Any) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def evidence_out(evidence: dict[str, Any]) -> dict[str, Any]:
    """An item's evidence as the API shows it, its times (`..._at`) in RFC 3339 with `Z`."""
    # Evidence recorded before times had one spelling holds `2026-12-02 15:11:16+00:00`; it stays
    # stored as recorded (the audit trail holds the same), and is shown like every other time.
    return {
        k: rfc3339_text(v) if k.endswith("_at") and isinstance(v, str) else v
        for k, v in evidence.items()
    }


def item_out(row: dict[str, Any], on: dt.date | None = None) -> dict[str, Any]:
    """A checklist item as the API shows it."""
    on = on or today()
    due = as_date(row["due_date"])
    return {
        "id": row["id"],
        "handover_id": row["handover"],
        "position": row["position"],
        "kind": row["kind"],
        "title": row["title"],
        "target_type": row["target_type"],
        "target_id": row["target_id"],
        "detail": json_value(row["detail"], {}),
        "owner_role": row["owner_role"],
        "assignee_id": row["assignee"],
        "due_date": due,
        "evidence_needed": row["evidence_needed"],
        "state": row["state"],
        "evidence": evidence_out(json_value(row["evidence"], {})),
        "resolved_by": row["resolved_by"],
        "resolved_by_email": row["resolved_by_email"],
        "resolved_at": row["resolved_at"],
        "auto_completed": bool(row["auto_completed"]),
        "waive_reason": row["waive_reason"],
        "overdue": row["state"] == HandoverItemState.open.value and due < on,
        "version": row["version"],
    }


def sign_off_out(row: dict[str, Any]) -> dict[str, Any]:
    """A sign-off as the API shows it."""
    return {
        "team": row["team"],
        "user_id": row["user_id"],
        "user_email": row["user_email"],
        "note": row["note"],
        "signed_at": row["signed_at"],
    }


def handover_out(
    row: dict[str, Any],
    names: dict[int, str],
    counts: dict[str, int],
    on: dt.date | None = None,
) -> dict[str, Any]:
    """A handover's summary as the API shows it."""
    on = on or today()
    leaving = as_date(row["leaving_date"])
    open_items = counts.get(HandoverItemState.open.value, 0)
    return {
        "id": row["id"],
        "employee_id": row["employee"],
        "employee_name": names.get(row["employee"], ""),
        "successor_id": row["successor"],
        "successor_name": names.get(row["successor"], ""),
        "leaving_date": leaving,
        "state": row["state"],
        "notes": row["notes"],
        "leaver_emails": json_value(row["leaver_emails"], []),
        "leaver_phones": json_value(row["leaver_phones"], []),
        "started_by": row["started_by"],
        "started_at": row["started_at"],
        "opened_at": row["opened_at"],
        "completed_at": row["completed_at"],
        "cancelled_at": row["cancelled_at"],
        "cancel_reason": row["cancel_reason"],
        "items_open": open_items,
        "items_done": counts.get(HandoverItemState.done.value, 0),
        "items_waived": counts.get(HandoverItemState.waived.value, 0),
        "overdue": row["state"] == HandoverState.open.value and open_items > 0 and leaving < on,
        "certificate_sha256": row["certificate_sha256"],
        "version": row["version"],
    }


async def handover_row(handover_id: int) -> dict[str, Any]:
    row = await Handover.select().where(Handover.id == handover_id).first()
    if not row:
        raise NotFound(
            N_("handover %(handover_id)s does not exist"), params={"handover_id": handover_id}
        )
    return row


async def handover_items(handover_id: int) -> list[dict[str, Any]]:
    return list(
        await HandoverItem.select()
        .where(HandoverItem.handover == handover_id)
        .order_by(HandoverItem.position)
        .order_by(HandoverItem.id)
    )


async def item_row(handover_id: int, item_id: int) -> dict[str, Any]:
    row = (
        await HandoverItem.select()
        .where((HandoverItem.id == item_id) & (HandoverItem.handover == handover_id))
        .first()
    )
    if not row:
        raise NotFound(
            N_("item %(item_id)s does not exist in handover %(handover_id)s"),
            params={"item_id": item_id, "handover_id": handover_id},
        )
    return row


async def read_handover(handover_id: int) -> dict[str, Any]:
    """One handover with its checklist and sign-offs, as stored."""
    row = await handover_row(handover_id)
    items = await handover_items(handover_id)
    counts: dict[str, int] = {}
    for item in items:
        counts[item["state"]] = counts.get(item["state"], 0) + 1
    names = await employee_names([row["employee"], row["successor"]])
    out = handover_out(row, names, counts)
    out["items"] = [item_out(i) for i in items]
    out["sign_offs"] = [
        sign_off_out(s)
        for s in await SignOff.select().where(SignOff.handover == handover_id).order_by(SignOff.id)
    ]
    out["exceptions"] = await exceptions_of(handover_id)
    live = row["state"] in LIVE
    out["remaining"] = unexcepted(await still_held(row), out["exceptions"]) if live else []
    if row["state"] == HandoverState.completed.value and row["certificate"]:
        # What the certificate states, not what the other parts know today.
        out["other"] = json.loads(row["certificate"])["certificate"].get("other", {})
    else:
        out["other"] = await other_findings(row["employee"])
    return out


async def get_item(*, handover_id: int, item_id: int) -> dict[str, Any]:
    """One checklist item."""
    return item_out(await item_row(handover_id, item_id))


async def item_counts(handover_ids: list[int]) -> dict[int, dict[str, int]]:
    if not handover_ids:
        return {}
    marks = ", ".join(f"${n + 1}" for n in range(len(handover_ids)))
    rows = await fetch(
        'SELECT "handover", "state", COUNT(*) AS "n" FROM "handover_item" '
        f'WHERE "handover" IN ({marks}) GROUP BY "handover", "state"',
        *handover_ids,
    )
    out: dict[int, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["handover"], {})[r["state"]] = int(r["n"])
    return out


async def list_handovers(
    *,
    limit: int,
    offset: int,
    state: HandoverState | None = None,
    employee_id: int | None = None,
    overdue: bool | None = None,
    department: str | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Handovers, newest first, filtered by state, leaver, the leaver's department or being overdue."""
    limit, offset = page_bounds(limit, offset)
    query = Handover.select()
    if department:
        query = query.where(Handover.employee.is_in(await _in_department(department) or [0]))
    if state is not None:
        query = query.where(Handover.state == HandoverState(state).value)
    if employee_id is not None:
        query = query.where(Handover.employee == employee_id)
    if overdue:
        ids = [h["id"] for h in await overdue_handovers()]
        query = query.where(Handover.id.is_in(ids or [0]))
    rows = await query.order_by(Handover.id, ascending=False).limit(limit + 1).offset(offset)
    items, next_offset = page(rows, limit, offset)
    counts = await item_counts([r["id"] for r in items])
    names = await employee_names([r["employee"] for r in items] + [r["successor"] for r in items])
    return [handover_out(r, names, counts.get(r["id"], {})) for r in items], next_offset


async def _in_department(department: str) -> list[int]:
    """Ids of everyone in a department, through the staff directory's own list."""
    ids: list[int] = []
    offset: int | None = 0
    while offset is not None:
        rows, offset, _ = await list_employees(
            limit=MAX_LIMIT, offset=offset, department=department
        )
        ids.extend(r["id"] for r in rows)
    return ids


async def check_successor(successor_id: int, leaver_id: int, field: str) -> None:
    if successor_id == leaver_id:
        raise InvalidInput(N_("the successor must be someone other than the leaver"), field=field)
    successor = (await employees_by_id([successor_id])).get(successor_id)
    if not successor:
        raise InvalidInput(
            N_("employee %(successor_id)s does not exist"),
            field=field,
            params={"successor_id": successor_id},
        )
    if successor["status"] != EmployeeStatus.active.value:
        raise InvalidInput(
            N_("the successor (employee %(successor_id)s) must be an active employee, not leaving"),
            field=field,
            params={"successor_id": successor_id},
        )


async def refuse_the_leaver(actor: Actor, handover_id: int, action: str) -> None:
    """The leaver works on their own handover only through the attestation.

    An HR lead or IT person who is leaving must not waive, complete or sign off what is owed on
    their own departure.
    """
    if actor.employee_id is None:
        return
    row = await handover_row(handover_id)
    if row["employee"] == actor.employee_id:
        raise await refuse(
            actor,
            action,
            "handover",
            handover_id,
            N_(
                "this is your own handover: someone else works and signs it (you give the attestation)"
            ),
        )


def may_work(actor: Actor, item: dict[str, Any]) -> bool:
    """Admins work every item; HR works HR's items, IT works IT's."""
    return actor.role == Role.admin or (
        actor.role is not None and actor.role.value == item["owner_role"]
    )


def is_hr_lead(actor: Actor, settings: Settings) -> bool:
    """Admins, and HR users whose e-mail is listed in REGISTER_HANDOVER_HR_LEADS."""
    leads = {e.strip().lower() for e in settings.handover_hr_leads}
    return actor.role == Role.admin or (actor.role == Role.hr and actor.email.lower() in leads)


async def check_worker(*, actor: Actor, handover_id: int, item_id: int) -> None:
    """Refuse (audited) the leaver, and anyone but the item's team or an admin, work on an item."""
    await refuse_the_leaver(actor, handover_id, "handover.work")
    item = await item_row(handover_id, item_id)
    if not may_work(actor, item):
        team = item["owner_role"].upper()
        raise await refuse(
            actor,
            "handover.work",
            "handover_item",
            item_id,
            N_("this is %(team)s's item: only %(team)s (or an admin) works it"),
            {"team": team},
        )


async def check_waiver(*, actor: Actor, settings: Settings, handover_id: int, item_id: int) -> None:
    """Refuse (audited) anyone but an HR lead or an admin, and the leaver, a waiver."""
    await refuse_the_leaver(actor, handover_id, "handover.waive")
    await item_row(handover_id, item_id)
    if not is_hr_lead(actor, settings):
        raise await refuse(
            actor,
            "handover.waive",
            "handover_item",
            item_id,
            N_("only an HR lead (REGISTER_HANDOVER_HR_LEADS) or an admin may waive an item"),
        )


async def check_reassigner(*, actor: Actor, handover_id: int, item_id: int) -> None:
    """Refuse (audited) anyone but HR or the item's team, and the leaver, a reassignment."""
    await refuse_the_leaver(actor, handover_id, "handover.work")
    item = await item_row(handover_id, item_id)
    if not may_work(actor, item) and actor.role != Role.hr:
        raise await refuse(
            actor,
            "handover.work",
            "handover_item",
            item_id,
            N_("only HR or the item's team reassigns it"),
        )


async def check_attester(*, actor: Actor, handover_id: int, item_id: int) -> None:
    """Refuse (audited) anyone but the leaver, or HR recording their signed form, the attestation."""
    await item_row(handover_id, item_id)
    handover = await handover_row(handover_id)
    is_leaver = actor.employee_id is not None and actor.employee_id == handover["employee"]
    if not is_leaver and actor.role not in (Role.hr, Role.admin):
        raise await refuse(
            actor,
            "handover.attest",
            "handover_item",
            item_id,
            N_("only the leaver (or HR recording their signed form) attests"),
        )


async def check_excepter(*, actor: Actor, handover_id: int) -> None:
    """Refuse (audited) anyone but an admin, and the leaver, an exception on a handover."""
    await refuse_the_leaver(actor, handover_id, "handover.except")
    if actor.role != Role.admin:
        raise await refuse(
            actor,
            "handover.except",
            "handover",
            handover_id,
            N_("only an admin names what a leaver may keep after the handover"),
        )


async def check_signer(*, actor: Actor, handover_id: int) -> None:
    """Refuse (audited) the leaver a sign-off of their own handover (the team is in the body)."""
    await refuse_the_leaver(actor, handover_id, "handover.sign")


async def pending_transfer(item: dict[str, Any]) -> int | None:
    """The custody transfer this item made that awaits its assignee's answer, if any."""
    if item["assignee"] is None:
        return None
    # Only the transfer this item made: to its assignee, not any transfer pending on the account.
    pending = await last_transfer(
        account_id=item["target_id"],
        role=json_value(item["detail"], {}).get("role", "custodian"),
        to_employee_id=item["assignee"],
        state=TransferState.pending,
    )
    return pending["id"] if pending else None


async def check_answerer(*, actor: Actor, handover_id: int, item_id: int) -> None:
    """Refuse (audited) anyone but the successor, or IT for them, the answer to an item's transfer."""
    item = await item_row(handover_id, item_id)
    is_transfer = item["kind"] == HandoverItemKind.transfer_custody.value
    pending = await pending_transfer(item) if is_transfer else None
    # With nothing pending there is no one to answer: the service says so (409).
    if pending is not None:
        await check_responder(actor=actor, account_id=item["target_id"], transfer_id=pending)


async def open_item(handover_id: int, item_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The open handover and one of its items, refused (409) unless the item is still open."""
    handover = await live_for_items(handover_id)
    item = await item_row(handover_id, item_id)
    if item["state"] != HandoverItemState.open.value:
        raise Conflict(
            N_("item %(item_id)s is already %(state)s"),
            params={"item_id": item_id, "state": item["state"]},
        )
    return handover, item


async def live_for_items(handover_id: int) -> dict[str, Any]:
    row = await handover_row(handover_id)
    if row["state"] != HandoverState.open.value:
        raise Conflict(
            N_("handover %(handover_id)s is %(state)s: items are worked while it is open"),
            params={"handover_id": handover_id, "state": row["state"]},
        )
    return row


async def get_document(*, handover_id: int, document_id: int) -> dict[str, Any]:
    """A stored evidence file with its hash."""
    row = (
        await HandoverDocument.select()
        .where((HandoverDocument.id == document_id) & (HandoverDocument.handover == handover_id))
        .first()
    )
    if not row:
        raise NotFound(
            N_("document %(document_id)s does not exist in handover %(handover_id)s"),
            params={"document_id": document_id, "handover_id": handover_id},
        )
    return row


async def overdue_items(*, on: dt.date | None = None) -> list[dict[str, Any]]:
    """Open items past their due date on open handovers, oldest due first."""
    on = on or today()
    rows = await fetch(
        'SELECT i.*, h."employee" AS "leaver" FROM "handover_item" i '
        'JOIN "handover" h ON h."id" = i."handover" '
        'WHERE i."state" = $1 AND i."due_date" < $2 AND h."state" = $3 '
        'ORDER BY i."due_date", i."id" LIMIT 1000',
        HandoverItemState.open.value,
        on,
        HandoverState.open.value,
    )
    names = await employee_names(r["leaver"] for r in rows)
    out = []
    for r in rows:
        item = item_out(r, on)
        item["employee_name"] = names.get(r["leaver"], "")
        item["notified"] = r["overdue_notified_at"] is not None
        out.append(item)
    return out


async def overdue_handovers(*, on: dt.date | None = None) -> list[dict[str, Any]]:
    """Open handovers whose leaving date has passed with items still open."""
    on = on or today()
    rows = await fetch(
        'SELECT h.* FROM "handover" h WHERE h."state" = $1 AND h."leaving_date" < $2 AND EXISTS '
        '(SELECT 1 FROM "handover_item" i WHERE i."handover" = h."id" AND i."state" = $3) '
        'ORDER BY h."leaving_date", h."id" LIMIT 1000',
        HandoverState.open.value,
        on,
        HandoverItemState.open.value,
    )
    counts = await item_counts([r["id"] for r in rows])
    names = await employee_names([r["employee"] for r in rows] + [r["successor"] for r in rows])
    return [handover_out(r, names, counts.get(r["id"], {}), on) for r in rows]


async def digest_source(role: Role, since: dt.datetime) -> list[dict[str, Any]]:
    """Handovers for the daily digest: overdue items (by team), and those awaiting sign-off."""
    if role not in (Role.hr, Role.it, Role.admin):
        return []
    items = await overdue_items()
    if role != Role.admin:
        items = [i for i in items if i["owner_role"] == role.value]
    waiting = await fetch(
        'SELECT "id", "employee" FROM "handover" WHERE "state" = $1 ORDER BY "id" LIMIT 50',
        HandoverState.awaiting_sign_off.value,
    )
    leavers = await employee_names(w["employee"] for w in waiting)
    started = await fetch('SELECT COUNT(*) AS "n" FROM "handover" WHERE "opened_at" >= $1', since)
    return [
        {
            "title": "Handover items overdue",
            "count": len(items),
            "items": [
                f"{i['employee_name']}: {i['title']} (due {i['due_date'].isoformat()})"
                for i in items[:20]
            ],
        },
        {
            "title": "Handovers awaiting sign-off",
            "count": len(waiting),
            "items": [
                f"handover {w['id']}: {leavers.get(w['employee'], '')}" for w in waiting[:20]
            ],
        },
        {"title": "Handovers started", "count": int(started[0]["n"]), "items": []},
    ]


async def offboarded(employee_ids: list[int]) -> set[int]:
    """Of these people, those whose handover is complete (their connections' retention may run)."""
    if not employee_ids:
        return set()
    marks = ", ".join(f"${n + 2}" for n in range(len(employee_ids)))
    rows = await fetch(
        f'SELECT DISTINCT "employee" FROM "handover" WHERE "state" = $1 AND "employee" IN ({marks})',
        HandoverState.completed.value,
        *employee_ids,
    )
    return {r["employee"] for r in rows}
