"""Importing an export: all rows or the readable ones, merged, counted, written in batches."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import Any, TypeVar

from accounts.connections.enums import ConnectionState
from accounts.connections.files._export import (
    CELL_LIMIT,
    INSERT_COLUMNS,
    ExportStream,
    RejectedLine,
    Row,
    row_key,
    subject_digests,
)
from accounts.connections.tables import ConnectionImport
from register import audit
from register.actor import Actor
from register.csvfiles import (
    MAX_ERRORS,
)
from register.db import bulk_insert, fetch, is_postgres, now, write_transaction
from register.errors import InvalidInput
from register.i18n import N_
from register.staff.services import get_employee


@dataclass
class Tally:
    """What a file's rows came to as they were read: counts, and the problems to answer with."""

    rows_read: int = 0
    duplicates: int = 0
    rejected: int = 0
    # The first MAX_ERRORS problems (line, field, message); how many more there were.
    problems: list[dict[str, Any]] = field(default_factory=list)
    unlisted: int = 0

    def reject(self, line: RejectedLine) -> None:
        """Count a line that could not be read, and list its problems while there is room."""
        self.rejected += 1
        room = max(MAX_ERRORS - len(self.problems), 0)
        self.problems += line.problems[:room]
        self.unlisted += max(len(line.problems) - room, 0)

    def refuse_unless_importable(self, *, strict: bool) -> None:
        """Refuse the whole file: no rows at all, a bad line when strict, or mostly bad lines."""
        if not self.rows_read:
            raise InvalidInput(
                N_("the export has its header but no connections under it"), field="file"
            )
        if not self.rejected:
            return
        counts = {
            "errors": len(self.problems) + self.unlisted,
            "rejected": self.rejected,
            "rows_read": self.rows_read,
            "listed": MAX_ERRORS,
        }
        if strict:
            raise InvalidInput(
                N_(
                    "%(errors)s problem(s) in the file; nothing was imported "
                    "(the first %(listed)s are listed)"
                )
                if self.unlisted
                else N_("%(errors)s problem(s) in the file; nothing was imported"),
                field="file",
                errors=self.problems,
                params=counts,
            )
        if 2 * self.rejected > self.rows_read:
            raise InvalidInput(
                N_(
                    "%(rejected)s of %(rows_read)s rows cannot be read, so the file is not "
                    "imported: is it LinkedIn's Connections.csv? Fix the rows and upload it again "
                    "(the first %(listed)s are listed)"
                )
                if self.unlisted
                else N_(
                    "%(rejected)s of %(rows_read)s rows cannot be read, so the file is not "
                    "imported: is it LinkedIn's Connections.csv? Fix the rows and upload it again"
                ),
                field="file",
                errors=self.problems,
                params=counts,
            )


def import_out(row: dict[str, Any]) -> dict[str, Any]:
    """An import row as the API shows it (counts and file metadata, never names)."""
    out = {
        k: row[k]
        for k in (
            "id",
            "sha256",
            "filename",
            "layout",
            "rows",
            "added",
            "returned",
            "unchanged",
            "gone",
            "before_employment",
            "after_employment",
            "suppressed",
            "duplicates_in_file",
            "rejected_lines",
            "imported_by",
            "imported_at",
        )
    }
    out["employee_id"] = row["employee"]
    return out


REJECTED_COLUMNS = (
    "source_import",
    "line",
    "field",
    "reason",
    "first_name",
    "last_name",
    "url",
    "email",
    "company",
    "position",
    "connected_on",
    "match_url",
    "match_email",
)


def rejected_row(import_id: int, rejected: RejectedLine) -> tuple[Any, ...]:
    """A rejected line as the row that keeps it (cells cut at CELL_LIMIT)."""
    problems = rejected.problems
    email = rejected.cells[3].strip().lower()
    return (
        import_id,
        rejected.line,
        problems[0]["field"] if problems else "file",
        "; ".join(p["message"] for p in problems),
        *(c[:CELL_LIMIT] for c in rejected.cells),
        rejected.key[:CELL_LIMIT] if isinstance(rejected.key, str) else "",
        email[:CELL_LIMIT],
    )


async def _ids_update(sql_set: str, ids: list[int], *args: Any) -> None:
    """One UPDATE over many ids (`$1` is the id list; further `$n` are the SET values)."""
    if not ids:
        return
    if is_postgres():
        await fetch(f'UPDATE "connection" SET {sql_set} WHERE "id" = ANY($1::int[])', ids, *args)
    else:
        import json

        await fetch(
            f'UPDATE "connection" SET {sql_set} WHERE "id" IN (SELECT value FROM json_each($1))',
            json.dumps(ids),
            *args,
        )


# Rows parsed, checked and written together: the import holds one batch, never the file.
BATCH_ROWS = 5000


# Keys of rows read kept in memory before they move to a temporary table (_KeysRead).
KEYS_IN_MEMORY = 50_000


T = TypeVar("T")


def _batches(items: Iterator[T], size: int) -> Iterator[list[T]]:
    """Lists of up to `size` items, taken from the iterator as they are needed."""
    while batch := list(islice(items, size)):
        yield batch


class _SameFile(Exception):
    """The file is the one imported last: what reading it wrote is rolled back."""

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__("the same file as the last import")
        self.row = row


class _KeysRead:
    """The keys of the rows read so far: in memory up to KEYS_IN_MEMORY, then in a temporary table.

    A LinkedIn profile holds at most 30,000 connections, so a real export never leaves memory;
    a larger file moves its keys to the database instead of growing the server.
    """

    def __init__(self, import_id: int) -> None:
        self.table = f"connection_import_keys_{int(import_id)}"
        self.memory: set[str] | None = set()

    async def first_seen(self, keys: list[str]) -> set[str]:
        """Record the keys (each once); those not read before."""
        if self.memory is not None:
            if len(self.memory) + len(keys) <= KEYS_IN_MEMORY:
                fresh = {k for k in keys if k not in self.memory}
                self.memory.update(fresh)
                return fresh
            # Inside the import's transaction: a rollback takes the table away too.
            kind = "text" if is_postgres() else "TEXT"
            await fetch(f'CREATE TEMP TABLE "{self.table}" ("key" {kind} PRIMARY KEY)')
            spilled, self.memory = list(self.memory), None
            await bulk_insert(self.table, ("key",), [(k,) for k in spilled])
        if not keys:
            return set()
        if is_postgres():
            rows = await fetch(
                f'INSERT INTO "{self.table}" SELECT unnest($1::text[]) '
                'ON CONFLICT DO NOTHING RETURNING "key"',
                keys,
            )
        else:
            # WHERE true: SQLite reads ON CONFLICT after a bare SELECT ... FROM as a join clause.
            rows = await fetch(
                f'INSERT INTO "{self.table}" SELECT value FROM json_each($1) WHERE true '
                'ON CONFLICT DO NOTHING RETURNING "key"',
                json.dumps(keys),
            )
        return {r["key"] for r in rows}

    async def close(self) -> None:
        """Drop the table, if the keys went there."""
        if self.memory is None:
            await fetch(f'DROP TABLE "{self.table}"')


def _key_text(key: Any) -> str:
    """A row's key as text: its URL, or its name and date after a unit separator (never a URL)."""
    if isinstance(key, str):
        return key
    first, last, connected_on = key
    return f"\x1f{first}\x1f{last}\x1f{connected_on.isoformat()}"


async def import_connections(
    *,
    actor: Actor,
    employee_id: int,
    content: Any,
    filename: str = "",
    today: dt.date | None = None,
    strict: bool = False,
) -> dict[str, Any]:
    """Import an employee's Connections.csv, read as a stream; the same file twice changes nothing.

    Readable rows are imported and unreadable lines kept and listed; `strict`: all rows or none.
    `content` is the file (bytes, or a binary file such as an upload spooled to disk).
    """
    today = today or dt.date.today()
    # A file that is not an export is refused from its first lines, before anything is locked.
    export = ExportStream(content)
    tally = Tally()
    try:
        async with write_transaction():
            summary = await _import(
                actor=actor,
                employee_id=employee_id,
                export=export,
                filename=(filename or "")[:255],
                today=today,
                strict=strict,
                tally=tally,
            )
    except _SameFile as same:
        return {"duplicate": True, "import": import_out(same.row), "problems": tally.problems}
    return {"duplicate": False, "import": summary, "problems": tally.problems}


async def _import(
    *,
    actor: Actor,
    employee_id: int,
    export: ExportStream,
    filename: str,
    today: dt.date,
    strict: bool,
    tally: Tally,
) -> dict[str, Any]:
    """The import inside its transaction: rows written batch by batch, counts and audit at the end."""
    # Imports are serialised (the chain lock on PostgreSQL, the write lock on SQLite), so
    # connection ids commit in order and the search indexer never skips one.
    await audit.lock_chain()
    person = await get_employee(employee_id=employee_id)
    start = person["start_date"]
    if start is None:
        raise InvalidInput(
            N_(
                "employee %(employee_id)s has no start date, so the register cannot tell which connections were made during the employment; set start_date first"
            ),
            field="start_date",
            params={"employee_id": employee_id},
        )
    end = min(person["leaving_date"] or today, today)
    last = await fetch(
        'SELECT * FROM "connection_import" WHERE "employee" = $1 ORDER BY "id" DESC LIMIT 1',
        employee_id,
    )
    existing = await fetch(
        'SELECT "id", "profile_url", "first_name", "last_name", "connected_on", "gone_on" '
        """FROM "connection" WHERE "owner" = $1 AND "state" <> 'erased'""",
        employee_id,
    )
    by_key = {
        row_key(r["profile_url"], r["first_name"], r["last_name"], r["connected_on"]): r
        for r in existing
    }
    erased = {r["digest"] for r in await fetch('SELECT "digest" FROM "connection_suppression"')}
    # The import's row comes first, for its id; its digest and counts are known at the end.
    inserted = await ConnectionImport.insert(
        ConnectionImport(
            employee=employee_id,
            filename=filename,
            layout=export.layout.value,
            imported_by=actor.user_id,
            imported_at=now(),
        )
    ).returning(ConnectionImport.id)
    import_id = inserted[0]["id"]
    keys = _KeysRead(import_id)
    counts = dict.fromkeys(("added", "unchanged", "before", "after", "suppressed"), 0)
    found: set[int] = set()  # held connections the file lists
    returned: list[int] = []
    held_state = ConnectionState.held.value
    for batch in _batches(export.rows(today), BATCH_ROWS):
        readable: list[Row] = []
        lines: list[tuple[Any, ...]] = []
        for row in batch:
            tally.rows_read += 1
            if not isinstance(row, RejectedLine):
                readable.append(row)
                continue
            tally.reject(row)
            # A rejected line still says its connection is on the profile: not gone.
            if row.key is not None and (held := by_key.get(row.key)) is not None:
                found.add(held["id"])
            # Kept for HR to download and fix, except lines about someone erased on request.
            url = row.key if isinstance(row.key, str) else ""
            if not (erased and subject_digests(url, row.cells[3].strip().lower()) & erased):
                lines.append(rejected_row(import_id, row))
        if strict and tally.rejected:
            # Refused already: the rest is only read for its problems.
            continue
        keyed = [(r, key := row_key(r[2], r[0], r[1], r[6]), _key_text(key)) for r in readable]
        fresh = await keys.first_seen(list(dict.fromkeys(text for _, _, text in keyed)))
        new_rows: list[Row] = []
        for row, key, text in keyed:
            if text not in fresh:
                # The same person again (the URL with and without a trailing slash, say): one
                # connection, the first row's.
                tally.duplicates += 1
                continue
            fresh.discard(text)
            if erased and subject_digests(row[2], row[3]) & erased:
                # Erased on request: a later export must not bring them back.
                counts["suppressed"] += 1
            elif row[6] < start:
                counts["before"] += 1
            elif row[6] > end:
                counts["after"] += 1
            elif (held := by_key.get(key)) is None:
                new_rows.append(row)
            else:
                found.add(held["id"])
                if held["gone_on"] is not None:
                    returned.append(held["id"])
                else:
                    counts["unchanged"] += 1
        # In URL order the unique index grows at one end instead of everywhere: a third faster.
        new_rows.sort(key=itemgetter(2))
        counts["added"] += await bulk_insert(
            "connection",
            INSERT_COLUMNS,
            [(employee_id, *r, import_id, held_state) for r in new_rows],
        )
        await bulk_insert("connection_rejected_line", REJECTED_COLUMNS, lines)
    await keys.close()
    tally.refuse_unless_importable(strict=strict)
    if last and last[0]["sha256"] == export.digest:
        raise _SameFile(last[0])
    gone = [r["id"] for r in existing if r["id"] not in found and r["gone_on"] is None]
    await _ids_update('"gone_on" = $2', gone, today)
    await _ids_update('"gone_on" = NULL', returned)
    await ConnectionImport.update(
        {
            ConnectionImport.sha256: export.digest,
            ConnectionImport.rows: tally.rows_read,
            ConnectionImport.added: counts["added"],
            ConnectionImport.returned: len(returned),
            ConnectionImport.unchanged: counts["unchanged"],
            ConnectionImport.gone: len(gone),
            ConnectionImport.before_employment: counts["before"],
            ConnectionImport.after_employment: counts["after"],
            ConnectionImport.suppressed: counts["suppressed"],
            ConnectionImport.duplicates_in_file: tally.duplicates,
            ConnectionImport.rejected_lines: tally.rejected,
        }
    ).where(ConnectionImport.id == import_id)
    rows = await fetch('SELECT * FROM "connection_import" WHERE "id" = $1', import_id)
    summary = import_out(rows[0])
    # Counts and the file's digest only: an audit event never holds a connection's name.
    await audit.record(
        actor,
        "connection.import",
        "employee",
        employee_id,
        {
            k: summary[k]
            for k in (
                "id",
                "sha256",
                "layout",
                "rows",
                "added",
                "returned",
                "unchanged",
                "gone",
                "before_employment",
                "after_employment",
                "suppressed",
                "duplicates_in_file",
                "rejected_lines",
            )
        },
    )
    return summary
