"""The leaver's attestation links through the JSON API and the CLI: made, listed, revoked; the
token shown once and never kept for replay; a revoked link refused on its page."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Any

import httpx

from accounts.handovers import flows
from accounts.handovers.tables import AttestationLink
from register.enums import Role
from register.settings import Settings
from register.tables import IdempotencyRecord
from tests.accounts.handovers.test_pages_extra import attest, item_of, started, trail, words
from tests.cli import run_cli
from tests.helpers import assert_problem, form, page_client

PUBLIC = "https://register.example.com"


def links_path(hid: int) -> str:
    return f"/api/v1/handovers/{hid}/attestation-links"


def leaver_of(app: Any) -> httpx.AsyncClient:
    """The leaver's browser: no account, no session."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_hr_makes_a_link_through_the_api_shown_once_and_lists_it_without_its_token(
    app: Any, settings: Settings, people: dict[str, int], user_factory: Any
) -> None:
    handover = await started(settings, people)
    hid = handover["id"]
    hr_user, hr = await user_factory(Role.hr)
    made = await hr.post(links_path(hid), json={"days": 5})
    assert made.status_code == 201, made.text
    body = made.json()
    token = body["token"]
    assert body["url"] == f"http://testserver/attest/{token}"
    link = body["link"]
    assert link["state"] == "open" and link["created_by_email"] == hr_user["email"]
    expires = dt.datetime.fromisoformat(link["expires_at"])
    assert abs(expires - (dt.datetime.now(dt.UTC) + dt.timedelta(days=5))) < dt.timedelta(minutes=1)
    (row,) = await AttestationLink.select()
    assert row["id"] == link["id"] and token not in json.dumps(row, default=str)
    (created,) = await trail("handover.attestation_link.create")
    assert created["changes"]["days"] == [None, 5]

    # Seven days unless told otherwise.
    second = (await hr.post(links_path(hid), json={})).json()["link"]
    assert dt.datetime.fromisoformat(second["expires_at"]) - dt.datetime.fromisoformat(
        second["created_at"]
    ) == dt.timedelta(days=7)

    async with leaver_of(app) as leaver:
        opened = await leaver.get(body["url"])
        assert opened.status_code == 200 and "I, Cy Leaving, confirm" in words(opened)

    listed = await hr.get(links_path(hid))
    assert listed.status_code == 200
    assert token not in listed.text and "token" not in listed.text and "url" not in listed.text
    newest, first = listed.json()
    assert [newest["id"], first["id"]] == [second["id"], link["id"]]
    assert first["created_by_email"] == hr_user["email"] and first["opened_at"] is not None
    assert first["used_at"] is None and first["revoked_at"] is None
    assert newest["opened_at"] is None

    async with leaver_of(app) as leaver:
        done = await attest(leaver, body["url"], "Cy Leaving")
        assert done.status_code == 200, done.text
    used = (await hr.get(links_path(hid))).json()[1]
    assert used["state"] == "used" and used["used_at"] is not None
    # Both links named one attestation: once it is given, the other one is refused too.
    late = await hr.post(links_path(hid), json={"days": 3})
    assert_problem(late, 409)
    assert "the attestation is already done" in late.json()["detail"]


async def test_the_link_starts_with_the_public_url_when_it_is_set(
    app: Any, settings: Settings, people: dict[str, int], hr: httpx.AsyncClient
) -> None:
    handover = await started(settings, people)
    app.state.settings = dataclasses.replace(settings, public_url=PUBLIC)
    made = (await hr.post(links_path(handover["id"]), json={"days": 1})).json()
    assert made["url"] == f"{PUBLIC}/attest/{made['token']}"


async def test_days_out_of_range_and_an_unknown_handover_are_refused(
    app: Any, settings: Settings, people: dict[str, int], hr: httpx.AsyncClient
) -> None:
    handover = await started(settings, people)
    for days in (0, 31, "seven"):
        bad = await hr.post(links_path(handover["id"]), json={"days": days})
        assert_problem(bad, 422)
        assert "days" in bad.text
    assert_problem(await hr.post(links_path(handover["id"]), json={"hours": 3}), 422)
    assert_problem(await hr.post(links_path(9999), json={"days": 3}), 404)
    assert_problem(await hr.get(links_path(9999)), 404)
    assert not await AttestationLink.select()


async def test_it_may_not_make_or_revoke_links_and_the_auditor_may_only_list_them(
    app: Any, settings: Settings, people: dict[str, int], user_factory: Any, hr: httpx.AsyncClient
) -> None:
    handover = await started(settings, people)
    hid = handover["id"]
    link = (await hr.post(links_path(hid), json={"days": 3})).json()["link"]
    _, it = await user_factory(Role.it)
    _, auditor = await user_factory(Role.auditor)
    for client in (it, auditor):
        assert_problem(await client.post(links_path(hid), json={"days": 3}), 403)
        assert_problem(await client.post(f"{links_path(hid)}/{link['id']}/revoke"), 403)
    listed = await auditor.get(links_path(hid))
    assert listed.status_code == 200 and [x["id"] for x in listed.json()] == [link["id"]]
    assert len(await AttestationLink.select()) == 1
    assert (await AttestationLink.select())[0]["revoked_at"] is None


async def test_a_revoked_link_opens_nothing_and_the_page_lists_it_as_revoked(
    app: Any, settings: Settings, people: dict[str, int], user_factory: Any
) -> None:
    handover = await started(settings, people)
    hid = handover["id"]
    hr_user, hr = await user_factory(Role.hr)
    made = (await hr.post(links_path(hid), json={"days": 3})).json()
    kept = (await hr.post(links_path(hid), json={"days": 3})).json()
    revoked = await hr.post(f"{links_path(hid)}/{made['link']['id']}/revoke")
    assert revoked.status_code == 200, revoked.text
    shown = revoked.json()
    assert shown["state"] == "revoked" and shown["revoked_by_email"] == hr_user["email"]
    assert shown["revoked_at"] is not None and "token" not in revoked.text
    (event,) = await trail("handover.attestation_link.revoke")
    assert event["object_id"] == str(hid) and event["changes"]["link"] == [None, shown["id"]]

    again = await hr.post(f"{links_path(hid)}/{made['link']['id']}/revoke")
    assert_problem(again, 409)
    assert "already revoked" in again.json()["detail"]
    assert_problem(await hr.post(f"{links_path(hid)}/9999/revoke"), 404)
    assert len(await trail("handover.attestation_link.revoke")) == 1

    async with leaver_of(app) as leaver:
        page = await leaver.get(made["url"])
        assert page.status_code == 410
        assert "This link has been withdrawn by your employer." in words(page)
        posted = await attest(leaver, made["url"], "Cy Leaving")
        assert posted.status_code == 410
        # The other link still works.
        assert (await leaver.get(kept["url"])).status_code == 200
    current = await flows.get_handover(handover_id=hid, sync=False)
    assert item_of(current, "attest_deletion")["state"] == "open"
    reasons = [e["changes"]["reason"] for e in await trail("handover.attestation_link.refused")]
    assert reasons == ["revoked", "revoked"]

    # HR's page lists it as revoked, by whom, and offers Revoke only for the link still open.
    browser = await page_client(app, Role.hr)
    listing = await browser.get(f"/handovers/{hid}/attestation-link")
    text = words(listing)
    assert "revoked" in text and f"by {hr_user['email']}" in text
    forms = re.findall(r'action="(/handovers/\d+/attestation-link/(\d+)/revoke)"', listing.text)
    assert [int(x) for _, x in forms] == [kept["link"]["id"]]
    done = await browser.post(forms[0][0], data=form(browser))
    assert done.status_code == 303
    assert done.headers["location"] == f"/handovers/{hid}/attestation-link"
    after = await browser.get(f"/handovers/{hid}/attestation-link")
    assert "/revoke" not in after.text and words(after).count("revoked") >= 2
    twice = await browser.post(forms[0][0], data=form(browser))
    assert twice.status_code == 409 and "the link is already revoked" in words(twice)
    # The checklist's attestation item says the last link was revoked, not that it still works.
    checklist = words(await browser.get(f"/handovers/{hid}"))
    assert "was revoked by" in checklist and "make another" in checklist
    assert "The leaver has not used it yet" not in checklist


async def test_a_used_link_cannot_be_revoked(
    app: Any, settings: Settings, people: dict[str, int], hr: httpx.AsyncClient
) -> None:
    handover = await started(settings, people)
    made = (await hr.post(links_path(handover["id"]), json={"days": 3})).json()
    async with leaver_of(app) as leaver:
        assert (await attest(leaver, made["url"], "Cy Leaving")).status_code == 200
    refused = await hr.post(f"{links_path(handover['id'])}/{made['link']['id']}/revoke")
    assert_problem(refused, 409)
    assert "nothing to revoke" in refused.json()["detail"]


async def test_a_replay_gives_the_link_without_its_token(
    app: Any, settings: Settings, people: dict[str, int], hr: httpx.AsyncClient
) -> None:
    handover = await started(settings, people)
    headers = {"Idempotency-Key": "leaver-link"}
    first = await hr.post(links_path(handover["id"]), json={"days": 3}, headers=headers)
    assert first.status_code == 201, first.text
    token = first.json()["token"]
    records = await IdempotencyRecord.select()
    assert len(records) == 1 and records[0]["status_code"] == 201
    assert token not in json.dumps(records, default=str)
    again = await hr.post(links_path(handover["id"]), json={"days": 3}, headers=headers)
    body = assert_problem(again, 409, "secret-shown-once")
    assert token not in again.text and again.headers["idempotent-replayed"] == "true"
    assert body["answer"] == {"link": first.json()["link"]}
    assert len(await AttestationLink.select()) == 1


async def test_the_cli_makes_lists_and_revokes_links(
    app: Any, settings: Settings, people: dict[str, int]
) -> None:
    handover = await started(settings, people)
    hid = str(handover["id"])
    unset = await run_cli(settings, "handover", "attestation-link", "create", hid)
    assert unset.code == 2 and "set REGISTER_PUBLIC_URL" in unset.err and unset.out == ""
    assert not await AttestationLink.select(), "nothing is made when the address is unknown"

    made = await run_cli(
        settings,
        "handover",
        "attestation-link",
        "create",
        hid,
        "--days",
        "3",
        REGISTER_PUBLIC_URL=PUBLIC + "/",
    )
    assert made.code == 0, made.err
    url = made.out.strip()
    assert re.fullmatch(re.escape(PUBLIC) + r"/attest/[\w-]+\.[\w-]+", url), made.out
    assert "It is shown only now" in made.err
    token = url.rsplit("/", 1)[1]
    (row,) = await AttestationLink.select()
    assert row["created_by_email"] == "cli" and token not in json.dumps(row, default=str)
    too_long = await run_cli(
        settings, "handover", "attestation-link", "create", hid, "--days", "31",
        REGISTER_PUBLIC_URL=PUBLIC,
    )  # fmt: skip
    assert too_long.code == 2 and "1 to 30 days" in too_long.err

    async with leaver_of(app) as leaver:
        assert (await leaver.get(f"/attest/{token}")).status_code == 200

    listed = await run_cli(settings, "handover", "attestation-link", "list", hid)
    assert listed.code == 0, listed.err
    assert f"link {row['id']:>5}  open" in listed.out and "by cli" in listed.out
    assert "opened 20" in listed.out and token not in listed.out

    revoked = await run_cli(settings, "handover", "attestation-link", "revoke", hid, str(row["id"]))
    assert revoked.code == 0 and "revoked: it opens nothing now" in revoked.out
    again = await run_cli(settings, "handover", "attestation-link", "revoke", hid, str(row["id"]))
    assert again.code == 2 and "already revoked" in again.err
    shown = await run_cli(settings, "handover", "attestation-link", "list", hid, "--json")
    (only,) = json.loads(shown.out)
    assert only["state"] == "revoked" and only["revoked_by_email"] == "cli"
    async with leaver_of(app) as leaver:
        assert (await leaver.get(f"/attest/{token}")).status_code == 410

    wrong = await run_cli(settings, "handover", "attestation-link", "list", "9999")
    assert wrong.code == 2 and "handover 9999 does not exist" in wrong.err
    bad = await run_cli(
        settings, "handover", "attestation-link", "list", hid, REGISTER_PUBLIC_URL="ftp://x"
    )
    assert bad.code == 1 and "REGISTER_PUBLIC_URL must be" in bad.err
