"""Working the checklist: items closed with evidence, completed by the register when it sees them done, waived, reassigned."""

from __future__ import annotations

import json
from typing import Any

from accounts.enums import CustodyRole, TransferState
from accounts.flows import last_transfer
from accounts.handovers.enums import (
    HandoverItemKind,
    HandoverItemState,
    HandoverState,
)
from accounts.handovers.services import (
    check_reassigner,
    check_successor,
    check_waiver,
    check_worker,
    get_item,
    handover_row,
    item_row,
    open_item,
    phone_key,
    read_handover,
    remaining,
)
from accounts.handovers.tables import (
    Handover,
    HandoverItem,
)
from accounts.posts.services import approval_of, approver_ids, open_requests_of
from accounts.services import get_account_row, get_grant, rotated_at
from register import audit
from register.actor import Actor
from register.db import fetch, json_default, json_value, now, write_transaction
from register.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    StaleVersion,
)
from register.i18n import N_
from register.notifications.enums import MailKind
from register.notifications.flows import publish_mail
from register.queries import expect_version
from register.services import employee_names, user_ids_of_employee
from register.settings import Settings


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
                HandoverItem.evidence: json.dumps(evidence, default=json_default),
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


async def _close(
    actor: Actor,
    item: dict[str, Any],
    state: HandoverItemState,
    evidence: dict[str, Any],
    *,
    reason: str = "",
) -> None:
    """Close an open item a person acts on; 409 when someone else closed it at the same moment."""
    if not await _resolve(actor, item, state, evidence, reason=reason):
        raise Conflict(
            N_("item %(item_id)s was closed at the same moment by someone else"),
            params={"item_id": item["id"]},
        )


async def _settle(actor: Actor, handover_id: int) -> None:
    """An open handover with no open item, whose leaver holds nothing unexcepted, awaits sign-off."""
    row = await handover_row(handover_id)
    if row["state"] != HandoverState.open.value:
        return
    if await HandoverItem.exists().where(
        (HandoverItem.handover == handover_id)
        & (HandoverItem.state == HandoverItemState.open.value)
    ):
        return
    if await remaining(row):
        # A waived item removes no access: the handover stays open until the leaver's access
        # goes or an admin names it as an exception.
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


async def _account(account_id: int) -> dict[str, Any] | None:
    try:
        return await get_account_row(account_id)
    except NotFound:
        return None


async def _evidence(item: dict[str, Any], handover: dict[str, Any]) -> dict[str, Any] | None:
    """What the register sees that proves an item done, or None (kinds it can check only)."""
    kind = HandoverItemKind(item["kind"])
    leaver = handover["employee"]
    target = item["target_id"]
    if kind == HandoverItemKind.transfer_custody:
        role = CustodyRole(json_value(item["detail"], {}).get("role", "custodian"))
        slot = "custodian" if role == CustodyRole.custodian else "backup_custodian"
        account = await _account(target)
        if not account or account[slot] == leaver:
            return None
        holder = account[slot]
        if holder is None:
            # The backup slot was emptied (the backup stepped up): nothing left to accept.
            return {"holder_id": None, "note": f"the {role.value} slot no longer names the leaver"}
        moved = await last_transfer(account_id=target, role=role, to_employee_id=holder)
        if not moved or moved["state"] != TransferState.accepted.value:
            return None
        return {
            "holder_id": holder,
            "transfer_id": moved["id"],
            "accepted_at": moved["responded_at"],
        }
    if kind == HandoverItemKind.rotate_credential:
        rotated = await rotated_at(target)
        if rotated is None or rotated < handover["started_at"]:
            return None
        return {"rotated_at": rotated}
    if kind == HandoverItemKind.revoke_grant:
        grant = await get_grant(target)
        if not grant or grant["revoked_at"] is None:
            return None
        return {"revoked_at": grant["revoked_at"], "revoked_by": grant["revoked_by"]}
    if kind == HandoverItemKind.replace_mfa_holder:
        account = await _account(target)
        if not account or account["mfa_holder"] == leaver:
            return None
        return {"mfa_holder_id": account["mfa_holder"]}
    if kind == HandoverItemKind.replace_recovery_contact:
        r = await _account(target)
        if not r:
            return None
        emails = set(json_value(handover["leaver_emails"], []))
        phones = {phone_key(p) for p in json_value(handover["leaver_phones"], [])}
        email, phone = r["recovery_email"], r["recovery_phone"]
        if (email and email.lower() in emails) or (phone and phone_key(phone) in phones):
            return None
        # Replaced by another personal address is not done: the company must control recovery.
        if (email and not r["recovery_email_company_controlled"]) or (
            phone and not r["recovery_phone_company_controlled"]
        ):
            return None
        return {"recovery_email": email, "recovery_phone": phone}
    if kind == HandoverItemKind.replace_post_approver:
        users = await user_ids_of_employee(leaver)
        if set(users) & set(await approver_ids(target)):
            return None
        current = await approval_of(account_id=target)
        return {"approvers": [{k: a[k] for k in ("name", "email")} for a in current["approvers"]]}
    if kind == HandoverItemKind.withdraw_post_requests:
        still = (await open_requests_of(await user_ids_of_employee(leaver)))["submitted"]
        return None if still else {"open_post_requests": 0}
    return None


AUTO_KINDS = frozenset(
    {
        HandoverItemKind.transfer_custody.value,
        HandoverItemKind.rotate_credential.value,
        HandoverItemKind.revoke_grant.value,
        HandoverItemKind.replace_mfa_holder.value,
        HandoverItemKind.replace_recovery_contact.value,
        HandoverItemKind.replace_post_approver.value,
        HandoverItemKind.withdraw_post_requests.value,
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


async def get_handover(*, handover_id: int, sync: bool = True) -> dict[str, Any]:
    """One handover with its checklist and sign-offs (after completing what the register sees done)."""
    if sync:
        await sync_handover(handover_id=handover_id)
    return await read_handover(handover_id)


async def sync_open_handovers(*, actor: Actor | None = None) -> int:
    """Auto-complete across every open handover (the CLI and the leaver sweep call this)."""
    rows = await fetch('SELECT "id" FROM "handover" WHERE "state" = $1', HandoverState.open.value)
    total = 0
    for r in rows:
        total += await sync_handover(handover_id=r["id"], actor=actor)
    return total


async def complete_item(
    *,
    actor: Actor,
    handover_id: int,
    item_id: int,
    note: str = "",
    reference: str = "",
    version: int | None = None,
) -> dict[str, Any]:
    """Mark an item done with evidence; kinds the register can check need their evidence seen.

    With `version` (a form that showed the item), an item changed since is refused as stale.
    """
    await check_worker(actor=actor, handover_id=handover_id, item_id=item_id)
    item = await item_row(handover_id, item_id)
    kind = HandoverItemKind(item["kind"])
    if kind in (HandoverItemKind.export_connections, HandoverItemKind.attest_deletion):
        raise Conflict(
            N_("this item is done by its own step: POST .../export")
            if kind == HandoverItemKind.export_connections
            else N_("this item is done by its own step: POST .../attest"),
            field="item_id",
        )
    if kind == HandoverItemKind.template and not note.strip():
        raise InvalidInput(N_("say what was done (the evidence)"), field="note")
    async with write_transaction():
        await audit.lock_chain()
        handover, item = await open_item(handover_id, item_id)
        if version is not None:
            expect_version(f"item {item_id}", item["version"], version)
        evidence: dict[str, Any] = {}
        if item["kind"] in AUTO_KINDS:
            seen = await _evidence(item, handover)
            if seen is None:
                raise Conflict(
                    N_("the register does not see this done yet: %(evidence_needed)s"),
                    field="item_id",
                    params={"evidence_needed": item["evidence_needed"]},
                )
            evidence.update(seen)
        if note.strip():
            evidence["note"] = note.strip()
        if reference.strip():
            evidence["reference"] = reference.strip()
        await _close(actor, item, HandoverItemState.done, evidence)
        await _settle(actor, handover_id)
    return await get_item(handover_id=handover_id, item_id=item_id)


async def waive_item(
    *,
    actor: Actor,
    settings: Settings,
    handover_id: int,
    item_id: int,
    reason: str,
    version: int | None = None,
) -> dict[str, Any]:
    """Waive an item with a reason: HR leads and admins only (stale `version`: refused)."""
    await check_waiver(actor=actor, settings=settings, handover_id=handover_id, item_id=item_id)
    if not reason.strip():
        raise InvalidInput(N_("say why the item is waived"), field="reason")
    async with write_transaction():
        await audit.lock_chain()
        _, item = await open_item(handover_id, item_id)
        if version is not None:
            expect_version(f"item {item_id}", item["version"], version)
        await _close(actor, item, HandoverItemState.waived, {}, reason=reason.strip())
        await _settle(actor, handover_id)
    return await get_item(handover_id=handover_id, item_id=item_id)


async def reassign_item(
    *, actor: Actor, handover_id: int, item_id: int, version: int, assignee_id: int
) -> dict[str, Any]:
    """Give an open item to someone else (for a custody transfer: the successor who receives it)."""
    await check_reassigner(actor=actor, handover_id=handover_id, item_id=item_id)
    async with write_transaction():
        await audit.lock_chain()
        handover = await handover_row(handover_id)
        if handover["state"] not in (HandoverState.draft.value, HandoverState.open.value):
            raise Conflict(
                N_("handover %(handover_id)s is %(state)s"),
                params={"handover_id": handover_id, "state": handover["state"]},
            )
        item = await item_row(handover_id, item_id)
        expect_version(f"item {item_id}", item["version"], version)
        if item["state"] != HandoverItemState.open.value:
            raise Conflict(
                N_("item %(item_id)s is already %(state)s"),
                params={"item_id": item_id, "state": item["state"]},
            )
        if item["kind"] == HandoverItemKind.attest_deletion.value:
            raise Conflict(N_("the attestation is the leaver's own"), field="assignee_id")
        await check_successor(assignee_id, handover["employee"], "assignee_id")
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
            raise StaleVersion(
                N_("item %(item_id)s has changed; read it again"), params={"item_id": item_id}
            )
        await audit.record(
            actor,
            "handover.item_reassign",
            "handover_item",
            item_id,
            {"assignee_id": [item["assignee"], assignee_id], "handover_id": handover_id},
        )
        if assignee_id != item["assignee"]:
            leaver = (await employee_names([handover["employee"]])).get(handover["employee"], "")
            await publish_mail(
                MailKind.handover_item_assigned,
                payload={
                    "title": item["title"],
                    "employee": leaver,
                    "due_date": item["due_date"],
                    "handover_id": handover_id,
                    "item_id": item_id,
                },
                path=f"/handovers/{handover_id}",
                summary=f"handover step '{item['title']}' is theirs",
                employees=[assignee_id],
                actor=actor,
            )
    return await get_item(handover_id=handover_id, item_id=item_id)
