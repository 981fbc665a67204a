from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T16:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "users found by their identity at the company's provider; a session keeps its ID token"


def _params(**extra):
    return {
        "default": None,
        "null": True,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **extra,
    }


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="register", description=DESCRIPTION
    )

    # NULL for everyone so far: they sign in with a password until the provider links them.
    # Looked up by subject (indexed) and issuer; no two users share an identity because an
    # identity carries one e-mail and e-mails are unique.
    for column, length, index in (("oidc_issuer", 500, False), ("oidc_subject", 255, True)):
        manager.add_column(
            table_class_name="User",
            tablename="register_user",
            column_name=column,
            db_column_name=column,
            column_class_name="Varchar",
            column_class=Varchar,
            params=_params(length=length, index=index),
            schema=None,
        )
    manager.add_column(
        table_class_name="UserSession",
        tablename="user_session",
        column_name="id_token",
        db_column_name="id_token",
        column_class_name="Text",
        column_class=Text,
        params=_params(secret=True),
        schema=None,
    )

    return manager
