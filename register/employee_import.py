"""Bulk import of the staff directory from an HR system's CSV export: all or nothing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from register import audit
from register.actor import Actor
from register.csvfiles import (
    decode,
    normalise_header,
    parse_date,
    rows_with_lines,
    slashed_order_hint,
)
from register.db import write_transaction
from register.errors import InvalidInput
from register.services import EMAIL_RE, check_dates, derive_status, now
from register.tables import Employee

MAX_ERRORS = 1000

# Headers HR systems use (Workday, BambooHR, Personio, HiBob, spreadsheets), reduced by normalise_header.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": ("name", "fullname", "employeename", "displayname", "legalname", "employee"),
    "first_name": ("firstname", "givenname", "forename", "legalfirstname", "preferredfirstname"),
    "last_name": ("lastname", "surname", "familyname", "legallastname"),
    "work_email": ("workemail", "email", "emailaddress", "workemailaddress", "businessemail", "companyemail", "primaryworkemail", "email1"),
    "department": ("department", "dept", "team", "division", "orgunit", "businessunit", "departmentname"),
    "job_title": ("jobtitle", "title", "position", "role", "designation", "businesstitle", "positiontitle"),
    "manager_email": ("manageremail", "linemanageremail", "supervisoremail", "reportstoemail", "reportsto", "manager", "linemanager", "supervisor", "manageremailaddress"),
    "start_date": ("startdate", "hiredate", "dateofjoining", "joiningdate", "originalhiredate", "employmentstartdate", "datehired", "joindate"),
    "leaving_date": ("leavingdate", "terminationdate", "enddate", "lastday", "lastworkingday", "exitdate", "separationdate", "employmentenddate", "lastdayofwork"),
    "status": ("status", "employmentstatus", "employeestatus"),
}
FIELDS = tuple(SYNONYMS)
STATUS_WORDS = {
    "active": "active", "employed": "active", "current": "active", "onleave": "active", "leaveofabsence": "active",
    "leaving": "leaving", "notice": "leaving", "onnotice": "leaving", "resigned": "leaving", "serving notice": "leaving",
    "left": "left", "terminated": "left", "inactive": "left", "former": "left", "leaver": "left", "separated": "left", "exited": "left",
}


def map_headers(headers: list[str], explicit: dict[str, str]) -> dict[int, str]:
    """Column index -> field, from the explicit mapping first, then the synonyms."""
    normalised = [normalise_header(h) for h in headers]
    result: dict[int, str] = {}
    explicit_norm = {normalise_header(k): v for k, v in explicit.items()}
    for target in explicit_norm.values():
        if target not in FIELDS:
            raise InvalidInput(f"mapping names unknown field '{target}'; fields are: {', '.join(FIELDS)}", field="mapping")
    for index, header in enumerate(normalised):
        if header in explicit_norm:
            result[index] = explicit_norm[header]
    taken = set(result.values())
    for field, names in SYNONYMS.items():
        if field in taken:
            continue
        for index, header in enumerate(normalised):
            if index not in result and header in names:
                result[index] = field
                taken.add(field)
                break
    if "work_email" not in taken:
        raise InvalidInput(f"no work e-mail column found among the headers {headers}; pass a mapping such as {{\"E-mail\": \"work_email\"}}", field="file")
    if "name" not in taken and not {"first_name", "last_name"} & taken:
        raise InvalidInput(f"no name column found among the headers {headers}; pass a mapping such as {{\"Employee\": \"name\"}}", field="file")
    return result


def _parse_mapping(mapping: Any) -> dict[str, str]:
    if mapping in (None, ""):
        return {}
    if isinstance(mapping, bytes):
        mapping = mapping.decode()
    if isinstance(mapping, str):
        try:
            mapping = json.loads(mapping)
        except json.JSONDecodeError as exc:
            raise InvalidInput("mapping must be a JSON object of header -> field", field="mapping") from exc
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise InvalidInput("mapping must be a JSON object of header -> field", field="mapping")
    return mapping


def _file_date_order(rows: list[tuple[int, dict[str, str]]]) -> str | None:
    hints = {slashed_order_hint(r.get(f, "")) for _, r in rows for f in ("start_date", "leaving_date")} - {None}
    if len(hints) > 1:
        raise InvalidInput("the file mixes day/month and month/day dates; pass date_order=DMY or MDY", field="date_order")
    return hints.pop() if hints else None


async def import_employees(*, actor: Actor, content: bytes | str | None, mapping: Any = None, date_order: str | None = None) -> dict[str, Any]:
    """Validate every row, then create or update employees by work e-mail in one transaction."""
    if content is None:
        raise InvalidInput("attach the CSV as the 'file' field of a multipart form", field="file")
    if isinstance(date_order, str):
        date_order = date_order.strip().upper() or None
    if date_order not in (None, "DMY", "MDY"):
        raise InvalidInput("date_order must be DMY or MDY", field="date_order")
    data = content.encode() if isinstance(content, str) else content
    file_hash = hashlib.sha256(data).hexdigest()
    text = decode(data)
    records = rows_with_lines(text)
    header_line, headers = next(((n, r) for n, r in records if any(c.strip() for c in r)), (0, []))
    if not headers:
        raise InvalidInput("the file has no header row", field="file")
    columns = map_headers(headers, _parse_mapping(mapping))
    raw_rows: list[tuple[int, dict[str, str]]] = []
    for line, record in records:
        if not any(c.strip() for c in record):
            continue
        raw_rows.append((line, {field: (record[i].strip() if i < len(record) else "") for i, field in columns.items()}))
    if not raw_rows:
        raise InvalidInput("the file has a header but no rows", field="file")
    order = date_order or _file_date_order(raw_rows)

    errors: list[dict[str, Any]] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for line, raw in raw_rows:
        row_errors = len(errors)

        def fail(field: str, message: str, line: int = line) -> None:
            if len(errors) < MAX_ERRORS:
                errors.append({"line": line, "field": field, "message": message})

        name = raw.get("name") or " ".join(p for p in (raw.get("first_name", ""), raw.get("last_name", "")) if p)
        if not name:
            fail("name", "name is blank")
        if len(name) > 200:
            fail("name", "name is longer than 200 characters")
        email = raw.get("work_email", "").lower()
        if not EMAIL_RE.match(email):
            fail("work_email", f"'{raw.get('work_email', '')}' is not an e-mail address")
        elif email in seen:
            fail("work_email", f"{email} appears again (first on line {seen[email]})")
        else:
            seen[email] = line
        values: dict[str, Any] = {"name": name, "work_email": email}
        for field in ("department", "job_title"):
            if field in raw:
                if len(raw[field]) > 200:
                    fail(field, f"{field} is longer than 200 characters")
                values[field] = raw[field]
        for field in ("start_date", "leaving_date"):
            if raw.get(field):
                try:
                    values[field] = parse_date(raw[field], order)
                except ValueError as exc:
                    fail(field, str(exc))
            elif field in raw:
                values[field] = None
        if raw.get("status"):
            word = STATUS_WORDS.get(raw["status"].strip().lower().replace(" ", "")) or STATUS_WORDS.get(raw["status"].strip().lower())
            if word is None:
                fail("status", f"unknown status '{raw['status']}' (use active, leaving or left)")
            else:
                values["status"] = word
        manager = raw.get("manager_email", "").lower()
        if manager:
            if not EMAIL_RE.match(manager):
                fail("manager_email", f"the manager must be given by work e-mail, not '{raw['manager_email']}'")
            elif manager == email:
                fail("manager_email", "an employee cannot be their own manager")
            values["manager_email"] = manager
        elif "manager_email" in raw:
            values["manager_email"] = None
        if len(errors) == row_errors:
            try:
                check_dates(values.get("start_date"), values.get("leaving_date"))
                if "status" in values or "leaving_date" in values:
                    values["status"] = derive_status(values.get("leaving_date"), values.get("status"))
            except InvalidInput as exc:
                fail(exc.extra.get("field") or "status", exc.detail)
        parsed.append((line, values))

    existing = {r["work_email"]: r for r in await Employee.select()}
    by_id_email = {r["id"]: r["work_email"] for r in existing.values()}
    managers = {email: by_id_email.get(r["manager"]) for email, r in existing.items()}
    for line, values in parsed:
        if "manager_email" in values:
            target = values["manager_email"]
            if target and target not in existing and target not in seen:
                if len(errors) < MAX_ERRORS:
                    errors.append({"line": line, "field": "manager_email", "message": f"no employee with e-mail {target} in the directory or the file"})
            managers[values["work_email"]] = target
    for line, values in parsed:
        walk, hops = values["work_email"], 0
        visited = {walk}
        while (walk := managers.get(walk)) and hops < 10_000:
            if walk in visited:
                errors.append({"line": line, "field": "manager_email", "message": "this manager creates a reporting cycle"})
                break
            visited.add(walk)
            hops += 1
    if errors:
        errors.sort(key=lambda e: e["line"])
        raise InvalidInput(f"{len(errors)} problem(s) in the file; nothing was imported", field="file", errors=errors[:MAX_ERRORS])

    created = updated = unchanged = 0
    stamp = now()
    async with write_transaction():
        ids = {email: r["id"] for email, r in existing.items()}
        touched: set[str] = set()
        pending_managers: list[tuple[str, str | None]] = []
        for _line, values in parsed:
            email = values["work_email"]
            if "manager_email" in values:
                pending_managers.append((email, values.pop("manager_email")))
            before = existing.get(email)
            if before is None:
                values.setdefault("status", derive_status(values.get("leaving_date"), None))
                rows = await Employee.insert(Employee(**values, version=1, created_at=stamp, updated_at=stamp))
                ids[email] = rows[0]["id"]
                created += 1
                await audit.record(actor, "employee.create", "employee", ids[email], audit.diff(None, values))
                continue
            changes = {k: v for k, v in values.items() if before.get(k) != v}
            if not changes:
                unchanged += 1
                continue
            touched.add(email)
            await Employee.update({**changes, "version": Employee.version + 1, "updated_at": stamp}).where(Employee.id == before["id"])
            updated += 1
            await audit.record(actor, "employee.update", "employee", before["id"], audit.diff(before, changes))
        # Managers last: a row may name a manager that a later row of the same file creates.
        for email, manager_email in pending_managers:
            manager_id = ids.get(manager_email) if manager_email else None
            current = existing[email]["manager"] if email in existing else None
            if manager_id == current:
                continue
            await Employee.update({Employee.manager: manager_id}).where(Employee.id == ids[email])
            if email in existing:
                await Employee.update({Employee.version: Employee.version + (0 if email in touched else 1), Employee.updated_at: stamp}).where(Employee.id == ids[email])
                if email not in touched:
                    touched.add(email)
                    updated += 1
                    unchanged -= 1
                await audit.record(actor, "employee.update", "employee", ids[email], {"manager_id": [current, manager_id]})
        summary = {
            "rows": len(parsed), "created": created, "updated": updated, "unchanged": unchanged,
            "mapping": {headers[i]: f for i, f in sorted(columns.items())},
        }
        await audit.record(actor, "employee.import", "file", file_hash, {k: v for k, v in summary.items() if k != "mapping"})
    return summary
