"""Items done by their own step: custody moved and accepted, a grant revoked, connections exported, deletion attested."""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import io
from typing import Any

from accounts.enums import CustodyRole
from accounts.handovers.enums import (
    HandoverItemKind,
    HandoverItemState,
)
from accounts.handovers.files import sha256_hex
from accounts.handovers.flows._items import _close, _settle, sync_handover
from accounts.handovers.services import (
    ATTESTATION,
    check_attester,
    check_worker,
    get_item,
    handover_row,
    item_row,
    live_for_items,
    may_work,
    open_item,
    pending_transfer,
    refuse_the_leaver,
    today,
)
from accounts.handovers.tables import (
    HandoverDocument,
)
from accounts.posts.flows import withdraw_open_of
from accounts.posts.services import replace_approver
from register import audit
from register.access import refuse
from register.actor import Actor
from register.db import json_value, now, write_transaction
from register.errors import (
    Conflict,
    InvalidInput,
)
from register.i18n import N_
from register.services import user_ids_of_employee
from register.staff.services import get_employee


async def transfer_item(
    *, actor: Actor, handover_id: int, item_id: int, note: str = ""
) -> dict[str, Any]:
    """Move the custody an item names to its assignee, who then accepts (accounts.flows)."""
    await check_worker(actor=actor, handover_id=handover_id, item_id=item_id)
    from accounts.flows import transfer_custody

    item = await item_row(handover_id, item_id)
    if item["kind"] != HandoverItemKind.transfer_custody.value:
        raise Conflict(N_("only a custody transfer item is transferred"), field="item_id")
    await live_for_items(handover_id)
    if item["state"] != HandoverItemState.open.value:
        raise Conflict(
            N_("item %(item_id)s is already %(state)s"),
            params={"item_id": item_id, "state": item["state"]},
        )
    if item["assignee"] is None:
        raise Conflict(N_("name the successor first (reassign the item)"), field="assignee_id")
    role = CustodyRole(json_value(item["detail"], {}).get("role", "custodian"))
    transfer = await transfer_custody(
        actor=actor,
        account_id=item["target_id"],
        role=role,
        to_employee_id=item["assignee"],
        note=note or f"handover {handover_id}",
    )
    return transfer


async def accept_item(
    *, actor: Actor, handover_id: int, item_id: int, accept: bool = True, note: str = ""
) -> dict[str, Any]:
    """The successor answers the item's pending custody transfer; accepting completes the item."""
    from accounts.flows import respond

    item = await item_row(handover_id, item_id)
    if item["kind"] != HandoverItemKind.transfer_custody.value:
        raise Conflict(N_("only a custody transfer item is accepted"), field="item_id")
    await live_for_items(handover_id)
    pending = await pending_transfer(item)
    if pending is None:
        raise Conflict(N_("no custody transfer of this item awaits an answer"), field="item_id")
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

    item = await item_row(handover_id, item_id)
    if item["kind"] != HandoverItemKind.revoke_grant.value:
        raise Conflict(N_("only a grant item is revoked"), field="item_id")
    await live_for_items(handover_id)
    if item["state"] != HandoverItemState.open.value:
        raise Conflict(
            N_("item %(item_id)s is already %(state)s"),
            params={"item_id": item_id, "state": item["state"]},
        )
    detail = json_value(item["detail"], {})
    await revoke_grant(
        actor=actor,
        account_id=detail["account_id"],
        grant_id=item["target_id"],
        reason=reason or f"leaver (handover {handover_id})",
    )
    await sync_handover(handover_id=handover_id, actor=actor)
    return await get_item(handover_id=handover_id, item_id=item_id)


async def _connections_csv(actor: Actor, employee_id: int) -> tuple[bytes, int]:
    """The leaver's employer-owned connections as CSV (accounts.connections' export), and the count."""
    from accounts.connections.services import export_csv

    text = await export_csv(actor=actor, employee_id=employee_id)
    rows = list(csv.reader(io.StringIO(text)))
    return text.encode("utf-8"), max(len(rows) - 1, 0)


async def _connection_state(actor: Actor, employee_id: int, state: str, note: str) -> None:
    """Move the leaver's connections on (exported, deletion attested); none to move is fine."""
    from accounts.connections.enums import ConnectionState
    from accounts.connections.services import set_state

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
    await refuse_the_leaver(actor, handover_id, "handover.export")
    item = await item_row(handover_id, item_id)
    if item["kind"] != HandoverItemKind.export_connections.value:
        raise Conflict(N_("only the connections export item is exported"), field="item_id")
    if not may_work(actor, item):
        raise await refuse(
            actor,
            "handover.work",
            "handover_item",
            item_id,
            N_("only HR (or an admin) exports connections"),
        )
    async with write_transaction():
        await audit.lock_chain()
        handover, item = await open_item(handover_id, item_id)
        body, count = await _connections_csv(actor, handover["employee"])
        filename = f"connections-employee-{handover['employee']}-handover-{handover_id}.csv"
        evidence = {
            "sha256": sha256_hex(body),
            "rows": count,
            "bytes": len(body),
            "filename": filename,
            "exported_to": item["assignee"] or handover["successor"],
        }
        await _close(actor, item, HandoverItemState.done, evidence)
        await _connection_state(
            actor, handover["employee"], "exported_to_successor", f"handover {handover_id}"
        )
        await _settle(actor, handover_id)
    return await get_item(handover_id=handover_id, item_id=item_id), body


MAX_PDF_BYTES = 10 * 1024 * 1024


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
    item = await item_row(handover_id, item_id)
    if item["kind"] != HandoverItemKind.attest_deletion.value:
        raise Conflict(N_("only the attestation item is attested"), field="item_id")
    handover = await handover_row(handover_id)
    is_leaver = actor.employee_id is not None and actor.employee_id == handover["employee"]
    leaver = await get_employee(employee_id=handover["employee"])
    if " ".join(typed_name.split()).casefold() != " ".join(leaver["name"].split()).casefold():
        raise InvalidInput(
            N_("type the leaver's name as the register holds it (%(name)s)"),
            field="typed_name",
            params={"name": leaver["name"]},
        )
    if signed_on > today():
        raise InvalidInput(N_("the attestation cannot be dated in the future"), field="signed_on")
    pdf: bytes | None = None
    if pdf_base64:
        try:
            pdf = base64.b64decode(pdf_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput(
                N_("signed_pdf_base64 is not base64"), field="signed_pdf_base64"
            ) from exc
        if not pdf.startswith(b"%PDF-"):
            raise InvalidInput(
                N_("the signed attestation must be a PDF"), field="signed_pdf_base64"
            )
        if len(pdf) > MAX_PDF_BYTES:
            raise InvalidInput(N_("the PDF is larger than 10 MB"), field="signed_pdf_base64")
    statement = json_value(item["detail"], {}).get("statement") or ATTESTATION.format(
        name=leaver["name"]
    )
    async with write_transaction():
        await audit.lock_chain()
        _, item = await open_item(handover_id, item_id)
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
        await _close(actor, item, HandoverItemState.done, evidence)
        await _connection_state(
            actor, handover["employee"], "deletion_attested", f"handover {handover_id}"
        )
        await _settle(actor, handover_id)
    return await get_item(handover_id=handover_id, item_id=item_id)


async def approver_item(
    *,
    actor: Actor,
    handover_id: int,
    item_id: int,
    replacement_user_id: int | None,
    note: str = "",
) -> dict[str, Any]:
    """Take the leaver off an account's post approvers, naming who approves in their place (or none)."""
    await check_worker(actor=actor, handover_id=handover_id, item_id=item_id)
    item = await item_row(handover_id, item_id)
    if item["kind"] != HandoverItemKind.replace_post_approver.value:
        raise Conflict(N_("only a post approver item names a replacement"), field="item_id")
    async with write_transaction():
        await audit.lock_chain()
        handover, item = await open_item(handover_id, item_id)
        leaver = await get_employee(employee_id=handover["employee"])
        changed = await replace_approver(
            actor=actor,
            account_id=item["target_id"],
            leaving=await user_ids_of_employee(handover["employee"]),
            replacement=replacement_user_id,
            reason=f"{leaver['name']} leaves (handover {handover_id})",
        )
        evidence: dict[str, Any] = {
            "removed": [{k: p[k] for k in ("name", "email")} for p in changed["removed"]],
            "replacement": (
                {k: changed["replacement"][k] for k in ("name", "email")}
                if changed["replacement"]
                else None
            ),
            "approvers": [{k: p[k] for k in ("name", "email")} for p in changed["approvers"]],
        }
        if note.strip():
            evidence["note"] = note.strip()
        await _close(actor, item, HandoverItemState.done, evidence)
        await _settle(actor, handover_id)
    return await get_item(handover_id=handover_id, item_id=item_id)


async def withdraw_posts_item(
    *, actor: Actor, handover_id: int, item_id: int, reason: str = ""
) -> dict[str, Any]:
    """Withdraw the leaver's open post requests (their history says why); the item completes."""
    await check_worker(actor=actor, handover_id=handover_id, item_id=item_id)
    item = await item_row(handover_id, item_id)
    if item["kind"] != HandoverItemKind.withdraw_post_requests.value:
        raise Conflict(N_("only the post requests item withdraws post requests"), field="item_id")
    async with write_transaction():
        await audit.lock_chain()
        handover, item = await open_item(handover_id, item_id)
        leaver = await get_employee(employee_id=handover["employee"])
        why = reason.strip() or f"{leaver['name']} leaves (handover {handover_id})"
        withdrawn = await withdraw_open_of(
            actor=actor, user_ids=await user_ids_of_employee(handover["employee"]), reason=why
        )
        evidence = {"withdrawn": withdrawn, "reason": why}
        await _close(actor, item, HandoverItemState.done, evidence)
        await _settle(actor, handover_id)
    return await get_item(handover_id=handover_id, item_id=item_id)
