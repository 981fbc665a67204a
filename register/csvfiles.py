"""Reading CSV files as people export them: any encoding Excel writes, any delimiter, messy headers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator

from register.errors import InvalidInput

MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}


def decode(content: bytes, field: str = "file") -> str:
    """Text of an uploaded file: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252."""
    if not content or not content.strip():
        raise InvalidInput("the file is empty", field=field)
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16")
    if b"\x00" in content[:4096]:
        raise InvalidInput("this is not a text CSV file (it contains binary data)", field=field)
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def normalise_header(value: str) -> str:
    """Header text reduced to lower-case letters and digits."""
    return re.sub(r"[^a-z0-9]", "", value.strip().lower())


def rows_with_lines(text: str, delimiter: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the line number each starts on."""
    if delimiter is None:
        sample = text[:8192]
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for record in reader:
            yield start, record
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(f"line {start}: the CSV cannot be read ({exc})", field="file", errors=[{"line": start, "field": None, "message": str(exc)}]) from exc


_SLASHED = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$")
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ][\d:.]+)?$")
_WORDY = re.compile(r"^(\d{1,2})[\s\-]+([A-Za-z]{3,9})\.?[\s\-,]+(\d{4})$")
_WORDY_US = re.compile(r"^([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})$")


def slashed_order_hint(value: str) -> str | None:
    """'DMY' or 'MDY' if this slashed date can only be read one way, else None."""
    m = _SLASHED.match(value.strip())
    if not m:
        return None
    a, b = int(m.group(1)), int(m.group(2))
    if a > 12 >= b:
        return "DMY"
    if b > 12 >= a:
        return "MDY"
    return None


def parse_date(value: str, date_order: str | None) -> dt.date:
    """A date in the forms HR exports use; raises ValueError with a reason."""
    text = value.strip()
    m = _ISO.match(text)
    if m:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _WORDY.match(text)
    if m and m.group(2)[:3].lower() in MONTHS:
        return dt.date(int(m.group(3)), MONTHS[m.group(2)[:3].lower()], int(m.group(1)))
    m = _WORDY_US.match(text)
    if m and m.group(1)[:3].lower() in MONTHS:
        return dt.date(int(m.group(3)), MONTHS[m.group(1)[:3].lower()], int(m.group(2)))
    m = _SLASHED.match(text)
    if m:
        a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if year < 100:
            year += 2000 if year < 70 else 1900
        order = date_order or slashed_order_hint(text)
        if order is None:
            raise ValueError(f"'{value}' could be day/month or month/day; pass date_order=DMY or MDY")
        day, month = (a, b) if order == "DMY" else (b, a)
        return dt.date(year, month, day)
    raise ValueError(f"'{value}' is not a date (use YYYY-MM-DD)")
