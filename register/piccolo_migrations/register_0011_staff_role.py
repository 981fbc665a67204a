from enum import Enum

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar

ID = "2026-12-03T19:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "users may have the staff role (any employee)"

OLD = {"admin": "admin", "it": "it", "hr": "hr", "comms": "comms", "legal": "legal", "auditor": "auditor"}
NEW = {**OLD, "staff": "staff"}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="register", description=DESCRIPTION)

    # Choices live in the table class only (no DDL): this keeps Piccolo's record of the column
    # in step with it, so a later auto migration does not find the role as a new change.
    manager.alter_column(
        table_class_name="User",
        tablename="register_user",
        column_name="role",
        db_column_name="role",
        params={"choices": Enum("Role", NEW)},
        old_params={"choices": Enum("Role", OLD)},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
