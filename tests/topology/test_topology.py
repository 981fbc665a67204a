"""The register beyond one machine, for real: primary + replica, two servers behind HAProxy, two workers.

A mixed workload runs through HAProxy while one server and one worker are killed with SIGKILL and
started again. Afterwards: the replica served reads; every acknowledged write is in the database
once and nothing is there twice; every event reached the webhook receiver, again only when a
killed worker's send was cut; a session made on one server works on the other; the audit trail
verifies against its witness; and the only failed requests are ones in flight on the killed server.
The counts are printed (`make test-topology` shows them).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.topology.topology import PASSWORD, PEOPLE, Receiver, Topology, seed
from tests.topology.workload import Workload

pytestmark = pytest.mark.topology

DURATION = float(os.environ.get("REGISTER_TOPOLOGY_SECONDS", "70"))
KILL_SERVER_AT = 0.25 * DURATION
KILL_WORKER_AT = 0.55 * DURATION
DOWN_FOR = 3.0
# HAProxy marks a server down after two failed checks 500 ms apart (topology.HAPROXY_CONFIG).
DETECTION = 1.5
# Messages worker-1 holds under a lease that has not ended.
HELD = (
    "SELECT count(*) FROM outbox_message WHERE claimed_by = 'worker-1' AND state = 'pending' "
    "AND due_at > now()"
)


def say(line: str) -> None:
    """A line of the test's report."""
    print(f"[topology] {line}", flush=True)


@pytest.fixture
def topology() -> Iterator[Topology]:
    """The whole deployment, stopped even when the test fails."""
    topo = Topology(servers=2, workers=2, replica=True)
    with topo:
        yield topo


async def chaos(topo: Topology, work: Workload, receiver: Receiver, log: dict[str, Any]) -> None:
    """SIGKILL a server and a worker while the workload runs, and start them again."""
    started = time.monotonic()
    await asyncio.sleep(KILL_SERVER_AT)
    log["in_flight_at_server_kill"] = work.in_flight
    log["server_killed_at"] = time.monotonic()
    await asyncio.to_thread(topo.servers[0].kill)
    await asyncio.sleep(DOWN_FOR)
    await asyncio.to_thread(topo.restart_server, 0)
    log["server_back_after"] = round(time.monotonic() - log["server_killed_at"], 1)

    await asyncio.sleep(max(0.0, started + KILL_WORKER_AT - time.monotonic()))
    # Kill it while it holds claimed messages and the receiver is answering a send, so that a
    # send is cut more often than not.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        held = await asyncio.to_thread(topo.sql, HELD)
        if int(held) and receiver.in_flight:
            break
        await asyncio.sleep(0.02)
    await asyncio.to_thread(topo.workers[0].kill)
    log["worker_killed_at"] = time.monotonic()
    # What the dead worker held: claimed, not delivered, its lease still running. Only these may
    # reach the receiver twice.
    rows = await asyncio.to_thread(topo.sql_rows, HELD.replace("count(*)", "event_id"))
    log["cut"] = {row[0] for row in rows}
    await asyncio.sleep(DOWN_FOR)
    await asyncio.to_thread(topo.workers[0].start)


async def drained(topo: Topology, subscription_id: int, timeout: float = 90) -> list[list[str]]:
    """Wait until no message for the receiver is pending; its (event_id, state, type, incident) rows."""
    query = (
        "SELECT event_id, state, event_type, coalesce(event::jsonb->'payload'->>'incident_id', '') "
        f"FROM outbox_message WHERE subscription = {subscription_id}"
    )
    deadline = time.monotonic() + timeout
    while True:
        rows = await asyncio.to_thread(topo.sql_rows, query)
        if all(r[1] != "pending" for r in rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(1)


def check_writes(topo: Topology, work: Workload) -> None:
    """Every acknowledged write is in the database once; no write, acknowledged or not, twice."""
    queries = {
        "employee": "SELECT split_part(work_email, '@', 1), count(*), min(id) FROM employee "
        "WHERE name LIKE 'Topology %' GROUP BY 1",
        "account": "SELECT purpose, count(*), min(id) FROM social_account "
        "WHERE handle LIKE 'topo\\_%' GROUP BY 1",
        "grant": "SELECT substr(reason, 7), count(*), min(id) FROM access_grant "
        "WHERE reason LIKE 'grant %' GROUP BY 1",
        "incident": "SELECT substr(title, 10), count(*), min(id) FROM incident "
        "WHERE title LIKE 'Topology %' GROUP BY 1",
        # One import per employee: the employee's marker names it.
        "import": "SELECT split_part(e.work_email, '@', 1), count(*), min(i.id) "
        "FROM connection_import i JOIN employee e ON e.id = i.employee "
        "WHERE e.name LIKE 'Topology %' GROUP BY 1",
    }
    for kind, query in queries.items():
        found = {marker: (int(n), int(first)) for marker, n, first in topo.sql_rows(query)}
        acked = work.acked[kind]
        missing = [(m, i) for m, i in acked if found.get(m) != (1, i)]
        twice = {m: n for m, (n, _) in found.items() if n > 1}
        unacked_present = len(set(found) - {m for m, _ in acked})
        say(
            f"writes {kind}: tried {len(work.tried[kind])}, acknowledged {len(acked)}, "
            f"present {len(found)} (of them not acknowledged: {unacked_present}), "
            f"missing {len(missing)}, twice {len(twice)}"
        )
        assert acked, f"the workload got no {kind} written"
        assert not missing, f"acknowledged {kind} writes missing or changed: {missing[:5]}"
        assert not twice, f"{kind} written more than once: {twice}"
        assert set(found) <= set(work.tried[kind]), f"{kind} rows the workload never asked for"


def check_events(rows: list[list[str]], receiver: Receiver, work: Workload, cut: set[str]) -> None:
    """Every event delivered at least once; again only if a killed worker's send was cut, once."""
    states = {state for _, state, _, _ in rows}
    counts = receiver.counts()
    outbox_ids = {event_id for event_id, _, _, _ in rows}
    undelivered = outbox_ids - set(counts)
    twice = {e: n for e, n in counts.items() if n > 1}
    filed = {int(inc) for _, _, kind, inc in rows if kind == "incident.filed" and inc}
    incidents = {i for _, i in work.acked["incident"]}
    by_type: dict[str, int] = {}
    for _, _, kind, _ in rows:
        by_type[kind] = by_type.get(kind, 0) + 1
    say(
        f"events: {len(outbox_ids)} queued for the receiver {by_type}, {len(receiver.deliveries)} "
        f"deliveries, {len(set(counts))} distinct, never delivered {len(undelivered)}, "
        f"delivered twice {len(twice)}, sends cut by the worker kill {len(cut)}, "
        f"bad signatures {sum(not d.signature_ok for d in receiver.deliveries)}"
    )
    assert states == {"delivered"}, f"outbox states left: {states}"
    assert not undelivered, f"events never delivered: {sorted(undelivered)[:5]}"
    assert set(twice) <= cut, f"delivered twice without a cut send: {set(twice) - cut}"
    assert all(n == 2 for n in twice.values()), f"delivered more than twice: {twice}"
    assert incidents <= filed, f"acknowledged incidents without incident.filed: {incidents - filed}"
    assert all(d.signature_ok for d in receiver.deliveries), "a delivery's signature did not verify"
    assert set(counts) <= outbox_ids, "the receiver got events the outbox never held"


async def check_sessions(topo: Topology) -> None:
    """A session made on one server is valid on the other, CSRF and sign-out included."""
    one, two = topo.server_url(0), topo.server_url(1)
    async with httpx.AsyncClient(timeout=30) as client:
        resp = await client.post(
            one + "/api/v1/auth/login", json={"email": PEOPLE["hr"], "password": PASSWORD}
        )
        assert resp.status_code == 200, resp.text
        csrf = resp.json()["csrf_token"]
        cookies = dict(client.cookies)
    # The cookies server-1 set, sent to server-2 by another client; and after signing out there,
    # sent again to server-1 as they were (the signed-out client's jar would have dropped them).
    async with httpx.AsyncClient(timeout=30, cookies=cookies) as client:
        me = await client.get(two + "/api/v1/auth/me")
        assert me.status_code == 200 and me.json()["email"] == PEOPLE["hr"], me.text
        token = await client.post(
            two + "/api/v1/tokens",
            headers={"x-csrf-token": csrf},
            json={"name": "made on the other server", "expires_in_days": 1},
        )
        assert token.status_code == 201, token.text
        out = await client.post(two + "/api/v1/auth/logout", headers={"x-csrf-token": csrf})
        assert out.status_code in (200, 204), out.text
    async with httpx.AsyncClient(timeout=30, cookies=cookies) as client:
        after = await client.get(one + "/api/v1/auth/me")
        assert after.status_code == 401, after.text
    say(
        "sessions: signed in on server-1; /me and a CSRF-checked write on server-2 answered "
        f"{me.status_code} and {token.status_code}; signed out on server-2, server-1 then answered "
        f"{after.status_code}"
    )


async def check_risk_cache(topo: Topology, custodian: int) -> None:
    """A server's remembered risk report gives way at once to an account added through the other."""
    one, two = topo.server_url(0), topo.server_url(1)
    headers = {"Authorization": f"Bearer {topo.tokens['it']}"}
    async with httpx.AsyncClient(timeout=30, headers=headers) as client:
        before = (await client.get(two + "/api/v1/accounts/risks")).json()
        again = (await client.get(two + "/api/v1/accounts/risks")).json()  # from its memory
        made = await client.post(
            one + "/api/v1/accounts",
            json={"platform": "tiktok", "handle": "cache_check", "custodian_id": custodian},
        )
        assert made.status_code == 201, made.text
        # The client carries the write's cookie, so server-2 reads the primary (read your writes).
        after = (await client.get(two + "/api/v1/accounts/risks")).json()
    say(
        f"risk report on server-2: {before['accounts']} live accounts, remembered "
        f"{again['accounts']}, {after['accounts']} right after one was added through server-1"
    )
    assert after["accounts"] == before["accounts"] + 1 == again["accounts"] + 1


def check_reads(topo: Topology, replica_before: int) -> None:
    """The replica served reads: each server's own count on /ready, and the replica's statistics."""
    replica_tx = topo.replica_transactions() - replica_before
    nodes = topo.node_reads()
    replica_reads = sum(r["reads"] for n in nodes.values() for r in n.get("replicas", []))
    primary_reads = sum(n.get("primary_reads", 0) for n in nodes.values())
    states = {r["state"] for n in nodes.values() for r in n.get("replicas", [])}
    say(
        f"reads: the servers counted {replica_reads} reads on the replica and {primary_reads} "
        f"plain reads on the primary (server-1 since its restart), replica states {states}; "
        f"the replica ran {replica_tx} transactions on the register's database (pg_stat_database)"
    )
    assert replica_reads > 0, f"no read reached the replica: {nodes}"
    assert replica_tx > 0, "the replica's own statistics show no reads"


async def test_topology(topology: Topology) -> None:
    """The whole deployment under a mixed workload, with a server and a worker killed on the way."""
    topo = topology
    receiver = await Receiver(delay=0.3).start()
    try:
        custodians, subscription_id = await seed(topo, receiver, "topology receiver")
        replica_before = topo.replica_transactions()
        primary_before = topo.primary_counters()
        work = Workload(topo.url, topo.tokens, custodians)
        log: dict[str, Any] = {}
        started = time.monotonic()
        await asyncio.gather(
            work.run(DURATION, it=2, hr=1, comms=2, readers=2), chaos(topo, work, receiver, log)
        )
        elapsed = time.monotonic() - started
        primary_after = topo.primary_counters()
        rows = await drained(topo, subscription_id)
        await asyncio.to_thread(topo.cluster.wait_caught_up)

        calls = work.calls
        errors = work.errors
        backends: dict[str, int] = {}
        for call in calls:
            backends[call.backend or "-"] = backends.get(call.backend or "-", 0) + 1
        say(
            f"workload: {len(calls)} requests in {elapsed:.0f} s through HAProxy "
            f"({len(calls) / elapsed:.1f}/s), by server {backends}; steps {dict(work.steps_done)}"
        )
        writes = {k: primary_after[k] - primary_before[k] for k in primary_after}
        say(
            f"primary absorbed: {writes['commits'] / elapsed:.1f} commits/s, "
            f"{(writes['inserted'] + writes['updated'] + writes['deleted']) / elapsed:.0f} rows "
            f"written/s, {writes['audit_events'] / elapsed:.1f} audit events/s"
        )
        # In flight on the killed server: sent before the kill, or in the second HAProxy takes to
        # see it gone (two failed checks 500 ms apart), and not answered by the kill.
        killed = log["server_killed_at"]
        noticed = killed + DETECTION
        exposed = log["in_flight_at_server_kill"] + sum(
            killed < c.started <= noticed for c in calls
        )
        during = [c for c in errors if c.started <= noticed and c.ended >= killed]
        say(
            f"kills: server-1 SIGKILLed with {log['in_flight_at_server_kill']} requests in flight "
            f"through HAProxy ({exposed} including those sent before HAProxy noticed), back after "
            f"{log['server_back_after']} s; worker-1 SIGKILLed holding {len(log['cut'])} claimed "
            f"messages; failed requests {len(errors)}, of them in flight at the server kill "
            f"{len(during)}: {[(c.label, c.status, c.error[:80]) for c in errors][:10]}"
        )
        assert len(errors) == len(during), "requests failed that were not in flight at the kill"
        assert len(errors) <= exposed
        assert topo.servers[0].starts == 2 and topo.workers[0].starts == 2

        check_writes(topo, work)
        check_events(rows, receiver, work, log["cut"])
        await check_sessions(topo)
        await check_risk_cache(topo, custodians[0])
        check_reads(topo, replica_before)

        verified = await asyncio.to_thread(
            topo.register, "audit", "verify", "--witness", str(topo.witness)
        )
        say(
            f"audit verify --witness: {verified.strip().splitlines()[-1] if verified.strip() else ''}"
        )
    except BaseException:
        print(topo.logs())
        raise
    finally:
        await receiver.stop()
