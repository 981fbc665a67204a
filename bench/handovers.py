"""The handovers scenario: a restructuring of 200 leavers started from one CSV, and the footprint.

Issue 6's targets: starting 200 handovers for leavers holding 5 accounts and 2,000 connections
each takes under 5 s (one POST /api/v1/handovers/bulk to the real server), and the footprint of
one leaver (GET /api/v1/employees/{id}/footprint, one request at a time) has p95 < 50 ms, on
SQLite and PostgreSQL. `python -m bench.handovers seed` (with the register's environment) fills
the register and writes the leavers' CSV.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from bench.common import (
    BenchConfig,
    BenchDatabase,
    BenchError,
    Report,
    Target,
    databases_to_measure,
    free_port,
    http_get,
    log,
    md_table,
    prepare_database,
    targets_and_notes,
)

LEAVERS = int(os.environ.get("BENCH_LEAVERS", "200"))
ACCOUNTS_EACH = int(os.environ.get("BENCH_ACCOUNTS_EACH", "5"))
CONNECTIONS_EACH = int(os.environ.get("BENCH_CONNECTIONS_EACH", "2000"))
FOOTPRINTS = int(os.environ.get("BENCH_FOOTPRINTS", "200"))
START_LIMIT_S = 5.0
FOOTPRINT_P95_MS = 50.0
SUCCESSOR = "successor@bench.example"


def leaver_email(n: int) -> str:
    """The work e-mail of leaver n."""
    return f"leaver{n}@bench.example"


async def seed() -> None:
    """Leavers with accounts (custodian, MFA, a grant, a credential) and connections; print ids."""
    from register.db import bulk_insert, fetch, get_engine, is_postgres, write_transaction
    from register.runtime import runtime
    from register.settings import Settings

    settings = Settings.from_env()
    now = dt.datetime.now(dt.UTC)
    leaving = dt.date.today() + dt.timedelta(days=30)
    start = dt.date.today() - dt.timedelta(days=2000)
    async with runtime(settings, announce=False):
        async with write_transaction():
            await bulk_insert(
                "employee",
                (
                    "name",
                    "work_email",
                    "department",
                    "start_date",
                    "leaving_date",
                    "status",
                    "version",
                    "created_at",
                    "updated_at",
                ),
                [("Sam Successor", SUCCESSOR, "Sales", start, None, "active", 1, now, now)]
                + [
                    (
                        f"Leaver {n}",
                        leaver_email(n),
                        "Sales",
                        start,
                        leaving,
                        "leaving",
                        1,
                        now,
                        now,
                    )
                    for n in range(LEAVERS)
                ],
            )
            people = {
                r["work_email"]: r["id"]
                for r in await fetch('SELECT "id", "work_email" FROM "employee"')
            }
            ids = [people[leaver_email(n)] for n in range(LEAVERS)]
            successor = people[SUCCESSOR]
            accounts = [
                (
                    "x",
                    f"bench_{n}_{a}",
                    f"https://x.com/bench_{n}_{a}",
                    "Sales",
                    "active",
                    ids[n],
                    successor,
                    "authenticator_app",
                    ids[n],
                    f"personal{n}@gmail.example",
                    1,
                    now,
                    now,
                )
                for n in range(LEAVERS)
                for a in range(ACCOUNTS_EACH)
            ]
            await bulk_insert(
                "social_account",
                (
                    "platform",
                    "handle",
                    "profile_url",
                    "department",
                    "status",
                    "custodian",
                    "backup_custodian",
                    "mfa_method",
                    "mfa_holder",
                    "recovery_email",
                    "version",
                    "created_at",
                    "updated_at",
                ),
                accounts,
            )
            account_ids = {
                r["handle"]: r["id"]
                for r in await fetch('SELECT "id", "handle" FROM "social_account"')
            }
            await bulk_insert(
                "access_grant",
                (
                    "account",
                    "employee",
                    "level",
                    "platform_role",
                    "reason",
                    "granted_at",
                    "revoke_reason",
                ),
                [
                    (account_ids[f"bench_{n}_{a}"], ids[n], "owner", "Admin", "custodian", now, "")
                    for n in range(LEAVERS)
                    for a in range(ACCOUNTS_EACH)
                ],
            )
            await bulk_insert(
                "credential",
                (
                    "account",
                    "wrapped_key",
                    "key_version",
                    "password_ct",
                    "set_at",
                    "rotation_due",
                    "rotation_due_reason",
                    "version",
                ),
                [
                    (account_ids[f"bench_{n}_{a}"], "bench", 1, "bench", now, False, "", 1)
                    for n in range(LEAVERS)
                    for a in range(ACCOUNTS_EACH)
                ],
            )
            await bulk_insert(
                "connection_import",
                (
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
                    "imported_at",
                ),
                [
                    (
                        i,
                        uuid.uuid4().hex * 2,
                        "Connections.csv",
                        "with_url",
                        CONNECTIONS_EACH,
                        CONNECTIONS_EACH,
                        0,
                        0,
                        0,
                        0,
                        0,
                        now,
                    )
                    for i in ids
                ],
            )
            imports = {
                r["employee"]: r["id"]
                for r in await fetch('SELECT "id", "employee" FROM "connection_import"')
            }
            batch: list[tuple[Any, ...]] = []
            for n, i in enumerate(ids):
                for c in range(CONNECTIONS_EACH):
                    batch.append(
                        (
                            i,
                            f"First{c}",
                            f"Last{n}",
                            f"https://www.linkedin.com/in/b-{n}-{c}",
                            "",
                            "Acme",
                            "Buyer",
                            start + dt.timedelta(days=c % 1500),
                            imports[i],
                            "held",
                        )
                    )
                if len(batch) >= 50_000:
                    await _connections(bulk_insert, batch)
                    batch = []
            await _connections(bulk_insert, batch)
        engine = get_engine()
        await engine.run_ddl("ANALYZE")
        if not is_postgres():
            await engine.run_ddl("PRAGMA wal_checkpoint(TRUNCATE)")
        counted = await fetch('SELECT COUNT(*) AS "n" FROM "connection"')
    print(json.dumps({"leavers": ids, "connections": int(counted[0]["n"])}))


async def _connections(bulk_insert: Any, rows: list[tuple[Any, ...]]) -> None:
    await bulk_insert(
        "connection",
        (
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
        ),
        rows,
    )


def _multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, content) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _bulk_start(url: str, token: str) -> tuple[float, dict[str, Any]]:
    """POST the restructuring's CSV once; (seconds, answer)."""
    csv_text = "work_email,successor_email,personal_email\n" + "".join(
        f"{leaver_email(n)},{SUCCESSOR},personal{n}@gmail.example\n" for n in range(LEAVERS)
    )
    body, content_type = _multipart({"open": "true"}, {"file": ("leavers.csv", csv_text.encode())})
    request = urllib.request.Request(
        url + "/api/v1/handovers/bulk",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=300) as resp:
            answer = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise BenchError(f"bulk start: {exc.code} {exc.read()[:500]!r}") from exc
    return time.perf_counter() - started, answer


def _footprints(url: str, token: str, ids: list[int], count: int) -> dict[str, float]:
    """GET the footprint of `count` leavers one at a time; latency in ms."""
    times = []
    for n in range(count):
        started = time.perf_counter()
        status, answer = http_get(f"{url}/api/v1/employees/{ids[n % len(ids)]}/footprint", token)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200 or len(answer["accounts"]) != ACCOUNTS_EACH:
            raise BenchError(f"footprint: {status} {str(answer)[:300]}")
    times.sort()
    return {
        "count": count,
        "median": round(statistics.median(times), 2),
        "p95": round(times[max(int(len(times) * 0.95) - 1, 0)], 2),
        "max": round(times[-1], 2),
    }


def _bench_database(report: Report, kind: str, config: BenchConfig) -> None:
    db: BenchDatabase = prepare_database(kind, config)
    log(
        f"{kind}: seeding {LEAVERS} leavers x {ACCOUNTS_EACH} accounts, {CONNECTIONS_EACH:,} connections each"
    )
    seeded = json.loads(db.python("-m", "bench.handovers", "seed").strip().splitlines()[-1])
    if seeded["connections"] != LEAVERS * CONNECTIONS_EACH:
        raise BenchError(f"{kind}: seeded {seeded['connections']} connections")
    ids = seeded["leavers"]
    with db.server(free_port(), config.workers).start() as real:
        _footprints(real.url, db.token, ids, 10)  # warm the statement caches
        footprint = _footprints(real.url, db.token, ids, FOOTPRINTS)
        log(f"{kind}: footprint median {footprint['median']} ms, p95 {footprint['p95']} ms")
        seconds, answer = _bulk_start(real.url, db.token)
        if answer.get("started") != LEAVERS:
            raise BenchError(f"bulk start: {str(answer)[:300]}")
        status, page = http_get(
            f"{real.url}/api/v1/handovers/{answer['handover_ids'][0]}", db.token
        )
        items = len(page.get("items", [])) if status == 200 else 0
        log(f"{kind}: {LEAVERS} handovers started in {seconds:.2f} s ({items} items each)")
    report.extra.setdefault("footprint_ms", {})[kind] = footprint
    report.extra.setdefault("bulk_start", {})[kind] = {
        "handovers": LEAVERS,
        "seconds": round(seconds, 2),
        "items_each": items,
    }
    report.targets.append(
        Target(
            kind,
            "bulk_start_200",
            f"< {START_LIMIT_S:g} s",
            seconds * 1000,
            START_LIMIT_S * 1000,
            seconds < START_LIMIT_S,
        )
    )
    report.targets.append(
        Target(
            kind,
            "footprint",
            f"p95 < {FOOTPRINT_P95_MS:g} ms",
            footprint["p95"],
            FOOTPRINT_P95_MS,
            footprint["p95"] < FOOTPRINT_P95_MS,
        )
    )


def markdown(report: Report, meta: dict[str, Any]) -> str:
    """The report as markdown."""
    starts = [
        [kind, s["handovers"], s["items_each"], f"{s['seconds']:.2f}"]
        for kind, s in report.extra.get("bulk_start", {}).items()
    ]
    prints = [
        [kind, f["count"], f"{f['median']:.2f}", f"{f['p95']:.2f}", f"{f['max']:.2f}"]
        for kind, f in report.extra.get("footprint_ms", {}).items()
    ]
    return "\n".join(
        [
            f"## Handovers benchmark ({meta['when']}, commit {meta['commit'] or '?'})\n",
            f"{meta['machine']}; {LEAVERS} leavers with {ACCOUNTS_EACH} accounts (custodian, MFA "
            f"holder, recovery e-mail, a grant, a credential) and {CONNECTIONS_EACH:,} connections "
            f"each; load average at start {meta['load_average_at_start']}.\n",
            "Starting the restructuring (one POST /api/v1/handovers/bulk, opened at once):\n",
            md_table(["database", "handovers", "items each", "seconds"], starts),
            "Footprint of one leaver, one request at a time (ms):\n",
            md_table(["database", "requests", "median", "p95", "max"], prints),
            *targets_and_notes(report, lambda t: f"{t.value:.1f} ms", what="what"),
        ]
    )


def run(config: BenchConfig) -> Report:
    """The bulk start and the footprint, on every database."""
    report = Report(scenario="handovers")
    databases = databases_to_measure(config, report)
    for kind in databases:
        _bench_database(report, kind, config)
    return report


def main(argv: list[str]) -> int:
    """`python -m bench.handovers seed` (sizes from BENCH_LEAVERS, BENCH_CONNECTIONS_EACH)."""
    if argv == ["seed"]:
        asyncio.run(seed())
        return 0
    print("usage: python -m bench.handovers seed", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
