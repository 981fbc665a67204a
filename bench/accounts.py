"""The account register scenario: the filtered account list and the risk report under load.

Issue 3's target: with 10,000 accounts and 100,000 grants, both keep p95 < 50 ms at 64
connections on SQLite and PostgreSQL, and the list reaches >= 0.4x the raw-driver baseline
(bench/accounts_raw.py) for the same query. `python -m bench.accounts seed` (with the register's
environment) fills the register; `run()` is the scenario that bench/run.py calls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import sys
from collections.abc import Iterator
from typing import Any

from bench.common import (
    MEASURED_COLUMNS,
    BenchConfig,
    BenchDatabase,
    BenchError,
    Report,
    Server,
    Target,
    WrkResult,
    cpu_ratio,
    databases_to_measure,
    fmt,
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
    same_page,
    server_argv,
    targets_and_notes,
    unloaded,
)
from bench.core import DEPARTMENTS, EMPLOYEE_COLUMNS, employee_rows

EMPLOYEES = int(os.environ.get("BENCH_ACCOUNT_EMPLOYEES", "2000"))
ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "10000"))
GRANTS = int(os.environ.get("BENCH_GRANTS", "100000"))
CREDENTIALS = int(os.environ.get("BENCH_CREDENTIALS", "4000"))
P95_TARGET_MS = 50.0
# The floor reads accounts 1 to FLOOR_IDS: existing rows, few enough to stay in cache.
FLOOR_IDS = 1000
RATIO_TARGET = 0.4
SQLITE_MODE = os.environ.get("BENCH_SQLITE_MODE", "sync")

# Platform -> relative number of accounts; each has well over a page of active accounts.
PLATFORMS = {
    "linkedin_page": 14,
    "linkedin_profile": 10,
    "x": 14,
    "facebook_page": 10,
    "instagram": 12,
    "youtube": 8,
    "tiktok": 7,
    "threads": 5,
    "bluesky": 5,
    "mastodon": 4,
    "pinterest": 4,
    "other": 7,
}
STATUSES = {"active": 80, "dormant": 8, "suspended": 3, "compromised": 1, "retired": 8}
MFA = {"none": 10, "sms": 15, "authenticator_app": 45, "hardware_key": 15, "platform_app": 15}
LEVELS = {"owner": 3, "admin": 15, "editor": 40, "analyst": 22, "viewer": 20}
ENDPOINTS = {
    "list_50": (
        "/api/v1/accounts?platform={choice}&status=active&limit=50",
        "filtered account list (platform, active), 50 with findings",
    ),
    "risks_50": ("/api/v1/accounts/risks?limit=50", "risk report, 50 with totals"),
    "floor": (
        "/floor/{id}",
        f"raw app only: one account by primary key (ids 1 to {FLOOR_IDS:,}), the cheapest "
        "database read",
    ),
}
# The endpoints the register serves and the targets are about; `floor` is the raw app's alone.
REGISTER_ENDPOINTS = ("list_50", "risks_50")

ACCOUNT_COLUMNS = (
    "id",
    "platform",
    "handle",
    "profile_url",
    "display_name",
    "purpose",
    "department",
    "status",
    "custodian",
    "backup_custodian",
    "login_identifier",
    "mfa_method",
    "mfa_holder",
    "recovery_email",
    "recovery_email_company_controlled",
    "recovery_phone",
    "recovery_phone_company_controlled",
    "post_approvers",
    "notes",
    "last_recertified_at",
    "version",
    "created_at",
    "updated_at",
    "retired_at",
)
GRANT_COLUMNS = (
    "id",
    "account",
    "employee",
    "level",
    "platform_role",
    "reason",
    "granted_by",
    "granted_at",
    "revoked_by",
    "revoked_at",
    "revoke_reason",
)
CREDENTIAL_COLUMNS = (
    "id",
    "account",
    "wrapped_key",
    "key_version",
    "password_ct",
    "totp_seed_ct",
    "recovery_codes_ct",
    "set_at",
    "set_by",
    "rotated_at",
    "rotated_by",
    "rotation_due",
    "rotation_due_reason",
    "rotation_due_since",
    "version",
)


def _pick(rnd: random.Random, weights: dict[str, int]) -> str:
    return rnd.choices(list(weights), list(weights.values()))[0]


def _ago(rnd: random.Random, now: dt.datetime, days: int) -> dt.datetime:
    return now - dt.timedelta(seconds=rnd.randint(3600, days * 86400))


def account_rows(count: int, employees: int, seed: int = 3) -> Iterator[tuple[Any, ...]]:
    """`count` accounts across platforms, statuses and departments; (platform, handle) unique."""
    rnd = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    departments = list(DEPARTMENTS)
    for i in range(1, count + 1):
        platform = _pick(rnd, PLATFORMS)
        department = rnd.choice(departments)
        slug = department.lower().replace(" & ", "-").replace(" ", "-")
        handle = f"acme-{slug}-{i}"
        status = _pick(rnd, STATUSES)
        custodian = rnd.randint(1, employees)
        backup = rnd.randint(1, employees) if rnd.random() < 0.7 else None
        if backup == custodian:
            backup = None
        mfa = _pick(rnd, MFA)
        holder = None if mfa == "none" else (custodian if rnd.random() < 0.8 else backup)
        personal = rnd.random() < 0.15
        email = f"{handle}@{'gmail.com' if personal else 'example.com'}"
        phone = f"+49 30 {rnd.randint(1000000, 9999999)}" if rnd.random() < 0.3 else ""
        created = _ago(rnd, now, 3 * 365)
        recertified = _ago(rnd, now, 365) if rnd.random() < 0.6 else None
        if recertified is not None and recertified < created:
            recertified = created
        yield (
            i,
            platform,
            handle,
            f"https://social.example/{platform}/{handle}",
            f"ACME {department} {i}",
            f"{department} announcements and community",
            department,
            status,
            custodian,
            backup,
            f"social+{i}@example.com",
            mfa,
            holder,
            email,
            not personal,
            phone,
            bool(phone) and rnd.random() < 0.5,
            "Head of Communications",
            "",
            recertified,
            1,
            created,
            created,
            created + dt.timedelta(days=30) if status == "retired" else None,
        )


def grant_rows(
    count: int, accounts: int, employees: int, seed: int = 4
) -> Iterator[tuple[Any, ...]]:
    """`count` grants spread over the accounts; about a quarter revoked."""
    rnd = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    for i in range(1, count + 1):
        granted = _ago(rnd, now, 3 * 365)
        revoked = granted + dt.timedelta(days=rnd.randint(1, 300)) if rnd.random() < 0.25 else None
        if revoked is not None and revoked > now:
            revoked = now
        yield (
            i,
            rnd.randint(1, accounts),
            rnd.randint(1, employees),
            _pick(rnd, LEVELS),
            "",
            "campaign work",
            1,
            granted,
            1 if revoked else None,
            revoked,
            "no longer needed" if revoked else "",
        )


def credential_rows(count: int, accounts: int, seed: int = 5) -> Iterator[tuple[Any, ...]]:
    """`count` credentials (no ciphertext: the benchmark never reveals), some due for rotation."""
    rnd = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    for i, account in enumerate(sorted(rnd.sample(range(1, accounts + 1), count)), start=1):
        set_at = _ago(rnd, now, 2 * 365)
        rotated = _ago(rnd, now, 300) if rnd.random() < 0.5 else None
        due = rnd.random() < 0.1
        yield (
            i,
            account,
            "bench-not-a-real-wrapped-key",
            1,
            None,
            None,
            None,
            set_at,
            1,
            rotated,
            1 if rotated else None,
            due,
            "a grant was revoked" if due else "",
            now - dt.timedelta(days=3) if due else None,
            1,
        )


async def seed() -> None:
    """Bulk-insert employees, accounts, grants and credentials, then ANALYZE; print the counts."""
    from register.db import bulk_insert, get_engine, is_postgres, write_transaction
    from register.runtime import runtime
    from register.settings import Settings

    tables = (
        ("employee", EMPLOYEE_COLUMNS, list(employee_rows(EMPLOYEES))),
        ("social_account", ACCOUNT_COLUMNS, list(account_rows(ACCOUNTS, EMPLOYEES))),
        ("access_grant", GRANT_COLUMNS, list(grant_rows(GRANTS, ACCOUNTS, EMPLOYEES))),
        ("credential", CREDENTIAL_COLUMNS, list(credential_rows(CREDENTIALS, ACCOUNTS))),
    )
    async with runtime(Settings.from_env(), announce=False):
        async with write_transaction():
            for table, columns, rows in tables:
                for start in range(0, len(rows), 20_000):
                    await bulk_insert(table, columns, rows[start : start + 20_000])
        engine = get_engine()
        if is_postgres():
            # Ids were given explicitly; move the sequences past them for later inserts.
            for table, _, _ in tables:
                await engine.run_ddl(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM \"{table}\"))"
                )
            await engine.run_ddl("ANALYZE")
        else:
            await engine.run_ddl("ANALYZE")
            await engine.run_ddl("PRAGMA wal_checkpoint(TRUNCATE)")
        counts = []
        for table, _, _ in tables:
            counted = await engine.run_ddl(f'SELECT count(*) AS n FROM "{table}"')
            counts.append(str(counted[0]["n"]))
    print(" ".join(counts))


# ---------------------------------------------------------------- the scenario


def _path(endpoint: str) -> str:
    """The endpoint's path with one fixed value in its placeholder."""
    return ENDPOINTS[endpoint][0].replace("{choice}", "instagram").replace("{id}", "1")


def _values(endpoint: str) -> list[str]:
    """wrk's values for the endpoint's placeholder: the platforms, or the highest id to draw."""
    path = ENDPOINTS[endpoint][0]
    if "{choice}" in path:
        return list(PLATFORMS)
    return [str(min(FLOOR_IDS, ACCOUNTS))] if "{id}" in path else []


def _check_same_answers(real: Server, raw: Server, token: str) -> None:
    """The raw baseline must list the same accounts with the same findings and JSON shape."""
    path = _path("list_50")
    real_items, raw_items = same_page(real, raw, path, token)
    if len(real_items) != 50:
        raise BenchError(f"GET {path}: {len(real_items)} accounts, expected a full page of 50")
    for mine, theirs in zip(real_items, raw_items, strict=True):
        if mine["risks"] != theirs["risks"]:
            raise BenchError(
                f"GET {path}: findings of account {mine['id']} differ: {mine['risks']} vs {theirs['risks']}"
            )
    status, report = http_get(real.url + ENDPOINTS["risks_50"][0], token)
    if status != 200 or len(report.get("items", [])) != 50 or not report.get("totals"):
        raise BenchError(f"risk report: {status} {str(report)[:300]}")
    status, row = http_get(raw.url + _path("floor"))
    if status != 200 or row["id"] != 1:
        raise BenchError(f"raw floor: {status} {str(row)[:300]}")


def _bench_database(report: Report, kind: str, config: BenchConfig) -> None:
    db: BenchDatabase = prepare_database(kind, config)
    log(f"{kind}: seeding {EMPLOYEES:,} employees, {ACCOUNTS:,} accounts, {GRANTS:,} grants")
    counts = db.python("-m", "bench.accounts", "seed").strip().splitlines()[-1].split()
    expected = [EMPLOYEES, ACCOUNTS, GRANTS, CREDENTIALS]
    if [int(c) for c in counts] != expected:
        raise BenchError(f"{kind}: seeded {counts}, expected {expected}")
    raw_env = db.env | {"BENCH_RAW_DATABASE_URL": db.url, "BENCH_SQLITE_MODE": SQLITE_MODE}
    raw_port = free_port()
    raw_argv = server_argv("bench.accounts_raw:create_app", raw_port, config.workers, factory=True)
    with (
        db.server(free_port(), config.workers).start() as real,
        Server(f"accounts-raw-{kind}", raw_argv, raw_env, raw_port).start() as raw,
    ):
        _check_same_answers(real, raw, db.token)
        cells: list[tuple[str, str, Server, str | None]] = [
            ("list_50", "register", real, db.token),
            ("list_50", "raw", raw, None),
            ("risks_50", "register", real, db.token),
            ("floor", "raw", raw, None),
        ]
        for endpoint, app, server, token in cells:
            report.extra.setdefault("unloaded_ms", {})[f"{kind}/{endpoint}/{app}"] = unloaded(
                server, [_path(endpoint)], token
            )
        results: dict[tuple[str, str], list[WrkResult]] = {}
        # Interleaved, so a drift of the machine during the run hits every cell alike.
        for round_no in range(1, config.rounds + 1):
            for endpoint, app, server, token in cells:
                results.setdefault((endpoint, app), []).append(
                    measure_cell(
                        server,
                        f"{kind} round {round_no}/{config.rounds}: {app} {endpoint}",
                        ENDPOINTS[endpoint][0],
                        _values(endpoint),
                        token=token,
                        config=config,
                    )
                )
    for (endpoint, app), cell in results.items():
        row = median_row(kind, endpoint, app, cell)
        if row.result and not row.result.requests:
            row.note = f"no request completed within {config.duration}s"
        report.rows.append(row)
    report.extra.setdefault("paired_ratios", {})[f"{kind}/list_50"] = paired_ratios(
        results[("list_50", "register")], results[("list_50", "raw")]
    )


def _targets(report: Report, databases: list[str]) -> None:
    """p95 of both endpoints and the list's ratio to raw, PASS/FAIL per database."""
    cells = {(r.database, r.endpoint, r.app): r.result for r in report.rows if r.result}
    ratios = []
    for database in databases:
        for endpoint in REGISTER_ENDPOINTS:
            real = cells.get((database, endpoint, "register"))
            if real is None:
                continue
            clean = real.failed_requests == 0
            if not real.requests:
                # Every request outlived the run: p95 is beyond the run's length, not zero.
                report.targets.append(
                    Target(
                        database,
                        endpoint,
                        f"p95 < {P95_TARGET_MS:g} ms",
                        None,
                        P95_TARGET_MS,
                        False,
                        "no request completed within the run",
                    )
                )
                continue
            p95 = real.latency_ms["p95"]
            report.targets.append(
                Target(
                    database,
                    endpoint,
                    f"p95 < {P95_TARGET_MS:g} ms",
                    p95,
                    P95_TARGET_MS,
                    clean and p95 < P95_TARGET_MS,
                    "" if clean else "failed requests during the run",
                )
            )
        real, raw = (
            cells.get((database, "list_50", "register")),
            cells.get((database, "list_50", "raw")),
        )
        if real and raw:
            paired = report.extra.get("paired_ratios", {}).get(f"{database}/list_50")
            ratio = rps_ratio(paired, real, raw)
            ratios.append(
                {
                    "database": database,
                    "endpoint": "list_50",
                    "real_over_raw": round(ratio, 3),
                    "cpu_raw_over_real": cpu_ratio(real, raw),
                }
            )
            clean = real.failed_requests == 0 and raw.failed_requests == 0
            report.targets.append(
                Target(
                    database,
                    "list_50",
                    f"rps >= {RATIO_TARGET}x raw driver",
                    round(ratio, 3),
                    RATIO_TARGET,
                    clean and ratio >= RATIO_TARGET,
                    "" if clean else "failed requests during the run",
                )
            )
    report.extra["ratios"] = ratios


def markdown(report: Report, meta: dict[str, Any]) -> str:
    """The report as markdown: measurements, the list's ratio to raw, targets."""
    ratio_of = {(r["database"], r["endpoint"]): r for r in report.extra.get("ratios", [])}
    rows = [
        [
            *measured_cells(
                row,
                ratio_of.get((row.database, row.endpoint)) if row.app == "register" else None,
            ),
            row.note,
        ]
        for row in report.rows
    ]
    out = [
        f"## Account register benchmark ({meta['when']}, commit {meta['commit'] or '?'})\n",
        f"{run_conditions(meta, SQLITE_MODE)}; {ACCOUNTS:,} accounts, {GRANTS:,} grants, "
        f"{EMPLOYEES:,} employees, {CREDENTIALS:,} credentials.\n",
        "\n".join(f"- `{name}`: `{path}`, {what}" for name, (path, what) in ENDPOINTS.items())
        + "\n",
        md_table(
            [*MEASURED_COLUMNS, "note"],
            rows,
        ),
        "One request at a time before the load (median / max of 15, ms):\n",
        md_table(
            ["database", "endpoint", "app", "median ms", "max ms"],
            [
                [*key.split("/"), fmt(v["median"], 2), fmt(v["max"], 2)]
                for key, v in report.extra.get("unloaded_ms", {}).items()
            ],
        ),
        *targets_and_notes(
            report,
            lambda t: f"{t.value:.2f}x" if "raw" in t.description else f"{t.value:.1f} ms",
        ),
    ]
    return "\n".join(out)


def run(config: BenchConfig) -> Report:
    """Register and raw driver for the list, register for the risk report, on every database."""
    report = Report(scenario="accounts")
    report.notes += [
        "register: `register serve` with a bearer token (admin); raw (bench/accounts_raw.py): Litestar + "
        "the driver asking the same two statements as the register (the filtered page, then the risk "
        "findings of its 50 accounts with accounts.services' risk SQL), same JSON shape, no auth, no middleware. "
        "The risk report has no raw baseline; its target is latency only.",
        "floor (raw app only): one account by primary key through the same raw app, a random id "
        f"from 1 to {FLOOR_IDS:,} per request: the cheapest request that reads the database. Its "
        "p95 is this machine's floor for any request that reads the database at this many "
        "connections; no target.",
        "Seed: employees as in the core scenario (about 3% leaving, 5% left); accounts over 12 platforms "
        "(80% active, 8% retired), 70% with a backup custodian, 15% with a personal recovery e-mail; "
        "grants on random accounts and employees, 25% revoked; credentials without ciphertext, 10% rotation-due.",
        "server CPU us/req: CPU time of the server's processes per request during the measured run; "
        "PostgreSQL's own processes are not included. raw/real CPU is what real/raw would be if the "
        "server process alone were the bottleneck.",
        "p95 at 64 connections is mostly throughput: by Little's law the mean latency is 64/rps, so "
        "p95 < 50 ms needs roughly 1,500+ rps from the server (all its workers).",
    ]
    databases = databases_to_measure(
        config,
        report,
        REGISTER_ENDPOINTS,
        [(e, f"p95 < {P95_TARGET_MS:g} ms") for e in REGISTER_ENDPOINTS]
        + [("list_50", f"rps >= {RATIO_TARGET}x raw driver")],
    )
    for kind in databases:
        _bench_database(report, kind, config)
    _targets(report, databases)
    return report


def main(argv: list[str]) -> int:
    """`python -m bench.accounts seed` (sizes from BENCH_ACCOUNTS, BENCH_GRANTS ...)."""
    if argv == ["seed"]:
        asyncio.run(seed())
        return 0
    print("usage: python -m bench.accounts seed", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
