"""The register of LinkedIn connections: lists, search, successor export, states, privacy, retention.

Search is a case-insensitive substring match of every word of the query in the connection's
names, company and position (or every word in the owner's name), newest first. It is served by a
trigram index filled after each import commits (`index_pending`): FTS5 on SQLite, pg_trgm on
PostgreSQL. Rows not yet indexed (the tail above the index's highest id) are scanned, so a search
right after an import already finds them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from contextlib import nullcontext
from typing import Any

from accounts.connections.enums import ConnectionState
from accounts.connections.files import (
    COLUMN_NAMES,
    import_out,
    normalise_profile_url,
    subject_digests,
)
from register import audit
from register.access import refuse
from register.actor import Actor
from register.checks import EMAIL_RE
from register.db import fetch, get_engine, is_postgres, now, offloaded, write_transaction
from register.enums import Role
from register.errors import Conflict, InvalidInput, NotFound
from register.extensions import extensions
from register.queries import glob_pattern, like_pattern, page, page_bounds
from register.settings import Settings
from register.staff.services import employees_by_id, get_employee, ids_named, left_before

CONNECTION_COLUMNS = (
    'c."id", c."owner" AS "employee_id", c."first_name", c."last_name", c."profile_url", '
    'c."email", c."company", c."position", c."connected_on", c."source_import" AS "import_id", '
    'c."state", c."gone_on", c."state_changed_at"'
)
# The text the trigram index holds for a connection; the tail scan matches the same text.
SEARCH_TEXT = (
    """(c."first_name" || ' ' || c."last_name" || ' ' || c."company" || ' ' || c."position")"""
)
LINKEDIN_HEADER = [
    "First Name",
    "Last Name",
    "URL",
    "Email Address",
    "Company",
    "Position",
    "Connected On",
]
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
INDEX_BATCH = 5000
# Rows indexed in one run after which PostgreSQL's statistics of the search table are refreshed.
ANALYZE_AFTER = 10_000
# Where a state may be set from: held -> exported to the successor -> deletion attested.
STATE_FROM = {
    ConnectionState.exported_to_successor: (ConnectionState.held,),
    ConnectionState.deletion_attested: (
        ConnectionState.held,
        ConnectionState.exported_to_successor,
    ),
}
PERSONAL_FIELDS = ("first_name", "last_name", "profile_url", "email", "company", "position")


def linkedin_date(value: dt.date) -> str:
    """A date as LinkedIn writes it ("07 Dec 2025"), whatever the locale."""
    return f"{value.day:02d} {MONTH_NAMES[value.month - 1]} {value.year}"


async def check_reader(*, actor: Actor, employee_id: int) -> None:
    """HR and admins read anyone's connections; any other user only their own employee's."""
    if actor.role in (Role.admin, Role.hr):
        return
    if actor.employee_id is not None and actor.employee_id == employee_id:
        return
    raise await refuse(
        actor,
        "connection.own",
        "employee",
        employee_id,
        "only HR, admins and the employee themselves may read these connections",
    )


class _Where:
    """WHERE fragments with $n placeholders numbered as they are added."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []

    def add(self, fragment: str, *values: Any) -> None:
        for value in values:
            self.args.append(value)
            fragment = fragment.replace("?", f"${len(self.args)}", 1)
        self.parts.append(fragment)

    def sql(self, joiner: str = " WHERE ") -> str:
        return (joiner + " AND ".join(self.parts)) if self.parts else ""


async def list_for_employee(
    *,
    actor: Actor,
    employee_id: int,
    limit: int,
    offset: int,
    state: ConnectionState | None = None,
    gone: bool | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """One employee's connections by last and first name (the employee may read their own)."""
    limit, offset = page_bounds(limit, offset)
    # Existence first: every role may see who is in the staff directory, not whose connections.
    await get_employee(employee_id=employee_id)
    await check_reader(actor=actor, employee_id=employee_id)
    where = _Where()
    where.add('c."owner" = ?', employee_id)
    if state is not None:
        where.add('c."state" = ?', state.value)
    if gone is not None:
        where.add('c."gone_on" IS NOT NULL' if gone else 'c."gone_on" IS NULL')
    rows = await fetch(
        f'SELECT {CONNECTION_COLUMNS} FROM "connection" c{where.sql()} '
        f'ORDER BY c."last_name", c."first_name", c."id" LIMIT {limit + 1} OFFSET {offset}',
        *where.args,
    )
    return page(rows, limit, offset)


def _pg_literal(text: str) -> str:
    """A PostgreSQL string literal (E'' form, so it reads the same whatever the server settings).

    Search patterns are written into the SQL rather than bound: a prepared statement run often
    gets a generic plan, and a generic plan for `ILIKE $1` cannot know whether the trigram index
    or the newest-first walk is right, so it picks one for every word and is badly wrong for some.
    """
    if "\x00" in text:
        raise InvalidInput("q must not contain NUL characters", field="q")
    return "E'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _text_match(where: _Where, words: list[str], text: str, columns: tuple[str, ...]) -> None:
    """Every word somewhere in the text (PostgreSQL ILIKE) or in one of the columns (SQLite GLOB)."""
    for word in words:
        if is_postgres():
            where.add(f"{text} ILIKE ?", like_pattern(word))
        else:
            where.add(
                "(" + " OR ".join(f"{c} GLOB ?" for c in columns) + ")",
                *[glob_pattern(word)] * len(columns),
            )


_COLUMNS_SQLITE = ('c."first_name"', 'c."last_name"', 'c."company"', 'c."position"')


async def _watermark() -> int:
    """The highest connection id in the search index: rows above it are not indexed yet."""
    rows = await fetch(f"SELECT {_watermark_sql()} AS n")
    return int(rows[0]["n"])


def _watermark_sql() -> str:
    if is_postgres():
        return '(SELECT COALESCE(MAX("id"), 0) FROM "connection_search")'
    # FTS5 walks its rowids backwards without a scan; MAX(rowid) would read them all.
    return "COALESCE((SELECT rowid FROM connection_fts ORDER BY rowid DESC LIMIT 1), 0)"


def _fts_query(words: list[str]) -> str:
    """Each word as an FTS5 string: inside double quotes only the quote, doubled, is syntax."""
    return " AND ".join('"' + w.replace('"', '""') + '"' for w in words)


# PostgreSQL: how many of the newest indexed rows a search reads in order before asking the index.
RECENT_WINDOW = 10_000


async def _pg_indexed(
    filters: Any, words: list[str], mark: int, want: int
) -> list[list[dict[str, Any]]]:
    """Indexed matches on PostgreSQL: the newest rows in order first, then the trigram index.

    The planner multiplies the words' selectivities as if they were independent, so for words
    that come together ("van der berg") it expects a few hundred rows, reads tens of thousands
    through the index and sorts them. A common search is answered from the newest rows alone;
    only what is rarer goes to the index, where a bitmap over few rows is cheap.
    """

    def query(bound: str, text: str) -> tuple[str, list[Any]]:
        where = filters()
        for word in words:
            where.add(f"{text} ILIKE {_pg_literal(like_pattern(word))}")
        where.add(bound.replace("?", str(int(max(mark - RECENT_WINDOW, 0)))))
        return (
            f'SELECT {CONNECTION_COLUMNS} FROM "connection_search" s '
            f'JOIN "connection" c ON c."id" = s."id"{where.sql()} '
            f'ORDER BY s."id" DESC LIMIT {want}',
            where.args,
        )

    # `|| ''` hides the column from the trigram index: the newest rows are read in id order
    # (a bounded walk), never through a bitmap of every match in the register.
    sql, args = query('s."id" > ?', """(s."text" || '')""")
    recent = await fetch(sql, *args)
    if len(recent) >= want:
        return [recent]
    sql, args = query('s."id" <= ?', 's."text"')
    return [recent, await fetch(sql, *args)]


MAX_SEARCH_OFFSET = 10_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


async def search(
    *,
    limit: int,
    offset: int,
    q: str | None = None,
    employee_id: int | None = None,
    state: ConnectionState | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Connections across the register, newest first, searched and filtered."""
    limit, offset = page_bounds(limit, offset)
    if q and _CONTROL.search(q):
        # A NUL ends SQLite's full-text query inside its quotes (a 500), and PostgreSQL text
        # cannot hold one; no control character belongs in a search.
        raise InvalidInput("q must not contain control characters", field="q")
    words = (q or "").split()[:8]
    if words and offset > MAX_SEARCH_OFFSET:
        # A search merges its sources in memory up to offset + limit; past this, narrow it.
        raise InvalidInput(
            f"a search pages at most {MAX_SEARCH_OFFSET:,} rows deep; add words or filters",
            field="offset",
        )
    want = offset + limit + 1

    def filters() -> _Where:
        where = _Where()
        if employee_id is not None:
            where.add('c."owner" = ?', employee_id)
        if state is not None:
            where.add('c."state" = ?', state.value)
        return where

    if not words:
        where = filters()
        rows = await fetch(
            f'SELECT {CONNECTION_COLUMNS} FROM "connection" c{where.sql()} '
            f'ORDER BY c."id" DESC LIMIT {limit + 1} OFFSET {offset}',
            *where.args,
        )
        return page(rows, limit, offset)

    sources: list[list[dict[str, Any]]] = []
    long_words = [w for w in words if len(w) >= 3]
    indexed = is_postgres() or bool(long_words)
    # 1. Indexed rows: the trigram index finds them; words under three letters filter after.
    if is_postgres():
        mark = await _watermark()
        sources += await _pg_indexed(filters, words, mark, want)
    elif indexed:
        where = filters()
        where.add("connection_fts MATCH ?", _fts_query(long_words))
        _text_match(where, [w for w in words if len(w) < 3], "", _COLUMNS_SQLITE)
        sources.append(
            await fetch(
                f"SELECT {CONNECTION_COLUMNS} FROM connection_fts "
                f'JOIN "connection" c ON c."id" = connection_fts.rowid{where.sql()} '
                f"ORDER BY connection_fts.rowid DESC LIMIT {want}",
                *where.args,
            )
        )
    # 2. Rows above the index's highest id, not indexed yet, are scanned; with only short words
    # the index cannot help, so every row is scanned (newest first, so a common word stops soon).
    where = filters()
    if is_postgres():
        where.add(f'c."id" > {int(mark)}')
        for word in words:
            where.add(f"{SEARCH_TEXT} ILIKE {_pg_literal(like_pattern(word))}")
    else:
        if indexed:
            where.add(f'c."id" > {_watermark_sql()}')
        _text_match(where, words, SEARCH_TEXT, _COLUMNS_SQLITE)
    with nullcontext() if indexed else offloaded():
        sources.append(
            await fetch(
                f'SELECT {CONNECTION_COLUMNS} FROM "connection" c{where.sql()} '
                f'ORDER BY c."id" DESC LIMIT {want}',
                *where.args,
            )
        )
    # 3. Connections of the employees whose name holds every word (the first 101 such people: a
    # fragment that names more is not a search for an owner). The owners are found first: as a
    # subquery the planner would walk the whole table newest first looking for their rows.
    owners = await ids_named(words, 101)
    if employee_id is not None:
        owners = [o for o in owners if o == employee_id]
    if owners:
        where = filters()
        where.add(f'c."owner" IN ({", ".join("?" for _ in owners)})', *owners)
        # The ids come from the owner index alone and are sorted ("+ 0" keeps the planner from
        # walking every row newest first until the owners' turn up); only the page is read whole.
        sources.append(
            await fetch(
                f'SELECT {CONNECTION_COLUMNS} FROM "connection" c WHERE c."id" IN '
                f'(SELECT c."id" FROM "connection" c{where.sql()} '
                f'ORDER BY c."id" + 0 DESC LIMIT {want})',
                *where.args,
            )
        )
    merged: dict[int, dict[str, Any]] = {}
    for rows in sources:
        for row in rows:
            merged.setdefault(row["id"], row)
    ordered = sorted(merged.values(), key=lambda r: r["id"], reverse=True)
    return page(ordered[offset : offset + limit + 1], limit, offset)


async def index_pending(batch: int = INDEX_BATCH) -> int:
    """Add connections committed since the last run to the search index; returns how many."""
    total = 0
    while True:
        async with write_transaction():
            mark = await _watermark()
            rows = await fetch(
                f'SELECT c."id", {SEARCH_TEXT} AS "text" FROM "connection" c '
                f"""WHERE c."id" > $1 AND c."state" <> 'erased' ORDER BY c."id" LIMIT {batch}""",
                mark,
            )
            if rows:
                values = [(r["id"], r["text"]) for r in rows]
                if is_postgres():
                    await fetch(
                        'INSERT INTO "connection_search" ("id", "text") '
                        "SELECT * FROM unnest($1::int[], $2::text[]) ON CONFLICT DO NOTHING",
                        [v[0] for v in values],
                        [v[1] for v in values],
                    )
                else:
                    await get_engine().executemany(
                        "INSERT INTO connection_fts (rowid, text) VALUES (?, ?)", values
                    )
        total += len(rows)
        if len(rows) < batch:
            break
    if total and is_postgres():
        # GIN queues new entries in a pending list that every search reads through; merge it
        # now (off the request) rather than leave it to autovacuum, and refresh the statistics.
        await fetch(
            "SELECT gin_clean_pending_list(i) FROM to_regclass('connection_search_trgm') i "
            "WHERE i IS NOT NULL"
        )
        if total >= ANALYZE_AFTER:
            await get_engine().run_ddl('ANALYZE "connection_search"')
    return total


async def _unindex(rows: list[dict[str, Any]]) -> None:
    """Take connections out of the search index (erasure, purge), in the caller's transaction."""
    if not rows:
        return
    if is_postgres():
        await fetch(
            'DELETE FROM "connection_search" WHERE "id" = ANY($1::int[])', [r["id"] for r in rows]
        )
        return
    mark = await _watermark()
    # A contentless FTS5 index forgets a row only when told the text it indexed; rows above the
    # watermark and rows erased before indexing were never in it.
    indexed = [r for r in rows if r["id"] <= mark and r["state"] != ConnectionState.erased.value]
    if indexed:
        await get_engine().executemany(
            "INSERT INTO connection_fts (connection_fts, rowid, text) VALUES ('delete', ?, ?)",
            [
                (
                    r["id"],
                    f"{r['first_name']} {r['last_name']} {r['company']} {r['position']}",
                )
                for r in indexed
            ],
        )


async def export_csv(*, actor: Actor, employee_id: int) -> str:
    """The employee's employer-owned connections in LinkedIn's own columns, for a successor."""
    person = await get_employee(employee_id=employee_id)
    rows = await fetch(
        'SELECT "first_name", "last_name", "profile_url", "email", "company", "position", '
        """"connected_on" FROM "connection" WHERE "owner" = $1 AND "state" <> 'erased' """
        'ORDER BY "last_name", "first_name", "id"',
        employee_id,
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LINKEDIN_HEADER)
    writer.writerows(
        (
            r["first_name"],
            r["last_name"],
            r["profile_url"],
            r["email"],
            r["company"],
            r["position"],
            linkedin_date(r["connected_on"]),
        )
        for r in rows
    )
    async with write_transaction():
        await audit.record(
            actor,
            "connection.export",
            "employee",
            person["id"],
            {"connections": len(rows)},
        )
    return out.getvalue()


async def rejected_lines_csv(*, actor: Actor, employee_id: int, import_id: int) -> str:
    """The lines of one import's file that could not be read, with why, in LinkedIn's columns."""
    await get_employee(employee_id=employee_id)
    found = await fetch(
        'SELECT "id" FROM "connection_import" WHERE "id" = $1 AND "employee" = $2',
        import_id,
        employee_id,
    )
    if not found:
        raise NotFound(f"employee {employee_id} has no connections import {import_id}")
    rows = await fetch(
        'SELECT "line", "field", "reason", "first_name", "last_name", "url", "email", "company", '
        '"position", "connected_on" FROM "connection_rejected_line" WHERE "source_import" = $1 '
        'ORDER BY "line", "id"',
        import_id,
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Line", "Column", "Problem", *LINKEDIN_HEADER])
    writer.writerows(
        (
            r["line"],
            COLUMN_NAMES.get(r["field"], ""),
            r["reason"],
            r["first_name"],
            r["last_name"],
            r["url"],
            r["email"],
            r["company"],
            r["position"],
            r["connected_on"],
        )
        for r in rows
    )
    async with write_transaction():
        # Like the successor export: who took the names out, and how many lines.
        await audit.record(
            actor,
            "connection.export_rejected",
            "connection_import",
            import_id,
            {"employee_id": employee_id, "lines": len(rows)},
        )
    return out.getvalue()


async def set_state(
    *, actor: Actor, employee_id: int, state: ConnectionState, note: str = ""
) -> dict[str, Any]:
    """Move an employee's connections on (exported to the successor, deletion attested)."""
    if state not in STATE_FROM:
        raise InvalidInput(
            "state must be exported_to_successor or deletion_attested", field="state"
        )
    sources = [s.value for s in STATE_FROM[state]]
    async with write_transaction():
        await audit.lock_chain()
        await get_employee(employee_id=employee_id)
        marks = ", ".join(f"${i + 4}" for i in range(len(sources)))
        changed = await fetch(
            'UPDATE "connection" SET "state" = $1, "state_changed_at" = $2 '
            f'WHERE "owner" = $3 AND "state" IN ({marks}) RETURNING "id"',
            state.value,
            now(),
            employee_id,
            *sources,
        )
        if not changed:
            raise Conflict(
                f"employee {employee_id} has no connections in state {' or '.join(sources)}"
            )
        await audit.record(
            actor,
            "connection.state",
            "employee",
            employee_id,
            {"state": [None, state.value], "connections": len(changed), "note": note},
        )
    return {"employee_id": employee_id, "state": state.value, "changed": len(changed)}


async def list_imports(
    *, employee_id: int, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int | None]:
    """An employee's imports, newest first: file metadata and counts."""
    limit, offset = page_bounds(limit, offset)
    await get_employee(employee_id=employee_id)
    rows = await fetch(
        'SELECT * FROM "connection_import" WHERE "employee" = $1 ORDER BY "id" DESC '
        f"LIMIT {limit + 1} OFFSET {offset}",
        employee_id,
    )
    items, next_offset = page(rows, limit, offset)
    return [import_out(r) for r in items], next_offset


async def summary(*, limit: int, offset: int) -> dict[str, Any]:
    """Counts per employee and state, and totals: what auditors may see (no names of connections)."""
    limit, offset = page_bounds(limit, offset)
    with offloaded():
        counts = await fetch(
            'SELECT "owner", "state", COUNT(*) AS n, '
            'SUM(CASE WHEN "gone_on" IS NULL THEN 0 ELSE 1 END) AS gone '
            'FROM "connection" GROUP BY "owner", "state"'
        )
    by_owner: dict[int, dict[str, Any]] = {}
    totals = {s.value: 0 for s in ConnectionState}
    for r in counts:
        entry = by_owner.setdefault(
            r["owner"], {"states": {s.value: 0 for s in ConnectionState}, "gone": 0}
        )
        entry["states"][r["state"]] = int(r["n"])
        entry["gone"] += int(r["gone"] or 0)
        totals[r["state"]] += int(r["n"])
    owners = sorted(by_owner)
    chosen = owners[offset : offset + limit + 1]
    people: dict[int, dict[str, Any]] = {}
    imports: dict[int, dict[str, Any]] = {}
    if chosen:
        marks = ", ".join(f"${i + 1}" for i in range(len(chosen)))
        people = await employees_by_id(chosen)
        for r in await fetch(
            'SELECT "employee", COUNT(*) AS n, MAX("imported_at") AS last_at '
            f'FROM "connection_import" WHERE "employee" IN ({marks}) GROUP BY "employee"',
            *chosen,
        ):
            imports[r["employee"]] = r
    items = [
        {
            "employee_id": owner,
            "employee_name": people.get(owner, {}).get("name", ""),
            "employee_status": people.get(owner, {}).get("status", ""),
            "states": by_owner[owner]["states"],
            "gone": by_owner[owner]["gone"],
            "imports": int(imports.get(owner, {}).get("n", 0)),
            "last_import_at": _moment(imports.get(owner, {}).get("last_at")),
        }
        for owner in chosen
    ]
    items, next_offset = page(items, limit, offset)
    return {
        "totals": totals,
        "employees": len(owners),
        "items": items,
        "limit": limit,
        "offset": offset,
        "next_offset": next_offset,
    }


def _moment(value: Any) -> dt.datetime | None:
    # MAX() over a timestamp loses its declared type on SQLite and comes back as text.
    if value is None or isinstance(value, dt.datetime):
        return value
    moment = dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _subject(profile_url: str | None, email: str | None) -> tuple[str, str]:
    """The person asked about, normalised: (profile URL, e-mail); at least one is given."""
    url = (profile_url or "").strip()
    mail = (email or "").strip().lower()
    if not url and not mail:
        raise InvalidInput("give the person's profile_url or email", field="profile_url")
    if url:
        try:
            url = normalise_profile_url(url)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="profile_url") from exc
    if mail and not EMAIL_RE.match(mail):
        raise InvalidInput(f"'{email}' is not an e-mail address", field="email")
    return url, mail


async def _subject_rows(url: str, mail: str) -> list[dict[str, Any]]:
    where, args = [], []
    if url:
        args.append(url)
        where.append(f'c."profile_url" = ${len(args)}')
    if mail:
        args.append(mail)
        where.append(f'c."email" = ${len(args)}')
    rows = await fetch(
        f"SELECT {CONNECTION_COLUMNS}, "
        'i."filename" AS "import_filename", i."imported_at" AS "import_imported_at" '
        'FROM "connection" c JOIN "connection_import" i ON i."id" = c."source_import" '
        f'WHERE ({" OR ".join(where)}) ORDER BY c."id"',
        *args,
    )
    owners = await employees_by_id(r["employee_id"] for r in rows)
    for r in rows:
        r["owner_name"] = owners[r["employee_id"]]["name"]
        r["owner_email"] = owners[r["employee_id"]]["work_email"]
    return rows


def _rejected_where(url: str, mail: str, alias: str = "") -> tuple[str, list[Any]]:
    """Condition on rejected lines about the person (their URL or e-mail as the import read it)."""
    column = f"{alias}." if alias else ""
    where, args = [], []
    if url:
        args.append(url)
        where.append(f'{column}"match_url" = ${len(args)}')
    if mail:
        args.append(mail)
        where.append(f'{column}"match_email" = ${len(args)}')
    return "(" + " OR ".join(where) + ")", args


async def _subject_rejected_lines(url: str, mail: str) -> list[dict[str, Any]]:
    where, args = _rejected_where(url, mail, "r")
    return await fetch(
        'SELECT r."source_import" AS "import_id", i."employee" AS "employee_id", r."line", '
        'r."reason", r."first_name", r."last_name", r."url", r."email", r."company", '
        'r."position", r."connected_on" FROM "connection_rejected_line" r '
        'JOIN "connection_import" i ON i."id" = r."source_import" '
        f'WHERE {where} ORDER BY r."id"',
        *args,
    )


async def subject_access(
    *, actor: Actor, profile_url: str | None = None, email: str | None = None
) -> dict[str, Any]:
    """Everything the register holds about one person, found by profile URL or e-mail."""
    url, mail = _subject(profile_url, email)
    rows = await _subject_rows(url, mail)
    rejected = await _subject_rejected_lines(url, mail)
    async with write_transaction():
        # That a request was answered, and how much it found; never who it was about.
        await audit.record(
            actor,
            "connection.subject_access",
            "subject",
            "",
            {"connections": len(rows), "rejected_lines": len(rejected)},
        )
    return {
        "rejected_lines": rejected,
        "profile_url": url,
        "email": mail,
        "count": len(rows),
        "connections": [
            {
                **{k: r[k] for k in r if not k.startswith(("owner_", "import_"))},
                "import_id": r["import_id"],
                "owner": {
                    "employee_id": r["employee_id"],
                    "name": r["owner_name"],
                    "work_email": r["owner_email"],
                },
                "import": {
                    "id": r["import_id"],
                    "filename": r["import_filename"],
                    "imported_at": r["import_imported_at"],
                },
            }
            for r in rows
        ],
        "generated_at": now(),
    }


async def erase(
    *, actor: Actor, profile_url: str | None = None, email: str | None = None
) -> dict[str, Any]:
    """Erase one person everywhere: their fields are blanked, the search index forgets them.

    A blanked row stays (state erased, no personal field) so an import's counts still add up.
    The audit trail records that an erasure happened and how many rows, never the values.
    """
    url, mail = _subject(profile_url, email)
    async with write_transaction():
        await audit.lock_chain()
        rows = [
            r for r in await _subject_rows(url, mail) if r["state"] != ConnectionState.erased.value
        ]
        await _unindex(rows)
        # Remember the person (as digests only) so no later export brings them back.
        digests = subject_digests(url, mail)
        for r in rows:
            digests |= subject_digests(r["profile_url"], r["email"])
        for digest in sorted(digests):
            await fetch(
                'INSERT INTO "connection_suppression" ("digest", "erased_at") VALUES ($1, $2) '
                'ON CONFLICT ("digest") DO NOTHING',
                digest,
                now(),
            )
        ids = [r["id"] for r in rows]
        if ids:
            stamp = now()
            blank = ", ".join(f"\"{f}\" = ''" for f in PERSONAL_FIELDS)
            if is_postgres():
                await fetch(
                    f'UPDATE "connection" SET {blank}, "state" = $2, "state_changed_at" = $3 '
                    'WHERE "id" = ANY($1::int[])',
                    ids,
                    ConnectionState.erased.value,
                    stamp,
                )
            else:
                await fetch(
                    f'UPDATE "connection" SET {blank}, "state" = $2, "state_changed_at" = $3 '
                    'WHERE "id" IN (SELECT value FROM json_each($1))',
                    json.dumps(ids),
                    ConnectionState.erased.value,
                    stamp,
                )
        where, args = _rejected_where(url, mail)
        lines = await fetch(
            f'DELETE FROM "connection_rejected_line" WHERE {where} RETURNING "id"', *args
        )
        owners = sorted({r["employee_id"] for r in rows})
        await audit.record(
            actor,
            "connection.erase",
            "subject",
            "",
            {"connections": len(ids), "owners": len(owners), "rejected_lines": len(lines)},
        )
    return {"erased": len(ids), "owners": len(owners), "rejected_lines": len(lines)}


async def leavers_due_for_connection_purge(
    *, today: dt.date, retention_days: int
) -> list[dict[str, Any]]:
    """Employees whose connections the retention period has run out for.

    People who left more than `retention_days` ago and whose handover is complete: until then the
    successor may still need the export, and the attestation is still owed.
    """
    cutoff = today - dt.timedelta(days=retention_days)
    extensions.load()
    left = await left_before(cutoff)
    # The handovers part says whose offboarding is complete (the core's extension point: it sits
    # above this part).
    done = {r["id"] for r in left}
    for offboarded in extensions.offboarded:
        done &= await offboarded(sorted(done))
    if not extensions.offboarded:
        done = set()
    holding = await _owners_holding(sorted(done))
    return [r for r in left if r["id"] in holding]


async def _owners_holding(employee_ids: list[int]) -> set[int]:
    if not employee_ids:
        return set()
    marks = ", ".join(f"${n + 1}" for n in range(len(employee_ids)))
    # Lines an import could not read hold names too, even where no connection was kept.
    rows = await fetch(
        f'SELECT DISTINCT "owner" FROM "connection" WHERE "owner" IN ({marks}) UNION '
        'SELECT DISTINCT i."employee" FROM "connection_rejected_line" r '
        'JOIN "connection_import" i ON i."id" = r."source_import" '
        f'WHERE i."employee" IN ({marks})',
        *employee_ids,
    )
    return {r["owner"] for r in rows}


async def purge(
    *, actor: Actor, settings: Settings, today: dt.date | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Delete the connections of leavers past the retention period; each purge is audited."""
    today = today or dt.date.today()
    due = await leavers_due_for_connection_purge(
        today=today, retention_days=settings.connection_retention_days
    )
    done: list[dict[str, Any]] = []
    for person in due:
        async with write_transaction():
            await audit.lock_chain()
            rows = await fetch(
                'SELECT "id", "state", "first_name", "last_name", "company", "position" '
                'FROM "connection" WHERE "owner" = $1',
                person["id"],
            )
            if dry_run:
                done.append({"employee_id": person["id"], "connections": len(rows)})
                continue
            await _unindex(rows)
            await fetch('DELETE FROM "connection" WHERE "owner" = $1', person["id"])
            # The lines their imports could not read hold connections' names too.
            await fetch(
                'DELETE FROM "connection_rejected_line" WHERE "source_import" IN '
                '(SELECT "id" FROM "connection_import" WHERE "employee" = $1)',
                person["id"],
            )
            await audit.record(
                actor,
                "connection.purge",
                "employee",
                person["id"],
                {
                    "connections": len(rows),
                    "leaving_date": str(person["leaving_date"]),
                    "retention_days": settings.connection_retention_days,
                },
            )
            done.append({"employee_id": person["id"], "connections": len(rows)})
    return {
        "dry_run": dry_run,
        "employees": len(done),
        "connections": sum(d["connections"] for d in done),
        "items": done,
    }


__all__ = [
    "check_reader",
    "erase",
    "export_csv",
    "index_pending",
    "leavers_due_for_connection_purge",
    "linkedin_date",
    "list_for_employee",
    "list_imports",
    "purge",
    "rejected_lines_csv",
    "search",
    "set_state",
    "subject_access",
    "summary",
]


async def state_counts(employee_id: int) -> dict[str, int]:
    """How many of a person's connections are in each state."""
    rows = await fetch(
        'SELECT "state", COUNT(*) AS "n" FROM "connection" WHERE "owner" = $1 GROUP BY "state"',
        employee_id,
    )
    return {r["state"]: int(r["n"]) for r in rows}
