"""Baseline apps the register is measured against: Litestar hello-world, and raw-driver queries.

Served by granian exactly like the register (`bench.common.server_argv`). The raw app asks the
database the same questions as the register's employee endpoints and answers with the same JSON
shape, but with no auth, no ORM, no middleware and no schema conversion: the upper bound a
Litestar app on that driver reaches on this machine.

BENCH_RAW_DATABASE_URL selects the driver (sqlite:///path or postgresql://...).
BENCH_SQLITE_MODE: `sync` (default) runs sqlite3 in the handler on the event loop on one
connection; `thread` runs it in Litestar's thread pool on a connection per thread.
BENCH_PG_POOL_MAX: asyncpg pool size (the register's default, 10).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler

COLUMNS = (
    '"id", "name", "work_email", "department", "job_title", "manager" AS "manager_id", "start_date", '
    '"leaving_date", "status", "version", "created_at", "updated_at"'
)
GET_SQL = f'SELECT {COLUMNS} FROM "employee" WHERE "id" = {{}}'
LIST_SQL = f'SELECT {COLUMNS} FROM "employee" WHERE "department" = {{}} ORDER BY "name", "id" LIMIT {{}} OFFSET {{}}'


@get("/")
async def hello() -> dict[str, str]:
    """Hello, world."""
    return {"hello": "world"}


@get("/health")
async def health() -> dict[str, str]:
    """Up."""
    return {"status": "ok"}


hello_app = Litestar(route_handlers=[hello, health], debug=False)

Rows = Callable[..., list[dict[str, Any]]]


def sqlite_rows(path: str, detect_types: int = 0) -> Rows:
    """rows(sql, args=()) on a read-only sqlite3 connection per thread, rows as dicts."""
    local = threading.local()

    def connection() -> sqlite3.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(path, detect_types=detect_types, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            local.conn = conn
        return conn

    def rows(sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = connection().execute(sql, args)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    return rows


def pg_pool(dsn: str, pool_max: int, state: dict[str, Any]) -> Any:
    """A lifespan that keeps an asyncpg pool in state["pool"] while the app serves."""
    import asyncpg

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_max)
        try:
            yield
        finally:
            await state["pool"].close()

    return lifespan


def raw_app(
    sqlite_app: Callable[[str, str], Litestar], postgres_app: Callable[[str, int], Litestar]
) -> Litestar:
    """The baseline for the database in BENCH_RAW_DATABASE_URL, with the BENCH_* options."""
    url = os.environ["BENCH_RAW_DATABASE_URL"]
    if url.startswith("sqlite:///"):
        return sqlite_app(
            url.removeprefix("sqlite:///"), os.environ.get("BENCH_SQLITE_MODE", "sync")
        )
    return postgres_app(
        "postgresql:" + url.split(":", 1)[1], int(os.environ.get("BENCH_PG_POOL_MAX", "10"))
    )


FLOOR_ROUTE = "/floor/{row_id:int}"


def sqlite_floor(sql: str, rows: Rows, in_thread: bool) -> HTTPRouteHandler:
    """GET /floor/{row_id} on sqlite3: one row by primary key, the cheapest database read."""

    @get(FLOOR_ROUTE, sync_to_thread=in_thread)
    def floor(row_id: int) -> dict[str, Any]:
        """One row by primary key."""
        found = rows(sql, (row_id,))
        if not found:
            raise NotFoundException(f"row {row_id} does not exist")
        return found[0]

    return floor


def postgres_floor(sql: str, state: dict[str, Any]) -> HTTPRouteHandler:
    """GET /floor/{row_id} on asyncpg (the pool in state["pool"]): one row by primary key."""

    @get(FLOOR_ROUTE)
    async def floor(row_id: int) -> dict[str, Any]:
        """One row by primary key."""
        row = await state["pool"].fetchrow(sql, row_id)
        if row is None:
            raise NotFoundException(f"row {row_id} does not exist")
        return dict(row)

    return floor


def _page(rows: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    more = len(rows) > limit
    return {
        "items": rows[:limit],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if more else None,
        "total": None,
    }


def _sqlite_app(path: str, mode: str) -> Litestar:
    get_sql = GET_SQL.format("?")
    list_sql = LIST_SQL.format("?", "?", "?")
    rows = sqlite_rows(path)

    def one(employee_id: int) -> dict[str, Any]:
        found = rows(get_sql, (employee_id,))
        if not found:
            raise NotFoundException(f"employee {employee_id} does not exist")
        return found[0]

    def page(department: str, limit: int, offset: int) -> dict[str, Any]:
        return _page(rows(list_sql, (department, limit + 1, offset)), limit, offset)

    in_thread = mode == "thread"

    @get("/api/v1/employees/{employee_id:int}", sync_to_thread=in_thread)
    def get_employee(employee_id: int) -> dict[str, Any]:
        """One employee."""
        return one(employee_id)

    @get("/api/v1/employees", sync_to_thread=in_thread)
    def list_employees(department: str, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """A page of one department, by name."""
        return page(department, limit, offset)

    return Litestar(route_handlers=[get_employee, list_employees, health], debug=False)


def _postgres_app(dsn: str, pool_max: int) -> Litestar:
    get_sql = GET_SQL.format("$1")
    list_sql = LIST_SQL.format("$1", "$2", "$3")
    state: dict[str, Any] = {}

    @get("/api/v1/employees/{employee_id:int}")
    async def get_employee(employee_id: int) -> dict[str, Any]:
        """One employee."""
        row = await state["pool"].fetchrow(get_sql, employee_id)
        if row is None:
            raise NotFoundException(f"employee {employee_id} does not exist")
        return dict(row)

    @get("/api/v1/employees")
    async def list_employees(department: str, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """A page of one department, by name."""
        found = await state["pool"].fetch(list_sql, department, limit + 1, offset)
        return _page([dict(r) for r in found], limit, offset)

    return Litestar(
        route_handlers=[get_employee, list_employees, health],
        lifespan=[pg_pool(dsn, pool_max, state)],
        debug=False,
    )


def create_raw_app() -> Litestar:
    """The raw-driver baseline of the employee endpoints (a server factory)."""
    return raw_app(_sqlite_app, _postgres_app)
