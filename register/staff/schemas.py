"""Request and response types of the staff directory."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from register.schemas import Email, Name, Short, Version
from register.staff.enums import EmployeeStatus

# The employee table keeps 120 characters of department; a longer value would fail in PostgreSQL.
Department = Annotated[str, msgspec.Meta(max_length=120)]


class EmployeeCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A person for the staff directory."""

    name: Name
    work_email: Email
    department: Department = ""
    job_title: Short = ""
    manager_id: int | None = None
    start_date: dt.date | None = None
    leaving_date: dt.date | None = None
    status: EmployeeStatus | None = None


class EmployeeUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change; omit what stays, send null to clear."""

    version: Version
    name: Name | UnsetType = UNSET
    work_email: Email | UnsetType = UNSET
    department: Department | UnsetType = UNSET
    job_title: Short | UnsetType = UNSET
    manager_id: int | UnsetType | None = UNSET
    start_date: dt.date | UnsetType | None = UNSET
    leaving_date: dt.date | UnsetType | None = UNSET
    status: EmployeeStatus | UnsetType = UNSET


class EmployeeOut(msgspec.Struct):
    """A person in the staff directory."""

    id: int
    name: str
    work_email: str
    department: str
    job_title: str
    manager_id: int | None
    start_date: dt.date | None
    leaving_date: dt.date | None
    status: EmployeeStatus
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class EmployeePage(msgspec.Struct):
    """A page of employees."""

    items: list[EmployeeOut]
    limit: int
    offset: int
    next_offset: int | None
    total: int | None = None


class ImportSummary(msgspec.Struct):
    """What an all-or-nothing import did."""

    rows: int
    created: int
    updated: int
    unchanged: int
    mapping: dict[str, str]
