"""Request and response types of policies and training."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from register.enums import Role
from register.policies.enums import PolicyKind, TrainingStatus, VersionState
from register.schemas import Name

Department = Annotated[
    str, msgspec.Meta(max_length=120, description="One department, or empty for everyone.")
]
Body = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=100_000,
        description="The text in Markdown; raw HTML is not rendered.",
    ),
]
Evidence = Annotated[
    str, msgspec.Meta(max_length=500, description="A certificate's reference or a link to it.")
]
Months = Annotated[int, msgspec.Meta(ge=1, le=120)]
# An id that fits the columns it is looked up in (a larger one fails in PostgreSQL, not here).
RowId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
RowVersion = Annotated[
    int, msgspec.Meta(ge=1, le=2**31 - 1, description="The version you read; a stale one gets 409.")
]
Platform = Annotated[
    str, msgspec.Meta(min_length=1, max_length=40, description="A platform, or '*' for any.")
]


class PolicyCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new policy and the text of its first draft."""

    title: Name
    kind: PolicyKind
    owner_id: RowId
    body: Body
    effective_on: dt.date
    review_by: Annotated[
        dt.date, msgspec.Meta(description="At most six months after effective_on.")
    ]
    department: Department = ""


class PolicyUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Fields of a policy to change; send the version you read."""

    version: RowVersion
    title: Name | UnsetType = UNSET
    kind: PolicyKind | UnsetType = UNSET
    owner_id: RowId | UnsetType = UNSET
    department: Department | UnsetType = UNSET


class DraftIn(msgspec.Struct, forbid_unknown_fields=True):
    """The policy's next text: a new draft, or the open draft changed (send its version)."""

    body: Body
    effective_on: dt.date
    review_by: dt.date
    version: RowVersion | None = None


class PublishIn(msgspec.Struct, forbid_unknown_fields=True):
    """Publish a draft; send the version of the draft you read."""

    version: RowVersion


class VersionOut(msgspec.Struct):
    """One text of a policy."""

    id: int
    policy_id: int
    number: int
    body: str
    state: VersionState
    effective_on: dt.date
    review_by: dt.date
    published_at: dt.datetime | None
    department: str
    version: int


class PublishedOut(msgspec.Struct):
    """A version just published, and how many people it asked to acknowledge it."""

    id: int
    policy_id: int
    number: int
    state: VersionState
    effective_on: dt.date
    review_by: dt.date
    published_at: dt.datetime | None
    department: str
    asked: int
    mailed: int


class PolicyOut(msgspec.Struct):
    """A policy with its versions, newest first."""

    id: int
    title: str
    kind: PolicyKind
    owner_id: int | None
    department: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    versions: list[VersionOut]
    current: VersionOut | None
    draft: VersionOut | None


class PolicySummary(msgspec.Struct):
    """A policy in a list, with its current and draft versions."""

    id: int
    title: str
    kind: PolicyKind
    owner_id: int | None
    department: str
    version: int
    current: VersionOut | None
    draft: VersionOut | None


class MyPolicy(msgspec.Struct):
    """A published policy that applies to the reader, and when they acknowledged it."""

    id: int
    policy_id: int
    title: str
    kind: PolicyKind
    number: int
    effective_on: dt.date
    acknowledged_at: dt.datetime | None


class AcknowledgementOut(msgspec.Struct):
    """The reader's acknowledgement of a version; a second one returns the first's time."""

    version_id: int
    acknowledged_at: dt.datetime
    new: bool


class AskedOut(msgspec.Struct):
    """A person asked to acknowledge a version, and when they did."""

    employee_id: int
    name: str
    asked_at: dt.datetime
    acknowledged_at: dt.datetime | None


class CoverageOut(msgspec.Struct):
    """How many of those asked have acknowledged a published version."""

    policy_id: int
    version_id: int
    number: int
    title: str
    asked: int
    acknowledged: int


class FindingOut(msgspec.Struct):
    """A policy whose review date has passed."""

    kind: str
    severity: str
    message: str
    policy_id: int
    version_id: int
    title: str
    owner_id: int | None
    review_by: dt.date
    days_over: int


class CourseCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A training course and whom it is required of."""

    title: Name
    description: Annotated[str, msgspec.Meta(max_length=10_000)] = ""
    required_roles: list[Role] = []
    required_platforms: Annotated[list[Platform], msgspec.Meta(max_length=20)] = []
    renewal_months: Months | None = None


class CourseUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Fields of a course to change; send the version you read."""

    version: RowVersion
    title: Name | UnsetType = UNSET
    description: Annotated[str, msgspec.Meta(max_length=10_000)] | UnsetType = UNSET
    required_roles: list[Role] | UnsetType = UNSET
    required_platforms: Annotated[list[Platform], msgspec.Meta(max_length=20)] | UnsetType = UNSET
    renewal_months: Months | UnsetType | None = UNSET
    active: bool | UnsetType = UNSET


class CourseOut(msgspec.Struct):
    """A training course."""

    id: int
    title: str
    description: str
    required_roles: list[str]
    required_platforms: list[str]
    renewal_months: int | None
    active: bool
    version: int


class CompletionIn(msgspec.Struct, forbid_unknown_fields=True):
    """A person completed a course on a day."""

    course_id: RowId
    employee_id: RowId
    completed_on: dt.date
    evidence: Evidence = ""


class CompletionOut(msgspec.Struct):
    """A completion of a course, and the last day it counts (none: for good)."""

    id: int
    course_id: int
    employee_id: int
    completed_on: dt.date
    valid_until: dt.date | None
    evidence: str


class CompletionPage(msgspec.Struct):
    """A page of completions."""

    items: list[CompletionOut]
    limit: int
    offset: int
    next_offset: int | None


class StandingOut(msgspec.Struct):
    """A person a course is required of, and where they stand."""

    employee_id: int
    name: str
    status: TrainingStatus
    completed_on: dt.date | None
    valid_until: dt.date | None


class MyTraining(msgspec.Struct):
    """A course of the reader's: required of them or completed, and where they stand."""

    course_id: int
    title: str
    required: bool
    status: TrainingStatus
    completed_on: dt.date | None
    valid_until: dt.date | None
    evidence: str


class TrainingCoverageOut(msgspec.Struct):
    """A course: how many it is required of, and how many are current, due, overdue or missing."""

    course_id: int
    title: str
    required: int
    current: int
    due: int
    overdue: int
    missing: int


class ImportResult(msgspec.Struct):
    """What an all-or-nothing import of completions did."""

    rows: int
    added: int
    unchanged: int
