"""E-mail through the outbox: users' opt-outs, and outbox messages with no subscription."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON
from piccolo.columns.indexes import IndexMethod
from piccolo.engine import engine_finder

ID = "2026-12-03T16:00:03:000000"
VERSION = "1.38.0"
DESCRIPTION = "e-mail opt-outs per user; e-mail outbox messages have no subscription"

NOT_NULL = '"subscription" INTEGER NOT NULL REFERENCES'
NULLABLE = '"subscription" INTEGER REFERENCES'


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="register", description=DESCRIPTION)

    # Empty for everyone so far: every kind of mail is on until its reader turns it off.
    manager.add_column(
        table_class_name="User",
        tablename="register_user",
        column_name="mail_opt_out",
        db_column_name="mail_opt_out",
        column_class_name="JSON",
        column_class=JSON,
        params={
            "default": "[]",
            "null": False,
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

    async def subscription_nullable():
        engine = engine_finder()
        if engine.engine_type == "postgres":
            await engine.run_ddl(
                'ALTER TABLE "outbox_message" ALTER COLUMN "subscription" DROP NOT NULL'
            )
            return
        # SQLite cannot alter a column; dropping a NOT NULL changes nothing stored, so SQLite's
        # documented way is to edit the table's definition in place and bump the schema version
        # (https://www.sqlite.org/lang_altertable.html, "making other kinds of changes"). One
        # connection for all of it: the pragmas hold per connection.
        async with engine.transaction():
            version = (await engine.run_ddl("PRAGMA schema_version"))[0]["schema_version"]
            await engine.run_ddl("PRAGMA writable_schema = ON")
            await engine.run_ddl(
                f"UPDATE sqlite_master SET sql = replace(sql, '{NOT_NULL}', '{NULLABLE}') "
                "WHERE type = 'table' AND name = 'outbox_message'"
            )
            await engine.run_ddl(f"PRAGMA schema_version = {version + 1}")
            await engine.run_ddl("PRAGMA writable_schema = OFF")

    manager.add_raw(subscription_nullable)
    return manager
