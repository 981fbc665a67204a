"""Roles: what a signed-in user may do is decided by their role."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a signed-in user may do is decided by their role."""

    admin = "admin"
    it = "it"
    hr = "hr"
    comms = "comms"
    # Legal counsel: reads incidents and signs their legal steps, nothing else.
    legal = "legal"
    auditor = "auditor"
    # Any employee: reads and acknowledges their policies, sees their own training and tasks.
    staff = "staff"
