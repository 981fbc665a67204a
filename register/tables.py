"""Tables of the core: who signs in, the audit trail, idempotency; and their extra schema.

Piccolo cannot declare composite indexes or the triggers that make the audit trail append-only;
INDEXES and the triggers are applied by a migration, and the schema test adds them to what the
tables declare.
"""

from __future__ import annotations

from piccolo.columns import JSON, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.reference import LazyTableReference
from piccolo.table import Table

from register.enums import Role


class User(Table, tablename="register_user"):
    """Someone who signs in to the register, with one role."""

    id = Serial(primary_key=True)
    email = Varchar(length=320, unique=True, help_text="Lower-cased sign-in e-mail.")
    name = Varchar(length=200, default="")
    role = Varchar(
        length=16, choices=Role, help_text="Decides what the user may do; see register/access.py."
    )
    active = Boolean(
        default=True,
        help_text="Inactive users cannot sign in; their sessions and tokens stop at once.",
    )
    employee = ForeignKey(
        # By name: the staff directory is a part, and the core imports no part.
        LazyTableReference("Employee", module_path="register.staff.tables"),
        null=True,
        default=None,
        on_delete=OnDelete.set_null,
        help_text="The staff record of this user, if any.",
    )
    password_hash = Varchar(
        length=200,
        null=True,
        default=None,
        secret=True,
        help_text="PBKDF2-SHA256; null: no password sign-in.",
    )
    must_change_password = Boolean(
        default=False,
        help_text="Set for one-time passwords; only a password change is allowed until cleared.",
    )
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    language = Varchar(
        length=8,
        null=True,
        default=None,
        help_text="The language of the pages (en, nl); null: as the browser asks.",
    )
    time_zone = Varchar(
        length=64,
        null=True,
        default=None,
        help_text="IANA time zone the pages show times in; null: UTC.",
    )
    # Company sign-in: who this user is at the identity provider, found by (issuer, subject);
    # null for password-only users.
    oidc_issuer = Varchar(
        length=500, null=True, default=None, help_text="The identity provider's issuer URL."
    )
    oidc_subject = Varchar(
        length=255,
        null=True,
        default=None,
        index=True,
        help_text="The person's subject (sub) at that issuer.",
    )


class ApiToken(Table, tablename="api_token"):
    """A bearer token for scripts; only its SHA-256 is kept."""

    id = Serial(primary_key=True)
    user = ForeignKey(
        User, null=False, on_delete=OnDelete.restrict, help_text="Whose rights the token carries."
    )
    name = Varchar(
        length=120, default="", help_text="What the token is for, to recognise it later."
    )
    token_hash = Varchar(
        length=64,
        unique=True,
        secret=True,
        help_text="SHA-256 hex of the token; the token itself is shown once.",
    )
    prefix = Varchar(length=16, help_text="First characters of the token, to tell tokens apart.")
    created_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class UserSession(Table, tablename="user_session"):
    """A browser session; the cookie holds a random id whose SHA-256 is kept here."""

    id = Serial(primary_key=True)
    user = ForeignKey(User, null=False, on_delete=OnDelete.restrict)
    session_hash = Varchar(length=64, unique=True, secret=True)
    csrf_token = Varchar(
        length=64,
        secret=True,
        help_text="Must come back in X-CSRF-Token on state-changing requests.",
    )
    created_at = Timestamptz()
    expires_at = Timestamptz()
    ended_at = Timestamptz(null=True, default=None)
    client_address = Varchar(length=64, default="")
    id_token = Text(
        null=True,
        default=None,
        secret=True,
        help_text="The provider's ID token of a company sign-in: the hint its sign-out asks for.",
    )


class AuditEvent(Table, tablename="audit_event"):
    """One entry of the append-only audit trail, hash-chained to the one before."""

    id = Serial(primary_key=True)
    seq = Integer(
        unique=True,
        help_text="Position in the chain, contiguous from 1; a gap means a deleted event.",
    )
    at = Timestamptz(help_text="UTC time of the event.")
    actor_id = Integer(
        null=True, default=None, help_text="User id, or null for the system and anonymous callers."
    )
    actor = Varchar(length=320, default="", help_text="E-mail or label of the actor at the time.")
    action = Varchar(
        length=80, help_text="What happened, e.g. employee.update or auth.login_failed."
    )
    object_type = Varchar(length=80, default="")
    object_id = Varchar(length=320, default="")
    changes = JSON(
        default="{}", help_text="Changed fields as {field: [old, new]}; secret values never appear."
    )
    request_id = Varchar(length=64, default="")
    client_address = Varchar(length=64, default="")
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64, help_text="SHA-256 over prev_hash and this event's canonical JSON.")
    mac = Varchar(
        length=64,
        null=True,
        default=None,
        help_text="HMAC-SHA-256 of `hash` under a key kept outside the database (derived from "
        "the secret key file); null only on events written before the trail was keyed.",
    )


class AuditCheckpoint(Table, tablename="audit_checkpoint"):
    """A signed statement that the chain up to `seq` ends in `hash`."""

    id = Serial(primary_key=True)
    seq = Integer(help_text="The last event covered.")
    hash = Varchar(length=64)
    signed_at = Timestamptz()
    key_id = Varchar(length=64, help_text="Fingerprint of the Ed25519 public key that signed.")
    signature = Text(help_text="Base64 Ed25519 signature over the checkpoint's canonical JSON.")


class IdempotencyRecord(Table, tablename="idempotency_record"):
    """The first answer to a creating POST with an Idempotency-Key, replayed on retry."""

    id = Serial(primary_key=True)
    scope = Varchar(
        length=64, help_text="Who sent it (user id), so keys of different users never collide."
    )
    key = Varchar(length=200)
    request_hash = Varchar(length=64, help_text="SHA-256 of method, path and body.")
    status_code = Integer()
    content_type = Varchar(length=120, default="application/json")
    body = Text(default="")
    created_at = Timestamptz()


INDEXES = [
    'CREATE UNIQUE INDEX IF NOT EXISTS idempotency_record_scope_key ON "idempotency_record" ("scope", "key")',
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


def statements(engine_type: str) -> list[str]:
    """Indexes and triggers of the core tables (migration register_0002, with the directory's)."""
    triggers = POSTGRES_TRIGGERS if engine_type == "postgres" else SQLITE_TRIGGERS
    return [*INDEXES, *triggers]


__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEvent",
    "IdempotencyRecord",
    "User",
    "UserSession",
]
