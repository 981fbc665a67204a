"""The core scenario: one employee and a filtered page of 50, real server against two baselines.

`python -m bench.core seed COUNT` (with the register's environment) fills the staff directory;
`run()` is the scenario that bench/run.py calls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from bench.common import (
    MEASURED_COLUMNS,
    ROOT,
    BenchConfig,
    BenchDatabase,
    BenchError,
    Report,
    Server,
    Target,
    WrkResult,
    cpu_ratio,
    databases_to_measure,
    free_port,
    http_get,
    log,
    md_table,
    measure_cell,
    measured_cells,
    median_row,
    paired_ratios,
    prepare_database,
    rps_ratio,
    run_conditions,
    server_argv,
    targets_and_notes,
)

EMPLOYEES = int(os.environ.get("BENCH_EMPLOYEES", "100000"))
RATIO_TARGET = 0.4
P99_TARGET_MS = 50.0
# See bench/apps.py; `sync` is the faster, so the stricter, baseline on this machine.
SQLITE_MODE = os.environ.get("BENCH_SQLITE_MODE", "sync")

# Department -> relative headcount, roughly a mid-sized company.
DEPARTMENTS = {
    "Engineering": 18,
    "Sales": 12,
    "Customer Support": 10,
    "Operations": 8,
    "Marketing": 6,
    "Product": 5,
    "Finance": 4,
    "Human Resources": 4,
    "IT": 4,
    "Data & Analytics": 4,
    "Design": 3,
    "Research": 3,
    "Quality Assurance": 3,
    "Security": 2,
    "Legal": 2,
    "Procurement": 2,
    "Facilities": 2,
    "Communications": 2,
    "Partnerships": 1,
    "Executive Office": 1,
}
TITLES = (
    "Associate",
    "Specialist",
    "Senior Specialist",
    "Analyst",
    "Coordinator",
    "Lead",
    "Principal",
)
FIRST = (
    "Anna Ben Chloé David Elif Farid Grace Hannah Ivan Jana Kai Lena Marco Nadia Oliver Priya Quentin "
    "Rosa Samir Tanja Umar Vera Wei Ximena Yusuf Zoe Aiko Bruno Carmen Dmitri Emma Felix Greta Hugo "
    "Ines Jonas Karin Luca Maya Niklas Olga Paul Rania Sven Tomás Ulla Viktor Wiebke Yara Zeynep"
).split()
LAST = (
    "Müller Schmidt Nguyen García Rossi Kowalski Jensen Okafor Haddad Svensson Novak Dubois Tanaka Silva "
    "Meyer Fischer Weber Wagner Becker Hoffmann Schäfer Koch Richter Klein Wolf Schröder Neumann Braun "
    "Zimmermann Krüger Hartmann Lange Schmitt Werner Krause Meier Lehmann Huber Kaiser Fuchs Peters Lang "
    "Scholz Möller Weiß Jung Hahn Vogel Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz"
).split()

EMPLOYEE_COLUMNS = (
    "id",
    "name",
    "work_email",
    "department",
    "job_title",
    "manager",
    "start_date",
    "leaving_date",
    "status",
    "version",
    "created_at",
    "updated_at",
)
ENDPOINTS = {
    "get_one": ("/api/v1/employees/{id}", "GET one employee"),
    "list_50": ("/api/v1/employees?department={choice}&limit=50", "list 50 by department"),
}


def _ascii(name: str) -> str:
    return name.lower().translate(
        str.maketrans(
            {"ü": "ue", "ö": "oe", "ä": "ae", "ß": "ss", "é": "e", "á": "a", "ç": "c", "ñ": "n"}
        )
    )


def employee_rows(count: int, seed: int = 2) -> Iterator[tuple[Any, ...]]:
    """`count` employees: department heads, team leads, then staff, each managed by an earlier id."""
    rnd = random.Random(seed)
    today = dt.date.today()
    stamp = dt.datetime.now(dt.UTC)
    names = list(DEPARTMENTS)
    weights = list(DEPARTMENTS.values())
    emails: dict[str, int] = {}
    heads: dict[str, int] = {}
    leads: dict[str, list[int]] = {d: [] for d in names}
    n_leads = max(len(names), count // 25)
    for i in range(1, count + 1):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        local = f"{_ascii(first)}.{_ascii(last)}"
        emails[local] = emails.get(local, 0) + 1
        email = f"{local}{emails[local] if emails[local] > 1 else ''}@example.com"
        if i <= len(names):
            department, title = names[i - 1], "Head of " + names[i - 1]
            manager = 1 if i > 1 else None
            heads[department] = i
        elif i <= len(names) + n_leads:
            department, title = rnd.choices(names, weights)[0], "Team Lead"
            manager = heads[department]
            leads[department].append(i)
        else:
            department, title = rnd.choices(names, weights)[0], rnd.choice(TITLES)
            manager = rnd.choice(leads[department] or [heads[department]])
        start = today - dt.timedelta(days=rnd.randint(30, 15 * 365))
        roll = rnd.random()
        if roll < 0.03:
            leaving, status = today + dt.timedelta(days=rnd.randint(1, 60)), "leaving"
        elif roll < 0.08:
            leaving, status = today - dt.timedelta(days=rnd.randint(1, 700)), "left"
            start = min(start, leaving - dt.timedelta(days=30))
        else:
            leaving, status = None, "active"
        yield (
            i,
            f"{first} {last}",
            email,
            department,
            f"{title}" if title.startswith(("Head", "Team")) else f"{title}, {department}",
            manager,
            start,
            leaving,
            status,
            1,
            stamp,
            stamp,
        )


async def seed(count: int) -> None:
    """Bulk-insert `count` employees into the database of the register's environment, then ANALYZE."""
    from register.db import bulk_insert, get_engine, is_postgres, write_transaction
    from register.runtime import runtime
    from register.settings import Settings

    async with runtime(Settings.from_env(), announce=False):
        rows = list(employee_rows(count))
        async with write_transaction():
            for start in range(0, len(rows), 20_000):
                await bulk_insert("employee", EMPLOYEE_COLUMNS, rows[start : start + 20_000])
        engine = get_engine()
        if is_postgres():
            # Ids were given explicitly; move the sequence past them for later inserts.
            await engine.run_ddl(
                "SELECT setval(pg_get_serial_sequence('employee', 'id'), (SELECT max(id) FROM employee))"
            )
            await engine.run_ddl("ANALYZE")
        else:
            await engine.run_ddl("ANALYZE")
            await engine.run_ddl("PRAGMA wal_checkpoint(TRUNCATE)")
        counted = await engine.run_ddl('SELECT count(*) AS n FROM "employee"')
    print(counted[0]["n"])


def _check_same_answers(real: Server, raw: Server, token: str) -> None:
    """The raw baseline must answer the same requests with the same JSON shape as the register."""
    for path in (
        "/api/v1/employees/1",
        f"/api/v1/employees?department={quote('Data & Analytics', safe='')}&limit=50",
    ):
        real_status, real_body = http_get(real.url + path, token)
        raw_status, raw_body = http_get(raw.url + path)
        if real_status != 200 or raw_status != 200:
            raise BenchError(
                f"GET {path}: register {real_status} {str(real_body)[:300]}, raw {raw_status} {str(raw_body)[:300]}"
            )
        if isinstance(real_body, dict) and "items" in real_body:
            if len(real_body["items"]) != 50 or [e["id"] for e in real_body["items"]] != [
                e["id"] for e in raw_body["items"]
            ]:
                raise BenchError(
                    f"GET {path}: the register and the raw baseline list different employees"
                )
            real_body, raw_body = real_body["items"][0], raw_body["items"][0]
        if set(real_body) != set(raw_body) or real_body["id"] != raw_body["id"]:
            raise BenchError(
                f"GET {path}: answers differ: register {sorted(real_body)}, raw {sorted(raw_body)}"
            )


def _raw_server(kind: str, env: dict[str, str], config: BenchConfig) -> Server:
    port = free_port()
    return Server(
        f"raw-{kind}",
        server_argv("bench.apps:create_raw_app", port, config.workers, factory=True),
        env,
        port,
    )


def _bench_database(report: Report, kind: str, config: BenchConfig) -> None:
    db: BenchDatabase = prepare_database(kind, config)
    log(f"{kind}: seeding {EMPLOYEES:,} employees")
    seeded = int(db.python("-m", "bench.core", "seed", str(EMPLOYEES)).strip().splitlines()[-1])
    if seeded != EMPLOYEES:
        raise BenchError(f"{kind}: seeded {seeded} employees, expected {EMPLOYEES}")
    values = {"get_one": [str(EMPLOYEES)], "list_50": [quote(d, safe="") for d in DEPARTMENTS]}
    raw_env = db.env | {"BENCH_RAW_DATABASE_URL": db.url, "BENCH_SQLITE_MODE": SQLITE_MODE}
    with (
        db.server(free_port(), config.workers).start() as real,
        _raw_server(kind, raw_env, config).start() as raw,
    ):
        _check_same_answers(real, raw, db.token)
        results: dict[tuple[str, str], list[WrkResult]] = {}
        # Interleaved, so a drift of the machine during the run hits both apps alike.
        for round_no in range(1, config.rounds + 1):
            for endpoint in ENDPOINTS:
                for app, server in (("register", real), ("raw", raw)):
                    label = f"{kind} round {round_no}/{config.rounds}: {app} {endpoint}"
                    results.setdefault((endpoint, app), []).append(
                        measure_cell(
                            server,
                            label,
                            ENDPOINTS[endpoint][0],
                            values[endpoint],
                            token=db.token,
                            config=config,
                        )
                    )
    for (endpoint, app), cell in results.items():
        report.rows.append(median_row(kind, endpoint, app, cell))
    for endpoint in ENDPOINTS:
        report.extra.setdefault("paired_ratios", {})[f"{kind}/{endpoint}"] = paired_ratios(
            results[(endpoint, "register")], results[(endpoint, "raw")]
        )


def _targets(report: Report) -> None:
    """Ratios against both baselines, and PASS/FAIL per target."""
    cells = {(r.database, r.endpoint, r.app): r.result for r in report.rows if r.result}
    hello = cells.get(("-", "hello", "hello"))
    ratios: list[dict[str, Any]] = []
    for database in dict.fromkeys(r.database for r in report.rows if r.database != "-"):
        for endpoint in ENDPOINTS:
            real, raw = (
                cells.get((database, endpoint, "register")),
                cells.get((database, endpoint, "raw")),
            )
            if not real or not raw:
                continue
            paired = report.extra.get("paired_ratios", {}).get(f"{database}/{endpoint}")
            ratio_raw = rps_ratio(paired, real, raw)
            ratio_hello = real.rps / hello.rps if hello and hello.rps else None
            ratios.append(
                {
                    "database": database,
                    "endpoint": endpoint,
                    "real_over_raw": round(ratio_raw, 3),
                    "real_over_hello": None if ratio_hello is None else round(ratio_hello, 3),
                    "cpu_raw_over_real": cpu_ratio(real, raw),
                }
            )
            clean = real.failed_requests == 0 and raw.failed_requests == 0
            report.targets.append(
                Target(
                    database,
                    endpoint,
                    f"rps >= {RATIO_TARGET}x raw driver",
                    round(ratio_raw, 3),
                    RATIO_TARGET,
                    clean and ratio_raw >= RATIO_TARGET,
                    "" if clean else "failed requests during the run",
                )
            )
            p99 = real.latency_ms["p99"]
            report.targets.append(
                Target(
                    database,
                    endpoint,
                    f"p99 < {P99_TARGET_MS:g} ms",
                    p99,
                    P99_TARGET_MS,
                    clean and p99 < P99_TARGET_MS,
                    "" if clean else "failed requests during the run",
                )
            )
    report.extra["ratios"] = ratios


def markdown(report: Report, meta: dict[str, Any]) -> str:
    """The report as markdown: measurements, ratios, targets."""
    ratio_of = {(r["database"], r["endpoint"]): r for r in report.extra.get("ratios", [])}
    rows = []
    for row in report.rows:
        ratio = ratio_of.get((row.database, row.endpoint)) if row.app == "register" else None
        hello = ratio["real_over_hello"] if ratio else None
        rows.append(
            [
                *measured_cells(row, ratio),
                f"{hello:.2f}x" if hello is not None else "",
                row.note,
            ]
        )
    out = [
        f"## Core benchmark ({meta['when']}, commit {meta['commit'] or '?'})\n",
        f"{run_conditions(meta, SQLITE_MODE)}; {EMPLOYEES:,} employees.\n",
        md_table(
            [*MEASURED_COLUMNS, "real/hello", "note"],
            rows,
        ),
        *targets_and_notes(
            report,
            lambda t: f"{t.value:.2f}x" if "raw" in t.description else f"{t.value:.1f} ms",
        ),
    ]
    return "\n".join(out)


def run(config: BenchConfig) -> Report:
    """Hello-world once, then register and raw driver on every database."""
    report = Report(scenario="core")
    report.notes += [
        "register: `register serve` with a bearer token (admin); raw: Litestar + the driver, same SQL, "
        "same JSON shape, no auth, no middleware; hello: Litestar returning a constant JSON object.",
        "server CPU us/req: CPU time of the server's processes per request during the measured run "
        "(steadier than rps when the machine does other work); PostgreSQL's own processes are not included.",
        "real/raw is the median of per-round rps ratios when there are several rounds; raw/real CPU "
        "is the ratio of server CPU per request, what real/raw would be if the server process alone "
        "were the bottleneck.",
        "p99 at 64 connections is mostly throughput: by Little's law the mean latency is 64/rps, so "
        "p99 < 50 ms needs roughly 2,000+ rps from the server; on a two-core machine the server, "
        "PostgreSQL and wrk share the same cores, so the raw baselines themselves may miss it.",
    ]
    databases = databases_to_measure(
        config,
        report,
        ENDPOINTS,
        [
            (e, what)
            for e in ENDPOINTS
            for what in (f"rps >= {RATIO_TARGET}x raw driver", f"p99 < {P99_TARGET_MS:g} ms")
        ],
    )
    port = free_port()
    hello_env = dict(os.environ, PYTHONPATH=str(ROOT))
    with Server(
        "hello", server_argv("bench.apps:hello_app", port, config.workers), hello_env, port
    ).start() as hello:
        cell = [
            measure_cell(hello, "hello-world: hello", "/", [], token=None, config=config)
            for _ in range(config.rounds)
        ]
    report.rows.insert(0, median_row("-", "hello", "hello", cell))
    for kind in databases:
        _bench_database(report, kind, config)
    _targets(report)
    return report


def main(argv: list[str]) -> int:
    """`python -m bench.core seed COUNT`."""
    if len(argv) == 2 and argv[0] == "seed":
        asyncio.run(seed(int(argv[1])))
        return 0
    print("usage: python -m bench.core seed COUNT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
