"""Delivery workers as they run: in `register serve`'s process, and `register worker` killed mid-batch."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time
from typing import Any

from register.asgi import create_app
from register.db import write_transaction
from register.notifications.enums import OutboxState
from register.notifications.flows import EVENT_ID_HEADER, publish
from register.notifications.tables import OutboxMessage
from register.settings import Settings
from tests.cli import REGISTER_BIN, cli_env
from tests.helpers import subscribe
from tests.register.notifications.conftest import Receiver, publish_many


async def wait_for(condition: Any, seconds: float, what: str) -> None:
    """Poll an async condition until it holds, or fail naming what did not happen."""
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _in_process(settings: Settings, receiver: Receiver, enabled: bool) -> list[str]:
    app = create_app(
        dataclasses.replace(settings, worker_in_process=enabled, outbox_poll_seconds=0.05)
    )
    async with app.lifespan():
        await subscribe(app, settings, receiver.url("/ok"))
        async with write_transaction():
            event_id = await publish("incident.filed", {"id": 1}, summary="Filed")
        if enabled:
            await wait_for(lambda: _delivered(1), 10, "the in-process worker to deliver")
        else:
            await asyncio.sleep(0.5)
    return [event_id]


async def _delivered(n: int) -> bool:
    return await OutboxMessage.count().where(OutboxMessage.state == "delivered") >= n


async def test_serve_delivers_in_process_by_default(settings, receiver):
    """The app's lifespan runs the worker: a published event arrives without `register worker`."""
    ids = await _in_process(settings, receiver, enabled=True)
    assert [r.headers[EVENT_ID_HEADER.lower()] for r in receiver.at("/ok")] == ids


async def test_serve_without_in_process_worker(settings, receiver):
    """REGISTER_WORKER_IN_PROCESS=false: the app leaves delivery to `register worker`."""
    await _in_process(settings, receiver, enabled=False)
    assert receiver.counts == {}
    assert await OutboxMessage.count().where(OutboxMessage.state == "pending") == 1


async def _start_worker(settings: Settings, name: str) -> asyncio.subprocess.Process:
    env = cli_env(
        settings,
        REGISTER_WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
        REGISTER_OUTBOX_BATCH_SIZE="10",
        # A short lease, still longer than the longest send (0.5 + 2 x 1 s), as settings demand.
        REGISTER_OUTBOX_LEASE_SECONDS="3",
        REGISTER_OUTBOX_POLL_SECONDS="0.1",
        REGISTER_OUTBOX_BACKOFF_SECONDS="0.1",
        REGISTER_WEBHOOK_CONNECT_TIMEOUT="0.5",
        REGISTER_WEBHOOK_READ_TIMEOUT="1",
        REGISTER_LOG_LEVEL="WARNING",
    )
    return await asyncio.create_subprocess_exec(
        str(REGISTER_BIN),
        "worker",
        "--name",
        name,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_worker_killed_mid_batch_loses_nothing(app, settings, receiver):
    """kill -9 of `register worker` while a batch is in flight; after a restart every event arrives."""
    path = "/slow/0.3"
    await subscribe(app, settings, receiver.url(path))
    ids = await publish_many(40)
    first = await _start_worker(settings, "first")
    try:

        async def in_flight() -> bool:
            # The first batch (10) was answered and the second one has reached the receiver.
            return receiver.counts.get(path, 0) > 10

        await wait_for(in_flight, 30, "the first worker to start its second batch")
    finally:
        os.kill(first.pid, signal.SIGKILL)
        await first.wait()
    assert first.returncode == -signal.SIGKILL
    held = await OutboxMessage.count().where(
        (OutboxMessage.state == OutboxState.pending.value) & (OutboxMessage.claimed_by == "first")
    )
    assert held > 0, "the kill did not land mid-batch"
    second = await _start_worker(settings, "second")
    try:
        await wait_for(lambda: _delivered(40), 60, "every event to be delivered after restart")
    finally:
        second.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(second.communicate(), 30)
    assert second.returncode == 0, err.decode()
    received = {r.headers[EVENT_ID_HEADER.lower()] for r in receiver.at(path)}
    assert received == set(ids)
    rows = await OutboxMessage.select()
    assert {r["state"] for r in rows} == {"delivered"}
    # The messages the killed worker held were sent again by the second (a second attempt).
    assert any(r["claimed_by"] == "second" and r["attempts"] == 2 for r in rows)


async def test_digest_and_rewrap_commands(app, settings, receiver):
    """`register digest` queues the digest now; `register keys rewrap` covers subscriptions."""
    from tests.cli import run_cli

    await subscribe(app, settings, receiver.url("/ok"), events=["digest.daily"], roles=["hr"])
    result = await run_cli(settings, "digest", REGISTER_WEBHOOK_ALLOWED_HOSTS="127.0.0.1")
    assert result.code == 0 and "digest queued for 1 role(s)" in result.out, result.err
    rows = await OutboxMessage.select().where(OutboxMessage.event_type == "digest.daily")
    assert len(rows) == 1
    result = await run_cli(settings, "keys", "rewrap")
    assert '"subscription"' in result.out and result.code == 0, result.out + result.err
    result = await run_cli(settings, "worker", "--once", REGISTER_WEBHOOK_ALLOWED_HOSTS="127.0.0.1")
    assert result.code == 0 and "delivered 1, retrying 0, dead 0" in result.out, result.err
    assert receiver.at("/ok")[0].json()["type"] == "digest.daily"
