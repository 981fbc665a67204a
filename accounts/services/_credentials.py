"""When a credential must be rotated: flagged by a compromise or a leaver, cleared by a rotation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from accounts.tables import AccessGrant, Credential, SocialAccount
from register import audit
from register.actor import Actor
from register.db import as_utc, fetch, now, write_transaction


async def mark_rotation_due(*, account_id: int, reason: str, actor: Actor | None = None) -> bool:
    """Flag the account's credential for rotation, audited; False when there is none or it already is."""
    async with write_transaction():
        flagged = (
            await Credential.update(
                {
                    Credential.rotation_due: True,
                    Credential.rotation_due_reason: reason[:200],
                    Credential.rotation_due_since: now(),
                }
            )
            .where((Credential.account == account_id) & (Credential.rotation_due == False))  # noqa: E712
            .returning(Credential.id)
        )
        if flagged:
            await audit.record(
                actor,
                "credential.rotation_due",
                "social_account",
                account_id,
                {"rotation_due": [False, True], "reason": [None, reason[:200]]},
            )
    return bool(flagged)


async def rotated_at(account_id: int) -> dt.datetime | None:
    """When the account's credential was last rotated (not first set), or None."""
    rows = await fetch('SELECT "rotated_at" FROM "credential" WHERE "account" = $1', account_id)
    rotated = rows[0]["rotated_at"] if rows else None
    return dt.datetime.fromisoformat(rotated) if isinstance(rotated, str) else rotated


async def rotated_since(account_id: int, moment: dt.datetime) -> bool:
    """Whether the account's credential was set or rotated at or after `moment`, and is not due."""
    rows = await fetch(
        'SELECT "set_at", "rotated_at", "rotation_due" FROM "credential" WHERE "account" = $1',
        account_id,
    )
    if not rows or rows[0]["rotation_due"]:
        return False
    stamps = [as_utc(rows[0][k]) for k in ("set_at", "rotated_at") if rows[0][k] is not None]
    return bool(stamps) and max(stamps) >= as_utc(moment)


async def leavers_credentials_due(actor: Actor, employee_ids: list[int]) -> None:
    """A holder left: every account they held, backed, held the second factor of, or could get into
    has its credential marked rotation-due."""
    held = await SocialAccount.select(SocialAccount.id).where(
        SocialAccount.custodian.is_in(employee_ids)
        | SocialAccount.backup_custodian.is_in(employee_ids)
        | SocialAccount.mfa_holder.is_in(employee_ids)
    )
    granted = await AccessGrant.select(AccessGrant.account).where(
        AccessGrant.employee.is_in(employee_ids)
    )
    for account_id in sorted({r["id"] for r in held} | {r["account"] for r in granted}):
        await mark_rotation_due(account_id=account_id, reason="a holder left", actor=actor)


async def accounts_with_credentials(account_ids: Iterable[int]) -> set[int]:
    """Which of these accounts have a credential in the vault."""
    ids = sorted(set(account_ids))
    if not ids:
        return set()
    rows = await fetch(
        f'SELECT "account" FROM "credential" WHERE "account" IN ({", ".join(f"${n + 1}" for n in range(len(ids)))})',
        *ids,
    )
    return {r["account"] for r in rows}
