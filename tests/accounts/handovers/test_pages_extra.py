"""The handover's pages beyond the checklist: the leaver's attestation link, the certificate, the
department templates editor and bulk leavers, through httpx as a browser sends them."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from typing import Any

import httpx

from accounts.handovers import flows
from accounts.handovers.files import verify_certificate
from accounts.handovers.tables import AttestationLink, HandoverDocument
from register.actor import Actor
from register.db import json_value
from register.enums import Role
from register.settings import Settings
from register.tables import AuditEvent
from tests.accounts.handovers.test_handovers import add_connections
from tests.cli import run_cli
from tests.helpers import form, page_client

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
LINK = re.compile(r'<code id="secret" class="secret">(http://testserver/attest/([^<]+))</code>')

NL = {"accept-language": "nl"}


def words(page: httpx.Response) -> str:
    """A page's text with its whitespace folded and entities read."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


async def started(settings: Settings, people: dict[str, int]) -> dict[str, Any]:
    """Cy's handover, open, with connections to export and an attestation to give."""
    await add_connections(people["cy"], 3)
    return await flows.start_handover(
        actor=Actor.system("test"),
        settings=settings,
        employee_id=people["cy"],
        successor_id=people["eve"],
        open_now=True,
    )


async def attest(
    leaver: httpx.AsyncClient, url: str, name: str, pdf: bytes = b"", filename: str = ""
) -> httpx.Response:
    """The leaver's form as a browser sends it: multipart, the file part empty when none is chosen."""
    return await leaver.post(
        url, data={"typed_name": name}, files={"pdf": (filename, pdf, "application/pdf")}
    )


def item_of(handover: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(i for i in handover["items"] if i["kind"] == kind)


async def signed_off(
    settings: Settings,
    secrets: Any,
    people: dict[str, int],
    user_factory: Any,
    handover: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Cy's handover worked through the flows and signed off by HR and IT: completed."""
    handover = handover or await started(settings, people)
    hid = handover["id"]
    hr_user, _ = await user_factory(Role.hr)
    it_user, _ = await user_factory(Role.it)
    hr = Actor(user_id=hr_user["id"], email=hr_user["email"], role=Role.hr)
    it = Actor(user_id=it_user["id"], email=it_user["email"], role=Role.it)
    await flows.export_item(
        actor=hr, handover_id=hid, item_id=item_of(handover, "export_connections")["id"]
    )
    await flows.attest_item(
        actor=hr,
        handover_id=hid,
        item_id=item_of(handover, "attest_deletion")["id"],
        typed_name="Cy Leaving",
        signed_on=dt.date.today(),
    )
    for actor, team in ((hr, "hr"), (it, "it")):
        await flows.sign_off(
            actor=actor, signing_key=secrets.signing_key, handover_id=hid, team=team
        )
    return await flows.get_handover(handover_id=hid, sync=False)


async def trail(action: str) -> list[dict[str, Any]]:
    """The audit trail's events of one action, oldest first, their changes read."""
    rows = await AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id)
    return [{**r, "changes": json_value(r["changes"], {})} for r in rows]


async def make_link(c: httpx.AsyncClient, hid: int, days: str = "7") -> tuple[str, str]:
    """HR makes the leaver's link on the page; (its address, its token) as shown once."""
    made = await c.post(f"/handovers/{hid}/attestation-link", data=form(c, days=days))
    assert made.status_code == 200, made.text
    assert "It is shown only now and will not be shown again." in words(made)
    assert "/static/shown-once.js" in made.text and 'data-copy="secret"' in made.text
    found = LINK.search(made.text)
    assert found, made.text
    return found.group(1), found.group(2)


async def test_the_leaver_attests_once_through_the_link_and_reaches_nothing_else(
    app: Any, settings: Settings, people: dict[str, int]
) -> None:
    handover = await started(settings, people)
    hid = handover["id"]
    hr = await page_client(app, Role.hr)
    page = await hr.get(f"/handovers/{hid}/attestation-link")
    assert page.status_code == 200 and "Cy Leaving" in words(page)
    assert 'value="7"' in page.text, "seven days unless HR says otherwise"
    too_long = await hr.post(f"/handovers/{hid}/attestation-link", data=form(hr, days="31"))
    assert too_long.status_code == 422
    assert "Give a number of days from 1 to 30." in words(too_long)
    assert not await AttestationLink.select()

    url, token = await make_link(hr, hid, "5")
    (row,) = await AttestationLink.select()
    assert token not in str(row.values()), "only the token's hash is kept"
    (created,) = await trail("handover.attestation_link.create")
    assert created["object_id"] == str(hid) and created["changes"]["days"] == [None, 5]
    listed = words(await hr.get(f"/handovers/{hid}/attestation-link"))
    assert "Links made for this handover" in listed and "not yet" in listed
    assert token not in listed

    leaver = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    async with leaver:
        opened = await leaver.get(url)
        assert opened.status_code == 200, opened.text
        text = words(opened)
        assert "The register holds 3 connections made during your employment." in text
        assert "I, Cy Leaving, confirm that I have deleted" in text
        assert "Your full name" in text and 'type="file"' in opened.text
        assert "set-cookie" not in opened.headers, "the link gives no session"
        assert opened.headers["referrer-policy"] == "no-referrer"
        assert 'href="/accounts"' not in opened.text, "no menu for the leaver"
        assert len(await trail("handover.attestation_link.open")) == 1
        # Nothing else opens with the link: every other page still sends the leaver to sign in.
        for other in (f"/handovers/{hid}/certificate", "/handovers/templates", "/accounts", "/"):
            resp = await leaver.get(other)
            assert resp.status_code == 303 and resp.headers["location"].startswith("/sign-in")
        assert (await leaver.get(f"/api/v1/handovers/{hid}")).status_code == 401

        # A file that is not a PDF, and a name that is not theirs, come back next to the field.
        bad = await attest(leaver, url, "Cy Leaving", b"GIF89a not a pdf", "signed.pdf")
        assert bad.status_code == 422 and "This is not a PDF file." in words(bad)
        wrong = await attest(leaver, url, "Someone Else")
        assert wrong.status_code == 422
        assert "Type your name as your employer knows it: Cy Leaving." in words(wrong)
        assert not await trail("handover.attestation_link.use")

        done = await attest(leaver, url, "cy leaving", PDF, "signed.pdf")
        assert done.status_code == 200, done.text
        assert "Your attestation is recorded, cy leaving. Thank you." in words(done)
        assert "set-cookie" not in done.headers
        current = await flows.get_handover(handover_id=hid, sync=False)
        attested = item_of(current, "attest_deletion")
        assert attested["state"] == "done"
        assert attested["evidence"]["recorded_by"] == "the leaver"
        assert attested["evidence"]["typed_name"] == "cy leaving"
        (document,) = await HandoverDocument.select()
        assert bytes(document["content"]) == PDF
        (used,) = await trail("handover.attestation_link.use")
        assert used["actor"].startswith("the leaver (attestation link")

        # A second use, and a look at it afterwards, are refused as a plain page, audited.
        again = await attest(leaver, url, "Cy Leaving")
        assert again.status_code == 410
        assert "This link has already been used" in words(again)
        assert "Traceback" not in again.text
        assert (await leaver.get(url)).status_code == 410
        unknown = await leaver.get("/attest/not-a-real-token.abc")
        assert unknown.status_code == 404 and "This link is not known." in words(unknown)
        reasons = [e["changes"]["reason"] for e in await trail("handover.attestation_link.refused")]
        assert sorted(reasons) == ["unknown", "used", "used"]
    shown = words(await hr.get(f"/handovers/{hid}/attestation-link"))
    assert "not yet" not in shown, "the list says when it was opened and used"


async def test_an_expired_link_opens_nothing(
    app: Any, settings: Settings, people: dict[str, int]
) -> None:
    handover = await started(settings, people)
    hr = await page_client(app, Role.hr)
    url, _ = await make_link(hr, handover["id"])
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    await AttestationLink.update({AttestationLink.expires_at: past}).where(AttestationLink.id > 0)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as leaver:
        shown = await leaver.get(url)
        assert shown.status_code == 410 and "This link has expired." in words(shown)
        posted = await attest(leaver, url, "Cy Leaving")
        assert posted.status_code == 410
    current = await flows.get_handover(handover_id=handover["id"], sync=False)
    assert item_of(current, "attest_deletion")["state"] == "open"
    reasons = [e["changes"]["reason"] for e in await trail("handover.attestation_link.refused")]
    assert reasons == ["expired", "expired"]


async def test_only_hr_makes_a_link_and_not_for_a_finished_attestation(
    app: Any, settings: Settings, people: dict[str, int]
) -> None:
    handover = await started(settings, people)
    it = await page_client(app, Role.it)
    refused = await it.post(
        f"/handovers/{handover['id']}/attestation-link", data=form(it, days="7")
    )
    assert refused.status_code == 403
    await flows.attest_item(
        actor=Actor.system("test"),
        handover_id=handover["id"],
        item_id=item_of(handover, "attest_deletion")["id"],
        typed_name="Cy Leaving",
        signed_on=dt.date.today(),
    )
    hr = await page_client(app, Role.hr)
    late = await hr.post(f"/handovers/{handover['id']}/attestation-link", data=form(hr, days="7"))
    assert late.status_code == 409 and "the attestation is already done" in words(late)


async def test_the_certificate_page_and_its_file_verify_like_the_cli(
    app: Any,
    settings: Settings,
    secrets: Any,
    people: dict[str, int],
    user_factory: Any,
    hr: httpx.AsyncClient,
) -> None:
    waiting = await started(settings, people)
    reader = await page_client(app, Role.auditor)
    missing = await reader.get(f"/handovers/{waiting['id']}/certificate")
    assert missing.status_code == 200
    text = words(missing)
    assert "There is no certificate yet" in text and "2 items are still open:" in text
    assert "The sign-off by HR." in text and "The sign-off by IT." in text
    assert (await reader.get(f"/handovers/{waiting['id']}/certificate.json")).status_code == 409

    done = await signed_off(settings, secrets, people, user_factory, waiting)
    page = await reader.get(f"/handovers/{done['id']}/certificate")
    assert page.status_code == 200, page.text
    text = words(page)
    assert "Cy Leaving (cy@example.com)" in text and "Eve Active (eve@example.com)" in text
    assert "The checklist: 2 items" in text
    assert "I, Cy Leaving, confirm" in text, "every item with its evidence"
    assert "Exported to Eve Active" in text, "people by name, not by id"
    assert "register handover verify handover-" in text
    assert 'href="/static/certificate-print.css" media="print"' in page.text
    signed = await reader.get(f"/handovers/{done['id']}/certificate.json")
    assert signed.status_code == 200
    api = await hr.get(f"/api/v1/handovers/{done['id']}/certificate")
    assert signed.content == api.content, "the same bytes as the API's signed export"
    check = verify_certificate(signed.content, secrets.verify_key)
    assert check.ok and check.certificate is not None
    assert check.certificate["key_id"] in text, "the key's fingerprint is on the page"
    assert signed.headers["x-content-sha256"] in text
    # In Dutch, the items are titled in the reader's words; the signed file keeps its own.
    dutch = words(await reader.get(f"/handovers/{done['id']}/certificate", headers=NL))
    signed_titles = [i["title"] for i in json.loads(signed.content)["certificate"]["items"]]
    assert signed_titles and all(title not in dutch for title in signed_titles)
    assert "De checklist: 2 punten" in dutch
    path = settings.var_dir / f"page-certificate-{done['id']}.json"
    path.write_bytes(signed.content)
    result = await run_cli(settings, "handover", "verify", str(path))
    assert result.code == 0 and result.out.startswith("valid: handover"), result.out + result.err


async def test_templates_are_listed_by_department_and_edited_with_a_stale_version(
    app: Any, people: dict[str, int]
) -> None:
    hr = await page_client(app, Role.hr)
    empty = await hr.get("/handovers/templates")
    assert "No department has items of its own yet." in words(empty)
    bad = await hr.post(
        "/handovers/templates/new",
        data=form(hr, department="Sales", title="", owner_role="it", day_offset="soon"),
    )
    assert bad.status_code == 422
    text = words(bad)
    assert "Say what to do." in text and "Give a whole number of days" in text
    far = await hr.post(
        "/handovers/templates/new",
        data=form(
            hr,
            department="Sales",
            title="Collect the phone",
            owner_role="it",
            day_offset="400",
            active="on",
        ),
    )
    assert far.status_code == 422
    assert "Give a number from -365 to 365: due within a year of the leaving date." in words(far)
    assert 'value="Collect the phone"' in far.text, "what was typed is kept"
    made = await hr.post(
        "/handovers/templates/new",
        data=form(
            hr,
            department="Sales",
            title="Collect the phone",
            owner_role="it",
            day_offset="-2",
            description="Phone's serial number",
            active="on",
        ),
    )
    assert made.status_code == 303
    listed = words(await hr.get("/handovers/templates"))
    assert "Sales" in listed and "Collect the phone" in listed
    assert "2 days before leaving" in listed and "Phone's serial number" in listed
    (template,) = await flows_templates()
    edit = await hr.get(f"/handovers/templates/{template['id']}")
    assert 'name="version" value="1"' in edit.text
    # Someone else saves it first; this form is then stale, and keeps what was typed.
    other = await page_client(app, Role.admin)
    first = await other.post(
        f"/handovers/templates/{template['id']}",
        data=form(
            other,
            department="Sales",
            title="Collect the laptop",
            owner_role="it",
            day_offset="0",
            version="1",
            active="on",
        ),
    )
    assert first.status_code == 303
    stale = await hr.post(
        f"/handovers/templates/{template['id']}",
        data=form(
            hr,
            department="Sales",
            title="Collect the work phone",
            owner_role="hr",
            day_offset="-2",
            version="1",
            active="on",
        ),
    )
    assert stale.status_code == 409
    text = words(stale)
    assert "This changed since you opened it." in text and "Collect the laptop" in text
    assert 'value="Collect the work phone"' in stale.text
    again = await hr.post(
        f"/handovers/templates/{template['id']}",
        data=form(
            hr,
            department="Sales",
            title="Collect the work phone",
            owner_role="hr",
            day_offset="-2",
            version="2",
        ),
    )
    assert again.status_code == 303
    (saved,) = await flows_templates()
    assert (saved["title"], saved["owner_role"], saved["active"]) == (
        "Collect the work phone",
        "hr",
        False,
    )
    assert "no, kept for the record" in words(await hr.get("/handovers/templates"))

    # A second item goes after the first; moved up, it comes first, and handovers follow the order.
    badge = await hr.post(
        "/handovers/templates/new",
        data=form(
            hr,
            department="Sales",
            title="Return the badge",
            owner_role="hr",
            day_offset="0",
            active="on",
        ),
    )
    assert badge.status_code == 303
    first, second = await flows_templates()
    assert (first["title"], second["title"]) == ("Collect the work phone", "Return the badge")
    assert second["position"] > first["position"]
    listed = words(await hr.get("/handovers/templates"))
    assert listed.index("1. Collect the work phone") < listed.index("2. Return the badge")
    moved = await hr.post(
        f"/handovers/templates/{second['id']}/move",
        data=form(hr, direction="up", version=str(second["version"])),
    )
    assert moved.status_code == 303
    listed = words(await hr.get(moved.headers["location"]))
    assert "The order is saved." in listed
    assert listed.index("1. Return the badge") < listed.index("2. Collect the work phone")
    late = await hr.post(
        f"/handovers/templates/{second['id']}/move",
        data=form(hr, direction="down", version=str(second["version"])),
    )
    assert late.status_code == 409
    assert "Someone changed these items meanwhile" in words(late)
    top = await hr.post(
        f"/handovers/templates/{second['id']}/move",
        data=form(hr, direction="up", version=str(second["version"] + 1)),
    )
    assert top.status_code == 409 and "is already the first" in words(top)
    auditor = await page_client(app, Role.auditor)
    assert (await auditor.get("/handovers/templates")).status_code == 200
    assert (await auditor.get(f"/handovers/templates/{template['id']}")).status_code == 403


async def flows_templates() -> list[dict[str, Any]]:
    from accounts.handovers.services import list_templates

    return await list_templates()


def hidden(page: str) -> dict[str, str]:
    """The apply form's hidden fields, as a browser would send them back."""
    part = page[page.index('action="/handovers/bulk/apply"') :]
    return {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', part
        )
    }


async def test_bulk_leavers_are_previewed_with_refusals_then_started(
    app: Any, people: dict[str, int]
) -> None:
    from accounts.handovers.services import list_handovers

    hr = await page_client(app, Role.hr)
    later = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    refused = (
        "work_email,leaving_date,successor_email\r\n"
        f"ana@example.com,{later},eve@example.com\r\n"
        f"nobody@example.com,{later},eve@example.com\r\n"
        f"ben@example.com,{later},\r\n"
    )
    shown = await hr.post(
        "/handovers/bulk/preview",
        data=form(hr, open_now="on"),
        files={"file": ("leavers.csv", refused.encode(), "text/csv")},
    )
    assert shown.status_code == 200, shown.text
    text = words(shown)
    assert "Ana Silva" in text and "Eve Active" in text
    assert "2 lines refused" in text and "no such employee" in text and "no successor" in text
    assert 'action="/handovers/bulk/apply"' not in shown.text, "nothing to apply with refusals"
    assert (await list_handovers(limit=10, offset=0))[0] == []
    dutch = await hr.post(
        "/handovers/bulk/preview",
        data=form(hr, open_now="on"),
        files={"file": ("leavers.csv", refused.encode(), "text/csv")},
        headers={"accept-language": "nl"},
    )
    text = words(dutch)
    assert "deze medewerker bestaat niet" in text and "geen opvolger" in text
    assert "no such employee" not in text and "no successor" not in text

    good = (
        "work_email,leaving_date,successor_email\r\n"
        f"ana@example.com,{later},eve@example.com\r\n"
        f"ben@example.com,{later},eve@example.com\r\n"
    )
    preview = await hr.post(
        "/handovers/bulk/preview",
        data=form(hr, open_now="on"),
        files={"file": ("leavers.csv", good.encode(), "text/csv")},
    )
    text = words(preview)
    assert "2 handovers would be started and opened at once." in text
    assert "Nothing has been started yet." in text and "Ben Okoro" in text
    assert (await list_handovers(limit=10, offset=0))[0] == [], "the preview started nothing"
    fields = hidden(preview.text)
    tampered = await hr.post("/handovers/bulk/apply", data={**fields, "plan": "0" * 64})
    assert tampered.status_code == 422 and "This preview cannot be applied" in words(tampered)
    applied = await hr.post("/handovers/bulk/apply", data=fields)
    assert applied.status_code == 303, applied.text
    summary = await hr.get(applied.headers["location"])
    text = words(summary)
    assert "2 handovers started." in text and "Ana Silva, leaving" in text
    items, _ = await list_handovers(limit=10, offset=0)
    assert {h["employee_name"] for h in items} == {"Ana Silva", "Ben Okoro"}
    assert all(f'href="/handovers/{h["id"]}"' in summary.text for h in items)
    # The same preview applied twice starts nothing more: the register changed since.
    twice = await hr.post("/handovers/bulk/apply", data=fields)
    assert twice.status_code == 409
    text = words(twice)
    assert "The register changed since your preview, so nothing was started." in text
    assert "already has handover" in text


async def test_the_api_shows_and_takes_a_templates_position(hr: httpx.AsyncClient) -> None:
    """New items go after the rest of their department; a position can be set; moves renumber."""
    from accounts.handovers.services import move_template

    made = []
    for title in ("Return the laptop", "Return the badge"):
        resp = await hr.post(
            "/api/v1/handovers/templates", json={"title": title, "department": "Sales"}
        )
        assert resp.status_code == 201, resp.text
        made.append(resp.json())
    assert [t["position"] for t in made] == [0, 1]
    other = await hr.post(
        "/api/v1/handovers/templates", json={"title": "Keys", "department": "Ops", "position": 7}
    )
    assert other.json()["position"] == 7
    moved = await hr.patch(
        f"/api/v1/handovers/templates/{made[1]['id']}", json={"version": 1, "position": 0}
    )
    assert moved.status_code == 200 and moved.json()["position"] == 0
    bad = await hr.patch(
        f"/api/v1/handovers/templates/{made[1]['id']}", json={"version": 2, "position": -1}
    )
    assert bad.status_code == 400 or bad.status_code == 422
    # Both at 0 now, the older first; moved down, the laptop comes after the badge.
    order = await move_template(
        actor=Actor.system("test"), template_id=made[0]["id"], version=1, up=False
    )
    assert [(t["title"], t["position"]) for t in order] == [
        ("Return the badge", 0),
        ("Return the laptop", 1),
    ]
    moves = [e for e in await trail("handover_template.update") if "position" in e["changes"]]
    assert len(moves) == 2, "the patch, and the one item the move renumbered"


async def test_a_link_to_a_cancelled_handover_asks_nothing(
    app: Any, settings: Settings, people: dict[str, int]
) -> None:
    handover = await started(settings, people)
    hr = await page_client(app, Role.hr)
    url, _ = await make_link(hr, handover["id"])
    await flows.cancel_handover(
        actor=Actor.system("test"),
        handover_id=handover["id"],
        version=handover["version"],
        reason="Cy stays",
        person_stays=True,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as leaver:
        shown = await leaver.get(url)
        assert shown.status_code == 200
        assert "There is nothing to confirm through this link any more." in words(shown)
        assert "I confirm" not in words(shown)
        posted = await attest(leaver, url, "Cy Leaving")
        assert posted.status_code == 409
        assert "There is nothing to confirm through this link any more." in words(posted)
    assert not await trail("handover.attestation_link.use")
