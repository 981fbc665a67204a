"""Attestation links (a one-time link for the leaver's attestation, kept as its hash); template order."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete
from piccolo.columns.base import OnUpdate
from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import Serial
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class Handover(Table, tablename="handover", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False)


class HandoverItem(Table, tablename="handover_item", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False)


ID = "2026-12-03T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "attestation links: the leaver attests through a one-time link; template order"


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


COLUMNS = [
    ("id", Serial, _params(primary_key=True)),
    ("handover", ForeignKey, _foreign(Handover, index=True)),
    ("item", ForeignKey, _foreign(HandoverItem)),
    ("token_sha256", Varchar, _params(length=64, default="", unique=True)),
    ("expires_at", Timestamptz, _params(default=TimestamptzNow())),
    ("created_by", Integer, _params(default=None, null=True)),
    ("created_by_email", Varchar, _params(length=320, default="")),
    ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ("opened_at", Timestamptz, _params(default=None, null=True)),
    ("used_at", Timestamptz, _params(default=None, null=True)),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)
    manager.add_table(
        class_name="AttestationLink",
        tablename="handover_attestation_link",
        schema=None,
        columns=None,
    )
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="AttestationLink",
            tablename="handover_attestation_link",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    # The order of a department's checklist templates (0 for those made before: by id, as before).
    manager.add_column(
        table_class_name="HandoverTemplate",
        tablename="handover_template",
        column_name="position",
        db_column_name="position",
        column_class_name="Integer",
        column_class=Integer,
        params=_params(default=0),
        schema=None,
    )
    return manager
