"""An Idempotency-Key never lets a retry make a change twice, even when the server stopped between
the change's commit and keeping its answer, or a retry took over a key that looked abandoned."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from litestar import post
from litestar.exceptions import LitestarException

from register import audit
from register.db import get_engine, is_postgres, write_transaction
from register.tables import AuditEvent, IdempotencyRecord
from tests.helpers import assert_problem

INCIDENT = {"title": "Slide posted by mistake", "category": "erroneous_post", "severity": "SEV3"}
URL = "/api/v1/incidents"


async def _ddl(*statements: str) -> None:
    for sql in statements:
        await get_engine().run_ddl(sql)


async def answers_cannot_be_kept() -> None:
    """The database refuses to store an answer: as if the server stopped just before it did."""
    if is_postgres():
        await _ddl(
            "CREATE FUNCTION refuse_answer() RETURNS trigger AS $$ BEGIN "
            "IF NEW.status_code >= 100 THEN RAISE EXCEPTION 'server stopped'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql",
            'CREATE TRIGGER refuse_answer BEFORE UPDATE ON "idempotency_record" '
            "FOR EACH ROW EXECUTE FUNCTION refuse_answer()",
        )
    else:
        await _ddl(
            'CREATE TRIGGER refuse_answer BEFORE UPDATE ON "idempotency_record" '
            "WHEN NEW.status_code >= 100 BEGIN SELECT RAISE(ABORT, 'server stopped'); END"
        )


async def answers_kept_again() -> None:
    """The server is back."""
    await _ddl(
        'DROP TRIGGER refuse_answer ON "idempotency_record"'
        if is_postgres()
        else "DROP TRIGGER refuse_answer"
    )


async def minutes_pass(minutes: int) -> None:
    """Move every key's clock on, past the window in which its request may still be running."""
    await IdempotencyRecord.update(
        {
            IdempotencyRecord.created_at: IdempotencyRecord.created_at
            - dt.timedelta(minutes=minutes)
        },
        force=True,
    )


async def incidents_filed() -> int:
    return await AuditEvent.count().where(AuditEvent.action == "incident.file")


async def test_a_retry_after_the_server_stopped_before_keeping_the_answer_does_not_file_again(
    user_factory: Any,
) -> None:
    _, comms = await user_factory("comms")
    headers = {"Idempotency-Key": "file-once"}
    await answers_cannot_be_kept()
    # The answer had begun; the client sees the connection end before its last bytes.
    with pytest.raises(LitestarException, match="after response started"):
        await comms.post(URL, json=INCIDENT, headers=headers)
    await answers_kept_again()
    assert await incidents_filed() == 1
    # While the first request might still be answering, a retry is told to wait.
    soon = await comms.post(URL, json=INCIDENT, headers=headers)
    assert_problem(soon, 409, "conflict")
    assert soon.headers["retry-after"] == "1"
    await minutes_pass(10)
    late = await comms.post(URL, json=INCIDENT, headers=headers)
    body = assert_problem(late, 409, "idempotency-answer-lost")
    assert late.headers["idempotent-replayed"] == "true"
    filed = await AuditEvent.select(AuditEvent.object_id).where(
        AuditEvent.action == "incident.file"
    )
    assert [c["object_id"] for c in body["changes"] if c["action"] == "incident.file"] == [
        filed[0]["object_id"]
    ]
    assert f"incident.file incident {filed[0]['object_id']}" in body["detail"]
    # The answer stays the same for the key's day, and nothing is filed twice.
    await minutes_pass(60)
    again = await comms.post(URL, json=INCIDENT, headers=headers)
    assert again.json() == late.json()
    assert await incidents_filed() == 1
    # A new key is a new request.
    fresh = await comms.post(URL, json=INCIDENT, headers={"Idempotency-Key": "file-twice"})
    assert fresh.status_code == 201, fresh.text
    assert await incidents_filed() == 2


@pytest.fixture
def routes(app: Any) -> dict[str, asyncio.Event]:
    """Creating routes of this test's app that wait for a signal, or fail after their change."""
    events = {"entered": asyncio.Event(), "go": asyncio.Event()}

    @post("/api/v1/test-slow-change", opt={"action": "employee.write", "idempotent": True})
    async def slow_change() -> dict[str, bool]:
        events["entered"].set()
        await events["go"].wait()
        async with write_transaction():
            await audit.record(None, "test.change", "employee", 7)
        return {"done": True}

    @post("/api/v1/test-fail-after-change", opt={"action": "employee.write", "idempotent": True})
    async def fail_after_change() -> dict[str, bool]:
        async with write_transaction():
            await audit.record(None, "test.change", "employee", 8)
        raise RuntimeError("after the change")

    app.register(slow_change)
    app.register(fail_after_change)
    return events


async def changes_made() -> int:
    return await AuditEvent.count().where(AuditEvent.action == "test.change")


async def test_a_request_whose_key_was_taken_over_makes_no_change(
    routes: dict[str, asyncio.Event], hr: httpx.AsyncClient
) -> None:
    """A request still running after the window, whose key a retry took over as abandoned: only
    one of the two makes the change."""
    headers = {"Idempotency-Key": "slow-one"}
    first = asyncio.create_task(hr.post("/api/v1/test-slow-change", headers=headers))
    await asyncio.wait_for(routes["entered"].wait(), 10)
    routes["entered"].clear()
    await minutes_pass(10)
    retry = asyncio.create_task(hr.post("/api/v1/test-slow-change", headers=headers))
    await asyncio.wait_for(routes["entered"].wait(), 10)
    routes["go"].set()
    late, taken_over = await retry, await first
    assert late.status_code == 201, late.text
    assert_problem(taken_over, 409, "conflict")
    assert "taken over" in taken_over.json()["detail"]
    assert await changes_made() == 1
    again = await hr.post("/api/v1/test-slow-change", headers=headers)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == {"done": True}
    assert await changes_made() == 1


async def test_a_request_that_failed_after_its_change_is_not_run_again(
    routes: dict[str, asyncio.Event], hr: httpx.AsyncClient
) -> None:
    headers = {"Idempotency-Key": "half-done"}
    failed = await hr.post("/api/v1/test-fail-after-change", headers=headers)
    assert_problem(failed, 500, "internal")
    retry = await hr.post("/api/v1/test-fail-after-change", headers=headers)
    body = assert_problem(retry, 409, "idempotency-answer-lost")
    assert body["changes"] == [
        {"action": "test.change", "object_type": "employee", "object_id": "8"}
    ]
    assert await changes_made() == 1
