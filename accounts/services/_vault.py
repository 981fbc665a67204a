"""The credential vault: set, reveal with a reason, TOTP codes, rotation, and rewrap under a new master key."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from accounts.enums import AccountStatus
from accounts.services._accounts import get_account
from accounts.services._totp import code_at, parse_seed
from accounts.tables import Credential
from register import audit
from register.access import refuse
from register.actor import Actor
from register.crypto import Envelope, VaultError
from register.db import as_utc, fetch, now, write_transaction
from register.enums import Role
from register.errors import Conflict, InvalidInput, InvalidValue, NotFound, PermissionDenied
from register.i18n import N_
from register.keys import KeyRing
from register.queries import unique_or_409
from register.settings import Settings

log = logging.getLogger("accounts.vault")

KIND = "credential"
FIELDS = ("password", "totp_seed", "recovery_codes")
COLUMNS = {
    "password": "password_ct",
    "totp_seed": "totp_seed_ct",
    "recovery_codes": "recovery_codes_ct",
}
MAX_SECRET = 4096


def envelope(keyring: KeyRing) -> Envelope:
    """The envelope that seals credentials."""
    return Envelope(keyring=keyring, kind=KIND)


def status_out(row: dict[str, Any] | None, account_id: int, settings: Settings) -> dict[str, Any]:
    """What may be said about a credential without revealing it."""
    if row is None:
        return {
            "account_id": account_id,
            "has_password": False,
            "has_totp_seed": False,
            "has_recovery_codes": False,
            "set_at": None,
            "rotated_at": None,
            "rotation_due": False,
            "rotation_due_reason": "",
            "key_version": None,
            "version": 0,
        }
    last = row["rotated_at"] or row["set_at"]
    aged = last is not None and as_utc(last) < now() - dt.timedelta(
        days=settings.credential_max_age_days
    )
    return {
        "account_id": account_id,
        "has_password": row["password_ct"] is not None,
        "has_totp_seed": row["totp_seed_ct"] is not None,
        "has_recovery_codes": row["recovery_codes_ct"] is not None,
        "set_at": row["set_at"],
        "rotated_at": row["rotated_at"],
        "rotation_due": bool(row["rotation_due"]) or aged,
        "rotation_due_reason": row["rotation_due_reason"]
        if row["rotation_due"]
        else ("older than the maximum age" if aged else ""),
        "key_version": row["key_version"],
        "version": row["version"],
    }


async def _row(account_id: int) -> dict[str, Any] | None:
    # Hand-written: every account's page reads it (see register.db.fetch).
    rows = await fetch('SELECT * FROM "credential" WHERE "account" = $1', account_id)
    return rows[0] if rows else None


async def credential_status(
    *, account_id: int, settings: Settings, account_read: bool = False
) -> dict[str, Any]:
    """The credential's state for an account, never its secrets."""
    # A page that has just read the account need not ask again whether it exists.
    if not account_read:
        await get_account(account_id=account_id)
    return status_out(await _row(account_id), account_id, settings)


def _validate(
    password: str | None, totp_seed: str | None, recovery_codes: list[str] | None
) -> None:
    if password is None and totp_seed is None and recovery_codes is None:
        raise InvalidInput(
            N_("send at least one of password, totp_seed, recovery_codes"), field="password"
        )
    if password is not None and not 1 <= len(password) <= MAX_SECRET:
        raise InvalidInput(N_("password must be 1 to 4096 characters"), field="password")
    if totp_seed is not None:
        try:
            parse_seed(totp_seed)
        except InvalidValue as exc:
            raise exc.refusal("totp_seed") from exc
    if recovery_codes is not None:
        if len(recovery_codes) > 100 or any(not c.strip() or len(c) > 200 for c in recovery_codes):
            raise InvalidInput(
                N_("recovery_codes is a list of up to 100 non-blank codes"), field="recovery_codes"
            )


async def set_credential(
    *,
    actor: Actor,
    keyring: KeyRing,
    settings: Settings,
    account_id: int,
    password: str | None = None,
    totp_seed: str | None = None,
    recovery_codes: list[str] | None = None,
) -> dict[str, Any]:
    """Set or replace the credential; replacing counts as a rotation and clears rotation-due."""
    # The register itself (demo, CLI: an operator who holds the key ring anyway) may set it too.
    system = actor.user_id is None and actor.via == "cli"
    if not system:
        await check_holder(actor=actor, account_id=account_id)
    _validate(password, totp_seed, recovery_codes)
    env = envelope(keyring)
    async with write_transaction():
        account = await get_account(account_id=account_id)
        if account["status"] == AccountStatus.retired.value:
            raise Conflict(
                N_("account %(account_id)s is retired"), params={"account_id": account_id}
            )
        existing = await _row(account_id)
        # A fresh data key on every change, so an old ciphertext never opens with the new key.
        key, wrapped, version = env.new_data_key(account_id)
        values: dict[str, Any] = {}
        for field, value in (
            ("password", password),
            ("totp_seed", totp_seed),
            ("recovery_codes", "\n".join(recovery_codes) if recovery_codes is not None else None),
        ):
            if value is not None:
                values[COLUMNS[field]] = env.seal(key, account_id, field, value)
            elif existing is not None and existing[COLUMNS[field]] is not None:
                # Carry unchanged fields over to the new data key.
                old_key = env.unwrap(existing["wrapped_key"], account_id)
                values[COLUMNS[field]] = env.seal(
                    key,
                    account_id,
                    field,
                    env.open(old_key, account_id, field, existing[COLUMNS[field]]),
                )
        stamp = now()
        common = {
            "wrapped_key": wrapped,
            "key_version": version,
            **values,
            "rotation_due": False,
            "rotation_due_reason": "",
            "rotation_due_since": None,
        }
        changed = sorted(
            f
            for f, v in (
                ("password", password),
                ("totp_seed", totp_seed),
                ("recovery_codes", recovery_codes),
            )
            if v is not None
        )
        clash = N_(
            "the credential of account %(account_id)s changed at the same moment; send it again"
        )
        at = {"account_id": account_id}
        if existing is None:
            async with unique_or_409(clash, "password", at):
                await Credential.insert(
                    Credential(
                        account=account_id, set_at=stamp, set_by=actor.user_id, version=1, **common
                    )
                )
            action = "credential.set"
        else:
            # Conditional on the version read: the carried-over fields were sealed from that row,
            # so a concurrent save in between must not be mixed with this one's data key.
            updated = (
                await Credential.update(
                    {
                        **common,
                        "rotated_at": stamp,
                        "rotated_by": actor.user_id,
                        "version": existing["version"] + 1,
                    }
                )
                .where(
                    (Credential.id == existing["id"]) & (Credential.version == existing["version"])
                )
                .returning(Credential.id)
            )
            if not updated:
                raise Conflict(clash, params=at)
            action = "credential.rotate"
        await audit.record(
            actor, action, "social_account", account_id, {f: ["***", "***"] for f in changed}
        )
    return await credential_status(account_id=account_id, settings=settings)


async def may_reveal(actor: Actor, account: dict[str, Any]) -> bool:
    """IT, and the account's current custodian and backup, may see or use its secrets."""
    if actor.role == Role.it:
        return True
    return actor.employee_id is not None and actor.employee_id in (
        account["custodian_id"],
        account["backup_custodian_id"],
    )


async def check_holder(*, actor: Actor, account_id: int) -> None:
    """Refuse (audited) anyone but IT and the account's custodian and backup its secrets."""
    if not await may_reveal(actor, await get_account(account_id=account_id)):
        raise await refuse(
            actor,
            "credential.use",
            "social_account",
            account_id,
            N_("only IT and this account's custodian and backup may use its credential"),
        )


async def check_reveal(*, actor: Actor, account_id: int, reason: str = "") -> None:
    """Refuse anyone but IT and the custodians a reveal, audited as credential.reveal_denied."""
    if not await may_reveal(actor, await get_account(account_id=account_id)):
        async with write_transaction():
            await audit.record(
                actor,
                "credential.reveal_denied",
                "social_account",
                account_id,
                # The route's guard refuses before reading the body, so no reason is known there.
                {"reason": [None, reason[:500]]} if reason else {},
            )
        raise PermissionDenied(
            N_("only IT and this account's custodian and backup may reveal its credential")
        )


async def _open_all(
    actor: Actor, keyring: KeyRing, account_id: int, row: dict[str, Any], fields: tuple[str, ...]
) -> dict[str, str | None]:
    env = envelope(keyring)
    try:
        key = env.unwrap(row["wrapped_key"], account_id)
        return {
            f: (
                env.open(key, account_id, f, row[COLUMNS[f]])
                if row[COLUMNS[f]] is not None
                else None
            )
            for f in fields
        }
    except VaultError:
        log.error(
            "credential of account %s failed to decrypt (tampered, moved or key missing)",
            account_id,
        )
        async with write_transaction():
            await audit.record(actor, "credential.decrypt_failed", "social_account", account_id, {})
        raise


async def reveal(*, actor: Actor, keyring: KeyRing, account_id: int, reason: str) -> dict[str, Any]:
    """The plaintext credential, for IT and the custodians, with the reason audited."""
    reason = (reason or "").strip()
    # Who may reveal is decided before what they sent is judged: a short reason from someone
    # who may not reveal at all is a 403, not a 422 inviting a longer one.
    await check_reveal(actor=actor, account_id=account_id, reason=reason)
    if len(reason) < 5:
        raise InvalidInput(
            N_("say why you need the credential (at least 5 characters)"), field="reason"
        )
    row = await _row(account_id)
    if row is None:
        raise NotFound(
            N_("account %(account_id)s has no credential"), params={"account_id": account_id}
        )
    opened = await _open_all(actor, keyring, account_id, row, FIELDS)
    async with write_transaction():
        await audit.record(
            actor,
            "credential.reveal",
            "social_account",
            account_id,
            {"reason": [None, reason[:500]]},
        )
    codes = opened["recovery_codes"]
    return {
        "account_id": account_id,
        "password": opened["password"],
        "totp_seed": opened["totp_seed"],
        "recovery_codes": codes.split("\n") if codes else [],
    }


async def totp_code(*, actor: Actor, keyring: KeyRing, account_id: int) -> dict[str, Any]:
    """The current TOTP code, so a custodian can sign in without seeing the seed."""
    await check_holder(actor=actor, account_id=account_id)
    row = await _row(account_id)
    if row is None or row["totp_seed_ct"] is None:
        raise NotFound(
            N_("account %(account_id)s has no TOTP seed"), params={"account_id": account_id}
        )
    seed = (await _open_all(actor, keyring, account_id, row, ("totp_seed",)))["totp_seed"]
    assert seed is not None
    code, remaining = code_at(seed)
    async with write_transaction():
        await audit.record(actor, "credential.totp_code", "social_account", account_id, {})
    return {"account_id": account_id, "code": code, "valid_for_seconds": remaining}


async def rewrap_all(keyring: KeyRing, batch: int = 500) -> dict[str, int]:
    """Re-seal every data key under the current master key; returns counts."""
    env = envelope(keyring)
    rewrapped = already = 0
    while True:
        rows = (
            await Credential.select(Credential.id, Credential.account, Credential.wrapped_key)
            .where(Credential.key_version != keyring.current)
            .limit(batch)
        )
        if not rows:
            break
        async with write_transaction():
            for row in rows:
                wrapped = env.rewrap(row["wrapped_key"], row["account"])
                # Only if the row still holds the key that was read (a server may have saved a
                # new credential meanwhile); a skipped row is picked up by the next batch.
                done = (
                    await Credential.update(
                        {Credential.wrapped_key: wrapped, Credential.key_version: keyring.current}
                    )
                    .where(
                        (Credential.id == row["id"])
                        & (Credential.wrapped_key == row["wrapped_key"])
                    )
                    .returning(Credential.id)
                )
                rewrapped += len(done)
            await audit.record(
                Actor.system("keys rewrap"),
                "credential.rewrap",
                "credential",
                "",
                {"count": [None, len(rows)], "key_version": [None, keyring.current]},
            )
    already = await Credential.count().where(Credential.key_version == keyring.current) - rewrapped
    remaining = await Credential.count().where(Credential.key_version != keyring.current)
    return {
        "rewrapped": rewrapped,
        "already_current": already,
        "remaining_on_old_versions": remaining,
        "current_version": keyring.current,
    }
