"""Roles and states of the core."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a signed-in user may do is decided by their role."""

    admin = "admin"
    it = "it"
    hr = "hr"
    comms = "comms"
    auditor = "auditor"


class EmployeeStatus(StrEnum):
    """Where a person stands in their employment."""

    active = "active"
    leaving = "leaving"
    left = "left"
