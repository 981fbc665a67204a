"""The database layer: concurrent writers queue, failed transactions roll back, nesting uses savepoints."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from pathlib import Path

import msgspec
import pytest

from accounts.enums import Platform
from register.actor import Actor
from register.db import (
    PooledSQLiteEngine,
    bulk_insert,
    enum_literal,
    get_engine,
    json_default,
    rfc3339,
    rfc3339_text,
    sqlite_path,
    write_transaction,
)
from register.errors import AlreadyExists
from register.keys import load_secrets
from register.settings import Settings
from register.staff.services import create_employee
from register.staff.tables import Employee
from tests.helpers import employee_body as _body


def employee_body(n):
    """A service-level body (dates as dates, not JSON strings)."""
    import datetime as dt

    return _body(n, start_date=dt.date(2022, 1, 10))


async def test_concurrent_writers_all_succeed(app):
    """Fifty concurrent creates: none fails with 'database is locked', all are stored and audited."""
    actor = Actor.system("test")
    results = await asyncio.gather(
        *(create_employee(actor=actor, data=employee_body(i)) for i in range(50)),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, Exception)] == []
    assert await Employee.count() == 50
    from register.tables import AuditEvent

    seqs = [r["seq"] for r in await AuditEvent.select(AuditEvent.seq).order_by(AuditEvent.seq)]
    assert seqs == list(range(1, 51))


async def test_failed_transaction_leaves_nothing(app):
    """An error inside a write transaction undoes every statement of it."""
    actor = Actor.system("test")
    await create_employee(actor=actor, data=employee_body(1))
    with pytest.raises(RuntimeError):
        async with write_transaction():
            await Employee.update({Employee.name: "Changed"}).where(
                Employee.work_email == "person1@example.com"
            )
            raise RuntimeError("boom")
    row = (
        await Employee.select(Employee.name)
        .where(Employee.work_email == "person1@example.com")
        .first()
    )
    assert row["name"] == "Person 1"


async def test_nested_failure_rolls_back_only_inner(app):
    """A nested write transaction is a savepoint: its failure keeps the outer work."""
    actor = Actor.system("test")
    async with write_transaction():
        await create_employee(actor=actor, data=employee_body(1))
        with pytest.raises(AlreadyExists):
            await create_employee(actor=actor, data=employee_body(1))
        await create_employee(actor=actor, data=employee_body(2))
    emails = sorted(r["work_email"] for r in await Employee.select(Employee.work_email))
    assert emails == ["person1@example.com", "person2@example.com"]


async def test_bulk_insert_uses_driver_bulk_path(app):
    """bulk_insert stores many rows in one call on either engine."""
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    rows = [
        (f"Bulk {i}", f"bulk{i}@example.com", "Sales", "", "active", 1, now, now)
        for i in range(2000)
    ]
    columns = [
        "name",
        "work_email",
        "department",
        "job_title",
        "status",
        "version",
        "created_at",
        "updated_at",
    ]
    assert await bulk_insert("employee", columns, rows) == 2000
    assert await Employee.count().where(Employee.department == "Sales") == 2000
    got = (
        await Employee.select(Employee.created_at)
        .where(Employee.work_email == "bulk7@example.com")
        .first()
    )
    assert got["created_at"].tzinfo is not None


async def test_sqlite_pragmas(app):
    """SQLite runs in WAL with foreign keys on and a busy timeout."""
    engine = get_engine()
    if not isinstance(engine, PooledSQLiteEngine):
        pytest.skip("SQLite only")
    assert (await engine.run_ddl("PRAGMA journal_mode"))[0]["journal_mode"] == "wal"
    assert (await engine.run_ddl("PRAGMA foreign_keys"))[0]["foreign_keys"] == 1
    assert (await engine.run_ddl("PRAGMA busy_timeout"))[0]["timeout"] >= 5000


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def test_the_var_folder_and_the_database_files_are_private(tmp_path: Path) -> None:
    """A new var folder is 0700, and a new SQLite database with its -wal and -shm files 0600, as
    the secret files are: under the usual umask sqlite3 alone would make them world-readable."""
    umask = os.umask(0o022)
    try:
        var = tmp_path / "var"
        load_secrets(
            Settings(
                database_url=f"sqlite:///{var}/register.db",
                var_dir=var,
                secret_key_file=var / "secret.key",
                keyring_file=var / "keyring.json",
                audit_signing_key_file=var / "audit_signing.pem",
            ),
            announce=False,
        )
        database = tmp_path / "data" / "register.db"
        engine = PooledSQLiteEngine(path=str(database))
        await engine.start_connection_pool()
        try:
            await engine.run_ddl("CREATE TABLE t (x INTEGER)")
            await engine.run_ddl("INSERT INTO t VALUES (1)")
            files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
            assert {f.name: f.exists() and _mode(f) for f in files} == {
                f.name: 0o600 for f in files
            }
        finally:
            await engine.close_connection_pool()
    finally:
        os.umask(umask)
    assert _mode(var) == 0o700 and _mode(database.parent) == 0o700
    assert {_mode(f) for f in var.iterdir()} == {0o600}


def test_closed_set_values_become_literals():
    """Filter values of a closed set are written into SQL; anything else is refused."""
    assert enum_literal("SEV2") == "'SEV2'"
    assert enum_literal(Platform.linkedin_page) == "'linkedin_page'"
    for bad in ("x' OR '1'='1", "a b", "", "ü"):
        with pytest.raises(ValueError):
            enum_literal(bad)


def test_sqlite_url_paths():
    assert sqlite_path("sqlite:///var/register.db") == "var/register.db"
    assert sqlite_path("sqlite:////tmp/x.db") == "/tmp/x.db"


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2026, 12, 2, 15, 11, 16, 494841, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 2, 15, 11, 16, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 2, 16, 11, 16, 5, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        dt.datetime(2026, 12, 2, 15, 11, 16, 494841),
    ],
)
def test_one_spelling_of_times(moment: dt.datetime) -> None:
    """Stored JSON, files and the audit trail write a time as the API (msgspec) does, in UTC."""
    in_utc = moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    api = msgspec.json.encode(in_utc).decode().strip('"')
    assert api.endswith("Z")
    assert rfc3339(moment) == api
    assert json.dumps({"at": moment}, default=json_default) == f'{{"at": "{api}"}}'
    # A time stored in the old spelling reads back in the new one; other text is left alone.
    assert rfc3339_text(str(in_utc)) == api
    assert rfc3339_text(api) == api
    for text in ("2026-12-02", "2026-12-02 15:11:16", "soon", ""):
        assert rfc3339_text(text) == text
    assert json.dumps([dt.date(2026, 12, 2)], default=json_default) == '["2026-12-02"]'
