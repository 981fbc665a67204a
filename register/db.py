"""Database engines: a pooled SQLite engine, PostgreSQL through asyncpg, and the write transaction."""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import json
import os
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, overload
from urllib.parse import unquote, urlsplit

from piccolo.engine.base import Engine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType
from piccolo.querystring import QueryString
from piccolo.table import TABLE_REGISTRY

from register.replicas import RoutedPostgresEngine, mark_written
from register.settings import POSTGRES_SCHEMES

BUSY_TIMEOUT_MS = 30_000
# A read on the event loop longer than this is interrupted and finished on a thread.
INLINE_READ_BUDGET = 0.005


def now() -> dt.datetime:
    """UTC now, aware; both databases keep it to the microsecond."""
    return dt.datetime.now(dt.UTC)


@overload
def as_utc(value: dt.datetime) -> dt.datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A time in UTC; naive means UTC, as SQLite reads stored times back."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def rfc3339(value: dt.datetime) -> str:
    """A time as the API writes it, RFC 3339 in UTC with `Z`: 2026-12-02T15:11:16.494841Z."""
    return as_utc(value).isoformat().removesuffix("+00:00") + "Z"


def rfc3339_text(value: str) -> str:
    """A time stored as text in another spelling (`2026-12-02 15:11:16+00:00`) as the API writes it.

    Anything that is not a time with its zone is given back unchanged.
    """
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return rfc3339(moment) if moment.tzinfo is not None else value


_fromisoformat = dt.datetime.fromisoformat
_date_fromisoformat = dt.date.fromisoformat


def _timestamptz_out(value: bytes) -> dt.datetime:
    moment = _fromisoformat(value.decode())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _date_out(value: bytes) -> dt.date:
    return _date_fromisoformat(value.decode())


# Piccolo converts every INTEGER, DATE, BOOLEAN and TIMESTAMPTZ column through Python wrappers
# (INTEGER via Decimal), which cost more than the query on a 50-row page. The register writes
# these columns only through its own types, so the C constructors read them back exactly.
# An INTEGER column needs no converter at all: sqlite3 returns its values as int natively.
sqlite3.converters.pop("INTEGER", None)
sqlite3.register_converter("DATE", _date_out)
sqlite3.register_converter("BOOLEAN", lambda value: value == b"1")
sqlite3.register_converter("TIMESTAMPTZ", _timestamptz_out)
WRITE_QUERY_TYPES = frozenset({"insert", "update", "delete", "create", "alter", "drop"})

# Set by offloaded(): SQLite statements run on the connection's thread instead of the event loop.
_OFFLOAD: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "register_sqlite_offload", default=False
)


@contextmanager
def offloaded() -> Iterator[None]:
    """Run the SQLite statements inside this block on a worker thread (long scans, reports, bulk)."""
    token = _OFFLOAD.set(True)
    try:
        yield
    finally:
        _OFFLOAD.reset(token)


class SQLiteConnection:
    """One sqlite3 connection with its own thread for the statements that may wait.

    In WAL mode a read never waits for a lock, and an indexed read costs a few microseconds, far
    less than handing it to a thread and back; so reads, and statements inside a write transaction
    that already holds the lock, run on the event loop. What can wait (BEGIN IMMEDIATE queueing
    behind another process, COMMIT with its possible checkpoint, writes outside a transaction) and
    what is declared long (offloaded()) runs on the connection's own thread. The pool hands a
    connection to one task at a time, so the two paths never use it at once.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _open(self) -> None:
        conn = sqlite3.connect(
            self.path,
            detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable across application crashes in WAL mode; only power loss can
        # drop the last commits, which is the usual trade for a laptop-sized deployment.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        self._conn = conn

    async def open(self) -> SQLiteConnection:
        """Open the connection and apply the register's pragmas."""
        await self._call(self._open)
        return self

    def _execute(self, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        assert self._conn is not None
        cursor = self._conn.execute(sql, args)
        try:
            rows = cursor.fetchall()
            if not rows:
                return []
            # One name list per statement instead of a row factory call per row: on a 50-row
            # page the per-row Python call cost more than SQLite's own work.
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in rows]
        finally:
            cursor.close()

    async def execute(
        self,
        sql: str,
        args: Sequence[Any] = (),
        *,
        offload: bool = True,
        budget: float | None = None,
    ) -> list[dict[str, Any]]:
        """Run one statement and return its rows, on the thread or (offload=False) inline.

        With a budget (seconds), an inline statement that runs longer is interrupted and run
        again on the thread, so an unexpected scan cannot stall the event loop. Only for reads
        outside a transaction: an interrupted write would roll back its whole transaction.
        """
        if offload or _OFFLOAD.get():
            return await self._call(self._execute, sql, args)
        if budget is None:
            return self._execute(sql, args)
        assert self._conn is not None
        deadline = time.perf_counter() + budget
        self._conn.set_progress_handler(lambda: time.perf_counter() > deadline, 1000)
        try:
            return self._execute(sql, args)
        except sqlite3.OperationalError as exc:
            if "interrupted" not in str(exc):
                raise
        finally:
            self._conn.set_progress_handler(None, 0)
        return await self._call(self._execute, sql, args)

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        assert self._conn is not None
        cursor = self._conn.executemany(sql, rows)
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run one statement for many parameter rows (the bulk path)."""
        return await self._call(self._executemany, sql, rows)

    def _reset(self) -> None:
        if self._conn is not None and self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    async def reset(self) -> None:
        """Roll back whatever a failed commit or cancelled task left open."""
        if self._conn is not None and self._conn.in_transaction:
            await self._call(self._reset)

    async def close(self) -> None:
        """Close the connection and stop its thread."""
        if self._conn is not None:
            await self._call(self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=False)


class PooledSQLiteTransaction(SQLiteTransaction):
    """A transaction on a pooled connection; write transactions queue on the engine's lock."""

    __slots__ = ("_holds_lock",)

    engine: PooledSQLiteEngine

    async def __aenter__(self) -> PooledSQLiteTransaction:
        if self._parent is not None:
            return self._parent  # type: ignore[return-value]
        self._holds_lock = self.transaction_type != TransactionType.deferred
        if self._holds_lock:
            await self.engine.write_lock.acquire()
        try:
            self.connection = await self.engine.acquire()
            try:
                await self.begin()
            except BaseException:
                await self.engine.release(self.connection)
                raise
        except BaseException:
            if self._holds_lock:
                self.engine.write_lock.release()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        finally:
            await self.engine.release(self.connection)
            if self._holds_lock:
                self.engine.write_lock.release()
            self.engine.current_transaction.reset(self.context)
        return exception is None


def create_private(path: Path) -> None:
    """Create a missing SQLite database file readable by its owner only, in a 0700 folder."""
    # sqlite3 would create it 0644, and SQLite gives the -wal and -shm files the database's own
    # mode: created 0600 first, all three hold the register's data for its owner only, as the
    # secret files do. A folder or file that already exists keeps the mode its owner gave it.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if str(path) == ":memory:" or str(path).startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


class PooledSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, but on a small pool of long-lived connections.

    The stock engine opens a connection per query; reusing connections is what makes SQLite
    fast here. WAL lets readers run beside the single writer; writers queue on an asyncio lock
    in-process (cheaper than SQLite's sleeping busy handler) and on the busy timeout across
    processes. Every explicit transaction defaults to BEGIN IMMEDIATE.
    """

    __slots__ = ("_open_lock", "_opened", "_pool", "_pool_size", "write_lock")

    def __init__(self, path: str, pool_size: int = 4, **kwargs: Any) -> None:
        super().__init__(path=path, **kwargs)
        self._pool_size = max(1, pool_size)
        self._pool: asyncio.Queue[SQLiteConnection] | None = None
        self._opened: list[SQLiteConnection] = []
        self.write_lock = asyncio.Lock()
        self._open_lock: asyncio.Lock | None = None

    async def _ensure_pool(self) -> asyncio.Queue[SQLiteConnection]:
        if self._pool is None:
            if self._open_lock is None:
                self._open_lock = asyncio.Lock()
            async with self._open_lock:
                if self._pool is None:
                    create_private(Path(self.path))
                    pool: asyncio.Queue[SQLiteConnection] = asyncio.Queue()
                    for _ in range(self._pool_size):
                        conn = await SQLiteConnection(self.path).open()
                        self._opened.append(conn)
                        pool.put_nowait(conn)
                    self._pool = pool
        return self._pool

    async def acquire(self) -> SQLiteConnection:
        """Take a connection from the pool, waiting for one if all are busy."""
        pool = await self._ensure_pool()
        return await pool.get()

    async def release(self, conn: SQLiteConnection) -> None:
        """Return a connection to the pool, clean."""
        try:
            await conn.reset()
        finally:
            assert self._pool is not None
            self._pool.put_nowait(conn)

    async def start_connection_pool(self, **_: Any) -> None:
        """Open the pool now rather than on the first query."""
        await self._ensure_pool()

    async def close_connection_pool(self) -> None:
        """Close every pooled connection."""
        for conn in self._opened:
            await conn.close()
        self._opened.clear()
        self._pool = None
        self.write_lock = asyncio.Lock()
        self._open_lock = None

    async def get_connection(self) -> SQLiteConnection:  # type: ignore[override]
        return await self.acquire()

    async def _run(self, sql: str, args: Sequence[Any], writes: bool) -> list[dict[str, Any]]:
        current = self.current_transaction.get()
        if current is not None:
            # Inside a transaction: a write transaction already holds the lock, a read one needs none.
            return await current.connection.execute(sql, args, offload=False)
        if writes:
            async with self.write_lock:
                conn = await self.acquire()
                try:
                    return await conn.execute(sql, args)
                finally:
                    await self.release(conn)
        conn = await self.acquire()
        try:
            return await conn.execute(sql, args, offload=False, budget=INLINE_READ_BUDGET)
        finally:
            await self.release(conn)

    async def run_querystring(self, querystring: QueryString, in_pool: bool = False) -> Any:
        query, args = querystring.compile_string(engine_type=self.engine_type)
        if self.log_queries:
            self.print_query(query_id=self.get_query_id(), query=str(querystring))
        writes = querystring.query_type in WRITE_QUERY_TYPES or not query.lstrip()[
            :6
        ].upper().startswith(("SELECT", "WITH", "PRAGMA"))
        return await self._run(query, args, writes)

    async def run_ddl(self, ddl: str, in_pool: bool = False) -> Any:
        if self.log_queries:
            self.print_query(query_id=self.get_query_id(), query=ddl)
        return await self._run(ddl, (), True)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Bulk insert through the driver's executemany, inside the current transaction."""
        current = self.current_transaction.get()
        if current is None:
            async with self.transaction():
                return await self.executemany(sql, rows)
        return await current.connection.executemany(sql, rows)

    def transaction(  # type: ignore[override]
        self,
        transaction_type: TransactionType = TransactionType.immediate,
        allow_nested: bool = True,
    ) -> PooledSQLiteTransaction:
        return PooledSQLiteTransaction(
            engine=self, transaction_type=transaction_type, allow_nested=allow_nested
        )


def sqlite_path(database_url: str) -> str:
    """The file path in a sqlite:/// URL (relative unless it has four slashes)."""
    parts = urlsplit(database_url)
    return (
        unquote(parts.netloc + parts.path)
        if parts.netloc
        else unquote(parts.path[1:] or parts.path)
    )


def make_engine(
    database_url: str,
    *,
    sqlite_pool_size: int = 4,
    replica_urls: Sequence[str] = (),
    replica_max_lag: float = 5.0,
    replica_check_seconds: float = 1.0,
) -> Engine[Any]:
    """The engine a database URL selects: SQLite file or PostgreSQL, with its read replicas."""
    scheme = database_url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        if replica_urls:
            raise SystemExit("REGISTER_DATABASE_REPLICA_URLS needs a PostgreSQL database URL")
        path = sqlite_path(database_url)
        if not path:
            raise SystemExit(
                "REGISTER_DATABASE_URL: sqlite URL needs a file path, e.g. sqlite:///var/register.db"
            )
        return PooledSQLiteEngine(path=path, pool_size=sqlite_pool_size)
    if scheme in POSTGRES_SCHEMES:
        return RoutedPostgresEngine(
            config={"dsn": postgres_dsn(database_url)},
            replicas=[postgres_dsn(url) for url in replica_urls],
            max_lag=replica_max_lag,
            check_seconds=replica_check_seconds,
        )
    raise SystemExit(
        f"REGISTER_DATABASE_URL: unsupported scheme {scheme!r} (use sqlite or postgresql)"
    )


def postgres_dsn(database_url: str) -> str:
    """A postgres URL as asyncpg takes it (postgresql://...)."""
    return "postgresql:" + database_url.split(":", 1)[1]


_engine: Engine[Any] | None = None


def bind_engine(engine: Engine[Any]) -> None:
    """Make every table of every app use this engine."""
    global _engine
    _engine = engine
    for table in TABLE_REGISTRY:
        table._meta.db = engine


def get_engine() -> Engine[Any]:
    """The engine the tables are bound to."""
    if _engine is None:
        raise RuntimeError("no database engine bound; call bind_engine() first")
    return _engine


def is_postgres(engine: Engine[Any] | None = None) -> bool:
    """Whether the bound engine is PostgreSQL."""
    return (engine or get_engine()).engine_type == "postgres"


# What the outermost write_transaction() runs once it has committed (see on_commit).
_ON_COMMIT: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "register_on_commit", default=None
)


def on_commit(callback: Callable[[], None]) -> None:
    """Run `callback` once the current write transaction has committed; never if it rolls back.

    For effects outside the database that must not claim what a rollback would undo (the audit
    witness file). A callback that fails is the caller's to log: the commit has happened.
    """
    pending = _ON_COMMIT.get()
    if pending is None:
        raise RuntimeError("on_commit() must be called inside register.db.write_transaction()")
    pending.append(callback)


# What the outermost write_transaction() runs last, inside the transaction (see before_commit).
_BEFORE_COMMIT: contextvars.ContextVar[Callable[[], Awaitable[None]] | None] = (
    contextvars.ContextVar("register_before_commit", default=None)
)


@contextmanager
def before_commit(hook: Callable[[], Awaitable[None]]) -> Iterator[None]:
    """Run `hook` at the end of every outermost write transaction begun in this context.

    The hook's writes commit or roll back with the transaction's own, and a hook that raises
    rolls the whole transaction back: the Idempotency-Key's mark that a change was made.
    """
    token = _BEFORE_COMMIT.set(hook)
    try:
        yield
    finally:
        _BEFORE_COMMIT.reset(token)


@asynccontextmanager
async def write_transaction() -> AsyncIterator[Any]:
    """A write transaction; nested, it is a savepoint so an inner failure undoes only itself."""
    engine = get_engine()
    mark_written()
    current = engine.current_transaction.get()
    if current is None:
        pending: list[Callable[[], None]] = []
        token = _ON_COMMIT.set(pending)
        try:
            async with engine.transaction() as tx:
                yield tx
                hook = _BEFORE_COMMIT.get()
                if hook is not None:
                    await hook()
        finally:
            _ON_COMMIT.reset(token)
        for callback in pending:
            callback()
        return
    pending_now = _ON_COMMIT.get()
    mark = len(pending_now) if pending_now is not None else 0
    savepoint = await current.savepoint()
    try:
        yield current
    except BaseException:
        await savepoint.rollback_to()
        if pending_now is not None:
            # What the undone part asked for is undone with it.
            del pending_now[mark:]
        raise
    else:
        await savepoint.release()


_WORD = re.compile(r"[A-Za-z0-9_.-]+")


def enum_literal(value: Enum | str) -> str:
    """A value of a closed set (status, severity, platform) as an SQL literal, to filter on."""
    # Written into the statement rather than bound: asyncpg prepares every statement, and after
    # five runs PostgreSQL may switch to a generic plan that cannot see a bound value. On skewed
    # data (few SEV2 incidents still triaged among 100,000) that plan walked the primary key and
    # filtered thousands of rows: 1.9 ms a page instead of 0.24 ms. With the value in the text,
    # each of the few combinations gets its own statement and its own right plan.
    text = value.value if isinstance(value, Enum) else value
    if not _WORD.fullmatch(text):
        raise ValueError(f"not a closed-set value: {text!r}")
    return f"'{text}'"


async def bulk_insert(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """Insert many rows through the driver's bulk API: executemany on SQLite, COPY on PostgreSQL."""
    if not rows:
        return 0
    engine = get_engine()
    mark_written()
    if isinstance(engine, PooledSQLiteEngine):
        marks = ", ".join("?" for _ in columns)
        sql = f'INSERT INTO "{table}" ({", ".join(f"{c!s}" for c in columns)}) VALUES ({marks})'
        await engine.executemany(sql, rows)
        return len(rows)
    current = engine.current_transaction.get()
    if current is None:
        async with engine.transaction():
            return await bulk_insert(table, columns, rows)
    await current.connection.copy_records_to_table(table, records=rows, columns=list(columns))
    return len(rows)


@lru_cache(maxsize=512)
def _sqlite_sql(sql: str) -> str:
    # SQLite has numbered parameters too (?1, ?2 ...), so a $n used twice or out of order binds right.
    return _PG_PARAM.sub(lambda m: "?" + m.group(0)[1:], sql)


_PG_PARAM = re.compile(r"\$\d+")


async def fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of a hand-written read, for hot paths where building a Piccolo query costs more than running it.

    Write `$1, $2 ...` placeholders (PostgreSQL style); SQLite gets `?`. Values come back typed
    the same way Piccolo returns them (declared column types convert on SQLite).
    """
    engine = get_engine()
    if isinstance(engine, PooledSQLiteEngine):
        return await engine._run(_sqlite_sql(sql), args, False)
    if isinstance(engine, RoutedPostgresEngine):
        return [dict(r) for r in await engine.fetch_routed(sql, args)]
    return [
        dict(r) for r in await engine.run_querystring(QueryString(_PG_PARAM.sub("{}", sql), *args))
    ]


def json_default(value: Any) -> Any:
    """For json.dumps(default=...): times as the API writes them (RFC 3339, `Z`), anything else as text."""
    if isinstance(value, dt.datetime):
        return rfc3339(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def json_value(value: Any, empty: Any = None) -> Any:
    """A JSON column as Python: the drivers may hand it back as text; NULL gives `empty`."""
    if value is None:
        return empty
    return json.loads(value) if isinstance(value, str | bytes) else value
