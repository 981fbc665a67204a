"""The connections import's memory: peak RSS of the server while it imports 1, 10 and 60 MB exports.

Issue 14: a 60 MB Connections.csv took the worker from 122 MB to 710 MB. The upload is now read
as a stream, so the server's peak should not grow with the file. For each size a fresh server
(`register serve`, one worker) is started, warmed up with a small import, and its resident memory
read (the same-run baseline); then the generated export is uploaded over HTTP (multipart, sent
from disk in chunks by httpx), the search index is left to catch up, and the peak (VmHWM of the
server's processes, from /proc/<pid>/status) is read.

The largest file is uploaded once more with an Idempotency-Key, whose middleware reads the body
before the handler does (hashing it, keeping it in a file past 1 MB).

`python -m bench.connections_memory` runs it alone; `bench/run.py connections_memory` with the
other scenarios. BENCH_MEMORY_SIZES_MB (default "1,10,60") sets the sizes.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    BenchConfig,
    BenchDatabase,
    BenchError,
    Report,
    Server,
    cleanup_on_exit,
    environment,
    fmt,
    free_port,
    log,
    md_table,
    postgres_reachable,
    prepare_database,
    write_report,
)
from bench.connections import _generator, _group_memory_kb, _wait_indexed

SIZES_MB = [
    float(s) for s in os.environ.get("BENCH_MEMORY_SIZES_MB", "1,10,60").split(",") if s.strip()
]
# Every generated connection falls inside the employment of the employees the bench creates.
SINCE, UNTIL = dt.date(2012, 1, 1), dt.date(2026, 11, 1)
START_DATE = "2010-01-04"
UPLOAD_TIMEOUT_S = 900


def write_export(path: Path, megabytes: float, seed: int) -> int:
    """A LinkedIn export of about `megabytes` MB from the shared generator, written to `path`."""
    gen = _generator()
    target = int(megabytes * 1024 * 1024)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(gen.PREAMBLE)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(gen.HEADER)
        # In blocks, so the bench itself never holds the file; the generator's slugs are unique
        # per row index, and each block starts where the last ended.
        block = 5000
        while out.tell() < target:
            for row in gen.rows(block, seed + rows, SINCE, UNTIL):
                row[2] = f"{row[2]}-{rows:x}"
                writer.writerow(row)
                rows += 1
                if rows % 100 == 0 and out.tell() >= target:
                    break
    return rows


def _employee(server: Server, token: str, n: int) -> int:
    resp = httpx.post(
        f"{server.url}/api/v1/employees",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "name": f"Memory Owner {n}",
            "work_email": f"memory{n}@example.com",
            "start_date": START_DATE,
        },
        timeout=30,
    )
    if resp.status_code != 201:
        raise BenchError(f"creating an employee: {resp.status_code} {resp.text[:300]}")
    return int(resp.json()["id"])


def _upload(
    server: Server, token: str, employee_id: int, path: Path, *, keyed: bool = False
) -> tuple[float, dict]:
    """POST the file as multipart; httpx reads it from disk in chunks as it sends."""
    headers = {"Authorization": f"Bearer {token}"}
    if keyed:
        headers["Idempotency-Key"] = uuid.uuid4().hex
    started = time.perf_counter()
    with path.open("rb") as handle:
        resp = httpx.post(
            f"{server.url}/api/v1/employees/{employee_id}/connections/imports",
            headers=headers,
            files={"file": ("Connections.csv", handle, "text/csv")},
            timeout=UPLOAD_TIMEOUT_S,
        )
    elapsed = time.perf_counter() - started
    if resp.status_code != 200:
        raise BenchError(f"import of {path.name}: {resp.status_code} {resp.text[:300]}")
    return elapsed, resp.json()


def _measure(
    db: BenchDatabase, path: Path, rows: int, n: int, *, keyed: bool = False
) -> dict[str, Any]:
    """One fresh server: baseline after a warm-up import, then the peak over the big one."""
    warm = db.var_dir / "warm-up.csv"
    if not warm.exists():
        write_export(warm, 0.01, seed=1)
    with db.server(free_port(), 1).start() as server:
        # The first import loads the code paths and fills the pools: that is the idle server.
        _upload(server, db.token, _employee(server, db.token, 2 * n), warm)
        _wait_indexed(db)
        idle_rss = _group_memory_kb(server, "VmRSS")
        idle_peak = _group_memory_kb(server, "VmHWM")
        employee = _employee(server, db.token, 2 * n + 1)
        elapsed, body = _upload(server, db.token, employee, path, keyed=keyed)
        added = body["import"]["added"]
        if added != rows:
            raise BenchError(f"{db.kind}: {path.name} added {added} of {rows} rows")
        _wait_indexed(db)
        peak = _group_memory_kb(server, "VmHWM")
        after = _group_memory_kb(server, "VmRSS")
    return {
        "file_mb": round(path.stat().st_size / 1024 / 1024, 1),
        "idempotency_key": keyed,
        "rows": rows,
        "idle_rss_mb": round(idle_rss / 1024, 1),
        "idle_peak_mb": round(idle_peak / 1024, 1),
        "peak_mb": round(peak / 1024, 1),
        "growth_mb": round((peak - idle_peak) / 1024, 1),
        "rss_after_mb": round(after / 1024, 1),
        "import_s": round(elapsed, 2),
    }


def run(config: BenchConfig) -> Report:
    """Every size on every database, each on a fresh server."""
    report = Report(scenario="connections_memory")
    results: dict[str, list[dict[str, Any]]] = {}
    for kind in config.databases:
        if kind == "postgres":
            why = postgres_reachable(config.postgres_url)
            if why:
                if config.require_postgres:
                    raise BenchError(f"PostgreSQL is required but not reachable: {why}")
                report.notes.append(f"postgres skipped: {why}")
                continue
        db = prepare_database(kind, config)
        results[kind] = []
        for n, size in enumerate(SIZES_MB, start=1):
            path = db.var_dir / f"Connections-{size:g}MB.csv"
            rows = write_export(path, size, seed=1000 * n)
            log(f"{kind}: importing {path.name} ({rows:,} rows)")
            measured = _measure(db, path, rows, n)
            log(
                f"  idle {measured['idle_rss_mb']} MB, peak {measured['peak_mb']} MB "
                f"(+{measured['growth_mb']} MB), {measured['import_s']} s"
            )
            results[kind].append(measured)
            if size == max(SIZES_MB):
                log(f"{kind}: importing {path.name} again, with an Idempotency-Key")
                keyed = _measure(db, path, rows, len(SIZES_MB) + n, keyed=True)
                log(f"  idle {keyed['idle_rss_mb']} MB, peak {keyed['peak_mb']} MB")
                results[kind].append(keyed)
            path.unlink()
    report.extra["imports"] = results
    report.notes += [
        "Each size on a fresh `register serve` with one worker; `idle` is after a warm-up import "
        "of a 10 kB export (code loaded, pools open), read from the server's own processes.",
        "`peak` is the largest VmHWM (peak resident set) among the server's processes after the "
        "upload answered and the search index caught up; `growth` is peak minus the idle peak.",
        "The upload is multipart over HTTP from disk (httpx), every row inside the employment, "
        "all added; the time is from the first byte sent to the answer (after the commit).",
    ]
    return report


def markdown(report: Report, meta: dict[str, Any]) -> str:
    """The figures as a markdown table per database."""
    out = [
        f"## Connections import memory ({meta['when']}, commit {meta['commit'] or '?'})\n",
        f"{meta['machine']}; Python {meta['python']}, Litestar {meta['litestar']}; load average "
        f"at start {meta['load_average_at_start']}.\n",
        md_table(
            [
                "database",
                "file MB",
                "Idempotency-Key",
                "rows",
                "server peak idle MB",
                "server peak MB",
                "peak - idle MB",
                "import s",
            ],
            [
                [
                    kind,
                    fmt(m["file_mb"]),
                    "yes" if m.get("idempotency_key") else "no",
                    f"{m['rows']:,}",
                    fmt(m["idle_peak_mb"]),
                    fmt(m["peak_mb"]),
                    fmt(m["growth_mb"]),
                    fmt(m["import_s"], 2),
                ]
                for kind, measured in report.extra.get("imports", {}).items()
                for m in measured
            ],
        ),
    ]
    if report.notes:
        out += ["### Notes\n", *[f"- {n}" for n in report.notes], ""]
    return "\n".join(out)


def main() -> int:
    """Run the scenario alone, as bench/run.py would, and print its table."""
    from bench.common import RUN_DIR

    config = BenchConfig.from_env()
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    meta = environment(config)
    with cleanup_on_exit():
        report = run(config)
    text = markdown(report, meta)
    json_path, md_path = write_report(report, meta, text)
    print(text)
    log(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
