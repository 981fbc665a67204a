"""Request and response types of the account register."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from accounts.enums import (
    AccessLevel,
    AccountStatus,
    CustodyRole,
    MfaMethod,
    Platform,
    TransferState,
)

Short = Annotated[str, msgspec.Meta(max_length=200)]


LongText = Annotated[str, msgspec.Meta(max_length=5000)]


HandleText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=500,
        description="Handle in any form: @name, name, or the profile URL.",
    ),
]


Version = Annotated[
    int, msgspec.Meta(ge=1, description="The version you read; a stale one gets 409.")
]


EmployeeId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


Reason = Annotated[str, msgspec.Meta(max_length=1000)]


class AccountCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A corporate social account to register."""

    platform: Platform
    handle: HandleText
    custodian_id: EmployeeId
    display_name: Short = ""
    purpose: LongText = ""
    department: Annotated[str, msgspec.Meta(max_length=120)] = ""
    status: AccountStatus = AccountStatus.active
    backup_custodian_id: EmployeeId | None = None
    login_identifier: Annotated[str, msgspec.Meta(max_length=320)] = ""
    mfa_method: MfaMethod = MfaMethod.none
    mfa_holder_id: EmployeeId | None = None
    recovery_email: Annotated[str, msgspec.Meta(max_length=320)] = ""
    recovery_email_company_controlled: bool | None = None
    recovery_phone: Annotated[str, msgspec.Meta(max_length=40)] = ""
    recovery_phone_company_controlled: bool | None = None
    post_approvers: LongText = ""
    notes: LongText = ""


class AccountUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change; omit what stays. The custodian can be replaced, not removed."""

    version: Version
    platform: Platform | UnsetType = UNSET
    handle: HandleText | UnsetType = UNSET
    display_name: Short | UnsetType = UNSET
    purpose: LongText | UnsetType = UNSET
    department: Annotated[str, msgspec.Meta(max_length=120)] | UnsetType = UNSET
    status: AccountStatus | UnsetType = UNSET
    custodian_id: EmployeeId | UnsetType | None = UNSET
    backup_custodian_id: EmployeeId | UnsetType | None = UNSET
    login_identifier: Annotated[str, msgspec.Meta(max_length=320)] | UnsetType = UNSET
    mfa_method: MfaMethod | UnsetType = UNSET
    mfa_holder_id: EmployeeId | UnsetType | None = UNSET
    recovery_email: Annotated[str, msgspec.Meta(max_length=320)] | UnsetType = UNSET
    recovery_email_company_controlled: bool | UnsetType = UNSET
    recovery_phone: Annotated[str, msgspec.Meta(max_length=40)] | UnsetType = UNSET
    recovery_phone_company_controlled: bool | UnsetType = UNSET
    post_approvers: LongText | UnsetType = UNSET
    notes: LongText | UnsetType = UNSET


class RetireIn(msgspec.Struct, forbid_unknown_fields=True):
    """Retire an account (kept, never deleted)."""

    version: Version
    reason: Reason = ""


class RiskFinding(msgspec.Struct):
    """One thing that could make the company lose the account."""

    kind: str
    severity: str
    message: str


class AccountOut(msgspec.Struct):
    """A corporate social account (never its credential)."""

    id: int
    platform: Platform
    handle: str
    profile_url: str
    display_name: str
    purpose: str
    department: str
    status: AccountStatus
    custodian_id: int | None
    backup_custodian_id: int | None
    login_identifier: str
    mfa_method: MfaMethod
    mfa_holder_id: int | None
    recovery_email: str
    recovery_email_company_controlled: bool
    recovery_phone: str
    recovery_phone_company_controlled: bool
    post_approvers: str
    notes: str
    last_recertified_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    retired_at: dt.datetime | None
    risks: list[RiskFinding] = []


class AccountPage(msgspec.Struct):
    """A page of accounts."""

    items: list[AccountOut]
    limit: int
    offset: int
    next_offset: int | None


class GrantCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Record someone's access to the account."""

    employee_id: EmployeeId
    level: AccessLevel
    platform_role: Annotated[str, msgspec.Meta(max_length=120)] = ""
    reason: Reason = ""


class GrantRevoke(msgspec.Struct, forbid_unknown_fields=True):
    """Why the access ends."""

    reason: Reason = ""


class GrantOut(msgspec.Struct):
    """An access grant, active or revoked."""

    id: int
    account_id: int
    employee_id: int
    level: AccessLevel
    platform_role: str
    reason: str
    granted_by: int | None
    granted_at: dt.datetime
    revoked_by: int | None
    revoked_at: dt.datetime | None
    revoke_reason: str
    active: bool


class TransferCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Move custody (or backup custody) to another employee now."""

    to_employee_id: EmployeeId
    role: CustodyRole = CustodyRole.custodian
    revoke_old_grants: bool = False
    note: Reason = ""


class TransferAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """The new holder's answer."""

    note: Reason = ""


class TransferOut(msgspec.Struct):
    """A custody transfer."""

    id: int
    account_id: int
    role: CustodyRole
    from_employee_id: int | None
    to_employee_id: int
    state: TransferState
    revoke_old_grants: bool
    note: str
    requested_by: int | None
    requested_at: dt.datetime
    responded_by: int | None
    responded_at: dt.datetime | None
    response_note: str
    # The backup became custodian (leaving the backup slot empty); a decline makes them backup again.
    backup_stepped_up: bool = False


class CredentialIn(msgspec.Struct, forbid_unknown_fields=True):
    """Secrets to set or replace; omitted ones are kept. Replacing counts as a rotation."""

    password: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)] | None = None
    totp_seed: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1, max_length=256, description="Base32 seed shown by the platform."
            ),
        ]
        | None
    ) = None
    recovery_codes: list[Annotated[str, msgspec.Meta(min_length=1, max_length=200)]] | None = None


class CredentialStatus(msgspec.Struct):
    """What can be said of a credential without revealing it."""

    account_id: int
    has_password: bool
    has_totp_seed: bool
    has_recovery_codes: bool
    set_at: dt.datetime | None
    rotated_at: dt.datetime | None
    rotation_due: bool
    rotation_due_reason: str
    key_version: int | None
    version: int


class RevealIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why you need the plaintext (audited)."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class Revealed(msgspec.Struct):
    """The plaintext credential; sent with Cache-Control: no-store."""

    account_id: int
    password: str | None
    totp_seed: str | None
    recovery_codes: list[str]


class TotpCode(msgspec.Struct):
    """The current sign-in code."""

    account_id: int
    code: str
    valid_for_seconds: int


class RiskItem(msgspec.Struct):
    """An account with its findings."""

    account_id: int
    platform: Platform
    handle: str
    display_name: str
    department: str
    findings: list[RiskFinding]


class RiskReport(msgspec.Struct):
    """Findings across the register."""

    accounts: int
    totals: dict[str, int]
    items: list[RiskItem]
    limit: int
    offset: int
    next_offset: int | None


class RecertifyIn(msgspec.Struct, forbid_unknown_fields=True):
    """Every active grant, kept or revoked."""

    keep_grant_ids: list[EmployeeId] = []
    revoke_grant_ids: list[EmployeeId] = []
    notes: Reason = ""


class RecertifyOut(msgspec.Struct):
    """A recorded re-certification."""

    id: int
    account_id: int
    confirmed_at: dt.datetime
    kept_grant_ids: list[int]
    revoked_grant_ids: list[int]
    notes: str


class RecertificationDue(msgspec.Struct):
    """An account whose re-certification is due or overdue."""

    account_id: int
    platform: Platform
    handle: str
    custodian_id: int | None
    last_recertified_at: dt.datetime | None
    due_at: dt.datetime


class RecertificationPage(msgspec.Struct):
    """A page of due or overdue re-certifications."""

    items: list[RecertificationDue]
    limit: int
    offset: int
    next_offset: int | None


class FieldChange(msgspec.Struct):
    """One field an import sets or changes (old is null on a new account)."""

    field: str
    old: str | int | bool | None
    new: str | int | bool | None


class InventoryChange(msgspec.Struct):
    """An account an import creates or changes, by the file's line."""

    line: int
    action: Annotated[str, msgspec.Meta(description="create or update")]
    account_id: int | None
    platform: Platform
    handle: str
    fields: list[FieldChange]


class InventorySummary(msgspec.Struct):
    """What an all-or-nothing inventory import did, or (dry_run) would do."""

    rows: int
    created: int
    updated: int
    unchanged: int
    mapping: dict[str, str]
    dry_run: bool = False
    plan: Annotated[
        str, msgspec.Meta(description="SHA-256 of what it does; send it back as expect_plan.")
    ] = ""
    changes: list[InventoryChange] = []
