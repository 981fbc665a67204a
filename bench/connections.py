"""The connections scenario: importing a 30,000-row LinkedIn export, and search over 1,000,000.

Issue 4's targets, on SQLite and PostgreSQL, in the same run:
- import of a 30,000-row Connections.csv end to end (multipart upload to the committed answer)
  under 1 s, and >= 0.4x the rate of the raw driver writing the same rows (sqlite3 executemany /
  asyncpg COPY into the same table, rows already parsed, one transaction);
- search over 1,000,000 connections: p95 < 100 ms;
- the server process's peak memory under 200 MB while it imports.

`python -m bench.connections seed` fills the register (with the register's environment);
`python -m bench.connections raw EMPLOYEE_ID FILE` is the raw baseline; `run()` is the scenario.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import importlib.util
import io
import os
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    ROOT,
    BenchConfig,
    BenchDatabase,
    BenchError,
    Report,
    Row,
    Server,
    Target,
    WrkResult,
    databases_to_measure,
    fmt,
    free_port,
    log,
    md_table,
    measure,
    prepare_database,
    targets_and_notes,
    timed_get,
)
from bench.core import EMPLOYEE_COLUMNS

GENERATOR = ROOT / "tests" / "data" / "make_linkedin_export.py"
SEARCH_ROWS = int(os.environ.get("BENCH_CONNECTIONS_TOTAL", "1000000"))
OWNERS = int(os.environ.get("BENCH_CONNECTION_OWNERS", "50"))
IMPORT_ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "30000"))
IMPORT_ROUNDS = int(os.environ.get("BENCH_IMPORT_ROUNDS", "3"))
# Concurrent searches under load: HR users searching at once, not a crawler.
SEARCH_CONNECTIONS = int(os.environ.get("BENCH_SEARCH_CONNECTIONS", "8"))
# Employees 1..OWNERS hold the seeded connections; the next ones receive the measured imports.
IMPORT_EMPLOYEES = 2 * IMPORT_ROUNDS
IMPORT_TARGET_S = 1.0
RATIO_TARGET = 0.4
P95_TARGET_MS = 100.0
MEMORY_TARGET_MB = 200.0
# What HR types: first and last names (with non-ASCII letters and apostrophes), companies,
# positions, an owner's name, two-letter fragments, and words nobody has.
QUERIES = [
    "Müller",
    "chloé",
    "Søren",
    "O'Brien",
    "van der berg",
    "Nakamura",
    "Priya Zhang",
    "globex",
    "Umbrella Health",
    "Stark",
    "recruiter",
    "head of people",
    "partner",
    "talent acquisition",
    "Owner 17",
    "li",
    "ez",
    "zzqx",
    "nobody-like-this",
    "Acme CFO",
]
CONNECTION_COLUMNS = (
    "owner",
    "first_name",
    "last_name",
    "profile_url",
    "email",
    "company",
    "position",
    "connected_on",
    "source_import",
    "state",
)
IMPORT_COLUMNS = (
    "employee",
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
    "imported_by",
    "imported_at",
)


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("make_linkedin_export", GENERATOR)
    if spec is None or spec.loader is None:
        raise BenchError(f"cannot load {GENERATOR}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def export_file(rows: int, seed: int) -> bytes:
    """A LinkedIn export from the shared generator, as the file an employee downloads."""
    gen = _generator()
    out = io.StringIO()
    out.write(gen.PREAMBLE)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(gen.HEADER)
    writer.writerows(gen.rows(rows, seed, dt.date(2012, 1, 1), dt.date(2026, 11, 1)))
    return out.getvalue().encode("utf-8")


def employee_rows(count: int) -> list[tuple[Any, ...]]:
    """Owners of connections, employed since 2010 so every generated connection is the employer's."""
    stamp = dt.datetime.now(dt.UTC)
    return [
        (
            i,
            f"Owner {i}",
            f"owner{i}@example.com",
            "Sales",
            "Recruiter",
            None,
            dt.date(2010, 1, 4),
            None,
            "active",
            1,
            stamp,
            stamp,
        )
        for i in range(1, count + 1)
    ]


async def seed() -> None:
    """Owners and SEARCH_ROWS connections, the search index built, ANALYZE; print the counts."""
    from accounts.connections.files import parse_connected_on
    from accounts.connections.services import SEARCH_TEXT
    from register.db import bulk_insert, get_engine, is_postgres, write_transaction
    from register.runtime import runtime
    from register.settings import Settings

    gen = _generator()
    per_owner = SEARCH_ROWS // OWNERS
    async with runtime(Settings.from_env(), announce=False):
        engine = get_engine()
        stamp = dt.datetime.now(dt.UTC)
        async with write_transaction():
            await bulk_insert(
                "employee", EMPLOYEE_COLUMNS, employee_rows(OWNERS + IMPORT_EMPLOYEES)
            )
            await bulk_insert(
                "connection_import",
                ("id", *IMPORT_COLUMNS),
                [
                    (
                        o,
                        o,
                        "0" * 64,
                        "seed.csv",
                        "with_url",
                        per_owner,
                        per_owner,
                        0,
                        0,
                        0,
                        0,
                        0,
                        None,
                        stamp,
                    )
                    for o in range(1, OWNERS + 1)
                ],
            )
        for owner in range(1, OWNERS + 1):
            rows = [
                (owner, r[0], r[1], r[2], r[3], r[4], r[5], parse_connected_on(r[6]), owner, "held")
                for r in gen.rows(per_owner, owner, dt.date(2012, 1, 1), dt.date(2026, 11, 1))
            ]
            async with write_transaction():
                await bulk_insert("connection", CONNECTION_COLUMNS, rows)
        if is_postgres():
            for table in ("employee", "connection_import"):
                await engine.run_ddl(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM \"{table}\"))"
                )
            # Building the trigram index once is faster than growing it row by row.
            await engine.run_ddl("DROP INDEX IF EXISTS connection_search_trgm")
            await engine.run_ddl(
                f'INSERT INTO "connection_search" ("id", "text") SELECT c."id", {SEARCH_TEXT} FROM "connection" c'
            )
            await engine.run_ddl(
                'CREATE INDEX connection_search_trgm ON "connection_search" USING gin ("text" gin_trgm_ops)'
            )
            await engine.run_ddl("VACUUM ANALYZE")
        else:
            await engine.run_ddl(
                f'INSERT INTO connection_fts (rowid, text) SELECT c."id", {SEARCH_TEXT} FROM "connection" c'
            )
            await engine.run_ddl("INSERT INTO connection_fts (connection_fts) VALUES ('optimize')")
            await engine.run_ddl("ANALYZE")
            await engine.run_ddl("PRAGMA wal_checkpoint(TRUNCATE)")
        counted = await engine.run_ddl('SELECT count(*) AS n FROM "connection"')
    print(counted[0]["n"])


async def raw_import(employee_id: int, path: str) -> None:
    """The baseline: the same rows, parsed beforehand, written by the driver's bulk API; print seconds."""
    import asyncpg

    from accounts.connections.files import read_export
    from register.settings import Settings

    read = read_export(Path(path).read_bytes(), today=dt.date.today())
    url = Settings.from_env().database_url
    stamp = dt.datetime.now(dt.UTC)
    if url.startswith("sqlite"):
        import sqlite3

        from register.db import sqlite_path

        conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        cur = conn.execute(
            f'INSERT INTO "connection_import" ({", ".join(IMPORT_COLUMNS)}) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                employee_id,
                read.digest,
                "raw.csv",
                "with_url",
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                None,
                stamp.isoformat(),
            ),
        )
        import_id = cur.fetchone()[0]
        rows = [(employee_id, *r, import_id, "held") for r in read.rows]
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            f'INSERT INTO "connection" ({", ".join(CONNECTION_COLUMNS)}) VALUES ({", ".join("?" * len(CONNECTION_COLUMNS))})',
            rows,
        )
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
    else:
        conn = await asyncpg.connect(url)
        import_id = await conn.fetchval(
            f'INSERT INTO "connection_import" ({", ".join(IMPORT_COLUMNS)}) '
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
            employee_id,
            read.digest,
            "raw.csv",
            "with_url",
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            None,
            stamp,
        )
        rows = [(employee_id, *r, import_id, "held") for r in read.rows]
        started = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table(
                "connection", records=rows, columns=list(CONNECTION_COLUMNS)
            )
        elapsed = time.perf_counter() - started
        await conn.close()
    print(f"{elapsed:.6f} {len(rows)}")


# ---------------------------------------------------------------- the scenario


def _group_memory_kb(server: Server, field: str) -> int:
    """The largest `field` (VmHWM, VmRSS) among the server's processes, in kB."""
    assert server.proc is not None
    best = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[2]) != server.proc.pid:
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith(field + ":"):
                    best = max(best, int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            continue
    return best


def _upload(server: Server, token: str, employee_id: int, content: bytes) -> tuple[float, dict]:
    started = time.perf_counter()
    resp = httpx.post(
        f"{server.url}/api/v1/employees/{employee_id}/connections/imports",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": ("Connections.csv", content, "text/csv")},
        timeout=60,
    )
    elapsed = time.perf_counter() - started
    if resp.status_code != 200:
        raise BenchError(f"import: {resp.status_code} {resp.text[:300]}")
    return elapsed, resp.json()


def _index_lag(db: BenchDatabase) -> int:
    """Connections above the search index's highest id (not indexed yet), read from the database."""
    if db.kind == "sqlite":
        import sqlite3

        from register.db import sqlite_path

        conn = sqlite3.connect(sqlite_path(db.url))
        try:
            top = conn.execute('SELECT COALESCE(MAX("id"), 0) FROM "connection"').fetchone()[0]
            mark = conn.execute(
                "SELECT COALESCE((SELECT rowid FROM connection_fts ORDER BY rowid DESC LIMIT 1), 0)"
            ).fetchone()[0]
            return int(top) - int(mark)
        finally:
            conn.close()

    async def ask() -> int:
        import asyncpg

        conn = await asyncpg.connect(db.url)
        try:
            return int(
                await conn.fetchval(
                    'SELECT (SELECT COALESCE(MAX("id"), 0) FROM "connection") - '
                    '(SELECT COALESCE(MAX("id"), 0) FROM "connection_search")'
                )
            )
        finally:
            await conn.close()

    return asyncio.run(ask())


def _wait_indexed(db: BenchDatabase, timeout: float = 300) -> float:
    """Seconds until the search index has caught up with every committed connection."""
    started = time.perf_counter()
    while _index_lag(db) > 0:
        if time.perf_counter() - started > timeout:
            raise BenchError(f"{db.kind}: the search index did not catch up within {timeout:.0f}s")
        time.sleep(0.05)
    return time.perf_counter() - started


def _sequential(server: Server, token: str, rounds: int = 5) -> dict[str, float]:
    """Each query of QUERIES `rounds` times, one at a time: latency percentiles in ms."""
    times = sorted(
        timed_get(server, "/api/v1/connections?limit=50&q=" + urllib.parse.quote(query), token)
        for _ in range(rounds)
        for query in QUERIES
    )
    return {
        "p50": round(statistics.median(times), 2),
        "p95": round(times[int(len(times) * 0.95) - 1], 2),
        "max": round(times[-1], 2),
        "requests": len(times),
    }


def _bench_database(report: Report, kind: str, config: BenchConfig) -> None:
    db: BenchDatabase = prepare_database(kind, config)
    log(f"{kind}: seeding {SEARCH_ROWS:,} connections over {OWNERS} employees")
    started = time.perf_counter()
    count = int(db.python("-m", "bench.connections", "seed").strip().splitlines()[-1])
    if count != SEARCH_ROWS // OWNERS * OWNERS:
        raise BenchError(f"{kind}: seeded {count} connections")
    log(f"  seeded in {time.perf_counter() - started:.0f}s")
    files = []
    for n in range(IMPORT_ROUNDS):
        path = db.var_dir / f"Connections-{n}.csv"
        path.write_bytes(export_file(IMPORT_ROWS, seed=100 + n))
        files.append(path)
    results: dict[str, Any] = {"register_s": [], "raw_s": [], "index_s": []}
    with db.server(free_port(), config.workers).start() as server:
        rss_idle = _group_memory_kb(server, "VmRSS")
        for n, path in enumerate(files):
            # Interleaved, so a drift of the machine hits both alike; each on its own employee.
            elapsed, body = _upload(server, db.token, OWNERS + 1 + 2 * n, path.read_bytes())
            if body["import"]["added"] != IMPORT_ROWS:
                raise BenchError(f"{kind}: import added {body['import']['added']}")
            results["register_s"].append(round(elapsed, 4))
            log(f"  {kind} import {n + 1}: {elapsed * 1000:.0f} ms end to end")
            results["index_s"].append(round(_wait_indexed(db), 2))
            out = db.python("-m", "bench.connections", "raw", str(OWNERS + 2 + 2 * n), str(path))
            raw_s, raw_rows = out.strip().splitlines()[-1].split()
            if int(raw_rows) != IMPORT_ROWS:
                raise BenchError(f"{kind}: raw baseline wrote {raw_rows}")
            results["raw_s"].append(round(float(raw_s), 4))
            log(f"  {kind} raw {n + 1}: {float(raw_s) * 1000:.0f} ms")
        results["peak_kb"] = _group_memory_kb(server, "VmHWM")
        results["idle_kb"] = rss_idle
        # The raw rows are indexed by the next run of the indexer; the search runs on everything.
        _upload(server, db.token, OWNERS + IMPORT_EMPLOYEES, export_file(10, seed=999))
        _wait_indexed(db)
        results["search_sequential"] = _sequential(server, db.token)
        log(f"  {kind} search one at a time: {results['search_sequential']}")
        values = [urllib.parse.quote(q) for q in QUERIES]
        wrk: WrkResult = measure(
            server,
            "/api/v1/connections?limit=50&q={choice}",
            values,
            token=db.token,
            config=dataclasses.replace(config, connections=SEARCH_CONNECTIONS),
        )
        log(
            f"  {kind} search under load: {wrk.rps:,.0f} rps, p95 {wrk.latency_ms['p95']:.1f} ms, "
            f"{wrk.failed_requests} failed"
        )
    report.extra.setdefault("imports", {})[kind] = results
    report.rows.append(Row(kind, "search_50", "register", result=wrk))
    register_s = statistics.median(results["register_s"])
    raw_s = statistics.median(results["raw_s"])
    ratio = raw_s / register_s if register_s else 0.0
    results["ratio"] = round(ratio, 3)
    report.targets += [
        Target(
            kind,
            "import_30k",
            f"end to end < {IMPORT_TARGET_S:g} s",
            round(register_s, 3),
            IMPORT_TARGET_S,
            register_s < IMPORT_TARGET_S,
        ),
        Target(
            kind,
            "import_30k",
            f"rate >= {RATIO_TARGET}x raw driver",
            round(ratio, 3),
            RATIO_TARGET,
            ratio >= RATIO_TARGET,
        ),
        Target(
            kind,
            "import_30k",
            f"server peak memory < {MEMORY_TARGET_MB:g} MB",
            round(results["peak_kb"] / 1024, 1),
            MEMORY_TARGET_MB,
            results["peak_kb"] / 1024 < MEMORY_TARGET_MB,
        ),
        Target(
            kind,
            "search_50",
            f"p95 < {P95_TARGET_MS:g} ms (one at a time)",
            results["search_sequential"]["p95"],
            P95_TARGET_MS,
            results["search_sequential"]["p95"] < P95_TARGET_MS,
        ),
        Target(
            kind,
            "search_50",
            f"p95 < {P95_TARGET_MS:g} ms ({SEARCH_CONNECTIONS} connections)",
            wrk.latency_ms["p95"] if wrk.requests else None,
            P95_TARGET_MS,
            bool(wrk.requests)
            and wrk.failed_requests == 0
            and wrk.latency_ms["p95"] < P95_TARGET_MS,
        ),
    ]


def markdown(report: Report, meta: dict[str, Any]) -> str:
    """The report as markdown: imports, search, targets."""
    imports = report.extra.get("imports", {})
    out = [
        f"## Connections benchmark ({meta['when']}, commit {meta['commit'] or '?'})\n",
        f"{meta['machine']}; Python {meta['python']}, Litestar {meta['litestar']}, {meta['wrk']}; "
        f"{SEARCH_ROWS:,} connections over {OWNERS} employees; imports of {IMPORT_ROWS:,} rows, "
        f"{IMPORT_ROUNDS} per database (median shown); load average at start {meta['load_average_at_start']}.\n",
        "### Import of a 30,000-row Connections.csv\n",
        md_table(
            [
                "database",
                "register end to end s",
                "raw driver s",
                "raw/register",
                "index catch-up s",
                "server RSS idle MB",
                "server peak MB",
            ],
            [
                [
                    kind,
                    " / ".join(f"{v:.3f}" for v in r["register_s"]),
                    " / ".join(f"{v:.3f}" for v in r["raw_s"]),
                    f"{r['ratio']:.2f}x",
                    " / ".join(f"{v:.1f}" for v in r["index_s"]),
                    fmt(r["idle_kb"] / 1024),
                    fmt(r["peak_kb"] / 1024),
                ]
                for kind, r in imports.items()
            ],
        ),
        "### Search over the register\n",
        md_table(
            ["database", "mode", "requests", "rps", "p50 ms", "p95 ms", "max/p99 ms", "failed"],
            [
                row
                for kind, r in imports.items()
                for row in (
                    [
                        kind,
                        "one at a time",
                        r["search_sequential"]["requests"],
                        "-",
                        fmt(r["search_sequential"]["p50"], 2),
                        fmt(r["search_sequential"]["p95"], 2),
                        fmt(r["search_sequential"]["max"], 2),
                        0,
                    ],
                )
            ]
            + [
                [
                    row.database,
                    f"wrk, {SEARCH_CONNECTIONS} connections",
                    row.result.requests if row.result else "-",
                    fmt(row.result.rps, 0) if row.result else "-",
                    fmt(row.result.latency_ms["p50"], 2) if row.result else "-",
                    fmt(row.result.latency_ms["p95"], 2) if row.result else "-",
                    fmt(row.result.latency_ms["p99"], 2) if row.result else "-",
                    row.result.failed_requests if row.result else "-",
                ]
                for row in report.rows
            ],
        ),
        *targets_and_notes(report, lambda t: f"{t.value:g}", what="what"),
    ]
    return "\n".join(out)


def run(config: BenchConfig) -> Report:
    """Imports (register and raw driver, interleaved) and search, on every database."""
    report = Report(scenario="connections")
    report.notes += [
        "register: `register serve`, multipart POST /api/v1/employees/{id}/connections/imports timed from "
        "the first byte sent to the answer, which comes after the commit; the file is the shared "
        "generator's 30,000-row export (preamble, quotes, non-ASCII), every row inside the employment window.",
        "raw: `python -m bench.connections raw`: the same rows already parsed (parsing not timed), "
        "one transaction of sqlite3 executemany or asyncpg COPY into the same `connection` table with "
        "the same indexes; only the rows are written (no import record, no audit, no diff).",
        "The search index (FTS5 trigram on SQLite, pg_trgm GIN on PostgreSQL) is filled after the commit; "
        "'index catch-up' is how long after the answer a search no longer scans unindexed rows.",
        "Memory: VmRSS of the server's processes when idle before the first import, and VmHWM (peak "
        "resident set since start, which includes start-up) after the imports.",
        "Search queries: "
        + ", ".join(f"`{q}`" for q in QUERIES)
        + "; `/api/v1/connections?limit=50&q=...`.",
    ]
    databases = databases_to_measure(config, report)
    for kind in databases:
        _bench_database(report, kind, config)
    return report


def main(argv: list[str]) -> int:
    """`python -m bench.connections seed` or `raw EMPLOYEE_ID FILE`."""
    if argv == ["seed"]:
        asyncio.run(seed())
        return 0
    if len(argv) == 3 and argv[0] == "raw":
        asyncio.run(raw_import(int(argv[1]), argv[2]))
        return 0
    print("usage: python -m bench.connections seed | raw EMPLOYEE_ID FILE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
