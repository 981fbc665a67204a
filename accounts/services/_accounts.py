"""Corporate social accounts: queries and single-account rules, compromise and recovery."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from msgspec import UNSET

from accounts.enums import AccountStatus, MfaMethod, Platform
from accounts.services._credentials import mark_rotation_due
from accounts.services._handles import normalise_handle
from accounts.tables import AccessGrant, SocialAccount
from register import audit
from register.actor import Actor
from register.checks import EMAIL_RE
from register.db import enum_literal, fetch, now, write_transaction
from register.errors import AlreadyExists, Conflict, InvalidInput, NotFound, StaleVersion
from register.i18n import N_
from register.queries import expect_version, page, page_bounds, search_condition, unique_or_409
from register.settings import Settings
from register.staff.enums import EmployeeStatus
from register.staff.services import employees_by_id

PHONE_RE = re.compile(r"^\+?[0-9 ()\-.]{6,30}$")


ACCOUNT_FIELDS = (
    "platform",
    "handle",
    "display_name",
    "purpose",
    "department",
    "status",
    "custodian_id",
    "backup_custodian_id",
    "login_identifier",
    "mfa_method",
    "mfa_holder_id",
    "recovery_email",
    "recovery_email_company_controlled",
    "recovery_phone",
    "recovery_phone_company_controlled",
    "post_approvers",
    "notes",
)


# Column widths (tables.py): PostgreSQL refuses longer text, SQLite would keep it; refuse both.
ACCOUNT_LENGTHS = {
    "handle": 500,
    "display_name": 200,
    "department": 120,
    "login_identifier": 320,
    "recovery_email": 320,
    "recovery_phone": 40,
    "platform_role": 120,
}


EMPLOYEE_REFS = {
    "custodian_id": "custodian",
    "backup_custodian_id": "backup_custodian",
    "mfa_holder_id": "mfa_holder",
}


def company_controlled_email(email: str, settings: Settings) -> bool:
    """Whether an e-mail is on one of the company's domains."""
    domain = email.rsplit("@", 1)[-1].lower() if "@" in email else ""
    return any(
        domain == d.lower() or domain.endswith("." + d.lower()) for d in settings.work_email_domains
    )


# Every column, named as the API names them (fetched rows need no reshaping).
ACCOUNT_COLUMNS = (
    '"id", "platform", "handle", "profile_url", "display_name", "purpose", "department", "status", '
    '"login_identifier", "mfa_method", "recovery_email", "recovery_email_company_controlled", '
    '"recovery_phone", "recovery_phone_company_controlled", "post_approvers", "notes", '
    '"last_recertified_at", "version", "created_at", "updated_at", "retired_at", '
    '"custodian" AS "custodian_id", "backup_custodian" AS "backup_custodian_id", '
    '"mfa_holder" AS "mfa_holder_id"'
)


def account_out(row: dict[str, Any]) -> dict[str, Any]:
    """An account row as the API shows it."""
    out = {
        k: row[k]
        for k in (
            "id",
            "platform",
            "handle",
            "profile_url",
            "display_name",
            "purpose",
            "department",
            "status",
            "login_identifier",
            "mfa_method",
            "recovery_email",
            "recovery_email_company_controlled",
            "recovery_phone",
            "recovery_phone_company_controlled",
            "post_approvers",
            "notes",
            "last_recertified_at",
            "version",
            "created_at",
            "updated_at",
            "retired_at",
        )
    }
    for field, column in EMPLOYEE_REFS.items():
        out[field] = row[column]
    return out


async def get_account_row(account_id: int) -> dict[str, Any]:
    """The raw account row, or NotFound."""
    # Hand-written: every account's page and most changes read it (see register.db.fetch).
    rows = await fetch('SELECT * FROM "social_account" WHERE "id" = $1', account_id)
    row = rows[0] if rows else None
    if not row:
        raise NotFound(
            N_("account %(account_id)s does not exist"), params={"account_id": account_id}
        )
    return row


async def get_account(*, account_id: int) -> dict[str, Any]:
    """One account as the API shows it."""
    return account_out(await get_account_row(account_id))


async def active_employee(
    employee_id: int | None, field: str, *, allow_leaving: bool = True
) -> None:
    """Refuse someone who is not in the directory or has left (or, if asked, is leaving)."""
    if employee_id is None:
        return
    row = (await employees_by_id([employee_id])).get(employee_id)
    if not row:
        raise InvalidInput(
            N_("employee %(employee_id)s does not exist"),
            field=field,
            params={"employee_id": employee_id},
        )
    if row["status"] == EmployeeStatus.left.value or (
        not allow_leaving and row["status"] != EmployeeStatus.active.value
    ):
        raise InvalidInput(
            N_("employee %(employee_id)s is not an active employee"),
            field=field,
            params={"employee_id": employee_id},
        )


def _clean(
    values: dict[str, Any], settings: Settings, before: dict[str, Any] | None
) -> dict[str, Any]:
    """Normalise and check the plain fields of a create or update."""
    out = dict(values)
    for field, kind in (
        ("platform", Platform),
        ("status", AccountStatus),
        ("mfa_method", MfaMethod),
    ):
        if field in out:
            try:
                out[field] = kind(out[field])
            except ValueError as exc:
                choices = ", ".join(k.value for k in kind)
                raise InvalidInput(
                    N_("'%(value)s' is not a %(field)s; one of: %(choices)s"),
                    field=field,
                    params={"value": out[field], "field": field, "choices": choices},
                ) from exc
    for field, value in out.items():
        if isinstance(value, str):
            limit = ACCOUNT_LENGTHS.get(field, 5000)
            if len(value) > limit:
                raise InvalidInput(
                    N_("%(field)s is longer than %(limit)s characters"),
                    field=field,
                    params={"field": field, "limit": limit},
                )
            if "\x00" in value:
                raise InvalidInput(
                    N_("%(field)s contains a NUL character"), field=field, params={"field": field}
                )
    platform = Platform(out.get("platform", before["platform"] if before else Platform.other.value))
    if "handle" in out or "platform" in out:
        handle = normalise_handle(platform, out.get("handle", before["handle"] if before else ""))
        out["handle"] = handle.handle
        out["profile_url"] = handle.profile_url
        out["platform"] = platform.value
    for key in (
        "display_name",
        "purpose",
        "department",
        "login_identifier",
        "post_approvers",
        "notes",
    ):
        if key in out and isinstance(out[key], str):
            out[key] = out[key].strip()
    if "status" in out:
        out["status"] = AccountStatus(out["status"]).value
    if "mfa_method" in out:
        out["mfa_method"] = MfaMethod(out["mfa_method"]).value
    if "recovery_email" in out:
        email = (out["recovery_email"] or "").strip().lower()
        if email and not EMAIL_RE.match(email):
            raise InvalidInput(
                N_("'%(recovery_email)s' is not an e-mail address"),
                field="recovery_email",
                params={"recovery_email": out["recovery_email"]},
            )
        out["recovery_email"] = email
        if out.get("recovery_email_company_controlled") is None:
            if before is not None and email == before["recovery_email"]:
                # The same address again (a re-imported sheet, a full PATCH) keeps the flag IT set.
                out.pop("recovery_email_company_controlled", None)
            else:
                out["recovery_email_company_controlled"] = bool(email) and company_controlled_email(
                    email, settings
                )
    if "recovery_phone" in out:
        phone = (out["recovery_phone"] or "").strip()
        if phone and not PHONE_RE.match(phone):
            raise InvalidInput(
                N_("'%(phone)s' is not a phone number"),
                field="recovery_phone",
                params={"phone": phone},
            )
        out["recovery_phone"] = phone
    if (
        "recovery_phone_company_controlled" in out
        and out["recovery_phone_company_controlled"] is None
    ):
        out["recovery_phone_company_controlled"] = False
    if (
        "recovery_email_company_controlled" in out
        and out["recovery_email_company_controlled"] is None
        and "recovery_email" not in out
    ):
        out.pop("recovery_email_company_controlled", None)
    return out


async def _check_people(merged: dict[str, Any], changed: dict[str, Any]) -> None:
    for field in ("custodian_id", "backup_custodian_id", "mfa_holder_id"):
        if field in changed:
            # Someone serving notice still works here; new custody for them is refused at transfer.
            await active_employee(changed[field], field, allow_leaving=True)
    if merged.get("custodian_id") is not None and merged.get("custodian_id") == merged.get(
        "backup_custodian_id"
    ):
        raise InvalidInput(
            N_("the backup custodian must be someone other than the custodian"),
            field="backup_custodian_id",
        )


def _db_values(values: dict[str, Any]) -> dict[str, Any]:
    return {EMPLOYEE_REFS.get(k, k): v for k, v in values.items()}


async def create_account(
    *, actor: Actor, settings: Settings, data: dict[str, Any]
) -> dict[str, Any]:
    """Register an account as an employer asset."""
    values = _clean(
        {k: v for k, v in data.items() if k in ACCOUNT_FIELDS and v is not UNSET}, settings, None
    )
    values.setdefault("status", AccountStatus.active.value)
    if values["status"] == AccountStatus.retired.value:
        raise InvalidInput(N_("an account cannot be registered as retired"), field="status")
    if values.get("custodian_id") is None:
        raise InvalidInput(N_("every account needs a custodian"), field="custodian_id")
    await _check_people(values, values)
    stamp = now()
    async with write_transaction():
        if await SocialAccount.exists().where(
            (SocialAccount.platform == values["platform"])
            & (SocialAccount.handle == values["handle"])
        ):
            raise AlreadyExists(
                N_("%(platform)s account '%(handle)s' is already registered"),
                field="handle",
                params={"platform": values["platform"], "handle": values["handle"]},
            )
        async with unique_or_409(
            N_("%(platform)s account '%(handle)s' is already registered"),
            "handle",
            {"platform": values["platform"], "handle": values["handle"]},
        ):
            rows = await SocialAccount.insert(
                SocialAccount(**_db_values(values), version=1, created_at=stamp, updated_at=stamp)
            )
        account_id = rows[0]["id"]
        await audit.record(
            actor, "account.create", "social_account", account_id, audit.diff(None, values)
        )
    return await get_account(account_id=account_id)


async def update_account(
    *, actor: Actor, settings: Settings, account_id: int, version: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change an account with a version check; the custodian can be replaced, never removed."""
    changes = {k: v for k, v in changes.items() if k in ACCOUNT_FIELDS and v is not UNSET}
    async with write_transaction():
        before = await get_account(account_id=account_id)
        expect_version(f"account {account_id}", before["version"], version)
        if before["status"] == AccountStatus.retired.value:
            raise Conflict(
                N_("account %(account_id)s is retired"), params={"account_id": account_id}
            )
        if "custodian_id" in changes and changes["custodian_id"] is None:
            raise Conflict(
                N_("the custodian cannot be removed without naming a new one"), field="custodian_id"
            )
        if changes.get("status") == AccountStatus.retired.value:
            raise InvalidInput(
                N_("use POST /api/v1/accounts/{id}/retire to retire an account"), field="status"
            )
        cleaned = _clean(changes, settings, before)
        merged = {**before, **cleaned}
        # Only what changes is checked: a re-imported export or a full PATCH may name, unchanged,
        # someone who has left since; naming them anew is refused.
        cleaned = {k: v for k, v in cleaned.items() if before.get(k) != v}
        await _check_people(merged, cleaned)
        if not cleaned:
            return before
        if cleaned.get("handle") or cleaned.get("platform"):
            clash = await SocialAccount.exists().where(
                (SocialAccount.platform == merged["platform"])
                & (SocialAccount.handle == merged["handle"])
                & (SocialAccount.id != account_id)
            )
            if clash:
                raise AlreadyExists(
                    N_("%(platform)s account '%(handle)s' is already registered"),
                    field="handle",
                    params={"platform": merged["platform"], "handle": merged["handle"]},
                )
        async with unique_or_409(
            N_("%(platform)s account '%(handle)s' is already registered"),
            "handle",
            {"platform": merged["platform"], "handle": merged["handle"]},
        ):
            updated = (
                await SocialAccount.update(
                    {**_db_values(cleaned), "version": version + 1, "updated_at": now()}
                )
                .where((SocialAccount.id == account_id) & (SocialAccount.version == version))
                .returning(SocialAccount.id)
            )
        if not updated:
            raise StaleVersion(
                N_("account %(account_id)s has changed since version %(version)s; read it again"),
                params={"account_id": account_id, "version": version},
            )
        if "custodian_id" in cleaned or "backup_custodian_id" in cleaned:
            await mark_rotation_due(account_id=account_id, reason="custody changed", actor=actor)
        await audit.record(
            actor, "account.update", "social_account", account_id, audit.diff(before, cleaned)
        )
    return await get_account(account_id=account_id)


async def retire_account(
    *, actor: Actor, account_id: int, version: int, reason: str
) -> dict[str, Any]:
    """Retire an account (kept, never deleted); its active grants are revoked."""
    async with write_transaction():
        before = await get_account(account_id=account_id)
        expect_version(f"account {account_id}", before["version"], version)
        if before["status"] == AccountStatus.retired.value:
            return before
        stamp = now()
        retired = (
            await SocialAccount.update(
                {
                    SocialAccount.status: AccountStatus.retired.value,
                    SocialAccount.retired_at: stamp,
                    SocialAccount.version: version + 1,
                    SocialAccount.updated_at: stamp,
                }
            )
            .where((SocialAccount.id == account_id) & (SocialAccount.version == version))
            .returning(SocialAccount.id)
        )
        if not retired:
            raise StaleVersion(
                N_("account %(account_id)s has changed since version %(version)s; read it again"),
                params={"account_id": account_id, "version": version},
            )
        revoked = (
            await AccessGrant.update(
                {
                    AccessGrant.revoked_at: stamp,
                    AccessGrant.revoked_by: actor.user_id,
                    AccessGrant.revoke_reason: "account retired",
                }
            )
            .where((AccessGrant.account == account_id) & AccessGrant.revoked_at.is_null())
            .returning(AccessGrant.id)
        )
        await audit.record(
            actor,
            "account.retire",
            "social_account",
            account_id,
            {
                "status": [before["status"], "retired"],
                "reason": [None, reason],
                "grants_revoked": [None, [r["id"] for r in revoked]],
            },
        )
    return await get_account(account_id=account_id)


async def list_accounts(
    *,
    limit: int,
    offset: int,
    platform: Platform | None = None,
    status: AccountStatus | None = None,
    custodian_id: int | None = None,
    department: str | None = None,
    risk: str | None = None,
    q: str | None = None,
    settings: Settings | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Accounts filtered, searched and paginated, newest id last."""
    limit, offset = page_bounds(limit, offset)
    if not q and not risk:
        # The common list (filters only) through precompiled SQL: building the Piccolo query
        # cost more than running it.
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("platform", platform), ("status", status)):
            if value:
                where.append(f'"{column}" = {enum_literal(value)}')
        if department:
            args.append(department)
            where.append(f'"department" = ${len(args)}')
        if custodian_id is not None:
            args.append(custodian_id)
            where.append(f'("custodian" = ${len(args)} OR "backup_custodian" = ${len(args)})')
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        rows = await fetch(
            f'SELECT {ACCOUNT_COLUMNS} FROM "social_account"{clause} ORDER BY "id" '
            f"LIMIT {int(limit) + 1} OFFSET {int(offset)}",
            *args,
        )
        items, next_offset = page(rows, limit, offset)
        return items, next_offset
    query = SocialAccount.select()
    if platform is not None:
        query = query.where(SocialAccount.platform == platform.value)
    if status is not None:
        query = query.where(SocialAccount.status == status.value)
    if custodian_id is not None:
        query = query.where(
            (SocialAccount.custodian == custodian_id)
            | (SocialAccount.backup_custodian == custodian_id)
        )
    if department:
        query = query.where(SocialAccount.department == department)
    if q and q.strip():
        query = query.where(search_condition(q.strip(), ("handle", "display_name", "purpose")))
    if risk:
        from accounts.services._risks import account_ids_with_risk

        ids = await account_ids_with_risk(risk, settings)
        query = query.where(SocialAccount.id.is_in(ids or [0]))
    rows = await query.order_by(SocialAccount.id).limit(limit + 1).offset(offset)
    items, next_offset = page(rows, limit, offset)
    return [account_out(r) for r in items], next_offset


async def mark_compromised(
    *, actor: Actor, account: dict[str, Any], incident_reference: str, at: dt.datetime
) -> None:
    """An incident found the account compromised: its status says so and its credential is rotation-due."""
    if account["status"] != AccountStatus.compromised.value:
        await SocialAccount.update(
            {
                SocialAccount.status: AccountStatus.compromised.value,
                SocialAccount.version: SocialAccount.version + 1,
                SocialAccount.updated_at: at,
            }
        ).where(SocialAccount.id == account["id"])
        await audit.record(
            actor,
            "account.compromised",
            "social_account",
            account["id"],
            {
                "status": [account["status"], AccountStatus.compromised.value],
                "incident": [None, incident_reference],
            },
        )
    await mark_rotation_due(
        account_id=account["id"], reason=f"{incident_reference}: account compromised", actor=actor
    )


async def recover_compromised(*, actor: Actor, account_id: int, incident_reference: str) -> bool:
    """A compromised account is active again; False when it was not marked compromised."""
    changed = (
        await SocialAccount.update(
            {
                SocialAccount.status: AccountStatus.active.value,
                SocialAccount.version: SocialAccount.version + 1,
                SocialAccount.updated_at: now(),
            }
        )
        .where(
            (SocialAccount.id == account_id)
            & (SocialAccount.status == AccountStatus.compromised.value)
        )
        .returning(SocialAccount.id)
    )
    if changed:
        await audit.record(
            actor,
            "account.recovered",
            "social_account",
            account_id,
            {
                "status": [AccountStatus.compromised.value, AccountStatus.active.value],
                "incident": [None, incident_reference],
            },
        )
    return bool(changed)


async def recovery_not_controlled(account_id: int) -> list[str]:
    """The account's recovery contacts on record that the company does not control."""
    row = await get_account_row(account_id)
    return [
        f"recovery {what} {row[f'recovery_{what}']}"
        for what in ("email", "phone")
        if row[f"recovery_{what}"] and not row[f"recovery_{what}_company_controlled"]
    ]


# How many trailing digits identify a phone number whatever its prefix (+44 7700 / 07700).
PHONE_DIGITS = 9


def phone_key(value: str) -> str:
    """The digits that identify a phone number, ignoring spaces, punctuation and country prefix."""
    digits = re.sub(r"\D", "", value or "")
    return digits[-PHONE_DIGITS:]


_HOLDINGS = (
    'SELECT "id", "platform", "handle", "display_name", "department", "status", "custodian", '
    '"backup_custodian", "mfa_holder", "recovery_email", "recovery_phone" FROM "social_account" '
    'WHERE "status" <> \'retired\' AND ("custodian" = $1 OR "backup_custodian" = $1 '
    'OR "mfa_holder" = $1{emails})'
)
_PHONE_HOLDINGS = (
    'SELECT "id", "platform", "handle", "display_name", "department", "status", "custodian", '
    '"backup_custodian", "mfa_holder", "recovery_email", "recovery_phone" FROM "social_account" '
    "WHERE \"status\" <> 'retired' AND \"recovery_phone\" <> ''"
)


def _marks(start: int, count: int) -> str:
    return ", ".join(f"${start + n}" for n in range(count))


async def holdings(employee_id: int, emails: list[str], phones: list[str]) -> list[dict[str, Any]]:
    """Live accounts where the person is custodian, backup, MFA holder or a recovery contact."""
    email_clause = f' OR "recovery_email" IN ({_marks(2, len(emails))})' if emails else ""
    rows = {
        r["id"]: r for r in await fetch(_HOLDINGS.format(emails=email_clause), employee_id, *emails)
    }
    keys = {phone_key(p) for p in phones}
    if keys:
        for r in await fetch(_PHONE_HOLDINGS):
            if phone_key(r["recovery_phone"]) in keys:
                rows.setdefault(r["id"], r)
    out = []
    for r in sorted(rows.values(), key=lambda r: r["id"]):
        roles = []
        if r["custodian"] == employee_id:
            roles.append("custodian")
        if r["backup_custodian"] == employee_id:
            roles.append("backup")
        if r["mfa_holder"] == employee_id:
            roles.append("mfa_holder")
        if r["recovery_email"] and r["recovery_email"].lower() in emails:
            roles.append("recovery_email")
        if r["recovery_phone"] and phone_key(r["recovery_phone"]) in keys:
            roles.append("recovery_phone")
        out.append(
            {
                "account_id": r["id"],
                "platform": r["platform"],
                "handle": r["handle"],
                "display_name": r["display_name"],
                "department": r["department"],
                "status": r["status"],
                "roles": roles,
                "recovery_email": r["recovery_email"],
                "recovery_phone": r["recovery_phone"],
            }
        )
    return out


async def account_handles(account_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Platform and handle of accounts by id, for lists that name them."""
    if not account_ids:
        return {}
    rows = await fetch(
        f'SELECT "id", "platform", "handle" FROM "social_account" WHERE "id" IN ({_marks(1, len(account_ids))})',
        *account_ids,
    )
    return {r["id"]: r for r in rows}


async def in_custody_of(employee_id: int) -> dict[int, dict[str, Any]]:
    """Accounts a person holds or backs, by id, with platform and handle."""
    rows = await fetch(
        'SELECT "id", "platform", "handle" FROM "social_account" '
        'WHERE "custodian" = $1 OR "backup_custodian" = $1',
        employee_id,
    )
    return {r["id"]: r for r in rows}
