"""Request and response types of the incidents API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from accounts.enums import Platform
from incidents.enums import (
    Category,
    OwnerRole,
    Phase,
    ReportOutcome,
    Severity,
    Status,
    TaskKind,
)

Short = Annotated[str, msgspec.Meta(max_length=200)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
LongText = Annotated[str, msgspec.Meta(max_length=20000)]
Note = Annotated[str, msgspec.Meta(max_length=5000)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]
Url = Annotated[str, msgspec.Meta(min_length=10, max_length=2000, description="An http(s) URL.")]
Id = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
Version = Annotated[
    int, msgspec.Meta(ge=1, le=2**31 - 1, description="The version you read; a stale one gets 409.")
]
StepKey = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_]+$")]
Duration = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,6}[mhd]$", description="15m, 4h or 3d.")]


class IncidentCreate(msgspec.Struct, forbid_unknown_fields=True):
    """An incident to file; its category's current playbook gives the tasks."""

    title: Title
    category: Category
    severity: Severity
    description: LongText = ""
    platform: Platform | None = None
    account_id: Id | None = None
    employee_id: Id | None = None
    content_urls: Annotated[list[Url], msgspec.Meta(max_length=20)] = []
    commander_id: Id | None = None
    spokesperson_id: Id | None = None
    legal_id: Id | None = None
    hr_assignee_id: Id | None = None
    it_assignee_id: Id | None = None
    reporter_name: Short = ""
    reporter_contact: Annotated[str, msgspec.Meta(max_length=320)] = ""


class IncidentUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change; omit what stays. Severity changes move the clocks."""

    version: Version
    title: Title | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    severity: Severity | UnsetType = UNSET
    platform: Platform | UnsetType | None = UNSET
    account_id: Id | UnsetType | None = UNSET
    employee_id: Id | UnsetType | None = UNSET
    content_urls: Annotated[list[Url], msgspec.Meta(max_length=20)] | UnsetType = UNSET
    commander_id: Id | UnsetType | None = UNSET
    spokesperson_id: Id | UnsetType | None = UNSET
    legal_id: Id | UnsetType | None = UNSET
    reporter_name: Short | UnsetType = UNSET
    reporter_contact: Annotated[str, msgspec.Meta(max_length=320)] | UnsetType = UNSET
    post_request_id: Id | UnsetType | None = UNSET


class IncidentOut(msgspec.Struct):
    """An incident. reporter_name and reporter_contact are shown to HR only (null otherwise)."""

    id: int
    reference: str
    title: str
    description: str
    category: str
    severity: str
    severity_at_filing: str
    highest_severity: str
    status: str
    platform: str
    account_id: int | None
    employee_id: int | None
    content_urls: list[str]
    post_request_id: Annotated[
        int | None, msgspec.Meta(description="The post request the incident concerns, if any.")
    ]
    reporter_id: int | None
    reporter_name: str | None
    reporter_contact: str | None
    via_intake: bool
    commander_id: int | None
    spokesperson_id: int | None
    legal_id: int | None
    playbook_id: int
    playbook_version: int
    reported_at: dt.datetime
    acknowledged_at: dt.datetime | None
    triaged_at: dt.datetime | None
    contained_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    next_update_due_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class IncidentSummary(msgspec.Struct):
    """An incident in a list."""

    id: int
    reference: str
    title: str
    category: str
    severity: str
    status: str
    platform: str
    account_id: int | None
    employee_id: int | None
    commander_id: int | None
    reported_at: dt.datetime
    acknowledged_at: dt.datetime | None
    contained_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    version: int


class IncidentPage(msgspec.Struct):
    """A page of incidents, newest first."""

    items: list[IncidentSummary]
    limit: int
    offset: int
    next_offset: int | None


class StatusChange(msgspec.Struct, forbid_unknown_fields=True):
    """Move the incident forward (reported -> triaged -> contained -> resolved -> closed)."""

    status: Status
    version: Version
    note: Note = ""


class TaskOut(msgspec.Struct):
    """A task of an incident."""

    id: int
    incident_id: int
    step_key: str
    title: str
    guidance: str
    phase: str
    owner_role: str
    kind: str
    assignee_id: int | None
    due_at: dt.datetime | None
    mandatory: bool
    requires: list[str]
    state: str
    note: str
    done_by: int | None
    done_at: dt.datetime | None
    position: int
    version: int
    created_at: dt.datetime
    # "legal": only legal counsel (or an admin) may finish it, and finishing it signs it off.
    sign_off: str | None = None
    signed_off_by: int | None = None
    signed_off_as: str | None = None
    signed_off_at: dt.datetime | None = None


class TaskCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A task added by hand."""

    title: Title
    phase: Phase = Phase.resolve
    owner_role: OwnerRole = OwnerRole.comms
    kind: TaskKind = TaskKind.step
    guidance: Note = ""
    assignee_id: Id | None = None
    due_at: dt.datetime | None = None
    mandatory: bool = False
    requires: Annotated[list[StepKey], msgspec.Meta(max_length=20)] = []


class MyTaskIncident(msgspec.Struct):
    """The incident a task belongs to, as much as names it to the person doing the task."""

    id: int
    reference: str
    title: str
    severity: str


class MyTask(msgspec.Struct):
    """A task assigned to the caller, with its incident named."""

    id: int
    incident_id: int
    title: str
    guidance: str
    phase: str
    kind: str
    due_at: dt.datetime | None
    mandatory: bool
    state: str
    note: str
    done_at: dt.datetime | None
    version: int
    incident: MyTaskIncident
    # The titles of the steps this one waits for, still open.
    waiting_for: list[str]
    # Whether the caller may complete it now (POST .../tasks/{id}/complete).
    may_complete: bool
    # "legal": only legal counsel (or an admin) may finish it.
    sign_off: str | None = None


class TaskComplete(msgspec.Struct, forbid_unknown_fields=True):
    """Complete a task; the note says what was done or decided."""

    note: Note = ""


class TaskSkip(msgspec.Struct, forbid_unknown_fields=True):
    """Skip a task that is not mandatory; the reason is kept."""

    reason: Reason


class TaskAssign(msgspec.Struct, forbid_unknown_fields=True):
    """Give the task to someone (null: back to its team), optionally with a new due time."""

    version: Version
    assignee_id: Id | None = None
    due_at: dt.datetime | None = None


class TimelineOut(msgspec.Struct):
    """One line of the timeline."""

    id: int
    at: dt.datetime
    actor_id: int | None
    actor: str
    kind: str
    text: str
    data: dict[str, Any]


class TimelinePage(msgspec.Struct):
    """A page of the timeline, oldest first."""

    items: list[TimelineOut]
    limit: int
    offset: int
    next_offset: int | None


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    """A note; a status update also restarts the update cadence."""

    text: Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]
    status_update: bool = False


class EvidenceUrlIn(msgspec.Struct, forbid_unknown_fields=True):
    """A link captured as evidence."""

    url: Url
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    captured_at: dt.datetime | None = None


class EvidenceOut(msgspec.Struct):
    """What is known about an evidence item without opening it."""

    id: int
    incident_id: int
    kind: str
    media_type: str
    size: int
    sha256: str
    description: str
    captured_by: int | None
    captured_by_email: str
    captured_at: dt.datetime
    created_at: dt.datetime


class EvidenceOpened(EvidenceOut):
    """An evidence item opened (audited): the URL, or the file's name (content: /content)."""

    url: str | None = None
    filename: str | None = None


class ReportIn(msgspec.Struct, forbid_unknown_fields=True):
    """A report made to a platform."""

    platform: Platform
    report_ref: Short = ""
    submitted_at: dt.datetime | None = None
    answer: Note = ""
    outcome: ReportOutcome = ReportOutcome.pending


class ReportUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """The platform's answer and the outcome."""

    version: Version
    report_ref: Short | UnsetType = UNSET
    answer: Note | UnsetType = UNSET
    outcome: ReportOutcome | UnsetType = UNSET


class ReportOut(msgspec.Struct):
    """A report made to a platform."""

    id: int
    incident_id: int
    platform: str
    report_ref: str
    submitted_at: dt.datetime
    answer: str
    answered_at: dt.datetime | None
    outcome: str
    created_by: int | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ReviewIn(msgspec.Struct, forbid_unknown_fields=True):
    """The post-incident review; version 0 for the first write."""

    version: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] = 0
    summary: LongText | None = None
    impact: LongText | None = None
    root_cause: LongText | None = None
    went_well: LongText | None = None
    to_improve: LongText | None = None


class SignOff(msgspec.Struct, forbid_unknown_fields=True):
    """The reviewer's sign-off of the version read."""

    version: Version


class ActionIn(msgspec.Struct, forbid_unknown_fields=True):
    """A follow-up action from the review: a task with an owner and a due date."""

    title: Title
    due_at: dt.datetime
    owner_role: OwnerRole = OwnerRole.comms
    assignee_id: Id | None = None
    guidance: Note = ""


class ReviewOut(msgspec.Struct):
    """A post-incident review with its follow-up actions."""

    id: int
    incident_id: int
    summary: str
    impact: str
    root_cause: str
    went_well: str
    to_improve: str
    signed_off_by: int | None
    signed_off_at: dt.datetime | None
    version: int
    created_by: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    follow_up_actions: list[TaskOut]


class ReviewHit(msgspec.Struct):
    """A review found by search."""

    id: int
    incident_id: int
    reference: str
    title: str
    category: str
    severity: str
    summary: str
    impact: str
    root_cause: str
    went_well: str
    to_improve: str
    signed_off_by: int | None
    signed_off_at: dt.datetime | None
    version: int
    created_by: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ReviewPage(msgspec.Struct):
    """A page of reviews, newest first."""

    items: list[ReviewHit]
    limit: int
    offset: int
    next_offset: int | None


class IntakeIn(msgspec.Struct, forbid_unknown_fields=True):
    """A confidential report. Stay anonymous, or give a name that only HR will see."""

    category: Category
    title: Title
    description: LongText = ""
    platform: Platform | None = None
    content_urls: Annotated[list[Url], msgspec.Meta(max_length=20)] = []
    urgent: bool = False
    anonymous: bool = True
    reporter_name: Short = ""
    reporter_contact: Annotated[str, msgspec.Meta(max_length=320)] = ""


class IntakeOut(msgspec.Struct):
    """The receipt: keep the reference to follow up."""

    reference: str
    received_at: dt.datetime
    anonymous: bool


class PlaybookStep(msgspec.Struct, forbid_unknown_fields=True):
    """A step of a playbook."""

    key: StepKey
    title: Title
    owner: OwnerRole
    phase: Phase
    guidance: Note = ""
    mandatory: bool = False
    kind: TaskKind = TaskKind.step
    requires: Annotated[list[StepKey], msgspec.Meta(max_length=20)] = []
    due: dict[Severity, Duration] = {}


class PlaybookOut(msgspec.Struct):
    """One version of a category's playbook."""

    id: int
    category: str
    version: int
    title: str
    summary: str
    escalate_to: list[str]
    needs_account: bool
    steps: list[PlaybookStep]
    current: bool
    source: str
    created_by: int | None
    created_at: dt.datetime


class PlaybookEdit(msgspec.Struct, forbid_unknown_fields=True):
    """A new version of a playbook; `version` is the current one you read."""

    version: Version
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    steps: Annotated[list[PlaybookStep], msgspec.Meta(min_length=1, max_length=40)]
    summary: Note = ""
    escalate_to: list[Annotated[str, msgspec.Meta(max_length=16)]] = []
    needs_account: bool = False


class SeverityOut(msgspec.Struct):
    """A severity's written definition and clocks."""

    severity: str
    definition: str
    acknowledge_minutes: int
    contain_minutes: int
    resolve_minutes: int
    review_minutes: int
    update_every_minutes: int
    escalation_roles: list[str]
    review_required: bool


class DurationStats(msgspec.Struct):
    """Minutes from filing to a milestone."""

    count: int
    median_minutes: float | None
    mean_minutes: float | None
    max_minutes: float | None


class GroupMetrics(msgspec.Struct):
    """Incidents filed in the period in one group, and how fast they moved."""

    filed: int
    acknowledge: DurationStats
    contain: DurationStats
    resolve: DurationStats


class Metrics(msgspec.Struct):
    """How incidents are handled over a period.

    `by_severity` groups by the severity now, `by_severity_at_filing` by the one filed with and
    `by_highest_severity` by the worst reached, so an incident filed SEV1 and lowered still counts
    as a SEV1 in the last two.
    """

    since: dt.datetime
    until: dt.datetime
    filed: int
    by_severity: dict[str, GroupMetrics]
    by_severity_at_filing: dict[str, GroupMetrics]
    by_highest_severity: dict[str, GroupMetrics]
    by_category: dict[str, GroupMetrics]
    open_by_severity: dict[str, int]
    overdue_tasks: int
    overdue_by_owner: dict[str, int]


class ClockCheck(msgspec.Struct):
    """What a clock check notified."""

    unacknowledged: int
    overdue_tasks: int
    updates_due: int
