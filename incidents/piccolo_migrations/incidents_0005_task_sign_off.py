from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T18:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "a task that needs legal counsel records who signed it, as what, and when"

COMMON = {
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="incidents", description=DESCRIPTION)

    # Steps finished before the legal role existed have no sign-off: they keep done_by and done_at.
    for column_name, column_class, params in (
        ("signed_off_by", Integer, {"default": None, "null": True}),
        ("signed_off_as", Varchar, {"length": 16, "default": "", "null": False}),
        ("signed_off_at", Timestamptz, {"default": None, "null": True}),
    ):
        manager.add_column(
            table_class_name="IncidentTask",
            tablename="incident_task",
            column_name=column_name,
            db_column_name=column_name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params={**params, **COMMON},
            schema=None,
        )

    return manager
