"""Stateless app servers: two real `register serve` processes on one database act as one register.

Each test starts two servers, A and B, on loopback against the test's database (the SQLite file or
PostgreSQL) and sends one request to one and the next to the other, as a load balancer would.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from register.db import get_engine, is_postgres
from register.enums import Role
from register.settings import Settings
from register.tables import AuditEvent
from tests.cli import free_port, serve_until_up, stop_server
from tests.conftest import FIXTURE_PASSWORD, UserFactory
from tests.register.test_idempotency_outcome import INCIDENT, minutes_pass

Servers = tuple[httpx.AsyncClient, httpx.AsyncClient]
# The `register serve` process behind each client of `servers`.
PROCESSES: dict[httpx.AsyncClient, asyncio.subprocess.Process] = {}


@pytest.fixture
async def servers(app: Any, settings: Settings) -> AsyncIterator[Servers]:
    """Clients of two `register serve` processes sharing this test's database and secrets."""
    procs: list[asyncio.subprocess.Process] = []
    clients: list[httpx.AsyncClient] = []
    try:
        # One after the other: the first applies nothing (the database is migrated) and may
        # create the first admin; the second then finds it.
        for _ in range(2):
            port = free_port()
            proc, _ = await serve_until_up(settings, port, REGISTER_WORKER_IN_PROCESS="false")
            procs.append(proc)
            clients.append(httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60))
            PROCESSES[clients[-1]] = proc
        yield clients[0], clients[1]
    finally:
        for client in clients:
            PROCESSES.pop(client, None)
            await client.aclose()
        for proc in procs:
            await stop_server(proc)


async def bearer(user_factory: UserFactory, role: Role = Role.admin) -> dict[str, str]:
    """The Authorization header of a new user's API token."""
    _, client = await user_factory(role)
    return {"Authorization": client.headers["Authorization"]}


async def test_a_session_opened_on_one_server_works_on_the_other(
    servers: Servers, user_factory: UserFactory
) -> None:
    """Sign in on A; B knows the session and its CSRF token; signing out on B ends it on A."""
    a, b = servers
    user, _ = await user_factory(Role.hr)
    login = await a.post(
        "/api/v1/auth/login", json={"email": user["email"], "password": FIXTURE_PASSWORD}
    )
    assert login.status_code == 200, login.text
    cookie = {"Cookie": f"register_session={login.cookies['register_session']}"}
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    me = await b.get("/api/v1/auth/me", headers=cookie)
    assert me.status_code == 200 and me.json()["email"] == user["email"], me.text
    # A write on B with the session and the CSRF token A handed out.
    made = await b.post(
        "/api/v1/employees",
        headers={**cookie, **csrf},
        json={"name": "Ines Duarte", "work_email": "ines.duarte@example.com"},
    )
    assert made.status_code == 201, made.text
    refused = await b.post(
        "/api/v1/employees",
        headers=cookie,
        json={"name": "No Token", "work_email": "no.token@example.com"},
    )
    assert refused.status_code == 403, refused.text
    out = await b.post("/api/v1/auth/logout", headers={**cookie, **csrf})
    assert out.status_code == 204, out.text
    assert (await a.get("/api/v1/auth/me", headers=cookie)).status_code == 401


async def test_the_sign_in_limit_counts_failures_on_every_server(
    servers: Servers, user_factory: UserFactory, settings: Settings
) -> None:
    """Failures alternate between A and B and add up; guesses sent to both at once record no
    more failures than the limit, whichever server they reach."""
    a, b = servers
    limit = Settings().login_max_failures  # the servers' own (default) limit
    user, _ = await user_factory(Role.it)
    wrong = {"email": user["email"], "password": "not the password"}
    for attempt in range(limit):
        server = (a, b)[attempt % 2]
        answer = await server.post("/api/v1/auth/login", json=wrong)
        assert answer.status_code == 401, (attempt, answer.text)
    for server in (a, b):
        answer = await server.post("/api/v1/auth/login", json=wrong)
        assert answer.status_code == 429, answer.text
        # Even the right password waits out the window now.
        right = {"email": user["email"], "password": FIXTURE_PASSWORD}
        assert (await server.post("/api/v1/auth/login", json=right)).status_code == 429

    # Guesses for another account, sent to both servers at once.
    other, _ = await user_factory(Role.it)
    guess = {"email": other["email"], "password": "not the password"}
    answers = await asyncio.gather(
        *(server.post("/api/v1/auth/login", json=guess) for server in (a, b) * (limit + 1))
    )
    codes = sorted(r.status_code for r in answers)
    assert codes.count(401) == limit, codes
    assert codes.count(429) == len(answers) - limit, codes
    failures = await AuditEvent.count().where(
        (AuditEvent.action == "auth.login_failed") & (AuditEvent.object_id == other["email"])
    )
    assert failures == limit


async def test_an_idempotency_key_used_on_one_server_is_honoured_on_the_other(
    servers: Servers, user_factory: UserFactory
) -> None:
    """The retry of a POST reaches B: B replays A's answer; the same key with another body is 422."""
    a, b = servers
    headers = {**await bearer(user_factory, Role.hr), "Idempotency-Key": "hire-ines-duarte"}
    body = {"name": "Ines Duarte", "work_email": "ines.duarte@example.com"}
    first = await a.post("/api/v1/employees", headers=headers, json=body)
    assert first.status_code == 201, first.text
    retry = await b.post("/api/v1/employees", headers=headers, json=body)
    assert retry.status_code == 201, retry.text
    assert retry.headers.get("idempotent-replayed") == "true"
    assert retry.json() == first.json()
    other = await b.post(
        "/api/v1/employees", headers=headers, json={**body, "name": "Someone Else"}
    )
    assert other.status_code == 422 and "idempotency" in other.json()["type"], other.text
    listed = await a.get("/api/v1/employees", headers=headers, params={"q": "Duarte"})
    assert len(listed.json()["items"]) == 1, listed.text


async def answers_stall() -> None:
    """Keeping an answer takes minutes: time enough to kill the server at that very point."""
    if is_postgres():
        statements = [
            "CREATE FUNCTION stall_answer() RETURNS trigger AS $$ BEGIN "
            "IF NEW.status_code >= 100 THEN PERFORM pg_sleep(120); END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql",
            'CREATE TRIGGER stall_answer BEFORE UPDATE ON "idempotency_record" '
            "FOR EACH ROW EXECUTE FUNCTION stall_answer()",
        ]
    else:
        # SQLite has no sleep: the trigger counts to 500 million (a minute or two) instead.
        statements = [
            "CREATE VIEW stall AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
            "SELECT x + 1 FROM c WHERE x < 500000000) SELECT max(x) AS x FROM c",
            'CREATE TRIGGER stall_answer BEFORE UPDATE ON "idempotency_record" '
            "WHEN NEW.status_code >= 100 BEGIN SELECT x FROM stall; END",
        ]
    for sql in statements:
        await get_engine().run_ddl(sql)


async def answers_kept_again() -> None:
    """The stall is over (for the servers still running)."""
    if is_postgres():
        await get_engine().run_ddl('DROP TRIGGER stall_answer ON "idempotency_record"')
    else:
        await get_engine().run_ddl("DROP TRIGGER stall_answer")
        await get_engine().run_ddl("DROP VIEW stall")


def kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL a `register serve` process and its granian workers, as a machine that dies would."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    for pid in [*map(int, children), proc.pid]:
        os.kill(pid, signal.SIGKILL)


async def test_a_server_killed_before_keeping_its_answer_is_not_made_to_do_it_twice(
    servers: Servers, user_factory: UserFactory
) -> None:
    """A is killed after the change commits and before the answer is kept; the retry reaches B
    after the in-progress window and is told what was done, not run again."""
    a, b = servers
    headers = {**await bearer(user_factory, Role.comms), "Idempotency-Key": "file-the-slide"}
    await answers_stall()
    first = asyncio.create_task(a.post("/api/v1/incidents", headers=headers, json=INCIDENT))
    filed = AuditEvent.count().where(AuditEvent.action == "incident.file")
    for _ in range(600):
        if await filed:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the incident was never filed")
    kill(PROCESSES[a])
    await PROCESSES[a].wait()
    with pytest.raises(httpx.TransportError):
        await first
    await answers_kept_again()
    assert await filed == 1
    soon = await b.post("/api/v1/incidents", headers=headers, json=INCIDENT)
    assert soon.status_code == 409 and soon.headers["retry-after"] == "1", soon.text
    await minutes_pass(10)
    retry = await b.post("/api/v1/incidents", headers=headers, json=INCIDENT)
    assert retry.status_code == 409, retry.text
    assert retry.json()["type"].endswith("/idempotency-answer-lost")
    assert "incident.file" in [c["action"] for c in retry.json()["changes"]]
    assert await filed == 1
    listed = await b.get("/api/v1/incidents", headers=headers)
    assert len(listed.json()["items"]) == 1, listed.text


async def test_a_change_on_one_server_shows_at_once_in_the_other_servers_risk_findings(
    servers: Servers, user_factory: UserFactory
) -> None:
    """B remembers findings and the risk report; a backup custodian named on A shows on B at once."""
    a, b = servers
    headers = await bearer(user_factory, Role.it)
    hr = await bearer(user_factory, Role.hr)
    people = []
    for name in ("Priya Raman", "Tom Berger"):
        email = name.lower().replace(" ", ".") + "@example.com"
        made = await a.post(
            "/api/v1/employees", headers=hr, json={"name": name, "work_email": email}
        )
        assert made.status_code == 201, made.text
        people.append(made.json()["id"])
    account = await a.post(
        "/api/v1/accounts",
        headers=headers,
        json={
            "platform": "x",
            "handle": "northwindgear",
            "display_name": "Northwind",
            "custodian_id": people[0],
            "mfa_method": "hardware_key",
            "mfa_holder_id": people[0],
            "recovery_email": "social@example.com",
        },
    )
    assert account.status_code == 201, account.text
    account_id = account.json()["id"]

    async def on_b() -> tuple[set[str], int]:
        listed = await b.get("/api/v1/accounts", headers=headers)
        report = await b.get("/api/v1/accounts/risks", headers=headers)
        assert listed.status_code == 200 and report.status_code == 200, (listed.text, report.text)
        (item,) = [i for i in listed.json()["items"] if i["id"] == account_id]
        return {r["kind"] for r in item["risks"]}, report.json()["totals"]["no_backup_custodian"]

    # Asked twice, so B answers the second time from what it remembers.
    assert await on_b() == await on_b()
    kinds, without_backup = await on_b()
    assert "no_backup_custodian" in kinds and without_backup == 1
    changed = await a.patch(
        f"/api/v1/accounts/{account_id}",
        headers=headers,
        json={"version": account.json()["version"], "backup_custodian_id": people[1]},
    )
    assert changed.status_code == 200, changed.text
    assert "no_backup_custodian" not in {r["kind"] for r in changed.json()["risks"]}
    kinds, without_backup = await on_b()
    assert "no_backup_custodian" not in kinds and without_backup == 0
