"""Import of an employee's LinkedIn Connections.csv: read the real export, keep what was made at work.

The export starts with a "Notes:" preamble and a blank line before the header; the older layout
has no URL column; dates read "07 Dec 2025"; most e-mails are blank. What an HR officer expects of
an importer: rows of the same person are merged into the first (and counted), a line that cannot
be read is listed with its reason and kept for download while the rest is imported, and a file
that is not an export, cannot be read to its end, or is mostly unreadable is refused whole.
`strict` keeps all or nothing. The import is one transaction either way.

The file is read as a stream (an upload stays spooled on disk): decoded, parsed, checked and
written a batch of rows at a time, its SHA-256 taken as it is read, and the keys of the rows read
so far kept in a temporary table, so the server's memory does not grow with the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from accounts.connections.enums import ConnectionState, ExportLayout
from accounts.connections.tables import ConnectionImport
from register import audit
from register.actor import Actor
from register.checks import EMAIL_RE
from register.csvfiles import (
    MAX_ERRORS,
    MONTHS,
    TextStream,
    normalise_header,
    parse_date,
    slashed_order_hint,
)
from register.db import bulk_insert, fetch, is_postgres, now, write_transaction
from register.errors import InvalidInput
from register.staff.services import get_employee

# The header sits after a short preamble; a file without it in its first lines is something else.
HEADER_SEARCH_LINES = 50
REQUIRED = ("firstname", "lastname", "connectedon")
COLUMNS = {
    "firstname": "first_name",
    "lastname": "last_name",
    "url": "profile_url",
    "profileurl": "profile_url",
    "emailaddress": "email",
    "email": "email",
    "company": "company",
    "position": "position",
    "connectedon": "connected_on",
}
LENGTHS = {"first_name": 200, "last_name": 200, "company": 500, "position": 500, "email": 320}
# The export's own header for each field: messages and the rejected lines' CSV name it so.
COLUMN_NAMES = {
    "first_name": "First Name",
    "last_name": "Last Name",
    "profile_url": "URL",
    "email": "Email Address",
    "company": "Company",
    "position": "Position",
    "connected_on": "Connected On",
}
DATE_FORMATS = (
    '"07 Dec 2025" as LinkedIn writes it, or 2025-12-07, 7 December 2025, Dec 7, 2025 or 07.12.2025'
)
_AMBIGUOUS = re.compile(r"^\d{1,2}[/-]\d{1,2}[/-]\d{2,4}$")
# A rejected line's cells are kept up to this length (a longer one is wrong anyway).
CELL_LIMIT = 1000
PROFILE_PREFIX = "https://www.linkedin.com/in/"
_DAY_MON_YEAR = re.compile(r"^(\d{1,2}) ([A-Za-z]{3}) (\d{4})$")
# Other files of LinkedIn's data download, recognised by a header cell, to say what was sent.
OTHER_EXPORTS = {
    "conversationid": "LinkedIn's messages export (messages.csv)",
    "invitationtext": "LinkedIn's invitations export (Invitations.csv)",
    "endorsementdate": "LinkedIn's endorsements export",
    "skillname": "LinkedIn's skills export (Skills.csv)",
    "workemail": "an HR staff export (import it at /api/v1/employees/imports)",
}
INSERT_COLUMNS = (
    "owner",
    "first_name",
    "last_name",
    "profile_url",
    "email",
    "company",
    "position",
    "connected_on",
    "source_import",
    "state",
)


def normalise_profile_url(value: str) -> str:
    """A LinkedIn profile URL in one form: https://www.linkedin.com/in/<slug>, lower-case, decoded.

    Raises ValueError when the text is not a LinkedIn profile URL.
    """
    text = value.strip()
    if text.startswith(PROFILE_PREFIX):
        slug = text[len(PROFILE_PREFIX) :]
        # The export's own form: nothing to take apart.
        if slug and "/" not in slug and "%" not in slug and "?" not in slug and "#" not in slug:
            return PROFILE_PREFIX + slug.lower()
    candidate = text if "://" in text else "https://" + text
    parts = urlsplit(candidate)
    host = (parts.hostname or "").lower()
    if not (host == "linkedin.com" or host.endswith(".linkedin.com")):
        raise ValueError(f"'{value}' is not a LinkedIn profile URL")
    segments = [s for s in unquote(parts.path).split("/") if s]
    if len(segments) >= 2 and segments[0].lower() == "in":
        return PROFILE_PREFIX + segments[1].lower()
    if len(segments) >= 2 and segments[0].lower() == "pub":
        # Profiles from before vanity URLs: /pub/name/1/23/456.
        return "https://www.linkedin.com/pub/" + "/".join(s.lower() for s in segments[1:])
    raise ValueError(f"'{value}' is not a LinkedIn profile URL (expected linkedin.com/in/...)")


def parse_connected_on(value: str) -> dt.date:
    """LinkedIn's 'Connected On' ("07 Dec 2025"), or a date a spreadsheet rewrote it to."""
    m = _DAY_MON_YEAR.match(value)
    if m:
        month = MONTHS.get(m.group(2).lower())
        if month is not None:
            try:
                return dt.date(int(m.group(3)), month, int(m.group(1)))
            except ValueError as exc:
                raise ValueError(f"'{value}' is not a valid date ({exc})") from exc
    # The staff import's messages name its date_order field, which this import has not.
    if _AMBIGUOUS.match(value) and slashed_order_hint(value) is None:
        raise ValueError(
            f"'{value}' could be day/month or month/day; Connected On takes {DATE_FORMATS}"
        )
    try:
        return parse_date(value, None)
    except ValueError as exc:
        if exc.__cause__ is not None:
            # A form it reads, with a day that does not exist: that is the reason to give.
            raise
        raise ValueError(f"'{value}' is not a date; Connected On takes {DATE_FORMATS}") from None


def subject_digests(profile_url: str, email: str) -> set[str]:
    """The suppression digests of a person: one per identifier they have."""
    out = set()
    if profile_url:
        out.add(hashlib.sha256(f"url:{profile_url}".encode()).hexdigest())
    if email:
        out.add(hashlib.sha256(f"email:{email.strip().lower()}".encode()).hexdigest())
    return out


def row_key(profile_url: str, first_name: str, last_name: str, connected_on: dt.date) -> Any:
    """What identifies a connection within one person's exports: the URL, or the name and date."""
    if profile_url:
        return profile_url
    return (first_name.casefold(), last_name.casefold(), connected_on)


FIELDS = ("first_name", "last_name", "profile_url", "email", "company", "position", "connected_on")
_URL_SPECIAL = re.compile(r"[/%?#]")


def _plain_url(url: str) -> bool:
    """Whether the URL is already in the export's own form (only its case may differ)."""
    return (
        len(url) > len(PROFILE_PREFIX)
        and url.startswith(PROFILE_PREFIX)
        and _URL_SPECIAL.search(url, len(PROFILE_PREFIX)) is None
    )


def _check_row(
    line: int,
    first: str,
    last: str,
    url: str,
    email: str,
    company: str,
    position: str,
    when: str,
    today: dt.date,
) -> tuple[str | None, dt.date | None, list[dict[str, Any]]]:
    """The slow path: check one row field by field; (normalised URL, date, problems).

    The URL and the date are None where they cannot be read, so a rejected row may still name
    the connection it is about.
    """
    errors: list[dict[str, Any]] = []
    normalised: str | None = url
    if url:
        try:
            url = normalised = normalise_profile_url(url)
        except ValueError:
            normalised = None
            # Row errors never repeat a contact's URL or e-mail: the answer to an upload with an
            # Idempotency-Key is kept for replay, and erasure would not reach it there.
            errors.append(
                {
                    "line": line,
                    "field": "profile_url",
                    "message": "URL is not a LinkedIn profile URL (expected linkedin.com/in/...)",
                }
            )
    elif not (first or last):
        errors.append(
            {
                "line": line,
                "field": "first_name",
                "message": "the row has neither a name nor a profile URL",
            }
        )
    if email and (not EMAIL_RE.match(email) or len(email) > 320):
        errors.append(
            {"line": line, "field": "email", "message": "Email Address is not an e-mail address"}
        )
    connected_on = None
    if not when:
        errors.append({"line": line, "field": "connected_on", "message": "Connected On is blank"})
    else:
        try:
            connected_on = parse_connected_on(when)
        except ValueError as exc:
            errors.append({"line": line, "field": "connected_on", "message": str(exc)})
        else:
            if connected_on > today:
                errors.append(
                    {"line": line, "field": "connected_on", "message": f"'{when}' is in the future"}
                )
    for name, value in (
        ("first_name", first),
        ("last_name", last),
        ("company", company),
        ("position", position),
        ("profile_url", url),
    ):
        limit = LENGTHS.get(name, 500)
        if len(value) > limit:
            errors.append(
                {
                    "line": line,
                    "field": name,
                    "message": f"{name} is longer than {limit} characters",
                }
            )
    return normalised, connected_on, errors


@dataclass
class RejectedLine:
    """A line that could not be read: where, why, and its cells as the file had them."""

    line: int
    problems: list[dict[str, Any]]
    # (first, last, url, email, company, position, connected on), as written.
    cells: tuple[str, ...]
    # The connection it is about when that can be told: a held one is then not taken for gone.
    key: Any = None


Row = tuple[str, str, str, str, str, str, dt.date]


def _binary(content: Any) -> Any:
    """The upload as a binary file to read from: its spooled file, an open file, or bytes."""
    if content is None or content == "" or content == b"":
        raise InvalidInput(
            "attach the Connections.csv export as the 'file' field of a multipart form",
            field="file",
        )
    if isinstance(content, str):
        return io.BytesIO(content.encode())
    if isinstance(content, bytes | bytearray):
        return io.BytesIO(content)
    if callable(getattr(content, "read", None)):
        return content
    raise InvalidInput("send exactly one file in the 'file' field", field="file")


def _not_an_export(records: list[list[str]]) -> InvalidInput:
    """Say why a file is not a connections export, naming what it looks like if we can tell."""
    first = next((r for r in records if any(c.strip() for c in r)), [])
    cells = {normalise_header(c) for r in records for c in r}
    for marker, what in OTHER_EXPORTS.items():
        if marker in cells:
            return InvalidInput(
                f"this is not a LinkedIn connections export: it looks like {what}; "
                "upload Connections.csv from LinkedIn's data download",
                field="file",
            )
    # The first line is not quoted back: it may be a person's row, and 4xx answers are kept for
    # Idempotency-Key replays, where an erasure would not reach it.
    columns = len(first)
    return InvalidInput(
        "this is not a LinkedIn connections export: no header row with First Name, Last Name "
        f"and Connected On in its first {HEADER_SEARCH_LINES} lines (the first line has "
        f"{columns} column(s)); upload Connections.csv from LinkedIn's data download",
        field="file",
    )


class ExportStream:
    """An export read as a stream: its header is found on opening, its rows come one by one."""

    def __init__(self, content: Any) -> None:
        self._text = TextStream(_binary(content))
        self._reader = csv.reader(self._text, strict=True)
        head: list[list[str]] = []
        index: dict[str, int] | None = None
        try:
            for record in self._reader:
                head.append(record)
                names = [normalise_header(c) for c in record]
                if all(r in names for r in REQUIRED):
                    index = {}
                    for i, name in enumerate(names):
                        if name in COLUMNS and COLUMNS[name] not in index:
                            index[COLUMNS[name]] = i
                    break
                if len(head) >= HEADER_SEARCH_LINES:
                    break
        except csv.Error as exc:
            raise _not_an_export(head) from exc
        if index is None:
            raise _not_an_export(head)
        self.index = index
        self.layout = ExportLayout.with_url if "profile_url" in index else ExportLayout.without_url

    @property
    def digest(self) -> str:
        """SHA-256 of the file, once rows() has been read to the end."""
        return self._text.sha256

    def rows(self, today: dt.date) -> Iterator[Row | RejectedLine]:
        """Every connection row, checked, in file order; a person may come more than once."""
        reader = self._reader
        line = reader.line_num + 1
        width = max(self.index.values()) + 1
        # One C call takes the seven cells; a missing column reads as the blank last cell we append.
        blank = width
        take = itemgetter(*(self.index.get(name, blank) for name in FIELDS))
        dates: dict[str, dt.date] = {}
        try:
            for record in reader:
                start, line = line, reader.line_num + 1
                if len(record) < width:
                    if not any(c.strip() for c in record):
                        continue
                    short = [
                        {
                            "line": start,
                            "field": "file",
                            "message": f"the row has {len(record)} fields; the header has {width}",
                        }
                    ]
                    cells = take([*record, *[""] * (width + 1 - len(record))])
                    yield RejectedLine(start, short, tuple(c.strip() for c in cells))
                    continue
                record.append("")
                first, last, url, email, company, position, when = take(record)
                first, last, url, when = first.strip(), last.strip(), url.strip(), when.strip()
                company, position = company.strip(), position.strip()
                written = email = email.strip()
                if email:
                    email = email.lower()
                # The common row: the export's own URL form, a date seen before, nothing too long.
                connected_on = dates.get(when)
                if (
                    connected_on is None
                    or not (first or last or url)
                    or (url and not _plain_url(url))
                    or (email and not EMAIL_RE.match(email))
                    or len(first) > 200
                    or len(last) > 200
                    or len(company) > 500
                    or len(position) > 500
                    or len(url) > 500
                    or len(email) > 320
                ):
                    normalised, checked_on, problems = _check_row(
                        start, first, last, url, email, company, position, when, today
                    )
                    if problems or normalised is None or checked_on is None:
                        key = normalised or (
                            None
                            if url or checked_on is None or not (first or last)
                            else (first.casefold(), last.casefold(), checked_on)
                        )
                        cells = (first, last, url, written, company, position, when)
                        yield RejectedLine(start, problems, cells, key)
                        continue
                    url, connected_on = normalised, checked_on
                    dates.setdefault(when, connected_on)
                else:
                    url = url.lower()
                yield (first, last, url, email, company, position, connected_on)
        except csv.Error as exc:
            # Past a broken quote nothing can be read, and the rows never read would be taken for
            # connections gone from the profile: the file is refused whole.
            message = f"the CSV cannot be read from here on ({exc}); check the quotes on this line"
            raise InvalidInput(
                f"line {line}: {message}",
                field="file",
                errors=[{"line": line, "field": "file", "message": message}],
            ) from exc


@dataclass
class ReadExport:
    """An export read whole, before it meets the register (tools and benchmarks)."""

    digest: str
    layout: ExportLayout
    # (first, last, url, email, company, position, connected_on), in file order, one per person.
    rows: list[Row] = field(default_factory=list)
    # Rows of a person already read: merged into the first (which is kept as it is).
    duplicates: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Every problem of every rejected line (line, field, message), in line order."""
        return [p for r in self.rejected for p in r.problems]


def read_export(content: Any, *, today: dt.date) -> ReadExport:
    """Read and check a whole export into memory; the import itself streams (ExportStream)."""
    export = ExportStream(content)
    read = ReadExport(digest="", layout=export.layout)
    seen: set[Any] = set()
    for row in export.rows(today):
        if isinstance(row, RejectedLine):
            read.rejected.append(row)
            continue
        key = row_key(row[2], row[0], row[1], row[6])
        if key in seen:
            read.duplicates += 1
            continue
        seen.add(key)
        read.rows.append(row)
    read.digest = export.digest
    return read


@dataclass
class Tally:
    """What a file's rows came to as they were read: counts, and the problems to answer with."""

    rows_read: int = 0
    duplicates: int = 0
    rejected: int = 0
    # The first MAX_ERRORS problems (line, field, message); how many more there were.
    problems: list[dict[str, Any]] = field(default_factory=list)
    unlisted: int = 0

    def reject(self, line: RejectedLine) -> None:
        """Count a line that could not be read, and list its problems while there is room."""
        self.rejected += 1
        room = max(MAX_ERRORS - len(self.problems), 0)
        self.problems += line.problems[:room]
        self.unlisted += max(len(line.problems) - room, 0)

    def refuse_unless_importable(self, *, strict: bool) -> None:
        """Refuse the whole file: no rows at all, a bad line when strict, or mostly bad lines."""
        if not self.rows_read:
            raise InvalidInput(
                "the export has its header but no connections under it", field="file"
            )
        if not self.rejected:
            return
        more = f" (the first {MAX_ERRORS} are listed)" if self.unlisted else ""
        if strict:
            raise InvalidInput(
                f"{len(self.problems) + self.unlisted} problem(s) in the file; "
                f"nothing was imported{more}",
                field="file",
                errors=self.problems,
            )
        if 2 * self.rejected > self.rows_read:
            raise InvalidInput(
                f"{self.rejected} of {self.rows_read} rows cannot be read, so the file is not "
                f"imported: is it LinkedIn's Connections.csv? Fix the rows and upload it again{more}",
                field="file",
                errors=self.problems,
            )


def import_out(row: dict[str, Any]) -> dict[str, Any]:
    """An import row as the API shows it (counts and file metadata, never names)."""
    out = {
        k: row[k]
        for k in (
            "id",
            "sha256",
            "filename",
            "layout",
            "rows",
            "added",
            "returned",
            "unchanged",
            "gone",
            "before_employment",
            "after_employment",
            "suppressed",
            "duplicates_in_file",
            "rejected_lines",
            "imported_by",
            "imported_at",
        )
    }
    out["employee_id"] = row["employee"]
    return out


REJECTED_COLUMNS = (
    "source_import",
    "line",
    "field",
    "reason",
    "first_name",
    "last_name",
    "url",
    "email",
    "company",
    "position",
    "connected_on",
    "match_url",
    "match_email",
)


def rejected_row(import_id: int, rejected: RejectedLine) -> tuple[Any, ...]:
    """A rejected line as the row that keeps it (cells cut at CELL_LIMIT)."""
    problems = rejected.problems
    email = rejected.cells[3].strip().lower()
    return (
        import_id,
        rejected.line,
        problems[0]["field"] if problems else "file",
        "; ".join(p["message"] for p in problems),
        *(c[:CELL_LIMIT] for c in rejected.cells),
        rejected.key[:CELL_LIMIT] if isinstance(rejected.key, str) else "",
        email[:CELL_LIMIT],
    )


async def _ids_update(sql_set: str, ids: list[int], *args: Any) -> None:
    """One UPDATE over many ids (`$1` is the id list; further `$n` are the SET values)."""
    if not ids:
        return
    if is_postgres():
        await fetch(f'UPDATE "connection" SET {sql_set} WHERE "id" = ANY($1::int[])', ids, *args)
    else:
        import json

        await fetch(
            f'UPDATE "connection" SET {sql_set} WHERE "id" IN (SELECT value FROM json_each($1))',
            json.dumps(ids),
            *args,
        )


# Rows parsed, checked and written together: the import holds one batch, never the file.
BATCH_ROWS = 5000
# Keys of rows read kept in memory before they move to a temporary table (_KeysRead).
KEYS_IN_MEMORY = 50_000
T = TypeVar("T")


def _batches(items: Iterator[T], size: int) -> Iterator[list[T]]:
    """Lists of up to `size` items, taken from the iterator as they are needed."""
    while batch := list(islice(items, size)):
        yield batch


class _SameFile(Exception):
    """The file is the one imported last: what reading it wrote is rolled back."""

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__("the same file as the last import")
        self.row = row


class _KeysRead:
    """The keys of the rows read so far: in memory up to KEYS_IN_MEMORY, then in a temporary table.

    A LinkedIn profile holds at most 30,000 connections, so a real export never leaves memory;
    a larger file moves its keys to the database instead of growing the server.
    """

    def __init__(self, import_id: int) -> None:
        self.table = f"connection_import_keys_{int(import_id)}"
        self.memory: set[str] | None = set()

    async def first_seen(self, keys: list[str]) -> set[str]:
        """Record the keys (each once); those not read before."""
        if self.memory is not None:
            if len(self.memory) + len(keys) <= KEYS_IN_MEMORY:
                fresh = {k for k in keys if k not in self.memory}
                self.memory.update(fresh)
                return fresh
            # Inside the import's transaction: a rollback takes the table away too.
            kind = "text" if is_postgres() else "TEXT"
            await fetch(f'CREATE TEMP TABLE "{self.table}" ("key" {kind} PRIMARY KEY)')
            spilled, self.memory = list(self.memory), None
            await bulk_insert(self.table, ("key",), [(k,) for k in spilled])
        if not keys:
            return set()
        if is_postgres():
            rows = await fetch(
                f'INSERT INTO "{self.table}" SELECT unnest($1::text[]) '
                'ON CONFLICT DO NOTHING RETURNING "key"',
                keys,
            )
        else:
            # WHERE true: SQLite reads ON CONFLICT after a bare SELECT ... FROM as a join clause.
            rows = await fetch(
                f'INSERT INTO "{self.table}" SELECT value FROM json_each($1) WHERE true '
                'ON CONFLICT DO NOTHING RETURNING "key"',
                json.dumps(keys),
            )
        return {r["key"] for r in rows}

    async def close(self) -> None:
        """Drop the table, if the keys went there."""
        if self.memory is None:
            await fetch(f'DROP TABLE "{self.table}"')


def _key_text(key: Any) -> str:
    """A row's key as text: its URL, or its name and date after a unit separator (never a URL)."""
    if isinstance(key, str):
        return key
    first, last, connected_on = key
    return f"\x1f{first}\x1f{last}\x1f{connected_on.isoformat()}"


async def import_connections(
    *,
    actor: Actor,
    employee_id: int,
    content: Any,
    filename: str = "",
    today: dt.date | None = None,
    strict: bool = False,
) -> dict[str, Any]:
    """Import an employee's Connections.csv, read as a stream; the same file twice changes nothing.

    Readable rows are imported and unreadable lines kept and listed; `strict`: all rows or none.
    `content` is the file (bytes, or a binary file such as an upload spooled to disk).
    """
    today = today or dt.date.today()
    # A file that is not an export is refused from its first lines, before anything is locked.
    export = ExportStream(content)
    tally = Tally()
    try:
        async with write_transaction():
            summary = await _import(
                actor=actor,
                employee_id=employee_id,
                export=export,
                filename=(filename or "")[:255],
                today=today,
                strict=strict,
                tally=tally,
            )
    except _SameFile as same:
        return {"duplicate": True, "import": import_out(same.row), "problems": tally.problems}
    return {"duplicate": False, "import": summary, "problems": tally.problems}


async def _import(
    *,
    actor: Actor,
    employee_id: int,
    export: ExportStream,
    filename: str,
    today: dt.date,
    strict: bool,
    tally: Tally,
) -> dict[str, Any]:
    """The import inside its transaction: rows written batch by batch, counts and audit at the end."""
    # Imports are serialised (the chain lock on PostgreSQL, the write lock on SQLite), so
    # connection ids commit in order and the search indexer never skips one.
    await audit.lock_chain()
    person = await get_employee(employee_id=employee_id)
    start = person["start_date"]
    if start is None:
        raise InvalidInput(
            f"employee {employee_id} has no start date, so the register cannot tell which "
            "connections were made during the employment; set start_date first",
            field="start_date",
        )
    end = min(person["leaving_date"] or today, today)
    last = await fetch(
        'SELECT * FROM "connection_import" WHERE "employee" = $1 ORDER BY "id" DESC LIMIT 1',
        employee_id,
    )
    existing = await fetch(
        'SELECT "id", "profile_url", "first_name", "last_name", "connected_on", "gone_on" '
        """FROM "connection" WHERE "owner" = $1 AND "state" <> 'erased'""",
        employee_id,
    )
    by_key = {
        row_key(r["profile_url"], r["first_name"], r["last_name"], r["connected_on"]): r
        for r in existing
    }
    erased = {r["digest"] for r in await fetch('SELECT "digest" FROM "connection_suppression"')}
    # The import's row comes first, for its id; its digest and counts are known at the end.
    inserted = await ConnectionImport.insert(
        ConnectionImport(
            employee=employee_id,
            filename=filename,
            layout=export.layout.value,
            imported_by=actor.user_id,
            imported_at=now(),
        )
    ).returning(ConnectionImport.id)
    import_id = inserted[0]["id"]
    keys = _KeysRead(import_id)
    counts = dict.fromkeys(("added", "unchanged", "before", "after", "suppressed"), 0)
    found: set[int] = set()  # held connections the file lists
    returned: list[int] = []
    held_state = ConnectionState.held.value
    for batch in _batches(export.rows(today), BATCH_ROWS):
        readable: list[Row] = []
        lines: list[tuple[Any, ...]] = []
        for row in batch:
            tally.rows_read += 1
            if not isinstance(row, RejectedLine):
                readable.append(row)
                continue
            tally.reject(row)
            # A rejected line still says its connection is on the profile: not gone.
            if row.key is not None and (held := by_key.get(row.key)) is not None:
                found.add(held["id"])
            # Kept for HR to download and fix, except lines about someone erased on request.
            url = row.key if isinstance(row.key, str) else ""
            if not (erased and subject_digests(url, row.cells[3].strip().lower()) & erased):
                lines.append(rejected_row(import_id, row))
        if strict and tally.rejected:
            # Refused already: the rest is only read for its problems.
            continue
        keyed = [(r, key := row_key(r[2], r[0], r[1], r[6]), _key_text(key)) for r in readable]
        fresh = await keys.first_seen(list(dict.fromkeys(text for _, _, text in keyed)))
        new_rows: list[Row] = []
        for row, key, text in keyed:
            if text not in fresh:
                # The same person again (the URL with and without a trailing slash, say): one
                # connection, the first row's.
                tally.duplicates += 1
                continue
            fresh.discard(text)
            if erased and subject_digests(row[2], row[3]) & erased:
                # Erased on request: a later export must not bring them back.
                counts["suppressed"] += 1
            elif row[6] < start:
                counts["before"] += 1
            elif row[6] > end:
                counts["after"] += 1
            elif (held := by_key.get(key)) is None:
                new_rows.append(row)
            else:
                found.add(held["id"])
                if held["gone_on"] is not None:
                    returned.append(held["id"])
                else:
                    counts["unchanged"] += 1
        # In URL order the unique index grows at one end instead of everywhere: a third faster.
        new_rows.sort(key=itemgetter(2))
        counts["added"] += await bulk_insert(
            "connection",
            INSERT_COLUMNS,
            [(employee_id, *r, import_id, held_state) for r in new_rows],
        )
        await bulk_insert("connection_rejected_line", REJECTED_COLUMNS, lines)
    await keys.close()
    tally.refuse_unless_importable(strict=strict)
    if last and last[0]["sha256"] == export.digest:
        raise _SameFile(last[0])
    gone = [r["id"] for r in existing if r["id"] not in found and r["gone_on"] is None]
    await _ids_update('"gone_on" = $2', gone, today)
    await _ids_update('"gone_on" = NULL', returned)
    await ConnectionImport.update(
        {
            ConnectionImport.sha256: export.digest,
            ConnectionImport.rows: tally.rows_read,
            ConnectionImport.added: counts["added"],
            ConnectionImport.returned: len(returned),
            ConnectionImport.unchanged: counts["unchanged"],
            ConnectionImport.gone: len(gone),
            ConnectionImport.before_employment: counts["before"],
            ConnectionImport.after_employment: counts["after"],
            ConnectionImport.suppressed: counts["suppressed"],
            ConnectionImport.duplicates_in_file: tally.duplicates,
            ConnectionImport.rejected_lines: tally.rejected,
        }
    ).where(ConnectionImport.id == import_id)
    rows = await fetch('SELECT * FROM "connection_import" WHERE "id" = $1', import_id)
    summary = import_out(rows[0])
    # Counts and the file's digest only: an audit event never holds a connection's name.
    await audit.record(
        actor,
        "connection.import",
        "employee",
        employee_id,
        {
            k: summary[k]
            for k in (
                "id",
                "sha256",
                "layout",
                "rows",
                "added",
                "returned",
                "unchanged",
                "gone",
                "before_employment",
                "after_employment",
                "suppressed",
                "duplicates_in_file",
                "rejected_lines",
            )
        },
    )
    return summary


__all__ = [
    "COLUMN_NAMES",
    "ExportStream",
    "ReadExport",
    "RejectedLine",
    "Tally",
    "import_connections",
    "import_out",
    "normalise_profile_url",
    "parse_connected_on",
    "read_export",
    "row_key",
    "subject_digests",
]
