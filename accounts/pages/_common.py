"""What the account register's pages share: the words for its closed sets, advice per risk, filters."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, TypeVar

from litestar.params import QueryParameter

from accounts.enums import PLATFORM_WORDS, AccessLevel, AccountStatus, MfaMethod
from register.errors import InvalidInput
from register.i18n import N_
from register.pages import NavLink

PAGE_SIZE = 50
E = TypeVar("E", bound=Enum)
PLATFORMS = PLATFORM_WORDS
STATUSES = {
    AccountStatus.active: N_("Active"),
    AccountStatus.dormant: N_("Dormant"),
    AccountStatus.suspended: N_("Suspended"),
    AccountStatus.compromised: N_("Compromised"),
    AccountStatus.retired: N_("Retired"),
}
MFA = {
    MfaMethod.none: N_("None"),
    MfaMethod.sms: N_("Text message (SMS)"),
    MfaMethod.authenticator_app: N_("Authenticator app"),
    MfaMethod.hardware_key: N_("Hardware key"),
    MfaMethod.platform_app: N_("The platform's own app"),
}
LEVELS = {
    AccessLevel.owner: N_("Owner"),
    AccessLevel.admin: N_("Admin"),
    AccessLevel.editor: N_("Editor"),
    AccessLevel.analyst: N_("Analyst"),
    AccessLevel.viewer: N_("Viewer"),
}
SEVERITIES = {"high": N_("High"), "medium": N_("Medium")}
# What to do about each kind of finding, in the words of the page (the API gives the message).
ADVICE = {
    "no_backup_custodian": N_("Name a backup custodian (edit the account)."),
    "custodian_leaving": N_("Transfer custody to someone who stays, and rotate the credential."),
    "backup_leaving": N_("Name another backup custodian."),
    "mfa_holder_leaving": N_("Move the second factor to someone who stays."),
    "recovery_email_not_company": N_("Change the recovery e-mail to a company mailbox."),
    "recovery_phone_not_company": N_("Change the recovery phone to a company number."),
    "weak_mfa": N_("Switch to an authenticator app, a hardware key or a passkey."),
    "rotation_due": N_("Rotate the credential and store the new one in the vault."),
    "grant_held_by_leaver": N_("Revoke the grant of the person who left."),
    "grant_holder_untrained": N_(
        "Record their training (Training), or revoke the grant until they have taken it."
    ),
    "recertification_overdue": N_("Ask the custodian to re-certify who has access."),
}
NAV = NavLink(N_("Accounts"), "/accounts", "account.read", order=10)


# A select's value: empty when nothing is chosen.
Choice = Annotated[str, QueryParameter(max_length=60, pattern="^[a-z_]*$")]


def chosen(value: str, kind: type[E], field: str) -> E | None:
    """The chosen member of a closed set, None for the empty choice; 422 naming the field else."""
    if not value:
        return None
    try:
        return kind(value)
    except ValueError as exc:
        raise InvalidInput(
            N_("'%(value)s' is not a %(field)s"),
            field=field,
            params={"value": value, "field": field},
        ) from exc
