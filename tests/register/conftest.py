"""Helpers of the core suites: the audit trail as an attacker who can write the database sees it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from register import audit
from register.actor import Actor
from register.db import sqlite_path
from register.keys import Secrets
from register.settings import Settings
from register.tables import AuditEvent
from tests.cli import run_cli

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
