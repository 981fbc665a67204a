"""Read replicas: which reads a streaming replica may serve, each replica's health, the routing engine."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString

log = logging.getLogger("register.replicas")

# A read may go to a replica only when all of these hold (see RoutedPostgresEngine.fetch_routed):
# the statement is a plain read (SELECT or WITH, no locking clause, no sequence or advisory lock
# call); it runs outside any transaction; the request declared its reads replica-safe
# (`opt={"replica_reads": True}`, set by register.http.ReplicaReads); nothing in the request
# has written yet; the client did not write within the lag bound (the recent-write cookie); and
# a replica passed its last check (answering, in recovery, at most the bound behind). Anything
# else runs on the primary. A read that fails on a replica for want of the replica is run again
# on the primary, so a replica can only ever make a read slower, never fail it.

PRIMARY = "primary"
# A replica that does not accept a connection within this many seconds counts as down.
REPLICA_CONNECT_TIMEOUT = 2.0
_PLAIN_READ_START = re.compile(r"\s*(SELECT|WITH)\b", re.IGNORECASE)
_NOT_A_PLAIN_READ = re.compile(
    r"\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|FOR\s+(NO\s+KEY\s+)?UPDATE|FOR\s+(KEY\s+)?SHARE|"
    r"NEXTVAL|SETVAL|PG_ADVISORY\w*|PG_TRY_ADVISORY\w*|PG_NOTIFY|SET_CONFIG|TXID_CURRENT|"
    r"PG_CURRENT_XACT_ID|LO_\w+)\b",
    re.IGNORECASE,
)
# How far the replica has replayed against where the primary has written to (read on the
# primary just before); how long ago the last replayed transaction committed.
_REPLICA_CHECK = (
    "SELECT pg_is_in_recovery() AS standby,"
    " COALESCE(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1::text::pg_lsn) >= 0, false)"
    " AS caught_up,"
    " EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 AS behind"
)
# SQLSTATEs that say the replica is gone (connection, shutdown, starting up); the read is run on
# the primary and the replica skipped until a check finds it back.
_DOWN_STATES = ("08", "57P01", "57P02", "57P03")
# SQLSTATEs worth one try on the primary without taking the replica out: a standby conflict
# ("canceling statement due to conflict with recovery"), the database dropped under recovery, a
# replica out of connections or resources.
_RETRY_STATES = ("40001", "57P04", "53")


@lru_cache(maxsize=2048)
def is_plain_read(sql: str) -> bool:
    """Whether a statement only reads (and so may run on a replica)."""
    return bool(_PLAIN_READ_START.match(sql)) and not _NOT_A_PLAIN_READ.search(sql)


@dataclass
class ReadScope:
    """One request's reads: whether a replica may serve them, and what the request did so far."""

    replica_ok: bool
    # Set by the first write (or transaction): every later read of the request sees the primary.
    wrote: bool = False
    # The node the request's reads went to first; later reads stay on it (or go to the primary,
    # which is never older), so one page never mixes two replicas' points in time.
    node: str | None = None


_READS: contextvars.ContextVar[ReadScope | None] = contextvars.ContextVar(
    "register_reads", default=None
)


@contextmanager
def read_scope(*, replica_ok: bool) -> Iterator[ReadScope]:
    """The reads inside this block may go to a replica (replica_ok) until the block writes."""
    scope = ReadScope(replica_ok=replica_ok)
    token = _READS.set(scope)
    try:
        yield scope
    finally:
        _READS.reset(token)


def mark_written() -> None:
    """Note that the current request wrote: its later reads go to the primary."""
    scope = _READS.get()
    if scope is not None:
        scope.wrote = True


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(exc, "sqlstate", "") or "")


def _replica_gone(exc: BaseException) -> bool:
    import asyncpg

    if isinstance(exc, OSError | TimeoutError | asyncpg.exceptions.InterfaceError):
        return True
    return _sqlstate(exc).startswith(_DOWN_STATES)


class _ReplicaEngine(PostgresEngine):
    """A replica's engine: the primary's version check stands for it (no connection at start)."""

    async def check_version(self) -> None:
        """Nothing: a replica runs the primary's version, and may be down when we start."""


class ReplicaNode:
    """One read replica: its engine and pool, where it is, and what the last check found."""

    def __init__(self, name: str, dsn: str) -> None:
        parts = urlsplit(dsn)
        self.name = name
        # host:port only: the URL may hold a password, and this is shown on /ready.
        self.address = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        self.dsn = dsn
        self.engine: PostgresEngine = _ReplicaEngine(
            config={"dsn": dsn, "timeout": REPLICA_CONNECT_TIMEOUT}
        )
        # unknown until the first check; then ok, lagging or down.
        self.state = "unknown"
        self.lag: float | None = None
        self.reads = 0
        # The check's own connection: with the pool busy serving reads, a check waiting for a
        # pooled connection would take a loaded replica for a dead one.
        self._probe: Any = None

    @property
    def usable(self) -> bool:
        """Whether reads may go here now."""
        return self.state == "ok"

    def mark_down(self, exc: BaseException | str) -> None:
        """Skip this replica until a check finds it answering again."""
        if self.state != "down":
            log.warning("read replica %s is down; reads go to the primary: %s", self.address, exc)
        self.state = "down"
        self.lag = None

    async def _ask(self, primary_lsn: str | None) -> Any:
        import asyncpg

        if self._probe is None or self._probe.is_closed():
            self._probe = await asyncpg.connect(self.dsn, timeout=REPLICA_CONNECT_TIMEOUT)
        return await self._probe.fetchrow(_REPLICA_CHECK, primary_lsn)

    async def close(self) -> None:
        """Close the check's connection and the pool."""
        if self._probe is not None:
            self._probe.terminate()
            self._probe = None
        if self.engine.pool is not None:
            await self.engine.close_connection_pool()
        self.state = "unknown"

    async def check(self, primary_lsn: str | None, max_lag: float) -> None:
        """Ask the replica how far behind it is, and set its state."""
        try:
            row = await asyncio.wait_for(self._ask(primary_lsn), REPLICA_CONNECT_TIMEOUT * 2)
        except Exception as exc:
            if self._probe is not None:
                self._probe.terminate()
                self._probe = None
            self.mark_down(exc)
            return
        if not row["standby"]:
            # A promoted replica takes writes of its own: its data is no longer the primary's.
            self.mark_down("not a standby (promoted?)")
            return
        behind = row["behind"]
        lag = 0.0 if row["caught_up"] else (math.inf if behind is None else max(0.0, behind))
        state = "ok" if lag <= max_lag else "lagging"
        if state != self.state:
            level = logging.INFO if state == "ok" else logging.WARNING
            log.log(level, "read replica %s is %s (%.1f s behind)", self.address, state, lag)
        self.state, self.lag = state, lag


class RoutedPostgresEngine(PostgresEngine):
    """Piccolo's PostgreSQL engine, sending replica-safe reads to a healthy replica (extra_nodes).

    The replicas are Piccolo's `extra_nodes` ("replica1", ...), so `query.run(node="replica1")`
    reaches one explicitly; the routing below picks one for the reads that may go (see above).
    Each process checks its replicas in the background every `check_seconds`.
    """

    def __init__(
        self,
        config: dict[str, Any],
        *,
        replicas: Sequence[str] = (),
        max_lag: float = 5.0,
        check_seconds: float = 1.0,
        **kwargs: Any,
    ) -> None:
        nodes = [ReplicaNode(f"replica{i}", dsn) for i, dsn in enumerate(replicas, start=1)]
        super().__init__(
            config=config, extra_nodes={node.name: node.engine for node in nodes}, **kwargs
        )
        self.replicas = {node.name: node for node in nodes}
        self.max_lag = max_lag
        self.check_seconds = check_seconds
        # Plain reads outside a transaction that the primary served (the replicas count their own).
        self.primary_reads = 0
        self._turn = itertools.count()
        self._watcher: asyncio.Task[None] | None = None

    def read_counts(self) -> dict[str, int]:
        """Plain reads served per node: the primary and each replica by host:port."""
        counts = {PRIMARY: self.primary_reads}
        for node in self.replicas.values():
            counts[node.address] = node.reads
        return counts

    async def start_connection_pool(self, **kwargs: Any) -> None:
        """Open the primary's pool, and lazily the replicas' (a replica down must not stop us)."""
        await super().start_connection_pool(**kwargs)
        if not self.replicas:
            return
        for node in self.replicas.values():
            await node.engine.start_connection_pool(
                **{**kwargs, "min_size": 0, "max_size": kwargs.get("max_size", 10)}
            )
        await self.check_replicas()
        # A context of its own: the watcher must not inherit a request's read scope.
        self._watcher = asyncio.get_running_loop().create_task(
            self._watch(), name="replica-check", context=contextvars.Context()
        )

    async def close_connection_pool(self) -> None:
        """Stop checking the replicas and close every pool."""
        if self._watcher is not None:
            self._watcher.cancel()
            try:
                await self._watcher
            except asyncio.CancelledError:
                pass
            self._watcher = None
        for node in self.replicas.values():
            await node.close()
        await super().close_connection_pool()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.check_seconds)
            try:
                await self.check_replicas()
            except Exception:
                log.exception("checking the read replicas failed")

    async def check_replicas(self) -> None:
        """Measure every replica's lag against the primary now, and mark it ok, lagging or down."""
        if not self.replicas:
            return
        try:
            rows = await self._on_primary("SELECT pg_current_wal_lsn()::text AS lsn", ())
            primary_lsn: str | None = rows[0]["lsn"]
        except Exception as exc:
            # Without the primary's position, the replicas' own clocks still tell their lag.
            log.warning("could not read the primary's WAL position: %s", exc)
            primary_lsn = None
        # At once: one replica that does not answer must not hold up the others' checks.
        await asyncio.gather(
            *(node.check(primary_lsn, self.max_lag) for node in self.replicas.values())
        )

    async def _on_primary(self, query: str, args: Sequence[Any], in_pool: bool = True) -> Any:
        current = self.current_transaction.get()
        if current is not None:
            return await current.connection.fetch(query, *args)
        if in_pool and self.pool is not None:
            async with self.pool.acquire() as connection:
                return await connection.fetch(query, *args)
        return await self._run_in_new_connection(query, list(args))

    def _replica_for(self, scope: ReadScope) -> ReplicaNode | None:
        if scope.node is not None:
            pinned = self.replicas.get(scope.node)
            return pinned if pinned is not None and pinned.usable else None
        usable = [node for node in self.replicas.values() if node.usable]
        if not usable:
            return None
        return usable[next(self._turn) % len(usable)]

    async def fetch_routed(self, query: str, args: Sequence[Any], in_pool: bool = True) -> Any:
        """Run one statement on the node it belongs to (see the rules above this class)."""
        if not self.replicas:
            return await self._on_primary(query, args, in_pool)
        if self.current_transaction.get() is not None:
            mark_written()
            return await self._on_primary(query, args, in_pool)
        if not is_plain_read(query):
            mark_written()
            return await self._on_primary(query, args, in_pool)
        scope = _READS.get()
        if scope is not None and scope.replica_ok and not scope.wrote:
            node = self._replica_for(scope)
            if node is not None:
                try:
                    rows = await node.engine._run_in_pool(query, list(args))
                except Exception as exc:
                    if _replica_gone(exc):
                        node.mark_down(exc)
                    elif not _sqlstate(exc).startswith(_RETRY_STATES):
                        raise
                    else:
                        log.info("a read on replica %s runs on the primary: %s", node.address, exc)
                else:
                    node.reads += 1
                    scope.node = node.name
                    return rows
            # From here on this request reads the primary.
            scope.node = PRIMARY
        self.primary_reads += 1
        return await self._on_primary(query, args, in_pool)

    async def run_querystring(self, querystring: QueryString, in_pool: bool = True) -> Any:
        query, args = querystring.compile_string(engine_type=self.engine_type)
        if self.log_queries:
            self.print_query(query_id=self.get_query_id(), query=str(querystring))
        response = await self.fetch_routed(query, args, in_pool)
        if self.log_responses:
            self.print_response(query_id=self.get_query_id(), response=response)
        return response
