"""Unique playbook version and task step, and the indexes the incident list and clocks use."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from incidents.tables import statements

ID = "2026-11-21T08:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique playbook version and task step; list, clock and rewrap indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="incidents", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in statements(engine.engine_type):
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
