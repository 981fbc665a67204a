"""Tables of the connections kept as the employer's: imports, connections, erased subjects.

Connection search: a contentless FTS5 table with the trigram tokenizer on SQLite, and on
PostgreSQL a side table with a pg_trgm GIN index (when the extension can be created). Both are
filled after an import commits (accounts.connections.services index_pending), because
maintaining a trigram index row by row inside the import costs more than the whole import is
allowed.
"""

from __future__ import annotations

from piccolo.columns import (
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from accounts.connections.enums import ConnectionState, ExportLayout
from register.staff.tables import Employee


class ConnectionImport(Table, tablename="connection_import"):
    """One upload of an employee's LinkedIn Connections.csv: what it held and what it changed."""

    id = Serial(primary_key=True)
    employee = ForeignKey(
        Employee, null=False, on_delete=OnDelete.restrict, help_text="Whose export it was."
    )
    sha256 = Varchar(
        length=64, help_text="SHA-256 of the file; the same file again changes nothing."
    )
    filename = Varchar(length=255, default="")
    layout = Varchar(length=16, choices=ExportLayout, default=ExportLayout.with_url.value)
    rows = Integer(
        default=0,
        help_text="Connection rows in the file, merged duplicates and rejected lines too.",
    )
    added = Integer(default=0, help_text="New connections stored.")
    returned = Integer(default=0, help_text="Connections marked gone before, back on the profile.")
    unchanged = Integer(default=0, help_text="Connections already held.")
    gone = Integer(default=0, help_text="Held connections missing from this export.")
    before_employment = Integer(
        default=0, help_text="Connections made before the start date: the person's own, not stored."
    )
    after_employment = Integer(
        default=0, help_text="Connections made after the leaving date: not stored."
    )
    suppressed = Integer(default=0, help_text="Rows of people erased on request: not stored again.")
    duplicates_in_file = Integer(
        default=0, help_text="Rows of a person the file lists again: merged into their first row."
    )
    rejected_lines = Integer(
        default=0,
        help_text="Lines that could not be read: kept (ConnectionRejectedLine), not imported.",
    )
    imported_by = Integer(null=True, default=None, help_text="User id who uploaded it.")
    imported_at = Timestamptz()


class ConnectionRejectedLine(Table, tablename="connection_rejected_line"):
    """A line of an import's file that could not be read, kept so HR can see and fix it.

    Its cells are a connection's personal data as the file wrote them: subject access finds them,
    erasure deletes them, and the retention purge deletes them with the person's connections.
    """

    id = Serial(primary_key=True)
    source_import = ForeignKey(
        ConnectionImport,
        null=False,
        on_delete=OnDelete.cascade,
        index=True,
        help_text="The import whose file held the line.",
    )
    line = Integer(help_text="Where the row starts in the file (1 is the first line).")
    field = Varchar(length=32, default="", help_text="The first field found wrong.")
    reason = Text(default="", help_text="Every problem found with the line.")
    first_name = Text(default="", help_text="The cells as the file had them (cut at 1,000).")
    last_name = Text(default="")
    url = Text(default="")
    email = Text(default="")
    company = Text(default="")
    position = Text(default="")
    connected_on = Text(default="")
    match_url = Text(
        default="", help_text="The URL normalised, when it is a profile URL: for subject access."
    )
    match_email = Text(default="", help_text="The e-mail lower-cased: for subject access.")


class ConnectionSuppression(Table, tablename="connection_suppression"):
    """Someone erased on request, as a digest of their profile URL or e-mail, so a later
    export does not bring them back. The digest alone names no one in the register."""

    id = Serial(primary_key=True)
    digest = Varchar(
        length=64, unique=True, help_text="SHA-256 of 'url:<URL>' or 'email:<e-mail>'."
    )
    erased_at = Timestamptz()


class Connection(Table, tablename="connection"):
    """A LinkedIn connection made during employment, kept as the employer's: only the export's fields."""

    id = Serial(primary_key=True)
    owner = ForeignKey(
        Employee,
        null=False,
        on_delete=OnDelete.restrict,
        help_text="The employee whose profile holds the connection.",
    )
    first_name = Varchar(length=200, default="")
    last_name = Varchar(length=200, default="")
    profile_url = Varchar(
        length=500,
        default="",
        help_text="Normalised https://www.linkedin.com/in/<slug>; blank in the older layout.",
    )
    email = Varchar(length=320, default="", help_text="Lower-cased; most exports leave it blank.")
    company = Varchar(length=500, default="")
    position = Varchar(length=500, default="")
    connected_on = Date(help_text="LinkedIn's 'Connected On'; inside the employment window.")
    source_import = ForeignKey(
        ConnectionImport,
        null=False,
        on_delete=OnDelete.restrict,
        help_text="The import that first brought it in.",
    )
    state = Varchar(length=24, choices=ConnectionState, default=ConnectionState.held.value)
    gone_on = Date(
        null=True,
        default=None,
        help_text="Date of the first export it was missing from (gone from the profile); kept.",
    )
    state_changed_at = Timestamptz(null=True, default=None)


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


def statements(engine_type: str) -> list[str]:
    """The connections' indexes and search structures (migration accounts_0003)."""
    search = POSTGRES_SEARCH if engine_type == "postgres" else SQLITE_SEARCH
    return [*CONNECTION_INDEXES, *search]


def extra_tables(engine_type: str) -> set[str]:
    """Tables these statements create that no Piccolo table class declares (the search index)."""
    if engine_type == "postgres":
        return {"connection_search"}
    return {
        "connection_fts",
        *(f"connection_fts_{s}" for s in ("data", "idx", "docsize", "config")),
    }
