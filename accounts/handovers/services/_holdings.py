"""What a leaver still holds as the handover runs, the exceptions admins name, what else is known."""

from __future__ import annotations

from typing import Any

from accounts.handovers.enums import HandoverHolding, HandoverState
from accounts.handovers.tables import HandoverException
from accounts.posts.services import approver_duties
from accounts.services import account_handles, active_grants_of, holdings
from register.db import fetch, json_value
from register.extensions import extensions
from register.services import user_ids_of_employee

H = HandoverHolding

# How a holding reads in a sentence: "custodian of x @acme".
WORDS = {
    H.custodian: "custodian",
    H.backup: "backup custodian",
    H.mfa_holder: "second-factor holder",
    H.recovery_email: "recovery e-mail",
    H.recovery_phone: "recovery phone",
    H.post_approver: "post approver",
}


def holding_key(holding: dict[str, Any]) -> tuple[str, int]:
    """What one holding is, whatever else is said about it: (holding, grant id or account id)."""
    if holding["holding"] == H.grant.value:
        return holding["holding"], holding["grant_id"]
    return holding["holding"], holding["account_id"]


def holding_text(holding: dict[str, Any]) -> str:
    """One holding in words: 'custodian of x acme', 'editor grant 7 on x acme'."""
    account = f"{holding['platform']} {holding['handle']}"
    if holding["holding"] == H.grant.value:
        return f"{holding['level']} grant {holding['grant_id']} on {account}"
    return f"{WORDS[H(holding['holding'])]} of {account}"


async def still_held(row: dict[str, Any]) -> list[dict[str, Any]]:
    """What the leaver holds now: custody, second factor, recovery, grants, post approval."""
    # Recovery contacts are matched on the e-mails and phones the handover started with.
    emails = json_value(row["leaver_emails"], [])
    phones = json_value(row["leaver_phones"], [])
    out: list[dict[str, Any]] = []
    for account in await holdings(row["employee"], emails, phones):
        out += [
            {
                "holding": role,
                "account_id": account["account_id"],
                "platform": account["platform"],
                "handle": account["handle"],
                "grant_id": None,
                "level": "",
            }
            for role in account["roles"]
        ]
    out += [
        {
            "holding": H.grant.value,
            "account_id": grant["account_id"],
            "platform": grant["platform"],
            "handle": grant["handle"],
            "grant_id": grant["grant_id"],
            "level": grant["level"],
        }
        for grant in await active_grants_of(row["employee"])
    ]
    out += [
        {
            "holding": H.post_approver.value,
            "account_id": duty["account_id"],
            "platform": duty["platform"],
            "handle": duty["handle"],
            "grant_id": None,
            "level": "",
        }
        for duty in await approver_duties(await user_ids_of_employee(row["employee"]))
    ]
    return out


async def exceptions_of(handover_id: int) -> list[dict[str, Any]]:
    """The exceptions named on a handover, oldest first, with their accounts' platform and handle."""
    rows = list(
        await HandoverException.select()
        .where(HandoverException.handover == handover_id)
        .order_by(HandoverException.id)
    )
    names = await account_handles(sorted({r["account_id"] for r in rows}))
    return [
        {
            "id": r["id"],
            "holding": r["holding"],
            "account_id": r["account_id"],
            "platform": names.get(r["account_id"], {}).get("platform", ""),
            "handle": names.get(r["account_id"], {}).get("handle", ""),
            "grant_id": r["grant_id"],
            "reason": r["reason"],
            "recorded_by": r["recorded_by"],
            "recorded_by_email": r["recorded_by_email"],
            "recorded_at": r["recorded_at"],
        }
        for r in rows
    ]


def unexcepted(
    held: list[dict[str, Any]], exceptions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Of what is held, what no exception names."""
    excepted = {holding_key(e) for e in exceptions}
    return [h for h in held if holding_key(h) not in excepted]


async def remaining(row: dict[str, Any]) -> list[dict[str, Any]]:
    """What the leaver still holds that no exception names: each one stops the completion."""
    return unexcepted(await still_held(row), await exceptions_of(row["id"]))


async def other_findings(employee_id: int) -> dict[str, list[dict[str, Any]]]:
    """What the other parts know about the person (open incidents on their accounts), by source."""
    extensions.load()
    return {
        name: list(await source(employee_id))
        for name, source in sorted(extensions.footprint_sources.items())
    }


async def handover_accounts(employee_id: int) -> dict[int, dict[str, Any]]:
    """Accounts the person's live handover names (what they held when it started), by id."""
    rows = await fetch(
        'SELECT i."target_type", i."target_id", i."detail" FROM "handover_item" i '
        'JOIN "handover" h ON h."id" = i."handover" '
        'WHERE h."employee" = $1 AND h."state" IN ($2, $3, $4)',
        employee_id,
        HandoverState.draft.value,
        HandoverState.open.value,
        HandoverState.awaiting_sign_off.value,
    )
    ids = {r["target_id"] for r in rows if r["target_type"] == "social_account"}
    ids |= {
        json_value(r["detail"], {}).get("account_id")
        for r in rows
        if r["target_type"] == "access_grant"
    }
    return await account_handles(sorted(i for i in ids if i))
