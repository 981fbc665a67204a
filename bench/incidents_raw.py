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

import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, get

from bench.apps import health, postgres_floor, sqlite_floor
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
    local = threading.local()

    def connection() -> sqlite3.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                path,
                detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES,
                check_same_thread=False,
            )
            conn.execute("PRAGMA query_only = ON")
            local.conn = conn
        return conn

    def rows(sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        cursor = connection().execute(sql, args)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

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
    import asyncpg

    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_max)
        try:
            yield
        finally:
            await state["pool"].close()

    @get("/api/v1/incidents")
    async def list_incidents(
        status: Status, severity: Severity, limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        """A page of incidents of one status and severity, newest first."""
        found = await state["pool"].fetch(list_sql(status, severity, limit, offset))
        return _page([dict(r) for r in found], limit, offset)

    return Litestar(
        route_handlers=[list_incidents, postgres_floor(FLOOR_SQL.format("$1"), state), health],
        lifespan=[lifespan],
        debug=False,
    )


def create_app() -> Litestar:
    """The raw-driver baseline for the database in BENCH_RAW_DATABASE_URL (a server factory)."""
    url = os.environ["BENCH_RAW_DATABASE_URL"]
    if url.startswith("sqlite:///"):
        return _sqlite_app(
            url.removeprefix("sqlite:///"), os.environ.get("BENCH_SQLITE_MODE", "sync")
        )
    return _postgres_app(
        "postgresql:" + url.split(":", 1)[1], int(os.environ.get("BENCH_PG_POOL_MAX", "10"))
    )
