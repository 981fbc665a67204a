"""The account register's queries and rules, one module per concern, all named here.

_accounts     accounts: create, update, retire, list; compromise and recovery
_grants       who has access at what level, and its revocation
_credentials  when a credential must be rotated (a compromise, a leaver)
_vault        the credential vault: set, reveal with a reason, TOTP codes, rewrap
_totp         RFC 6238 codes, so a custodian signs in without seeing the seed
_handles      a handle or pasted profile link read as the account it names
_risks        what could lose the company an account: findings, report, notices
"""

from __future__ import annotations

from accounts.services._accounts import (
    ACCOUNT_FIELDS,
    PHONE_RE,
    account_handles,
    account_out,
    active_employee,
    company_controlled_email,
    create_account,
    get_account,
    get_account_row,
    holdings,
    in_custody_of,
    list_accounts,
    mark_compromised,
    phone_key,
    recover_compromised,
    recovery_not_controlled,
    retire_account,
    update_account,
)
from accounts.services._credentials import (
    accounts_with_credentials,
    leavers_credentials_due,
    mark_rotation_due,
    rotated_at,
    rotated_since,
)
from accounts.services._grants import (
    active_grants_of,
    add_grant,
    get_grant,
    grant_out,
    holders_on_platforms,
    list_grants,
    revoke_grant,
)
from accounts.services._handles import (
    Handle,
    normalise_handle,
)
from accounts.services._risks import (
    KINDS,
    RiskKind,
    account_ids_with_risk,
    findings_for,
    forget_judged,
    kind_names,
    risk_clock,
    risk_digest,
    risk_report,
)
from accounts.services._totp import (
    code_at,
    parse_seed,
)
from accounts.services._vault import (
    check_holder,
    check_reveal,
    credential_status,
    envelope,
    may_reveal,
    reveal,
    rewrap_all,
    set_credential,
    status_out,
    totp_code,
)

__all__ = [
    "ACCOUNT_FIELDS",
    "KINDS",
    "PHONE_RE",
    "Handle",
    "RiskKind",
    "account_handles",
    "account_ids_with_risk",
    "account_out",
    "accounts_with_credentials",
    "active_employee",
    "active_grants_of",
    "add_grant",
    "check_holder",
    "check_reveal",
    "code_at",
    "company_controlled_email",
    "create_account",
    "credential_status",
    "envelope",
    "findings_for",
    "forget_judged",
    "get_account",
    "get_account_row",
    "get_grant",
    "grant_out",
    "holders_on_platforms",
    "holdings",
    "in_custody_of",
    "kind_names",
    "leavers_credentials_due",
    "list_accounts",
    "list_grants",
    "mark_compromised",
    "mark_rotation_due",
    "may_reveal",
    "normalise_handle",
    "parse_seed",
    "phone_key",
    "recover_compromised",
    "recovery_not_controlled",
    "retire_account",
    "reveal",
    "revoke_grant",
    "rewrap_all",
    "risk_clock",
    "risk_digest",
    "risk_report",
    "rotated_at",
    "rotated_since",
    "set_credential",
    "status_out",
    "totp_code",
    "update_account",
]
