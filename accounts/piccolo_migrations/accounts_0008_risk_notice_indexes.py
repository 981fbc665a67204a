"""One open risk notice per account and kind, and the digest's index."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from accounts.tables import RISK_NOTICE_INDEXES

ID = "2026-11-21T10:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "risk notice indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in RISK_NOTICE_INDEXES:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
