"""The incident pages through httpx: the board's clocks in words, filing, the compromise notice, the
list, reviews, legal's queue, metrics, and the public confidential report form."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from html import unescape
from typing import Any

import httpx
import pytest

from incidents import flows, services
from incidents.enums import Status
from incidents.tables import Incident
from register.actor import Actor
from register.db import now
from register.enums import Role
from tests.conftest import FIXTURE_PASSWORD, UserFactory
from tests.incidents.conftest import file, tasks

Browser = Callable[..., Awaitable[tuple[dict[str, Any], httpx.AsyncClient]]]


@pytest.fixture
async def browser(app: Any, user_factory: UserFactory) -> AsyncIterator[Browser]:
    """open(role) -> (user, a client signed in through the sign-in page: cookie and CSRF)."""
    clients: list[httpx.AsyncClient] = []

    async def open_as(role: Role) -> tuple[dict[str, Any], httpx.AsyncClient]:
        user, _ = await user_factory(role)
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(c)
        signed = await c.post(
            "/sign-in", data={"email": user["email"], "password": FIXTURE_PASSWORD}
        )
        assert signed.status_code == 303, signed.text
        return user, c

    yield open_as
    for c in clients:
        await c.aclose()


def csrf(c: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """A form body with the session's CSRF token, as the page's hidden field sends it."""
    return {"csrf_token": c.cookies["register_csrf"], **fields}


def words(html: str) -> str:
    """The page's text with tags dropped and spaces collapsed, as a reader sees it."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


async def filed_at(minutes_ago: int, **data: Any) -> dict[str, Any]:
    """An incident filed through the service some minutes ago (so its clocks have run)."""
    body = {"title": "Something went wrong", "category": "erroneous_post", "severity": "SEV3"}
    return await services.file_incident(
        actor=Actor.system("test"),
        data={**body, **data},
        at=now() - dt.timedelta(minutes=minutes_ago),
    )


async def test_the_board_says_each_clock_in_words_and_announces_only_a_change(
    browser: Browser,
) -> None:
    """A SEV1 unacknowledged past its 15 minutes and a fresh SEV3: late, waiting, updates and
    tasks past due in words, worst first; a poll with the same state announces nothing."""
    late = await filed_at(40, title="Hijacked brand account", severity="SEV1")
    fresh = await filed_at(0, title="Typo in the launch post", severity="SEV3")
    _, c = await browser(Role.comms)
    page = await c.get("/incidents/board")
    assert page.status_code == 200
    text = words(page.text)
    assert "2 open incidents. 2 not acknowledged. 1 with tasks past due." in text
    assert "Late: not acknowledged, 25 min past the 15 min limit." in text
    # The minutes run while the test does: a clock may have just passed a minute.
    assert re.search(r"Waiting: acknowledge within (3 h 59 min|4 h)\.", text)
    assert re.search(r"Next status update due in (19|20) min\.", text)
    assert "Late: 2 tasks past due." in text and "No task past due." in text
    assert text.index(late["reference"]) < text.index(fresh["reference"])
    assert f'href="/incidents/{late["id"]}"' in page.text
    assert "Report an incident" in text and 'hx-trigger="every 15s"' in page.text
    state = re.search(r'/incidents/board\?since=([0-9a-f]+)"', page.text)
    assert state
    same = await c.get(f"/incidents/board?since={state.group(1)}", headers={"hx-request": "true"})
    assert same.status_code == 200 and "<h1>" not in same.text
    assert "hx-swap-oob" not in same.text and late["reference"] in same.text
    await filed_at(0, title="Journalist asks about the leak", category="press_inquiry")
    changed = await c.get(
        f"/incidents/board?since={state.group(1)}", headers={"hx-request": "true"}
    )
    assert 'hx-swap-oob="innerHTML:#announce"' in changed.text
    assert "The incident board changed: 3 open incidents." in words(changed.text)
    home = await c.get("/")
    assert "Open incidents" in home.text and late["reference"] in home.text


async def test_filing_the_short_form_creates_the_incident_and_goes_to_it(
    browser: Browser, comms: httpx.AsyncClient
) -> None:
    """What happened, kind, severity and a link are enough; a missing answer is said next to it."""
    _, c = await browser(Role.comms)
    form = await c.get("/incidents/new")
    assert form.status_code == 200
    assert "Acknowledge within 15 min." in form.text and "We posted something wrong" in form.text
    empty = await c.post("/incidents/new", data=csrf(c, title="", category="", link="nope"))
    assert empty.status_code == 422
    assert "Say in a line what happened." in empty.text
    assert "Choose what kind of incident it is." in empty.text
    assert "Choose how bad it is." in empty.text
    bad_link = await c.post(
        "/incidents/new",
        data=csrf(
            c, title="Wrong price posted", category="erroneous_post", severity="SEV3", link="nope"
        ),
    )
    assert bad_link.status_code == 422 and 'id="link-error"' in bad_link.text
    assert 'value="Wrong price posted"' in bad_link.text
    done = await c.post(
        "/incidents/new",
        data=csrf(
            c,
            title="Wrong price posted",
            category="erroneous_post",
            severity="SEV3",
            link="https://x.com/northwind/status/1",
        ),
    )
    assert done.status_code == 303
    incident_id = int(done.headers["location"].rsplit("/", 1)[1])
    assert done.headers["location"] == f"/incidents/{incident_id}"
    got = (await comms.get(f"/api/v1/incidents/{incident_id}")).json()
    assert got["title"] == "Wrong price posted" and got["severity"] == "SEV3"
    assert got["content_urls"] == ["https://x.com/northwind/status/1"]


async def test_filing_a_compromise_marks_the_account_and_says_who_was_told(
    browser: Browser, it: httpx.AsyncClient, account: dict[str, Any], subscription: int
) -> None:
    """The account is chosen by its handle; the next page says it is compromised and names the
    custodians IT was told to reach."""
    _, c = await browser(Role.comms)
    form = await c.get("/incidents/new")
    assert f'<option value="{account["id"]}">northwind</option>' in form.text
    done = await c.post(
        "/incidents/new",
        data=csrf(
            c,
            title="Someone else posts from our X account",
            category="account_compromise",
            severity="SEV1",
            account_id=str(account["id"]),
        ),
    )
    assert done.status_code == 303 and done.headers["location"].endswith("/filed")
    page = await c.get(done.headers["location"])
    text = words(page.text)
    assert "It is marked compromised" in text
    assert "IT, to reach the account's custodians: Ana Silva, Ben Okoro:" in text
    assert "a notice is on its way through 1 subscription." in text
    status = (await it.get(f"/api/v1/accounts/{account['id']}")).json()["status"]
    assert status == "compromised"


async def test_the_list_filters_and_searches(browser: Browser, account: dict[str, Any]) -> None:
    """Status, severity, kind, account and words each narrow the list."""
    one = await filed_at(5, title="Fake profile uses our logo", category="impersonation")
    two = await filed_at(
        5,
        title="Hijacked account",
        category="account_compromise",
        severity="SEV1",
        account_id=account["id"],
    )
    _, c = await browser(Role.auditor)
    every = words((await c.get("/incidents")).text)
    assert one["reference"] in every and two["reference"] in every
    for query, shown, hidden in (
        ("severity=SEV1", two, one),
        ("category=impersonation", one, two),
        (f"account_id={account['id']}", two, one),
        ("q=fake+profile", one, two),
        (f"q={two['reference']}", two, one),
    ):
        text = words((await c.get(f"/incidents?{query}&status=")).text)
        assert shown["reference"] in text and hidden["reference"] not in text, query
    assert "No incident matches." in (await c.get("/incidents?status=closed")).text
    assert (await c.get("/incidents?severity=SEV9")).status_code == 422


async def test_reviews_are_searched_by_their_text(browser: Browser) -> None:
    """A review's words find it, with a link to its incident; others do not."""
    incident = await filed_at(60, title="Leaked roadmap slide", category="confidential_info")
    await Incident.update({Incident.status: Status.contained.value}).where(
        Incident.id == incident["id"]
    )
    await services.save_review(
        actor=Actor.system("test"),
        incident_id=incident["id"],
        version=0,
        data={"summary": "A slide with the roadmap went out", "to_improve": "watermark decks"},
    )
    _, c = await browser(Role.legal)
    found = await c.get("/incidents/reviews?q=watermark")
    assert f'href="/incidents/{incident["id"]}"' in found.text
    assert "watermark decks" in found.text and "draft, not signed off" in found.text
    assert "No review matches." in (await c.get("/incidents/reviews?q=nothing+like+it")).text


async def test_legal_sees_its_queue_and_approves_a_step_with_a_note(
    browser: Browser, comms: httpx.AsyncClient
) -> None:
    """The legal check is ready once its prerequisites are done, the holding statement waits for
    it; counsel approves with a note, comms may not."""
    counsel, c = await browser(Role.legal)
    incident = await file(
        comms,
        title="Reporter asks about layoffs",
        category="press_inquiry",
        severity="SEV2",
        legal_id=counsel["id"],
    )
    got = await tasks(comms, incident["id"])
    for key in ("acknowledge", "log_inquiry"):
        await comms.post(
            f"/api/v1/incidents/{incident['id']}/tasks/{got[key]['id']}/complete",
            json={"note": "done"},
        )
    page = await c.get("/incidents/legal")
    text = words(page.text)
    assert incident["reference"] in text and got["legal_check"]["title"] in text
    assert f"Waiting for: {got['legal_check']['title']}" in text
    assert (
        f'action="/incidents/legal/{incident["id"]}/tasks/{got["legal_check"]["id"]}"' in page.text
    )
    _, comms_page = await browser(Role.comms)
    seen = await comms_page.get("/incidents/legal")
    assert got["legal_check"]["title"] in seen.text and "Approve and sign off" not in seen.text
    path = f"/incidents/legal/{incident['id']}/tasks/{got['legal_check']['id']}"
    refused = await comms_page.post(path, data=csrf(comms_page, note="fine by me"))
    assert refused.status_code == 403
    signed = await c.post(path, data=csrf(c, note="nothing on the litigation"))
    assert signed.status_code == 303
    after = await tasks(comms, incident["id"])
    assert after["legal_check"]["state"] == "done"
    assert after["legal_check"]["signed_off_by"] == counsel["id"]
    assert "nothing on the litigation" in after["legal_check"]["note"]
    assert "Signed off" in (await c.get(signed.headers["location"])).text


def cell(html: str, row: str, column: int, table: str = "") -> str:
    """The text of a table cell: in the table captioned `table` (else the first), the row whose
    header is `row`, the nth cell after it."""
    html = html[html.index(table) :] if table else html
    found = re.search(rf"<th scope=\"row\">{re.escape(row)}</th>((?:\s*<td[^>]*>.*?</td>)+)", html)
    assert found, row
    return words(re.findall(r"<td[^>]*>(.*?)</td>", found.group(1), re.S)[column])


async def test_metrics_count_the_incidents_filed(browser: Browser) -> None:
    """Filed by severity, minutes to acknowledge, kinds this month and clocks missed match what
    was filed."""
    first = await filed_at(30, title="Fake CEO profile", category="impersonation", severity="SEV1")
    await filed_at(20, title="Leak", category="confidential_info", severity="SEV1")
    await filed_at(10, title="Typo", category="erroneous_post", severity="SEV3")
    await flows.acknowledge(actor=Actor.system("test"), incident_id=first["id"])
    _, c = await browser(Role.comms)
    page = await c.get("/incidents/metrics")
    assert page.status_code == 200
    html = page.text
    assert cell(html, "SEV1 critical", 0) == "2" and cell(html, "SEV3 moderate", 0) == "1"
    assert cell(html, "SEV1 critical", 1) == "30"
    assert cell(html, "SEV1 critical", 3) == "2"
    month = now().strftime("%Y-%m")
    missed = "Clocks missed by month</caption>"
    assert cell(html, month, 0, missed) == "3"
    # Acknowledged after 30 min, and the other still not after 20: both past SEV1's 15 min.
    assert cell(html, month, 1, missed) == "2"
    assert cell(html, month, 0, "by month and severity</caption>") == "30"
    assert cell(html, "We posted something wrong", 5) == "1"
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in html
    assert "Median minutes to acknowledge, by severity" in html
    _, legal = await browser(Role.legal)
    assert (await legal.get("/incidents/metrics")).status_code == 403


async def test_the_public_form_files_a_confidential_report_without_an_account(
    app: Any, comms: httpx.AsyncClient, hr: httpx.AsyncClient
) -> None:
    """No cookie, no token: the form, the rate limit said as a sentence, the reference back; the
    name reaches HR only."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as anyone:
        form = await anyone.get("/report")
        assert form.status_code == 200 and "Sign out" not in form.text
        assert "You can send up to 5 reports an hour from one network address." in words(form.text)
        sent = await anyone.post(
            "/report",
            data={
                "category": "harassment",
                "title": "Colleague harassed in comments",
                "links": "https://x.com/a/status/1\nhttps://x.com/a/status/2",
                "anonymous": "no",
                "reporter_name": "Dana Reporter",
            },
        )
        assert sent.status_code == 200, sent.text
        reference = re.search(r'class="reference">(INC-\d{4}-\d{4})<', sent.text)
        assert reference
        text = words(sent.text)
        assert "Your name and contact are seen by HR only" in text
        assert "What happens next" in text
        assert not anyone.cookies
    found = (await comms.get("/api/v1/incidents", params={"q": reference.group(1)})).json()
    incident_id = found["items"][0]["id"]
    seen_by_comms = (await comms.get(f"/api/v1/incidents/{incident_id}")).json()
    assert seen_by_comms["via_intake"] and seen_by_comms["reporter_name"] is None
    assert len(seen_by_comms["content_urls"]) == 2
    assert (await hr.get(f"/api/v1/incidents/{incident_id}")).json()[
        "reporter_name"
    ] == "Dana Reporter"


async def test_the_public_form_says_the_rate_limit_instead_of_an_error_page(app: Any) -> None:
    """The sixth report in an hour is refused on the form itself, with what was typed kept."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as anyone:
        body = {"category": "spam_unauthorised", "title": "Spam from our page", "anonymous": "yes"}
        for _ in range(flows.INTAKE_PER_HOUR):
            assert (await anyone.post("/report", data=body)).status_code == 200
        refused = await anyone.post("/report", data={**body, "title": "One more spam post"})
        assert refused.status_code == 429
        text = words(refused.text)
        assert "This report was not sent: this address has sent 5 reports in the last hour." in text
        assert 'value="One more spam post"' in refused.text
        missing = await anyone.post("/report", data={"category": "", "title": ""})
        assert missing.status_code == 422 and "Choose what it is about." in missing.text


async def test_an_auditor_reads_the_pages_but_files_nothing(browser: Browser) -> None:
    """Board, list, reviews, legal's queue and metrics open; the filing form is refused."""
    _, c = await browser(Role.auditor)
    for path in ("/incidents/board", "/incidents", "/incidents/reviews", "/incidents/legal"):
        opened = await c.get(path)
        assert opened.status_code == 200 and "Report an incident" not in opened.text, path
    assert (await c.get("/incidents/metrics")).status_code == 200
    refused = await c.get("/incidents/new")
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    posted = await c.post("/incidents/new", data=csrf(c, title="x", category="harassment"))
    assert posted.status_code == 403
    async with httpx.AsyncClient(
        transport=c._transport, base_url="http://testserver"
    ) as signed_out:
        away = await signed_out.get("/incidents/board")
        assert away.status_code == 303 and away.headers["location"].startswith("/sign-in")
