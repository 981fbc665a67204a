"""The notifications' pages: subscriptions with a secret shown once, a test's answer in plain words,
rotation, turning off, deleting, and the outbox with its dead letters retried."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from register.actor import Actor
from register.enums import Role
from register.notifications.flows import SIGNATURE_HEADER, Worker, verify
from register.notifications.services import update_subscription
from register.notifications.tables import OutboxMessage, Subscription
from register.settings import Settings
from register.tables import AuditEvent
from tests.conftest import FIXTURE_PASSWORD, UserFactory
from tests.helpers import form, subscribe
from tests.register.notifications.conftest import Receiver, fast

SECRET = re.compile(r'<code id="secret" class="secret">([^<]+)</code>')


@pytest.fixture(autouse=True)
async def close_delivery_client(app: Any, receiver: Receiver) -> AsyncIterator[None]:
    """The app's delivery client is closed before the receiver stops (no connection left open)."""
    yield
    await app.state.outbox_worker.close()


async def browser(app: Any, user_factory: UserFactory, role: Role) -> httpx.AsyncClient:
    """A browser-like client of a new user of this role, signed in through the sign-in page."""
    user, _ = await user_factory(role)
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    resp = await c.post("/sign-in", data={"email": user["email"], "password": FIXTURE_PASSWORD})
    assert resp.status_code == 303, resp.text
    return c


async def audited(action: str) -> list[dict[str, Any]]:
    """The changes of every event of one action, oldest first."""
    rows = await (
        AuditEvent.select(AuditEvent.changes)
        .where(AuditEvent.action == action)
        .order_by(AuditEvent.seq)
    )
    return [
        json.loads(r["changes"]) if isinstance(r["changes"], str) else r["changes"] for r in rows
    ]


async def test_a_subscription_shows_its_secret_once_and_a_test_says_what_the_receiver_answered(
    app: Any, user_factory: UserFactory, receiver: Receiver
) -> None:
    """Events are chosen in words; the secret is in the answer only; a test is sent at once and
    its result (state, status, time) is on the page it leads to; a refused URL or no event is
    said at its field with the input kept."""
    admin = await browser(app, user_factory, Role.admin)
    try:
        empty = await admin.get("/admin/subscriptions")
        assert "No subscription yet" in empty.text and "Add a subscription" in empty.text
        new = await admin.get("/admin/subscriptions/new")
        assert "An incident is filed" in new.text and "A handover starts" in new.text
        assert 'value="test"' not in new.text and "127.0.0.1" in new.text
        refused = await admin.post(
            "/admin/subscriptions",
            data=form(
                admin,
                name="#it-oncall",
                format="json",
                url="https://hooks.evil.example/x",
                event_types=["incident.filed"],
            ),
        )
        assert refused.status_code == 422 and 'id="url-error"' in refused.text
        assert "is not in REGISTER_WEBHOOK_ALLOWED_HOSTS" in refused.text
        assert 'value="#it-oncall"' in refused.text
        none = await admin.post(
            "/admin/subscriptions",
            data=form(admin, name="#it-oncall", format="json", url=receiver.url("/ok")),
        )
        assert none.status_code == 422 and 'id="event_types-error"' in none.text
        assert "Choose at least one event." in none.text
        assert await Subscription.count() == 0
        created = await admin.post(
            "/admin/subscriptions",
            data=form(
                admin,
                name="#it-oncall",
                format="json",
                url=receiver.url("/ok"),
                event_types=["incident.filed", "handover.started"],
                roles=["it"],
            ),
        )
        assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
        [secret] = SECRET.findall(created.text)
        assert secret.startswith("whsec_") and "will not be shown again" in created.text
        listed = await admin.get("/admin/subscriptions")
        assert secret not in listed.text and receiver.url("/ok") not in listed.text
        assert f"http://127.0.0.1:{receiver.port}/…" in listed.text
        assert "An incident is filed" in listed.text and "A handover starts" in listed.text
        [made] = await audited("subscription.create")
        assert made["event_types"] == [None, ["handover.started", "incident.filed"]]

        sub = await Subscription.select(Subscription.id).first()
        assert sub is not None
        tested = await admin.post(f"/admin/subscriptions/{sub['id']}/test", data=form(admin))
        assert tested.status_code == 303
        location = tested.headers["location"]
        assert re.fullmatch(rf"/admin/subscriptions\?tested=\d+#subscription-{sub['id']}", location)
        result = await admin.get(location.split("#")[0])
        assert "Test delivered" in result.text and "the receiver answered 204" in result.text
        [got] = receiver.at("/ok")
        assert verify(secret, got.body, got.headers[SIGNATURE_HEADER.lower()])
        assert len(await audited("subscription.test")) == 1
        dutch = await admin.get("/admin/subscriptions", headers={"accept-language": "nl"})
        assert "<h1>Meldingen</h1>" in dutch.text
    finally:
        await admin.aclose()


async def test_a_failed_test_is_said_in_plain_words_and_a_dead_letter_is_retried_from_the_outbox(
    app: Any, settings: Settings, user_factory: UserFactory, receiver: Receiver
) -> None:
    """A 500 stays waiting to be tried again; a redirect is a dead letter at once, listed in the
    outbox with its error in words, retried there once the URL is fixed, then delivered. The
    admin's home says dead letters wait; a retry refused by the service is said on the page."""
    admin = await browser(app, user_factory, Role.admin)
    auditor = await browser(app, user_factory, Role.auditor)
    failing, _ = await subscribe(app, settings, receiver.url("/error"), events=["test"])
    moved, _ = await subscribe(app, settings, receiver.url("/redirect"), events=["test"])
    worker = Worker(fast(settings), app.state.keyring.get)
    try:
        resp = await admin.post(f"/admin/subscriptions/{failing}/test", data=form(admin))
        page = await admin.get(resp.headers["location"].split("#")[0])
        assert "Test not delivered yet" in page.text
        assert "The receiver had a problem of its own (500)." in page.text
        assert "It is tried again" in page.text
        resp = await admin.post(f"/admin/subscriptions/{moved}/test", data=form(admin))
        page = await admin.get(resp.headers["location"].split("#")[0])
        assert "not tried again" in page.text and "redirect (302)" in page.text
        assert "retry it from the outbox" in page.text

        home = await admin.get("/")
        assert "Notifications not delivered" in home.text
        assert "1 notification was not delivered" in home.text
        assert 'href="/outbox?state=dead"' in home.text
        assert "Notifications not delivered" not in (await auditor.get("/")).text

        dead = await admin.get("/outbox", params={"state": "dead"})
        assert dead.status_code == 200 and "Dead letters: 1" in dead.text
        assert "redirect (302), which is never followed" in dead.text
        assert "The receiver had a problem" not in dead.text
        [letter] = await OutboxMessage.select(OutboxMessage.id).where(OutboxMessage.state == "dead")
        by_sub = await admin.get("/outbox", params={"subscription_id": failing})
        assert "The receiver had a problem of its own (500)." in by_sub.text
        assert "redirect (302)" not in by_sub.text
        read_only = await auditor.get("/outbox", params={"state": "dead"})
        assert "redirect (302)" in read_only.text and "Retry" not in read_only.text

        # The receiver is fixed: the subscription points at its healthy path (through the service:
        # a URL is changed with the API).
        await update_subscription(
            actor=Actor.system("test"),
            keyring=app.state.keyring.get(),
            settings=settings,
            subscription_id=moved,
            version=1,
            changes={"url": receiver.url("/ok")},
        )
        retried = await admin.post(
            f"/outbox/{letter['id']}/retry", data=form(admin, state="dead", subscription_id="")
        )
        assert retried.status_code == 303
        assert retried.headers["location"] == f"/outbox?state=dead&retried={letter['id']}"
        after = await admin.get(retried.headers["location"])
        assert "queued again" in after.text
        assert len(await audited("outbox.retry")) == 1
        # The 500's message waits for its retry in half a minute; this one is due now.
        await worker.deliver_now([letter["id"]])
        row = await OutboxMessage.select(OutboxMessage.state).where(
            OutboxMessage.id == letter["id"]
        )
        assert row == [{"state": "delivered"}]
        twice = await admin.post(f"/outbox/{letter['id']}/retry", data=form(admin))
        assert twice.status_code == 409 and "only dead letters are retried" in twice.text
    finally:
        await worker.close()
        await admin.aclose()
        await auditor.aclose()


async def test_a_new_secret_is_shown_once_and_a_subscription_is_turned_off_and_deleted(
    app: Any, settings: Settings, user_factory: UserFactory, receiver: Receiver
) -> None:
    """Rotation behind a page that warns; the new secret signs, the old does not; a stale page
    says so; off and delete are audited and take effect."""
    admin = await browser(app, user_factory, Role.admin)
    sid, old = await subscribe(app, settings, receiver.url("/ok"), events=["test"])
    try:
        confirm = await admin.get(f"/admin/subscriptions/{sid}/rotate-secret")
        assert (
            "new signing secret?" in confirm.text and "The old secret stops at once" in confirm.text
        )
        rotated = await admin.post(
            f"/admin/subscriptions/{sid}/rotate-secret", data=form(admin, version="1")
        )
        assert rotated.status_code == 200 and "The old one stopped working" in rotated.text
        [new] = SECRET.findall(rotated.text)
        assert new != old and new not in (await admin.get("/admin/subscriptions")).text
        stale = await admin.post(
            f"/admin/subscriptions/{sid}/rotate-secret", data=form(admin, version="1")
        )
        assert stale.status_code == 409 and "Someone changed this subscription" in stale.text
        assert not SECRET.findall(stale.text)
        await admin.post(f"/admin/subscriptions/{sid}/test", data=form(admin))
        [got] = receiver.at("/ok")
        signature = got.headers[SIGNATURE_HEADER.lower()]
        assert verify(new, got.body, signature) and not verify(old, got.body, signature)

        off = await admin.post(
            f"/admin/subscriptions/{sid}/active", data=form(admin, version="2", active="no")
        )
        assert off.status_code == 303 and "done=off" in off.headers["location"]
        page = await admin.get("/admin/subscriptions?done=off")
        assert "is turned off" in page.text and "Turn on" in page.text
        assert (await audited("subscription.update"))[-1]["active"] == [True, False]
        stale_off = await admin.post(
            f"/admin/subscriptions/{sid}/active", data=form(admin, version="2", active="yes")
        )
        assert stale_off.status_code == 409 and "Someone changed" in stale_off.text

        confirm = await admin.get(f"/admin/subscriptions/{sid}/delete")
        assert "Delete “receiver" in confirm.text
        deleted = await admin.post(f"/admin/subscriptions/{sid}/delete", data=form(admin))
        assert deleted.headers["location"] == "/admin/subscriptions?done=deleted"
        assert await Subscription.count() == 0 and len(await audited("subscription.delete")) == 1
    finally:
        await admin.aclose()


async def test_a_subscriptions_url_and_events_are_changed_on_its_page(
    app: Any, user_factory: UserFactory, receiver: Receiver, settings: Settings
) -> None:
    """The form shows the saved events, never the URL; a refused URL keeps the input at its
    field; a stale version shows what is saved and keeps the input; the change is audited and
    the next message goes to the new URL."""
    sid, _ = await subscribe(app, settings, receiver.url("/old"), events=["incident.filed"])
    admin = await browser(app, user_factory, Role.admin)
    try:
        listed = await admin.get("/admin/subscriptions")
        assert f'href="/admin/subscriptions/{sid}/edit"' in listed.text
        page = await admin.get(f"/admin/subscriptions/{sid}/edit")
        assert page.status_code == 200 and "<h1>Change a subscription</h1>" in page.text
        # The URL field starts empty (the saved one is never shown: its path is a secret).
        assert 'id="url" name="url" type="url" value=""' in page.text
        assert f"It sends to http://127.0.0.1:{receiver.port}/… now." in page.text
        assert re.search(r'name="event_types" value="incident.filed"\s+checked', page.text)
        assert 'name="version" value="1"' in page.text
        wanted = {
            "name": "#it-oncall",
            "format": "json",
            "event_types": ["incident.filed", "handover.started"],
            "version": "1",
        }
        refused = await admin.post(
            f"/admin/subscriptions/{sid}/edit",
            data=form(admin, **wanted, url="https://hooks.evil.example/x"),
        )
        assert refused.status_code == 422
        assert re.search(
            r'<p class="error" id="url-error">url host hooks.evil.example is not in '
            r"REGISTER_WEBHOOK_ALLOWED_HOSTS</p>",
            refused.text,
        )
        assert 'value="https://hooks.evil.example/x"' in refused.text
        assert re.search(r'name="event_types" value="handover.started"\s+checked', refused.text)
        dutch = await admin.post(
            f"/admin/subscriptions/{sid}/edit",
            data=form(admin, **wanted, url="http://example.org/x"),
            headers={"accept-language": "nl"},
        )
        assert dutch.status_code == 422
        assert "het adres moet https gebruiken (gewoon http alleen naar deze machine)" in dutch.text
        # Someone turns it off meanwhile: the form says so and keeps what was typed.
        await update_subscription(
            actor=Actor.system("test"),
            keyring=app.state.keyring.get(),
            settings=settings,
            subscription_id=sid,
            version=1,
            changes={"name": "renamed meanwhile"},
        )
        stale = await admin.post(
            f"/admin/subscriptions/{sid}/edit",
            data=form(admin, **wanted, url=receiver.url("/new")),
        )
        assert stale.status_code == 409 and "This changed since you opened it." in stale.text
        assert 'value="#it-oncall"' in stale.text and 'name="version" value="2"' in stale.text
        assert re.search(r"Saved meanwhile: <strong>renamed meanwhile</strong>", stale.text)
        changed = await admin.post(
            f"/admin/subscriptions/{sid}/edit",
            data=form(admin, **{**wanted, "version": "2"}, url=receiver.url("/new")),
        )
        assert changed.status_code == 303
        assert (
            changed.headers["location"] == f"/admin/subscriptions?done=changed#subscription-{sid}"
        )
        after = await admin.get(changed.headers["location"].split("#")[0])
        assert "The subscription is changed." in after.text and "A handover starts" in after.text
        diff = (await audited("subscription.update"))[-1]
        assert diff["event_types"] == [["incident.filed"], ["handover.started", "incident.filed"]]
        assert diff["name"] == ["renamed meanwhile", "#it-oncall"]
        assert "url" in diff and receiver.url("/new") not in json.dumps(diff)
        # An empty URL keeps the address: only the events change.
        kept = await admin.post(
            f"/admin/subscriptions/{sid}/edit",
            data=form(
                admin, **{**wanted, "event_types": ["incident.filed"], "version": "3"}, url=""
            ),
        )
        assert kept.status_code == 303
        last = (await audited("subscription.update"))[-1]
        assert "url" not in last and last["event_types"][1] == ["incident.filed"]
        tested = await admin.post(f"/admin/subscriptions/{sid}/test", data=form(admin))
        assert tested.status_code == 303
        assert len(receiver.at("/new")) == 1 and receiver.at("/old") == []
    finally:
        await admin.aclose()


async def test_who_may_see_the_notification_pages(app: Any, user_factory: UserFactory) -> None:
    """Auditors read both pages without a form; other roles get 403 pages and no menu entry."""
    admin = await browser(app, user_factory, Role.admin)
    auditor = await browser(app, user_factory, Role.auditor)
    it = await browser(app, user_factory, Role.it)
    try:
        home = await admin.get("/")
        assert 'href="/admin/subscriptions"' in home.text and 'href="/outbox"' in home.text
        listed = await auditor.get("/admin/subscriptions")
        assert listed.status_code == 200 and "Add a subscription" not in listed.text
        assert (await auditor.get("/outbox")).status_code == 200
        for path in ("/admin/subscriptions/new", "/admin/subscriptions/1/delete"):
            refused = await auditor.get(path)
            assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
        post = await auditor.post("/admin/subscriptions/1/test", data=form(auditor))
        assert post.status_code == 403
        for path in ("/admin/subscriptions", "/outbox"):
            assert (await it.get(path)).status_code == 403
        assert 'href="/outbox"' not in (await it.get("/")).text
    finally:
        for c in (admin, auditor, it):
            await c.aclose()
