"""Offboarding handovers: the checklist written from the leaver's footprint, worked, signed off, certified.

States: draft -> open -> awaiting_sign_off -> completed, and cancelled from any live state.

    draft              the checklist is written; HR reviews it, reassigns, then opens it
    open               items are done with evidence or waived; the register completes items
                       itself when it sees their evidence (custody moved and accepted, credential
                       rotated after the start, grant revoked, MFA holder or recovery replaced)
    awaiting_sign_off  every item is done or waived; HR and IT each sign, as different people
    completed          both signed: the certificate is issued and kept byte for byte
    cancelled          the person stays (or the handover was started by mistake)

Every change takes the audit chain's lock first, which on PostgreSQL also serialises the
handover's own steps, so two people acting on one item get one success and one 409.
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import io
import json
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accounts.certificates import sha256_hex, sign_certificate
from accounts.enums import (
    CustodyRole,
    HandoverItemKind,
    HandoverItemState,
    HandoverState,
    HandoverTeam,
    TransferState,
)
from accounts.footprint import clean_emails, clean_phones, footprint, phone_key
from accounts.tables import (
    Handover,
    HandoverDocument,
    HandoverItem,
    HandoverTemplate,
    SignOff,
)
from register import audit
from register.access import refuse
from register.actor import Actor
from register.db import bulk_insert, fetch, json_value, now, write_transaction
from register.enums import EmployeeStatus, EventType, Role
from register.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    NotFound,
    StaleVersion,
)
from register.services import get_employee, page, page_bounds, unique_or_409, update_employee
from register.settings import Settings

LIVE = (HandoverState.draft.value, HandoverState.open.value, HandoverState.awaiting_sign_off.value)
K = HandoverItemKind
IT, HR = HandoverTeam.it.value, HandoverTeam.hr.value
MAX_PDF_BYTES = 10 * 1024 * 1024

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
    K.template: "handover_template",
}
ITEM_COLUMNS = (
    "handover",
    "position",
    "kind",
    "title",
    "target_type",
    "target_id",
    "detail",
    "owner_role",
    "assignee",
    "due_date",
    "evidence_needed",
    "state",
    "evidence",
    "auto_completed",
    "waive_reason",
    "resolved_by_email",
    "version",
    "updated_at",
)


def today() -> dt.date:
    """Today's date (UTC)."""
    return now().date()


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


# ---------------------------------------------------------------- reading


def item_out(row: dict[str, Any], on: dt.date | None = None) -> dict[str, Any]:
    """A checklist item as the API shows it."""
    on = on or today()
    due = _date(row["due_date"])
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
        "evidence": json_value(row["evidence"], {}),
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
    leaving = _date(row["leaving_date"])
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


async def _names(ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    marks = ", ".join(f"${n + 1}" for n in range(len(wanted)))
    rows = await fetch(f'SELECT "id", "name" FROM "employee" WHERE "id" IN ({marks})', *wanted)
    return {r["id"]: r["name"] for r in rows}


async def _row(handover_id: int) -> dict[str, Any]:
    row = await Handover.select().where(Handover.id == handover_id).first()
    if not row:
        raise NotFound(f"handover {handover_id} does not exist")
    return row


async def _items(handover_id: int) -> list[dict[str, Any]]:
    return list(
        await HandoverItem.select()
        .where(HandoverItem.handover == handover_id)
        .order_by(HandoverItem.position)
        .order_by(HandoverItem.id)
    )


async def _item_row(handover_id: int, item_id: int) -> dict[str, Any]:
    row = (
        await HandoverItem.select()
        .where((HandoverItem.id == item_id) & (HandoverItem.handover == handover_id))
        .first()
    )
    if not row:
        raise NotFound(f"item {item_id} does not exist in handover {handover_id}")
    return row


async def get_handover(*, handover_id: int, sync: bool = True) -> dict[str, Any]:
    """One handover with its checklist and sign-offs (after completing what the register sees done)."""
    if sync:
        await sync_handover(handover_id=handover_id)
    row = await _row(handover_id)
    items = await _items(handover_id)
    counts: dict[str, int] = {}
    for item in items:
        counts[item["state"]] = counts.get(item["state"], 0) + 1
    names = await _names([row["employee"], row["successor"]])
    out = handover_out(row, names, counts)
    out["items"] = [item_out(i) for i in items]
    out["sign_offs"] = [
        sign_off_out(s)
        for s in await SignOff.select().where(SignOff.handover == handover_id).order_by(SignOff.id)
    ]
    return out


async def get_item(*, handover_id: int, item_id: int) -> dict[str, Any]:
    """One checklist item."""
    return item_out(await _item_row(handover_id, item_id))


async def _counts(handover_ids: list[int]) -> dict[int, dict[str, int]]:
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
) -> tuple[list[dict[str, Any]], int | None]:
    """Handovers, newest first, filtered by state, leaver or being overdue."""
    limit, offset = page_bounds(limit, offset)
    query = Handover.select()
    if state is not None:
        query = query.where(Handover.state == HandoverState(state).value)
    if employee_id is not None:
        query = query.where(Handover.employee == employee_id)
    if overdue:
        ids = [h["id"] for h in await overdue_handovers()]
        query = query.where(Handover.id.is_in(ids or [0]))
    rows = await query.order_by(Handover.id, ascending=False).limit(limit + 1).offset(offset)
    items, next_offset = page(rows, limit, offset)
    counts = await _counts([r["id"] for r in items])
    names = await _names([r["employee"] for r in items] + [r["successor"] for r in items])
    return [handover_out(r, names, counts.get(r["id"], {})) for r in items], next_offset


# ---------------------------------------------------------------- templates


def template_out(row: dict[str, Any]) -> dict[str, Any]:
    """A checklist template as the API shows it."""
    return {
        k: row[k]
        for k in (
            "id",
            "department",
            "title",
            "description",
            "owner_role",
            "day_offset",
            "active",
            "version",
            "created_at",
            "updated_at",
        )
    }


async def list_templates(*, department: str | None = None) -> list[dict[str, Any]]:
    """Checklist templates, by department then title."""
    query = HandoverTemplate.select()
    if department is not None:
        query = query.where(HandoverTemplate.department == department.strip())
    rows = await query.order_by(HandoverTemplate.department).order_by(HandoverTemplate.id)
    return [template_out(r) for r in rows]


async def _template_row(template_id: int) -> dict[str, Any]:
    row = await HandoverTemplate.select().where(HandoverTemplate.id == template_id).first()
    if not row:
        raise NotFound(f"template {template_id} does not exist")
    return row


def _clean_template(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key in ("department", "title", "description"):
        if key in out and isinstance(out[key], str):
            out[key] = out[key].strip()
            if "\x00" in out[key]:
                raise InvalidInput(f"{key} contains a NUL character", field=key)
    if "title" in out and not out["title"]:
        raise InvalidInput("title must not be blank", field="title")
    if "owner_role" in out:
        out["owner_role"] = HandoverTeam(out["owner_role"]).value
    if "day_offset" in out and not -365 <= int(out["day_offset"]) <= 365:
        raise InvalidInput(
            "day_offset must be within a year of the leaving date", field="day_offset"
        )
    return out


async def create_template(*, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Add a checklist item to every future handover of a department (blank: every department)."""
    values = _clean_template(data)
    stamp = now()
    async with write_transaction():
        rows = await HandoverTemplate.insert(
            HandoverTemplate(**values, version=1, created_at=stamp, updated_at=stamp)
        )
        template_id = rows[0]["id"]
        await audit.record(
            actor,
            "handover_template.create",
            "handover_template",
            template_id,
            audit.diff(None, values),
        )
    return template_out(await _template_row(template_id))


async def update_template(
    *, actor: Actor, template_id: int, version: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change a template (handovers already started keep their items)."""
    async with write_transaction():
        before = template_out(await _template_row(template_id))
        if before["version"] != version:
            raise StaleVersion(
                f"template {template_id} has changed since version {version}; read it again",
                current_version=before["version"],
            )
        cleaned = {k: v for k, v in _clean_template(changes).items() if before.get(k) != v}
        if not cleaned:
            return before
        updated = (
            await HandoverTemplate.update({**cleaned, "version": version + 1, "updated_at": now()})
            .where((HandoverTemplate.id == template_id) & (HandoverTemplate.version == version))
            .returning(HandoverTemplate.id)
        )
        if not updated:
            raise StaleVersion(f"template {template_id} has changed; read it again")
        await audit.record(
            actor,
            "handover_template.update",
            "handover_template",
            template_id,
            audit.diff(before, cleaned),
        )
    return template_out(await _template_row(template_id))


# ---------------------------------------------------------------- starting


def _item(
    kind: HandoverItemKind,
    title: str,
    target_id: int | None,
    leaving: dt.date,
    assignee: int | None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    team, offset, needed = ITEM_RULES[kind]
    return {
        "kind": kind.value,
        "title": title[:300],
        "target_type": KIND_TARGETS[kind],
        "target_id": target_id,
        "detail": detail or {},
        "owner_role": team,
        "assignee": assignee,
        "due_date": leaving + dt.timedelta(days=offset),
        "evidence_needed": needed,
    }


def checklist(
    print_: dict[str, Any],
    *,
    successor_id: int,
    leaving: dt.date,
    templates: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The checklist a footprint calls for, in the order it is best worked."""
    leaver = print_["employee"]
    items: list[dict[str, Any]] = []
    label = {a["account_id"]: f"{a['platform']} {a['handle']}" for a in print_["accounts"]}
    for g in print_["grants"]:
        label.setdefault(g["account_id"], f"{g['platform']} {g['handle']}")
    for r in print_["revealed"]:
        label.setdefault(r["account_id"], f"{r['platform']} {r['handle']}")
    for a in print_["accounts"]:
        for role in ("custodian", "backup"):
            if role in a["roles"]:
                items.append(
                    _item(
                        K.transfer_custody,
                        f"Transfer {'custody' if role == 'custodian' else 'backup custody'} "
                        f"of {label[a['account_id']]} to the successor",
                        a["account_id"],
                        leaving,
                        successor_id,
                        {"role": role},
                    )
                )
    for a in print_["accounts"]:
        if "mfa_holder" in a["roles"]:
            items.append(
                _item(
                    K.replace_mfa_holder,
                    f"Replace {leaver['name']} as second-factor holder of {label[a['account_id']]}",
                    a["account_id"],
                    leaving,
                    successor_id,
                )
            )
        matched = [r for r in a["roles"] if r in ("recovery_email", "recovery_phone")]
        if matched:
            items.append(
                _item(
                    K.replace_recovery_contact,
                    f"Replace {leaver['name']} as recovery contact of {label[a['account_id']]}",
                    a["account_id"],
                    leaving,
                    None,
                    {
                        "matched": matched,
                        "recovery_email": a["recovery_email"],
                        "recovery_phone": a["recovery_phone"],
                    },
                )
            )
    for c in print_["credentials"]:
        why = [w for w, flag in (("held", c["held"]), ("revealed", c["revealed"])) if flag]
        items.append(
            _item(
                K.rotate_credential,
                f"Rotate the credential of {label.get(c['account_id'], c['account_id'])}",
                c["account_id"],
                leaving,
                None,
                {"because": why},
            )
        )
    for g in print_["grants"]:
        items.append(
            _item(
                K.revoke_grant,
                f"Revoke {leaver['name']}'s {g['level']} access to {label[g['account_id']]}",
                g["grant_id"],
                leaving,
                None,
                {"account_id": g["account_id"], "level": g["level"]},
            )
        )
    if print_["connections"]["held"]:
        items.append(
            _item(
                K.export_connections,
                f"Export {print_['connections']['held']} connections to the successor",
                leaver["id"],
                leaving,
                successor_id,
                {"connections": print_["connections"]["held"]},
            )
        )
    if print_["connections"]["total"]:
        items.append(
            _item(
                K.attest_deletion,
                f"{leaver['name']}'s written attestation that the connections were deleted",
                leaver["id"],
                leaving,
                leaver["id"],
                {"statement": ATTESTATION.format(name=leaver["name"])},
            )
        )
    for t in templates:
        items.append(
            {
                "kind": K.template.value,
                "title": t["title"][:300],
                "target_type": KIND_TARGETS[K.template],
                "target_id": t["id"],
                "detail": {"description": t["description"], "department": t["department"]},
                "owner_role": t["owner_role"],
                "assignee": None,
                "due_date": leaving + dt.timedelta(days=t["day_offset"]),
                "evidence_needed": t["description"] or "A note saying what was done.",
            }
        )
    return items


async def _templates_for(department: str) -> list[dict[str, Any]]:
    return await fetch(
        'SELECT "id", "title", "description", "department", "owner_role", "day_offset" '
        'FROM "handover_template" WHERE "active" = $1 AND ("department" = $2 OR "department" = $3) '
        'ORDER BY "id"',
        True,
        department,
        "",
    )


async def _check_successor(successor_id: int, leaver_id: int, field: str) -> None:
    if successor_id == leaver_id:
        raise InvalidInput("the successor must be someone other than the leaver", field=field)
    rows = await fetch('SELECT "status" FROM "employee" WHERE "id" = $1', successor_id)
    if not rows:
        raise InvalidInput(f"employee {successor_id} does not exist", field=field)
    if rows[0]["status"] != EmployeeStatus.active.value:
        raise InvalidInput(
            f"the successor (employee {successor_id}) must be an active employee, not leaving",
            field=field,
        )


async def start_handover(
    *,
    actor: Actor,
    settings: Settings,
    employee_id: int,
    successor_id: int,
    leaving_date: dt.date | None = None,
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    notes: str = "",
    open_now: bool = False,
) -> dict[str, Any]:
    """Write a leaver's handover checklist from their footprint (draft, or opened at once)."""
    handover_id = await _start(
        actor=actor,
        settings=settings,
        employee_id=employee_id,
        successor_id=successor_id,
        leaving_date=leaving_date,
        emails=emails,
        phones=phones,
        notes=notes,
        open_now=open_now,
    )
    return await get_handover(handover_id=handover_id)


async def _start(
    *,
    actor: Actor,
    settings: Settings,
    employee_id: int,
    successor_id: int,
    leaving_date: dt.date | None,
    emails: Iterable[str],
    phones: Iterable[str],
    notes: str,
    open_now: bool,
    templates: dict[str, list[dict[str, Any]]] | None = None,
) -> int:
    try:
        leaver = await get_employee(employee_id=employee_id)
    except NotFound as exc:
        raise InvalidInput(f"employee {employee_id} does not exist", field="employee_id") from exc
    leaving = leaving_date or leaver["leaving_date"]
    if leaver["status"] == EmployeeStatus.left.value and leaving != leaver["leaving_date"]:
        # The directory's date of someone who has left is what grants and clocks count from.
        raise InvalidInput(
            f"employee {employee_id} left on {leaver['leaving_date']}: start the handover with "
            "that date, or correct the directory first",
            field="leaving_date",
        )
    if leaving is None:
        raise InvalidInput(
            f"employee {employee_id} has no leaving date: record it, or send leaving_date",
            field="leaving_date",
        )
    if abs((leaving - today()).days) > 5 * 366:
        # Item due dates count from it; a date decades away is a typing error, not a plan.
        raise InvalidInput(
            f"leaving date {leaving.isoformat()} is more than five years from today",
            field="leaving_date",
        )
    await _check_successor(successor_id, employee_id, "successor_id")
    emails = clean_emails(emails, "emails")
    phones = clean_phones(phones, "phones")
    if "\x00" in notes:
        raise InvalidInput("notes contains a NUL character", field="notes")
    print_ = await footprint(
        employee_id=employee_id,
        reveal_days=settings.handover_reveal_days,
        emails=emails,
        phones=phones,
    )
    # A bulk start reads each department's templates once.
    cache = templates if templates is not None else {}
    if leaver["department"] not in cache:
        cache[leaver["department"]] = await _templates_for(leaver["department"])
    items = checklist(
        print_,
        successor_id=successor_id,
        leaving=leaving,
        templates=cache[leaver["department"]],
    )
    stamp = now()
    async with write_transaction():
        await audit.lock_chain()
        if await Handover.exists().where(
            (Handover.employee == employee_id) & Handover.state.is_in(list(LIVE))
        ):
            raise AlreadyExists(
                f"employee {employee_id} already has a handover in progress", field="employee_id"
            )
        async with unique_or_409(
            f"employee {employee_id} already has a handover in progress", "employee_id"
        ):
            rows = await Handover.insert(
                Handover(
                    employee=employee_id,
                    successor=successor_id,
                    leaving_date=leaving,
                    state=HandoverState.draft.value,
                    leaver_emails=json.dumps(print_["matched_emails"]),
                    leaver_phones=json.dumps(print_["matched_phones"]),
                    notes=notes.strip(),
                    started_by=actor.user_id,
                    started_at=stamp,
                    version=1,
                    updated_at=stamp,
                )
            )
        handover_id = rows[0]["id"]
        if leaver["leaving_date"] != leaving:
            # One leaving date: the directory's is the one the leaver sweep and every other
            # part of the register read.
            await update_employee(
                actor=actor,
                employee_id=employee_id,
                version=leaver["version"],
                changes={"leaving_date": leaving},
            )
        await bulk_insert(
            "handover_item",
            ITEM_COLUMNS,
            [
                (
                    handover_id,
                    n,
                    i["kind"],
                    i["title"],
                    i["target_type"],
                    i["target_id"],
                    json.dumps(i["detail"], default=str),
                    i["owner_role"],
                    i["assignee"],
                    i["due_date"],
                    i["evidence_needed"],
                    HandoverItemState.open.value,
                    "{}",
                    False,
                    "",
                    "",
                    1,
                    stamp,
                )
                for n, i in enumerate(items, 1)
            ],
        )
        await audit.record(
            actor,
            "handover.start",
            "handover",
            handover_id,
            {
                "employee_id": [None, employee_id],
                "successor_id": [None, successor_id],
                "leaving_date": [None, leaving.isoformat()],
                "items": [None, len(items)],
            },
        )
        if open_now:
            await _open(actor, handover_id, 1)
    return handover_id


async def _open(actor: Actor, handover_id: int, version: int) -> None:
    from register.outbox import publish

    row = await _row(handover_id)
    if row["version"] != version:
        raise StaleVersion(
            f"handover {handover_id} has changed since version {version}; read it again",
            current_version=row["version"],
        )
    if row["state"] != HandoverState.draft.value:
        raise Conflict(f"handover {handover_id} is {row['state']}, not a draft")
    stamp = now()
    updated = (
        await Handover.update(
            {
                Handover.state: HandoverState.open.value,
                Handover.opened_at: stamp,
                Handover.version: version + 1,
                Handover.updated_at: stamp,
            }
        )
        .where((Handover.id == handover_id) & (Handover.version == version))
        .returning(Handover.id)
    )
    if not updated:
        raise StaleVersion(f"handover {handover_id} has changed; read it again")
    await audit.record(
        actor, "handover.open", "handover", handover_id, {"state": ["draft", "open"]}
    )
    names = await _names([row["employee"], row["successor"]])
    await publish(
        EventType.handover_started.value,
        {
            "handover_id": handover_id,
            "employee_id": row["employee"],
            "employee": names.get(row["employee"], ""),
            "successor_id": row["successor"],
            "successor": names.get(row["successor"], ""),
            "leaving_date": _date(row["leaving_date"]).isoformat(),
            "link": f"/api/v1/handovers/{handover_id}",
        },
        summary=f"Handover started for {names.get(row['employee'], 'a leaver')}, "
        f"leaving {_date(row['leaving_date']).isoformat()}; successor "
        f"{names.get(row['successor'], '')}.",
        audience=[Role.hr, Role.it],
    )


async def open_handover(*, actor: Actor, handover_id: int, version: int) -> dict[str, Any]:
    """Open a draft: items can be worked, and HR and IT are told."""
    async with write_transaction():
        await audit.lock_chain()
        await _open(actor, handover_id, version)
    return await get_handover(handover_id=handover_id)


async def cancel_handover(
    *, actor: Actor, handover_id: int, version: int, reason: str, person_stays: bool = True
) -> dict[str, Any]:
    """Cancel a live handover; if the person stays, their leaving date is cleared."""
    from register.services import update_employee

    if not reason.strip():
        raise InvalidInput("say why the handover is cancelled", field="reason")
    async with write_transaction():
        await audit.lock_chain()
        row = await _row(handover_id)
        if row["version"] != version:
            raise StaleVersion(
                f"handover {handover_id} has changed since version {version}; read it again",
                current_version=row["version"],
            )
        if row["state"] not in LIVE:
            raise Conflict(f"handover {handover_id} is already {row['state']}")
        stamp = now()
        updated = (
            await Handover.update(
                {
                    Handover.state: HandoverState.cancelled.value,
                    Handover.cancelled_at: stamp,
                    Handover.cancelled_by: actor.user_id,
                    Handover.cancel_reason: reason.strip(),
                    Handover.version: version + 1,
                    Handover.updated_at: stamp,
                }
            )
            .where((Handover.id == handover_id) & (Handover.version == version))
            .returning(Handover.id)
        )
        if not updated:
            raise StaleVersion(f"handover {handover_id} has changed; read it again")
        await audit.record(
            actor,
            "handover.cancel",
            "handover",
            handover_id,
            {"state": [row["state"], "cancelled"], "reason": [None, reason.strip()]},
        )
        if person_stays:
            employee = await get_employee(employee_id=row["employee"])
            if employee["status"] != EmployeeStatus.left.value and employee["leaving_date"]:
                await update_employee(
                    actor=actor,
                    employee_id=row["employee"],
                    version=employee["version"],
                    changes={"leaving_date": None},
                )
    return await get_handover(handover_id=handover_id, sync=False)


# ---------------------------------------------------------------- working items


async def _refuse_the_leaver(actor: Actor, handover_id: int, action: str) -> None:
    """The leaver works on their own handover only through the attestation.

    An HR lead or IT person who is leaving must not waive, complete or sign off what is owed on
    their own departure.
    """
    if actor.employee_id is None:
        return
    row = await _row(handover_id)
    if row["employee"] == actor.employee_id:
        raise await refuse(
            actor,
            action,
            "handover",
            handover_id,
            "this is your own handover: someone else works and signs it (you give the attestation)",
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
    await _refuse_the_leaver(actor, handover_id, "handover.work")
    item = await _item_row(handover_id, item_id)
    if not may_work(actor, item):
        team = item["owner_role"].upper()
        raise await refuse(
            actor,
            "handover.work",
            "handover_item",
            item_id,
            f"this is {team}'s item: only {team} (or an admin) works it",
        )


async def check_waiver(*, actor: Actor, settings: Settings, handover_id: int, item_id: int) -> None:
    """Refuse (audited) anyone but an HR lead or an admin, and the leaver, a waiver."""
    await _refuse_the_leaver(actor, handover_id, "handover.waive")
    await _item_row(handover_id, item_id)
    if not is_hr_lead(actor, settings):
        raise await refuse(
            actor,
            "handover.waive",
            "handover_item",
            item_id,
            "only an HR lead (REGISTER_HANDOVER_HR_LEADS) or an admin may waive an item",
        )


async def check_reassigner(*, actor: Actor, handover_id: int, item_id: int) -> None:
    """Refuse (audited) anyone but HR or the item's team, and the leaver, a reassignment."""
    await _refuse_the_leaver(actor, handover_id, "handover.work")
    item = await _item_row(handover_id, item_id)
    if not may_work(actor, item) and actor.role != Role.hr:
        raise await refuse(
            actor,
            "handover.work",
            "handover_item",
            item_id,
            "only HR or the item's team reassigns it",
        )


async def check_attester(*, actor: Actor, handover_id: int, item_id: int) -> None:
    """Refuse (audited) anyone but the leaver, or HR recording their signed form, the attestation."""
    await _item_row(handover_id, item_id)
    handover = await _row(handover_id)
    is_leaver = actor.employee_id is not None and actor.employee_id == handover["employee"]
    if not is_leaver and actor.role not in (Role.hr, Role.admin):
        raise await refuse(
            actor,
            "handover.attest",
            "handover_item",
            item_id,
            "only the leaver (or HR recording their signed form) attests",
        )


async def check_signer(*, actor: Actor, handover_id: int) -> None:
    """Refuse (audited) the leaver a sign-off of their own handover (the team is in the body)."""
    await _refuse_the_leaver(actor, handover_id, "handover.sign")


async def _live_for_items(handover_id: int) -> dict[str, Any]:
    row = await _row(handover_id)
    if row["state"] != HandoverState.open.value:
        raise Conflict(
            f"handover {handover_id} is {row['state']}: items are worked while it is open"
        )
    return row


async def _resolve(
    actor: Actor,
    item: dict[str, Any],
    state: HandoverItemState,
    evidence: dict[str, Any],
    *,
    auto: bool = False,
    reason: str = "",
) -> bool:
    """Close an open item (conditional: only one of two people acting at once gets True)."""
    stamp = now()
    updated = (
        await HandoverItem.update(
            {
                HandoverItem.state: state.value,
                HandoverItem.evidence: json.dumps(evidence, default=str),
                HandoverItem.resolved_by: actor.user_id,
                HandoverItem.resolved_by_email: actor.email,
                HandoverItem.resolved_at: stamp,
                HandoverItem.auto_completed: auto,
                HandoverItem.waive_reason: reason,
                HandoverItem.version: item["version"] + 1,
                HandoverItem.updated_at: stamp,
            }
        )
        .where(
            (HandoverItem.id == item["id"]) & (HandoverItem.state == HandoverItemState.open.value)
        )
        .returning(HandoverItem.id)
    )
    if not updated:
        return False
    action = {
        HandoverItemState.done: "handover.item_auto_complete" if auto else "handover.item_complete",
        HandoverItemState.waived: "handover.item_waive",
    }[state]
    changes: dict[str, Any] = {"state": ["open", state.value], "handover_id": item["handover"]}
    if reason:
        changes["reason"] = [None, reason]
    else:
        changes["evidence"] = [None, evidence]
    await audit.record(actor, action, "handover_item", item["id"], changes)
    return True


async def _settle(actor: Actor, handover_id: int) -> None:
    """An open handover with no open item awaits sign-off."""
    row = await _row(handover_id)
    if row["state"] != HandoverState.open.value:
        return
    if await HandoverItem.exists().where(
        (HandoverItem.handover == handover_id)
        & (HandoverItem.state == HandoverItemState.open.value)
    ):
        return
    updated = (
        await Handover.update(
            {
                Handover.state: HandoverState.awaiting_sign_off.value,
                Handover.version: row["version"] + 1,
                Handover.updated_at: now(),
            }
        )
        .where((Handover.id == handover_id) & (Handover.state == HandoverState.open.value))
        .returning(Handover.id)
    )
    if updated:
        await audit.record(
            actor,
            "handover.awaiting_sign_off",
            "handover",
            handover_id,
            {"state": ["open", "awaiting_sign_off"]},
        )


async def _evidence(item: dict[str, Any], handover: dict[str, Any]) -> dict[str, Any] | None:
    """What the register sees that proves an item done, or None (kinds it can check only)."""
    kind = HandoverItemKind(item["kind"])
    leaver = handover["employee"]
    target = item["target_id"]
    if kind == K.transfer_custody:
        role = CustodyRole(json_value(item["detail"], {}).get("role", "custodian"))
        slot = "custodian" if role == CustodyRole.custodian else "backup_custodian"
        rows = await fetch(
            f'SELECT "{slot}" AS "holder" FROM "social_account" WHERE "id" = $1', target
        )
        if not rows or rows[0]["holder"] == leaver:
            return None
        holder = rows[0]["holder"]
        if holder is None:
            # The backup slot was emptied (the backup stepped up): nothing left to accept.
            return {"holder_id": None, "note": f"the {role.value} slot no longer names the leaver"}
        moved = await fetch(
            'SELECT "id", "state", "responded_at" FROM "custody_transfer" WHERE "account" = $1 '
            'AND "role" = $2 AND "to_employee" = $3 ORDER BY "id" DESC LIMIT 1',
            target,
            role.value,
            holder,
        )
        if not moved or moved[0]["state"] != TransferState.accepted.value:
            return None
        return {
            "holder_id": holder,
            "transfer_id": moved[0]["id"],
            "accepted_at": moved[0]["responded_at"],
        }
    if kind == K.rotate_credential:
        rows = await fetch('SELECT "rotated_at" FROM "credential" WHERE "account" = $1', target)
        rotated = rows[0]["rotated_at"] if rows else None
        if isinstance(rotated, str):
            rotated = dt.datetime.fromisoformat(rotated)
        if rotated is None or rotated < handover["started_at"]:
            return None
        return {"rotated_at": rotated}
    if kind == K.revoke_grant:
        rows = await fetch(
            'SELECT "revoked_at", "revoked_by" FROM "access_grant" WHERE "id" = $1', target
        )
        if not rows or rows[0]["revoked_at"] is None:
            return None
        return {"revoked_at": rows[0]["revoked_at"], "revoked_by": rows[0]["revoked_by"]}
    if kind == K.replace_mfa_holder:
        rows = await fetch('SELECT "mfa_holder" FROM "social_account" WHERE "id" = $1', target)
        if not rows or rows[0]["mfa_holder"] == leaver:
            return None
        return {"mfa_holder_id": rows[0]["mfa_holder"]}
    if kind == K.replace_recovery_contact:
        rows = await fetch(
            'SELECT "recovery_email", "recovery_phone", "recovery_email_company_controlled", '
            '"recovery_phone_company_controlled" FROM "social_account" WHERE "id" = $1',
            target,
        )
        if not rows:
            return None
        emails = set(json_value(handover["leaver_emails"], []))
        phones = {phone_key(p) for p in json_value(handover["leaver_phones"], [])}
        r = rows[0]
        email, phone = r["recovery_email"], r["recovery_phone"]
        if (email and email.lower() in emails) or (phone and phone_key(phone) in phones):
            return None
        # Replaced by another personal address is not done: the company must control recovery.
        if (email and not r["recovery_email_company_controlled"]) or (
            phone and not r["recovery_phone_company_controlled"]
        ):
            return None
        return {"recovery_email": email, "recovery_phone": phone}
    return None


AUTO_KINDS = frozenset(
    {
        K.transfer_custody.value,
        K.rotate_credential.value,
        K.revoke_grant.value,
        K.replace_mfa_holder.value,
        K.replace_recovery_contact.value,
    }
)


async def sync_handover(*, handover_id: int, actor: Actor | None = None) -> int:
    """Complete the open items whose evidence the register now sees; how many it completed."""
    row = await Handover.select().where(Handover.id == handover_id).first()
    if not row or row["state"] != HandoverState.open.value:
        return 0
    candidates = [
        i
        for i in await HandoverItem.select().where(
            (HandoverItem.handover == handover_id)
            & (HandoverItem.state == HandoverItemState.open.value)
            & HandoverItem.kind.is_in(sorted(AUTO_KINDS))
        )
    ]
    seen = [(i, e) for i in candidates if (e := await _evidence(i, row)) is not None]
    if not seen and (
        candidates
        or await HandoverItem.exists().where(
            (HandoverItem.handover == handover_id)
            & (HandoverItem.state == HandoverItemState.open.value)
        )
    ):
        return 0
    actor = actor or Actor.system("register")
    done = 0
    async with write_transaction():
        await audit.lock_chain()
        # Read again under the lock: a cancel may have landed since the evidence was looked at.
        current = await Handover.select(Handover.state).where(Handover.id == handover_id).first()
        if not current or current["state"] != HandoverState.open.value:
            return 0
        for item, evidence in seen:
            done += await _resolve(actor, item, HandoverItemState.done, evidence, auto=True)
        await _settle(actor, handover_id)
    return done


async def sync_open_handovers(*, actor: Actor | None = None) -> int:
    """Auto-complete across every open handover (the CLI and the leaver sweep call this)."""
    rows = await fetch('SELECT "id" FROM "handover" WHERE "state" = $1', HandoverState.open.value)
    total = 0
    for r in rows:
        total += await sync_handover(handover_id=r["id"], actor=actor)
    return total


async def complete_item(
    *, actor: Actor, handover_id: int, item_id: int, note: str = "", reference: str = ""
) -> dict[str, Any]:
    """Mark an item done with evidence; kinds the register can check need their evidence seen."""
    await check_worker(actor=actor, handover_id=handover_id, item_id=item_id)
    item = await _item_row(handover_id, item_id)
    kind = HandoverItemKind(item["kind"])
    if kind in (K.export_connections, K.attest_deletion):
        raise Conflict(
            "this item is done by its own step: "
            + ("POST .../export" if kind == K.export_connections else "POST .../attest"),
            field="item_id",
        )
    if kind == K.template and not note.strip():
        raise InvalidInput("say what was done (the evidence)", field="note")
    async with write_transaction():
        await audit.lock_chain()
        handover = await _live_for_items(handover_id)
        item = await _item_row(handover_id, item_id)
        if item["state"] != HandoverItemState.open.value:
            raise Conflict(f"item {item_id} is already {item['state']}")
        evidence: dict[str, Any] = {}
        if item["kind"] in AUTO_KINDS:
            seen = await _evidence(item, handover)
            if seen is None:
                raise Conflict(
                    f"the register does not see this done yet: {item['evidence_needed']}",
                    field="item_id",
                )
            evidence.update(seen)
        if note.strip():
            evidence["note"] = note.strip()
        if reference.strip():
            evidence["reference"] = reference.strip()
        if not await _resolve(actor, item, HandoverItemState.done, evidence):
            raise Conflict(f"item {item_id} was closed at the same moment by someone else")
        await _settle(actor, handover_id)
    return await get_item(handover_id=handover_id, item_id=item_id)


async def waive_item(
    *, actor: Actor, settings: Settings, handover_id: int, item_id: int, reason: str
) -> dict[str, Any]:
    """Waive an item with a reason: HR leads and admins only."""
    await check_waiver(actor=actor, settings=settings, handover_id=handover_id, item_id=item_id)
    if not reason.strip():
        raise InvalidInput("say why the item is waived", field="reason")
    async with write_transaction():
        await audit.lock_chain()
        await _live_for_items(handover_id)
        item = await _item_row(handover_id, item_id)
        if item["state"] != HandoverItemState.open.value:
            raise Conflict(f"item {item_id} is already {item['state']}")
        if not await _resolve(actor, item, HandoverItemState.waived, {}, reason=reason.strip()):
            raise Conflict(f"item {item_id} was closed at the same moment by someone else")
        await _settle(actor, handover_id)
    return await get_item(handover_id=handover_id, item_id=item_id)


async def reassign_item(
    *, actor: Actor, handover_id: int, item_id: int, version: int, assignee_id: int
) -> dict[str, Any]:
    """Give an open item to someone else (for a custody transfer: the successor who receives it)."""
    await check_reassigner(actor=actor, handover_id=handover_id, item_id=item_id)
    async with write_transaction():
        await audit.lock_chain()
        handover = await _row(handover_id)
        if handover["state"] not in (HandoverState.draft.value, HandoverState.open.value):
            raise Conflict(f"handover {handover_id} is {handover['state']}")
        item = await _item_row(handover_id, item_id)
        if item["version"] != version:
            raise StaleVersion(
                f"item {item_id} has changed since version {version}; read it again",
                current_version=item["version"],
            )
        if item["state"] != HandoverItemState.open.value:
            raise Conflict(f"item {item_id} is already {item['state']}")
        if item["kind"] == K.attest_deletion.value:
            raise Conflict("the attestation is the leaver's own", field="assignee_id")
        await _check_successor(assignee_id, handover["employee"], "assignee_id")
        updated = (
            await HandoverItem.update(
                {
                    HandoverItem.assignee: assignee_id,
                    HandoverItem.version: version + 1,
                    HandoverItem.updated_at: now(),
                }
            )
            .where((HandoverItem.id == item_id) & (HandoverItem.version == version))
            .returning(HandoverItem.id)
        )
        if not updated:
            raise StaleVersion(f"item {item_id} has changed; read it again")
        await audit.record(
            actor,
            "handover.item_reassign",
            "handover_item",
            item_id,
            {"assignee_id": [item["assignee"], assignee_id], "handover_id": handover_id},
        )
    return await get_item(handover_id=handover_id, item_id=item_id)


async def transfer_item(
    *, actor: Actor, handover_id: int, item_id: int, note: str = ""
) -> dict[str, Any]:
    """Move the custody an item names to its assignee, who then accepts (accounts.flows)."""
    await check_worker(actor=actor, handover_id=handover_id, item_id=item_id)
    from accounts.flows import transfer_custody

    item = await _item_row(handover_id, item_id)
    if item["kind"] != K.transfer_custody.value:
        raise Conflict("only a custody transfer item is transferred", field="item_id")
    await _live_for_items(handover_id)
    if item["state"] != HandoverItemState.open.value:
        raise Conflict(f"item {item_id} is already {item['state']}")
    if item["assignee"] is None:
        raise Conflict("name the successor first (reassign the item)", field="assignee_id")
    role = CustodyRole(json_value(item["detail"], {}).get("role", "custodian"))
    transfer = await transfer_custody(
        actor=actor,
        account_id=item["target_id"],
        role=role,
        to_employee_id=item["assignee"],
        note=note or f"handover {handover_id}",
    )
    return transfer


async def _pending_transfer(item: dict[str, Any]) -> int | None:
    """The custody transfer this item made that awaits its assignee's answer, if any."""
    role = json_value(item["detail"], {}).get("role", "custodian")
    # Only the transfer this item made: to its assignee, not any transfer pending on the account.
    pending = await fetch(
        'SELECT "id" FROM "custody_transfer" WHERE "account" = $1 AND "role" = $2 AND "state" = $3 '
        'AND "to_employee" = $4 ORDER BY "id" DESC LIMIT 1',
        item["target_id"],
        role,
        TransferState.pending.value,
        item["assignee"],
    )
    return pending[0]["id"] if pending else None


async def check_answerer(*, actor: Actor, handover_id: int, item_id: int) -> None:
    """Refuse (audited) anyone but the successor, or IT for them, the answer to an item's transfer."""
    from accounts.flows import check_responder

    item = await _item_row(handover_id, item_id)
    pending = await _pending_transfer(item) if item["kind"] == K.transfer_custody.value else None
    # With nothing pending there is no one to answer: the service says so (409).
    if pending is not None:
        await check_responder(actor=actor, account_id=item["target_id"], transfer_id=pending)


async def accept_item(
    *, actor: Actor, handover_id: int, item_id: int, accept: bool = True, note: str = ""
) -> dict[str, Any]:
    """The successor answers the item's pending custody transfer; accepting completes the item."""
    from accounts.flows import respond

    item = await _item_row(handover_id, item_id)
    if item["kind"] != K.transfer_custody.value:
        raise Conflict("only a custody transfer item is accepted", field="item_id")
    await _live_for_items(handover_id)
    pending = await _pending_transfer(item)
    if pending is None:
        raise Conflict("no custody transfer of this item awaits an answer", field="item_id")
    await respond(
        actor=actor,
        account_id=item["target_id"],
        transfer_id=pending,
        accept=accept,
        note=note,
    )
    await sync_handover(handover_id=handover_id, actor=actor)
    return await get_item(handover_id=handover_id, item_id=item_id)


async def revoke_item(
    *, actor: Actor, handover_id: int, item_id: int, reason: str = ""
) -> dict[str, Any]:
    """Revoke the grant an item names (the custodian's own grant needs custody moved first)."""
    await check_worker(actor=actor, handover_id=handover_id, item_id=item_id)
    from accounts.services import revoke_grant

    item = await _item_row(handover_id, item_id)
    if item["kind"] != K.revoke_grant.value:
        raise Conflict("only a grant item is revoked", field="item_id")
    await _live_for_items(handover_id)
    if item["state"] != HandoverItemState.open.value:
        raise Conflict(f"item {item_id} is already {item['state']}")
    detail = json_value(item["detail"], {})
    await revoke_grant(
        actor=actor,
        account_id=detail["account_id"],
        grant_id=item["target_id"],
        reason=reason or f"leaver (handover {handover_id})",
    )
    await sync_handover(handover_id=handover_id, actor=actor)
    return await get_item(handover_id=handover_id, item_id=item_id)


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
        K.revoke_grant.value,
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


# ---------------------------------------------------------------- connections and attestation


async def _connections_csv(actor: Actor, employee_id: int) -> tuple[bytes, int]:
    """The leaver's employer-owned connections as CSV (accounts.connections' export), and the count."""
    from accounts.connections import export_csv

    text = await export_csv(actor=actor, employee_id=employee_id)
    rows = list(csv.reader(io.StringIO(text)))
    return text.encode("utf-8"), max(len(rows) - 1, 0)


async def _connection_state(actor: Actor, employee_id: int, state: str, note: str) -> None:
    """Move the leaver's connections on (exported, deletion attested); none to move is fine."""
    from accounts.connections import set_state
    from accounts.enums import ConnectionState

    try:
        await set_state(
            actor=actor, employee_id=employee_id, state=ConnectionState(state), note=note
        )
    except Conflict:
        pass


async def export_item(
    *, actor: Actor, handover_id: int, item_id: int
) -> tuple[dict[str, Any], bytes]:
    """Export the leaver's connections for the successor; the item records the file's SHA-256."""
    await _refuse_the_leaver(actor, handover_id, "handover.export")
    item = await _item_row(handover_id, item_id)
    if item["kind"] != K.export_connections.value:
        raise Conflict("only the connections export item is exported", field="item_id")
    if not may_work(actor, item):
        raise await refuse(
            actor,
            "handover.work",
            "handover_item",
            item_id,
            "only HR (or an admin) exports connections",
        )
    async with write_transaction():
        await audit.lock_chain()
        handover = await _live_for_items(handover_id)
        item = await _item_row(handover_id, item_id)
        if item["state"] != HandoverItemState.open.value:
            raise Conflict(f"item {item_id} is already {item['state']}")
        body, count = await _connections_csv(actor, handover["employee"])
        filename = f"connections-employee-{handover['employee']}-handover-{handover_id}.csv"
        evidence = {
            "sha256": sha256_hex(body),
            "rows": count,
            "bytes": len(body),
            "filename": filename,
            "exported_to": item["assignee"] or handover["successor"],
        }
        if not await _resolve(actor, item, HandoverItemState.done, evidence):
            raise Conflict(f"item {item_id} was closed at the same moment by someone else")
        await _connection_state(
            actor, handover["employee"], "exported_to_successor", f"handover {handover_id}"
        )
        await _settle(actor, handover_id)
    return await get_item(handover_id=handover_id, item_id=item_id), body


async def attest_item(
    *,
    actor: Actor,
    handover_id: int,
    item_id: int,
    typed_name: str,
    signed_on: dt.date,
    pdf_base64: str | None = None,
    filename: str = "",
) -> dict[str, Any]:
    """Record the leaver's attestation that the connections were deleted from their profile."""
    await check_attester(actor=actor, handover_id=handover_id, item_id=item_id)
    item = await _item_row(handover_id, item_id)
    if item["kind"] != K.attest_deletion.value:
        raise Conflict("only the attestation item is attested", field="item_id")
    handover = await _row(handover_id)
    is_leaver = actor.employee_id is not None and actor.employee_id == handover["employee"]
    leaver = await get_employee(employee_id=handover["employee"])
    if " ".join(typed_name.split()).casefold() != " ".join(leaver["name"].split()).casefold():
        raise InvalidInput(
            f"type the leaver's name as the register holds it ({leaver['name']})",
            field="typed_name",
        )
    if signed_on > today():
        raise InvalidInput("the attestation cannot be dated in the future", field="signed_on")
    pdf: bytes | None = None
    if pdf_base64:
        try:
            pdf = base64.b64decode(pdf_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput(
                "signed_pdf_base64 is not base64", field="signed_pdf_base64"
            ) from exc
        if not pdf.startswith(b"%PDF-"):
            raise InvalidInput("the signed attestation must be a PDF", field="signed_pdf_base64")
        if len(pdf) > MAX_PDF_BYTES:
            raise InvalidInput("the PDF is larger than 10 MB", field="signed_pdf_base64")
    statement = json_value(item["detail"], {}).get("statement") or ATTESTATION.format(
        name=leaver["name"]
    )
    async with write_transaction():
        await audit.lock_chain()
        await _live_for_items(handover_id)
        item = await _item_row(handover_id, item_id)
        if item["state"] != HandoverItemState.open.value:
            raise Conflict(f"item {item_id} is already {item['state']}")
        evidence: dict[str, Any] = {
            "statement": statement,
            "typed_name": typed_name.strip(),
            "signed_on": signed_on.isoformat(),
            "recorded_by": "the leaver" if is_leaver else actor.email,
        }
        if pdf is not None:
            digest = sha256_hex(pdf)
            name = (filename or "attestation.pdf").strip()[:255]
            rows = await HandoverDocument.insert(
                HandoverDocument(
                    handover=handover_id,
                    item=item_id,
                    filename=name,
                    media_type="application/pdf",
                    size=len(pdf),
                    sha256=digest,
                    content=pdf,
                    uploaded_by=actor.user_id,
                    uploaded_at=now(),
                )
            )
            evidence["document"] = {
                "id": rows[0]["id"],
                "filename": name,
                "sha256": digest,
                "bytes": len(pdf),
            }
        if not await _resolve(actor, item, HandoverItemState.done, evidence):
            raise Conflict(f"item {item_id} was closed at the same moment by someone else")
        await _connection_state(
            actor, handover["employee"], "deletion_attested", f"handover {handover_id}"
        )
        await _settle(actor, handover_id)
    return await get_item(handover_id=handover_id, item_id=item_id)


async def get_document(*, handover_id: int, document_id: int) -> dict[str, Any]:
    """A stored evidence file with its hash."""
    row = (
        await HandoverDocument.select()
        .where((HandoverDocument.id == document_id) & (HandoverDocument.handover == handover_id))
        .first()
    )
    if not row:
        raise NotFound(f"document {document_id} does not exist in handover {handover_id}")
    return row


# ---------------------------------------------------------------- sign-off and the certificate


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
            f"only {team.value.upper()} (or an admin) signs off for {team.value.upper()}",
        )
    await sync_handover(handover_id=handover_id, actor=actor)
    async with write_transaction():
        await audit.lock_chain()
        row = await _row(handover_id)
        if row["state"] != HandoverState.awaiting_sign_off.value:
            raise Conflict(
                f"handover {handover_id} is {row['state']}: sign-off comes when every item is "
                "done or waived"
            )
        if await HandoverItem.exists().where(
            (HandoverItem.handover == handover_id)
            & (HandoverItem.state == HandoverItemState.open.value)
        ):
            raise Conflict(f"handover {handover_id} still has open items")
        signed = await SignOff.select().where(SignOff.handover == handover_id)
        if any(s["team"] == team.value for s in signed):
            raise Conflict(
                f"{team.value.upper()} has already signed off this handover", field="team"
            )
        if any(s["user_id"] == actor.user_id for s in signed):
            raise Conflict(
                "the two sign-offs must be by different people: you have already signed",
                field="team",
            )
        async with unique_or_409("this sign-off was given at the same moment", "team"):
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


async def _complete(actor: Actor, signing_key: Ed25519PrivateKey, row: dict[str, Any]) -> None:
    from register.outbox import publish

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
        raise Conflict(f"handover {handover_id} changed at the same moment; try again")
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
    """What the certificate states: the handover, every item with its evidence, the sign-offs."""
    row = await _row(handover_id)
    people = {
        r["id"]: r
        for r in await fetch(
            'SELECT "id", "name", "work_email", "department" FROM "employee" WHERE "id" IN ($1, $2)',
            row["employee"],
            row["successor"],
        )
    }
    items = [item_out(i) for i in await _items(handover_id)]
    for i in items:
        i.pop("overdue", None)
        i.pop("version", None)
    return {
        "handover": {
            "id": handover_id,
            "employee": people[row["employee"]],
            "successor": people[row["successor"]],
            "leaving_date": _date(row["leaving_date"]).isoformat(),
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
        "issued_at": completed_at,
    }


async def certificate(*, handover_id: int) -> bytes:
    """The signed certificate file of a completed handover."""
    row = await _row(handover_id)
    if row["state"] != HandoverState.completed.value or not row["certificate"]:
        raise Conflict(f"handover {handover_id} is {row['state']}: no certificate until completed")
    return row["certificate"].encode("utf-8")


# ---------------------------------------------------------------- overdue, digest, bulk


async def overdue_items(*, on: dt.date | None = None) -> list[dict[str, Any]]:
    """Open items past their due date on open handovers, oldest due first."""
    on = on or today()
    rows = await fetch(
        'SELECT i.*, e."name" AS "employee_name" FROM "handover_item" i '
        'JOIN "handover" h ON h."id" = i."handover" JOIN "employee" e ON e."id" = h."employee" '
        'WHERE i."state" = $1 AND i."due_date" < $2 AND h."state" = $3 '
        'ORDER BY i."due_date", i."id" LIMIT 1000',
        HandoverItemState.open.value,
        on,
        HandoverState.open.value,
    )
    out = []
    for r in rows:
        item = item_out(r, on)
        item["employee_name"] = r["employee_name"]
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
    counts = await _counts([r["id"] for r in rows])
    names = await _names([r["employee"] for r in rows] + [r["successor"] for r in rows])
    return [handover_out(r, names, counts.get(r["id"], {}), on) for r in rows]


async def notify_overdue(*, actor: Actor | None = None, on: dt.date | None = None) -> int:
    """Publish `handover.item_overdue` once per newly overdue item, grouped per handover."""
    from register.outbox import publish

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
            await audit.record(
                actor,
                "handover.overdue_notified",
                "handover",
                handover_id,
                {"items": [None, sorted(ids)]},
            )
            sent += len(group)
    return sent


async def digest_source(role: Role, since: dt.datetime) -> list[dict[str, Any]]:
    """Handovers for the daily digest: overdue items (by team), and those awaiting sign-off."""
    if role not in (Role.hr, Role.it, Role.admin):
        return []
    items = await overdue_items()
    if role != Role.admin:
        items = [i for i in items if i["owner_role"] == role.value]
    waiting = await fetch(
        'SELECT h."id", e."name" FROM "handover" h JOIN "employee" e ON e."id" = h."employee" '
        'WHERE h."state" = $1 ORDER BY h."id" LIMIT 50',
        HandoverState.awaiting_sign_off.value,
    )
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
            "items": [f"handover {w['id']}: {w['name']}" for w in waiting[:20]],
        },
        {"title": "Handovers started", "count": int(started[0]["n"]), "items": []},
    ]


# Header (as register.csvfiles.normalise_header folds it) -> field.
BULK_FIELDS = {
    "workemail": "work_email",
    "email": "work_email",
    "employeeid": "employee_id",
    "leavingdate": "leaving_date",
    "successoremail": "successor_email",
    "successor": "successor_email",
    "successorid": "successor_id",
    "personalemail": "personal_email",
    "phone": "phone",
    "notes": "notes",
}


def _whole(value: str, field: str) -> int:
    try:
        return int(value.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"{field} must be a whole number, not '{value[:40]}'", field=field
        ) from exc


async def bulk_start(
    *,
    actor: Actor,
    settings: Settings,
    content: bytes,
    default_successor_email: str = "",
    leaving_date: dt.date | None = None,
    open_now: bool = True,
    date_order: str | None = None,
) -> dict[str, Any]:
    """Start one handover per CSV row (a restructuring), all or nothing; errors name their line."""
    from register.csvfiles import (
        decode,
        normalise_header,
        parse_date,
        rows_with_lines,
        slashed_order_hint,
    )

    order = (date_order or "").strip().upper() or None
    if order not in (None, "DMY", "MDY"):
        raise InvalidInput("date_order must be DMY or MDY", field="date_order")

    text = decode(content)
    rows = list(rows_with_lines(text))
    if not rows:
        raise InvalidInput("the file is empty", field="file")
    header = [BULK_FIELDS.get(normalise_header(h), normalise_header(h)) for h in rows[0][1]]
    if "work_email" not in header and "employee_id" not in header:
        raise InvalidInput(
            "the CSV needs a work_email (or employee_id) column for the leaver", field="file"
        )
    if order is None and "leaving_date" in header:
        # One unambiguous date in the file (13/04/2027) tells how all of them are written.
        column = header.index("leaving_date")
        hints = {slashed_order_hint(v[column]) for _, v in rows[1:] if column < len(v)} - {None}
        order = hints.pop() if len(hints) == 1 else None
    people = {
        r["work_email"]: r
        for r in await fetch('SELECT "id", "work_email", "leaving_date", "status" FROM "employee"')
    }
    # Listed with the other line errors rather than as one 409 once the rest of the file is valid.
    live = {
        r["employee"]: r["id"]
        for r in await Handover.select(Handover.id, Handover.employee).where(
            Handover.state.is_in(list(LIVE))
        )
    }
    by_id = {r["id"]: r for r in people.values()}
    errors: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    seen: set[int] = set()
    default_successor = default_successor_email.strip().lower()
    for line, values in rows[1:]:
        row = dict(zip(header, values, strict=False))
        if not any(v.strip() for v in values):
            continue
        try:
            if row.get("employee_id", "").strip():
                leaver = by_id.get(_whole(row["employee_id"], "employee_id"))
            else:
                leaver = people.get(row.get("work_email", "").strip().lower())
            if leaver is None:
                raise InvalidInput("no such employee", field="work_email")
            if leaver["id"] in seen:
                raise InvalidInput("this leaver is listed twice", field="work_email")
            seen.add(leaver["id"])
            if leaver["id"] in live:
                raise InvalidInput(
                    f"this leaver already has handover {live[leaver['id']]} in progress",
                    field="work_email",
                )
            if row.get("successor_id", "").strip():
                successor = by_id.get(_whole(row["successor_id"], "successor_id"))
            else:
                successor = people.get(
                    (row.get("successor_email", "").strip() or default_successor).lower()
                )
            if successor is None:
                raise InvalidInput(
                    "no successor: name one in successor_email or send default_successor_email",
                    field="successor_email",
                )
            date = (
                parse_date(row["leaving_date"], order)
                if row.get("leaving_date", "").strip()
                else leaving_date or leaver["leaving_date"]
            )
            if date is None:
                raise InvalidInput("no leaving date for this leaver", field="leaving_date")
            await _check_successor(successor["id"], leaver["id"], "successor_email")
            plans.append(
                {
                    "employee_id": leaver["id"],
                    "successor_id": successor["id"],
                    "leaving_date": _date(date),
                    "emails": [row["personal_email"]] if row.get("personal_email") else [],
                    "phones": [row["phone"]] if row.get("phone") else [],
                    "notes": row.get("notes", ""),
                    "line": line,
                }
            )
        except (InvalidInput, ValueError) as exc:
            message = exc.detail if isinstance(exc, InvalidInput) else str(exc)
            errors.append(
                {"line": line, "field": getattr(exc, "extra", {}).get("field"), "message": message}
            )
    if errors:
        raise InvalidInput(
            f"{len(errors)} row(s) have errors; nothing was started",
            field="file",
            errors=[
                {"field": e["field"] or "file", "message": f"line {e['line']}: {e['message']}"}
                for e in errors[:100]
            ],
        )
    if not plans:
        raise InvalidInput("the file lists no leavers", field="file")
    ids: list[int] = []
    templates: dict[str, list[dict[str, Any]]] = {}
    async with write_transaction():
        for plan in plans:
            try:
                ids.append(
                    await _start(
                        actor=actor,
                        settings=settings,
                        employee_id=plan["employee_id"],
                        successor_id=plan["successor_id"],
                        leaving_date=plan["leaving_date"],
                        emails=plan["emails"],
                        phones=plan["phones"],
                        notes=plan["notes"],
                        open_now=open_now,
                        templates=templates,
                    )
                )
            except InvalidInput as exc:
                raise InvalidInput(f"line {plan['line']}: {exc.detail}", field="file") from exc
            except Conflict as exc:
                raise Conflict(f"line {plan['line']}: {exc.detail}", field="file") from exc
    return {"started": len(ids), "handover_ids": ids, "opened": open_now}


__all__ = [
    "ATTESTATION",
    "accept_item",
    "attest_item",
    "bulk_start",
    "cancel_handover",
    "certificate",
    "complete_item",
    "create_template",
    "digest_source",
    "export_item",
    "get_handover",
    "list_handovers",
    "notify_overdue",
    "open_handover",
    "overdue_handovers",
    "overdue_items",
    "reassign_item",
    "revoke_item",
    "sign_off",
    "start_handover",
    "sync_handover",
    "transfer_item",
    "update_template",
    "waive_item",
]
