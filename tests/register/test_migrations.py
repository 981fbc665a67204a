"""Migrations: an empty database migrated has exactly the schema the tables declare."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import asyncpg
import httpx
from piccolo.conf.apps import Finder
from piccolo.table import create_db_tables

from register.asgi import create_app
from register.db import bind_engine, sqlite_path
from register.migrate import expected_migration_ids, migrate, pending_migrations
from register.settings import Settings
from tests.cli import run_cli
from tests.conftest import BACKEND
from tests.helpers import assert_problem
from tests.register.conftest import FreshDatabase, started

Schema = dict[str, Any]
IGNORED_TABLES = {"migration", "sqlite_sequence"}


def _norm_sql(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


async def sqlite_schema(url: str) -> Schema:
    """Tables, columns, indexes, foreign keys and triggers of a SQLite file, read back from it."""
    import sqlite3

    conn = sqlite3.connect(sqlite_path(url))
    try:
        q = conn.execute
        tables = sorted(
            r[0]
            for r in q("SELECT name FROM sqlite_master WHERE type = 'table'")
            if r[0] not in IGNORED_TABLES
        )
        schema: Schema = {
            "tables": tables,
            "columns": {},
            "indexes": {},
            "foreign_keys": {},
            "triggers": {},
        }
        for t in tables:
            schema["columns"][t] = {
                name: {"type": type_, "not_null": bool(notnull), "default": default, "pk": pk}
                for _, name, type_, notnull, default, pk, _hidden in q(f'PRAGMA table_xinfo("{t}")')
            }
            indexes = {}
            for _, name, unique, origin, partial in q(f'PRAGMA index_list("{t}")'):
                columns = tuple(r[2] for r in q(f'PRAGMA index_info("{name}")'))
                # Automatic indexes of UNIQUE columns are named by position; name them by content.
                key = f"auto:{','.join(columns)}" if name.startswith("sqlite_autoindex_") else name
                indexes[key] = {
                    "columns": columns,
                    "unique": bool(unique),
                    "origin": origin,
                    "partial": bool(partial),
                }
            schema["indexes"][t] = indexes
            schema["foreign_keys"][t] = sorted(
                (row[3], row[2], row[4], row[5], row[6])
                for row in q(f'PRAGMA foreign_key_list("{t}")')
            )
        for name, table, sql in q(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"
        ):
            schema["triggers"][name] = (table, _norm_sql(sql))
        return schema
    finally:
        conn.close()


async def postgres_schema(url: str) -> Schema:
    """The same, from PostgreSQL's catalogues."""
    conn = await asyncpg.connect(url)
    try:
        columns: dict[str, dict[str, Any]] = {}
        for r in await conn.fetch(
            "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> ALL($1::text[])",
            list(IGNORED_TABLES),
        ):
            columns.setdefault(r["table_name"], {})[r["column_name"]] = {
                "type": r["data_type"],
                "length": r["character_maximum_length"],
                "nullable": r["is_nullable"],
                "default": r["column_default"],
            }
        indexes = {
            r["indexname"]: (r["tablename"], r["indexdef"])
            for r in await conn.fetch(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'migration'"
            )
        }
        constraints = {
            r["conname"]: (r["tbl"], r["contype"], r["def"])
            for r in await conn.fetch(
                "SELECT conrelid::regclass::text AS tbl, conname, contype, pg_get_constraintdef(oid) AS def "
                "FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> 'migration'"
            )
        }
        triggers = {
            r["tgname"]: (r["tbl"], r["def"], r["enabled"])
            for r in await conn.fetch(
                "SELECT tgrelid::regclass::text AS tbl, tgname, pg_get_triggerdef(oid) AS def, tgenabled AS enabled "
                "FROM pg_trigger WHERE NOT tgisinternal"
            )
        }
        functions = {
            r["proname"]: _norm_sql(r["src"])
            for r in await conn.fetch(
                "SELECT proname, prosrc AS src FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
            )
        }
        sequences = sorted(
            r["sequence_name"]
            for r in await conn.fetch(
                "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public'"
            )
            if not r["sequence_name"].startswith("migration_")
        )
        return {
            "tables": sorted(columns),
            "columns": columns,
            "indexes": indexes,
            "constraints": constraints,
            "triggers": triggers,
            "functions": functions,
            "sequences": sequences,
        }
    finally:
        await conn.close()


async def read_schema(url: str) -> Schema:
    """The introspected schema of the database at `url`."""
    return await (postgres_schema(url) if BACKEND == "postgres" else sqlite_schema(url))


def table_modules() -> list[Any]:
    """Every part's tables module, app by app (each Piccolo app lists its parts' TABLE_MODULES)."""
    import importlib

    from register.piccolo_conf import APP_NAMES

    return [
        importlib.import_module(name)
        for app in APP_NAMES
        for name in importlib.import_module(app).TABLE_MODULES
    ]


async def declared_schema(url: str) -> None:
    """Create every app's tables from their classes, plus the statements tables cannot declare."""
    async with started(url) as engine:
        bind_engine(engine)
        await create_db_tables(*Finder().get_table_classes())
        for module in table_modules():
            for statement in getattr(module, "statements", lambda _engine_type: [])(
                engine.engine_type
            ):
                await engine.run_ddl(statement)


def _ddl_tables() -> set[str]:
    """Tables a part's statements create themselves (search indexes), as its `extra_tables` names them."""
    engine_type = "postgres" if BACKEND == "postgres" else "sqlite"
    names: set[str] = set()
    for module in table_modules():
        names |= set(getattr(module, "extra_tables", lambda _engine_type: ())(engine_type))
    return names


async def test_migrations_give_the_declared_schema(fresh_database: FreshDatabase) -> None:
    """Migrating an empty database yields exactly what the table classes and their statements declare."""
    async with fresh_database() as migrated_url, fresh_database() as declared_url:
        async with started(migrated_url) as engine:
            # Not bound first on purpose: migrate() must use the engine it is given.
            applied = await migrate(engine, quiet=True)
            assert sorted(applied) == sorted(
                i for ids in expected_migration_ids().values() for i in ids
            )
            assert await pending_migrations(engine) == []
        await declared_schema(declared_url)
        migrated, declared = await read_schema(migrated_url), await read_schema(declared_url)

    assert migrated["tables"] == declared["tables"]
    for key in declared:
        assert migrated[key] == declared[key], f"{key} differ between migrations and table classes"
    # The comparison is only worth something if it saw the interesting parts.
    tables = {t._meta.tablename for t in Finder().get_table_classes()}
    assert set(declared["tables"]) == tables | _ddl_tables()
    assert {"audit_event", "audit_checkpoint", "employee", "register_user"} <= tables
    trigger_text = str(declared["triggers"])
    assert "audit_event" in trigger_text and "audit_checkpoint" in trigger_text
    assert "employee_status_name" in str(declared["indexes"])


async def test_register_migrate_is_idempotent(
    fresh_database: FreshDatabase, settings: Settings
) -> None:
    """`register migrate` applies everything once, then finds nothing to do."""
    expected = sorted(i for ids in expected_migration_ids().values() for i in ids)
    async with fresh_database() as url:
        own = dataclasses.replace(settings, database_url=url)
        first = await run_cli(own, "migrate", subprocess=True)
        assert first.code == 0, first
        assert f"migrations applied: {len(expected)} ({', '.join(expected)})" in first.out
        schema = await read_schema(url)
        second = await run_cli(own, "migrate")
        assert second.code == 0, second
        assert "migrations applied: 0 (up to date)" in second.out
        assert await read_schema(url) == schema
        async with started(url) as engine:
            rows = await engine.run_ddl('SELECT "app_name", "name" FROM "migration"')
            assert sorted(r["name"] for r in rows) == expected
            assert await pending_migrations(engine) == []


async def test_ready_reports_pending_migrations(
    fresh_database: FreshDatabase, settings: Settings
) -> None:
    """/ready is 503 on an unmigrated database and 200 once it is migrated; /health is up throughout."""
    async with fresh_database() as url:
        app = create_app(dataclasses.replace(settings, database_url=url))
        engine = app.state.engine
        await engine.start_connection_pool()
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client:
                assert (await client.get("/health")).status_code == 200
                assert_problem(await client.get("/ready"), 503, "not-ready")
                await migrate(engine, quiet=True)
                ready = await client.get("/ready")
                assert ready.status_code == 200, ready.text
                assert ready.json() == {"status": "ok", "database": "ok", "migrations": "applied"}
        finally:
            await engine.close_connection_pool()
