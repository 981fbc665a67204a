"""Fixtures and helpers of the core suites: empty databases, and the audit trail as an attacker sees it."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from piccolo.engine.base import Engine

from register import audit
from register.actor import Actor
from register.db import bind_engine, get_engine, make_engine, sqlite_path
from register.keys import Secrets
from register.settings import Settings
from register.tables import AuditEvent
from tests.cli import run_cli
from tests.conftest import BACKEND, PG_ADMIN_DSN

Execute = Callable[..., Awaitable[None]]


async def trail() -> list[dict[str, Any]]:
    """Every event, oldest first, with `changes` decoded."""
    rows = await AuditEvent.select().order_by(AuditEvent.seq)
    for row in rows:
        if isinstance(row["changes"], str):
            row["changes"] = json.loads(row["changes"])
    return rows


async def record_events(n: int, action: str = "test.event") -> None:
    """Append n events straight through the trail's own writer."""
    for i in range(n):
        await audit.record(Actor.system("test"), action, "thing", i, {"n": [i, i + 1]})


def _pg_params(sql: str) -> str:
    parts = sql.split("?")
    return "".join(
        part + (f"${i}" if i < len(parts) else "") for i, part in enumerate(parts, start=1)
    )


@asynccontextmanager
async def attacker(settings: Settings) -> AsyncIterator[Execute]:
    """A raw connection that gets past the append-only triggers, as someone holding the database would."""
    if settings.is_sqlite:
        conn = sqlite3.connect(sqlite_path(settings.database_url), isolation_level=None)
        for name in (
            "audit_event_no_update",
            "audit_event_no_delete",
            "audit_checkpoint_no_update",
            "audit_checkpoint_no_delete",
        ):
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")

        async def run_sqlite(sql: str, *args: Any) -> None:
            conn.execute(sql, args)

        try:
            yield run_sqlite
        finally:
            conn.close()
        return
    pg = await asyncpg.connect(settings.database_url)
    # Replica mode skips ordinary triggers: the superuser's way around them.
    await pg.execute("SET session_replication_role = replica")

    async def run_pg(sql: str, *args: Any) -> None:
        await pg.execute(_pg_params(sql), *args)

    try:
        yield run_pg
    finally:
        await pg.close()


async def assert_broken(
    settings: Settings, secrets: Secrets, seq: int, words: str
) -> audit.Verdict:
    """verify() and `register audit verify` both fail, naming event `seq`."""
    verdict = await audit.verify(secrets.verify_key, mac_key=secrets.audit_mac_key)
    assert not verdict.ok
    assert verdict.first_bad_seq == seq, verdict
    assert words in verdict.reason, verdict.reason
    result = await run_cli(settings, "audit", "verify")
    assert result.code == 1, result
    assert f"BROKEN at event {seq}:" in result.err, result.err
    return verdict


FreshDatabase = Callable[[], AbstractAsyncContextManager[str]]


@pytest.fixture
def fresh_database(tmp_path: Path) -> FreshDatabase:
    """fresh() -> an empty database of the backend under test, dropped afterwards."""

    @asynccontextmanager
    async def fresh() -> AsyncIterator[str]:
        name = f"register_schema_{uuid.uuid4().hex[:10]}"
        if BACKEND != "postgres":
            yield f"sqlite:///{tmp_path / name}.db"
            return
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                yield PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
            finally:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    return fresh


@asynccontextmanager
async def started(url: str) -> AsyncIterator[Any]:
    """An engine on `url` with its pool open; the tables' previous engine is restored after."""
    try:
        previous: Engine[Any] | None = get_engine()
    except RuntimeError:
        previous = None
    engine: Any = make_engine(url)
    if engine.engine_type == "postgres":
        await engine.start_connection_pool(min_size=1, max_size=2)
    else:
        await engine.start_connection_pool()
    try:
        yield engine
    finally:
        await engine.close_connection_pool()
        if previous is not None:
            bind_engine(previous)
