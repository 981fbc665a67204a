"""Tables of the accounts app: social accounts, access, custody, credentials, connections, handovers."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    Bytea,
    Date,
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
    ConnectionState,
    CustodyRole,
    ExportLayout,
    HandoverItemKind,
    HandoverItemState,
    HandoverState,
    HandoverTeam,
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


class ConnectionImport(Table, tablename="connection_import"):
    """One upload of an employee's LinkedIn Connections.csv: what it held and what it changed."""

    id = Serial(primary_key=True)
    employee = ForeignKey(
        Employee, null=False, on_delete=OnDelete.restrict, help_text="Whose export it was."
    )
    sha256 = Varchar(
        length=64, help_text="SHA-256 of the file; the same file again changes nothing."
    )
    filename = Varchar(length=255, default="")
    layout = Varchar(length=16, choices=ExportLayout, default=ExportLayout.with_url.value)
    rows = Integer(default=0, help_text="Connection rows in the file.")
    added = Integer(default=0, help_text="New connections stored.")
    returned = Integer(default=0, help_text="Connections marked gone before, back on the profile.")
    unchanged = Integer(default=0, help_text="Connections already held.")
    gone = Integer(default=0, help_text="Held connections missing from this export.")
    before_employment = Integer(
        default=0, help_text="Connections made before the start date: the person's own, not stored."
    )
    after_employment = Integer(
        default=0, help_text="Connections made after the leaving date: not stored."
    )
    suppressed = Integer(default=0, help_text="Rows of people erased on request: not stored again.")
    imported_by = Integer(null=True, default=None, help_text="User id who uploaded it.")
    imported_at = Timestamptz()


class ConnectionSuppression(Table, tablename="connection_suppression"):
    """Someone erased on request, as a digest of their profile URL or e-mail, so a later
    export does not bring them back. The digest alone names no one in the register."""

    id = Serial(primary_key=True)
    digest = Varchar(
        length=64, unique=True, help_text="SHA-256 of 'url:<URL>' or 'email:<e-mail>'."
    )
    erased_at = Timestamptz()


class Connection(Table, tablename="connection"):
    """A LinkedIn connection made during employment, kept as the employer's: only the export's fields."""

    id = Serial(primary_key=True)
    owner = ForeignKey(
        Employee,
        null=False,
        on_delete=OnDelete.restrict,
        help_text="The employee whose profile holds the connection.",
    )
    first_name = Varchar(length=200, default="")
    last_name = Varchar(length=200, default="")
    profile_url = Varchar(
        length=500,
        default="",
        help_text="Normalised https://www.linkedin.com/in/<slug>; blank in the older layout.",
    )
    email = Varchar(length=320, default="", help_text="Lower-cased; most exports leave it blank.")
    company = Varchar(length=500, default="")
    position = Varchar(length=500, default="")
    connected_on = Date(help_text="LinkedIn's 'Connected On'; inside the employment window.")
    source_import = ForeignKey(
        ConnectionImport,
        null=False,
        on_delete=OnDelete.restrict,
        help_text="The import that first brought it in.",
    )
    state = Varchar(length=24, choices=ConnectionState, default=ConnectionState.held.value)
    gone_on = Date(
        null=True,
        default=None,
        help_text="Date of the first export it was missing from (gone from the profile); kept.",
    )
    state_changed_at = Timestamptz(null=True, default=None)


# Offboarding handovers.


class HandoverTemplate(Table, tablename="handover_template"):
    """A checklist item HR adds to every handover of a department (or of every department)."""

    id = Serial(primary_key=True)
    department = Varchar(
        length=120, default="", help_text="The department it applies to; blank: every department."
    )
    title = Varchar(
        length=300, help_text="What to do, e.g. 'Remove from the LinkedIn Page admins'."
    )
    description = Text(default="", help_text="How to do it and what evidence to keep.")
    owner_role = Varchar(length=8, choices=HandoverTeam, default=HandoverTeam.hr.value)
    day_offset = Integer(
        default=0, help_text="Due this many days after the leaving date (negative: before it)."
    )
    active = Boolean(default=True, help_text="Inactive templates are kept but not used.")
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Handover(Table, tablename="handover"):
    """The offboarding of one leaver: everything they hold goes to a named successor."""

    id = Serial(primary_key=True)
    employee = ForeignKey(
        Employee, null=False, on_delete=OnDelete.restrict, help_text="The leaver."
    )
    successor = ForeignKey(
        Employee,
        null=False,
        on_delete=OnDelete.restrict,
        help_text="Default successor: receives custody and the connections export.",
    )
    leaving_date = Date(help_text="Last day of employment; item due dates count from it.")
    state = Varchar(length=24, choices=HandoverState, default=HandoverState.draft.value)
    leaver_emails = JSON(
        default="[]", help_text="The leaver's e-mails matched against recovery contacts."
    )
    leaver_phones = JSON(
        default="[]", help_text="The leaver's phone numbers matched against recovery contacts."
    )
    notes = Text(default="")
    started_by = Integer(null=True, default=None, help_text="User id who started it.")
    started_at = Timestamptz(help_text="Credential rotations after this moment count as done.")
    opened_at = Timestamptz(null=True, default=None)
    completed_at = Timestamptz(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)
    cancelled_by = Integer(null=True, default=None)
    cancel_reason = Text(default="")
    overdue_notified_at = Timestamptz(
        null=True, default=None, help_text="When the handover was first notified as overdue."
    )
    certificate = Text(
        null=True, default=None, help_text="The signed certificate, byte for byte as issued."
    )
    certificate_sha256 = Varchar(length=64, default="")
    version = Integer(default=1)
    updated_at = Timestamptz()


class HandoverItem(Table, tablename="handover_item"):
    """One checklist item of a handover, done with evidence or waived with a reason."""

    id = Serial(primary_key=True)
    handover = ForeignKey(Handover, null=False, on_delete=OnDelete.restrict)
    position = Integer(default=0, help_text="Order in the checklist.")
    kind = Varchar(length=32, choices=HandoverItemKind)
    title = Varchar(length=300)
    target_type = Varchar(
        length=32, default="", help_text="What the item is about: social_account, access_grant..."
    )
    target_id = Integer(null=True, default=None)
    detail = JSON(default="{}", help_text="Kind-specific facts, e.g. which custody role moves.")
    owner_role = Varchar(length=8, choices=HandoverTeam)
    assignee = ForeignKey(
        Employee,
        null=True,
        default=None,
        on_delete=OnDelete.restrict,
        help_text="Who does or receives it (the successor of a custody transfer).",
    )
    due_date = Date()
    evidence_needed = Text(default="", help_text="What proves the item done.")
    state = Varchar(length=16, choices=HandoverItemState, default=HandoverItemState.open.value)
    evidence = JSON(default="{}", help_text="What was recorded when it was done.")
    resolved_by = Integer(null=True, default=None, help_text="User id who completed or waived it.")
    resolved_by_email = Varchar(length=320, default="")
    resolved_at = Timestamptz(null=True, default=None)
    auto_completed = Boolean(
        default=False, help_text="Completed by the register seeing the evidence."
    )
    waive_reason = Text(default="")
    overdue_notified_at = Timestamptz(null=True, default=None)
    version = Integer(default=1)
    updated_at = Timestamptz()


class SignOff(Table, tablename="handover_sign_off"):
    """One team's sign-off of a handover; HR and IT each sign, as different people."""

    id = Serial(primary_key=True)
    handover = ForeignKey(Handover, null=False, on_delete=OnDelete.restrict)
    team = Varchar(length=8, choices=HandoverTeam)
    user_id = Integer(help_text="The user who signed.")
    user_email = Varchar(length=320)
    note = Text(default="")
    signed_at = Timestamptz()


class HandoverDocument(Table, tablename="handover_document"):
    """A file kept as evidence of an item (the leaver's signed attestation), with its hash."""

    id = Serial(primary_key=True)
    handover = ForeignKey(Handover, null=False, on_delete=OnDelete.restrict)
    item = ForeignKey(HandoverItem, null=False, on_delete=OnDelete.restrict)
    filename = Varchar(length=255, default="")
    media_type = Varchar(length=100, default="application/pdf")
    size = Integer(default=0)
    sha256 = Varchar(length=64)
    content = Bytea(help_text="The file as uploaded.")
    uploaded_by = Integer(null=True, default=None)
    uploaded_at = Timestamptz()


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
