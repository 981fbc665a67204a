"""Kinds and states of incidents: categories, severities with their clocks, phases, task states."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from register.enums import Role
from register.errors import InvalidValue
from register.i18n import N_


class Category(StrEnum):
    """What went wrong; each category has its own playbook."""

    confidential_info = "confidential_info"
    privacy_breach = "privacy_breach"
    account_compromise = "account_compromise"
    impersonation = "impersonation"
    employee_post = "employee_post"
    press_inquiry = "press_inquiry"
    location_reveal = "location_reveal"
    erroneous_post = "erroneous_post"
    spam_unauthorised = "spam_unauthorised"
    harassment = "harassment"


class Severity(StrEnum):
    """How bad it is; decides every clock."""

    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"


class Status(StrEnum):
    """Where an incident stands, in order."""

    reported = "reported"
    triaged = "triaged"
    contained = "contained"
    resolved = "resolved"
    closed = "closed"


STATUS_ORDER = list(Status)


class Phase(StrEnum):
    """The phase a playbook step belongs to; reaching a status ends its phase."""

    triage = "triage"
    contain = "contain"
    resolve = "resolve"
    review = "review"


# Reaching this status means the phase is over, so its mandatory tasks must be done first.
PHASE_ENDED_BY = {
    Status.triaged: Phase.triage,
    Status.contained: Phase.contain,
    Status.resolved: Phase.resolve,
    Status.closed: Phase.review,
}


class TaskState(StrEnum):
    """Where a task stands."""

    open = "open"
    done = "done"
    skipped = "skipped"


class OwnerRole(StrEnum):
    """Who a playbook step belongs to: a person on the incident, or a team."""

    commander = "commander"
    spokesperson = "spokesperson"
    comms = "comms"
    legal = "legal"
    hr = "hr"
    it = "it"


# The register role that works a team's steps (legal counsel may also be named per incident;
# admins stand in for anyone).
OWNER_ROLE_USERS: dict[OwnerRole, Role | None] = {
    OwnerRole.commander: None,
    OwnerRole.spokesperson: None,
    OwnerRole.comms: Role.comms,
    OwnerRole.legal: Role.legal,
    OwnerRole.hr: Role.hr,
    OwnerRole.it: Role.it,
}


class TaskKind(StrEnum):
    """Steps some rules look for."""

    step = "step"
    legal_review = "legal_review"
    disciplinary = "disciplinary"
    rotation = "rotation"
    recovery_contacts = "recovery_contacts"
    holding_statement = "holding_statement"
    regulator_decision = "regulator_decision"
    platform_report = "platform_report"
    follow_up = "follow_up"


# Kinds that are legal decisions whoever owns the step.
LEGAL_KINDS = frozenset({TaskKind.legal_review.value, TaskKind.regulator_decision.value})

# A statement approved before release: legal signs it when the playbook puts it behind a legal step.
RELEASE_KINDS = frozenset({TaskKind.holding_statement.value})

# Who signs off the steps that need legal counsel; admins stand in.
SIGN_OFF_ROLES = frozenset({Role.legal, Role.admin})


def is_legal_step(task: Mapping[str, Any]) -> bool:
    """A step of the legal team, or a legal decision."""
    return task["owner_role"] == OwnerRole.legal.value or task["kind"] in LEGAL_KINDS


def needs_legal_sign_off(task: Mapping[str, Any], required: Iterable[Mapping[str, Any]]) -> bool:
    """Whether only legal counsel (or an admin) may finish a task: a legal step, or a release
    approval that waits for one (the tasks it requires are given).

    Decided from the owner, kind and prerequisites every task carries, so incidents filed on a
    playbook version stored before this rule keep to it as well.
    """
    if is_legal_step(task):
        return True
    return task["kind"] in RELEASE_KINDS and any(is_legal_step(r) for r in required)


class EvidenceKind(StrEnum):
    """A link to the content, or an uploaded file (a screenshot)."""

    url = "url"
    file = "file"


class ReportOutcome(StrEnum):
    """What the platform did with a report."""

    pending = "pending"
    removed = "removed"
    restricted = "restricted"
    refused = "refused"
    no_response = "no_response"


class TimelineKind(StrEnum):
    """What a timeline entry records."""

    filed = "filed"
    acknowledged = "acknowledged"
    status = "status"
    severity = "severity"
    change = "change"
    note = "note"
    status_update = "status_update"
    task = "task"
    evidence = "evidence"
    platform_report = "platform_report"
    review = "review"
    escalation = "escalation"
    account = "account"


@dataclass(frozen=True)
class SeverityClock:
    """A severity's written definition and its clocks."""

    definition: str
    acknowledge: dt.timedelta
    contain: dt.timedelta
    resolve: dt.timedelta
    review: dt.timedelta
    update_every: dt.timedelta
    escalation_roles: tuple[Role, ...]
    review_required: bool


H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
D = dt.timedelta(days=1)

SEVERITIES: dict[Severity, SeverityClock] = {
    Severity.SEV1: SeverityClock(
        "Critical: a registered account is in someone else's hands or posting, confidential or "
        "personal data is public, or a story is spreading fast with press, regulator or legal "
        "attention. The crisis team works it now, around the clock.",
        acknowledge=15 * M,
        contain=4 * H,
        resolve=1 * D,
        review=5 * D,
        update_every=1 * H,
        escalation_roles=(Role.admin, Role.comms, Role.it, Role.hr),
        review_required=True,
    ),
    Severity.SEV2: SeverityClock(
        "High: real harm to people, customers or the brand is likely within a day (a damaging "
        "post gaining traction, an impersonator contacting customers, a press inquiry with a "
        "deadline). Worked the same business day, leads informed.",
        acknowledge=1 * H,
        contain=12 * H,
        resolve=3 * D,
        review=10 * D,
        update_every=4 * H,
        escalation_roles=(Role.admin, Role.comms),
        review_required=True,
    ),
    Severity.SEV3: SeverityClock(
        "Moderate: limited reach or harm that can be contained in normal working hours (an "
        "off-brand post, a geotagged photo, spam from an official account noticed early).",
        acknowledge=4 * H,
        contain=2 * D,
        resolve=7 * D,
        review=14 * D,
        update_every=1 * D,
        escalation_roles=(),
        review_required=False,
    ),
    Severity.SEV4: SeverityClock(
        "Low: little or no public exposure; a policy or training matter to handle and record "
        "(a single mild post, a fake account with no followers).",
        acknowledge=1 * D,
        contain=5 * D,
        resolve=14 * D,
        review=30 * D,
        update_every=7 * D,
        escalation_roles=(),
        review_required=False,
    ),
}


def phase_clock(severity: Severity, phase: Phase) -> dt.timedelta:
    """Default due offset of a step of this phase, from filing."""
    clock = SEVERITIES[severity]
    return {
        Phase.triage: clock.acknowledge,
        Phase.contain: clock.contain,
        Phase.resolve: clock.resolve,
        Phase.review: clock.review,
    }[phase]


def parse_offset(text: str) -> dt.timedelta:
    """'15m', '4h', '3d' -> a duration; ValueError otherwise."""
    text = text.strip().lower()
    units = {"m": M, "h": H, "d": D}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise InvalidValue(
            N_("'%(value)s' is not a duration such as 15m, 4h or 3d"), params={"value": text}
        )
    value = int(text[:-1])
    if not 0 < value <= 100_000:
        raise InvalidValue(N_("'%(value)s' is out of range"), params={"value": text})
    return value * units[text[-1]]
