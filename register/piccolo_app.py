"""The core, with the staff directory, notifications, SCIM and policies, as a Piccolo app."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig, table_finder

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))
# The core and the parts that live inside it share the core's migrations.
TABLE_MODULES = [
    "register.tables",
    "register.staff.tables",
    "register.notifications.tables",
    "register.scim.tables",
    "register.policies.tables",
]

APP_CONFIG = AppConfig(
    app_name="register",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=table_finder(modules=TABLE_MODULES, exclude_imported=True),
    migration_dependencies=[],
    commands=[],
)
