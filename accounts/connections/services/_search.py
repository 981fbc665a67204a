"""Searching the whole register, and the trigram index that makes it fast on both engines."""

from __future__ import annotations

import re
from contextlib import nullcontext
from typing import Any

from accounts.connections.enums import ConnectionState
from accounts.connections.services._connections import CONNECTION_COLUMNS, SEARCH_TEXT, _Where
from register.db import fetch, get_engine, is_postgres, offloaded, write_transaction
from register.errors import InvalidInput
from register.i18n import N_
from register.queries import glob_pattern, like_pattern, page, page_bounds
from register.staff.services import ids_named

INDEX_BATCH = 5000


# Rows indexed in one run after which PostgreSQL's statistics of the search table are refreshed.
ANALYZE_AFTER = 10_000


def _pg_literal(text: str) -> str:
    """A PostgreSQL string literal (E'' form, so it reads the same whatever the server settings).

    Search patterns are written into the SQL rather than bound: a prepared statement run often
    gets a generic plan, and a generic plan for `ILIKE $1` cannot know whether the trigram index
    or the newest-first walk is right, so it picks one for every word and is badly wrong for some.
    """
    if "\x00" in text:
        raise InvalidInput(N_("q must not contain NUL characters"), field="q")
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
        raise InvalidInput(N_("q must not contain control characters"), field="q")
    words = (q or "").split()[:8]
    if words and offset > MAX_SEARCH_OFFSET:
        # A search merges its sources in memory up to offset + limit; past this, narrow it.
        raise InvalidInput(
            N_("a search pages at most %(MAX_SEARCH_OFFSET)s rows deep; add words or filters"),
            field="offset",
            params={"MAX_SEARCH_OFFSET": format(MAX_SEARCH_OFFSET, ",")},
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
