"""An incident can name the post request (from a company account) it concerns."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete
from piccolo.columns.base import OnUpdate
from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Serial
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class PostRequest(Table, tablename="post_request", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False)


ID = "2026-12-03T19:00:04:000000"
VERSION = "1.38.0"
DESCRIPTION = "the post request an incident concerns"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="incidents", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Incident",
        tablename="incident",
        column_name="post_request",
        db_column_name="post_request",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            "references": PostRequest,
            "on_delete": OnDelete.restrict,
            "on_update": OnUpdate.cascade,
            "target_column": None,
            "null": True,
            "default": None,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
