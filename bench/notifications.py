"""The notifications scenario: 10,000 queued events delivered to a local receiver.

Issue 5's target: >= 1,000 events/s with two `register worker` processes on PostgreSQL; the
SQLite rate is reported. The workers start first and idle; then one transaction queues the
events (one subscription, generic signed JSON) and the clock runs from its commit to the last
delivery the database records. The receiver is a separate process on 127.0.0.1 answering 204 and
counting requests and distinct event ids, so duplicates would show.

    python -m bench.notifications measure --workers 2   # with the register's environment
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from bench.common import (
    RUN_DIR,
    VENV_BIN,
    BenchConfig,
    BenchError,
    Report,
    Row,
    Target,
    free_port,
    log,
    md_table,
    postgres_reachable,
    prepare_database,
)

EVENTS = int(os.environ.get("BENCH_NOTIFY_EVENTS", "10000"))
TARGET_RATE = 1000.0
WORKER_COUNTS = (1, 2)
RESPONSE = b"HTTP/1.1 204 No Content\r\n\r\n"


class ReceiverProtocol(asyncio.Protocol):
    """A minimal HTTP/1.1 keep-alive receiver: answers 204 to each request, counts event ids."""

    seen: set[str] = set()
    requests = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").lower()
            length = 0
            event_id = ""
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name == "content-length":
                    length = int(value)
                elif name == "x-register-event-id":
                    event_id = value.strip()
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            ReceiverProtocol.requests += 1
            ReceiverProtocol.seen.add(event_id)
            self.transport.write(RESPONSE)


async def receive(port: int) -> None:
    """Serve until SIGTERM, then print the counts as JSON."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(ReceiverProtocol, "127.0.0.1", port)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    print(
        json.dumps({"requests": ReceiverProtocol.requests, "distinct": len(ReceiverProtocol.seen)}),
        flush=True,
    )


def _spawn(argv: list[str], env: dict[str, str], ready: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=RUN_DIR
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if ready not in line:
        proc.kill()
        raise BenchError(
            f"{argv[:3]} did not start: {line}{proc.stderr.read() if proc.stderr else ''}"
        )
    return proc


async def _queue(port: int, events: int) -> float:
    """Create the subscription, queue the events in one transaction; the commit time (epoch)."""
    from register.actor import Actor
    from register.db import bulk_insert, write_transaction
    from register.db import now as utcnow
    from register.notifications.flows import OUTBOX_COLUMNS, envelope
    from register.notifications.services import create_subscription
    from register.notifications.tables import OutboxMessage, Subscription
    from register.runtime import runtime
    from register.settings import Settings

    settings = Settings.from_env()
    async with runtime(settings, announce=False) as secrets:
        await OutboxMessage.delete(force=True)
        await Subscription.delete(force=True)
        sub, _ = await create_subscription(
            actor=Actor.system("bench"),
            keyring=secrets.keyring,
            settings=settings,
            data={
                "name": "bench receiver",
                "url": f"http://127.0.0.1:{port}/hook",
                "format": "json",
                "event_types": ["incident.filed"],
            },
        )
        now = utcnow()
        rows = []
        for i in range(events):
            event = envelope(
                os.urandom(16).hex(),
                "incident.filed",
                {"incident_id": i, "title": f"Bench incident {i}"},
                f"Bench incident {i} filed",
                ["it"],
                now,
            )
            body = json.dumps(event, separators=(",", ":"))
            rows.append(
                (event["id"], event["type"], sub["id"], body, "pending", now, 0, "", "", now)
            )
        # What publish() writes per event, written in bulk so queueing does not dominate the run.
        async with write_transaction():
            for start in range(0, events, 5000):
                await bulk_insert("outbox_message", OUTBOX_COLUMNS, rows[start : start + 5000])
        return time.time()


async def _progress() -> tuple[int, int, float | None]:
    from register.db import fetch

    rows = await fetch(
        'SELECT state, COUNT(*) AS n, MAX(delivered_at) AS last FROM "outbox_message" GROUP BY state'
    )
    by = {r["state"]: r for r in rows}
    last = by.get("delivered", {}).get("last")
    if isinstance(last, str):
        # SQLite returns an aggregate as stored text, without the column's declared type.
        last = dt.datetime.fromisoformat(last)
    return (
        int(by.get("delivered", {}).get("n", 0)),
        int(by.get("dead", {}).get("n", 0)),
        last.timestamp() if last is not None else None,
    )


async def _wait_done(events: int, timeout: float) -> tuple[int, int, float | None]:
    from register.runtime import database
    from register.settings import Settings

    deadline = time.monotonic() + timeout
    async with database(Settings.from_env()):
        while True:
            delivered, dead, last = await _progress()
            if delivered + dead >= events or time.monotonic() > deadline:
                return delivered, dead, last
            await asyncio.sleep(0.1)


def measure(workers: int, events: int) -> dict[str, Any]:
    """Start the receiver and the workers, queue the events, time their delivery."""
    os.environ.update(
        REGISTER_WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
        REGISTER_OUTBOX_POLL_SECONDS="0.05",
        REGISTER_OUTBOX_BATCH_SIZE=os.environ.get("BENCH_NOTIFY_BATCH", "200"),
        REGISTER_LOG_LEVEL="WARNING",
    )
    env = dict(os.environ)
    port = free_port()
    python = str(VENV_BIN / "python")
    receiver = _spawn(
        [python, "-m", "bench.notifications", "receive", "--port", str(port)], env, "ready"
    )
    procs = []
    try:
        for n in range(workers):
            procs.append(
                _spawn(
                    [str(VENV_BIN / "register"), "worker", "--name", f"bench{n}"], env, "running"
                )
            )
        committed = asyncio.run(_queue(port, events))
        delivered, dead, last = asyncio.run(_wait_done(events, timeout=max(60.0, events / 50)))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        receiver.send_signal(signal.SIGTERM)
        out, _ = receiver.communicate(timeout=30)
    counts = json.loads(out.strip().splitlines()[-1])
    seconds = (last - committed) if last else None
    return {
        "workers": workers,
        "events": events,
        "delivered": delivered,
        "dead": dead,
        "received_requests": counts["requests"],
        "received_distinct": counts["distinct"],
        "seconds": round(seconds, 3) if seconds else None,
        "events_per_s": round(delivered / seconds, 1) if seconds else None,
    }


def run(config: BenchConfig) -> Report:
    """Both databases, one and two workers."""
    report = Report(scenario="notifications")
    results = []
    for kind in config.databases:
        if kind == "postgres":
            problem = postgres_reachable(config.postgres_url)
            if problem:
                if config.require_postgres:
                    raise BenchError(f"PostgreSQL unreachable: {problem}")
                report.notes.append(f"postgres skipped: {problem}")
                continue
        db = prepare_database(kind, config)
        for workers in WORKER_COUNTS:
            log(f"{kind}: {EVENTS} events, {workers} worker(s)")
            out = json.loads(
                db.python("-m", "bench.notifications", "measure", "--workers", str(workers))
                .strip()
                .splitlines()[-1]
            )
            out["database"] = kind
            results.append(out)
            report.rows.append(
                Row(database=kind, endpoint=f"deliver {EVENTS} events", app=f"{workers} worker(s)")
            )
            if kind == "postgres" and workers == 2:
                rate = out["events_per_s"] or 0.0
                report.targets.append(
                    Target(
                        database=kind,
                        endpoint="outbox delivery, 2 workers",
                        description=f">= {TARGET_RATE:.0f} events/s",
                        value=rate,
                        limit=TARGET_RATE,
                        passed=rate >= TARGET_RATE and out["delivered"] == EVENTS,
                    )
                )
    report.extra["deliveries"] = results
    return report


def markdown(report: Report, meta: dict[str, Any]) -> str:
    """The scenario's table."""
    rows = [
        [
            r["database"],
            r["workers"],
            r["events"],
            r["delivered"],
            r["dead"],
            r["received_requests"],
            r["received_distinct"],
            r["seconds"],
            r["events_per_s"],
        ]
        for r in report.extra.get("deliveries", [])
    ]
    text = "## notifications: outbox delivery to a local receiver\n\n"
    text += md_table(
        [
            "database",
            "workers",
            "events",
            "delivered",
            "dead",
            "requests received",
            "distinct ids",
            "seconds",
            "events/s",
        ],
        rows,
    )
    for t in report.targets:
        text += f"\n\n{t.verdict}: {t.database} {t.endpoint} {t.description} (measured {t.value})"
    for note in report.notes:
        text += f"\n\n{note}"
    return text + "\n"


def main(argv: list[str]) -> int:
    """`receive --port N` or `measure --workers N` (run with the register's environment)."""
    parser = argparse.ArgumentParser(prog="bench.notifications")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("receive")
    rec.add_argument("--port", type=int, required=True)
    mea = sub.add_parser("measure")
    mea.add_argument("--workers", type=int, default=2)
    mea.add_argument("--events", type=int, default=EVENTS)
    args = parser.parse_args(argv)
    if args.command == "receive":
        asyncio.run(receive(args.port))
        return 0
    print(json.dumps(measure(args.workers, args.events)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
