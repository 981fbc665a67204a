"""HR runs a handover in a real browser: started from the leaver's page, items worked by name, IT completes
its item in its own browser and HR's page shows it without a reload, HR and IT sign off; and the
same item work on a phone."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page, expect

from accounts.handovers import services as handover_services
from register.actor import Actor
from register.enums import Role
from register.services import create_user
from register.settings import Settings
from register.staff.services import create_employee
from tests.browser.conftest import PHONE, shoot
from tests.browser.test_account_forms import PASSWORD, pick, sign_in
from tests.cli import free_port, serve_until_up, stop_server

LEAD = "hana@northwind.example"
IT = "nadia@northwind.example"


@pytest.fixture
async def server(app: Any, settings: Settings) -> AsyncIterator[str]:
    """The register on a free loopback port, with Hana as the HR lead who may waive."""
    port = free_port()
    proc, _ = await serve_until_up(
        settings,
        port,
        REGISTER_ALLOWED_HOSTS="127.0.0.1",
        REGISTER_WORKER_IN_PROCESS="false",
        REGISTER_HANDOVER_HR_LEADS=LEAD,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop_server(proc)


async def world() -> dict[str, int]:
    """Cy leaves in twelve days; Priya stays; the department's checklist items; HR and IT users."""
    today = dt.date.today()
    made: dict[str, int] = {}
    for key, name, department, leaving in (
        ("cy", "Cy Leaver", "Communications", today + dt.timedelta(days=12)),
        ("priya", "Priya Raman", "Communications", None),
        ("ben", "Ben Okoro", "Communications", None),
        ("nadia", "Nadia Petrova", "IT", None),
    ):
        row = await create_employee(
            actor=Actor.system("test"),
            data={
                "name": name,
                "work_email": f"{key}@northwind.example",
                "department": department,
                "leaving_date": leaving,
            },
        )
        made[key] = row["id"]
    for title, team in (
        ("Return the badge", "hr"),
        ("Cancel the phone contract", "hr"),
        ("Wipe the laptop", "it"),
    ):
        await handover_services.create_template(
            actor=Actor.system("test"),
            data={"department": "Communications", "title": title, "owner_role": team},
        )
    for email, role, employee in ((LEAD, Role.hr, None), (IT, Role.it, made["nadia"])):
        await create_user(
            actor=Actor.system("test"),
            email=email,
            role=role,
            password=PASSWORD,
            must_change_password=False,
            employee_id=employee,
        )
    return made


def item(page: Page, title: str) -> Any:
    """One checklist item, found by its heading."""
    return page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=title))


async def test_hr_starts_and_works_a_handover_it_completes_its_item_and_both_sign(
    server: str, page: Page, browser: Any
) -> None:
    """The journey across two browsers, every page shot at phone and laptop width."""
    people = await world()
    await sign_in(page, server, LEAD)
    handovers = page.get_by_role("region", name="Handovers")
    await expect(handovers).to_contain_text("Leaving within 30 days, no handover yet")
    await expect(handovers).to_contain_text("Cy Leaver")
    await expect(handovers.get_by_role("link", name="Start handover for Cy Leaver")).to_be_visible()
    await shoot(page, "handover-home")
    # From the person's page, whose handover section offers the start.
    await handovers.get_by_role("link", name="Cy Leaver", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Cy Leaver")
    section = page.get_by_role("region", name="Handover", exact=True)
    await expect(section).to_contain_text("No handover is in progress for this person.")
    await shoot(page, "handover-person")
    await section.get_by_role("link", name="Start handover").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Start a handover")
    await expect(page.get_by_role("region", name="What will happen")).to_contain_text(
        "What Cy Leaver holds now"
    )
    await pick(page, "Successor", "Priya")
    await expect(page.get_by_role("combobox", name="Successor")).to_have_value("Priya Raman")
    await page.get_by_label("Personal e-mail addresses").fill("cy.leaver@gmail.example")
    await shoot(page, "handover-new")
    await page.get_by_role("button", name="Start the handover").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Handover of Cy Leaver")
    await expect(page.get_by_role("status")).to_contain_text("The handover is started")
    await expect(page.get_by_role("region", name="HR's items")).to_contain_text("Return the badge")
    await expect(page.get_by_role("region", name="IT's items")).to_contain_text("Wipe the laptop")
    await shoot(page, "handover-page")
    handover_url = page.url.split("?")[0]

    # Complete an HR item with a note.
    await item(page, "Return the badge").get_by_role("link", name="Mark done").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Mark an item done")
    await page.get_by_label("What was done").fill("Badge 4411 handed to reception")
    await shoot(page, "handover-complete")
    await page.get_by_role("button", name="Mark done").click()
    await expect(page.get_by_role("status")).to_have_text("The item is done.")
    await expect(item(page, "Return the badge")).to_contain_text(
        "Note: Badge 4411 handed to reception"
    )

    # Reassign the IT item to Nadia by name, then waive the phone contract as the HR lead.
    await item(page, "Wipe the laptop").get_by_role("link", name="Reassign").click()
    await pick(page, "New assignee", "Nadia")
    await shoot(page, "handover-reassign")
    await page.get_by_role("button", name="Reassign").click()
    await expect(item(page, "Wipe the laptop")).to_contain_text("Nadia Petrova")
    await item(page, "Cancel the phone contract").get_by_role("link", name="Waive").click()
    await page.get_by_label("Why is it waived?").fill("Cy never had a company phone")
    await shoot(page, "handover-waive")
    await page.get_by_role("button", name="Waive the item").click()
    await expect(item(page, "Cancel the phone contract")).to_contain_text(
        "Reason: Cy never had a company phone"
    )
    sign_off = page.get_by_role("region", name="Sign-off")
    await expect(sign_off).to_contain_text("1 item is still to do")

    # IT, in its own browser, completes its item; HR's page shows it without a reload.
    it_context = await browser.new_context()
    try:
        it_page = await it_context.new_page()
        await sign_in(it_page, server, IT)
        await it_page.goto(handover_url)
        await expect(item(it_page, "Return the badge").get_by_role("link")).to_have_count(0)
        await item(it_page, "Wipe the laptop").get_by_role("link", name="Mark done").click()
        await it_page.get_by_label("What was done").fill("Wiped and re-imaged")
        await it_page.get_by_role("button", name="Mark done").click()
        await expect(item(it_page, "Wipe the laptop")).to_contain_text("Note: Wiped and re-imaged")

        await expect(item(page, "Wipe the laptop")).to_contain_text(
            "Note: Wiped and re-imaged", timeout=25_000
        )
        await expect(page.locator("#announce")).to_contain_text("The checklist was updated")
        await expect(sign_off).to_contain_text("HR: not signed yet")
        await shoot(page, "handover-refreshed")

        # Both sign off, as two people.
        await sign_off.get_by_role("button", name="Sign off for HR").click()
        await expect(page.get_by_role("status")).to_have_text("Your sign-off is recorded.")
        await expect(sign_off).to_contain_text(f"HR: signed by {LEAD}")
        await expect(sign_off).to_contain_text("Your team has signed; the other team signs next.")
        await shoot(page, "handover-signed-hr")
        await it_page.reload()
        it_sign = it_page.get_by_role("region", name="Sign-off")
        await it_sign.get_by_label("Note with your sign-off (optional)").fill("Laptop wiped")
        await it_sign.get_by_role("button", name="Sign off for IT").click()
        await expect(it_sign).to_contain_text("Both have signed: the handover is complete.")
        await expect(it_page.get_by_role("link", name="Open the certificate")).to_have_attribute(
            "href", handover_url.removeprefix(server) + "/certificate"
        )
        await shoot(it_page, "handover-completed")
    finally:
        await it_context.close()
    await expect(page.get_by_role("region", name="Sign-off")).to_contain_text(
        "Both have signed", timeout=25_000
    )

    # The person's page now names the handover and its state.
    await page.goto(f"{server}/staff/{people['cy']}")
    section = page.get_by_role("region", name="Handover", exact=True)
    await expect(section).to_contain_text("Handover of Cy Leaver: Completed")
    await shoot(page, "handover-person-completed")
    await page.goto(handover_url)
    await page.get_by_role("link", name="Every handover").first.click()
    await expect(page.get_by_role("row", name="Cy Leaver")).to_contain_text("Completed")
    await shoot(page, "handover-list")
    await page.get_by_role("link", name="Handover report").click()
    await expect(page.get_by_role("table", name="Items overdue per team")).to_be_visible()
    await shoot(page, "handover-report")
    assert people["cy"]


async def test_an_hr_officer_on_a_phone_works_an_item(server: str, page: Page) -> None:
    """At 320 px: the checklist reads top to bottom, and an item is done with a note."""
    people = await world()
    await page.set_viewport_size(PHONE)
    await sign_in(page, server, LEAD)
    await page.goto(f"{server}/handovers/new?employee_id={people['cy']}")
    await pick(page, "Successor", "Ben")
    await page.get_by_role("button", name="Start the handover").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Handover of Cy Leaver")
    badge = item(page, "Return the badge")
    await badge.get_by_role("link", name="Mark done").click()
    await page.get_by_label("What was done").fill("Returned at the desk")
    await page.get_by_role("button", name="Mark done").click()
    await expect(page.get_by_role("status")).to_have_text("The item is done.")
    await expect(item(page, "Return the badge")).to_contain_text("Note: Returned at the desk")
    # Nothing wider than the phone: no sideways scrolling.
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await shoot(page, "handover-phone")
