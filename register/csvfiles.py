"""Reading CSV files as people export them: any encoding Excel writes, any delimiter, messy headers."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

from register.errors import InvalidInput, InvalidValue, RegisterError
from register.i18n import N_, labelled

MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
DELIMITERS = (",", ";", "\t", "|")

# Files people upload by mistake, recognised by their first bytes, with what to do instead.
SIGNATURES = (
    (
        b"PK\x03\x04",
        N_(
            "this is a ZIP archive or an Excel workbook (.xlsx); save the sheet as CSV and upload that"
        ),
    ),
    (
        b"\xd0\xcf\x11\xe0",
        N_("this is an old Excel workbook (.xls); save the sheet as CSV and upload that"),
    ),
    (b"%PDF", N_("this is a PDF; export the data as CSV and upload that")),
    (b"\x89PNG", N_("this is a PNG image, not a CSV file")),
    (b"\xff\xd8\xff", N_("this is a JPEG image, not a CSV file")),
    (b"GIF8", N_("this is a GIF image, not a CSV file")),
    (b"\x1f\x8b", N_("this is a gzip archive; unpack it and upload the CSV inside")),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def decode(content: bytes, field: str = "file") -> str:
    """Text of an uploaded file: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252."""
    if not content or not content.strip():
        raise InvalidInput(N_("the file is empty"), field=field)
    for signature, message in SIGNATURES:
        if content.startswith(signature):
            raise InvalidInput(message, field=field)
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = content.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                N_("the file starts like UTF-16 text but is not"), field=field
            ) from exc
    elif b"\x00" in content[:4096]:
        raise InvalidInput(N_("this is not a text CSV file (it contains binary data)"), field=field)
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            # What Excel writes on Windows in Western Europe when asked for plain "CSV".
            text = content.decode("cp1252", errors="replace")
    sample = text[:4096]
    if "\x00" in text or len(_CONTROL.findall(sample)) > max(2, len(sample) // 100):
        raise InvalidInput(N_("this is not a text CSV file (it contains binary data)"), field=field)
    if not text.strip():
        raise InvalidInput(N_("the file is empty"), field=field)
    return text


def _cp1252_where_not_utf8(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: bytes that are not UTF-8 are read as Windows-1252."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("cp1252", "replace"), exc.end


# A stream cannot be tried whole as UTF-8 first, as decode() does: each byte sequence that is not
# UTF-8 is read as Windows-1252 instead, which gives the same text for a file in either encoding.
codecs.register_error("register-cp1252", _cp1252_where_not_utf8)
SNIFF_BYTES = 4096


class _Digesting(io.RawIOBase):
    """A binary file read once, front to back, with its SHA-256 taken on the way."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.sha256.update(data)
        self.size += size
        return size


class TextStream:
    """An uploaded file's lines as decode() would read it, without holding the file.

    `source` is anything with read(n) (an upload spooled to disk, an open file, BytesIO). Lines
    keep their line ends (for csv.reader); `sha256` is the digest of every byte read, the whole
    file's once the lines are exhausted.
    """

    def __init__(self, source: Any, field: str = "file") -> None:
        self.field = field
        self._raw = _Digesting(source)
        buffered = io.BufferedReader(self._raw, buffer_size=1 << 16)
        head = buffered.peek(SNIFF_BYTES)[:SNIFF_BYTES]
        if not head.strip() and len(head) < SNIFF_BYTES:
            raise InvalidInput(N_("the file is empty"), field=field)
        for signature, message in SIGNATURES:
            if head.startswith(signature):
                raise InvalidInput(message, field=field)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            encoding, errors = "utf-16", "strict"
        elif b"\x00" in head:
            raise InvalidInput(
                N_("this is not a text CSV file (it contains binary data)"), field=field
            )
        else:
            encoding, errors = "utf-8-sig", "register-cp1252"
        sample = head.decode(encoding, "replace")
        if len(_CONTROL.findall(sample)) > max(2, len(sample) // 100):
            raise InvalidInput(
                N_("this is not a text CSV file (it contains binary data)"), field=field
            )
        self._text = io.TextIOWrapper(buffered, encoding=encoding, errors=errors, newline="")

    @property
    def sha256(self) -> str:
        """SHA-256 of the bytes read so far (the file's, once every line was read)."""
        return self._raw.sha256.hexdigest()

    @property
    def size(self) -> int:
        """Bytes read so far."""
        return self._raw.size

    def __iter__(self) -> Iterator[str]:
        try:
            for line in self._text:
                if "\x00" in line:
                    # PostgreSQL text cannot hold NUL, and no CSV export writes one.
                    raise InvalidInput(
                        N_("this is not a text CSV file (it contains binary data)"),
                        field=self.field,
                    )
                yield line
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                N_("the file starts like UTF-16 text but is not"), field=self.field
            ) from exc


def normalise_header(value: str) -> str:
    """Header text reduced to lower-case ASCII letters and digits ("E-Mail-Adresse" -> "emailadresse")."""
    folded = unicodedata.normalize("NFKD", value.strip().lower())
    return re.sub(r"[^a-z0-9]", "", folded.replace("ß", "ss"))


def refuse_repeated_columns(headers: list[str], used: Iterable[int]) -> None:
    """422 when a column the import reads has a twin header: which one holds the data is a guess."""
    normalised = [normalise_header(h) for h in headers]
    for index in sorted(used):
        twins = [i for i, h in enumerate(normalised) if h == normalised[index] and i != index]
        if twins:
            numbers = ", ".join(str(i + 1) for i in sorted([index, *twins]))
            raise InvalidInput(
                N_(
                    "the header '%(value)s' appears more than once (columns %(numbers)s): rename or remove the extra column"
                ),
                field="file",
                params={"value": headers[index].strip(), "numbers": numbers},
            )


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            count += 1
    return count


def detect_delimiter(text: str) -> tuple[str, bool]:
    """The delimiter of a CSV text and whether an Excel "sep=" line names it, judged on the header."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    m = re.fullmatch(r"\s*sep=(.)\s*", first)
    if m:
        return m.group(1), True
    # The header row is the most regular line of an export: no free text, no dates, no decimals.
    counts = {d: _count_outside_quotes(first, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return (best if counts[best] else ","), False


def rows_with_lines(text: str, delimiter: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the physical line number each starts on (1-based)."""
    skip_sep_line = False
    if delimiter is None:
        delimiter, skip_sep_line = detect_delimiter(text)
    # strict: an unterminated quote is an error on its line, not a field that swallows the file.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    try:
        for record in reader:
            if skip_sep_line:
                skip_sep_line = False
            else:
                yield start, record
            start = reader.line_num + 1
    except csv.Error as exc:
        unreadable = InvalidInput(
            N_("the CSV cannot be read from here on (%(error)s); check the quotes on this line"),
            field="file",
            params={"error": csv_reason(exc)},
        )
        raise InvalidInput(
            N_(
                "line %(start)s: the CSV cannot be read from here on (%(error)s); check the quotes on this line"
            ),
            field="file",
            errors=[{"line": start, "field": "file", "message": unreadable.detail}],
            parts={0: unreadable},
            params={"start": start, "error": csv_reason(exc)},
        ) from exc


_SLASHED = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{2}|\d{4})$")
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")
_WORDY = re.compile(r"^(\d{1,2})[\s\-]+([A-Za-z]{3,9})\.?[\s\-,]+(\d{4})$")
_WORDY_US = re.compile(r"^([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})$")


def slashed_order_hint(value: str) -> str | None:
    """'DMY' or 'MDY' if this slashed date can only be read one way, else None."""
    m = _SLASHED.match(value.strip())
    if not m or m.group(2) == ".":
        return None
    a, b = int(m.group(1)), int(m.group(3))
    if a > 12 >= b:
        return "DMY"
    if b > 12 >= a:
        return "MDY"
    return None


# The csv module's reasons for a file it cannot read (the start of each), translatable.
CSV_REASONS = (
    ("unexpected end of data", N_("the file ends inside a quoted cell")),
    ("line contains NUL", N_("the line holds a NUL character")),
    ("field larger than field limit", N_("a cell is longer than the limit")),
    ("new-line character seen in unquoted field", N_("a line break inside a cell without quotes")),
    ("'", N_("a quote is not followed by the separator")),
)


def csv_reason(exc: Exception) -> Any:
    """The csv module's reason as it said it (the API), labelled for a page to translate."""
    return labelled(str(exc), CSV_REASONS)


# Python's reasons for a date that does not exist, in words a page can translate.
DATE_REASONS = (
    ("day", N_("that month has no such day")),
    ("month", N_("the month must be 1 to 12")),
    ("year", N_("the year is out of range")),
)


def date_reason(exc: ValueError) -> Any:
    """Python's reason a date does not exist: as it says it for the API, labelled for a page."""
    # Python begins each reason with the part it is about: "day is out of range for month".
    return labelled(str(exc), DATE_REASONS)


def _date(value: str, year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise InvalidValue(
            N_("'%(value)s' is not a valid date (%(reason)s)"),
            params={"value": value, "reason": date_reason(exc)},
        ) from exc


def parse_date(value: str, date_order: str | None) -> dt.date:
    """A date in the forms HR exports use; raises ValueError with a reason."""
    text = value.strip()
    m = _ISO.match(text)
    if m:
        return _date(value, int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _WORDY.match(text)
    if m and m.group(2)[:3].lower() in MONTHS:
        return _date(value, int(m.group(3)), MONTHS[m.group(2)[:3].lower()], int(m.group(1)))
    m = _WORDY_US.match(text)
    if m and m.group(1)[:3].lower() in MONTHS:
        return _date(value, int(m.group(3)), MONTHS[m.group(1)[:3].lower()], int(m.group(2)))
    m = _SLASHED.match(text)
    if m:
        a, sep, b, year = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
        if len(m.group(4)) == 2:
            year += 2000 if year < 70 else 1900
        # Dotted dates (03.04.2024) are day.month.year in every country that writes them.
        order = date_order or ("DMY" if sep == "." else slashed_order_hint(text))
        if order is None:
            raise InvalidValue(
                N_("'%(value)s' could be day/month or month/day; pass date_order=DMY or MDY"),
                params={"value": value},
            )
        day, month = (a, b) if order == "DMY" else (b, a)
        return _date(value, year, month, day)
    raise InvalidValue(N_("'%(value)s' is not a date (use YYYY-MM-DD)"), params={"value": value})


def line_error(line: int, field: str, refusal: InvalidValue | RegisterError) -> dict[str, Any]:
    """A problem on one line of a file: the API's item, with the refusal a page says in its words."""
    message = refusal.detail if isinstance(refusal, RegisterError) else str(refusal)
    return {"line": line, "field": field, "message": message, "said": refusal}


def api_lines(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Line problems as the API lists them (without the refusal kept for pages)."""
    return [{k: v for k, v in e.items() if k != "said"} for e in errors]


def said_lines(errors: list[dict[str, Any]], gettext: Any) -> list[dict[str, Any]]:
    """Line problems in a reader's language."""
    return [
        {**{k: v for k, v in e.items() if k != "said"}, "message": e["said"].said(gettext)}
        if callable(getattr(e.get("said"), "said", None))
        else {k: v for k, v in e.items() if k != "said"}
        for e in errors
    ]


def parse_mapping(mapping: Any) -> dict[str, str]:
    """An import's `mapping` form field: a JSON object of the file's header -> our field."""
    if mapping in (None, "", b""):
        return {}
    if isinstance(mapping, bytes):
        mapping = mapping.decode("utf-8", "replace")
    if isinstance(mapping, str):
        try:
            mapping = json.loads(mapping)
        except (json.JSONDecodeError, RecursionError) as exc:
            # RecursionError: nested deeper than the decoder follows; a mapping is flat anyway.
            raise InvalidInput(
                N_("mapping must be a JSON object of header -> field"), field="mapping"
            ) from exc
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise InvalidInput(N_("mapping must be a JSON object of header -> field"), field="mapping")
    return mapping


# Row errors listed in one answer; a file wrong on every line still gets a readable 422.
MAX_ERRORS = 1000


def refuse_rows(errors: list[dict[str, Any]]) -> NoReturn:
    """Refuse a whole file for its row errors (line, field, message), listed in line order."""
    errors.sort(key=lambda e: e["line"])
    listed = errors[:MAX_ERRORS]
    raise InvalidInput(
        N_(
            "%(errors)s problem(s) in the file; nothing was imported "
            "(the first %(listed)s are listed)"
        )
        if len(errors) > MAX_ERRORS
        else N_("%(errors)s problem(s) in the file; nothing was imported"),
        field="file",
        errors=api_lines(listed),
        parts={
            i: e["said"]
            for i, e in enumerate(listed)
            if callable(getattr(e.get("said"), "said", None))
        },
        params={"errors": len(errors), "listed": MAX_ERRORS},
    )
