"""Indexes of the accounts app that Piccolo columns cannot declare (applied by migrations).

Connection search: a contentless FTS5 table with the trigram tokenizer on SQLite, and on
PostgreSQL a side table with a pg_trgm GIN index (when the extension can be created). Both are
filled after an import commits (accounts.connections.index_pending), because maintaining a
trigram index row by row inside the import costs more than the whole import is allowed.
"""

from __future__ import annotations

INDEXES = [
    'CREATE UNIQUE INDEX IF NOT EXISTS social_account_platform_handle ON "social_account" ("platform", "handle")',
    'CREATE INDEX IF NOT EXISTS social_account_status_platform ON "social_account" ("status", "platform", "id")',
    'CREATE INDEX IF NOT EXISTS social_account_department ON "social_account" ("department", "id")',
    'CREATE INDEX IF NOT EXISTS social_account_custodian ON "social_account" ("custodian")',
    'CREATE INDEX IF NOT EXISTS social_account_backup ON "social_account" ("backup_custodian")',
    'CREATE INDEX IF NOT EXISTS social_account_mfa_holder ON "social_account" ("mfa_holder")',
    'CREATE INDEX IF NOT EXISTS access_grant_account_active ON "access_grant" ("account", "revoked_at")',
    'CREATE INDEX IF NOT EXISTS access_grant_employee_active ON "access_grant" ("employee", "revoked_at")',
    'CREATE INDEX IF NOT EXISTS custody_transfer_account_state ON "custody_transfer" ("account", "state")',
    'CREATE INDEX IF NOT EXISTS credential_key_version ON "credential" ("key_version")',
    'CREATE INDEX IF NOT EXISTS recertification_account ON "recertification" ("account", "confirmed_at")',
]

CONNECTION_INDEXES = [
    # One row per person per owner; also finds a person across owners (subject access, erasure).
    'CREATE UNIQUE INDEX IF NOT EXISTS connection_url_owner ON "connection" ("profile_url", "owner") '
    "WHERE \"profile_url\" <> ''",
    'CREATE INDEX IF NOT EXISTS connection_email ON "connection" ("email") WHERE "email" <> \'\'',
    'CREATE INDEX IF NOT EXISTS connection_owner_name ON "connection" ("owner", "last_name", "first_name", "id")',
    'CREATE INDEX IF NOT EXISTS connection_import_employee ON "connection_import" ("employee", "id")',
]

SQLITE_SEARCH = [
    # Contentless: the index holds trigrams, not a second copy of the names.
    "CREATE VIRTUAL TABLE IF NOT EXISTS connection_fts USING fts5(text, content='', tokenize='trigram')",
]

POSTGRES_SEARCH = [
    'CREATE TABLE IF NOT EXISTS "connection_search" ('
    '"id" integer PRIMARY KEY REFERENCES "connection" ("id") ON DELETE CASCADE, "text" text NOT NULL)',
    # pg_trgm is optional: without it the search still answers, by scanning.
    "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; "
    "EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'pg_trgm not available: connection search scans'; END $$",
    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN "
    'EXECUTE \'CREATE INDEX IF NOT EXISTS connection_search_trgm ON "connection_search" '
    'USING gin ("text" gin_trgm_ops)\'; END IF; END $$',
]


def account_statements(engine_type: str) -> list[str]:
    """The account register's statements (migration accounts_0002)."""
    return list(INDEXES)


def connection_statements(engine_type: str) -> list[str]:
    """The connections' indexes and search structures (migration accounts_0003)."""
    search = POSTGRES_SEARCH if engine_type == "postgres" else SQLITE_SEARCH
    return [*CONNECTION_INDEXES, *search]


HANDOVER_INDEXES = [
    # One live handover per leaver; completed and cancelled ones stay as history.
    'CREATE UNIQUE INDEX IF NOT EXISTS handover_one_live ON "handover" ("employee") '
    "WHERE \"state\" IN ('draft', 'open', 'awaiting_sign_off')",
    'CREATE INDEX IF NOT EXISTS handover_employee ON "handover" ("employee", "id")',
    'CREATE INDEX IF NOT EXISTS handover_state_leaving ON "handover" ("state", "leaving_date", "id")',
    'CREATE INDEX IF NOT EXISTS handover_item_handover ON "handover_item" ("handover", "position", "id")',
    'CREATE INDEX IF NOT EXISTS handover_item_state_due ON "handover_item" ("state", "due_date")',
    'CREATE INDEX IF NOT EXISTS handover_item_target ON "handover_item" ("target_type", "target_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS handover_sign_off_team ON "handover_sign_off" ("handover", "team")',
    'CREATE UNIQUE INDEX IF NOT EXISTS handover_sign_off_user ON "handover_sign_off" ("handover", "user_id")',
    'CREATE INDEX IF NOT EXISTS handover_template_department ON "handover_template" ("department", "active")',
    'CREATE INDEX IF NOT EXISTS handover_document_item ON "handover_document" ("item")',
    # The leaver's footprint matches recovery e-mails.
    'CREATE INDEX IF NOT EXISTS social_account_recovery_email ON "social_account" ("recovery_email")',
]


def handover_statements(engine_type: str) -> list[str]:
    """The handovers' indexes (migration accounts_0004)."""
    return list(HANDOVER_INDEXES)


RISK_NOTICE_INDEXES = [
    # One open notice per account and kind: several workers' clocks insert it once.
    'CREATE UNIQUE INDEX IF NOT EXISTS risk_notice_open ON "risk_notice" ("account", "kind") '
    'WHERE "cleared_at" IS NULL',
    'CREATE INDEX IF NOT EXISTS risk_notice_first_seen ON "risk_notice" ("first_seen_at")',
]


def risk_notice_statements(engine_type: str) -> list[str]:
    """The risk notices' indexes (migration accounts_0008)."""
    return list(RISK_NOTICE_INDEXES)


def statements(engine_type: str) -> list[str]:
    """Every extra statement of the app, in migration order."""
    return [
        *account_statements(engine_type),
        *connection_statements(engine_type),
        *handover_statements(engine_type),
        *risk_notice_statements(engine_type),
    ]


def extra_tables(engine_type: str) -> set[str]:
    """Tables these statements create that no Piccolo table class declares (the search index)."""
    if engine_type == "postgres":
        return {"connection_search"}
    return {
        "connection_fts",
        *(f"connection_fts_{s}" for s in ("data", "idx", "docsize", "config")),
    }
