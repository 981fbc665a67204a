"""Post approval: each account's setting and approvers, post requests, their stripped media, history."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete
from piccolo.columns.base import OnUpdate
from piccolo.columns.column_types import JSON
from piccolo.columns.column_types import Boolean
from piccolo.columns.column_types import Bytea
from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import Serial
from piccolo.columns.column_types import Text
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.engine import engine_finder
from piccolo.table import Table

from accounts.posts.tables import statements


class SocialAccount(Table, tablename="social_account", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False)


class User(Table, tablename="register_user", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False)


class PostRequest(Table, tablename="post_request", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False)


ID = "2026-12-03T19:00:03:000000"
VERSION = "1.38.0"
DESCRIPTION = "post approval: settings, approvers, post requests, stripped media, history"


def _params(**given):
    params = {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }
    params.update(given)
    return params


def _foreign(table, **given):
    return _params(
        references=table,
        on_delete=OnDelete.restrict,
        on_update=OnUpdate.cascade,
        target_column=None,
        **given,
    )


TABLES = [
    (
        "PostApprovalSetting",
        "post_approval_setting",
        [
            ("id", Serial, _params(primary_key=True)),
            ("account", ForeignKey, _foreign(SocialAccount, unique=True)),
            ("requires_approval", Boolean, _params(default=False)),
            ("version", Integer, _params(default=1)),
            ("updated_by", Integer, _params(default=None, null=True)),
            ("updated_at", Timestamptz, _params(default=TimestamptzNow())),
        ],
    ),
    (
        "PostApprover",
        "post_approver",
        [
            ("id", Serial, _params(primary_key=True)),
            ("account", ForeignKey, _foreign(SocialAccount)),
            ("approver", ForeignKey, _foreign(User)),
            ("added_by", Integer, _params(default=None, null=True)),
            ("added_at", Timestamptz, _params(default=TimestamptzNow())),
        ],
    ),
    (
        "PostRequest",
        "post_request",
        [
            ("id", Serial, _params(primary_key=True)),
            ("account", ForeignKey, _foreign(SocialAccount)),
            ("submitted_by", ForeignKey, _foreign(User)),
            ("submitted_by_email", Varchar, _params(length=320, default="")),
            ("text", Text, _params(default="")),
            ("planned_at", Timestamptz, _params(default=None, null=True)),
            ("state", Varchar, _params(length=16, default="submitted")),
            ("round", Integer, _params(default=1)),
            ("send_back_reason", Text, _params(default="")),
            ("decided_by", Integer, _params(default=None, null=True)),
            ("decided_by_email", Varchar, _params(length=320, default="")),
            ("decided_at", Timestamptz, _params(default=None, null=True)),
            ("approved_sha256", Varchar, _params(length=64, default="")),
            ("approved_at", Timestamptz, _params(default=None, null=True)),
            ("posted_url", Varchar, _params(length=2000, default="")),
            ("posted_by", Integer, _params(default=None, null=True)),
            ("posted_by_email", Varchar, _params(length=320, default="")),
            ("posted_at", Timestamptz, _params(default=None, null=True)),
            ("version", Integer, _params(default=1)),
            ("created_at", Timestamptz, _params(default=TimestamptzNow())),
            ("updated_at", Timestamptz, _params(default=TimestamptzNow())),
        ],
    ),
    (
        "PostMedia",
        "post_media",
        [
            ("id", Serial, _params(primary_key=True)),
            ("post_request", ForeignKey, _foreign(PostRequest)),
            ("position", Integer, _params(default=0)),
            ("media_type", Varchar, _params(length=40, default="")),
            ("received_format", Varchar, _params(length=16, default="")),
            ("width", Integer, _params(default=0)),
            ("height", Integer, _params(default=0)),
            ("size", Integer, _params(default=0)),
            ("sha256", Varchar, _params(length=64, default="")),
            ("removed", JSON, _params(default="[]")),
            ("wrapped_key", Varchar, _params(length=200, default="", secret=True)),
            ("key_version", Integer, _params(default=0)),
            ("filename_ct", Text, _params(default=None, null=True, secret=True)),
            ("content_ct", Bytea, _params(default=None, null=True, secret=True)),
            ("uploaded_by", Integer, _params(default=None, null=True)),
            ("created_at", Timestamptz, _params(default=TimestamptzNow())),
        ],
    ),
    (
        "PostEvent",
        "post_request_event",
        [
            ("id", Serial, _params(primary_key=True)),
            ("post_request", ForeignKey, _foreign(PostRequest)),
            ("step", Varchar, _params(length=32, default="")),
            ("round", Integer, _params(default=1)),
            ("user_id", Integer, _params(default=None, null=True)),
            ("user_email", Varchar, _params(length=320, default="")),
            ("note", Text, _params(default="")),
            ("sha256", Varchar, _params(length=64, default="")),
            ("at", Timestamptz, _params(default=TimestamptzNow())),
        ],
    ),
]


class _TablesThenIndexes(MigrationManager):
    """Piccolo runs raw steps before it adds tables; the indexes need the tables first."""

    async def _run_add_columns(self, backwards=False):
        await super()._run_add_columns(backwards=backwards)
        if not backwards:
            engine = engine_finder()
            for statement in statements(engine.engine_type):
                await engine.run_ddl(statement)


async def forwards():
    manager = _TablesThenIndexes(migration_id=ID, app_name="accounts", description=DESCRIPTION)
    for class_name, tablename, columns in TABLES:
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, column_class, params in columns:
            manager.add_column(
                table_class_name=class_name,
                tablename=tablename,
                column_name=name,
                db_column_name=name,
                column_class_name=column_class.__name__,
                column_class=column_class,
                params=params,
                schema=None,
            )
    return manager
