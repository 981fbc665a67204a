"""The staff directory: queries and single-record rules, and the leaver sweep."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

from msgspec import UNSET

from register import audit
from register.actor import Actor
from register.checks import normalise_email
from register.db import enum_literal, fetch, is_postgres, now, offloaded, write_transaction
from register.errors import InvalidInput, NotFound, StaleVersion
from register.extensions import extensions
from register.i18n import N_
from register.queries import expect_version, page, page_bounds, search_pattern, unique_or_409
from register.staff.enums import EmployeeStatus
from register.staff.tables import Employee

EMPLOYEE_FIELDS = (
    "name",
    "work_email",
    "department",
    "job_title",
    "manager_id",
    "start_date",
    "leaving_date",
    "status",
)


def employee_out(row: dict[str, Any]) -> dict[str, Any]:
    """An employee row as the API shows it."""
    out = {
        k: row[k]
        for k in (
            "id",
            "name",
            "work_email",
            "department",
            "job_title",
            "start_date",
            "leaving_date",
            "status",
            "version",
            "created_at",
            "updated_at",
        )
    }
    out["manager_id"] = row["manager"]
    return out


# Named as the API names them, so fetched rows need no reshaping.
EMPLOYEE_COLUMNS = (
    '"id", "name", "work_email", "department", "job_title", "manager" AS "manager_id", '
    '"start_date", "leaving_date", "status", "version", "created_at", "updated_at"'
)


_GET_EMPLOYEE = f'SELECT {EMPLOYEE_COLUMNS} FROM "employee" WHERE "id" = $1'


async def get_employee(*, employee_id: int) -> dict[str, Any]:
    """One employee, or NotFound."""
    # The hottest read of the API: precompiled SQL, not a query built per request.
    rows = await fetch(_GET_EMPLOYEE, employee_id)
    if not rows:
        raise NotFound(
            N_("employee %(employee_id)s does not exist"), params={"employee_id": employee_id}
        )
    return rows[0]


async def employee_exists(employee_id: int) -> bool:
    """Whether a person is in the directory (the core links users to them)."""
    return bool(await fetch('SELECT 1 FROM "employee" WHERE "id" = $1', employee_id))


async def employees_by_id(employee_ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
    """Several people by id, as get_employee gives each; ids that do not exist are left out."""
    wanted = sorted({i for i in employee_ids if i is not None})
    if not wanted:
        return {}
    marks = ", ".join(f"${n + 1}" for n in range(len(wanted)))
    rows = await fetch(
        f'SELECT {EMPLOYEE_COLUMNS} FROM "employee" WHERE "id" IN ({marks})', *wanted
    )
    return {r["id"]: r for r in rows}


async def employee_names(employee_ids: Iterable[int | None]) -> dict[int, str]:
    """Names by id, for lists that show people by name."""
    wanted = sorted({i for i in employee_ids if i is not None})
    if not wanted:
        return {}
    # Two columns, not the whole row: every page with people on it asks this.
    marks = ", ".join(f"${n + 1}" for n in range(len(wanted)))
    rows = await fetch(f'SELECT "id", "name" FROM "employee" WHERE "id" IN ({marks})', *wanted)
    return {r["id"]: r["name"] for r in rows}


async def work_emails(employee_ids: Iterable[int | None]) -> dict[int, str]:
    """Work e-mails by id of people still employed (mail to people who do not sign in)."""
    wanted = sorted({i for i in employee_ids if i is not None})
    if not wanted:
        return {}
    marks = ", ".join(f"${n + 1}" for n in range(len(wanted)))
    rows = await fetch(
        f'SELECT "id", "work_email", "status" FROM "employee" WHERE "id" IN ({marks})', *wanted
    )
    return {r["id"]: r["work_email"] for r in rows if r["status"] != EmployeeStatus.left.value}


async def employee_by_email(email: str) -> dict[str, Any] | None:
    """The person with this work e-mail, or None."""
    rows = await fetch(
        f'SELECT {EMPLOYEE_COLUMNS} FROM "employee" WHERE "work_email" = $1',
        email.strip().lower(),
    )
    return rows[0] if rows else None


async def employees_by_email() -> dict[str, dict[str, Any]]:
    """Everyone by work e-mail: id, status and leaving date (imports resolve people with it)."""
    rows = await fetch('SELECT "id", "work_email", "leaving_date", "status" FROM "employee"')
    return {r["work_email"]: r for r in rows}


async def ids_named(words: list[str], limit: int) -> list[int]:
    """Ids of people whose name holds every word, ignoring case (at most `limit` of them)."""
    op = "ILIKE" if is_postgres() else "GLOB"
    clause = " AND ".join(f'"name" {op} ${n + 1}' for n in range(len(words)))
    rows = await fetch(
        f'SELECT "id" FROM "employee"{" WHERE " + clause if clause else ""} LIMIT {int(limit)}',
        *[search_pattern(w) for w in words],
    )
    return [r["id"] for r in rows]


# Columns the person picker shows: enough to tell two people of the same name apart.
_PEOPLE_COLUMNS = '"id", "name", "work_email", "department", "job_title", "status", "leaving_date"'


async def find_people(
    *, q: str, limit: int = 10, include_left: bool = False, staying_only: bool = False
) -> list[dict[str, Any]]:
    """People whose name or work e-mail holds every word typed, by name (an exact e-mail first)."""
    words = q.split()[:8]
    if not words:
        return []
    op = "ILIKE" if is_postgres() else "GLOB"
    where = [f'("name" {op} ${n + 1} OR "work_email" {op} ${n + 1})' for n in range(len(words))]
    if staying_only:
        # In the query, before the limit: filtered after, a page of leavers would look empty.
        where.append(f'"status" = {enum_literal(EmployeeStatus.active)}')
    elif not include_left:
        where.append(f'"status" <> {enum_literal(EmployeeStatus.left)}')
    sql = (
        f'SELECT {_PEOPLE_COLUMNS} FROM "employee" WHERE {" AND ".join(where)} '
        f'ORDER BY "name", "department", "id" LIMIT {int(limit)}'
    )
    # A text search scans the table: on SQLite it runs off the event loop.
    with offloaded():
        rows = await fetch(sql, *[search_pattern(w) for w in words])
    exact = q.strip().lower()
    return sorted(rows, key=lambda r: r["work_email"] != exact)


async def departments() -> list[str]:
    """The departments people are in, by name (a filter and a form offer them)."""
    rows = await fetch(
        'SELECT DISTINCT "department" FROM "employee" WHERE "department" <> \'\' '
        'ORDER BY "department"'
    )
    return [r["department"] for r in rows]


async def left_before(cutoff: dt.date) -> list[dict[str, Any]]:
    """People who left before a date, with their leaving date, by id."""
    return await fetch(
        'SELECT "id", "leaving_date" FROM "employee" '
        """WHERE "status" = 'left' AND "leaving_date" IS NOT NULL AND "leaving_date" < $1 """
        'ORDER BY "id"',
        cutoff,
    )


def ids_in_status_sql(statuses: Iterable[EmployeeStatus]) -> str:
    """SQL selecting the ids of people in these states, for another part's subquery."""
    # The account register's risk findings test custodians against it inside one statement: a
    # list of ids fetched first would grow with the directory and go stale within the report.
    states = ", ".join(enum_literal(s) for s in statuses)
    return f'SELECT e."id" FROM "employee" e WHERE e."status" IN ({states})'


def derive_status(
    leaving_date: dt.date | None, status: str | None, today: dt.date | None = None
) -> str:
    """Status from the leaving date unless given: leaving before it, left after it."""
    today = today or dt.date.today()
    if status is None:
        if leaving_date is None:
            return EmployeeStatus.active.value
        return EmployeeStatus.left.value if leaving_date < today else EmployeeStatus.leaving.value
    status = EmployeeStatus(status).value
    if status != EmployeeStatus.active.value and leaving_date is None:
        raise InvalidInput(
            N_("status '%(status)s' needs a leaving_date"),
            field="leaving_date",
            params={"status": status},
        )
    return status


EMPLOYEE_LENGTHS = {"name": 200, "department": 120, "job_title": 200}


def check_text(values: dict[str, Any]) -> None:
    """Text fields fit their columns and hold no NUL (PostgreSQL refuses both; SQLite keeps them)."""
    for field, limit in EMPLOYEE_LENGTHS.items():
        text = values.get(field) or ""
        if len(text) > limit:
            raise InvalidInput(
                N_("%(field)s is longer than %(limit)s characters"),
                field=field,
                params={"field": field, "limit": limit},
            )
        if "\x00" in text:
            raise InvalidInput(
                N_("%(field)s contains a NUL character"), field=field, params={"field": field}
            )


def check_dates(start: dt.date | None, leaving: dt.date | None) -> None:
    """A leaving date cannot come before the start date."""
    if start and leaving and leaving < start:
        raise InvalidInput(N_("leaving_date is before start_date"), field="leaving_date")


async def _check_manager(employee_id: int | None, manager_id: int | None) -> None:
    if manager_id is None:
        return
    if manager_id == employee_id:
        raise InvalidInput(N_("an employee cannot be their own manager"), field="manager_id")
    seen = {employee_id}
    current: int | None = manager_id
    while current is not None:
        row = (
            await Employee.select(Employee.id, Employee.manager)
            .where(Employee.id == current)
            .first()
        )
        if not row:
            raise InvalidInput(
                N_("manager %(manager_id)s does not exist"),
                field="manager_id",
                params={"manager_id": manager_id},
            )
        if row["id"] in seen:
            raise InvalidInput(
                N_("this manager would create a reporting cycle"), field="manager_id"
            )
        seen.add(row["id"])
        current = row["manager"]


async def create_employee(*, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Add a person to the staff directory."""
    email = normalise_email(data["work_email"], "work_email")
    check_dates(data.get("start_date"), data.get("leaving_date"))
    status = derive_status(data.get("leaving_date"), data.get("status"))
    await _check_manager(None, data.get("manager_id"))
    stamp = now()
    values = {
        "name": data["name"].strip(),
        "work_email": email,
        "department": (data.get("department") or "").strip(),
        "job_title": (data.get("job_title") or "").strip(),
        "manager_id": data.get("manager_id"),
        "start_date": data.get("start_date"),
        "leaving_date": data.get("leaving_date"),
        "status": status,
    }
    if not values["name"]:
        raise InvalidInput(N_("name must not be blank"), field="name")
    check_text(values)
    async with write_transaction():
        row = {k: v for k, v in values.items() if k != "manager_id"}
        async with unique_or_409(
            N_("an employee with work e-mail %(email)s already exists"),
            "work_email",
            {"email": email},
        ):
            rows = await Employee.insert(
                Employee(
                    **row,
                    manager=values["manager_id"],
                    version=1,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
        employee_id = rows[0]["id"]
        await audit.record(
            actor, "employee.create", "employee", employee_id, audit.diff(None, values)
        )
    return await get_employee(employee_id=employee_id)


async def update_employee(
    *, actor: Actor, employee_id: int, version: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change an employee, refusing a stale version with 409."""
    changes = {k: v for k, v in changes.items() if v is not UNSET and k in EMPLOYEE_FIELDS}
    async with write_transaction():
        before = await get_employee(employee_id=employee_id)
        expect_version(f"employee {employee_id}", before["version"], version)
        if "work_email" in changes:
            changes["work_email"] = normalise_email(changes["work_email"], "work_email")
        if "name" in changes:
            changes["name"] = changes["name"].strip()
            if not changes["name"]:
                raise InvalidInput(N_("name must not be blank"), field="name")
        for field in ("department", "job_title"):
            if field in changes:
                changes[field] = (changes[field] or "").strip()
        check_text(changes)
        merged = {**before, **changes}
        check_dates(merged["start_date"], merged["leaving_date"])
        if "status" in changes or "leaving_date" in changes:
            changes["status"] = derive_status(merged["leaving_date"], changes.get("status"))
        if "manager_id" in changes:
            await _check_manager(employee_id, changes["manager_id"])
        changes = {k: v for k, v in changes.items() if before.get(k) != v}
        if not changes:
            return before
        values = {("manager" if k == "manager_id" else k): v for k, v in changes.items()}
        async with unique_or_409(
            N_("an employee with work e-mail %(email)s already exists"),
            "work_email",
            {"email": changes.get("work_email")},
        ):
            updated = (
                await Employee.update({**values, "version": version + 1, "updated_at": now()})
                .where((Employee.id == employee_id) & (Employee.version == version))
                .returning(Employee.id)
            )
        if not updated:
            raise StaleVersion(
                N_("employee %(employee_id)s has changed since version %(version)s; read it again"),
                params={"employee_id": employee_id, "version": version},
            )
        await audit.record(
            actor, "employee.update", "employee", employee_id, audit.diff(before, changes)
        )
        if changes.get("status") == EmployeeStatus.left.value:
            await employees_left(actor=actor, employee_ids=[employee_id])
    return await get_employee(employee_id=employee_id)


async def list_employees(
    *,
    limit: int,
    offset: int,
    q: str | None = None,
    department: str | None = None,
    status: EmployeeStatus | None = None,
    manager_id: int | None = None,
    leaving_before: dt.date | None = None,
    leaving_after: dt.date | None = None,
    with_total: bool = False,
) -> tuple[list[dict[str, Any]], int | None, int | None]:
    """Employees filtered, searched and paginated, ordered by name."""
    limit, offset = page_bounds(limit, offset)
    where: list[str] = []
    args: list[Any] = []

    def add(fragment: str, *values: Any) -> None:
        # Each "?" in the fragment becomes the next $n placeholder.
        for value in values:
            args.append(value)
            fragment = fragment.replace("?", f"${len(args)}", 1)
        where.append(fragment)

    if department:
        add('"department" = ?', department)
    if status is not None:
        add(f'"status" = {enum_literal(status)}')
    if manager_id is not None:
        add('"manager" = ?', manager_id)
    if leaving_before is not None:
        add('"leaving_date" < ?', leaving_before)
    if leaving_after is not None:
        add('"leaving_date" > ?', leaving_after)
    searching = bool(q and q.strip())
    if searching:
        columns = ("name", "work_email", "job_title")
        op, pattern = ("ILIKE" if is_postgres() else "GLOB"), search_pattern(q.strip())
        add("(" + " OR ".join(f'"{c}" {op} ?' for c in columns) + ")", *([pattern] * len(columns)))
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    sql = (
        f'SELECT {EMPLOYEE_COLUMNS} FROM "employee"{clause} ORDER BY "name", "id" '
        f"LIMIT {int(limit) + 1} OFFSET {int(offset)}"
    )
    # A text search scans the table: on SQLite it runs off the event loop.
    with offloaded() if searching else nullcontext():
        rows = await fetch(sql, *args)
        total = None
        if with_total:
            total = (await fetch(f'SELECT COUNT(*) AS n FROM "employee"{clause}', *args))[0]["n"]
    items, next_offset = page(rows, limit, offset)
    return items, next_offset, total


async def employees_left(*, actor: Actor, employee_ids: list[int]) -> None:
    """Tell the other parts that these people have left (their accounts' credentials, for one)."""
    if employee_ids:
        for hook in extensions.on_employees_left:
            await hook(actor, employee_ids)


async def sweep_leavers(*, actor: Actor, today: dt.date | None = None) -> list[int]:
    """Mark everyone whose leaving date has passed as left, audited, and tell the other parts."""
    today = today or dt.date.today()
    async with write_transaction():
        await audit.lock_chain()
        rows = await fetch(
            'SELECT "id", "status", "version" FROM "employee" '
            """WHERE "status" <> 'left' AND "leaving_date" IS NOT NULL AND "leaving_date" < $1""",
            today,
        )
        stamp = now()
        swept: list[int] = []
        for row in rows:
            # Conditional, so two sweepers (several workers) record each leaver once.
            changed = (
                await Employee.update(
                    {
                        Employee.status: EmployeeStatus.left.value,
                        Employee.version: row["version"] + 1,
                        Employee.updated_at: stamp,
                    }
                )
                .where((Employee.id == row["id"]) & (Employee.version == row["version"]))
                .returning(Employee.id)
            )
            if not changed:
                continue
            swept.append(row["id"])
            await audit.record(
                actor, "employee.left", "employee", row["id"], {"status": [row["status"], "left"]}
            )
        await employees_left(actor=actor, employee_ids=swept)
    return swept
