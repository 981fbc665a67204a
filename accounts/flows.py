"""Custody transfer: custody moves in one step, the new holder accepts or declines, declining moves it back."""

from __future__ import annotations

from typing import Any

from accounts.enums import AccountStatus, CustodyRole, TransferState
from accounts.services import active_employee, get_account, mark_rotation_due
from accounts.tables import AccessGrant, CustodyTransfer, SocialAccount
from register import audit
from register.access import refuse
from register.actor import Actor
from register.db import fetch, now, write_transaction
from register.enums import Role
from register.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from register.i18n import N_
from register.notifications.enums import MailKind
from register.notifications.flows import publish_mail
from register.services import employee_names

SLOT = {CustodyRole.custodian: "custodian", CustodyRole.backup: "backup_custodian"}


def transfer_out(row: dict[str, Any]) -> dict[str, Any]:
    """A transfer row as the API shows it."""
    return {
        "id": row["id"],
        "account_id": row["account"],
        "role": row["role"],
        "from_employee_id": row["from_employee"],
        "to_employee_id": row["to_employee"],
        "state": row["state"],
        "revoke_old_grants": row["revoke_old_grants"],
        "backup_stepped_up": row["backup_stepped_up"],
        "note": row["note"],
        "requested_by": row["requested_by"],
        "requested_at": row["requested_at"],
        "responded_by": row["responded_by"],
        "responded_at": row["responded_at"],
        "response_note": row["response_note"],
    }


async def get_transfer(*, account_id: int, transfer_id: int) -> dict[str, Any]:
    """One transfer of an account, or NotFound."""
    row = (
        await CustodyTransfer.select()
        .where((CustodyTransfer.id == transfer_id) & (CustodyTransfer.account == account_id))
        .first()
    )
    if not row:
        raise NotFound(
            N_("transfer %(transfer_id)s does not exist on account %(account_id)s"),
            params={"transfer_id": transfer_id, "account_id": account_id},
        )
    return transfer_out(row)


async def last_transfer(
    *,
    account_id: int,
    role: CustodyRole | str,
    to_employee_id: int,
    state: TransferState | None = None,
) -> dict[str, Any] | None:
    """The newest transfer of an account's custodian or backup slot to one person, if any."""
    query = CustodyTransfer.select().where(
        (CustodyTransfer.account == account_id)
        & (CustodyTransfer.role == CustodyRole(role).value)
        & (CustodyTransfer.to_employee == to_employee_id)
    )
    if state is not None:
        query = query.where(CustodyTransfer.state == TransferState(state).value)
    row = await query.order_by(CustodyTransfer.id, ascending=False).first()
    return transfer_out(row) if row else None


async def transfers_awaiting(*, employee_id: int) -> list[dict[str, Any]]:
    """Custody transfers waiting for this person's answer, oldest first."""
    rows = (
        await CustodyTransfer.select()
        .where(
            (CustodyTransfer.to_employee == employee_id)
            & (CustodyTransfer.state == TransferState.pending.value)
        )
        .order_by(CustodyTransfer.id)
    )
    return [transfer_out(r) for r in rows]


async def transfers_pending(*, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Transfers still waiting for the new holder's answer, oldest first, and how many in all."""
    waiting = CustodyTransfer.state == TransferState.pending.value
    rows = await CustodyTransfer.select().where(waiting).order_by(CustodyTransfer.id).limit(limit)
    return [transfer_out(r) for r in rows], await CustodyTransfer.count().where(waiting)


async def list_transfers(*, account_id: int) -> list[dict[str, Any]]:
    """All transfers of an account, oldest first."""
    # Hand-written: every account's page reads it (see register.db.fetch).
    rows = await fetch(
        'SELECT * FROM "custody_transfer" WHERE "account" = $1 ORDER BY "id"', account_id
    )
    return [transfer_out(r) for r in rows]


async def transfer_custody(
    *,
    actor: Actor,
    account_id: int,
    role: CustodyRole,
    to_employee_id: int,
    revoke_old_grants: bool = False,
    note: str = "",
) -> dict[str, Any]:
    """Move custody (or backup) now; the old holder's grants may be revoked in the same step."""
    role = CustodyRole(role)
    async with write_transaction():
        account = await get_account(account_id=account_id)
        if account["status"] == AccountStatus.retired.value:
            raise Conflict(
                N_("account %(account_id)s is retired"), params={"account_id": account_id}
            )
        await active_employee(to_employee_id, "to_employee_id", allow_leaving=False)
        slot = SLOT[role]
        current = account[f"{slot}_id"]
        if current == to_employee_id:
            # One message per role, so that a page can say the role in the reader's words.
            raise InvalidInput(
                N_("employee %(to_employee_id)s already is the custodian")
                if role == CustodyRole.custodian
                else N_("employee %(to_employee_id)s already is the backup"),
                field="to_employee_id",
                params={"to_employee_id": to_employee_id},
            )
        other = account["backup_custodian_id" if role == CustodyRole.custodian else "custodian_id"]
        if role == CustodyRole.backup and other == to_employee_id:
            raise InvalidInput(
                N_("the custodian cannot also be the backup"), field="to_employee_id"
            )
        if await CustodyTransfer.exists().where(
            (CustodyTransfer.account == account_id)
            & (CustodyTransfer.role == role.value)
            & (CustodyTransfer.state == TransferState.pending.value)
        ):
            raise Conflict(
                N_("a custodian transfer of account %(account_id)s is already awaiting an answer")
                if role == CustodyRole.custodian
                else N_(
                    "a backup transfer of account %(account_id)s is already awaiting an answer"
                ),
                params={"account_id": account_id},
            )
        values: dict[str, Any] = {
            slot: to_employee_id,
            "version": account["version"] + 1,
            "updated_at": now(),
        }
        stepped_up = role == CustodyRole.custodian and other == to_employee_id
        if stepped_up:
            # The backup steps up; the backup slot is left empty and shows as a risk.
            values["backup_custodian"] = None
        updated = (
            await SocialAccount.update(values)
            .where((SocialAccount.id == account_id) & (SocialAccount.version == account["version"]))
            .returning(SocialAccount.id)
        )
        if not updated:
            raise Conflict(
                N_("account %(account_id)s changed at the same moment; try again"),
                params={"account_id": account_id},
            )
        rows = await CustodyTransfer.insert(
            CustodyTransfer(
                account=account_id,
                role=role.value,
                from_employee=current,
                to_employee=to_employee_id,
                state=TransferState.pending.value,
                revoke_old_grants=revoke_old_grants,
                backup_stepped_up=stepped_up,
                note=note.strip(),
                requested_by=actor.user_id,
                requested_at=now(),
            )
        )
        transfer_id = rows[0]["id"]
        revoked: list[int] = []
        if revoke_old_grants and current is not None:
            revoked = [
                r["id"]
                for r in await AccessGrant.update(
                    {
                        AccessGrant.revoked_at: now(),
                        AccessGrant.revoked_by: actor.user_id,
                        AccessGrant.revoke_reason: f"custody transfer {transfer_id}",
                    }
                )
                .where(
                    (AccessGrant.account == account_id)
                    & (AccessGrant.employee == current)
                    & AccessGrant.revoked_at.is_null()
                )
                .returning(AccessGrant.id)
            ]
        await mark_rotation_due(account_id=account_id, reason="custody moved", actor=actor)
        await audit.record(
            actor,
            "custody.transfer",
            "social_account",
            account_id,
            {
                f"{slot}_id": [current, to_employee_id],
                **({"backup_custodian_id": [to_employee_id, None]} if stepped_up else {}),
                "transfer_id": [None, transfer_id],
                "grants_revoked": [None, revoked],
            },
        )
        previous = (await employee_names([current])).get(current or 0, "")
        await publish_mail(
            MailKind.custody_transfer_waiting,
            payload={
                "account": f"{account['handle']} ({account['platform']})",
                "slot": role.value,
                "previous": previous,
                "note": note.strip(),
                "account_id": account_id,
                "transfer_id": transfer_id,
            },
            path=f"/accounts/{account_id}",
            summary=f"custody of account {account_id} waits for their answer",
            employees=[to_employee_id],
            actor=actor,
        )
    return await get_transfer(account_id=account_id, transfer_id=transfer_id)


async def check_responder(*, actor: Actor, account_id: int, transfer_id: int) -> None:
    """Refuse (audited) anyone but the new holder, or IT on their behalf, a transfer's answer."""
    pending = await get_transfer(account_id=account_id, transfer_id=transfer_id)
    if actor.employee_id != pending["to_employee_id"] and actor.role not in (Role.it, Role.admin):
        raise await refuse(
            actor,
            "custody.respond",
            "custody_transfer",
            transfer_id,
            N_("only the new holder (or IT on their behalf) may answer this transfer"),
        )


async def respond(
    *, actor: Actor, account_id: int, transfer_id: int, accept: bool, note: str = ""
) -> dict[str, Any]:
    """The new holder accepts or declines; a decline hands custody back to the previous holder."""
    # Checked before the transaction, so the refusal's audit event is not rolled back with it.
    await check_responder(actor=actor, account_id=account_id, transfer_id=transfer_id)
    async with write_transaction():
        transfer = await get_transfer(account_id=account_id, transfer_id=transfer_id)
        on_behalf = actor.role in (Role.it, Role.admin)
        if actor.employee_id != transfer["to_employee_id"] and not on_behalf:
            raise PermissionDenied(
                N_("only the new holder (or IT on their behalf) may answer this transfer")
            )
        if transfer["state"] != TransferState.pending.value:
            raise Conflict(
                N_("transfer %(transfer_id)s is already %(state)s"),
                params={"transfer_id": transfer_id, "state": transfer["state"]},
            )
        state = TransferState.accepted if accept else TransferState.declined
        updated = (
            await CustodyTransfer.update(
                {
                    CustodyTransfer.state: state.value,
                    CustodyTransfer.responded_by: actor.user_id,
                    CustodyTransfer.responded_at: now(),
                    CustodyTransfer.response_note: note.strip(),
                }
            )
            .where(
                (CustodyTransfer.id == transfer_id)
                & (CustodyTransfer.state == TransferState.pending.value)
            )
            .returning(CustodyTransfer.id)
        )
        if not updated:
            raise Conflict(
                N_("transfer %(transfer_id)s was answered at the same moment by someone else"),
                params={"transfer_id": transfer_id},
            )
        changes: dict[str, Any] = {"state": ["pending", state.value]}
        if not accept:
            slot = SLOT[CustodyRole(transfer["role"])]
            account = await get_account(account_id=account_id)
            back = transfer["from_employee_id"]
            if account[f"{slot}_id"] == transfer["to_employee_id"]:
                values: dict[str, Any] = {
                    slot: back,
                    "version": account["version"] + 1,
                    "updated_at": now(),
                }
                changes[f"{slot}_id"] = [transfer["to_employee_id"], back]
                # A backup who stepped up and declines goes back to being the backup, if the
                # slot is still empty (nobody was named in the meantime).
                if transfer["backup_stepped_up"] and account["backup_custodian_id"] is None:
                    values["backup_custodian"] = transfer["to_employee_id"]
                    changes["backup_custodian_id"] = [None, transfer["to_employee_id"]]
                handed_back = (
                    await SocialAccount.update(values)
                    .where(
                        (SocialAccount.id == account_id)
                        & (SocialAccount.version == account["version"])
                    )
                    .returning(SocialAccount.id)
                )
                if not handed_back:
                    raise Conflict(
                        N_("account %(account_id)s changed at the same moment; try again"),
                        params={"account_id": account_id},
                    )
        if on_behalf and actor.employee_id != transfer["to_employee_id"]:
            changes["recorded_on_behalf"] = [None, True]
        await audit.record(
            actor, f"custody.{state.value}", "custody_transfer", transfer_id, changes
        )
    return await get_transfer(account_id=account_id, transfer_id=transfer_id)


async def check_recertifier(*, actor: Actor, account_id: int) -> None:
    """Refuse (audited) anyone but the account's custodian, or IT, its re-certification."""
    holder = (await get_account(account_id=account_id))["custodian_id"]
    if actor.employee_id != holder and actor.role not in (Role.it, Role.admin):
        raise await refuse(
            actor,
            "custody.recertify",
            "social_account",
            account_id,
            N_("only the custodian (or IT) may re-certify this account"),
        )


async def recertify(
    *,
    actor: Actor,
    account_id: int,
    keep_grant_ids: list[int],
    revoke_grant_ids: list[int],
    notes: str = "",
) -> dict[str, Any]:
    """The custodian confirms they hold the account and says which active grants are still needed."""
    from accounts.tables import Recertification
    from register.audit import canonical

    await check_recertifier(actor=actor, account_id=account_id)
    async with write_transaction():
        account = await get_account(account_id=account_id)
        if account["status"] == AccountStatus.retired.value:
            raise Conflict(
                N_("account %(account_id)s is retired"), params={"account_id": account_id}
            )
        if actor.employee_id != account["custodian_id"] and actor.role not in (Role.it, Role.admin):
            raise PermissionDenied(N_("custody moved while re-certifying; try again"))
        active = {
            r["id"]: r["employee"]
            for r in await AccessGrant.select(AccessGrant.id, AccessGrant.employee).where(
                (AccessGrant.account == account_id) & AccessGrant.revoked_at.is_null()
            )
        }
        keep, revoke = set(keep_grant_ids), set(revoke_grant_ids)
        if keep & revoke:
            raise InvalidInput(
                N_("a grant cannot be both kept and revoked"), field="revoke_grant_ids"
            )
        unknown = (keep | revoke) - set(active)
        if unknown:
            raise InvalidInput(
                N_("grants %(unknown)s are not active grants of account %(account_id)s"),
                field="keep_grant_ids",
                params={"unknown": sorted(unknown), "account_id": account_id},
            )
        missing = set(active) - keep - revoke
        if missing:
            raise InvalidInput(
                N_(
                    "say for every active grant whether it is still needed: %(missing)s are missing"
                ),
                field="keep_grant_ids",
                params={"missing": sorted(missing)},
            )
        if any(active[g] == account["custodian_id"] for g in revoke):
            raise Conflict(
                N_("the custodian's own access cannot be revoked at re-certification"),
                field="revoke_grant_ids",
            )
        stamp = now()
        if revoke:
            await AccessGrant.update(
                {
                    AccessGrant.revoked_at: stamp,
                    AccessGrant.revoked_by: actor.user_id,
                    AccessGrant.revoke_reason: "not needed (re-certification)",
                }
            ).where(AccessGrant.id.is_in(sorted(revoke)) & AccessGrant.revoked_at.is_null())
            await mark_rotation_due(
                account_id=account_id, reason="a grant was revoked", actor=actor
            )
        await SocialAccount.update({SocialAccount.last_recertified_at: stamp}).where(
            SocialAccount.id == account_id
        )
        rows = await Recertification.insert(
            Recertification(
                account=account_id,
                custodian=account["custodian_id"],
                confirmed_by=actor.user_id,
                confirmed_at=stamp,
                kept_grants=canonical(sorted(keep)),
                revoked_grants=canonical(sorted(revoke)),
                notes=notes.strip(),
            )
        )
        await audit.record(
            actor,
            "account.recertify",
            "social_account",
            account_id,
            {
                "last_recertified_at": [account["last_recertified_at"], stamp],
                "kept": [None, sorted(keep)],
                "revoked": [None, sorted(revoke)],
            },
        )
    return {
        "id": rows[0]["id"],
        "account_id": account_id,
        "confirmed_at": stamp,
        "kept_grant_ids": sorted(keep),
        "revoked_grant_ids": sorted(revoke),
        "notes": notes.strip(),
    }


async def recertification_list(
    *, settings: Any, state: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Live accounts whose re-certification is due within 30 days, or overdue."""
    import datetime as dt

    from register.queries import page, page_bounds

    limit, offset = page_bounds(limit, offset)
    interval = dt.timedelta(days=settings.recertification_days)
    moment = now()
    if state == "overdue":
        lower, upper = None, moment - interval
    elif state == "due":
        lower, upper = moment - interval, moment - interval + dt.timedelta(days=30)
    else:
        raise InvalidInput(N_("state must be due or overdue"), field="state")
    query = SocialAccount.select().where(SocialAccount.status != AccountStatus.retired.value)
    last = SocialAccount.last_recertified_at
    if state == "overdue":
        query = query.where((last.is_null() & (SocialAccount.created_at < upper)) | (last < upper))
    else:
        query = query.where(
            (
                last.is_null()
                & (SocialAccount.created_at >= lower)
                & (SocialAccount.created_at < upper)
            )
            | ((last >= lower) & (last < upper))
        )
    rows = await query.order_by(SocialAccount.id).limit(limit + 1).offset(offset)
    items, next_offset = page(rows, limit, offset)
    out = []
    for r in items:
        since = r["last_recertified_at"] or r["created_at"]
        out.append(
            {
                "account_id": r["id"],
                "platform": r["platform"],
                "handle": r["handle"],
                "custodian_id": r["custodian"],
                "last_recertified_at": r["last_recertified_at"],
                "due_at": since + interval,
            }
        )
    return out, next_offset
