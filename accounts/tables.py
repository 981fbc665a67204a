"""Tables of the account register: social accounts, access, custody, credentials, risk notices."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from accounts.enums import (
    AccessLevel,
    AccountStatus,
    CustodyRole,
    MfaMethod,
    Platform,
    TransferState,
)
from register.staff.tables import Employee


class SocialAccount(Table, tablename="social_account"):
    """A corporate social media account held as an employer asset."""

    id = Serial(primary_key=True)
    platform = Varchar(length=32, choices=Platform)
    handle = Varchar(length=200, help_text="The platform's canonical handle; unique per platform.")
    profile_url = Varchar(length=500, default="")
    display_name = Varchar(length=200, default="")
    purpose = Text(default="", help_text="What the company uses the account for.")
    department = Varchar(length=120, default="", help_text="The owning department.")
    status = Varchar(length=16, choices=AccountStatus, default=AccountStatus.active.value)
    custodian = ForeignKey(
        Employee,
        null=True,
        default=None,
        on_delete=OnDelete.restrict,
        help_text="Answers for the account; an active employee.",
    )
    backup_custodian = ForeignKey(
        Employee,
        null=True,
        default=None,
        on_delete=OnDelete.restrict,
        help_text="Steps in when the custodian cannot; not the custodian.",
    )
    login_identifier = Varchar(
        length=320,
        default="",
        help_text="The e-mail, phone or username used to sign in (not secret).",
    )
    mfa_method = Varchar(length=24, choices=MfaMethod, default=MfaMethod.none.value)
    mfa_holder = ForeignKey(
        Employee,
        null=True,
        default=None,
        on_delete=OnDelete.restrict,
        help_text="Who holds the second factor (phone, key, app).",
    )
    recovery_email = Varchar(length=320, default="")
    recovery_email_company_controlled = Boolean(
        default=False,
        help_text="A company mailbox, not a person's own (defaults from work e-mail domains).",
    )
    recovery_phone = Varchar(length=40, default="")
    recovery_phone_company_controlled = Boolean(default=False)
    post_approvers = Text(default="", help_text="Who may approve posts before they go out.")
    notes = Text(default="")
    last_recertified_at = Timestamptz(
        null=True, default=None, help_text="When the custodian last confirmed custody and access."
    )
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    retired_at = Timestamptz(
        null=True, default=None, help_text="Accounts are retired, never deleted."
    )


class AccessGrant(Table, tablename="access_grant"):
    """Someone's access to an account; revoking keeps the row as history."""

    id = Serial(primary_key=True)
    account = ForeignKey(SocialAccount, on_delete=OnDelete.restrict)
    employee = ForeignKey(Employee, on_delete=OnDelete.restrict)
    level = Varchar(length=16, choices=AccessLevel)
    platform_role = Varchar(
        length=120,
        default="",
        help_text="The platform's own name for the role, e.g. 'Super admin'.",
    )
    reason = Text(default="", help_text="Why the access was given.")
    granted_by = Integer(null=True, default=None, help_text="User id who recorded the grant.")
    granted_at = Timestamptz()
    revoked_by = Integer(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    revoke_reason = Text(default="")


class CustodyTransfer(Table, tablename="custody_transfer"):
    """A move of custody (or backup custody) to another employee, who accepts or declines."""

    id = Serial(primary_key=True)
    account = ForeignKey(SocialAccount, on_delete=OnDelete.restrict)
    role = Varchar(length=16, choices=CustodyRole)
    from_employee = ForeignKey(Employee, null=True, default=None, on_delete=OnDelete.restrict)
    to_employee = ForeignKey(Employee, on_delete=OnDelete.restrict)
    state = Varchar(length=16, choices=TransferState, default=TransferState.pending.value)
    revoke_old_grants = Boolean(
        default=False, help_text="The old holder's grants were revoked in the same step."
    )
    backup_stepped_up = Boolean(
        default=False,
        help_text="The backup became custodian, leaving the backup slot empty; a decline restores it.",
    )
    note = Text(default="")
    requested_by = Integer(null=True, default=None)
    requested_at = Timestamptz()
    responded_by = Integer(null=True, default=None)
    responded_at = Timestamptz(null=True, default=None)
    response_note = Text(default="")


class Credential(Table, tablename="credential"):
    """An account's password, TOTP seed and recovery codes, sealed with envelope encryption."""

    id = Serial(primary_key=True)
    account = ForeignKey(SocialAccount, unique=True, on_delete=OnDelete.restrict)
    wrapped_key = Varchar(
        length=200, secret=True, help_text="The record's data key, sealed by a master key version."
    )
    key_version = Integer(
        help_text="Master key version that wraps the data key; rewrap moves it to the current one."
    )
    password_ct = Text(null=True, default=None, secret=True)
    totp_seed_ct = Text(null=True, default=None, secret=True)
    recovery_codes_ct = Text(null=True, default=None, secret=True)
    set_at = Timestamptz()
    set_by = Integer(null=True, default=None)
    rotated_at = Timestamptz(
        null=True, default=None, help_text="When the password was last changed on the platform."
    )
    rotated_by = Integer(null=True, default=None)
    rotation_due = Boolean(default=False)
    rotation_due_reason = Varchar(length=200, default="")
    rotation_due_since = Timestamptz(null=True, default=None)
    version = Integer(default=1)


class Recertification(Table, tablename="recertification"):
    """A custodian's confirmation that they still hold the account and who still needs access."""

    id = Serial(primary_key=True)
    account = ForeignKey(SocialAccount, on_delete=OnDelete.restrict)
    custodian = ForeignKey(Employee, null=True, default=None, on_delete=OnDelete.restrict)
    confirmed_by = Integer(null=True, default=None)
    confirmed_at = Timestamptz()
    kept_grants = JSON(default="[]", help_text="Grant ids confirmed as still needed.")
    revoked_grants = JSON(default="[]", help_text="Grant ids revoked at re-certification.")
    notes = Text(default="")


class RiskNotice(Table, tablename="risk_notice"):
    """A finding on an account, from when the register first saw it until it cleared.

    What `risk.new_finding` and `recertification.due` notifications and the digest's "new risk
    findings" are built from; a finding that clears and comes back is new again.
    """

    id = Serial(primary_key=True)
    account = ForeignKey(SocialAccount, null=False, on_delete=OnDelete.cascade)
    kind = Varchar(length=60, help_text="The risk kind (accounts.risks.KINDS).")
    first_seen_at = Timestamptz()
    cleared_at = Timestamptz(null=True, default=None, help_text="When the finding went away.")


# Piccolo cannot declare these; migrations apply them and the schema test adds them.
INDEXES = [
    'CREATE UNIQUE INDEX IF NOT EXISTS social_account_platform_handle ON "social_account" ("platform", "handle")',
    'CREATE INDEX IF NOT EXISTS social_account_status_platform ON "social_account" ("status", "platform", "id")',
    'CREATE INDEX IF NOT EXISTS social_account_department ON "social_account" ("department", "id")',
    'CREATE INDEX IF NOT EXISTS social_account_custodian ON "social_account" ("custodian")',
    'CREATE INDEX IF NOT EXISTS social_account_backup ON "social_account" ("backup_custodian")',
    'CREATE INDEX IF NOT EXISTS social_account_mfa_holder ON "social_account" ("mfa_holder")',
    'CREATE INDEX IF NOT EXISTS access_grant_account_active ON "access_grant" ("account", "revoked_at")',
    'CREATE INDEX IF NOT EXISTS access_grant_employee_active ON "access_grant" ("employee", "revoked_at")',
    'CREATE INDEX IF NOT EXISTS custody_transfer_account_state ON "custody_transfer" ("account", "state")',
    'CREATE INDEX IF NOT EXISTS credential_key_version ON "credential" ("key_version")',
    'CREATE INDEX IF NOT EXISTS recertification_account ON "recertification" ("account", "confirmed_at")',
]

RISK_NOTICE_INDEXES = [
    # One open notice per account and kind: several workers' clocks insert it once.
    'CREATE UNIQUE INDEX IF NOT EXISTS risk_notice_open ON "risk_notice" ("account", "kind") '
    'WHERE "cleared_at" IS NULL',
    'CREATE INDEX IF NOT EXISTS risk_notice_first_seen ON "risk_notice" ("first_seen_at")',
]


# The leaver's footprint matches recovery e-mails (applied with the handovers' indexes, accounts_0004).
RECOVERY_INDEXES = [
    'CREATE INDEX IF NOT EXISTS social_account_recovery_email ON "social_account" ("recovery_email")',
]


def statements(engine_type: str) -> list[str]:
    """Indexes of the account register (migrations accounts_0002, _0004 and _0008)."""
    return [*INDEXES, *RECOVERY_INDEXES, *RISK_NOTICE_INDEXES]
