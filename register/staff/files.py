"""Bulk import of the staff directory from an HR system's CSV export: all or nothing."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

from register import audit
from register.actor import Actor
from register.checks import EMAIL_RE
from register.csvfiles import (
    decode,
    line_error,
    normalise_header,
    parse_date,
    parse_mapping,
    refuse_repeated_columns,
    refuse_rows,
    rows_with_lines,
    slashed_order_hint,
)
from register.db import now, write_transaction
from register.errors import InvalidInput, InvalidValue
from register.i18n import N_
from register.queries import unique_or_409
from register.staff.enums import EmployeeStatus
from register.staff.services import EMPLOYEE_LENGTHS, check_dates, derive_status, employees_left
from register.staff.tables import Employee

IGNORE = "ignore"
SKIP = ("", "-", IGNORE)

# Headers HR systems use (Workday, BambooHR, Personio, HiBob, SAP SuccessFactors, spreadsheets, in
# English, German and French), reduced by normalise_header. Within a field the first synonym
# present wins, so "Work Email" beats a personal "Email" and "Business Title" beats "Title" (Dr).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": (
        "fullname",
        "employeefullname",
        "name",
        "employeename",
        "displayname",
        "legalname",
        "vollstandigername",
        "nomcomplet",
    ),
    "first_name": (
        "firstname",
        "legalfirstname",
        "givenname",
        "forename",
        "vorname",
        "prenom",
        "preferredfirstname",
    ),
    "last_name": (
        "lastname",
        "legallastname",
        "surname",
        "familyname",
        "nachname",
        "familienname",
        "nomdefamille",
    ),
    "work_email": (
        "workemail",
        "workemailaddress",
        "primaryworkemail",
        "emailprimarywork",
        "emailwork",
        "businessemail",
        "businessemailaddress",
        "companyemail",
        "officeemail",
        "corporateemail",
        "geschaftlicheemail",
        "emailgeschaftlich",
        "dienstlicheemail",
        "email",
        "emailaddress",
        "email1",
        "mail",
        "emailadresse",
        "courriel",
        "adresseemail",
    ),
    "department": (
        "department",
        "departmentname",
        "dept",
        "division",
        "team",
        "orgunit",
        "organizationalunit",
        "businessunit",
        "abteilung",
        "organisationseinheit",
        "departement",
        "supervisoryorganization",
    ),
    "job_title": (
        "jobtitle",
        "businesstitle",
        "positiontitle",
        "position",
        "designation",
        "jobprofile",
        "title",
        "role",
        "stellenbezeichnung",
        "berufsbezeichnung",
        "funktion",
        "intituledeposte",
        "poste",
    ),
    "manager_email": (
        "manageremail",
        "manageremailaddress",
        "managerworkemail",
        "linemanageremail",
        "supervisoremail",
        "reportstoemail",
        "reportstoemailaddress",
        "vorgesetzteremail",
        "vorgesetzteemail",
        "emailvorgesetzter",
        "emaildumanager",
        "reportsto",
        "manager",
        "linemanager",
        "supervisor",
        "vorgesetzter",
        "vorgesetzte",
        "responsable",
    ),
    "start_date": (
        "startdate",
        "hiredate",
        "originalhiredate",
        "employmentstartdate",
        "datehired",
        "dateofjoining",
        "joiningdate",
        "joindate",
        "eintrittsdatum",
        "eintritt",
        "beschaftigungsbeginn",
        "datedentree",
        "datedembauche",
    ),
    "leaving_date": (
        "leavingdate",
        "terminationdate",
        "enddate",
        "employmentenddate",
        "lastday",
        "lastdayofwork",
        "lastworkingday",
        "exitdate",
        "separationdate",
        "austrittsdatum",
        "austritt",
        "datedesortie",
        "datededepart",
    ),
    "status": ("status", "employeestatus", "employmentstatus", "mitarbeiterstatus", "statut"),
}
FIELDS = tuple(SYNONYMS)
# Status cells, reduced by normalise_header. None: the cell says how someone is employed (full-time,
# contractor) or only that they are employed, so the leaving date decides: active, leaving or left.
STATUS_WORDS: dict[str, str | None] = {
    **dict.fromkeys(
        (
            "leaving",
            "notice",
            "onnotice",
            "servingnotice",
            "resigned",
            "gekundigt",
            "demissionnaire",
        ),
        "leaving",
    ),
    **dict.fromkeys(
        (
            "left",
            "terminated",
            "inactive",
            "former",
            "leaver",
            "separated",
            "exited",
            "ausgetreten",
            "inaktiv",
            "parti",
            "sorti",
        ),
        "left",
    ),
    **dict.fromkeys(
        (
            "active",
            "employed",
            "current",
            "onleave",
            "leaveofabsence",
            "aktiv",
            "actif",
            "fulltime",
            "parttime",
            "contractor",
            "contract",
            "temporary",
            "temp",
            "intern",
            "internship",
            "permanent",
            "fixedterm",
            "seasonal",
            "freelance",
            "freelancer",
            "consultant",
            "vollzeit",
            "teilzeit",
            "werkstudent",
            "praktikant",
            "befristet",
            "unbefristet",
            "cdi",
            "cdd",
            "stagiaire",
        ),
        None,
    ),
}


def map_headers(headers: list[str], explicit: dict[str, str]) -> dict[int, str]:
    """Column index -> field, from the explicit mapping first, then the synonyms."""
    normalised = [normalise_header(h) for h in headers]
    explicit_norm: dict[str, str] = {}
    for header, target in explicit.items():
        target = target.strip().lower()
        if target not in FIELDS and target not in SKIP:
            raise InvalidInput(
                N_(
                    "mapping names unknown field '%(target)s'; fields are: %(value)s (or '%(IGNORE)s')"
                ),
                field="mapping",
                params={"target": target, "value": ", ".join(FIELDS), "IGNORE": IGNORE},
            )
        if normalise_header(header) not in normalised:
            raise InvalidInput(
                N_(
                    "mapping names '%(header)s', which is not a header of the file; the headers are %(headers)s"
                ),
                field="mapping",
                params={"header": header, "headers": headers},
            )
        explicit_norm[normalise_header(header)] = target
    result: dict[int, str] = {}
    skipped: set[int] = set()
    for index, header in enumerate(normalised):
        if header in explicit_norm:
            if explicit_norm[header] in SKIP:
                skipped.add(index)
            else:
                result[index] = explicit_norm[header]
    taken = set(result.values())
    for field, names in SYNONYMS.items():
        if field in taken:
            continue
        for name in names:
            index = next(
                (
                    i
                    for i, h in enumerate(normalised)
                    if h == name and i not in result and i not in skipped
                ),
                None,
            )
            if index is not None:
                result[index] = field
                taken.add(field)
                break
    refuse_repeated_columns(headers, result)
    if "work_email" not in taken:
        raise InvalidInput(
            N_(
                'no work e-mail column found among the headers %(headers)s; pass a mapping such as {"E-mail": "work_email"}'
            ),
            field="file",
            params={"headers": headers},
        )
    if "name" not in taken and not {"first_name", "last_name"} & taken:
        raise InvalidInput(
            N_(
                'no name column found among the headers %(headers)s; pass a mapping such as {"Employee": "name"}'
            ),
            field="file",
            params={"headers": headers},
        )
    return result


DATE_FIELDS = ("start_date", "leaving_date")
# Undecided dates a preview quotes when it asks how the file writes dates.
UNDECIDED_SHOWN = 3


def _date_hints(rows: list[tuple[int, dict[str, str]]]) -> set[str]:
    """The orders ('DMY', 'MDY') that the file's slashed dates can only be read in."""
    return {slashed_order_hint(r.get(f, "")) for _, r in rows for f in DATE_FIELDS} - {None}


def _undecided(value: str) -> bool:
    """Whether a date reads only once the order is known (03/04/2025: March or April)."""
    try:
        parse_date(value, None)
    except ValueError:
        try:
            parse_date(value, "DMY")
            parse_date(value, "MDY")
        except ValueError:
            return False
        return True
    return False


def _same_either_way(value: str) -> bool:
    """Whether both orders give the same day (01/01/2027): no example of the question to ask."""
    return parse_date(value, "DMY") == parse_date(value, "MDY")


def _undecided_dates(rows: list[tuple[int, dict[str, str]]]) -> list[str]:
    """The file's dates that no other date of it decides the order of, the first few of them.

    Dates that differ by order come first: 01/01/2027 is undecided too, but shows nothing.
    """
    found: list[str] = []
    same: list[str] = []
    for _, r in rows:
        for f in DATE_FIELDS:
            value = r.get(f, "").strip()
            if value and value not in found and value not in same and _undecided(value):
                (same if _same_either_way(value) else found).append(value)
                if len(found) == UNDECIDED_SHOWN:
                    return found
    return (found + same)[:UNDECIDED_SHOWN]


def _file_date_order(rows: list[tuple[int, dict[str, str]]]) -> str | None:
    hints = _date_hints(rows)
    if len(hints) > 1:
        raise InvalidInput(
            N_("the file mixes day/month and month/day dates; pass date_order=DMY or MDY"),
            field="date_order",
        )
    return hints.pop() if hints else None


def _content_bytes(content: Any) -> bytes:
    if content is None or content == "":
        raise InvalidInput(
            N_("attach the CSV as the 'file' field of a multipart form"), field="file"
        )
    if isinstance(content, str):
        return content.encode()
    if isinstance(content, bytes | bytearray):
        return bytes(content)
    raise InvalidInput(N_("send exactly one file in the 'file' field"), field="file")


def _one_line(value: str) -> str:
    # A directory field is one line; exports wrap long cells and pad them with spaces.
    return " ".join(value.split())


@dataclass
class ReadFile:
    """A file read and checked row by row, before it meets the directory."""

    digest: str
    headers: list[str]
    columns: dict[int, str]
    rows: list[tuple[int, dict[str, Any]]]
    emails: set[str]
    errors: list[dict[str, Any]]
    # How the dates were read ('DMY', 'MDY' or None: no date needed it).
    date_order: str | None = None
    # Whether the file leaves the date order open (undecided or mixed dates): a person must say.
    ambiguous: bool = False
    # Some of the dates that read either way, to ask about.
    undecided: list[str] = dataclasses.field(default_factory=list)


def read_rows(content: Any, mapping: Any = None, date_order: Any = None) -> ReadFile:
    """Parse and check every row on its own; rows with errors are left out of `rows`."""
    if isinstance(date_order, bytes):
        date_order = date_order.decode("utf-8", "replace")
    if isinstance(date_order, str):
        date_order = date_order.strip().upper() or None
    if date_order not in (None, "DMY", "MDY"):
        raise InvalidInput(N_("date_order must be DMY or MDY"), field="date_order")
    data = _content_bytes(content)
    text = decode(data)
    records = list(rows_with_lines(text))
    headers = next((r for _, r in records if any(c.strip() for c in r)), [])
    if not headers:
        raise InvalidInput(N_("the file has no header row"), field="file")
    header_index = next(i for i, (_, r) in enumerate(records) if r is headers)
    columns = map_headers(headers, parse_mapping(mapping))
    raw_rows: list[tuple[int, dict[str, str]]] = []
    for line, record in records[header_index + 1 :]:
        if not any(c.strip() for c in record):
            continue
        raw_rows.append(
            (
                line,
                {
                    field: (record[i].strip() if i < len(record) else "")
                    for i, field in columns.items()
                },
            )
        )
    if not raw_rows:
        raise InvalidInput(N_("the file has a header but no rows"), field="file")
    order = date_order or _file_date_order(raw_rows)
    hints = _date_hints(raw_rows)
    undecided = [] if hints else _undecided_dates(raw_rows)

    errors: list[dict[str, Any]] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for line, raw in raw_rows:
        row_errors = len(errors)

        def fail(field: str, refusal: Any, line: int = line) -> None:
            errors.append(line_error(line, field, refusal))

        name = _one_line(
            raw.get("name")
            or " ".join(p for p in (raw.get("first_name", ""), raw.get("last_name", "")) if p)
        )
        if not name:
            fail("name", InvalidValue(N_("name is blank")))
        email = raw.get("work_email", "").lower()
        if not EMAIL_RE.match(email) or len(email) > 320:
            fail(
                "work_email",
                InvalidValue(
                    N_("'%(value)s' is not an e-mail address"),
                    params={"value": raw.get("work_email", "")},
                ),
            )
        elif email in seen:
            fail(
                "work_email",
                InvalidValue(
                    N_("%(email)s appears again (first on line %(first)s)"),
                    params={"email": email, "first": seen[email]},
                ),
            )
        else:
            seen[email] = line
        values: dict[str, Any] = {"name": name, "work_email": email}
        for field in ("department", "job_title"):
            if field in raw:
                values[field] = _one_line(raw[field])
        for field, limit in EMPLOYEE_LENGTHS.items():
            if len(values.get(field) or "") > limit:
                fail(
                    field,
                    InvalidValue(
                        N_("%(field)s is longer than %(limit)s characters"),
                        params={"field": field, "limit": limit},
                    ),
                )
        for field in ("start_date", "leaving_date"):
            if raw.get(field):
                try:
                    values[field] = parse_date(raw[field], order)
                except InvalidValue as exc:
                    fail(field, exc)
            elif field in raw:
                values[field] = None
        if raw.get("status"):
            word = normalise_header(raw["status"])
            if word not in STATUS_WORDS:
                fail(
                    "status",
                    InvalidValue(
                        N_(
                            "unknown status '%(value)s' (use active, leaving or left; or map the "
                            "column to '%(IGNORE)s')"
                        ),
                        params={"value": raw["status"], "IGNORE": IGNORE},
                    ),
                )
            elif STATUS_WORDS[word] is not None:
                values["status"] = STATUS_WORDS[word]
        manager = raw.get("manager_email", "").lower()
        if manager:
            if not EMAIL_RE.match(manager):
                fail(
                    "manager_email",
                    InvalidValue(
                        N_(
                            "the manager must be given by work e-mail, not '%(value)s' (or map "
                            "the column to '%(IGNORE)s')"
                        ),
                        params={"value": raw["manager_email"], "IGNORE": IGNORE},
                    ),
                )
            elif manager == email:
                fail("manager_email", InvalidValue(N_("an employee cannot be their own manager")))
            values["manager_email"] = manager
        elif "manager_email" in raw:
            values["manager_email"] = None
        if len(errors) == row_errors:
            try:
                check_dates(values.get("start_date"), values.get("leaving_date"))
                if "status" in values or "leaving_date" in values:
                    values["status"] = derive_status(
                        values.get("leaving_date"), values.get("status")
                    )
            except InvalidInput as exc:
                fail(exc.extra.get("field") or "status", exc)
            else:
                parsed.append((line, values))
    return ReadFile(
        hashlib.sha256(data).hexdigest(),
        headers,
        columns,
        parsed,
        set(seen),
        errors,
        date_order=order,
        ambiguous=len(hints) > 1 or bool(undecided),
        undecided=undecided,
    )


def _manager_errors(
    parsed: list[tuple[int, dict[str, Any]]], existing: dict[str, dict[str, Any]], in_file: set[str]
) -> list[dict[str, Any]]:
    """Managers that are nowhere to be found, and reporting cycles the file would create."""
    errors: list[dict[str, Any]] = []
    by_id = {r["id"]: email for email, r in existing.items()}
    managers: dict[str, str | None] = {
        email: by_id.get(r["manager"]) for email, r in existing.items()
    }
    for line, values in parsed:
        if "manager_email" not in values:
            continue
        target = values["manager_email"]
        if target and target not in existing and target not in in_file:
            errors.append(
                line_error(
                    line,
                    "manager_email",
                    InvalidValue(
                        N_("no employee with e-mail %(email)s in the directory or the file"),
                        params={"email": target},
                    ),
                )
            )
        managers[values["work_email"]] = target
    for line, values in parsed:
        # Only the people on a cycle are at fault, not everyone who reports into one.
        start = values["work_email"]
        walk, visited = managers.get(start), {start}
        while walk and walk not in visited:
            visited.add(walk)
            walk = managers.get(walk)
        if walk == start:
            errors.append(
                line_error(
                    line,
                    "manager_email",
                    InvalidValue(N_("this manager creates a reporting cycle")),
                )
            )
    return errors


def _waits_for_order(error: dict[str, Any]) -> bool:
    """Whether a line's error is only that its date reads either way."""
    if error["field"] not in DATE_FIELDS:
        return False
    # parse_date's words for a date it cannot read without the order.
    return "could be day/month or month/day" in error["message"]


# Rows a preview shows as they will be read.
PREVIEW_ROWS = 10


def _changed_fields(
    values: dict[str, Any], before: dict[str, Any], ids: dict[str, int]
) -> list[str]:
    """The fields an import would change on a person already in the directory."""
    fields = [k for k, v in values.items() if k != "manager_email" and before.get(k) != v]
    if "manager_email" in values:
        target = values["manager_email"]
        # A manager the file itself adds has no id yet: naming them is a change.
        if (ids.get(target, -1) if target else None) != before["manager"]:
            fields.append("manager_email")
    return fields


async def preview_import(
    *, content: Any, mapping: Any = None, date_order: Any = None, shown: int = PREVIEW_ROWS
) -> dict[str, Any]:
    """What an import of this file would do, read and checked as the import reads it; nothing is written.

    The mapping of columns to fields, the first rows as they will be read (with whether each adds
    or changes a person), the counts, every problem by line, and whether the date order is open.
    """
    mixed = False
    try:
        read = read_rows(content, mapping, date_order)
    except InvalidInput as exc:
        if date_order or exc.extra.get("field") != "date_order":
            raise
        # Dates written both ways: the columns can be shown, the rows once a person says the order.
        mixed = True
        read = read_rows(content, mapping, "DMY")
        read.date_order, read.ambiguous = None, True
    existing = {r["work_email"]: r for r in await Employee.select()}
    errors = sorted(
        read.errors + _manager_errors(read.rows, existing, read.emails), key=lambda e: e["line"]
    )
    if read.ambiguous and not date_order:
        # Dates that wait for the order are not problems of their lines: the preview asks first.
        errors = [e for e in errors if not _waits_for_order(e)]
    ids = {email: r["id"] for email, r in existing.items()}
    names = {r["id"]: r["name"] for r in existing.values()}
    rows: list[dict[str, Any]] = []
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for line, values in read.rows:
        before = existing.get(values["work_email"])
        changed = [] if before is None else _changed_fields(values, before, ids)
        action = "create" if before is None else ("update" if changed else "same")
        counts[{"create": "created", "update": "updated", "same": "unchanged"}[action]] += 1
        if len(rows) < shown:
            rows.append(
                {
                    "line": line,
                    "action": action,
                    "employee_id": before["id"] if before else None,
                    "changed": changed,
                    "values": values,
                    "now": {
                        **{k: before.get(k) for k in values if k != "manager_email"},
                        "manager": names.get(before["manager"]) if before["manager"] else None,
                    }
                    if before
                    else {},
                }
            )
    return {
        "digest": read.digest,
        "columns": [
            {"header": header, "field": read.columns.get(index)}
            for index, header in enumerate(read.headers)
        ],
        "rows": rows,
        "total": len(read.rows),
        **counts,
        "errors": errors,
        "date_order": read.date_order,
        "ambiguous": read.ambiguous,
        "mixed": mixed,
        "undecided": read.undecided,
    }


async def import_employees(
    *, actor: Actor, content: Any, mapping: Any = None, date_order: Any = None
) -> dict[str, Any]:
    """Validate every row, then create or update employees by work e-mail in one transaction."""
    read = read_rows(content, mapping, date_order)
    parsed, errors = read.rows, read.errors
    now_left: list[int] = []
    created = updated = unchanged = 0
    stamp = now()
    async with write_transaction():
        await audit.lock_chain()
        # Read the directory inside the write transaction, so what we compare with is what we change.
        existing = {r["work_email"]: r for r in await Employee.select()}
        errors += _manager_errors(parsed, existing, read.emails)
        if errors:
            refuse_rows(errors)
        ids = {email: r["id"] for email, r in existing.items()}
        # New people first, so a row may name a manager that a later row of the file creates.
        for _line, values in parsed:
            email = values["work_email"]
            if email in existing:
                continue
            values.setdefault("status", derive_status(values.get("leaving_date"), None))
            row = {k: v for k, v in values.items() if k != "manager_email"}
            async with unique_or_409(
                N_(
                    "an employee with work e-mail %(email)s was added while importing; import again"
                ),
                "work_email",
                {"email": email},
            ):
                inserted = await Employee.insert(
                    Employee(**row, version=1, created_at=stamp, updated_at=stamp)
                )
            ids[email] = inserted[0]["id"]
        for _line, values in parsed:
            email = values["work_email"]
            fields = {k: v for k, v in values.items() if k != "manager_email"}
            if "manager_email" in values:
                fields["manager"] = (
                    ids[values["manager_email"]] if values["manager_email"] else None
                )
            before = existing.get(email)
            if before is None:
                if fields.get("manager") is not None:
                    await Employee.update({Employee.manager: fields["manager"]}).where(
                        Employee.id == ids[email]
                    )
                created += 1
                await audit.record(
                    actor,
                    "employee.create",
                    "employee",
                    ids[email],
                    audit.diff(None, _api_names(fields)),
                )
                continue
            changes = {k: v for k, v in fields.items() if before.get(k) != v}
            if not changes:
                unchanged += 1
                continue
            await Employee.update(
                {**changes, "version": Employee.version + 1, "updated_at": stamp}
            ).where(Employee.id == before["id"])
            updated += 1
            if changes.get("status") == EmployeeStatus.left.value:
                now_left.append(before["id"])
            await audit.record(
                actor,
                "employee.update",
                "employee",
                before["id"],
                audit.diff(_api_names(before), _api_names(changes)),
            )
        # The domain apps hear of leavers from an import as from any other update.
        await employees_left(actor=actor, employee_ids=now_left)
        summary = {
            "rows": len(parsed),
            "created": created,
            "updated": updated,
            "unchanged": unchanged,
            "mapping": {read.headers[i]: f for i, f in sorted(read.columns.items())},
        }
        await audit.record(
            actor,
            "employee.import",
            "file",
            read.digest,
            {k: v for k, v in summary.items() if k != "mapping"},
        )
    return summary


def _api_names(values: dict[str, Any]) -> dict[str, Any]:
    # The audit trail names fields as the API does (manager_id), like the single-record services.
    return {("manager_id" if k == "manager" else k): v for k, v in values.items()}


__all__ = [
    "FIELDS",
    "IGNORE",
    "STATUS_WORDS",
    "SYNONYMS",
    "ReadFile",
    "import_employees",
    "map_headers",
    "preview_import",
    "read_rows",
]
