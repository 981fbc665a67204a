"""Roles and states of the core."""

from __future__ import annotations

from enum import Enum


class Role(str, Enum):
    """What a signed-in user may do is decided by their role."""

    admin = "admin"
    it = "it"
    hr = "hr"
    comms = "comms"
    auditor = "auditor"


class EmployeeStatus(str, Enum):
    """Where a person stands in their employment."""

    active = "active"
    leaving = "leaving"
    left = "left"
