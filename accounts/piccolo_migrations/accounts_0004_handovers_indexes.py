"""Indexes of the handovers (accounts.ddl), after their tables exist."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from accounts.handovers.tables import statements as handover_statements
from accounts.tables import RECOVERY_INDEXES

ID = "2026-11-21T08:17:58:000000"
VERSION = "1.38.0"
DESCRIPTION = "handover indexes: one live handover per leaver, one sign-off per team and person"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in [*handover_statements(engine.engine_type), *RECOVERY_INDEXES]:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
