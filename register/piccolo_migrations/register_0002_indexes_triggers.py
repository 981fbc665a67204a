"""Composite indexes and the triggers that make the audit trail append-only."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from register.staff.tables import statements as staff_statements
from register.tables import statements as core_statements

ID = "2026-11-21T05:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite indexes and append-only audit triggers"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="register", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        # The staff directory was part of the core when this migration was written.
        for statement in [*core_statements(engine.engine_type), *staff_statements(engine.engine_type)]:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
