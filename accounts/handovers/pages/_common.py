"""What the handover's pages share: the words for its states, teams and item kinds, and one item
as a page shows it (its title and evidence in the reader's language, people by name)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from litestar import Request

from accounts.handovers import services
from accounts.handovers.enums import HandoverItemKind, HandoverItemState, HandoverState
from accounts.pages._common import PLATFORMS
from accounts.services import account_handles
from register.actor import Actor
from register.forms import FormState
from register.i18n import N_
from register.pages import NavLink, reader_of
from register.settings import Settings

NAV = NavLink(N_("Handovers"), "/handovers", "handover.read", order=25)
PAGE_SIZE = 50
STATES = {
    HandoverState.draft.value: N_("Draft: being reviewed"),
    HandoverState.open.value: N_("Open: items being worked"),
    HandoverState.awaiting_sign_off.value: N_("Awaiting sign-off"),
    HandoverState.completed.value: N_("Completed"),
    HandoverState.cancelled.value: N_("Cancelled"),
}
TEAMS = {"hr": N_("HR"), "it": N_("IT")}
ITEM_STATES = {
    HandoverItemState.open.value: N_("To do"),
    HandoverItemState.done.value: N_("Done"),
    HandoverItemState.waived.value: N_("Waived"),
}
K = HandoverItemKind
# Each kind's title; %(account)s is the platform and handle, %(name)s the leaver.
TITLES = {
    "custodian": N_("Transfer custody of %(account)s to the successor"),
    "backup": N_("Transfer backup custody of %(account)s to the successor"),
    K.rotate_credential.value: N_("Rotate the credential of %(account)s"),
    K.revoke_grant.value: N_("Revoke %(name)s's access to %(account)s"),
    K.replace_mfa_holder.value: N_("Replace %(name)s as second-factor holder of %(account)s"),
    K.replace_recovery_contact.value: N_("Replace %(name)s as recovery contact of %(account)s"),
    K.export_connections.value: N_("Export %(name)s's connections to the successor"),
    K.attest_deletion.value: N_("%(name)s's written attestation that the connections were deleted"),
    K.replace_post_approver.value: N_("Replace %(name)s as post approver of %(account)s"),
    K.withdraw_post_requests.value: N_("Withdraw %(name)s's post requests that are still open"),
}
# What evidence each kind needs (services.ITEM_RULES says the same to the API).
EVIDENCE = {
    K.transfer_custody.value: N_(
        "Custody moved to the named successor in the register, and the successor accepted."
    ),
    K.rotate_credential.value: N_(
        "The credential replaced in the vault (a rotation) after the handover started."
    ),
    K.revoke_grant.value: N_("The grant revoked in the register on the leaving date."),
    K.replace_mfa_holder.value: N_(
        "Someone else recorded as holding the second factor (phone, key, app)."
    ),
    K.replace_recovery_contact.value: N_(
        "Recovery e-mail and phone changed to company-controlled ones, not the leaver's."
    ),
    K.export_connections.value: N_(
        "The employer's connections exported to the successor; the file's SHA-256 recorded."
    ),
    K.attest_deletion.value: N_(
        "The leaver's written attestation: the statement, their typed name, the date, "
        "optionally the signed PDF."
    ),
    K.replace_post_approver.value: N_(
        "The leaver no longer approves the account's posts: someone else named in their place, "
        "or removed where others approve (an account whose posts need approval keeps one)."
    ),
    K.withdraw_post_requests.value: N_(
        "The leaver's post requests still open withdrawn, with the reason in their history."
    ),
}
# Kinds the register checks itself: done is seen there (the account's page), then marked here.
SEEN = {
    K.transfer_custody.value,
    K.rotate_credential.value,
    K.revoke_grant.value,
    K.replace_mfa_holder.value,
    K.replace_recovery_contact.value,
    K.replace_post_approver.value,
    K.withdraw_post_requests.value,
}
# The forms that belong to one kind of item only.
FORM_KINDS = {
    "transfer": K.transfer_custody.value,
    "revoke": K.revoke_grant.value,
    "approver": K.replace_post_approver.value,
    "withdraw": K.withdraw_post_requests.value,
}
HOLDINGS = {
    "custodian": N_("custodian of %(account)s"),
    "backup": N_("backup custodian of %(account)s"),
    "mfa_holder": N_("holder of the second factor of %(account)s"),
    "recovery_email": N_("the recovery e-mail of %(account)s is theirs"),
    "recovery_phone": N_("the recovery phone of %(account)s is theirs"),
    "grant": N_("access to %(account)s"),
    "post_approver": N_("approves the posts of %(account)s"),
}


def form_of(request: Request[Any, Any, Any]) -> FormState:
    """An empty form for this reader (errors in their language)."""
    # "state" in a refusal is the handover's (or, for "already done", an item's).
    return FormState(gettext=reader_of(request).gettext, words={"state": {**ITEM_STATES, **STATES}})


def account_of(item: Mapping[str, Any]) -> int | None:
    """The account an item is about (a grant's item names it in its detail), if any."""
    if item["kind"] == K.revoke_grant.value:
        return item["detail"].get("account_id")
    if item["target_type"] == "social_account":
        return item["target_id"]
    return None


async def handles_of(items: list[Mapping[str, Any]]) -> Mapping[int, Any]:
    """The accounts the items are about, by id (platform and handle), for their titles."""
    return await account_handles(sorted({a for i in items if (a := account_of(i)) is not None}))


def account_label(
    gettext: Callable[[str], str], handles: Mapping[int, Any], account_id: Any
) -> str:
    """An account as "Platform handle" in the reader's words."""
    account = handles.get(account_id) if account_id is not None else None
    if not account:
        return gettext(N_("an account no longer in the register"))
    return platform_handle(gettext, account["platform"], account["handle"])


def platform_handle(gettext: Callable[[str], str], platform: str, handle: str) -> str:
    """ "Platform handle" with the platform's name in the reader's words ("X", not "x")."""
    return f"{gettext(PLATFORMS.get(platform, platform))} {handle}"


def item_title(
    gettext: Callable[[str], str], item: Mapping[str, Any], leaver: str, handles: Mapping[int, Any]
) -> str:
    """An item's title in the reader's language (a department's own item: as HR wrote it)."""
    kind = item["kind"]
    if kind == K.template.value:
        return str(item["title"])
    key = item["detail"].get("role", "custodian") if kind == K.transfer_custody.value else kind
    words = gettext(TITLES[key])
    return words % {"account": account_label(gettext, handles, account_of(item)), "name": leaver}


def item_evidence(gettext: Callable[[str], str], item: Mapping[str, Any]) -> str:
    """What evidence the item needs, in the reader's language (a department's: as HR wrote it)."""
    if item["kind"] == K.template.value:
        return str(item["detail"].get("description") or "") or gettext(
            N_("A note saying what was done.")
        )
    return gettext(EVIDENCE[item["kind"]])


def may_act(actor: Actor, handover: Mapping[str, Any]) -> bool:
    """Whether this reader works on this handover at all (the leaver does not: services say why)."""
    return actor.employee_id is None or actor.employee_id != handover["employee_id"]


def fingerprint(handover: Mapping[str, Any], pending: Mapping[int, Any]) -> str:
    """A short digest of what the checklist shows: the page refreshes only when it changes."""
    parts = [str(handover["version"]), handover["state"], str(len(handover["sign_offs"]))]
    parts += [f"{i['id']}:{i['version']}:{i['state']}" for i in handover["items"]]
    parts += [f"t{k}:{v}" for k, v in sorted(pending.items())]
    parts += [f"r{h['holding']}:{h['account_id']}" for h in handover["remaining"]]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def is_lead(actor: Actor, settings: Settings) -> bool:
    """Whether this reader may waive (services.is_hr_lead)."""
    return services.is_hr_lead(actor, settings)
