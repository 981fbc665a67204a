"""A leaver's footprint: every account they hold, could get into or could recover, before anything starts."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from register.checks import EMAIL_RE
from register.db import fetch
from register.errors import InvalidInput
from register.extensions import extensions
from register.staff.services import get_employee

# How many trailing digits identify a phone number whatever its prefix (+44 7700 / 07700).
PHONE_DIGITS = 9


def phone_key(value: str) -> str:
    """The digits that identify a phone number, ignoring spaces, punctuation and country prefix."""
    digits = re.sub(r"\D", "", value or "")
    return digits[-PHONE_DIGITS:]


def clean_emails(values: Iterable[str], field: str = "emails") -> list[str]:
    """Lower-cased, checked, de-duplicated e-mail addresses."""
    out: list[str] = []
    for value in values:
        email = value.strip().lower()
        if not email:
            continue
        if len(email) > 320 or not EMAIL_RE.match(email):
            raise InvalidInput(f"'{value}' is not an e-mail address", field=field)
        if email not in out:
            out.append(email)
    return out


def clean_phones(values: Iterable[str], field: str = "phones") -> list[str]:
    """Phone numbers as given, each with at least six digits, de-duplicated by their digits."""
    out: list[str] = []
    keys: set[str] = set()
    for value in values:
        phone = value.strip()
        if not phone:
            continue
        if len(re.sub(r"\D", "", phone)) < 6 or len(phone) > 40:
            raise InvalidInput(f"'{value}' is not a phone number", field=field)
        if phone_key(phone) not in keys:
            keys.add(phone_key(phone))
            out.append(phone)
    return out


_ACCOUNTS = (
    'SELECT "id", "platform", "handle", "display_name", "department", "status", "custodian", '
    '"backup_custodian", "mfa_holder", "recovery_email", "recovery_phone" FROM "social_account" '
    'WHERE "status" <> \'retired\' AND ("custodian" = $1 OR "backup_custodian" = $1 '
    'OR "mfa_holder" = $1{emails})'
)
_PHONE_ACCOUNTS = (
    'SELECT "id", "platform", "handle", "display_name", "department", "status", "custodian", '
    '"backup_custodian", "mfa_holder", "recovery_email", "recovery_phone" FROM "social_account" '
    "WHERE \"status\" <> 'retired' AND \"recovery_phone\" <> ''"
)
_GRANTS = (
    'SELECT g."id", g."account", g."level", g."platform_role", g."granted_at", a."platform", '
    'a."handle" FROM "access_grant" g JOIN "social_account" a ON a."id" = g."account" '
    'WHERE g."employee" = $1 AND g."revoked_at" IS NULL ORDER BY g."id"'
)
_USERS = 'SELECT "id" FROM "register_user" WHERE "employee" = $1'
_CONNECTIONS = (
    'SELECT "state", COUNT(*) AS "n" FROM "connection" WHERE "owner" = $1 GROUP BY "state"'
)


def _marks(start: int, count: int) -> str:
    return ", ".join(f"${start + n}" for n in range(count))


async def _accounts(employee_id: int, emails: list[str], phones: list[str]) -> list[dict[str, Any]]:
    """Live accounts where the person is custodian, backup, MFA holder or a recovery contact."""
    email_clause = f' OR "recovery_email" IN ({_marks(2, len(emails))})' if emails else ""
    rows = {
        r["id"]: r for r in await fetch(_ACCOUNTS.format(emails=email_clause), employee_id, *emails)
    }
    keys = {phone_key(p) for p in phones}
    if keys:
        for r in await fetch(_PHONE_ACCOUNTS):
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


async def _revealed(employee_id: int, days: int) -> list[dict[str, Any]]:
    """Credentials the person revealed through their register users within `days` (the audit trail)."""
    users = [r["id"] for r in await fetch(_USERS, employee_id)]
    if not users:
        return []
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    rows = await fetch(
        'SELECT e."object_id", COUNT(*) AS "n", MAX(e."at") AS "last_at" FROM "audit_event" e '
        f'WHERE e."action" = $1 AND e."at" >= $2 AND e."actor_id" IN ({_marks(3, len(users))}) '
        'GROUP BY e."object_id"',
        "credential.reveal",
        since,
        *users,
    )
    ids = sorted(int(r["object_id"]) for r in rows if str(r["object_id"]).isdigit())
    if not ids:
        return []
    names = {
        a["id"]: a
        for a in await fetch(
            'SELECT "id", "platform", "handle" FROM "social_account" '
            f'WHERE "id" IN ({_marks(1, len(ids))})',
            *ids,
        )
    }
    out = []
    for r in sorted(rows, key=lambda r: int(r["object_id"])):
        account_id = int(r["object_id"])
        if account_id not in names:
            continue
        last = r["last_at"]
        if isinstance(last, str):
            last = dt.datetime.fromisoformat(last)
        out.append(
            {
                "account_id": account_id,
                "platform": names[account_id]["platform"],
                "handle": names[account_id]["handle"],
                "times": int(r["n"]),
                "last_revealed_at": last,
            }
        )
    return out


async def _credentials(account_ids: Iterable[int]) -> set[int]:
    ids = sorted(set(account_ids))
    if not ids:
        return set()
    rows = await fetch(
        f'SELECT "account" FROM "credential" WHERE "account" IN ({_marks(1, len(ids))})', *ids
    )
    return {r["account"] for r in rows}


async def footprint(
    *,
    employee_id: int,
    reveal_days: int,
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
) -> dict[str, Any]:
    """Everything a person holds, could get into or could recover, for their handover."""
    employee = await get_employee(employee_id=employee_id)
    emails = clean_emails([employee["work_email"], *emails], "email")
    phones = clean_phones(phones, "phone")
    accounts = await _accounts(employee_id, emails, phones)
    grants = [
        {
            "grant_id": g["id"],
            "account_id": g["account"],
            "platform": g["platform"],
            "handle": g["handle"],
            "level": g["level"],
            "platform_role": g["platform_role"],
            "granted_at": g["granted_at"],
        }
        for g in await fetch(_GRANTS, employee_id)
    ]
    revealed = await _revealed(employee_id, reveal_days)
    # Credentials the person could use: accounts they hold or back, hold the second factor of,
    # or have a grant on; plus those they revealed.
    held_ids = {
        a["account_id"] for a in accounts if set(a["roles"]) & {"custodian", "backup", "mfa_holder"}
    }
    held_ids |= {g["account_id"] for g in grants}
    stored = await _credentials(held_ids | {r["account_id"] for r in revealed})
    counts = {r["state"]: int(r["n"]) for r in await fetch(_CONNECTIONS, employee_id)}
    other: dict[str, list[dict[str, Any]]] = {}
    extensions.load()
    for name, source in sorted(extensions.footprint_sources.items()):
        other[name] = list(await source(employee_id))
    return {
        "employee": {
            "id": employee["id"],
            "name": employee["name"],
            "work_email": employee["work_email"],
            "department": employee["department"],
            "status": employee["status"],
            "leaving_date": employee["leaving_date"],
        },
        "matched_emails": emails,
        "matched_phones": phones,
        "accounts": accounts,
        "grants": grants,
        "credentials": [
            {
                "account_id": account_id,
                "held": account_id in held_ids,
                "revealed": any(r["account_id"] == account_id for r in revealed),
            }
            for account_id in sorted(stored)
        ],
        "revealed": revealed,
        "reveal_days": reveal_days,
        "connections": {
            "held": counts.get("held", 0),
            "total": sum(counts.values()),
            "by_state": counts,
        },
        "other": other,
    }
