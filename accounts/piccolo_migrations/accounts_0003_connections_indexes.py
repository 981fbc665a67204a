"""Indexes of the connections and their search structures (accounts.ddl), after the tables exist."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from accounts.connections.tables import statements as connection_statements

ID = "2026-11-21T08:17:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "connection indexes; trigram search (FTS5 on SQLite, pg_trgm on PostgreSQL)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in connection_statements(engine.engine_type):
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
