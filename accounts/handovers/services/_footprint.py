"""A leaver's footprint: every account they hold, could get into or could recover, before anything starts."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from accounts.connections.services import state_counts
from accounts.handovers.services._holdings import other_findings
from accounts.posts.services import approver_duties, open_requests_of
from accounts.services import (
    account_handles,
    accounts_with_credentials,
    active_grants_of,
    holdings,
    phone_key,
)
from register.audit import action_counts
from register.checks import EMAIL_RE
from register.errors import InvalidInput
from register.i18n import N_
from register.services import user_ids_of_employee
from register.staff.services import get_employee


def clean_emails(values: Iterable[str], field: str = "emails") -> list[str]:
    """Lower-cased, checked, de-duplicated e-mail addresses."""
    out: list[str] = []
    for value in values:
        email = value.strip().lower()
        if not email:
            continue
        if len(email) > 320 or not EMAIL_RE.match(email):
            raise InvalidInput(
                N_("'%(value)s' is not an e-mail address"), field=field, params={"value": value}
            )
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
            raise InvalidInput(
                N_("'%(value)s' is not a phone number"), field=field, params={"value": value}
            )
        if phone_key(phone) not in keys:
            keys.add(phone_key(phone))
            out.append(phone)
    return out


async def _revealed(employee_id: int, days: int) -> list[dict[str, Any]]:
    """Credentials the person revealed through their register users within `days` (the audit trail)."""
    users = await user_ids_of_employee(employee_id)
    if not users:
        return []
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    rows = await action_counts("credential.reveal", actor_ids=users, since=since)
    ids = sorted(int(r["object_id"]) for r in rows if str(r["object_id"]).isdigit())
    names = await account_handles(ids)
    out = []
    for r in sorted(rows, key=lambda r: int(r["object_id"])):
        if not str(r["object_id"]).isdigit() or int(r["object_id"]) not in names:
            continue
        account_id = int(r["object_id"])
        out.append(
            {
                "account_id": account_id,
                "platform": names[account_id]["platform"],
                "handle": names[account_id]["handle"],
                "times": int(r["n"]),
                "last_revealed_at": r["last_at"],
            }
        )
    return out


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
    accounts = await holdings(employee_id, emails, phones)
    grants = await active_grants_of(employee_id)
    revealed = await _revealed(employee_id, reveal_days)
    # Credentials the person could use: accounts they hold or back, hold the second factor of,
    # or have a grant on; plus those they revealed.
    held_ids = {
        a["account_id"] for a in accounts if set(a["roles"]) & {"custodian", "backup", "mfa_holder"}
    }
    held_ids |= {g["account_id"] for g in grants}
    stored = await accounts_with_credentials(held_ids | {r["account_id"] for r in revealed})
    counts = await state_counts(employee_id)
    other = await other_findings(employee_id)
    users = await user_ids_of_employee(employee_id)
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
        "post_approvals": await approver_duties(users),
        "post_requests": await open_requests_of(users),
        "other": other,
    }
