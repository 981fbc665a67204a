"""Reading a LinkedIn Connections.csv as it comes: the layouts, the dates, a line at a time."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any
from urllib.parse import unquote, urlsplit

from accounts.connections.enums import ExportLayout
from register.checks import EMAIL_RE
from register.csvfiles import (
    MONTHS,
    TextStream,
    csv_reason,
    date_reason,
    normalise_header,
    parse_date,
    slashed_order_hint,
)
from register.errors import InvalidInput, InvalidValue
from register.i18n import N_

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


DATE_FORMATS = N_(
    '"07 Dec 2025" as LinkedIn writes it, or 2025-12-07, 7 December 2025, Dec 7, 2025 or 07.12.2025'
)
# Why a line of the export could not be read: stored in English with the line (the API and the
# download say them so), and said again in a page's language (register.i18n.reread).
NOT_A_PROFILE = N_("URL is not a LinkedIn profile URL (expected linkedin.com/in/...)")
NO_NAME = N_("the row has neither a name nor a profile URL")
NOT_AN_EMAIL = N_("Email Address is not an e-mail address")
NO_DATE = N_("Connected On is blank")
EITHER_WAY = N_("'%(value)s' could be day/month or month/day; Connected On takes %(forms)s")
NOT_A_DATE = N_("'%(value)s' is not a date; Connected On takes %(forms)s")
IN_THE_FUTURE = N_("'%(value)s' is in the future")
TOO_LONG = N_("%(field)s is longer than %(limit)s characters")
SHORT_ROW = N_("the row has %(count)s fields; the header has %(width)s")
LINE_PROBLEMS = (
    NOT_A_PROFILE,
    NO_NAME,
    NOT_AN_EMAIL,
    NO_DATE,
    N_("'%(value)s' is not a valid date (%(reason)s)"),
    EITHER_WAY,
    NOT_A_DATE,
    IN_THE_FUTURE,
    TOO_LONG,
    SHORT_ROW,
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
        raise InvalidValue(N_("'%(url)s' is not a LinkedIn profile URL"), params={"url": value})
    segments = [s for s in unquote(parts.path).split("/") if s]
    if len(segments) >= 2 and segments[0].lower() == "in":
        return PROFILE_PREFIX + segments[1].lower()
    if len(segments) >= 2 and segments[0].lower() == "pub":
        # Profiles from before vanity URLs: /pub/name/1/23/456.
        return "https://www.linkedin.com/pub/" + "/".join(s.lower() for s in segments[1:])
    raise InvalidValue(
        N_("'%(url)s' is not a LinkedIn profile URL (expected linkedin.com/in/...)"),
        params={"url": value},
    )


def parse_connected_on(value: str) -> dt.date:
    """LinkedIn's 'Connected On' ("07 Dec 2025"), or a date a spreadsheet rewrote it to."""
    m = _DAY_MON_YEAR.match(value)
    if m:
        month = MONTHS.get(m.group(2).lower())
        if month is not None:
            try:
                return dt.date(int(m.group(3)), month, int(m.group(1)))
            except ValueError as exc:
                raise InvalidValue(
                    N_("'%(value)s' is not a valid date (%(reason)s)"),
                    params={"value": value, "reason": date_reason(exc)},
                ) from exc
    # The staff import's messages name its date_order field, which this import has not.
    if _AMBIGUOUS.match(value) and slashed_order_hint(value) is None:
        raise InvalidValue(EITHER_WAY, params={"value": value, "forms": DATE_FORMATS})
    try:
        return parse_date(value, None)
    except ValueError as exc:
        if exc.__cause__ is not None:
            # A form it reads, with a day that does not exist: that is the reason to give.
            raise
        raise InvalidValue(NOT_A_DATE, params={"value": value, "forms": DATE_FORMATS}) from None


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
                    "message": NOT_A_PROFILE,
                }
            )
    elif not (first or last):
        errors.append(
            {
                "line": line,
                "field": "first_name",
                "message": NO_NAME,
            }
        )
    if email and (not EMAIL_RE.match(email) or len(email) > 320):
        errors.append({"line": line, "field": "email", "message": NOT_AN_EMAIL})
    connected_on = None
    if not when:
        errors.append({"line": line, "field": "connected_on", "message": NO_DATE})
    else:
        try:
            connected_on = parse_connected_on(when)
        except ValueError as exc:
            errors.append({"line": line, "field": "connected_on", "message": str(exc)})
        else:
            if connected_on > today:
                errors.append(
                    {
                        "line": line,
                        "field": "connected_on",
                        "message": IN_THE_FUTURE % {"value": when},
                    }
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
                    "message": TOO_LONG % {"field": name, "limit": limit},
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
            N_("attach the Connections.csv export as the 'file' field of a multipart form"),
            field="file",
        )
    if isinstance(content, str):
        return io.BytesIO(content.encode())
    if isinstance(content, bytes | bytearray):
        return io.BytesIO(content)
    if callable(getattr(content, "read", None)):
        return content
    raise InvalidInput(N_("send exactly one file in the 'file' field"), field="file")


def _not_an_export(records: list[list[str]]) -> InvalidInput:
    """Say why a file is not a connections export, naming what it looks like if we can tell."""
    first = next((r for r in records if any(c.strip() for c in r)), [])
    cells = {normalise_header(c) for r in records for c in r}
    for marker, what in OTHER_EXPORTS.items():
        if marker in cells:
            return InvalidInput(
                N_(
                    "this is not a LinkedIn connections export: it looks like %(what)s; upload Connections.csv from LinkedIn's data download"
                ),
                field="file",
                params={"what": what},
            )
    # The first line is not quoted back: it may be a person's row, and 4xx answers are kept for
    # Idempotency-Key replays, where an erasure would not reach it.
    columns = len(first)
    return InvalidInput(
        N_(
            "this is not a LinkedIn connections export: no header row with First Name, Last Name and Connected On in its first %(HEADER_SEARCH_LINES)s lines (the first line has %(columns)s column(s)); upload Connections.csv from LinkedIn's data download"
        ),
        field="file",
        params={"HEADER_SEARCH_LINES": HEADER_SEARCH_LINES, "columns": columns},
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
                            "message": SHORT_ROW % {"count": len(record), "width": width},
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
            unreadable = InvalidValue(
                N_(
                    "the CSV cannot be read from here on (%(error)s); check the quotes on this line"
                ),
                params={"error": csv_reason(exc)},
            )
            raise InvalidInput(
                N_("line %(line)s: %(message)s"),
                field="file",
                errors=[{"line": line, "field": "file", "message": str(unreadable)}],
                parts={0: unreadable},
                params={"line": line, "message": unreadable},
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
