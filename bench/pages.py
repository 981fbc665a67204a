"""The pages scenario: the account list and an account's page against the JSON they mirror.

Issue 15's targets: the account list as a page reaches at least 0.5x the rate of the JSON list in
the same run, at 16 and at 64 connections; the account page answers within 50 ms p95 at 16
connections on SQLite. Both apps are the same `register serve`, signed in the same way (a browser
session cookie), so the ratio is what rendering the page costs over encoding the JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import urllib.request
from typing import Any

from bench import accounts
from bench.common import (
    BENCH_EMAIL,
    BENCH_PASSWORD,
    MEASURED_COLUMNS,
    BenchConfig,
    BenchDatabase,
    BenchError,
    Report,
    Server,
    Target,
    WrkResult,
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
    targets_and_notes,
    unloaded,
)

CONNECTIONS = tuple(int(c) for c in os.environ.get("BENCH_PAGE_CONNECTIONS", "16,64").split(","))
RATIO_TARGET = 0.5
P95_TARGET_MS = 50.0
P95_CONNECTIONS = 16
# Account pages are read for ids 1 to this: existing accounts, as a person opens them from a list.
ACCOUNT_IDS = 1000
ENDPOINTS = {
    "list_page": (
        "/accounts?platform={choice}&status=active",
        "the account list page (platform, active): 50 rows with holders by name and risks in words",
    ),
    "list_json": (
        "/api/v1/accounts?platform={choice}&status=active&limit=50",
        "the JSON list it mirrors: the same 50 accounts with their findings",
    ),
    "account_page": (
        "/accounts/{id}",
        f"an account's page (ids 1 to {ACCOUNT_IDS:,}): holders, grants, transfers, vault, risks",
    ),
    "account_json": ("/api/v1/accounts/{id}", "the JSON account it shows"),
}
# Page -> the JSON endpoint it mirrors (the same-run baseline).
PAIRS = {"list_page": "list_json", "account_page": "account_json"}


def _values(endpoint: str) -> list[str]:
    """wrk's values: the platforms for a list, the highest id for an account."""
    path = ENDPOINTS[endpoint][0]
    return list(accounts.PLATFORMS) if "{choice}" in path else [str(ACCOUNT_IDS)]


def _path(endpoint: str) -> str:
    """The endpoint with one fixed value in its placeholder."""
    return ENDPOINTS[endpoint][0].replace("{choice}", "instagram").replace("{id}", "1")


def _session_cookie(server: Server) -> str:
    """Sign in as a browser does; the session cookie as wrk's "cookie:NAME=VALUE"."""
    request = urllib.request.Request(
        server.url + "/api/v1/auth/login",
        data=json.dumps({"email": BENCH_EMAIL, "password": BENCH_PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        cookies = resp.headers.get_all("Set-Cookie") or []
    session = next((c.split(";")[0] for c in cookies if c.startswith("register_session=")), None)
    if not session:
        raise BenchError(f"sign-in set no session cookie: {cookies}")
    return f"cookie:{session}"


def _check_pages(server: Server, cookie: str) -> None:
    """The page lists the same 50 accounts as the JSON, and the account page is a page."""
    status, items = http_get(server.url + _path("list_json"), cookie)
    if status != 200 or len(items.get("items", [])) != 50:
        raise BenchError(f"GET {_path('list_json')}: {status} {str(items)[:300]}")
    status, html = http_get(server.url + _path("list_page"), cookie)
    if status != 200 or not isinstance(html, str):
        raise BenchError(f"GET {_path('list_page')}: {status} {str(html)[:300]}")
    missing = [a["handle"] for a in items["items"] if f'/accounts/{a["id"]}"' not in html]
    if missing:
        raise BenchError(f"the list page lacks accounts the JSON lists: {missing[:5]}")
    status, html = http_get(server.url + _path("account_page"), cookie)
    if status != 200 or "<h1>" not in html:
        raise BenchError(f"GET {_path('account_page')}: {status} {str(html)[:300]}")


def _bench_database(report: Report, kind: str, config: BenchConfig) -> None:
    db: BenchDatabase = prepare_database(kind, config)
    log(f"{kind}: seeding {accounts.ACCOUNTS:,} accounts, {accounts.GRANTS:,} grants")
    db.python("-m", "bench.accounts", "seed")
    with db.server(free_port(), config.workers).start() as server:
        cookie = _session_cookie(server)
        _check_pages(server, cookie)
        for endpoint in ENDPOINTS:
            report.extra.setdefault("unloaded_ms", {})[f"{kind}/{endpoint}"] = unloaded(
                server, [_path(endpoint)], cookie
            )
        for connections in CONNECTIONS:
            at = dataclasses.replace(config, connections=connections)
            results: dict[str, list[WrkResult]] = {}
            # Interleaved page and JSON, so a drift of the machine hits both alike.
            for round_no in range(1, config.rounds + 1):
                for endpoint in ENDPOINTS:
                    results.setdefault(endpoint, []).append(
                        measure_cell(
                            server,
                            f"{kind} c={connections} round {round_no}/{config.rounds}: {endpoint}",
                            ENDPOINTS[endpoint][0],
                            _values(endpoint),
                            token=cookie,
                            config=at,
                        )
                    )
            for endpoint, cell in results.items():
                row = median_row(kind, endpoint, f"register c={connections}", cell)
                if row.result and not row.result.requests:
                    row.note = f"no request completed within {config.duration}s"
                report.rows.append(row)
            for page, json_endpoint in PAIRS.items():
                key = f"{kind}/{page}/{connections}"
                report.extra.setdefault("paired_ratios", {})[key] = paired_ratios(
                    results[page], results[json_endpoint]
                )


def _targets(report: Report, databases: list[str]) -> None:
    """The list page's rate against the JSON list; the account page's p95 at 16 on SQLite."""
    cells = {(r.database, r.endpoint, r.app): r.result for r in report.rows if r.result}
    ratios = []
    for database in databases:
        for connections in CONNECTIONS:
            app = f"register c={connections}"
            for page, json_endpoint in PAIRS.items():
                mine, theirs = (
                    cells.get((database, page, app)),
                    cells.get((database, json_endpoint, app)),
                )
                if not (mine and theirs):
                    continue
                paired = report.extra["paired_ratios"].get(f"{database}/{page}/{connections}")
                ratio = rps_ratio(paired, mine, theirs)
                ratios.append((database, page, connections, ratio))
                if page == "list_page":
                    clean = mine.failed_requests == 0 and theirs.failed_requests == 0
                    report.targets.append(
                        Target(
                            database,
                            f"{page} c={connections}",
                            f"rps >= {RATIO_TARGET}x the JSON list",
                            round(ratio, 3),
                            RATIO_TARGET,
                            clean and ratio >= RATIO_TARGET,
                            "" if clean else "failed requests during the run",
                        )
                    )
        page = cells.get((database, "account_page", f"register c={P95_CONNECTIONS}"))
        if database == "sqlite" and page and page.requests:
            p95 = page.latency_ms["p95"]
            json_p95 = cells[
                (database, "account_json", f"register c={P95_CONNECTIONS}")
            ].latency_ms["p95"]
            report.targets.append(
                Target(
                    database,
                    f"account_page c={P95_CONNECTIONS}",
                    f"p95 < {P95_TARGET_MS:g} ms",
                    p95,
                    P95_TARGET_MS,
                    page.failed_requests == 0 and p95 < P95_TARGET_MS,
                    f"the JSON account in the same run: {json_p95:.1f} ms",
                )
            )
    report.extra["ratios"] = [
        {"database": d, "page": p, "connections": c, "page_over_json": round(r, 3)}
        for d, p, c, r in ratios
    ]


def markdown(report: Report, meta: dict[str, Any]) -> str:
    """The report as markdown: measurements, page/JSON ratios, targets."""
    rows = [[*measured_cells(row, None), row.note] for row in report.rows]
    out = [
        f"## Pages benchmark ({meta['when']}, commit {meta['commit'] or '?'})\n",
        f"{run_conditions(meta, accounts.SQLITE_MODE)}; {accounts.ACCOUNTS:,} accounts, "
        f"{accounts.GRANTS:,} grants, {accounts.EMPLOYEES:,} employees; connections "
        f"{', '.join(map(str, CONNECTIONS))}.\n",
        "\n".join(f"- `{name}`: `{path}`, {what}" for name, (path, what) in ENDPOINTS.items())
        + "\n",
        md_table([*MEASURED_COLUMNS, "note"], rows),
        "Page over the JSON it mirrors, same run (rps ratio, median of paired rounds):\n",
        md_table(
            ["database", "page", "connections", "page / JSON rps"],
            [
                [r["database"], r["page"], r["connections"], fmt(r["page_over_json"], 3)]
                for r in report.extra.get("ratios", [])
            ],
        ),
        "One request at a time before the load (median / max of 15, ms):\n",
        md_table(
            ["database", "endpoint", "median ms", "max ms"],
            [
                [*key.split("/"), fmt(v["median"], 2), fmt(v["max"], 2)]
                for key, v in report.extra.get("unloaded_ms", {}).items()
            ],
        ),
        *targets_and_notes(
            report,
            lambda t: f"{t.value:.2f}x" if "JSON" in t.description else f"{t.value:.1f} ms",
        ),
    ]
    return "\n".join(out)


def run(config: BenchConfig) -> Report:
    """Pages and their JSON on every database, at each number of connections."""
    report = Report(scenario="pages")
    report.notes += [
        "Both cells are the same `register serve`, signed in with a browser session cookie "
        "(POST /api/v1/auth/login); wrk sends the cookie with every request.",
        "The seed is the accounts scenario's (bench/accounts.py). A page's latency is the whole "
        "response (wrk), an upper bound on its first byte.",
    ]
    databases = databases_to_measure(config, report, ["*"])
    for kind in databases:
        _bench_database(report, kind, config)
    _targets(report, databases)
    return report
