"""A person's connections: reading them, the successor's export, states, imports, the summary."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from accounts.connections.enums import ConnectionState
from accounts.connections.files import (
    COLUMN_NAMES,
    import_out,
)
from register import audit
from register.access import refuse
from register.actor import Actor
from register.db import fetch, now, offloaded, write_transaction
from register.enums import Role
from register.errors import Conflict, InvalidInput, NotFound
from register.i18n import N_
from register.queries import page, page_bounds
from register.staff.services import employees_by_id, get_employee

CONNECTION_COLUMNS = (
    'c."id", c."owner" AS "employee_id", c."first_name", c."last_name", c."profile_url", '
    'c."email", c."company", c."position", c."connected_on", c."source_import" AS "import_id", '
    'c."state", c."gone_on", c."state_changed_at"'
)


# The text the trigram index holds for a connection; the tail scan matches the same text.
SEARCH_TEXT = (
    """(c."first_name" || ' ' || c."last_name" || ' ' || c."company" || ' ' || c."position")"""
)


LINKEDIN_HEADER = [
    "First Name",
    "Last Name",
    "URL",
    "Email Address",
    "Company",
    "Position",
    "Connected On",
]


MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# Where a state may be set from: held -> exported to the successor -> deletion attested.
STATE_FROM = {
    ConnectionState.exported_to_successor: (ConnectionState.held,),
    ConnectionState.deletion_attested: (
        ConnectionState.held,
        ConnectionState.exported_to_successor,
    ),
}


PERSONAL_FIELDS = ("first_name", "last_name", "profile_url", "email", "company", "position")


def linkedin_date(value: dt.date) -> str:
    """A date as LinkedIn writes it ("07 Dec 2025"), whatever the locale."""
    return f"{value.day:02d} {MONTH_NAMES[value.month - 1]} {value.year}"


async def check_reader(*, actor: Actor, employee_id: int) -> None:
    """HR and admins read anyone's connections; any other user only their own employee's."""
    if actor.role in (Role.admin, Role.hr):
        return
    if actor.employee_id is not None and actor.employee_id == employee_id:
        return
    raise await refuse(
        actor,
        "connection.own",
        "employee",
        employee_id,
        N_("only HR, admins and the employee themselves may read these connections"),
    )


class _Where:
    """WHERE fragments with $n placeholders numbered as they are added."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []

    def add(self, fragment: str, *values: Any) -> None:
        for value in values:
            self.args.append(value)
            fragment = fragment.replace("?", f"${len(self.args)}", 1)
        self.parts.append(fragment)

    def sql(self, joiner: str = " WHERE ") -> str:
        return (joiner + " AND ".join(self.parts)) if self.parts else ""


async def list_for_employee(
    *,
    actor: Actor,
    employee_id: int,
    limit: int,
    offset: int,
    state: ConnectionState | None = None,
    gone: bool | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """One employee's connections by last and first name (the employee may read their own)."""
    limit, offset = page_bounds(limit, offset)
    # Existence first: every role may see who is in the staff directory, not whose connections.
    await get_employee(employee_id=employee_id)
    await check_reader(actor=actor, employee_id=employee_id)
    where = _Where()
    where.add('c."owner" = ?', employee_id)
    if state is not None:
        where.add('c."state" = ?', state.value)
    if gone is not None:
        where.add('c."gone_on" IS NOT NULL' if gone else 'c."gone_on" IS NULL')
    rows = await fetch(
        f'SELECT {CONNECTION_COLUMNS} FROM "connection" c{where.sql()} '
        f'ORDER BY c."last_name", c."first_name", c."id" LIMIT {limit + 1} OFFSET {offset}',
        *where.args,
    )
    return page(rows, limit, offset)


async def export_csv(*, actor: Actor, employee_id: int) -> str:
    """The employee's employer-owned connections in LinkedIn's own columns, for a successor."""
    person = await get_employee(employee_id=employee_id)
    rows = await fetch(
        'SELECT "first_name", "last_name", "profile_url", "email", "company", "position", '
        """"connected_on" FROM "connection" WHERE "owner" = $1 AND "state" <> 'erased' """
        'ORDER BY "last_name", "first_name", "id"',
        employee_id,
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LINKEDIN_HEADER)
    writer.writerows(
        (
            r["first_name"],
            r["last_name"],
            r["profile_url"],
            r["email"],
            r["company"],
            r["position"],
            linkedin_date(r["connected_on"]),
        )
        for r in rows
    )
    async with write_transaction():
        await audit.record(
            actor,
            "connection.export",
            "employee",
            person["id"],
            {"connections": len(rows)},
        )
    return out.getvalue()


async def rejected_lines_csv(*, actor: Actor, employee_id: int, import_id: int) -> str:
    """The lines of one import's file that could not be read, with why, in LinkedIn's columns."""
    await get_employee(employee_id=employee_id)
    found = await fetch(
        'SELECT "id" FROM "connection_import" WHERE "id" = $1 AND "employee" = $2',
        import_id,
        employee_id,
    )
    if not found:
        raise NotFound(
            N_("employee %(employee_id)s has no connections import %(import_id)s"),
            params={"employee_id": employee_id, "import_id": import_id},
        )
    rows = await fetch(
        'SELECT "line", "field", "reason", "first_name", "last_name", "url", "email", "company", '
        '"position", "connected_on" FROM "connection_rejected_line" WHERE "source_import" = $1 '
        'ORDER BY "line", "id"',
        import_id,
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Line", "Column", "Problem", *LINKEDIN_HEADER])
    writer.writerows(
        (
            r["line"],
            COLUMN_NAMES.get(r["field"], ""),
            r["reason"],
            r["first_name"],
            r["last_name"],
            r["url"],
            r["email"],
            r["company"],
            r["position"],
            r["connected_on"],
        )
        for r in rows
    )
    async with write_transaction():
        # Like the successor export: who took the names out, and how many lines.
        await audit.record(
            actor,
            "connection.export_rejected",
            "connection_import",
            import_id,
            {"employee_id": employee_id, "lines": len(rows)},
        )
    return out.getvalue()


async def set_state(
    *, actor: Actor, employee_id: int, state: ConnectionState, note: str = ""
) -> dict[str, Any]:
    """Move an employee's connections on (exported to the successor, deletion attested)."""
    if state not in STATE_FROM:
        raise InvalidInput(
            N_("state must be exported_to_successor or deletion_attested"), field="state"
        )
    sources = [s.value for s in STATE_FROM[state]]
    async with write_transaction():
        await audit.lock_chain()
        await get_employee(employee_id=employee_id)
        marks = ", ".join(f"${i + 4}" for i in range(len(sources)))
        changed = await fetch(
            'UPDATE "connection" SET "state" = $1, "state_changed_at" = $2 '
            f'WHERE "owner" = $3 AND "state" IN ({marks}) RETURNING "id"',
            state.value,
            now(),
            employee_id,
            *sources,
        )
        if not changed:
            raise Conflict(
                N_("employee %(employee_id)s has no connections in state %(value)s"),
                params={"employee_id": employee_id, "value": " or ".join(sources)},
            )
        await audit.record(
            actor,
            "connection.state",
            "employee",
            employee_id,
            {"state": [None, state.value], "connections": len(changed), "note": note},
        )
    return {"employee_id": employee_id, "state": state.value, "changed": len(changed)}


async def list_imports(
    *, employee_id: int, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int | None]:
    """An employee's imports, newest first: file metadata and counts."""
    limit, offset = page_bounds(limit, offset)
    await get_employee(employee_id=employee_id)
    rows = await fetch(
        'SELECT * FROM "connection_import" WHERE "employee" = $1 ORDER BY "id" DESC '
        f"LIMIT {limit + 1} OFFSET {offset}",
        employee_id,
    )
    items, next_offset = page(rows, limit, offset)
    return [import_out(r) for r in items], next_offset


async def get_import(*, employee_id: int, import_id: int) -> dict[str, Any]:
    """One of an employee's imports: file metadata and counts, or NotFound."""
    await get_employee(employee_id=employee_id)
    rows = await fetch(
        'SELECT * FROM "connection_import" WHERE "id" = $1 AND "employee" = $2',
        import_id,
        employee_id,
    )
    if not rows:
        raise NotFound(
            N_("employee %(employee_id)s has no connections import %(import_id)s"),
            params={"employee_id": employee_id, "import_id": import_id},
        )
    return import_out(rows[0])


async def import_problems(
    *, employee_id: int, import_id: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Why an import's lines could not be read (line, column, problem; never their cells), and how many."""
    await get_import(employee_id=employee_id, import_id=import_id)
    limit, _ = page_bounds(limit, 0)
    rows = await fetch(
        'SELECT "line", "field", "reason" FROM "connection_rejected_line" '
        f'WHERE "source_import" = $1 ORDER BY "line", "id" LIMIT {limit}',
        import_id,
    )
    total = await fetch(
        'SELECT COUNT(*) AS "n" FROM "connection_rejected_line" WHERE "source_import" = $1',
        import_id,
    )
    return [
        {"line": r["line"], "column": COLUMN_NAMES.get(r["field"], ""), "problem": r["reason"]}
        for r in rows
    ], int(total[0]["n"])


async def summary(*, limit: int, offset: int) -> dict[str, Any]:
    """Counts per employee and state, and totals: what auditors may see (no names of connections)."""
    limit, offset = page_bounds(limit, offset)
    with offloaded():
        counts = await fetch(
            'SELECT "owner", "state", COUNT(*) AS n, '
            'SUM(CASE WHEN "gone_on" IS NULL THEN 0 ELSE 1 END) AS gone '
            'FROM "connection" GROUP BY "owner", "state"'
        )
    by_owner: dict[int, dict[str, Any]] = {}
    totals = {s.value: 0 for s in ConnectionState}
    for r in counts:
        entry = by_owner.setdefault(
            r["owner"], {"states": {s.value: 0 for s in ConnectionState}, "gone": 0}
        )
        entry["states"][r["state"]] = int(r["n"])
        entry["gone"] += int(r["gone"] or 0)
        totals[r["state"]] += int(r["n"])
    owners = sorted(by_owner)
    chosen = owners[offset : offset + limit + 1]
    people: dict[int, dict[str, Any]] = {}
    imports: dict[int, dict[str, Any]] = {}
    if chosen:
        marks = ", ".join(f"${i + 1}" for i in range(len(chosen)))
        people = await employees_by_id(chosen)
        for r in await fetch(
            'SELECT "employee", COUNT(*) AS n, MAX("imported_at") AS last_at '
            f'FROM "connection_import" WHERE "employee" IN ({marks}) GROUP BY "employee"',
            *chosen,
        ):
            imports[r["employee"]] = r
    items = [
        {
            "employee_id": owner,
            "employee_name": people.get(owner, {}).get("name", ""),
            "employee_status": people.get(owner, {}).get("status", ""),
            "states": by_owner[owner]["states"],
            "gone": by_owner[owner]["gone"],
            "imports": int(imports.get(owner, {}).get("n", 0)),
            "last_import_at": _moment(imports.get(owner, {}).get("last_at")),
        }
        for owner in chosen
    ]
    items, next_offset = page(items, limit, offset)
    return {
        "totals": totals,
        "employees": len(owners),
        "items": items,
        "limit": limit,
        "offset": offset,
        "next_offset": next_offset,
    }


async def state_counts(employee_id: int) -> dict[str, int]:
    """How many of a person's connections are in each state."""
    rows = await fetch(
        'SELECT "state", COUNT(*) AS "n" FROM "connection" WHERE "owner" = $1 GROUP BY "state"',
        employee_id,
    )
    return {r["state"]: int(r["n"]) for r in rows}


def _moment(value: Any) -> dt.datetime | None:
    # MAX() over a timestamp loses its declared type on SQLite and comes back as text.
    if value is None or isinstance(value, dt.datetime):
        return value
    moment = dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
