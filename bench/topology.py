"""The topology scenario: the register behind HAProxy with 1 and 2 app processes, reads with and without a replica.

One PostgreSQL primary with a streaming replica (tests.peers.pgcluster), one `register worker`,
and `register serve` processes behind HAProxy, all on this machine (tests/topology/topology.py,
the same deployment the topology test runs). Measured in the same run, round by round:

- the mixed workload of the topology test (IT accounts and grants, HR people and connection
  imports, comms incidents worked to resolved, lists read) through HAProxy, with 1 and with 2
  app processes: requests/s and p50/p99, the 1-process cell the baseline;
- read-heavy endpoints driven by wrk through HAProxy (2 app processes) with the replica setting
  and without it, the no-replica cell the baseline;
- what the primary absorbs during the mixed workload: commits, rows written, audit events and
  WAL bytes per second (pg_stat_database, the audit table, pg_current_wal_lsn).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import (
    RUN_DIR,
    BenchConfig,
    Report,
    Row,
    WrkResult,
    fmt,
    log,
    md_table,
    run_wrk,
)
from tests.topology.topology import Receiver, Topology, seed
from tests.topology.workload import Workload

MIXED_USERS = {"it": 2, "hr": 1, "comms": 2, "readers": 2}
READ_PATHS = {
    "accounts list": ("it", "/api/v1/accounts?limit=50"),
    "incidents list": ("comms", "/api/v1/incidents?limit=50"),
    "staff search": ("hr", "/api/v1/employees?q=topology&limit=50"),
}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class _Loop:
    """An event loop in a thread: the webhook receiver lives there for the whole scenario."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def _cpu_seconds() -> dict[str, tuple[int, int, int]]:
    """(pid, ppid, process group, CPU ticks) of every process, by pid."""
    out: dict[str, tuple[int, int, int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        out[stat.parent.name] = (int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12]))
    return out


def _cpu(topo: Topology) -> dict[str, float]:
    """CPU seconds used so far by the app servers, the workers, the primary and the replica."""
    procs = _cpu_seconds()
    ticks = os.sysconf("SC_CLK_TCK")

    def group(leaders: list[int]) -> float:
        return sum(t for _, pgid, t in procs.values() if pgid in leaders) / ticks

    def postmaster(data_dir: Path) -> float:
        try:
            pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        # The postmaster and its live backends: the pools' connections live as long as the
        # servers, so they carry the work (a backend that ended is not counted).
        own = procs.get(str(pid), (0, 0, 0))[2]
        return (own + sum(t for ppid, _, t in procs.values() if ppid == pid)) / ticks

    return {
        "app": group([p.proc.pid for p in topo.servers if p.proc]),
        "workers": group([p.proc.pid for p in topo.workers if p.proc]),
        "primary": postmaster(topo.cluster.primary_dir),
        "replica": postmaster(topo.cluster.replica_dir),
    }


async def _sample_chain_lock(
    dsn: str, seconds: float, out: list[tuple[int, int]], holders: Counter[str]
) -> None:
    """Every 20 ms: whether a transaction holds the audit chain's lock, and how many wait for it."""
    import asyncpg

    from register.audit import CHAIN_LOCK_KEY

    # pg_locks shows a bigint advisory key as its high and low 32 bits.
    classid, objid = CHAIN_LOCK_KEY >> 32, CHAIN_LOCK_KEY & 0xFFFFFFFF
    conn = await asyncpg.connect(dsn)
    try:
        stop = time.monotonic() + seconds
        while time.monotonic() < stop:
            row = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE granted) AS held, "
                "count(*) FILTER (WHERE NOT granted) AS waiting FROM pg_locks "
                "WHERE locktype = 'advisory' AND classid = $1 AND objid = $2",
                classid,
                objid,
            )
            out.append((int(row["held"]), int(row["waiting"])))
            if row["held"]:
                # What the holder is doing while it holds the lock: where the hold time goes.
                holder = await conn.fetchval(
                    "SELECT coalesce(a.state, '') || ': ' || left(a.query, 70) FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                    "AND l.classid = $1 AND l.objid = $2 AND l.granted",
                    classid,
                    objid,
                )
                if holder:
                    holders[holder] += 1
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


def _mixed(topo: Topology, custodians: list[int], seconds: int) -> dict[str, Any]:
    """One run of the mixed workload; its throughput, latency and what the primary absorbed."""
    cpu_before = _cpu(topo)
    before = topo.primary_counters()
    wal_before = topo.sql("SELECT pg_current_wal_lsn()")
    work = Workload(topo.url, topo.tokens, custodians)
    samples: list[tuple[int, int]] = []
    holders: Counter[str] = Counter()

    async def both() -> None:
        await asyncio.gather(
            work.run(seconds, **MIXED_USERS),
            _sample_chain_lock(topo.cluster.primary_dsn, seconds, samples, holders),
        )

    started = time.monotonic()
    asyncio.run(both())
    elapsed = time.monotonic() - started
    after = topo.primary_counters()
    cpu = {k: v - cpu_before[k] for k, v in _cpu(topo).items()}
    wal = int(float(topo.sql(f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{wal_before}')")))
    latencies = work.latencies()
    writes = sum(
        1
        for c in work.calls
        if not c.error and c.label.split(".")[-1] not in ("list", "search", "risks", "tasks")
    )
    delta = {k: after[k] - before[k] for k in after}
    # The share of time someone held the audit chain's lock, and the appends it allowed: the
    # time one append holds it (to its transaction's commit) and the ceiling of one chain.
    busy = sum(held for held, _ in samples) / len(samples) if samples else 0.0
    appends = delta["audit_events"] / elapsed
    return {
        "requests": len(work.calls),
        "failed": len(work.errors),
        "seconds": round(elapsed, 2),
        "rps": round(len(work.calls) / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "http_writes_per_s": round(writes / elapsed, 1),
        "commits_per_s": round(delta["commits"] / elapsed, 1),
        "rows_written_per_s": round(
            (delta["inserted"] + delta["updated"] + delta["deleted"]) / elapsed, 1
        ),
        "audit_events_per_s": round(delta["audit_events"] / elapsed, 1),
        "wal_kb_per_s": round(wal / elapsed / 1024, 1),
        "chain_lock_busy": round(busy, 3),
        "chain_lock_waiters_mean": round(sum(w for _, w in samples) / len(samples), 2)
        if samples
        else 0.0,
        "chain_lock_waiters_max": max((w for _, w in samples), default=0),
        "chain_lock_hold_ms": round(busy / appends * 1000, 2) if appends else None,
        "chain_ceiling_per_s": round(appends / busy) if busy else None,
        "chain_lock_holders": dict(holders.most_common(8)),
        # CPU per HTTP request of each kind of process, in ms: what sizes the fleet.
        "cpu_ms_per_request": {
            k: round(v / len(work.calls) * 1000, 2) if work.calls else None for k, v in cpu.items()
        },
        "cpu_share": {k: round(v / elapsed, 2) for k, v in cpu.items()},
    }


def _reads(topo: Topology, config: BenchConfig) -> dict[str, WrkResult]:
    """wrk on each read-heavy endpoint through HAProxy (a bearer token, so no cookie pins it)."""
    out = {}
    for name, (role, path) in READ_PATHS.items():
        if config.warmup:
            run_wrk(
                topo.url, path, [], token=topo.tokens[role], config=config, duration=config.warmup
            )
        out[name] = run_wrk(
            topo.url, path, [], token=topo.tokens[role], config=config, duration=config.duration
        )
    return out


def run(config: BenchConfig) -> Report:
    """Mixed workload with 1 and 2 app processes, then reads with and without the replica."""
    report = Report("topology")
    folder = RUN_DIR / "topology"
    shutil.rmtree(folder, ignore_errors=True)
    loop = _Loop()
    receiver = loop.run(Receiver(delay=0.0).start())
    topo = Topology(servers=1, workers=1, replica=True, folder=folder)
    mixed: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    reads: dict[bool, list[dict[str, WrkResult]]] = {False: [], True: []}
    try:
        log("topology: starting primary + replica, migrating, 1 server, 1 worker, HAProxy")
        topo.start()
        custodians, _ = asyncio.run(seed(topo, receiver, "bench receiver"))
        # A first, unmeasured run fills the tables the lists read and warms every process.
        asyncio.run(
            Workload(topo.url, topo.tokens, custodians).run(config.warmup + 5, **MIXED_USERS)
        )
        for round_no in range(config.rounds):
            for servers in (1, 2):
                topo.reconfigure(servers=servers, replica=True)
                log(
                    f"topology round {round_no + 1}: mixed workload, {servers} app process(es), {config.duration}s"
                )
                cell = _mixed(topo, custodians, config.duration)
                log(f"  {cell['rps']} req/s, p99 {cell['p99_ms']} ms, {cell['failed']} failed")
                mixed[servers].append(cell)
            for replica in (False, True):
                topo.reconfigure(servers=2, replica=replica)
                topo.cluster.wait_caught_up()
                log(
                    f"topology round {round_no + 1}: reads, 2 app processes, replica {'on' if replica else 'off'}"
                )
                reads[replica].append(_reads(topo, config))
        nodes = topo.node_reads()
        report.extra["replica_reads_last_cell"] = {
            name: [r["reads"] for r in n.get("replicas", [])] for name, n in nodes.items()
        }
    finally:
        topo.close()
        loop.run(receiver.stop())
        loop.close()

    def median_cell(cells: list[dict[str, Any]]) -> dict[str, Any]:
        return sorted(cells, key=lambda c: c["rps"])[(len(cells) - 1) // 2]

    report.extra["mixed"] = {
        str(k): median_cell(v) | {"samples_rps": [c["rps"] for c in v]} for k, v in mixed.items()
    }
    report.extra["mixed_ratio_2_over_1"] = round(
        statistics.median(b["rps"] / a["rps"] for a, b in zip(mixed[1], mixed[2], strict=True)), 3
    )
    read_rows = []
    for name in READ_PATHS:
        ratios = [
            on[name].rps / off[name].rps
            for off, on in zip(reads[False], reads[True], strict=True)
            if off[name].rps
        ]
        for replica in (False, True):
            results = sorted((r[name] for r in reads[replica]), key=lambda r: r.rps)
            row = Row(
                "postgres",
                name,
                "replica" if replica else "primary only",
                result=results[(len(results) - 1) // 2],
            )
            row.samples_rps = [round(r[name].rps, 1) for r in reads[replica]]
            report.rows.append(row)
        read_rows.append(
            {"endpoint": name, "replica_over_primary": round(statistics.median(ratios), 3)}
        )
    report.extra["reads"] = read_rows
    return report


def markdown(report: Report, meta: dict[str, Any]) -> str:
    """The scenario's tables."""
    text = "## topology: HAProxy, app processes, a read replica, what the primary absorbs\n\n"
    text += (
        f"{meta['machine']}; {meta['duration_s']}s per cell after a {meta['warmup_s']}s warm-up, "
        f"{meta['rounds']} round(s) (median shown); load average at start "
        f"{meta['load_average_at_start']}\n\n"
    )
    mixed = report.extra.get("mixed", {})
    text += "### Mixed workload through HAProxy (7 concurrent users)\n\n"
    text += md_table(
        ["app processes", "req/s", "p50 ms", "p99 ms", "failed", "HTTP writes/s", "vs 1 process"],
        [
            [
                k,
                fmt(c["rps"]),
                fmt(c["p50_ms"]),
                fmt(c["p99_ms"]),
                c["failed"],
                fmt(c["http_writes_per_s"]),
                "1.00x" if k == "1" else f"{report.extra['mixed_ratio_2_over_1']:.2f}x",
            ]
            for k, c in sorted(mixed.items())
        ],
    )
    text += "\n### What the primary absorbed during the mixed workload\n\n"
    text += md_table(
        ["app processes", "commits/s", "rows written/s", "audit events/s", "WAL kB/s"],
        [
            [
                k,
                fmt(c["commits_per_s"]),
                fmt(c["rows_written_per_s"]),
                fmt(c["audit_events_per_s"]),
                fmt(c["wal_kb_per_s"]),
            ]
            for k, c in sorted(mixed.items())
        ],
    )
    text += "\n### The audit chain's lock during the mixed workload (sampled every 20 ms)\n\n"
    text += md_table(
        [
            "app processes",
            "appends/s",
            "lock held",
            "waiting (mean, max)",
            "hold per append ms",
            "one chain's ceiling/s",
        ],
        [
            [
                k,
                fmt(c["audit_events_per_s"]),
                f"{c['chain_lock_busy']:.0%}",
                f"{c['chain_lock_waiters_mean']:.2f}, {c['chain_lock_waiters_max']}",
                fmt(c["chain_lock_hold_ms"], 2),
                fmt(c["chain_ceiling_per_s"], 0),
            ]
            for k, c in sorted(mixed.items())
        ],
    )
    text += (
        "\n### CPU per request of the mixed workload, by process (ms; cores busy in brackets)\n\n"
    )
    kinds = ["app", "workers", "primary", "replica"]
    text += md_table(
        ["app processes", *kinds],
        [
            [k] + [f"{c['cpu_ms_per_request'][p]:.2f} ({c['cpu_share'][p]:.2f})" for p in kinds]
            for k, c in sorted(mixed.items())
        ],
    )
    text += "\n### Read-heavy endpoints through HAProxy, 2 app processes (wrk)\n\n"
    ratios = {r["endpoint"]: r["replica_over_primary"] for r in report.extra.get("reads", [])}
    text += md_table(
        ["endpoint", "reads from", "rps", "p50 ms", "p99 ms", "failed", "vs primary only"],
        [
            [
                row.endpoint,
                row.app,
                fmt(row.result.rps, 0) if row.result else "-",
                fmt(row.result.latency_ms["p50"], 2) if row.result else "-",
                fmt(row.result.latency_ms["p99"], 2) if row.result else "-",
                row.result.failed_requests if row.result else "-",
                "1.00x" if row.app == "primary only" else f"{ratios.get(row.endpoint, 0):.2f}x",
            ]
            for row in report.rows
        ],
    )
    for note in report.notes:
        text += f"\n- {note}"
    return text + "\n"
