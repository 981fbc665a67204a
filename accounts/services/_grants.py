"""Who has access to an account at what level: grants and their revocation."""

from __future__ import annotations

from typing import Any

from accounts.enums import AccessLevel, AccountStatus
from accounts.services._accounts import ACCOUNT_LENGTHS, active_employee, get_account
from accounts.services._credentials import mark_rotation_due
from accounts.tables import AccessGrant
from register import audit
from register.actor import Actor
from register.db import fetch, now, write_transaction
from register.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from register.i18n import N_


def grant_out(row: dict[str, Any]) -> dict[str, Any]:
    """A grant row as the API shows it."""
    return {
        "id": row["id"],
        "account_id": row["account"],
        "employee_id": row["employee"],
        "level": row["level"],
        "platform_role": row["platform_role"],
        "reason": row["reason"],
        "granted_by": row["granted_by"],
        "granted_at": row["granted_at"],
        "revoked_by": row["revoked_by"],
        "revoked_at": row["revoked_at"],
        "revoke_reason": row["revoke_reason"],
        "active": row["revoked_at"] is None,
    }


async def get_grant(grant_id: int) -> dict[str, Any] | None:
    """One grant as the API shows it, or None."""
    row = await AccessGrant.select().where(AccessGrant.id == grant_id).first()
    return grant_out(row) if row else None


async def list_grants(
    *, account_id: int | None = None, employee_id: int | None = None, active: bool | None = None
) -> list[dict[str, Any]]:
    """Grants of an account or an employee, current first."""
    # Hand-written: every account's page reads it (see register.db.fetch).
    where: list[str] = []
    args: list[Any] = []
    for column, value in (("account", account_id), ("employee", employee_id)):
        if value is not None:
            args.append(value)
            where.append(f'"{column}" = ${len(args)}')
    if active is not None:
        where.append('"revoked_at" IS NULL' if active else '"revoked_at" IS NOT NULL')
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    rows = await fetch(f'SELECT * FROM "access_grant"{clause} ORDER BY "id"', *args)
    return [grant_out(r) for r in rows]


async def add_grant(
    *,
    actor: Actor,
    account_id: int,
    employee_id: int,
    level: AccessLevel,
    platform_role: str = "",
    reason: str = "",
) -> dict[str, Any]:
    """Record that someone can get into an account."""
    if len(platform_role) > ACCOUNT_LENGTHS["platform_role"]:
        raise InvalidInput(N_("platform_role is longer than 120 characters"), field="platform_role")
    async with write_transaction():
        account = await get_account(account_id=account_id)
        if account["status"] == AccountStatus.retired.value:
            raise Conflict(
                N_("account %(account_id)s is retired"), params={"account_id": account_id}
            )
        await active_employee(employee_id, "employee_id")
        duplicate = await AccessGrant.exists().where(
            (AccessGrant.account == account_id)
            & (AccessGrant.employee == employee_id)
            & AccessGrant.revoked_at.is_null()
        )
        if duplicate:
            raise AlreadyExists(
                N_(
                    "employee %(employee_id)s already has an active grant on account %(account_id)s; revoke it first"
                ),
                field="employee_id",
                params={"employee_id": employee_id, "account_id": account_id},
            )
        rows = await AccessGrant.insert(
            AccessGrant(
                account=account_id,
                employee=employee_id,
                level=AccessLevel(level).value,
                platform_role=platform_role.strip(),
                reason=reason.strip(),
                granted_by=actor.user_id,
                granted_at=now(),
            )
        )
        grant_id = rows[0]["id"]
        await audit.record(
            actor,
            "grant.create",
            "access_grant",
            grant_id,
            {
                "account_id": [None, account_id],
                "employee_id": [None, employee_id],
                "level": [None, AccessLevel(level).value],
            },
        )
    row = await AccessGrant.select().where(AccessGrant.id == grant_id).first()
    return grant_out(row)


async def revoke_grant(
    *, actor: Actor, account_id: int, grant_id: int, reason: str = "", allow_custodian: bool = False
) -> dict[str, Any]:
    """Revoke a grant, keeping it as history; the custodian's own grant needs custody moved first."""
    async with write_transaction():
        row = (
            await AccessGrant.select()
            .where((AccessGrant.id == grant_id) & (AccessGrant.account == account_id))
            .first()
        )
        if not row:
            raise NotFound(
                N_("grant %(grant_id)s does not exist on account %(account_id)s"),
                params={"grant_id": grant_id, "account_id": account_id},
            )
        if row["revoked_at"] is not None:
            raise Conflict(
                N_("grant %(grant_id)s is already revoked"), params={"grant_id": grant_id}
            )
        account = await get_account(account_id=account_id)
        if (
            not allow_custodian
            and account["custodian_id"] == row["employee"]
            and account["status"] != AccountStatus.retired.value
        ):
            raise Conflict(
                N_(
                    "this is the custodian's access: move custody to someone else before revoking it"
                ),
                field="grant_id",
            )
        stamp = now()
        updated = (
            await AccessGrant.update(
                {
                    AccessGrant.revoked_at: stamp,
                    AccessGrant.revoked_by: actor.user_id,
                    AccessGrant.revoke_reason: reason.strip(),
                }
            )
            .where((AccessGrant.id == grant_id) & AccessGrant.revoked_at.is_null())
            .returning(AccessGrant.id)
        )
        if not updated:
            raise Conflict(
                N_("grant %(grant_id)s was revoked at the same moment by someone else"),
                params={"grant_id": grant_id},
            )
        await mark_rotation_due(account_id=account_id, reason="a grant was revoked", actor=actor)
        await audit.record(
            actor,
            "grant.revoke",
            "access_grant",
            grant_id,
            {"revoked_at": [None, stamp], "reason": [None, reason]},
        )
    row = await AccessGrant.select().where(AccessGrant.id == grant_id).first()
    return grant_out(row)


async def active_grants_of(employee_id: int) -> list[dict[str, Any]]:
    """A person's active grants, with the account's platform and handle."""
    rows = await fetch(
        'SELECT g."id", g."account", g."level", g."platform_role", g."granted_at", a."platform", '
        'a."handle" FROM "access_grant" g JOIN "social_account" a ON a."id" = g."account" '
        'WHERE g."employee" = $1 AND g."revoked_at" IS NULL ORDER BY g."id"',
        employee_id,
    )
    return [
        {
            "grant_id": g["id"],
            "account_id": g["account"],
            "platform": g["platform"],
            "handle": g["handle"],
            "level": g["level"],
            "platform_role": g["platform_role"],
            "granted_at": g["granted_at"],
        }
        for g in rows
    ]


async def holders_on_platforms(platforms: list[str]) -> set[int]:
    """People with active access to a live account on these platforms ('*': any platform)."""
    # Training required by platform (register/policies) asks who must hold it through this.
    sql = (
        'SELECT DISTINCT g."employee" FROM "access_grant" g JOIN "social_account" a '
        """ON a."id" = g."account" WHERE g."revoked_at" IS NULL AND a."status" <> 'retired'"""
    )
    if "*" in platforms:
        return {r["employee"] for r in await fetch(sql)}
    if not platforms:
        return set()
    marks = ", ".join(f"${n + 1}" for n in range(len(platforms)))
    rows = await fetch(f'{sql} AND a."platform" IN ({marks})', *platforms)
    return {r["employee"] for r in rows}
