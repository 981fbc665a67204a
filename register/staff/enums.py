"""States of a person in the staff directory."""

from __future__ import annotations

from enum import StrEnum


class EmployeeStatus(StrEnum):
    """Where a person stands in their employment."""

    active = "active"
    leaving = "leaving"
    left = "left"
