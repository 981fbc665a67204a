"""A Dutch reader works an incident in the browser: the playbook's steps, the timeline and a
refusal all in Dutch, at phone and laptop width."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from incidents import flows, services
from register.actor import Actor
from register.enums import Role
from register.i18n import translations
from register.services import create_user
from tests.browser.conftest import shoot

PASSWORD = "a phrase of my own"


async def test_a_dutch_reader_works_an_incident_in_dutch(server: str, browser: Any) -> None:
    """Steps as shipped, the timeline the register wrote, and a refused move, all in Dutch."""
    nl = translations("nl").gettext
    user, _ = await create_user(
        actor=Actor.system("test"),
        email="cor@example.com",
        name="Cor Comms",
        role=Role.comms,
        password=PASSWORD,
        must_change_password=False,
    )
    actor = Actor(user_id=user["id"], email="cor@example.com", role=Role.comms)
    incident = await services.file_incident(
        actor=actor,
        data={
            "title": "Verkeerde prijs geplaatst",
            "category": "erroneous_post",
            "severity": "SEV2",
        },
    )
    await flows.acknowledge(actor=actor, incident_id=incident["id"])
    steps = await services.list_tasks(incident_id=incident["id"])

    context = await browser.new_context(locale="nl-NL")
    page = await context.new_page()
    try:
        await page.goto(server + "/sign-in")
        await page.get_by_label("E-mailadres").fill("cor@example.com")
        await page.get_by_label("Wachtwoord", exact=True).fill(PASSWORD)
        await page.get_by_role("button", name="Aanmelden").click()
        await page.goto(f"{server}/incidents/{incident['id']}")
        for step in steps[:3]:
            await expect(page.get_by_role("heading", name=nl(step["title"]))).to_be_visible()
        timeline = page.locator("#timeline-list")
        await expect(timeline).to_contain_text(
            f"{incident['reference']} gemeld als SEV2: hoog, Wij hebben iets verkeerds geplaatst"
        )
        await expect(timeline).to_contain_text("bevestigd door cor@example.com")
        await expect(timeline).not_to_contain_text("filed as")
        await expect(page.locator("#task-" + str(steps[0]["id"]))).to_contain_text(
            "Notitie: bevestigd"
        )
        await shoot(page, "incident-dutch")
        # A move past open mandatory steps is refused in Dutch, with the steps by their titles.
        await page.get_by_label(nl("Move to")).select_option(label=nl("Contained"))
        await page.get_by_role("button", name=nl("Move on")).click()
        await expect(page.get_by_text("Deze verplichte stappen staan nog open:")).to_be_visible()
        await expect(page.locator("main")).not_to_contain_text("mandatory tasks still open")
        await shoot(page, "incident-dutch-refused")
    finally:
        await context.close()
