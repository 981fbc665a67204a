"""Applying Piccolo migrations to the bound engine, and telling which are pending."""

from __future__ import annotations

import contextlib
import io
import os
from functools import lru_cache
from typing import Any

os.environ.setdefault("PICCOLO_CONF", "register.piccolo_conf")

from register.db import PooledSQLiteEngine


def _use_engine(engine: Any) -> None:
    # Piccolo's migration runner finds its engine through piccolo_conf.DB; point it at ours.
    # Its `migration` table keeps whichever engine it was first bound to, so rebind it too, or
    # the applied ids would be recorded in another database.
    from piccolo.apps.migrations.tables import Migration

    from register import piccolo_conf

    piccolo_conf.DB = engine
    Migration._meta.db = engine


@lru_cache(maxsize=1)
def expected_migration_ids() -> dict[str, frozenset[str]]:
    """Every migration id shipped, by app."""
    from piccolo.apps.migrations.commands.base import BaseMigrationManager
    from piccolo.conf.apps import Finder

    manager = BaseMigrationManager()
    found: dict[str, frozenset[str]] = {}
    for app_config in Finder().get_app_registry().app_configs.values():
        modules = manager.get_migration_modules(app_config.migrations_folder_path)
        found[app_config.app_name] = frozenset(m.ID for m in modules.values())
    return found


async def pending_migrations(engine: Any) -> list[str]:
    """Migration ids shipped but not yet applied."""
    expected = expected_migration_ids()
    try:
        sql = 'SELECT "app_name", "name" FROM "migration"'
        if isinstance(engine, PooledSQLiteEngine):
            # As a read: readiness probes call this and must not queue behind writers.
            rows = await engine._run(sql, (), False)
        else:
            rows = await engine.run_ddl(sql)
    except Exception:
        return sorted(i for ids in expected.values() for i in ids)
    applied = {(r["app_name"], r["name"]) for r in rows}
    return sorted(i for app, ids in expected.items() for i in ids if (app, i) not in applied)


async def migrate(engine: Any, quiet: bool = False) -> list[str]:
    """Apply every pending migration; returns the ids applied."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    _use_engine(engine)
    before = await pending_migrations(engine)
    out = io.StringIO()
    with contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext():
        result = await run_forwards(app_name="all")
    if not result.success:
        raise SystemExit(f"migration failed: {result.message}\n{out.getvalue()}")
    return before
