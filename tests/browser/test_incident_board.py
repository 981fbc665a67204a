"""Comms' pages around the board in a real browser: a named confidential report, and the list,
legal's queue, reviews and metrics' charts from incidents filed in the past hours. (Filing on a
phone and an anonymous report reaching the open board are in test_comms_journey.py.)"""

from __future__ import annotations

import datetime as dt

from playwright.async_api import Page, expect

from incidents import flows, services
from register.actor import Actor
from register.db import now
from register.enums import Role
from register.services import create_user
from register.settings import Settings
from tests.browser.conftest import shoot

PASSWORD = "a phrase of my own"


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


async def test_a_report_with_a_name_says_only_hr_will_see_it(server: str, page: Page) -> None:
    """Signed out, a member of staff gives a name; the form and receipt say who will see it.
    (An anonymous report reaching the open board is part of test_comms_journey.py.)"""
    await page.goto(server + "/report")
    await page.get_by_label("What is it about?").select_option(
        label="Someone is pretending to be us"
    )
    await page.get_by_label("What happened, in a line").fill("A fake support account on X")
    await page.get_by_role("radio", name="Give my name: only HR will see it").check()
    await page.get_by_label("Your name (only if you chose to give it)").fill("Sam Jones")
    await shoot(page, "incident-report-form")
    await page.get_by_role("button", name="Send the report").click()
    await expect(page.get_by_role("region", name="What happens next")).to_contain_text(
        "seen by HR only"
    )
    await shoot(page, "incident-report-sent")


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
