"""Notifications: publish in the caller's transaction, subscriptions, delivery against a real receiver."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from register.db import write_transaction
from register.enums import Role
from register.extensions import extensions
from register.notifications.flows import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    Worker,
    backoff,
    publish,
    publish_digest,
    publish_event,
)
from register.notifications.services import purge_delivered
from register.notifications.tables import OutboxMessage, Subscription
from register.settings import Settings
from register.tables import AuditEvent
from tests.helpers import assert_problem, subscribe
from tests.register.notifications.conftest import drain, fast, publish_many

REPO = Path(__file__).resolve().parents[3]


def verify_recipe() -> str:
    """The signature verification snippet exactly as the README documents it."""
    for path in (REPO / "README.md", Path("/tmp/readme_notifications.md")):
        if path.exists():
            text = path.read_text()
            m = re.search(r"<!-- verify-signature -->\s*```python\n(.*?)```", text, flags=re.DOTALL)
            if m:
                return m.group(1)
    raise AssertionError("README has no <!-- verify-signature --> python block")


# publish ------------------------------------------------------------------------------------------


async def test_publish_filters_by_event_type_and_audience(app, settings):
    """One row per interested active subscription, all sharing the event id."""
    a, _ = await subscribe(app, settings, "http://127.0.0.1:9/a")
    b, _ = await subscribe(app, settings, "http://127.0.0.1:9/b", roles=["it"])
    c, _ = await subscribe(app, settings, "http://127.0.0.1:9/c", roles=["hr"])
    d, _ = await subscribe(app, settings, "http://127.0.0.1:9/d", events=["incident.closed"])
    async with write_transaction():
        event_id = await publish(
            "incident.filed", {"id": 7}, summary="Account hijacked", audience=[Role.it]
        )
        everyone = await publish("incident.filed", {"id": 8}, summary="Everyone")
    rows = await OutboxMessage.select().where(OutboxMessage.event_id == event_id)
    assert sorted(r["subscription"] for r in rows) == [a, b]
    assert re.fullmatch(r"[0-9a-f]{32}", event_id)
    assert {json.loads(r["event"])["id"] for r in rows} == {event_id}
    rows = await OutboxMessage.select().where(OutboxMessage.event_id == everyone)
    assert sorted(r["subscription"] for r in rows) == [a, b, c]
    assert d not in {r["subscription"] for r in rows}


async def test_publish_event_says_how_many_subscriptions_took_it(app, settings):
    """publish_event() reports the outbox rows it wrote, 0 when nobody takes the event."""
    async with write_transaction():
        nobody = await publish_event("incident.filed", {"id": 1}, summary="x", audience=[Role.it])
    assert nobody.queued == 0 and await OutboxMessage.count() == 0
    await subscribe(app, settings, "http://127.0.0.1:9/a")
    await subscribe(app, settings, "http://127.0.0.1:9/b", roles=["it"])
    await subscribe(app, settings, "http://127.0.0.1:9/c", roles=["hr"])
    async with write_transaction():
        some = await publish_event("incident.filed", {"id": 2}, summary="x", audience=[Role.it])
    assert some.queued == 2
    assert await OutboxMessage.count().where(OutboxMessage.event_id == some.event_id) == 2


async def test_times_in_a_payload_are_spelt_as_the_api_spells_them(app, settings):
    """A time in an event's payload reaches receivers as RFC 3339 with Z, like occurred_at."""
    await subscribe(app, settings, "http://127.0.0.1:9/a")
    when = dt.datetime(2026, 12, 2, 15, 11, 16, 494841, tzinfo=dt.UTC)
    async with write_transaction():
        event_id = await publish("incident.filed", {"received_at": when}, summary="x")
    (row,) = await OutboxMessage.select().where(OutboxMessage.event_id == event_id)
    event = json.loads(row["event"])
    assert event["payload"]["received_at"] == "2026-12-02T15:11:16.494841Z"
    assert event["occurred_at"].endswith("Z")


async def test_publish_rolled_back_sends_nothing(app, settings):
    """An event published in a transaction that fails is never queued."""
    await subscribe(app, settings, "http://127.0.0.1:9/a")
    with pytest.raises(RuntimeError):
        async with write_transaction():
            await publish("incident.filed", {"id": 1}, summary="x")
            raise RuntimeError("the change failed")
    assert await OutboxMessage.count() == 0


async def test_publish_needs_a_transaction_and_a_known_type(app, settings):
    """publish() outside a write transaction, or with an unknown type, is a programming error."""
    with pytest.raises(RuntimeError, match="write_transaction"):
        await publish("incident.filed", {}, summary="x")
    with pytest.raises(ValueError):
        async with write_transaction():
            await publish("incident.exploded", {}, summary="x")


async def test_inactive_subscription_gets_nothing(app, settings, admin):
    """A subscription switched off receives no new events."""
    sid, _ = await subscribe(app, settings, "http://127.0.0.1:9/a")
    resp = await admin.patch(f"/api/v1/subscriptions/{sid}", json={"version": 1, "active": False})
    assert resp.status_code == 200 and resp.json()["active"] is False
    await publish_many(2)
    assert await OutboxMessage.count() == 0


# subscriptions API --------------------------------------------------------------------------------


async def test_subscription_api_shows_secret_once_and_hides_url(admin, receiver):
    """Create returns the signing secret once; reads show only the URL's host."""
    url = receiver.url("/ok") + "/T000/B000/token-in-the-path"
    resp = await admin.post(
        "/api/v1/subscriptions",
        json={
            "name": "#it-oncall",
            "url": url,
            "format": "slack",
            "event_types": ["incident.filed", "incident.escalated"],
            "roles": ["it"],
        },
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["signing_secret"].startswith("whsec_")
    sub = created["subscription"]
    assert sub["target"] == f"http://127.0.0.1:{receiver.port}/…"
    got = await admin.get(f"/api/v1/subscriptions/{sub['id']}")
    assert got.status_code == 200
    assert "token-in-the-path" not in got.text and created["signing_secret"] not in got.text
    listing = await admin.get("/api/v1/subscriptions")
    assert [s["id"] for s in listing.json()["items"]] == [sub["id"]]
    row = await Subscription.select().where(Subscription.id == sub["id"]).first()
    assert "token-in-the-path" not in json.dumps(row, default=str)
    assert created["signing_secret"] not in json.dumps(row, default=str)
    audit_rows = await AuditEvent.select().where(AuditEvent.action == "subscription.create")
    assert len(audit_rows) == 1
    assert "token-in-the-path" not in json.dumps(audit_rows, default=str)
    assert created["signing_secret"] not in json.dumps(audit_rows, default=str)


async def test_subscription_api_refuses_bad_input(admin):
    """Hosts off the allowlist, plain http elsewhere, unknown events: 422 naming the field."""
    base = {"name": "x", "format": "json", "event_types": ["incident.filed"]}
    resp = await admin.post(
        "/api/v1/subscriptions", json={**base, "url": "https://evil.example.net/hook"}
    )
    assert (
        "not in REGISTER_WEBHOOK_ALLOWED_HOSTS" in assert_problem(resp, 422, field="url")["detail"]
    )
    resp = await admin.post(
        "/api/v1/subscriptions", json={**base, "url": "http://hooks.example.com/x"}
    )
    assert_problem(resp, 422, field="url")
    resp = await admin.post(
        "/api/v1/subscriptions",
        json={**base, "url": "http://127.0.0.1/x", "event_types": ["incident.exploded"]},
    )
    assert_problem(resp, 422)
    resp = await admin.post(
        "/api/v1/subscriptions", json={**base, "url": "http://127.0.0.1/x", "event_types": []}
    )
    assert_problem(resp, 422)
    assert await Subscription.count() == 0


async def test_subscription_update_rotate_delete(admin, receiver):
    """Stale versions get 409; rotating replaces the secret; delete removes its queue."""
    resp = await admin.post(
        "/api/v1/subscriptions",
        json={"name": "a", "url": receiver.url("/ok"), "format": "json", "event_types": ["test"]},
    )
    sub = resp.json()["subscription"]
    old_secret = resp.json()["signing_secret"]
    resp = await admin.patch(
        f"/api/v1/subscriptions/{sub['id']}", json={"version": 1, "name": "renamed"}
    )
    assert resp.status_code == 200 and resp.json()["version"] == 2
    resp = await admin.patch(f"/api/v1/subscriptions/{sub['id']}", json={"version": 1, "name": "b"})
    assert_problem(resp, 409, "stale-version")
    resp = await admin.post(f"/api/v1/subscriptions/{sub['id']}/rotate-secret", json={"version": 2})
    assert resp.status_code == 200
    new_secret = resp.json()["signing_secret"]
    assert new_secret != old_secret and resp.json()["subscription"]["version"] == 3
    resp = await admin.post(f"/api/v1/subscriptions/{sub['id']}/test")
    assert resp.status_code == 200 and resp.json()["state"] == "delivered"
    got = receiver.at("/ok")[-1]
    ns: dict[str, Any] = {}
    exec(verify_recipe(), ns)  # noqa: S102 - the README's own snippet, run as documented
    assert ns["verify"](new_secret, got.body, got.headers[SIGNATURE_HEADER.lower()])
    assert not ns["verify"](old_secret, got.body, got.headers[SIGNATURE_HEADER.lower()])
    resp = await admin.delete(f"/api/v1/subscriptions/{sub['id']}")
    assert resp.status_code == 204
    assert await OutboxMessage.count() == 0
    assert_problem(await admin.get(f"/api/v1/subscriptions/{sub['id']}"), 404)
    actions = {r["action"] for r in await AuditEvent.select(AuditEvent.action)}
    assert {
        "subscription.create",
        "subscription.update",
        "subscription.rotate_secret",
        "subscription.test",
        "subscription.delete",
    } <= actions


async def test_send_test_reports_failure(admin, receiver):
    """A test to a failing receiver answers with the error and stays queued for retries."""
    resp = await admin.post(
        "/api/v1/subscriptions",
        json={
            "name": "a",
            "url": receiver.url("/error"),
            "format": "teams",
            "event_types": ["test"],
        },
    )
    sid = resp.json()["subscription"]["id"]
    resp = await admin.post(f"/api/v1/subscriptions/{sid}/test")
    assert resp.status_code == 200
    body = resp.json()
    assert body["state"] == "pending" and body["last_status"] == 500
    assert "500" in body["last_error"] and body["attempts"] == 1


# delivery -----------------------------------------------------------------------------------------


async def test_healthy_receiver_gets_every_event_once_signed(app, settings, receiver):
    """Every event arrives exactly once, signed, with its stable event id."""
    _, secret = await subscribe(app, settings, receiver.url("/ok"))
    ids = await publish_many(25)
    worker = Worker(fast(settings), app.state.keyring.get)
    try:
        await drain(worker)
    finally:
        await worker.close()
    got = receiver.at("/ok")
    assert sorted(r.headers[EVENT_ID_HEADER.lower()] for r in got) == sorted(ids)
    ns: dict[str, Any] = {}
    exec(verify_recipe(), ns)  # noqa: S102 - the README's own snippet, run as documented
    for r in got:
        assert ns["verify"](secret, r.body, r.headers[SIGNATURE_HEADER.lower()])
        assert r.json()["id"] == r.headers[EVENT_ID_HEADER.lower()]
        assert r.json()["type"] == "incident.filed"
    assert not ns["verify"]("whsec_wrong", got[0].body, got[0].headers[SIGNATURE_HEADER.lower()])
    assert not ns["verify"](secret, got[0].body + b" ", got[0].headers[SIGNATURE_HEADER.lower()])
    rows = await OutboxMessage.select()
    assert {r["state"] for r in rows} == {"delivered"} and {r["attempts"] for r in rows} == {1}


async def test_failing_first_n_then_delivered(app, settings, receiver):
    """A receiver failing its first 2 requests gets the event on the third attempt."""
    await subscribe(app, settings, receiver.url("/flaky/2"))
    [event_id] = await publish_many(1)
    worker = Worker(fast(settings), app.state.keyring.get)
    try:
        await drain(worker)
    finally:
        await worker.close()
    assert receiver.counts["/flaky/2"] == 3
    assert [r.headers[EVENT_ID_HEADER.lower()] for r in receiver.at("/flaky/2")] == [event_id]
    row = await OutboxMessage.select().first()
    assert row["state"] == "delivered" and row["attempts"] == 3


@pytest.mark.parametrize(
    ("path", "error"),
    [("/error", "receiver answered 500"), ("/slow/1.6", "timed out")],
)
async def test_dead_letter_after_max_attempts_then_retry(
    app, settings, receiver, admin, path, error
):
    """500s and timeouts are retried up to the maximum, then dead-lettered; retry sends again."""
    sid, _ = await subscribe(app, settings, receiver.url(path))
    await publish_many(1)
    worker = Worker(fast(settings), app.state.keyring.get)
    try:
        await drain(worker)
        assert receiver.counts[path] == 4
        resp = await admin.get("/api/v1/outbox", params={"state": "dead"})
        [dead] = resp.json()["items"]
        assert dead["attempts"] == 4 and error in dead["last_error"]
        assert "gave up after 4 attempts" in dead["last_error"]
        counts = (await admin.get("/api/v1/outbox/counts")).json()
        assert counts == {"pending": 0, "delivered": 0, "dead": 1}
        # The receiver is repaired: point the subscription at the healthy path and retry.
        resp = await admin.patch(
            f"/api/v1/subscriptions/{sid}", json={"version": 1, "url": receiver.url("/ok")}
        )
        assert resp.status_code == 200
        resp = await admin.post(f"/api/v1/outbox/{dead['id']}/retry")
        assert resp.status_code == 200 and resp.json()["state"] == "pending"
        assert resp.json()["attempts"] == 0
        assert_problem(await admin.post(f"/api/v1/outbox/{dead['id']}/retry"), 409)
        await drain(worker)
    finally:
        await worker.close()
    assert len(receiver.at("/ok")) == 1
    resp = await admin.get(f"/api/v1/outbox/{dead['id']}")
    assert resp.json()["state"] == "delivered"
    assert await AuditEvent.count().where(AuditEvent.action == "outbox.retry") == 1


async def test_gone_dead_letters_at_once_and_deactivates(app, settings, receiver, admin):
    """410 Gone: no retries, the subscription is turned off and its queue dead-lettered."""
    sid, _ = await subscribe(app, settings, receiver.url("/gone"))
    await publish_many(3)
    worker = Worker(fast(settings, outbox_batch_size=1), app.state.keyring.get)
    try:
        await drain(worker)
    finally:
        await worker.close()
    assert receiver.counts["/gone"] == 1
    sub = (await admin.get(f"/api/v1/subscriptions/{sid}")).json()
    assert sub["active"] is False and "410" in sub["deactivated_reason"]
    rows = await OutboxMessage.select()
    assert {r["state"] for r in rows} == {"dead"} and len(rows) == 3
    assert await AuditEvent.count().where(AuditEvent.action == "subscription.deactivate") == 1
    resp = await admin.post(f"/api/v1/outbox/{rows[0]['id']}/retry")
    assert_problem(resp, 409)


async def test_redirect_is_never_followed(app, settings, receiver):
    """A 302 is dead-lettered at once; the redirect target is never reached."""
    await subscribe(app, settings, receiver.url("/redirect"))
    await publish_many(2)
    worker = Worker(fast(settings), app.state.keyring.get)
    try:
        await drain(worker)
    finally:
        await worker.close()
    assert receiver.counts.get("/redirect") == 2
    assert receiver.counts.get("/ok") is None
    rows = await OutboxMessage.select()
    assert {r["state"] for r in rows} == {"dead"}
    assert all("redirect" in r["last_error"] and r["attempts"] == 1 for r in rows)


async def test_host_outside_allowlist_is_never_reached(app, settings, receiver):
    """A subscription whose host left the allowlist is not contacted at all."""
    wide = dataclasses.replace(settings, webhook_allowed_hosts=("127.0.0.1", "localhost"))
    await subscribe(app, wide, receiver.url("/ok", host="localhost"))
    await publish_many(2)
    worker = Worker(fast(settings), app.state.keyring.get)
    try:
        await drain(worker)
    finally:
        await worker.close()
    assert receiver.requests == [] and receiver.counts == {}
    rows = await OutboxMessage.select()
    assert {r["state"] for r in rows} == {"dead"}
    assert all("not in REGISTER_WEBHOOK_ALLOWED_HOSTS" in r["last_error"] for r in rows)


async def test_two_workers_never_send_one_attempt_twice(app, settings, receiver):
    """Two workers claiming at once take disjoint batches: each event arrives once."""
    await subscribe(app, settings, receiver.url("/slow/0.05"))
    ids = await publish_many(60)
    # Generous timeouts: a slow answer on a loaded machine must not turn into a retry here.
    s = fast(settings, outbox_batch_size=10, webhook_read_timeout=5.0)
    one, two = Worker(s, app.state.keyring.get), Worker(s, app.state.keyring.get)
    try:
        while await OutboxMessage.count().where(OutboxMessage.state == "pending"):
            await asyncio.gather(one.run_once(), two.run_once())
    finally:
        await one.close()
        await two.close()
    got = [r.headers[EVENT_ID_HEADER.lower()] for r in receiver.at("/slow/0.05")]
    assert sorted(got) == sorted(ids)
    rows = await OutboxMessage.select()
    assert {r["claimed_by"] for r in rows} == {one.name, two.name}
    assert {r["attempts"] for r in rows} == {1} and {r["state"] for r in rows} == {"delivered"}


async def test_lease_expiry_hands_messages_to_another_worker(app, settings, receiver):
    """Messages claimed by a worker that never finished are delivered after the lease."""
    await subscribe(app, settings, receiver.url("/ok"))
    ids = await publish_many(5)
    s = fast(settings, outbox_lease_seconds=0.3)
    crashed = Worker(s, app.state.keyring.get)
    claimed = await crashed.claim(10)
    assert len(claimed) == 5
    other = Worker(s, app.state.keyring.get)
    try:
        assert (await other.run_once()).claimed == 0
        await asyncio.sleep(0.35)
        await drain(other)
    finally:
        await other.close()
    assert sorted(r.headers[EVENT_ID_HEADER.lower()] for r in receiver.at("/ok")) == sorted(ids)
    rows = await OutboxMessage.select()
    assert {r["attempts"] for r in rows} == {2} and {r["claimed_by"] for r in rows} == {other.name}


async def test_slack_and_teams_formats(app, settings, receiver):
    """Slack gets text and blocks; Teams gets an Adaptive Card attachment."""
    await subscribe(app, settings, receiver.url("/ok/slack"), fmt="slack")
    await subscribe(app, settings, receiver.url("/ok/teams"), fmt="teams")
    async with write_transaction():
        await publish(
            "incident.filed",
            {"incident_id": 3, "account": "@acme <main>", "url": "https://register.example/i/3"},
            summary="Account @acme taken over",
        )
    worker = Worker(fast(settings), app.state.keyring.get)
    try:
        await drain(worker)
    finally:
        await worker.close()
    slack = receiver.at("/ok/slack")[0].json()
    assert slack["text"] == "Incident filed: Account @acme taken over"
    text = json.dumps(slack["blocks"])
    assert "&lt;main&gt;" in text and "<https://register.example/i/3|Open in the register>" in text
    teams = receiver.at("/ok/teams")[0].json()
    assert teams["type"] == "message"
    [attachment] = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"][1]["text"] == "Account @acme taken over"
    assert card["actions"][0]["url"] == "https://register.example/i/3"


# digest, retention, keys --------------------------------------------------------------------------


async def test_daily_digest_per_role_once_a_day(app, settings, receiver):
    """The digest is built per role from the digest sources, once per day."""
    calls: list[tuple[Role, dt.datetime]] = []

    async def source(role: Role, since: dt.datetime) -> list[dict[str, Any]]:
        calls.append((role, since))
        return [{"title": "Incidents past SLA", "count": 2, "items": [f"for {role.value}", "b"]}]

    await subscribe(app, settings, receiver.url("/ok/it"), events=["digest.daily"], roles=["it"])
    await subscribe(app, settings, receiver.url("/ok/hr"), events=["digest.daily"], roles=["hr"])
    extensions.load()
    extensions.digest_sources.append(source)
    try:
        now = dt.datetime.now(dt.UTC).replace(hour=9, minute=30)
        assert await publish_digest(now=now.replace(hour=6), hour=7) == []
        ids = await publish_digest(now=now, hour=7)
        assert len(ids) == 2
        assert await publish_digest(now=now, hour=7) == []
    finally:
        extensions.digest_sources.remove(source)
    assert sorted(role for role, _ in calls if role in (Role.it, Role.hr)) == [Role.hr, Role.it]
    assert all(
        since == now.replace(hour=7, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
        for _, since in calls
    )
    worker = Worker(fast(settings), app.state.keyring.get)
    try:
        await drain(worker)
    finally:
        await worker.close()
    it = receiver.at("/ok/it")[0].json()
    assert it["type"] == "digest.daily" and it["audience"] == ["it"]
    # Other installed parts contribute their own sections; this source's one is among them.
    assert {
        "title": "Incidents past SLA",
        "count": 2,
        "items": ["for it", "b"],
    } in it["payload"]["sections"]
    assert it["summary"].startswith("Daily digest for it: ")
    assert "2 incidents past sla" in it["summary"]
    assert receiver.at("/ok/hr")[0].json()["payload"]["role"] == "hr"
    since = now.replace(hour=7, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    assert it["payload"]["since"] == since.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_delivered_messages_are_purged_after_retention(app, settings, receiver):
    """Delivered rows older than the retention period go; dead letters stay."""
    await subscribe(app, settings, receiver.url("/ok"))
    await subscribe(app, settings, receiver.url("/gone"))
    await publish_many(2)
    worker = Worker(fast(settings), app.state.keyring.get)
    try:
        await drain(worker)
    finally:
        await worker.close()
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    await OutboxMessage.update({OutboxMessage.delivered_at: long_ago}).where(
        OutboxMessage.state == "delivered"
    )
    assert await purge_delivered(retention_days=14) == 2
    assert {r["state"] for r in await OutboxMessage.select()} == {"dead"}


async def test_rewrap_moves_subscription_keys(app, settings, receiver):
    """`register keys rotate` then `rewrap` re-seals subscription keys; delivery still signs."""
    from register.commands import rotate
    from register.keys import KeyRing
    from register.notifications.services import rewrap_all

    sid, secret = await subscribe(app, settings, receiver.url("/ok"))
    before = settings.keyring_file.read_text()
    try:
        ring = rotate(settings)
        counts = await rewrap_all(ring)
        assert counts["rewrapped"] == 1 and counts["remaining_on_old_versions"] == 0
        row = await Subscription.select().where(Subscription.id == sid).first()
        assert row["key_version"] == ring.current
        await publish_many(1)
        worker = Worker(fast(settings), lambda: ring)
        try:
            await drain(worker)
        finally:
            await worker.close()
        got = receiver.at("/ok")[0]
        ns: dict[str, Any] = {}
        exec(verify_recipe(), ns)  # noqa: S102 - the README's own snippet, run as documented
        assert ns["verify"](secret, got.body, got.headers[SIGNATURE_HEADER.lower()])
    finally:
        settings.keyring_file.write_text(before)
        assert KeyRing.from_json(before)


def test_backoff_grows_with_jitter_up_to_the_cap():
    """Each delay lies in [d/2, d] with d doubling per attempt, capped."""
    for attempt, d in [(1, 10), (2, 20), (3, 40), (10, 300)]:
        values = {backoff(attempt, 10, 300) for _ in range(50)}
        assert all(d / 2 <= v <= d for v in values) and len(values) > 1


def test_settings_from_environment():
    """The notification settings read from REGISTER_* variables, with clear errors."""
    s = Settings.from_env(
        {
            "REGISTER_WORKER_IN_PROCESS": "false",
            "REGISTER_OUTBOX_MAX_ATTEMPTS": "3",
            "REGISTER_WEBHOOK_READ_TIMEOUT": "2.5",
            "REGISTER_WEBHOOK_ALLOWED_HOSTS": "hooks.slack.com,*.logic.azure.com",
        },
        dotenv=Path("/nonexistent"),
    )
    assert s.worker_in_process is False and s.outbox_max_attempts == 3
    assert s.webhook_read_timeout == 2.5
    assert s.webhook_allowed_hosts == ("hooks.slack.com", "*.logic.azure.com")
    with pytest.raises(SystemExit, match="WORKER_IN_PROCESS"):
        Settings.from_env({"REGISTER_WORKER_IN_PROCESS": "maybe"}, dotenv=Path("/nonexistent"))
    with pytest.raises(SystemExit, match="OUTBOX_LEASE_SECONDS"):
        Settings.from_env(
            {"REGISTER_OUTBOX_LEASE_SECONDS": "20", "REGISTER_WEBHOOK_READ_TIMEOUT": "10"},
            dotenv=Path("/nonexistent"),
        )


async def test_delivery_transport_reads_every_response_framing(settings):
    """Chunked, sized, close-delimited and 1xx-prefixed answers all parse; connections are reused."""
    from register.notifications.flows import classify, make_client

    answers = [
        b"HTTP/1.1 503 X\r\nTransfer-Encoding: chunked\r\nRetry-After: 7\r\n\r\n"
        b"5\r\nbusy \r\n3\r\nnow\r\n0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 404 X\r\nConnection: close\r\nContent-Length: 9\r\n\r\nnot here!",
        b"HTTP/1.0 500 X\r\n\r\nold server, body to EOF",
    ]
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
                await reader.readexactly(length)
                answer = answers.pop(0)
                writer.write(answer)
                await writer.drain()
                if b"close" in answer or b"HTTP/1.0" in answer:
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook?x=1"
    client = make_client(settings)
    try:
        outcomes = [classify(await client.post(url, content=b"{}")) for _ in range(4)]
    finally:
        await client.aclose()
        server.close()
    assert outcomes[0].status == 503 and outcomes[0].retry_after == 7.0
    assert "busy now" in outcomes[0].error and not outcomes[0].final
    assert outcomes[1].ok and outcomes[1].status == 200
    assert outcomes[2].status == 404 and outcomes[2].final and "not here!" in outcomes[2].error
    assert outcomes[3].status == 500 and "old server, body to EOF" in outcomes[3].error
    # One connection for the first three answers, a new one after "Connection: close".
    assert connections == 2


async def test_worker_housekeeping_runs_the_apps_clocks(app, settings, monkeypatch):
    calls: list[str] = []

    async def broken() -> None:
        calls.append("broken")
        raise RuntimeError("a clock failed")

    async def fine() -> None:
        calls.append("fine")

    # The shipped clocks (incident escalations, handover overdue and leaving-date revocations).
    names = {t.__qualname__ for t in extensions.periodic_tasks}
    assert {"check_clocks", "handover_clock", "risk_clock"} <= names
    monkeypatch.setattr(extensions, "periodic_tasks", [broken, fine])
    worker = Worker(fast(settings), app.state.keyring.get)
    try:
        await worker.housekeeping(force=True)
        # Within the minute it does not run again; forced, it does.
        await worker.housekeeping()
        assert calls == ["broken", "fine"]
    finally:
        await worker.close()


async def test_one_message_that_cannot_be_sent_does_not_stop_its_batch(
    app, settings, receiver, monkeypatch
):
    """An unexpected error while sending one message is recorded on it; the others go out."""
    from register.notifications.flows import _webhooks as webhooks

    await subscribe(app, settings, receiver.url("/ok"))
    ids = await publish_many(3)
    real_send = webhooks.send

    async def send(client, s, url, body, headers):
        if headers[EVENT_ID_HEADER] == ids[1]:
            raise UnicodeError("label empty or too long")
        return await real_send(client, s, url, body, headers)

    monkeypatch.setattr(webhooks, "send", send)
    worker = Worker(fast(settings), app.state.keyring.get)
    try:
        result = await worker.run_once()
    finally:
        await worker.close()
    assert result.delivered == 2 and result.retrying == 1
    assert sorted(r.headers[EVENT_ID_HEADER.lower()] for r in receiver.at("/ok")) == sorted(
        [ids[0], ids[2]]
    )
    failed = await OutboxMessage.select().where(OutboxMessage.event_id == ids[1]).first()
    assert failed["state"] == "pending" and "UnicodeError" in failed["last_error"]


def test_teams_cards_show_typed_text_literally():
    from register.notifications.flows import teams_message

    card = teams_message(
        {
            "id": "e1",
            "type": "incident.filed",
            "summary": "[Reset your password](https://evil.example) *now*",
            "payload": {"title": "[click](https://evil.example)"},
        }
    )["attachments"][0]["content"]
    summary = card["body"][1]["text"]
    assert summary == "\\[Reset your password\\]\\(https://evil.example\\) \\*now\\*"
    [facts] = [b for b in card["body"] if b["type"] == "FactSet"]
    assert facts["facts"][0]["value"] == "\\[click\\]\\(https://evil.example\\)"


async def test_delivery_transport_starts_anew_when_an_idle_connection_was_closed(settings):
    """A receiver that drops a kept-alive connection costs nothing: the send goes on a new one."""
    from register.notifications.flows import make_client

    connections = 0
    served = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections, served
        connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
        await reader.readexactly(length)
        served += 1
        # Claims keep-alive, then closes right after answering (as idle-timeout proxies do).
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    client = make_client(settings)
    try:
        first = await client.post(url, content=b"{}")
        await asyncio.sleep(0.05)  # the close reaches us while the connection sits idle
        second = await client.post(url, content=b"{}")
    finally:
        await client.aclose()
        server.close()
    assert first.status_code == second.status_code == 200
    assert served == 2 and connections == 2
