"""Kinds of policies, states of their versions, and where a person stands with a course."""

from __future__ import annotations

from enum import StrEnum


class PolicyKind(StrEnum):
    """The two policies practitioners advise, and per-platform guidelines beside them."""

    job_use = "job_use"
    personal_use = "personal_use"
    platform_guideline = "platform_guideline"


class VersionState(StrEnum):
    """A draft is edited; publishing asks people to acknowledge it; the next one supersedes it."""

    draft = "draft"
    published = "published"
    superseded = "superseded"


class TrainingStatus(StrEnum):
    """A required person's standing with a course, on a given day."""

    current = "current"
    due = "due"
    overdue = "overdue"
    missing = "missing"
