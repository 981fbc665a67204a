"""Comms in a real browser: filing a compromise on a phone, an anonymous report sent without an
account or JavaScript appearing on the open board without a reload, and the metrics' charts."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from playwright.async_api import Page, expect

from accounts.services import create_account
from incidents import flows, services
from register.actor import Actor
from register.db import now
from register.enums import Role
from register.services import create_user
from register.settings import Settings
from register.staff.services import create_employee
from tests.browser.conftest import SCREENSHOTS, shoot

PASSWORD = "a phrase of my own"
PHONE = {"width": 390, "height": 844}


async def comms_signs_in(page: Page, server: str) -> None:
    """Maya of comms, through the sign-in page."""
    await create_user(
        actor=Actor.system("test"),
        email="maya@northwind.example",
        name="Maya Comms",
        role=Role.comms,
        password=PASSWORD,
        must_change_password=False,
    )
    await page.goto(server + "/sign-in")
    await page.get_by_label("E-mail address").fill("maya@northwind.example")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Home")


async def an_account(settings: Settings) -> dict[str, Any]:
    """The brand's X account, held by Priya with Ben as backup."""
    held = {}
    for key, name in (("priya", "Priya Raman"), ("ben", "Ben Okoro")):
        held[key] = await create_employee(
            actor=Actor.system("test"),
            data={"name": name, "work_email": f"{key}@northwind.example", "department": "Comms"},
        )
    return await create_account(
        actor=Actor.system("test"),
        settings=settings,
        data={
            "platform": "x",
            "handle": "@northwind",
            "custodian_id": held["priya"]["id"],
            "backup_custodian_id": held["ben"]["id"],
            "mfa_method": "authenticator_app",
        },
    )


async def test_comms_files_a_compromise_on_a_phone(
    server: str, page: Page, settings: Settings
) -> None:
    """From the home page's big button to the account marked compromised, at 390 x 844."""
    await an_account(settings)
    await page.set_viewport_size(PHONE)
    await comms_signs_in(page, server)
    await expect(page.get_by_role("region", name="Open incidents")).to_contain_text(
        "No open incidents."
    )
    await page.get_by_role("link", name="Report an incident").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Report an incident")
    await page.get_by_label("What happened?").fill("Someone else is posting from our X account")
    await page.get_by_label("What kind of incident is it?").select_option(
        label="Our account is hacked or taken over"
    )
    await page.get_by_role("radio", name="SEV1 critical").check()
    await page.get_by_label("Which of our accounts? (if any)").select_option(label="northwind")
    await page.get_by_label("A link to the post or page (optional)").fill(
        "https://x.com/northwind/status/99"
    )
    await page.screenshot(path=SCREENSHOTS / "incident-new-390x844.png", full_page=True)
    await shoot(page, "incident-new")
    await page.set_viewport_size(PHONE)
    await page.get_by_role("button", name="File the incident").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Incident filed")
    await expect(page.get_by_role("region", name="The account")).to_contain_text(
        "It is marked compromised"
    )
    told = page.get_by_role("region", name="Who was told")
    await expect(told).to_contain_text("custodians: Priya Raman, Ben Okoro")
    await shoot(page, "incident-filed")
    await page.goto(server + "/incidents/board")
    await expect(page.get_by_text("Waiting: acknowledge within")).to_be_visible()
    await shoot(page, "incident-board-filed")


async def test_an_anonymous_report_reaches_the_open_board_without_a_reload(
    server: str, page: Page, browser: Any, settings: Settings
) -> None:
    """Comms keeps the board open; a member of staff, signed out and without JavaScript, sends a
    report; the board shows it at its next poll and announces the change."""
    await comms_signs_in(page, server)
    await page.goto(server + "/incidents/board")
    await expect(page.get_by_text("No open incidents.")).to_be_visible()
    await page.evaluate("window.notReloaded = true")
    staff = await browser.new_context(java_script_enabled=False)
    try:
        tab = await staff.new_page()
        await tab.goto(server + "/report")
        await expect(tab.get_by_text("up to 5 reports an hour")).to_be_visible()
        await tab.get_by_label("What is it about?").select_option(label="Harassment or abuse")
        await tab.get_by_label("What happened, in a line").fill(
            "A colleague is being harassed under our launch post"
        )
        await tab.get_by_label("Links to the posts or pages (optional)").fill(
            "https://x.com/northwind/status/1"
        )
        await tab.get_by_role("radio", name="Stay anonymous").check()
        await tab.get_by_role("button", name="Send the report").click()
        await expect(tab.get_by_role("heading", level=1)).to_have_text("Your report is in")
        reference = await tab.locator(".reference").inner_text()
        assert re.fullmatch(r"INC-\d{4}-\d{4}", reference)
        await expect(tab.get_by_role("region", name="What happens next")).to_contain_text(
            "nobody, HR included, can see who sent it"
        )
    finally:
        await staff.close()
    # The next poll (every 15 s) brings it in, with no reload of the page.
    board = page.locator("#incident-board")
    await expect(board).to_contain_text(reference, timeout=25_000)
    await expect(board).to_contain_text("through the confidential form")
    await expect(page.locator("#announce")).to_contain_text("The incident board changed")
    assert await page.evaluate("window.notReloaded === true")
    await shoot(page, "incident-board")
    # The same form and receipt, shot and checked by axe (which needs script) signed out.
    seen = await browser.new_context()
    try:
        tab = await seen.new_page()
        await tab.goto(server + "/report")
        await tab.get_by_label("What is it about?").select_option(
            label="Someone is pretending to be us"
        )
        await tab.get_by_label("What happened, in a line").fill("A fake support account on X")
        await tab.get_by_role("radio", name="Give my name: only HR will see it").check()
        await tab.get_by_label("Your name (only if you chose to give it)").fill("Sam Jones")
        await shoot(tab, "incident-report-form")
        await tab.get_by_role("button", name="Send the report").click()
        await expect(tab.get_by_role("region", name="What happens next")).to_contain_text(
            "seen by HR only"
        )
        await shoot(tab, "incident-report-sent")
    finally:
        await seen.close()


async def test_the_pages_around_the_board_draw_what_was_filed(
    server: str, page: Page, settings: Settings
) -> None:
    """The list, legal's queue, the reviews and the metrics' charts, from incidents made here."""
    system = Actor.system("test")
    await comms_signs_in(page, server)
    # Filed in the last hours, so the clocks have run: one acknowledged after 10 minutes, one
    # still waiting past its SEV3 limit of 4 hours.
    at = now()
    first = await services.file_incident(
        actor=system,
        data={
            "title": "Journalist asks about layoffs",
            "category": "press_inquiry",
            "severity": "SEV2",
        },
        at=at - dt.timedelta(minutes=40),
    )
    await services.file_incident(
        actor=system,
        data={"title": "Geotagged photo of the office", "category": "location_reveal"},
        at=at - dt.timedelta(hours=5),
    )
    await flows.acknowledge(actor=system, incident_id=first["id"], at=at - dt.timedelta(minutes=30))
    await page.goto(server + "/incidents")
    await expect(page.get_by_role("link", name=first["reference"])).to_be_visible()
    await shoot(page, "incident-list")
    await page.goto(server + "/incidents/legal")
    await expect(page.get_by_role("heading", name="Legal check of the inquiry")).to_be_visible()
    await shoot(page, "incident-legal")
    await page.goto(server + "/incidents/reviews")
    await shoot(page, "incident-reviews")
    await page.goto(server + "/incidents/metrics")
    chart = page.get_by_role("img", name="Median minutes to acknowledge, by severity")
    await expect(chart).to_contain_text("SEV2 high: 10")
    await expect(page.get_by_role("img", name="Clocks missed per month")).to_contain_text(
        "acknowledged late: 1"
    )
    await expect(
        page.get_by_role("group", name="Incidents by kind over the period")
    ).to_be_visible()
    await shoot(page, "incident-metrics")
