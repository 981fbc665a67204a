"""Tables of policies (versions, acknowledgements) and training (courses, completions)."""

from __future__ import annotations

from piccolo.columns import Boolean, Date, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.reference import LazyTableReference
from piccolo.table import Table

from register.policies.enums import PolicyKind, VersionState

EMPLOYEE = LazyTableReference("Employee", module_path="register.staff.tables")
USER = LazyTableReference("User", module_path="register.tables")


class Policy(Table, tablename="policy"):
    """A policy staff must know: its title, kind, owner and whom it applies to."""

    id = Serial(primary_key=True)
    title = Varchar(length=200, help_text="What staff see in their list of policies.")
    kind = Varchar(length=24, choices=PolicyKind, help_text="Job use, personal use or a guideline.")
    owner = ForeignKey(
        USER,
        null=True,
        default=None,
        on_delete=OnDelete.set_null,
        help_text="The user who keeps it under review and is reminded before the date.",
    )
    department = Varchar(
        length=120, default="", help_text="Whom it applies to: one department, or '' for everyone."
    )
    version = Integer(default=1, help_text="Bumped on every update; a stale update gets 409.")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class PolicyVersion(Table, tablename="policy_version"):
    """One text of a policy: a draft until published, then acknowledged, then superseded."""

    id = Serial(primary_key=True)
    policy = ForeignKey(Policy, on_delete=OnDelete.cascade, index=True)
    number = Integer(help_text="1, 2, ... within its policy.")
    body = Text(help_text="The text in Markdown (raw HTML is not rendered).")
    state = Varchar(length=16, default=VersionState.draft.value, choices=VersionState)
    effective_on = Date(help_text="The day the text applies from.")
    review_by = Date(help_text="Next review, at most six months after the effective date.")
    published_at = Timestamptz(null=True, default=None)
    department = Varchar(
        length=120, default="", help_text="Whom publishing asked: the policy's at that moment."
    )
    review_reminded_at = Timestamptz(
        null=True, default=None, help_text="When the owner was reminded that review is near."
    )
    version = Integer(default=1, help_text="Bumped on every update; a stale update gets 409.")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class PolicyAcknowledgement(Table, tablename="policy_acknowledgement"):
    """A person asked to acknowledge a published version, and when they did (once)."""

    id = Serial(primary_key=True)
    policy_version = ForeignKey(PolicyVersion, on_delete=OnDelete.cascade)
    employee = ForeignKey(EMPLOYEE, on_delete=OnDelete.cascade, index=True)
    asked_at = Timestamptz(help_text="When publishing (or their own reading) asked them.")
    acknowledged_at = Timestamptz(null=True, default=None, help_text="Set once, never changed.")
    acknowledged_by = ForeignKey(
        USER,
        null=True,
        default=None,
        on_delete=OnDelete.set_null,
        help_text="The register user who acknowledged (the person themselves).",
    )
    reminded_at = Timestamptz(null=True, default=None, help_text="The last reminder sent.")


class TrainingCourse(Table, tablename="training_course"):
    """A course some people must hold: by role, or by the accounts' platforms they have access to."""

    id = Serial(primary_key=True)
    title = Varchar(length=200, unique=True, help_text="The course's name; imports match on it.")
    description = Text(default="")
    required_roles = Varchar(
        length=200,
        default="",
        help_text="Register roles that must hold it, comma-wrapped (',comms,it,'), '' for none.",
    )
    required_platforms = Varchar(
        length=400,
        default="",
        help_text="Platforms whose grant holders must hold it, comma-wrapped; ',*,' every account.",
    )
    renewal_months = Integer(
        null=True, default=None, help_text="Months a completion stays current; none: for good."
    )
    active = Boolean(default=True, help_text="A retired course is required of nobody.")
    version = Integer(default=1, help_text="Bumped on every update; a stale update gets 409.")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class TrainingCompletion(Table, tablename="training_completion"):
    """A person completed a course on a day, with evidence."""

    id = Serial(primary_key=True)
    course = ForeignKey(TrainingCourse, on_delete=OnDelete.cascade)
    employee = ForeignKey(EMPLOYEE, on_delete=OnDelete.cascade, index=True)
    completed_on = Date()
    valid_until = Date(
        null=True,
        default=None,
        help_text="Last day it counts (completed_on + the course's renewal); none: for good.",
    )
    evidence = Varchar(length=500, default="", help_text="A certificate's reference or link.")
    created_at = Timestamptz()


# One acknowledgement row per person and version; one completion per person, course and day.
INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS policy_version_number "
    'ON "policy_version" ("policy", "number")',
    "CREATE UNIQUE INDEX IF NOT EXISTS policy_acknowledgement_once "
    'ON "policy_acknowledgement" ("policy_version", "employee")',
    "CREATE UNIQUE INDEX IF NOT EXISTS training_completion_once "
    'ON "training_completion" ("course", "employee", "completed_on")',
]


def statements(engine_type: str) -> list[str]:
    """The unique indexes Piccolo cannot declare (the same on both engines)."""
    return list(INDEXES)
