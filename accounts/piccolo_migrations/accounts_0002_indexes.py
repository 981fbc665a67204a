"""Unique handle per platform and the indexes the account list and risk report use."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from accounts.tables import INDEXES

ID = "2026-11-21T05:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique handle per platform; list and risk indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in INDEXES:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
