"""Raw-driver baseline of the incident list: GET /api/v1/incidents?status=X&severity=Y&limit=50.

Asks the database exactly the statement the register asks (incidents.services.list_incidents:
the closed-set filters written as literals, newest first, one row more than the page) and answers
with the same JSON as the register's IncidentPage, but with no auth, no ORM, no middleware and no
schema conversion. GET /floor/{id} reads one incident by primary key: the cheapest request that
touches the database. Served by granian as a factory (`bench.incidents_raw:create_app`), like
bench/apps.py.

BENCH_RAW_DATABASE_URL selects the driver (sqlite:///path or postgresql://...);
BENCH_SQLITE_MODE (`sync` | `thread`) and BENCH_PG_POOL_MAX as in bench/apps.py.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from litestar import Litestar, get

from bench.apps import health, pg_pool, postgres_floor, raw_app, sqlite_floor, sqlite_rows
from incidents.enums import Severity, Status

# Importing incidents.services (through register.db) registers the register's sqlite3 converters,
# so TIMESTAMPTZ columns come back as aware datetimes and render exactly as the register's.
from incidents.services import LIST_COLUMNS
from register.db import enum_literal

FLOOR_SQL = 'SELECT "id", "reference", "severity", "status" FROM "incident" WHERE "id" = {}'


def list_sql(status: Status, severity: Severity, limit: int, offset: int) -> str:
    """list_incidents' statement for a status and a severity."""
    return (
        f'SELECT {LIST_COLUMNS} FROM "incident" WHERE "status" = {enum_literal(status)} '
        f'AND "severity" = {enum_literal(severity)} ORDER BY "id" DESC '
        f"LIMIT {int(limit) + 1} OFFSET {int(offset)}"
    )


def _page(rows: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    return {
        "items": rows[:limit],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if len(rows) > limit else None,
    }


def _sqlite_app(path: str, mode: str) -> Litestar:
    # Read as the register reads them, so TIMESTAMPTZ columns come back as the same datetimes.
    rows = sqlite_rows(path, sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES)

    in_thread = mode == "thread"

    @get("/api/v1/incidents", sync_to_thread=in_thread)
    def list_incidents(
        status: Status, severity: Severity, limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        """A page of incidents of one status and severity, newest first."""
        return _page(rows(list_sql(status, severity, limit, offset)), limit, offset)

    return Litestar(
        route_handlers=[
            list_incidents,
            sqlite_floor(FLOOR_SQL.format("?"), rows, in_thread),
            health,
        ],
        debug=False,
    )


def _postgres_app(dsn: str, pool_max: int) -> Litestar:
    state: dict[str, Any] = {}

    @get("/api/v1/incidents")
    async def list_incidents(
        status: Status, severity: Severity, limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        """A page of incidents of one status and severity, newest first."""
        found = await state["pool"].fetch(list_sql(status, severity, limit, offset))
        return _page([dict(r) for r in found], limit, offset)

    return Litestar(
        route_handlers=[list_incidents, postgres_floor(FLOOR_SQL.format("$1"), state), health],
        lifespan=[pg_pool(dsn, pool_max, state)],
        debug=False,
    )


def create_app() -> Litestar:
    """The raw-driver baseline of the incident list (a server factory)."""
    return raw_app(_sqlite_app, _postgres_app)
