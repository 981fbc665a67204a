"""Tables of offboarding handovers: templates, items, sign-offs, documents, exceptions."""

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

from accounts.handovers.enums import (
    HandoverHolding,
    HandoverItemKind,
    HandoverItemState,
    HandoverState,
    HandoverTeam,
)
from register.staff.tables import Employee


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
    position = Integer(
        default=0, help_text="Order within the department's items (lower first, then by id)."
    )
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


class HandoverException(Table, tablename="handover_exception"):
    """Something the leaver keeps after the handover completes, named by an admin with a reason."""

    id = Serial(primary_key=True)
    handover = ForeignKey(Handover, null=False, on_delete=OnDelete.restrict, index=True)
    holding = Varchar(
        length=16,
        choices=HandoverHolding,
        help_text="What is kept: custodian, backup, mfa_holder, recovery_email, recovery_phone, grant.",
    )
    account_id = Integer(help_text="The social account it is on.")
    grant_id = Integer(null=True, default=None, help_text="The grant, when what is kept is one.")
    reason = Text(help_text="Why the leaver keeps it.")
    recorded_by = Integer(null=True, default=None, help_text="User id of the admin who named it.")
    recorded_by_email = Varchar(length=320, default="")
    recorded_at = Timestamptz()


HANDOVER_INDEXES = [
    # One live handover per leaver; completed and cancelled ones stay as history.
    'CREATE UNIQUE INDEX IF NOT EXISTS handover_one_live ON "handover" ("employee") '
    "WHERE \"state\" IN ('draft', 'open', 'awaiting_sign_off')",
    'CREATE INDEX IF NOT EXISTS handover_employee ON "handover" ("employee", "id")',
    'CREATE INDEX IF NOT EXISTS handover_state_leaving ON "handover" ("state", "leaving_date", "id")',
    'CREATE INDEX IF NOT EXISTS handover_item_handover ON "handover_item" ("handover", "position", "id")',
    'CREATE INDEX IF NOT EXISTS handover_item_state_due ON "handover_item" ("state", "due_date")',
    'CREATE INDEX IF NOT EXISTS handover_item_target ON "handover_item" ("target_type", "target_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS handover_sign_off_team ON "handover_sign_off" ("handover", "team")',
    'CREATE UNIQUE INDEX IF NOT EXISTS handover_sign_off_user ON "handover_sign_off" ("handover", "user_id")',
    'CREATE INDEX IF NOT EXISTS handover_template_department ON "handover_template" ("department", "active")',
    'CREATE INDEX IF NOT EXISTS handover_document_item ON "handover_document" ("item")',
]


def statements(engine_type: str) -> list[str]:
    """The handovers' indexes (migration accounts_0004, with the accounts' RECOVERY_INDEXES)."""
    return list(HANDOVER_INDEXES)


class AttestationLink(Table, tablename="handover_attestation_link"):
    """A one-time link that lets the leaver attest without an account; only its hash is kept."""

    id = Serial(primary_key=True)
    handover = ForeignKey(Handover, null=False, on_delete=OnDelete.restrict, index=True)
    item = ForeignKey(
        HandoverItem, null=False, on_delete=OnDelete.restrict, help_text="The attestation item."
    )
    token_sha256 = Varchar(
        length=64, unique=True, help_text="SHA-256 of the link's token; the token is shown once."
    )
    expires_at = Timestamptz(help_text="After this moment the link opens nothing.")
    created_by = Integer(null=True, default=None, help_text="User id of HR who made it.")
    created_by_email = Varchar(length=320, default="")
    created_at = Timestamptz()
    opened_at = Timestamptz(null=True, default=None, help_text="When the leaver first opened it.")
    used_at = Timestamptz(null=True, default=None, help_text="When the leaver attested with it.")
    revoked_at = Timestamptz(
        null=True, default=None, help_text="When HR withdrew it; a revoked link opens nothing."
    )
    revoked_by_email = Varchar(length=320, default="", help_text="Who withdrew it.")
