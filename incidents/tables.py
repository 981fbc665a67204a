"""Tables of incidents: playbooks, the incident, its tasks, timeline, evidence, reports, review."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    Bytea,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from accounts.posts.tables import PostRequest
from accounts.tables import SocialAccount
from incidents.enums import Category, ReportOutcome, Severity, Status, TaskState
from register.staff.tables import Employee


class Playbook(Table, tablename="playbook"):
    """One version of a category's playbook; an edit adds a version, incidents keep theirs."""

    id = Serial(primary_key=True)
    category = Varchar(length=40, choices=Category)
    version = Integer(help_text="1 for the shipped file; each edit adds one.")
    title = Varchar(length=200)
    summary = Text(default="")
    escalate_to = JSON(
        default="[]", help_text="Roles told on filing at SEV1/SEV2 besides the severity's."
    )
    needs_account = Boolean(
        default=False, help_text="Filing needs a registered account (compromise)."
    )
    steps = JSON(
        default="[]", help_text="The steps, as the API shows them; never changed in place."
    )
    current = Boolean(default=True, help_text="The version new incidents get.")
    source = Varchar(
        length=40, default="file", help_text="'file' (shipped) or 'edit' (an admin's)."
    )
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()


class IncidentCounter(Table, tablename="incident_counter"):
    """The last reference number given in a year (INC-YYYY-NNNN), taken with an atomic upsert."""

    id = Serial(primary_key=True)
    year = Integer(unique=True)
    last = Integer(default=0)


class Incident(Table, tablename="incident"):
    """Something that went wrong in public, worked through its category's playbook."""

    id = Serial(primary_key=True)
    reference = Varchar(length=20, unique=True, help_text="INC-YYYY-NNNN, given on filing.")
    title = Varchar(length=300)
    description = Text(default="")
    category = Varchar(length=40, choices=Category)
    severity = Varchar(length=8, choices=Severity)
    severity_at_filing = Varchar(
        length=8, choices=Severity, default="", help_text="As filed; metrics report by it."
    )
    highest_severity = Varchar(
        length=8,
        choices=Severity,
        default="",
        help_text="The worst it has been; metrics report by it, whatever it was lowered to.",
    )
    status = Varchar(length=16, choices=Status, default=Status.reported.value)
    platform = Varchar(length=32, default="")
    account = ForeignKey(
        SocialAccount,
        null=True,
        default=None,
        on_delete=OnDelete.restrict,
        help_text="The registered account concerned, if any.",
    )
    employee = ForeignKey(
        Employee,
        null=True,
        default=None,
        on_delete=OnDelete.restrict,
        help_text="The employee involved (who posted, or who is targeted).",
    )
    content_urls = JSON(default="[]", help_text="Where the content is (public links).")
    reporter_id = Integer(null=True, default=None, help_text="User who filed it; null from intake.")
    reporter_name = Varchar(
        length=200,
        default="",
        secret=True,
        help_text="A named reporter (intake or on behalf); shown to HR only.",
    )
    reporter_contact = Varchar(length=320, default="", secret=True, help_text="HR only.")
    via_intake = Boolean(default=False, help_text="Came through the confidential intake link.")
    commander_id = Integer(null=True, default=None, help_text="User who leads the incident.")
    spokesperson_id = Integer(null=True, default=None, help_text="The authorised spokesperson.")
    legal_id = Integer(null=True, default=None, help_text="User who carries the legal steps.")
    playbook = ForeignKey(Playbook, null=False, on_delete=OnDelete.restrict)
    playbook_version = Integer()
    reported_at = Timestamptz()
    acknowledged_at = Timestamptz(null=True, default=None)
    triaged_at = Timestamptz(null=True, default=None)
    contained_at = Timestamptz(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    account_marked_at = Timestamptz(
        null=True,
        default=None,
        help_text="When the account was marked compromised by this incident.",
    )
    next_update_due_at = Timestamptz(null=True, default=None, help_text="Status update cadence.")
    update_reminded_at = Timestamptz(null=True, default=None)
    escalated_at = Timestamptz(
        null=True, default=None, help_text="Last not-acknowledged escalation."
    )
    post_request = ForeignKey(
        PostRequest,
        null=True,
        default=None,
        on_delete=OnDelete.restrict,
        help_text="The post request (from a company account) the incident concerns, if any.",
    )
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class IncidentTask(Table, tablename="incident_task"):
    """A step of the incident's playbook, or one added by hand, with an owner and a clock."""

    id = Serial(primary_key=True)
    incident = ForeignKey(Incident, null=False, on_delete=OnDelete.restrict)
    step_key = Varchar(length=60, help_text="The playbook step's key; unique per incident.")
    title = Varchar(length=300)
    guidance = Text(default="")
    phase = Varchar(length=16)
    owner_role = Varchar(length=16)
    kind = Varchar(length=24, default="step")
    assignee_id = Integer(null=True, default=None)
    due_at = Timestamptz(null=True, default=None)
    mandatory = Boolean(default=False)
    requires = JSON(default="[]", help_text="Step keys that must be done first.")
    state = Varchar(length=16, choices=TaskState, default=TaskState.open.value)
    note = Text(default="", help_text="Completion note or skip reason.")
    done_by = Integer(null=True, default=None)
    done_at = Timestamptz(null=True, default=None)
    signed_off_by = Integer(
        null=True, default=None, help_text="Who signed a step that needs legal counsel."
    )
    signed_off_as = Varchar(
        length=16, default="", help_text="The signer's role then: legal, or an admin standing in."
    )
    signed_off_at = Timestamptz(null=True, default=None)
    overdue_notified_at = Timestamptz(null=True, default=None)
    position = Integer(default=0)
    version = Integer(default=1)
    created_at = Timestamptz()


class TimelineEntry(Table, tablename="timeline_entry"):
    """One line of the incident's record: every change, and people's notes."""

    id = Serial(primary_key=True)
    incident = ForeignKey(Incident, null=False, on_delete=OnDelete.restrict)
    at = Timestamptz()
    actor_id = Integer(null=True, default=None)
    actor = Varchar(length=320, default="")
    kind = Varchar(length=24)
    text = Text(default="")
    data = JSON(default="{}")


class Evidence(Table, tablename="evidence"):
    """A link or a file captured as evidence; content sealed with envelope encryption."""

    id = Serial(primary_key=True)
    incident = ForeignKey(Incident, null=False, on_delete=OnDelete.restrict)
    kind = Varchar(length=8)
    wrapped_key = Varchar(length=200, default="", secret=True)
    key_version = Integer(default=0)
    url_ct = Text(null=True, default=None, secret=True, help_text="The sealed URL.")
    filename_ct = Text(null=True, default=None, secret=True, help_text="The sealed file name.")
    content_ct = Bytea(null=True, default=None, secret=True, help_text="The sealed file content.")
    media_type = Varchar(length=120, default="")
    size = Integer(default=0)
    sha256 = Varchar(length=64, help_text="SHA-256 of the file content or the URL, before sealing.")
    description = Text(default="")
    captured_by = Integer(null=True, default=None)
    captured_by_email = Varchar(length=320, default="")
    captured_at = Timestamptz(help_text="When it was captured (may be before it was uploaded).")
    created_at = Timestamptz()


class PlatformReport(Table, tablename="platform_report"):
    """A report made to a platform (takedown, impersonation), followed until it is answered."""

    id = Serial(primary_key=True)
    incident = ForeignKey(Incident, null=False, on_delete=OnDelete.restrict)
    platform = Varchar(length=32)
    report_ref = Varchar(length=200, default="", help_text="The platform's report or case id.")
    submitted_at = Timestamptz()
    answer = Text(default="", help_text="What the platform answered.")
    answered_at = Timestamptz(null=True, default=None)
    outcome = Varchar(length=16, choices=ReportOutcome, default=ReportOutcome.pending.value)
    created_by = Integer(null=True, default=None)
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Review(Table, tablename="incident_review"):
    """The post-incident review; follow-up actions are tasks of the review phase."""

    id = Serial(primary_key=True)
    incident = ForeignKey(Incident, null=False, unique=True, on_delete=OnDelete.restrict)
    summary = Text(default="")
    impact = Text(default="")
    root_cause = Text(default="")
    went_well = Text(default="")
    to_improve = Text(default="")
    signed_off_by = Integer(null=True, default=None)
    signed_off_at = Timestamptz(null=True, default=None)
    version = Integer(default=1)
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class IntakeAttempt(Table, tablename="incident_intake_attempt"):
    """A confidential report's arrival by client address, for the per-address rate limit only."""

    id = Serial(primary_key=True)
    address_hash = Varchar(length=64, help_text="SHA-256 of the address; the address is not kept.")
    at = Timestamptz()


__all__ = [
    "Evidence",
    "Incident",
    "IncidentCounter",
    "IncidentTask",
    "IntakeAttempt",
    "PlatformReport",
    "Playbook",
    "Review",
    "TimelineEntry",
]


# Piccolo cannot declare these; a migration applies them and the schema test adds them.
INDEXES = [
    'CREATE UNIQUE INDEX IF NOT EXISTS playbook_category_version ON "playbook" ("category", "version")',
    'CREATE INDEX IF NOT EXISTS playbook_category_current ON "playbook" ("category", "current")',
    'CREATE INDEX IF NOT EXISTS incident_status_severity ON "incident" ("status", "severity", "id")',
    'CREATE INDEX IF NOT EXISTS incident_severity ON "incident" ("severity", "id")',
    'CREATE INDEX IF NOT EXISTS incident_category_status ON "incident" ("category", "status", "id")',
    'CREATE INDEX IF NOT EXISTS incident_platform ON "incident" ("platform", "id")',
    'CREATE INDEX IF NOT EXISTS incident_account ON "incident" ("account", "status")',
    'CREATE INDEX IF NOT EXISTS incident_employee ON "incident" ("employee")',
    'CREATE INDEX IF NOT EXISTS incident_commander ON "incident" ("commander_id", "status")',
    'CREATE INDEX IF NOT EXISTS incident_reported_at ON "incident" ("reported_at")',
    'CREATE INDEX IF NOT EXISTS incident_playbook ON "incident" ("playbook")',
    'CREATE UNIQUE INDEX IF NOT EXISTS incident_task_step ON "incident_task" ("incident", "step_key")',
    'CREATE INDEX IF NOT EXISTS incident_task_open_due ON "incident_task" ("state", "due_at")',
    'CREATE INDEX IF NOT EXISTS incident_task_assignee ON "incident_task" ("assignee_id", "state")',
    'CREATE INDEX IF NOT EXISTS timeline_entry_incident ON "timeline_entry" ("incident", "id")',
    'CREATE INDEX IF NOT EXISTS evidence_incident ON "evidence" ("incident")',
    'CREATE INDEX IF NOT EXISTS evidence_key_version ON "evidence" ("key_version")',
    'CREATE INDEX IF NOT EXISTS platform_report_incident ON "platform_report" ("incident")',
    'CREATE INDEX IF NOT EXISTS incident_intake_attempt_address ON "incident_intake_attempt" ("address_hash", "at")',
]


def statements(engine_type: str) -> list[str]:
    """The extra statements, the same on both engines."""
    return list(INDEXES)
