"""Exceptions: what a leaver keeps after the handover, named by an admin with a reason."""

from __future__ import annotations

from typing import Any

from accounts.handovers.enums import HandoverHolding, HandoverState
from accounts.handovers.flows._items import _settle, get_handover
from accounts.handovers.services import (
    check_excepter,
    exceptions_of,
    handover_row,
    holding_key,
    holding_text,
    still_held,
)
from accounts.handovers.tables import HandoverException
from register import audit
from register.actor import Actor
from register.db import now, write_transaction
from register.errors import AlreadyExists, Conflict, InvalidInput
from register.i18n import N_


async def record_exception(
    *,
    actor: Actor,
    handover_id: int,
    holding: HandoverHolding,
    reason: str,
    account_id: int | None = None,
    grant_id: int | None = None,
) -> dict[str, Any]:
    """Name something the leaver holds as kept after completion, with a reason (admins only)."""
    await check_excepter(actor=actor, handover_id=handover_id)
    holding = HandoverHolding(holding)
    is_grant = holding == HandoverHolding.grant
    field = "grant_id" if is_grant else "account_id"
    target = grant_id if is_grant else account_id
    if target is None:
        raise InvalidInput(
            N_("name the %(value)s kept"),
            field=field,
            params={"value": "grant" if is_grant else "account"},
        )
    if not reason.strip():
        raise InvalidInput(N_("say why the leaver keeps it"), field="reason")
    async with write_transaction():
        await audit.lock_chain()
        row = await handover_row(handover_id)
        if row["state"] not in (HandoverState.open.value, HandoverState.awaiting_sign_off.value):
            raise Conflict(
                N_(
                    "handover %(handover_id)s is %(state)s: exceptions are named while it is open or awaiting sign-off"
                ),
                params={"handover_id": handover_id, "state": row["state"]},
            )
        key = (holding.value, target)
        held = next((h for h in await still_held(row) if holding_key(h) == key), None)
        if held is None:
            what = f"grant {target}" if is_grant else f"{holding.value} of account {target}"
            raise InvalidInput(
                N_("the leaver does not hold %(what)s now"), field=field, params={"what": what}
            )
        if any(holding_key(e) == key for e in await exceptions_of(handover_id)):
            raise AlreadyExists(
                N_("%(held)s is already an exception"),
                field=field,
                params={"held": holding_text(held)},
            )
        await HandoverException.insert(
            HandoverException(
                handover=handover_id,
                holding=holding.value,
                account_id=held["account_id"],
                grant_id=held["grant_id"],
                reason=reason.strip(),
                recorded_by=actor.user_id,
                recorded_by_email=actor.email,
                recorded_at=now(),
            )
        )
        await audit.record(
            actor,
            "handover.exception",
            "handover",
            handover_id,
            {
                "holding": [None, holding.value],
                "account_id": [None, held["account_id"]],
                "grant_id": [None, held["grant_id"]],
                "reason": [None, reason.strip()],
            },
        )
        # With nothing else left, the handover can await sign-off now.
        await _settle(actor, handover_id)
    return await get_handover(handover_id=handover_id, sync=False)
