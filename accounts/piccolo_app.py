"""Corporate social accounts as a Piccolo app."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig, table_finder

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))
TABLE_MODULES = [
    "accounts.tables",
    "accounts.connections.tables",
    "accounts.handovers.tables",
    "accounts.posts.tables",
]

APP_CONFIG = AppConfig(
    app_name="accounts",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=table_finder(modules=TABLE_MODULES, exclude_imported=True),
    migration_dependencies=["register.piccolo_app"],
    commands=[],
)
