from enum import Enum

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T18:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "incidents keep the severity they were filed with and the highest they reached"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="incidents", description=DESCRIPTION)

    # Existing rows get "" here; incidents_0004 fills them from their timelines.
    for column_name in ("severity_at_filing", "highest_severity"):
        manager.add_column(
            table_class_name="Incident",
            tablename="incident",
            column_name=column_name,
            db_column_name=column_name,
            column_class_name="Varchar",
            column_class=Varchar,
            params={
                "length": 8,
                "default": "",
                "null": False,
                "primary_key": False,
                "unique": False,
                "index": False,
                "index_method": IndexMethod.btree,
                "choices": Enum(
                    "Severity",
                    {"SEV1": "SEV1", "SEV2": "SEV2", "SEV3": "SEV3", "SEV4": "SEV4"},
                ),
                "db_column_name": None,
                "secret": False,
            },
            schema=None,
        )

    return manager
