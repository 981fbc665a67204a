"""The handover's pages for a leaver who approves posts: the footprint names the accounts and the
open post requests, the checklist offers the steps, the forms name people and put errors next to
the field, in English and in Dutch, and the certificate page lists who took over."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from html import unescape
from typing import Any

import httpx
import pytest

from register.actor import Actor
from register.enums import Role
from register.services import update_user
from register.settings import Settings
from tests.accounts.handovers.conftest import Approvals
from tests.conftest import FIXTURE_PASSWORD
from tests.helpers import form

Browser = Callable[..., Awaitable[httpx.AsyncClient]]
LEAD = "hr-lead@example.com"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings with one HR lead."""
    return dataclasses.replace(settings, handover_hr_leads=(LEAD,))


@pytest.fixture
async def browser(app: Any, user_factory: Any) -> AsyncIterator[Browser]:
    """make(role, language="en") -> a client signed in through the sign-in page (session, CSRF)."""
    opened: list[httpx.AsyncClient] = []

    async def make(role: Role, language: str = "en", **kwargs: Any) -> httpx.AsyncClient:
        user, _ = await user_factory(role, **kwargs)
        if language != "en":
            await update_user(
                actor=Actor.system("test"),
                user_id=user["id"],
                version=user["version"],
                changes={"language": language},
            )
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        opened.append(c)
        signed = await c.post(
            "/sign-in", data={"email": user["email"], "password": FIXTURE_PASSWORD}
        )
        assert signed.status_code == 303, signed.text
        return c

    yield make
    for c in opened:
        await c.aclose()


def text_of(page: str) -> str:
    """The page's words, tags removed and spaces collapsed (what a reader sees)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page)).split()).replace(" :", ":")


async def _open(hr: httpx.AsyncClient, a: Approvals, successor: int) -> dict[str, Any]:
    resp = await hr.post(
        "/api/v1/handovers", json={"employee_id": a.cy, "successor_id": successor, "open": True}
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def _item(handover: dict[str, Any], kind: str, target: int | None = None) -> dict[str, Any]:
    return next(
        i
        for i in handover["items"]
        if i["kind"] == kind and (target is None or i["target_id"] == target)
    )


async def test_the_footprint_on_the_start_page_and_the_persons_page(
    browser: Browser, approvals: Approvals
) -> None:
    c = await browser(Role.hr)
    start = text_of((await c.get(f"/handovers/new?employee_id={approvals.cy}")).text)
    assert "Post approval" in start
    assert "X only: the only approver, and posts need approval" in start
    assert "shared: approves posts, with Ana Silva" in start
    assert "the only approver (posts from this account need no approval)" in start
    assert "Post requests still open" in start
    assert "Cy's farewell post · theirs, waiting for approval" in start
    assert "Eve's launch post · from Eve Active, waiting for their decision" in start
    person = text_of((await c.get(f"/staff/{approvals.cy}")).text)
    assert "Nobody could approve a post once they have gone." in person
    assert "Cy's farewell post" in person
    nl = await browser(Role.hr, language="nl")
    dutch = text_of((await nl.get(f"/handovers/new?employee_id={approvals.cy}")).text)
    assert "Goedkeuring van berichten" in dutch
    assert "de enige goedkeurder, en berichten moeten worden goedgekeurd" in dutch
    assert "Openstaande berichtaanvragen" in dutch


async def test_replacing_the_approver_and_withdrawing_the_posts_through_the_pages(
    browser: Browser,
    hr: httpx.AsyncClient,
    it: httpx.AsyncClient,
    user_factory: Any,
    approvals: Approvals,
    people: dict[str, int],
) -> None:
    a = approvals
    handover = await _open(hr, a, people["eve"])
    hid = handover["id"]
    await user_factory(Role.comms, employee_id=people["dee"], name="Dee Gone")
    only = _item(handover, "replace_post_approver", a.only["id"])
    posts = _item(handover, "withdraw_post_requests")
    c = await browser(Role.it)
    page = (await c.get(f"/handovers/{hid}")).text
    shown = text_of(page)
    assert "Replace Cy Leaving as post approver of X only" in shown
    assert "Nobody else approves this account's posts, and they need approval" in shown
    assert f'href="/handovers/{hid}/items/{only["id"]}/approver"' in page
    assert f'href="/handovers/{hid}/items/{posts["id"]}/withdraw"' in page

    form_page = (await c.get(f"/handovers/{hid}/items/{only['id']}/approver")).text
    # Another kind's form is not there: it would read this item's target as an account.
    wrong = await c.get(f"/handovers/{hid}/items/{posts['id']}/approver")
    assert wrong.status_code == 404
    assert (await c.get(f"/handovers/{hid}/items/{only['id']}/withdraw")).status_code == 404
    assert "Ben Okoro (IT" in form_page and "Ana Silva (" in form_page
    # Neither the leaver nor someone else who is leaving is offered.
    assert "cy-user@example.com" not in form_page
    assert "Dee Gone" not in form_page
    assert "Cy Leaving is the only approver" in text_of(form_page)

    # Nobody named for the account's only approver: refused, the error next to the field.
    refused = await c.post(
        f"/handovers/{hid}/items/{only['id']}/approver",
        data=form(c, replacement="", note="", version=str(only["version"])),
    )
    assert refused.status_code == 422, refused.text
    assert re.search(r'id="replacement-error"[^>]*>[^<]*need approval', refused.text)
    assert 'aria-invalid="true" aria-describedby="replacement-error' in refused.text

    done = await c.post(
        f"/handovers/{hid}/items/{only['id']}/approver",
        data=form(c, replacement=str(a.ben_user["id"]), note="", version=str(only["version"])),
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/handovers/{hid}?done=approver#item-{only['id']}"
    after = text_of((await c.get(done.headers["location"])).text)
    assert "The leaver no longer approves the account's posts, and the item is done." in after
    assert "Approves in their place: Ben Okoro" in after

    # Dutch: the form's words and its error.
    nl = await browser(Role.it, language="nl")
    shared = _item(handover, "replace_post_approver", a.shared["id"])
    dutch = text_of((await nl.get(f"/handovers/{hid}/items/{shared['id']}/approver")).text)
    assert "Wie keurt in hun plaats goed" in dutch
    assert "Niemand nieuw: de andere goedkeurders gaan door" in dutch

    withdraw = text_of((await c.get(f"/handovers/{hid}/items/{posts['id']}/withdraw")).text)
    assert "Cy's farewell post" in withdraw
    gone = await c.post(
        f"/handovers/{hid}/items/{posts['id']}/withdraw",
        data=form(c, reason="", version=str(posts["version"])),
    )
    assert gone.status_code == 303, gone.text
    after = text_of((await c.get(f"/handovers/{hid}")).text)
    assert "1 post request withdrawn" in after
    comms = await browser(Role.comms)
    post = text_of((await comms.get(f"/posts/{a.mine}")).text)
    assert "Withdrawn" in post and "Cy Leaving leaves (handover" in post

    # With every item closed, sign-off waits for what Cy still approves, said in words.
    grant = _item(handover, "revoke_grant")
    assert (
        await it.post(f"/api/v1/handovers/{hid}/items/{grant['id']}/revoke", json={})
    ).status_code == 200
    assert (
        await it.post(f"/api/v1/handovers/{hid}/items/{shared['id']}/approver", json={})
    ).status_code == 200
    _, lead = await user_factory(Role.hr, email=LEAD)
    free = _item(handover, "replace_post_approver", a.free["id"])
    waived = await lead.post(
        f"/api/v1/handovers/{hid}/items/{free['id']}/waive", json={"reason": "later"}
    )
    assert waived.status_code == 200, waived.text
    waiting = text_of((await c.get(f"/handovers/{hid}")).text)
    assert "Cy Leaving still holds: approves the posts of X free." in waiting
