"""The index the daily digest's once-a-day check uses."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from register.notifications.tables import statements as notification_statements

ID = "2026-11-21T09:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox index on event type and creation time"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="register", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in notification_statements(engine.engine_type):
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
