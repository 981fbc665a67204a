"""`register training import FILE`: completions from a CSV, all or nothing, problems by line."""

from __future__ import annotations

from typing import Any

from register.actor import Actor
from register.csvfiles import (
    decode,
    line_error,
    normalise_header,
    parse_date,
    refuse_repeated_columns,
    refuse_rows,
    rows_with_lines,
)
from register.db import now, write_transaction
from register.errors import InvalidInput, InvalidValue, RegisterError
from register.i18n import N_
from register.policies.services import add_completions, check_completion, list_courses
from register.staff.services import employees_by_email

# The headers each field is recognised by, normalised (lower-case letters and digits).
HEADERS = {
    "email": ("email", "workemail", "emailaddress", "mail"),
    "course": ("course", "coursetitle", "training", "title"),
    "completed_on": ("completedon", "completed", "date", "completiondate"),
    "evidence": ("evidence", "certificate", "reference", "link"),
}
REQUIRED = ("email", "course", "completed_on")
MAX_ROWS = 50_000


def _columns(headers: list[str]) -> dict[str, int]:
    normalised = [normalise_header(h) for h in headers]
    found: dict[str, int] = {}
    for field, names in HEADERS.items():
        for i, h in enumerate(normalised):
            if h in names:
                found[field] = i
                break
    missing = [f for f in REQUIRED if f not in found]
    if missing:
        raise InvalidInput(
            N_(
                "the file has no column for %(value)s (headers: email, course, completed_on, evidence)"
            ),
            field="file",
            params={"value": ", ".join(missing)},
        )
    refuse_repeated_columns(headers, found.values())
    return found


async def import_completions(
    *, actor: Actor, content: bytes, date_order: str | None = None
) -> dict[str, int]:
    """Read a CSV of completions and record them all, or none with every line's problem."""
    if date_order in ("", None):
        date_order = None
    elif date_order not in ("DMY", "MDY"):
        raise InvalidInput(N_("date_order must be DMY or MDY"), field="date_order")
    text = decode(content)
    records = rows_with_lines(text)
    try:
        _, headers = next(records)
    except StopIteration as exc:
        raise InvalidInput(N_("the file is empty"), field="file") from exc
    columns = _columns(headers)
    courses = {c["title"].casefold(): c for c in await list_courses(include_retired=True)}
    people = await employees_by_email()
    today = now().date()
    errors: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    seen: set[tuple[int, int, Any]] = set()
    rows = 0
    for line, record in records:
        if not any(cell.strip() for cell in record):
            continue
        rows += 1
        if rows > MAX_ROWS:
            raise InvalidInput(
                N_("the file has more than %(limit)s rows; split it"),
                field="file",
                params={"limit": MAX_ROWS},
            )

        def cell(field: str, record: list[str] = record) -> str:
            index = columns.get(field)
            return record[index].strip() if index is not None and index < len(record) else ""

        email = cell("email").lower()
        person = people.get(email)
        if not email:
            errors.append(line_error(line, "email", InvalidInput(N_("the e-mail is empty"))))
        elif person is None:
            errors.append(
                line_error(
                    line,
                    "email",
                    InvalidInput(
                        N_("nobody in the staff directory has the work e-mail %(email)s"),
                        params={"email": email},
                    ),
                )
            )
        title = cell("course")
        course = courses.get(title.casefold())
        if course is None:
            errors.append(
                line_error(
                    line,
                    "course",
                    InvalidInput(
                        N_("there is no course titled '%(title)s'"), params={"title": title}
                    ),
                )
            )
        completed_on, evidence = None, ""
        try:
            day = parse_date(cell("completed_on"), date_order)
            evidence = check_completion(day, cell("evidence"), today)
            completed_on = day
        except InvalidValue as exc:
            errors.append(line_error(line, "completed_on", exc))
        except RegisterError as exc:
            errors.append(line_error(line, exc.extra.get("field") or "completed_on", exc))
        if person is None or course is None or completed_on is None:
            continue
        key = (course["id"], person["id"], completed_on)
        if key in seen:
            continue
        seen.add(key)
        items.append(
            {
                "course_id": course["id"],
                "employee_id": person["id"],
                "completed_on": completed_on,
                "evidence": evidence,
            }
        )
    if errors:
        refuse_rows(errors)
    if not rows:
        raise InvalidInput(N_("the file has a header but no rows"), field="file")
    async with write_transaction():
        added = await add_completions(actor=actor, items=items)
    return {"rows": rows, "added": len(added), "unchanged": rows - len(added)}
