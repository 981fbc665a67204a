"""Schema the Piccolo table classes cannot declare: composite indexes and append-only triggers.

Applied by a migration; the schema test adds the same statements to what the tables declare.
"""

from __future__ import annotations

INDEXES = [
    'CREATE UNIQUE INDEX IF NOT EXISTS idempotency_record_scope_key ON "idempotency_record" ("scope", "key")',
    'CREATE INDEX IF NOT EXISTS employee_department_name ON "employee" ("department", "name", "id")',
    'CREATE INDEX IF NOT EXISTS employee_status_name ON "employee" ("status", "name", "id")',
    'CREATE INDEX IF NOT EXISTS employee_name_id ON "employee" ("name", "id")',
    'CREATE INDEX IF NOT EXISTS employee_manager ON "employee" ("manager")',
    'CREATE INDEX IF NOT EXISTS audit_event_action_object_at ON "audit_event" ("action", "object_id", "at")',
    'CREATE INDEX IF NOT EXISTS audit_event_action_client_at ON "audit_event" ("action", "client_address", "at")',
    'CREATE INDEX IF NOT EXISTS audit_event_object ON "audit_event" ("object_type", "object_id")',
    'CREATE INDEX IF NOT EXISTS audit_event_actor ON "audit_event" ("actor_id")',
    'CREATE INDEX IF NOT EXISTS audit_event_at ON "audit_event" ("at")',
    'CREATE INDEX IF NOT EXISTS audit_checkpoint_seq ON "audit_checkpoint" ("seq")',
    'CREATE INDEX IF NOT EXISTS api_token_user ON "api_token" ("user")',
    'CREATE INDEX IF NOT EXISTS user_session_user ON "user_session" ("user")',
]

APPEND_ONLY_TABLES = ("audit_event", "audit_checkpoint")

SQLITE_TRIGGERS = [
    stmt
    for table in APPEND_ONLY_TABLES
    for stmt in (
        f'CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON "{table}" '
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END",
        f'CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON "{table}" '
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END",
    )
]

POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION register_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$",
] + [
    stmt
    for table in APPEND_ONLY_TABLES
    for stmt in (
        f'DROP TRIGGER IF EXISTS {table}_append_only ON "{table}"',
        f'CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON "{table}" '
        "FOR EACH ROW EXECUTE FUNCTION register_append_only()",
        f'DROP TRIGGER IF EXISTS {table}_no_truncate ON "{table}"',
        f'CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON "{table}" '
        "FOR EACH STATEMENT EXECUTE FUNCTION register_append_only()",
    )
]


# The daily digest looks for today's digest every minute.
NOTIFICATION_INDEXES = [
    'CREATE INDEX IF NOT EXISTS outbox_message_type_created ON "outbox_message" ("event_type", "created_at")',
]


def core_statements(engine_type: str) -> list[str]:
    """Indexes and triggers of the core tables (migration register_0002)."""
    triggers = POSTGRES_TRIGGERS if engine_type == "postgres" else SQLITE_TRIGGERS
    return [*INDEXES, *triggers]


def notification_statements(engine_type: str) -> list[str]:
    """Indexes of the outbox (migration register_0004)."""
    return list(NOTIFICATION_INDEXES)


def statements(engine_type: str) -> list[str]:
    """The extra statements for one engine, in migration order."""
    return [*core_statements(engine_type), *notification_statements(engine_type)]


def app_statements(engine_type: str) -> list[str]:
    """The extra statements of every registered app (each app's `ddl` module, if it has one)."""
    import importlib

    from piccolo.conf.apps import Finder

    out: list[str] = []
    for app_config in Finder().get_app_registry().app_configs.values():
        name = "register" if app_config.app_name == "register" else app_config.app_name
        try:
            module = importlib.import_module(f"{name}.ddl")
        except ModuleNotFoundError:
            continue
        out.extend(module.statements(engine_type))
    return out
