"""Starting a handover: the checklist written from the footprint, opened, or cancelled."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from accounts.handovers.enums import (
    HandoverItemKind,
    HandoverItemState,
    HandoverState,
)
from accounts.handovers.flows._items import get_handover
from accounts.handovers.services import (
    ATTESTATION,
    ITEM_RULES,
    KIND_TARGETS,
    LIVE,
    as_date,
    check_successor,
    clean_emails,
    clean_phones,
    footprint,
    handover_row,
    today,
)
from accounts.handovers.tables import (
    Handover,
)
from register import audit
from register.actor import Actor
from register.db import bulk_insert, fetch, json_default, now, write_transaction
from register.enums import Role
from register.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    NotFound,
    StaleVersion,
)
from register.i18n import N_
from register.notifications.enums import EventType, MailKind
from register.queries import expect_version, unique_or_409
from register.settings import Settings
from register.staff.enums import EmployeeStatus
from register.staff.services import employee_names, get_employee, update_employee

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
                        HandoverItemKind.transfer_custody,
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
                    HandoverItemKind.replace_mfa_holder,
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
                    HandoverItemKind.replace_recovery_contact,
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
                HandoverItemKind.rotate_credential,
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
                HandoverItemKind.revoke_grant,
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
                HandoverItemKind.export_connections,
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
                HandoverItemKind.attest_deletion,
                f"{leaver['name']}'s written attestation that the connections were deleted",
                leaver["id"],
                leaving,
                leaver["id"],
                {"statement": ATTESTATION.format(name=leaver["name"])},
            )
        )
    for d in print_.get("post_approvals", []):
        account = f"{d['platform']} {d['handle']}"
        items.append(
            _item(
                HandoverItemKind.replace_post_approver,
                f"Replace {leaver['name']} as post approver of {account}",
                d["account_id"],
                leaving,
                None,
                {
                    "account_id": d["account_id"],
                    "requires_approval": d["requires_approval"],
                    "only_approver": d["only_approver"],
                    "blocker": d["blocker"],
                },
            )
        )
    waiting = print_.get("post_requests", {}).get("submitted", [])
    if waiting:
        items.append(
            _item(
                HandoverItemKind.withdraw_post_requests,
                f"Withdraw {len(waiting)} post request(s) of {leaver['name']} still open",
                leaver["id"],
                leaving,
                None,
                {"post_request_ids": [r["id"] for r in waiting]},
            )
        )
    for t in templates:
        items.append(
            {
                "kind": HandoverItemKind.template.value,
                "title": t["title"][:300],
                "target_type": KIND_TARGETS[HandoverItemKind.template],
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
        'ORDER BY "position", "id"',
        True,
        department,
        "",
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
        raise InvalidInput(
            N_("employee %(employee_id)s does not exist"),
            field="employee_id",
            params={"employee_id": employee_id},
        ) from exc
    leaving = leaving_date or leaver["leaving_date"]
    if leaver["status"] == EmployeeStatus.left.value and leaving != leaver["leaving_date"]:
        # The directory's date of someone who has left is what grants and clocks count from.
        raise InvalidInput(
            N_(
                "employee %(employee_id)s left on %(leaving_date)s: start the handover with that date, or correct the directory first"
            ),
            field="leaving_date",
            params={"employee_id": employee_id, "leaving_date": leaver["leaving_date"]},
        )
    if leaving is None:
        raise InvalidInput(
            N_("employee %(employee_id)s has no leaving date: record it, or send leaving_date"),
            field="leaving_date",
            params={"employee_id": employee_id},
        )
    if abs((leaving - today()).days) > 5 * 366:
        # Item due dates count from it; a date decades away is a typing error, not a plan.
        raise InvalidInput(
            N_("leaving date %(value)s is more than five years from today"),
            field="leaving_date",
            params={"value": leaving.isoformat()},
        )
    await check_successor(successor_id, employee_id, "successor_id")
    emails = clean_emails(emails, "emails")
    phones = clean_phones(phones, "phones")
    if "\x00" in notes:
        raise InvalidInput(N_("notes contains a NUL character"), field="notes")
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
                N_("employee %(employee_id)s already has a handover in progress"),
                field="employee_id",
                params={"employee_id": employee_id},
            )
        async with unique_or_409(
            N_("employee %(employee_id)s already has a handover in progress"),
            "employee_id",
            {"employee_id": employee_id},
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
                    json.dumps(i["detail"], default=json_default),
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
    from register.notifications.flows import publish

    row = await handover_row(handover_id)
    expect_version(f"handover {handover_id}", row["version"], version)
    if row["state"] != HandoverState.draft.value:
        raise Conflict(
            N_("handover %(handover_id)s is %(state)s, not a draft"),
            params={"handover_id": handover_id, "state": row["state"]},
        )
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
        raise StaleVersion(
            N_("handover %(handover_id)s has changed; read it again"),
            params={"handover_id": handover_id},
        )
    await audit.record(
        actor, "handover.open", "handover", handover_id, {"state": ["draft", "open"]}
    )
    names = await employee_names([row["employee"], row["successor"]])
    await publish(
        EventType.handover_started.value,
        {
            "handover_id": handover_id,
            "employee_id": row["employee"],
            "employee": names.get(row["employee"], ""),
            "successor_id": row["successor"],
            "successor": names.get(row["successor"], ""),
            "leaving_date": as_date(row["leaving_date"]).isoformat(),
            "link": f"/api/v1/handovers/{handover_id}",
        },
        summary=f"Handover started for {names.get(row['employee'], 'a leaver')}, "
        f"leaving {as_date(row['leaving_date']).isoformat()}; successor "
        f"{names.get(row['successor'], '')}.",
        audience=[Role.hr, Role.it],
    )
    await _mail_assignees(actor, handover_id, names.get(row["employee"], ""))


async def _mail_assignees(actor: Actor, handover_id: int, leaver: str) -> None:
    """Each person given steps of a handover now open hears of theirs, in one mail."""
    from register.notifications.flows import publish_mail

    rows = await fetch(
        'SELECT "id", "title", "due_date", "assignee" FROM "handover_item" '
        'WHERE "handover" = $1 AND "state" = $2 AND "assignee" IS NOT NULL ORDER BY "due_date", "id"',
        handover_id,
        HandoverItemState.open.value,
    )
    by_person: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_person.setdefault(r["assignee"], []).append(r)
    for assignee, items in by_person.items():
        titles = [i["title"] for i in items]
        await publish_mail(
            MailKind.handover_item_assigned,
            payload={
                "title": "; ".join(titles[:3]) + (" …" if len(titles) > 3 else ""),
                "employee": leaver,
                "due_date": items[0]["due_date"],
                "handover_id": handover_id,
                "sections": [
                    {
                        "title": "Your steps",
                        "count": len(items),
                        "items": [
                            f"{i['title']} ({as_date(i['due_date']).isoformat()})" for i in items
                        ],
                    }
                ],
            },
            path=f"/handovers/{handover_id}",
            summary=f"{len(items)} step(s) of the handover of {leaver} are theirs",
            employees=[assignee],
            actor=actor,
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
    from register.staff.services import update_employee

    if not reason.strip():
        raise InvalidInput(N_("say why the handover is cancelled"), field="reason")
    async with write_transaction():
        await audit.lock_chain()
        row = await handover_row(handover_id)
        expect_version(f"handover {handover_id}", row["version"], version)
        if row["state"] not in LIVE:
            raise Conflict(
                N_("handover %(handover_id)s is already %(state)s"),
                params={"handover_id": handover_id, "state": row["state"]},
            )
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
            raise StaleVersion(
                N_("handover %(handover_id)s has changed; read it again"),
                params={"handover_id": handover_id},
            )
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
