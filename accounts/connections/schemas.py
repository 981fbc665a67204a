"""Request and response types of the connections register."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from accounts.connections.enums import ConnectionState, ExportLayout


class ConnectionOut(msgspec.Struct):
    """A connection held as the employer's: the export's fields, where it came from, its state."""

    id: int
    employee_id: int
    first_name: str
    last_name: str
    profile_url: str
    email: str
    company: str
    position: str
    connected_on: dt.date
    import_id: int
    state: ConnectionState
    gone_on: dt.date | None = None
    state_changed_at: dt.datetime | None = None


class ConnectionPage(msgspec.Struct):
    """A page of connections."""

    items: list[ConnectionOut]
    limit: int
    offset: int
    next_offset: int | None


class ConnectionImportOut(msgspec.Struct):
    """One import: the file's digest and layout, and what it changed (counts only)."""

    id: int
    employee_id: int
    sha256: str
    filename: str
    layout: ExportLayout
    rows: int
    added: int
    returned: int
    unchanged: int
    gone: int
    before_employment: int
    after_employment: int
    suppressed: int
    duplicates_in_file: int
    rejected_lines: int
    imported_by: int | None
    imported_at: dt.datetime


class ConnectionImportPage(msgspec.Struct):
    """A page of an employee's imports, newest first."""

    items: list[ConnectionImportOut]
    limit: int
    offset: int
    next_offset: int | None


class RowProblem(msgspec.Struct):
    """Why a line of the file could not be read (never the contact's values)."""

    line: int
    field: str | None
    message: str


class ConnectionImportResult(msgspec.Struct):
    """The import's summary; `duplicate` when the file is the one imported last (nothing changed).

    `problems` lists the lines not imported (the first 1,000); the lines themselves are at
    `imports/{id}/rejected.csv`.
    """

    duplicate: bool
    import_: ConnectionImportOut = msgspec.field(name="import")
    problems: list[RowProblem] = msgspec.field(default_factory=list)


class ConnectionStateIn(msgspec.Struct, forbid_unknown_fields=True):
    """Move an employee's connections on: exported to the successor, then deletion attested."""

    state: ConnectionState
    note: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class ConnectionStateOut(msgspec.Struct):
    """How many connections changed state."""

    employee_id: int
    state: ConnectionState
    changed: int


class ConnectionSubject(msgspec.Struct, forbid_unknown_fields=True):
    """The person a privacy request is about: their LinkedIn profile URL or e-mail (or both)."""

    profile_url: Annotated[str, msgspec.Meta(max_length=500)] = ""
    email: Annotated[str, msgspec.Meta(max_length=320)] = ""


class SubjectOwner(msgspec.Struct):
    """The employee whose profile holds the connection."""

    employee_id: int
    name: str
    work_email: str


class SubjectImport(msgspec.Struct):
    """The import a connection came from."""

    id: int
    filename: str
    imported_at: dt.datetime


class SubjectConnection(msgspec.Struct):
    """One record held about the person."""

    id: int
    employee_id: int
    first_name: str
    last_name: str
    profile_url: str
    email: str
    company: str
    position: str
    connected_on: dt.date
    import_id: int
    state: ConnectionState
    owner: SubjectOwner
    import_: SubjectImport = msgspec.field(name="import")
    gone_on: dt.date | None = None
    state_changed_at: dt.datetime | None = None


class SubjectRejectedLine(msgspec.Struct):
    """A line about the person that an import could not read, as the file had it."""

    import_id: int
    employee_id: int
    line: int
    reason: str
    first_name: str
    last_name: str
    url: str
    email: str
    company: str
    position: str
    connected_on: str


class SubjectAccessOut(msgspec.Struct):
    """Everything the register holds about one person."""

    profile_url: str
    email: str
    count: int
    connections: list[SubjectConnection]
    generated_at: dt.datetime
    rejected_lines: list[SubjectRejectedLine] = msgspec.field(default_factory=list)


class ErasureOut(msgspec.Struct):
    """How many records were erased, across how many employees' connections, and rejected lines."""

    erased: int
    owners: int
    rejected_lines: int = 0


class ConnectionCounts(msgspec.Struct):
    """One employee's connections by state: counts only."""

    employee_id: int
    employee_name: str
    employee_status: str
    states: dict[str, int]
    gone: int
    imports: int
    last_import_at: dt.datetime | None


class ConnectionSummary(msgspec.Struct):
    """Counts per employee and state across the register (what auditors see)."""

    totals: dict[str, int]
    employees: int
    items: list[ConnectionCounts]
    limit: int
    offset: int
    next_offset: int | None
