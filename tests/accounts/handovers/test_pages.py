"""The handover's pages through httpx: HR's home, the list and report, starting a handover by
name, working items (complete, waive, reassign), a stale form, the live refresh and sign-off."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from html import unescape
from typing import Any

import httpx
import pytest
from babel.dates import format_date

from accounts.handovers import flows
from register.actor import Actor
from register.enums import Role
from register.settings import Settings
from register.staff.services import create_employee
from tests.conftest import FIXTURE_PASSWORD
from tests.helpers import form

LEAD = "hr-lead@example.com"
TODAY = dt.date.today()
Browser = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings with one HR lead."""
    return dataclasses.replace(settings, handover_hr_leads=(LEAD,))


@pytest.fixture
async def browser(app: Any, user_factory: Any) -> AsyncIterator[Browser]:
    """make(role, email=None) -> a client signed in through the sign-in page (session, CSRF)."""
    opened: list[httpx.AsyncClient] = []

    async def make(role: Role, email: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        user, _ = await user_factory(role, email=email, **kwargs)
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
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page)).split())


async def person(
    name: str, department: str = "Communications", leaving: dt.date | None = None
) -> int:
    """An employee in the directory."""
    row = await create_employee(
        actor=Actor.system("test"),
        data={
            "name": name,
            "work_email": f"{name.split()[0].lower()}@example.com",
            "department": department,
            "start_date": TODAY - dt.timedelta(days=900),
            "leaving_date": leaving,
        },
    )
    return int(row["id"])


async def template(hr: httpx.AsyncClient, title: str, team: str = "hr", offset: int = 0) -> None:
    """A department item every Communications handover gets."""
    resp = await hr.post(
        "/api/v1/handovers/templates",
        json={
            "department": "Communications",
            "title": title,
            "owner_role": team,
            "day_offset": offset,
        },
    )
    assert resp.status_code == 201, resp.text


async def start(
    hr: httpx.AsyncClient, employee_id: int, successor_id: int, **extra: Any
) -> dict[str, Any]:
    """A handover started and opened through the API."""
    resp = await hr.post(
        "/api/v1/handovers",
        json={"employee_id": employee_id, "successor_id": successor_id, "open": True, **extra},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def item_titled(handover: dict[str, Any], title: str) -> dict[str, Any]:
    return next(i for i in handover["items"] if i["title"] == title)


async def test_hr_home_shows_states_overdue_sign_off_and_leavers_without_a_handover(
    browser: Browser, hr: httpx.AsyncClient, people: dict[str, int], make_account: Any
) -> None:
    """Each of the four home lists, with Cy (leaving in 10 days) offered a start until one exists."""
    c = await browser(Role.hr)
    home = text_of((await c.get("/")).text)
    assert "Leaving within 30 days, no handover yet" in home
    assert "Cy Leaving" in home and "Start handover for Cy Leaving" in home
    page = (await c.get("/")).text
    assert f'href="/handovers/new?employee_id={people["cy"]}"' in page
    assert "No item is overdue." in home and "None waits for a sign-off." in home

    await template(hr, "Return the laptop", "it", offset=-20)
    await make_account(
        handle="cyheld", custodian_id=people["cy"], backup_custodian_id=people["ben"]
    )
    await start(hr, people["cy"], people["eve"])
    # Someone whose handover is done except sign-off.
    fay = await person("Fay Done", department="Sales", leaving=TODAY + dt.timedelta(days=3))
    done = await start(hr, fay, people["eve"])
    assert done["state"] == "awaiting_sign_off", done

    home = text_of((await c.get("/")).text)
    assert "Cy Leaving" not in home.split("Leaving within 30 days")[1]
    assert "Open: items being worked: 1" in home and "Awaiting sign-off: 1" in home
    assert "IT: 1 item overdue" in home and "HR: nothing overdue" in home
    assert "Handover of Fay Done" in home.split("Awaiting sign-off")[-1]
    # Comms does not read handovers: no section.
    comms = await browser(Role.comms)
    assert "Handovers by state" not in (await comms.get("/")).text


async def test_the_list_filters_by_state_department_and_overdue(
    browser: Browser, hr: httpx.AsyncClient, people: dict[str, int]
) -> None:
    """Leavers and successors by name; each filter narrows the list."""
    await template(hr, "Return the laptop", "it", offset=-20)
    cy = await start(hr, people["cy"], people["eve"])
    gus = await person("Gus Sales", department="Sales", leaving=TODAY + dt.timedelta(days=40))
    draft = await hr.post(
        "/api/v1/handovers", json={"employee_id": gus, "successor_id": people["ana"]}
    )
    assert draft.status_code == 201
    c = await browser(Role.hr)
    every = text_of((await c.get("/handovers")).text)
    assert "Cy Leaving" in every and "Gus Sales" in every and "Eve Active" in every
    drafts = text_of((await c.get("/handovers?state=draft")).text)
    assert "Gus Sales" in drafts and "Cy Leaving" not in drafts
    sales = text_of((await c.get("/handovers?department=Sales")).text)
    assert "Gus Sales" in sales and "Cy Leaving" not in sales
    overdue = text_of((await c.get("/handovers?overdue=1")).text)
    assert "No handover matches." in overdue  # the leaving date has not passed
    page = (await c.get("/handovers")).text
    assert f'href="/handovers/{cy["id"]}"' in page
    wrong = await c.get("/handovers?state=lost")
    assert wrong.status_code == 422


async def test_start_with_the_successor_chosen_by_name(
    browser: Browser, people: dict[str, int], make_account: Any, hr: httpx.AsyncClient
) -> None:
    """The leaver by name with what they hold; the successor typed by name; errors next to it."""
    await make_account(
        handle="cyheld", custodian_id=people["cy"], backup_custodian_id=people["ben"]
    )
    c = await browser(Role.hr)
    shown = await c.get(f"/handovers/new?employee_id={people['cy']}")
    assert shown.status_code == 200
    words = text_of(shown.text)
    assert "Cy Leaving" in words and "What Cy Leaving holds now" in words
    assert "X cyheld : custodian" in words and "What will happen" in words
    leaving = (TODAY + dt.timedelta(days=10)).isoformat()
    body = {
        "leaver": "Cy Leaving",
        "leaver_id": str(people["cy"]),
        "leaving_date": leaving,
        "open": "on",
    }
    # Someone leaving cannot succeed; nobody matching is said too.
    refused = await c.post("/handovers/new", data=form(c, **body, successor="Cy Leaving"))
    assert refused.status_code == 422
    assert "Cy Leaving is leaving the company: choose someone who stays." in text_of(refused.text)
    nobody = await c.post("/handovers/new", data=form(c, **body, successor="Zed Nobody"))
    assert "Nobody in the staff directory matches “Zed Nobody”" in text_of(nobody.text)
    made = await c.post(
        "/handovers/new", data=form(c, **body, successor="Eve Active", emails="cy@home.example")
    )
    assert made.status_code == 303, made.text
    location = made.headers["location"]
    assert location.endswith("?done=started")
    handover_id = int(location.split("/")[2].split("?")[0])
    page = text_of((await c.get(location)).text)
    assert "Handover of Cy Leaving" in page and "Successor Eve Active" in page
    assert "Transfer custody of X cyheld to the successor" in page
    assert "The handover is started" in page and "Open: items being worked" in page
    dutch = text_of((await c.get(location, headers={"accept-language": "nl"})).text)
    assert "Overdracht van Cy Leaving" in dutch and "Punten van IT" in dutch
    assert "Draag het beheer van X cyheld over aan de opvolger" in dutch
    api = (await hr.get(f"/api/v1/handovers/{handover_id}")).json()
    assert api["successor_id"] == people["eve"] and "cy@home.example" in api["leaver_emails"]
    # The person's page section points to it; a second start is refused with a link.
    again = await c.get(f"/handovers/new?employee_id={people['cy']}")
    assert "Cy Leaving already has a handover in progress." in text_of(again.text)
    twice = await c.post("/handovers/new", data=form(c, **body, successor="Eve Active"))
    assert twice.status_code == 409 and "already has a handover in progress" in twice.text


async def test_person_section_shows_the_handover_or_a_start_button(
    hr: httpx.AsyncClient, people: dict[str, int], settings: Settings
) -> None:
    """The section of a person's page: a start button without a handover, its state with one."""
    from accounts.handovers.pages import person_sections

    actor = Actor(user_id=1, email="hr@example.com", role=Role.hr)
    (none,) = await person_sections(actor, settings, people["cy"])
    assert none["handovers"] == [] and none["template"] == "handovers/_person.html"
    started = await start(hr, people["cy"], people["eve"])
    (one,) = await person_sections(actor, settings, people["cy"])
    assert [h["id"] for h in one["live"]] == [started["id"]]
    comms = Actor(user_id=2, email="c@example.com", role=Role.comms)
    assert await person_sections(comms, settings, people["cy"]) == []


async def test_complete_waive_and_reassign_items(
    browser: Browser, hr: httpx.AsyncClient, people: dict[str, int]
) -> None:
    """Each action from its own form; the page shows who did what; waiving is for HR leads only."""
    await template(hr, "Return the badge")
    await template(hr, "Cancel the phone contract")
    await template(hr, "Collect the keys")
    handover = await start(hr, people["cy"], people["eve"])
    hid = handover["id"]
    badge = item_titled(handover, "Return the badge")
    phone = item_titled(handover, "Cancel the phone contract")
    keys = item_titled(handover, "Collect the keys")
    c = await browser(Role.hr)
    lead = await browser(Role.hr, email=LEAD)
    page = (await c.get(f"/handovers/{hid}")).text
    assert f"/handovers/{hid}/items/{badge['id']}/complete" in page
    assert "/waive" not in page  # not a lead: no waive offered
    # Cy holds no connections: there is no attestation to ask for, so no link to make one.
    assert f"/handovers/{hid}/attestation-link" not in page
    # Complete with a note: a department item needs one.
    url = f"/handovers/{hid}/items/{badge['id']}/complete"
    shown = text_of((await c.get(url)).text)
    assert "Return the badge" in shown and "Evidence needed" in shown
    empty = await c.post(url, data=form(c, version=badge["version"], note=""))
    assert empty.status_code == 422 and "say what was done" in empty.text.lower()
    done = await c.post(url, data=form(c, version=badge["version"], note="Badge 4411 returned"))
    assert done.status_code == 303 and done.headers["location"].endswith(f"#item-{badge['id']}")
    page = text_of((await c.get(done.headers["location"])).text)
    assert "The item is done." in page and "Note: Badge 4411 returned" in page
    # Reassign by name.
    url = f"/handovers/{hid}/items/{keys['id']}/reassign"
    moved = await c.post(url, data=form(c, version=keys["version"], assignee="Ben Okoro"))
    assert moved.status_code == 303, moved.text
    page = text_of((await c.get(f"/handovers/{hid}")).text)
    assert "Assignee Ben Okoro" in page
    # Waive: refused (and audited) for an HR officer who is not a lead; the form says so.
    url = f"/handovers/{hid}/items/{phone['id']}/waive"
    assert "Only an HR lead or an admin may waive an item." in text_of((await c.get(url)).text)
    refused = await c.post(url, data=form(c, version=phone["version"], reason="no contract"))
    assert refused.status_code == 403 and "only an HR lead" in refused.text
    assert (
        f"/handovers/{hid}/items/{phone['id']}/waive" in (await lead.get(f"/handovers/{hid}")).text
    )
    no_reason = await lead.post(url, data=form(lead, version=phone["version"], reason=""))
    assert no_reason.status_code == 422 and "Say why the item is waived." in no_reason.text
    waived = await lead.post(
        url, data=form(lead, version=phone["version"], reason="There is no contract")
    )
    assert waived.status_code == 303, waived.text
    page = text_of((await c.get(f"/handovers/{hid}")).text)
    assert "Waived By hr-lead@example.com" in page and "Reason: There is no contract" in page
    api = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    states = {i["title"]: (i["state"], i["assignee_id"]) for i in api["items"]}
    assert (
        states["Return the badge"][0] == "done"
        and states["Cancel the phone contract"][0] == "waived"
    )
    assert states["Collect the keys"] == ("open", people["ben"])


async def test_a_stale_form_keeps_the_input_and_says_what_changed(
    browser: Browser, hr: httpx.AsyncClient, people: dict[str, int]
) -> None:
    """An item reassigned while a form was open: the input kept, who holds it now shown."""
    await template(hr, "Return the badge")
    await template(hr, "Collect the keys")
    handover = await start(hr, people["cy"], people["eve"])
    hid, badge = handover["id"], item_titled(handover, "Return the badge")
    keys = item_titled(handover, "Collect the keys")
    c = await browser(Role.hr)
    url = f"/handovers/{hid}/items/{badge['id']}/complete"
    assert f'name="version" value="{badge["version"]}"' in (await c.get(url)).text
    for item in (badge, keys):
        await flows.reassign_item(
            actor=Actor.system("test"),
            handover_id=hid,
            item_id=item["id"],
            version=item["version"],
            assignee_id=people["ana"],
        )
    stale = await c.post(url, data=form(c, version=badge["version"], note="Badge returned"))
    assert stale.status_code == 409
    words = text_of(stale.text)
    assert "This changed since you opened it." in words and "Assignee Ana Silva" in words
    assert "Badge returned</textarea>" in stale.text
    again = await c.post(url, data=form(c, version=badge["version"] + 1, note="Badge returned"))
    assert again.status_code == 303
    # Reassigning from a stale form: what is saved now is shown next to the picker.
    keys_url = f"/handovers/{hid}/items/{keys['id']}/reassign"
    late = await c.post(keys_url, data=form(c, version=keys["version"], assignee="Ben Okoro"))
    assert late.status_code == 409
    words = text_of(late.text)
    assert "This changed since you opened it." in words and "Saved meanwhile: Ana Silva" in words
    assert 'value="Ben Okoro"' in late.text
    moved = await c.post(keys_url, data=form(c, version=keys["version"] + 1, assignee="Ben Okoro"))
    assert moved.status_code == 303


async def test_the_page_refreshes_only_when_the_checklist_changed(
    browser: Browser, hr: httpx.AsyncClient, it: httpx.AsyncClient, people: dict[str, int]
) -> None:
    """The poll answers 204 while nothing changed, then the fragment with an announcement."""
    await template(hr, "Wipe the laptop", "it")
    handover = await start(hr, people["cy"], people["eve"])
    hid, laptop = handover["id"], item_titled(handover, "Wipe the laptop")
    c = await browser(Role.hr)
    page = (await c.get(f"/handovers/{hid}")).text
    assert 'hx-trigger="every 10s"' in page
    seen = re.search(r'/live\?seen=([0-9a-f]+)"', page)
    assert seen
    quiet = await c.get(
        f"/handovers/{hid}/live?seen={seen.group(1)}", headers={"HX-Request": "true"}
    )
    assert quiet.status_code == 204
    resp = await it.post(
        f"/api/v1/handovers/{hid}/items/{laptop['id']}/complete", json={"note": "wiped"}
    )
    assert resp.status_code == 200, resp.text
    fresh = await c.get(
        f"/handovers/{hid}/live?seen={seen.group(1)}", headers={"HX-Request": "true"}
    )
    assert fresh.status_code == 200
    words = text_of(fresh.text)
    assert "Note: wiped" in words and "The checklist was updated" in words
    assert 'hx-swap-oob="innerHTML:#announce"' in fresh.text and "<h1>" not in fresh.text


async def test_sign_off_by_hr_then_it_by_two_people(
    browser: Browser, hr: httpx.AsyncClient, people: dict[str, int]
) -> None:
    """Sign-off waits for the items; one person cannot sign twice; two people complete it."""
    await template(hr, "Return the badge")
    handover = await start(hr, people["cy"], people["eve"])
    hid, badge = handover["id"], item_titled(handover, "Return the badge")
    c = await browser(Role.hr)
    admin = await browser(Role.admin)
    it = await browser(Role.it)
    page = text_of((await c.get(f"/handovers/{hid}")).text)
    assert "1 item is still to do: sign-off comes when every item is done or waived." in page
    assert "HR: not signed yet" in page and "IT: not signed yet" in page
    early = await c.post(f"/handovers/{hid}/sign-off", data=form(c, team="hr"))
    assert early.status_code == 409 and "still has open items" in early.text
    done = await c.post(
        f"/handovers/{hid}/items/{badge['id']}/complete",
        data=form(c, version=badge["version"], note="returned"),
    )
    assert done.status_code == 303
    page = (await admin.get(f"/handovers/{hid}")).text
    assert "Sign off for HR" in page and "Sign off for IT" in page
    signed = await admin.post(
        f"/handovers/{hid}/sign-off", data=form(admin, team="hr", note="checked")
    )
    assert signed.status_code == 303
    page = text_of((await admin.get(f"/handovers/{hid}")).text)
    assert "HR: signed by admin-" in page and "Sign off for IT" not in page
    assert "You have signed for HR: the other sign-off must be by someone else." in page
    twice = await admin.post(f"/handovers/{hid}/sign-off", data=form(admin, team="it"))
    assert twice.status_code == 409
    assert "the two sign-offs must be by different people" in text_of(twice.text)
    # HR cannot sign for IT: refused.
    assert (await c.post(f"/handovers/{hid}/sign-off", data=form(c, team="it"))).status_code == 403
    assert "Sign off for IT" in (await it.get(f"/handovers/{hid}")).text
    last = await it.post(f"/handovers/{hid}/sign-off", data=form(it, team="it"))
    assert last.status_code == 303
    page = (await it.get(f"/handovers/{hid}")).text
    words = text_of(page)
    assert "Completed" in words and "IT: signed by it-" in words
    assert "Both have signed: the handover is complete." in words
    assert f'href="/handovers/{hid}/certificate"' in page
    assert (await hr.get(f"/api/v1/handovers/{hid}")).json()["state"] == "completed"


async def test_the_report_counts_what_was_created(
    browser: Browser, hr: httpx.AsyncClient, people: dict[str, int], secrets: Any
) -> None:
    """On time, late and not completed per month of the leaving date; overdue items by team."""
    await template(hr, "Return the badge")
    await template(hr, "Wipe the laptop", "it", offset=-40)
    system = Actor.system("test")
    it_signer = Actor(user_id=990001, email="it-signer@example.com", role=Role.it)
    hr_signer = Actor(user_id=990002, email="hr-signer@example.com", role=Role.hr)

    async def finish(employee_id: int, leaving: dt.date) -> None:
        h = await start(hr, employee_id, people["eve"], leaving_date=leaving.isoformat())
        for i in h["items"]:
            await flows.complete_item(
                actor=system, handover_id=h["id"], item_id=i["id"], note="done"
            )
        for signer, team in ((hr_signer, "hr"), (it_signer, "it")):
            await flows.sign_off(
                actor=signer, signing_key=secrets.signing_key, handover_id=h["id"], team=team
            )

    on_time = TODAY
    late = TODAY - dt.timedelta(days=45)
    await finish(await person("Ola Ontime"), on_time)
    await finish(await person("Lee Late"), late)
    # Open, not completed, with the IT item overdue (due 40 days before leaving in 10 days).
    await start(hr, people["cy"], people["eve"])
    c = await browser(Role.hr)
    page = (await c.get("/handovers/report")).text
    # Only months and teams with a count are drawn; the table has them all.
    assert page.count('class="chart"') == 2 and "No item is overdue." not in page

    def row(month: dt.date) -> list[str]:
        label = format_date(month.replace(day=1), "MMMM y", locale="en")
        found = re.search(
            rf'<th scope="row">{label}</th>\s*' + r"\s*".join([r'<td class="num">(\d+)</td>'] * 4),
            page,
        )
        assert found, label
        return list(found.groups())

    expected: dict[dt.date, list[int]] = {}
    for day, kind in ((on_time, 0), (late, 1), (TODAY + dt.timedelta(days=10), 2)):
        counts = expected.setdefault(day.replace(day=1), [0, 0, 0, 0])
        counts[kind] += 1
        counts[3] += 1
    for month, counts in expected.items():
        if month <= TODAY.replace(day=1):
            assert row(month) == [str(n) for n in counts], month
    team = re.search(r'<th scope="row">IT</th><td class="num">(\d+)</td>', page)
    assert team and team.group(1) == "1"
    assert re.search(r'<th scope="row">HR</th><td class="num">0</td>', page)


async def test_it_transfers_custody_the_successor_accepts_and_revokes_a_grant(
    browser: Browser,
    hr: httpx.AsyncClient,
    it: httpx.AsyncClient,
    people: dict[str, int],
    make_account: Any,
) -> None:
    """Custody moved from the item's form waits for the successor, who accepts at home; the
    register then sees the item done. A grant's item revokes the access from its own form."""
    held = await make_account(
        handle="cyheld", custodian_id=people["cy"], backup_custodian_id=people["ben"]
    )
    grant = await it.post(
        f"/api/v1/accounts/{held['id']}/grants",
        json={"employee_id": people["cy"], "level": "editor"},
    )
    assert grant.status_code == 201, grant.text
    handover = await start(hr, people["cy"], people["eve"])
    hid = handover["id"]
    custody = next(i for i in handover["items"] if i["kind"] == "transfer_custody")
    revoke = next(i for i in handover["items"] if i["kind"] == "revoke_grant")
    staff = await browser(Role.it)
    page = text_of((await staff.get(f"/handovers/{hid}")).text)
    assert "Transfer custody of X cyheld to the successor" in page
    assert "Revoke Cy Leaving's access to X cyheld" in page
    url = f"/handovers/{hid}/items/{custody['id']}/transfer"
    shown = text_of((await staff.get(url)).text)
    assert "Custody moves to Eve Active now." in shown
    moved = await staff.post(url, data=form(staff, note="Cy leaves on Friday"))
    assert moved.status_code == 303, moved.text
    page = text_of((await staff.get(moved.headers["location"])).text)
    assert "Custody has moved to Eve Active and waits for their answer on their home page." in page
    # Eve accepts on her own home page.
    eve = await browser(Role.comms, employee_id=people["eve"])
    home = (await eve.get("/")).text
    assert "Custody offered to you" in home and "Cy leaves on Friday" in home
    action = re.search(r'action="(/accounts/\d+/transfers/\d+/answer)"', home)
    assert action
    answered = await eve.post(action.group(1), data=form(eve, answer="accept"))
    assert answered.status_code == 303
    page = text_of((await staff.get(f"/handovers/{hid}")).text)
    assert "Seen by the register on" in page and "waits for their answer" not in page
    # The grant's item.
    url = f"/handovers/{hid}/items/{revoke['id']}/revoke"
    revoked = await staff.post(url, data=form(staff, reason="Cy leaves"))
    assert revoked.status_code == 303, revoked.text
    assert "The access is revoked and the item is done." in text_of(
        (await staff.get(revoked.headers["location"])).text
    )
    api = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    states = {i["id"]: i["state"] for i in api["items"]}
    assert states[custody["id"]] == "done" and states[revoke["id"]] == "done"


async def test_a_draft_is_opened_and_connections_exported_from_the_checklist(
    browser: Browser, hr: httpx.AsyncClient, people: dict[str, int]
) -> None:
    """Started unticked, the handover is a draft with an open button; HR then exports the
    connections for the successor as a CSV download, and the item records its hash."""
    from tests.accounts.handovers.test_handovers import add_connections

    await add_connections(people["cy"], 2)
    c = await browser(Role.hr)
    made = await c.post(
        "/handovers/new",
        data=form(
            c,
            leaver="Cy Leaving",
            leaver_id=str(people["cy"]),
            successor="Eve Active",
            leaving_date=(TODAY + dt.timedelta(days=10)).isoformat(),
        ),
    )
    assert made.status_code == 303, made.text
    hid = int(made.headers["location"].split("/")[2].split("?")[0])
    draft = (await c.get(made.headers["location"])).text
    words = text_of(draft)
    assert "It is a draft: review it, then open it." in words and "Draft: being reviewed" in words
    # Nothing is worked in a draft: only reassigning is offered.
    assert "/export" not in draft and "/complete" not in draft and "/reassign" in draft
    version = re.search(r'name="version" value="(\d+)"', draft)
    assert version
    opened = await c.post(f"/handovers/{hid}/open", data=form(c, version=version.group(1)))
    assert opened.status_code == 303
    page = (await c.get(opened.headers["location"])).text
    assert "The handover is open: HR and IT can work the items." in text_of(page)
    again = await c.post(f"/handovers/{hid}/open", data=form(c, version=version.group(1)))
    assert again.status_code == 409 and 'role="alert"' in again.text
    export = re.search(r'action="(/handovers/\d+/items/\d+/export)"', page)
    assert export
    csv = await c.post(export.group(1), data=form(c))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"] and "Contact0" in csv.text
    page = text_of((await c.get(f"/handovers/{hid}")).text)
    assert "2 connections exported" in page and "SHA-256 of the file:" in page
