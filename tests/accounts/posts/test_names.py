"""A post request is named by its account and its time, never by its number: its page's title,
the lists, the home page, an incident's link, the e-mails (in each reader's language and time
zone), the webhook's summary, and a refusal shown on its page."""

from __future__ import annotations

import dataclasses
import html
import re
from typing import Any

from register.actor import Actor
from register.db import fetch, json_value
from register.enums import Role
from register.notifications.enums import EventType, MailKind
from register.notifications.flows import configure_mail, render_mail
from register.services import update_user
from tests.accounts.posts.conftest import World
from tests.accounts.posts.test_pages import browser_of, submit_page
from tests.helpers import form, subscribe


def h1(page: str) -> str:
    """The page's heading as a reader sees it."""
    found = re.search(r"<h1>(.*?)</h1>", page, re.S)
    assert found is not None
    return html.unescape(found.group(1)).strip()


async def test_the_page_lists_and_home_name_the_post_by_account_and_time(
    app: Any, world: World
) -> None:
    staff = await browser_of(app, world, world.submitter)
    sent = await submit_page(staff, world, planned_at="2027-03-01T10:00")
    pr = int(sent.headers["location"].split("/")[2].split("?")[0])
    handle = world.account["handle"]
    name = f"Post on X {handle} for Mar 1, 2027, 10:00\u202fAM"
    page = await staff.get(f"/posts/{pr}")
    assert h1(page.text) == name
    assert f"<title>{html.escape(name)} ·" in page.text
    assert f"Post request {pr}" not in page.text and f"post request {pr}" not in page.text
    dutch = await staff.get(f"/posts/{pr}", headers={"Accept-Language": "nl"})
    assert h1(dutch.text) == f"Bericht voor X {handle} op 1 mrt 2027, 10:00"
    # The submitter's home and list, and the approver's queue, link to it by the same name.
    linked = f'<a href="/posts/{pr}">{html.escape(name)}</a>'
    assert linked in (await staff.get("/")).text
    assert linked in (await staff.get("/posts")).text
    approver = await browser_of(app, world, world.approver)
    home = (await approver.get("/")).text
    waiting = home.split("Posts waiting for you")[1]
    assert linked in waiting and "From Eve Active:" in waiting
    # Without a planned time it is named by when it was submitted.
    later = await submit_page(staff, world, planned_at="", text="Whenever it is approved")
    other = int(later.headers["location"].split("/")[2].split("?")[0])
    title = h1((await staff.get(f"/posts/{other}")).text)
    assert re.fullmatch(rf"Post on X {re.escape(handle)}, submitted \w+ \d+, \d{{4}}, .+", title)
    # Deciding on a post request that was decided meanwhile: the refusal says "this post request".
    approved = await approver.post(f"/posts/{pr}/approve", data=form(approver, version="1"))
    assert approved.status_code == 303, approved.text
    again = await approver.post(
        f"/posts/{pr}/send-back", data=form(approver, version="1", reason="x")
    )
    assert again.status_code == 409, again.text
    assert "this post request is" in again.text and f"post request {pr}" not in again.text
    api = await world.approver_c.post(f"/api/v1/post-requests/{pr}/approve", json={"version": 1})
    assert api.status_code == 409 and f"post request {pr} is" in api.json()["detail"]
    for c in (staff, approver):
        await c.aclose()


async def test_an_incident_names_the_post_it_concerns_by_account_and_time(
    app: Any, world: World, user_factory: Any
) -> None:
    pr = (
        await world.submitter_c.post(
            "/api/v1/post-requests",
            json={
                "account_id": world.account["id"],
                "text": "Oops",
                "planned_at": "2027-01-04T09:00:00+01:00",
            },
        )
    ).json()["id"]
    _, comms = await user_factory(Role.comms)
    incident = (
        await comms.post(
            "/api/v1/incidents",
            json={"title": "Wrong post", "category": "erroneous_post", "severity": "SEV3"},
        )
    ).json()
    linked = await comms.patch(
        f"/api/v1/incidents/{incident['id']}",
        json={"post_request_id": pr, "version": incident["version"]},
    )
    assert linked.status_code == 200, linked.text
    reader = await browser_of(app, world, world.approver)
    shown = await reader.get(f"/incidents/{incident['id']}")
    name = f"Post on X {world.account['handle']} for Jan 4, 2027, 8:00\u202fAM"
    assert f'<a href="/posts/{pr}">{html.escape(name)}</a>' in shown.text
    await reader.aclose()


async def test_mails_and_webhooks_name_the_post_in_their_readers_words(
    app: Any, world: World, settings: Any
) -> None:
    """The approver's mail in Dutch in their time zone, the submitter's in English; the webhook's
    summary in English; none of them by number."""
    await update_user(
        actor=Actor.system("test"),
        user_id=world.approver["id"],
        version=world.approver["version"],
        changes={"language": "nl", "time_zone": "Europe/Amsterdam"},
    )
    configure_mail(dataclasses.replace(settings, smtp_host="127.0.0.1"))
    try:
        await subscribe(
            app,
            settings,
            "https://127.0.0.1/hook",
            events=[EventType.post_request_submitted.value, EventType.post_request_decided.value],
        )
        made = await world.submitter_c.post(
            "/api/v1/post-requests",
            json={
                "account_id": world.account["id"],
                "text": "Our stand",
                "planned_at": "2027-03-01T09:00:00Z",
            },
        )
        pr = made.json()["id"]
        back = await world.approver_c.post(
            f"/api/v1/post-requests/{pr}/send-back", json={"version": 1, "reason": "Hall?"}
        )
        assert back.status_code == 200, back.text
        rows = await fetch('SELECT "id", "event_type", "event" FROM "outbox_message" ORDER BY "id"')
    finally:
        configure_mail(settings)
    handle = world.account["handle"]
    events = [(r["id"], r["event_type"], json_value(r["event"])) for r in rows]
    mails = {
        e["mail"]["to"]: render_mail(e, row_id=i, settings=settings)
        for i, kind, e in events
        if kind == MailKind.post_request_waiting.value
    }
    assert mails["ana@example.com"]["Subject"] == (
        f"Wacht op uw goedkeuring: Bericht voor X {handle} op 1 mrt 2027, 10:00"
    )
    assert mails["ben@example.com"]["Subject"] == (
        f"Waiting for your approval: Post on X {handle} for Mar 1, 2027, 9:00\u202fAM"
    )
    (decided,) = [
        render_mail(e, row_id=i, settings=settings)
        for i, kind, e in events
        if kind == MailKind.post_request_decided.value
    ]
    assert decided["Subject"] == (
        f"Your post is sent back: Post on X {handle} for Mar 1, 2027, 9:00\u202fAM"
    )
    hooks = [e for _, kind, e in events if kind.startswith("post_request.")]
    assert [h["summary"] for h in hooks] == [
        f"Post on X {handle} for Mar 1, 2027, 9:00\u202fAM waits for approval.",
        f"Post on X {handle} for Mar 1, 2027, 9:00\u202fAM: sent_back by ana@example.com.",
    ]
    assert all(f"post request {pr}" not in str(e).lower() for _, _, e in events)
