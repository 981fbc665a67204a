"""Policies in a real browser: a member of staff acknowledges a policy on a phone, HR writes one
and sees acknowledgement and training coverage with charts, at phone and laptop width."""

from __future__ import annotations

import datetime as dt
from typing import Any

from playwright.async_api import Page, expect

from register.actor import Actor
from register.enums import Role
from register.policies import flows, services
from register.policies.tables import PolicyAcknowledgement
from register.services import create_user
from register.staff.services import create_employee
from tests.browser.conftest import PHONE, shoot
from tests.browser.test_account_forms import PASSWORD, sign_in


async def test_staff_acknowledge_on_a_phone_and_hr_sees_coverage(server: str, page: Page) -> None:
    actor = Actor.system("test")
    sam = await create_employee(
        actor=actor,
        data={"name": "Sam Berg", "work_email": "sam@northwind.example", "department": "Sales"},
    )
    await create_employee(
        actor=actor,
        data={"name": "Sue Dam", "work_email": "sue@northwind.example", "department": "Sales"},
    )
    hr, _ = await create_user(
        actor=actor,
        email="hr@northwind.example",
        role=Role.hr,
        name="Hana HR",
        password=PASSWORD,
        must_change_password=False,
    )
    await create_user(
        actor=actor,
        email="sam@northwind.example",
        role=Role.staff,
        name="Sam Berg",
        password=PASSWORD,
        must_change_password=False,
        employee_id=sam["id"],
    )
    today = dt.date.today()
    policy = await services.create_policy(
        actor=actor,
        data={
            "title": "Personal use of social media",
            "kind": "personal_use",
            "owner_id": hr["id"],
            "department": "Sales",
            "body": (await _template("personal_use")),
            "effective_on": today,
            "review_by": today + dt.timedelta(days=150),
        },
    )
    await flows.publish_version(
        actor=actor, version_id=policy["draft"]["id"], version=policy["draft"]["version"]
    )
    course = await services.create_course(
        actor=actor,
        data={
            "title": "Posting for the company",
            "required_platforms": ["*"],
            "renewal_months": 12,
        },
    )
    assert course["title"] == "Posting for the company"

    # Sam, on his phone: the policy waits on his home page; he reads it and acknowledges it.
    await page.set_viewport_size(PHONE)
    await sign_in(page, server, "sam@northwind.example")
    waiting = page.get_by_role("region", name="Policies to acknowledge")
    await expect(waiting).to_contain_text("Personal use of social media")
    menu = page.get_by_role("navigation", name="Main menu")
    await expect(menu.get_by_role("link", name="Accounts", exact=True)).to_have_count(0)
    await expect(menu.get_by_role("link", name="Staff", exact=True)).to_have_count(0)
    await shoot(page, "policies-staff-home")
    await page.set_viewport_size(PHONE)
    await waiting.get_by_role("link", name="Personal use of social media").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Personal use of social media")
    await expect(page.get_by_role("heading", name="Your rights come first")).to_be_visible()
    await shoot(page, "policies-read")
    await page.set_viewport_size(PHONE)
    await page.get_by_role("button", name="I have read it and acknowledge it").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Thank you: your acknowledgement is recorded."
    )
    await shoot(page, "policies-acknowledged")
    acknowledged = await PolicyAcknowledgement.select().where(
        PolicyAcknowledgement.employee == sam["id"]
    )
    assert acknowledged[0]["acknowledged_at"] is not None
    await page.get_by_role("button", name="Sign out").click()

    # HR: the form for a new policy, then who has acknowledged, with charts.
    await sign_in(page, server, "hr@northwind.example")
    await (
        page.get_by_role("navigation", name="Main menu")
        .get_by_role("link", name="Policies")
        .click()
    )
    await shoot(page, "policies-list")
    await page.get_by_role("link", name="Write a new policy").click()
    await expect(page.get_by_label("Text")).to_contain_text("Using social media for your job")
    await shoot(page, "policies-new")
    await page.goto(server + "/policies/coverage")
    acks = page.get_by_role("region", name="Policies acknowledged")
    await expect(acks.get_by_role("row", name="Personal use of social media")).to_contain_text("2")
    chart = page.locator("#acknowledged-chart")
    await expect(chart).to_be_visible()
    # Sam of the two in Sales: half of a fixed 0-100% scale, said as a share and as counts.
    await expect(chart.get_by_role("link")).to_have_accessible_name(
        "Personal use of social media 50%: 1 of 2 acknowledged"
    )
    bar = chart.locator(".chart-bar")
    track = chart.locator(".chart-track")
    bar_width = (await bar.bounding_box() or {})["width"]
    track_width = (await track.bounding_box() or {})["width"]
    assert abs(bar_width / track_width - 0.5) < 0.01, (bar_width, track_width)
    await expect(page.locator("#training-chart")).to_contain_text("required of nobody yet")
    await shoot(page, "policies-coverage")
    await page.goto(server + f"/policies/{policy['id']}")
    await shoot(page, "policies-policy")
    await page.goto(server + "/training")
    await shoot(page, "training-overview")


async def _template(kind: str) -> str:
    from register.policies.pages import template_text

    return template_text(kind)


async def test_a_dutch_writer_starts_from_the_dutch_text(server: str, browser: Any) -> None:
    """HR reading the pages in Dutch gets the Dutch template, one line per paragraph, and the
    coverage in Dutch words."""
    actor = Actor.system("test")
    hanna, _ = await create_user(
        actor=actor,
        email="hanna@northwind.example",
        role=Role.hr,
        name="Hanna HR",
        password=PASSWORD,
        must_change_password=False,
    )
    for name in ("Piet Smit", "Anouk de Vries", "Joris Bakker", "Fleur Jansen"):
        await create_employee(
            actor=actor,
            data={"name": name, "work_email": f"{name.split()[0].lower()}@northwind.example"},
        )
    today = dt.date.today()
    policy = await services.create_policy(
        actor=actor,
        data={
            "title": "Sociale media in je privéleven",
            "kind": "personal_use",
            "owner_id": hanna["id"],
            "body": services.template_text("personal_use", "nl"),
            "effective_on": today,
            "review_by": today + dt.timedelta(days=150),
        },
    )
    await flows.publish_version(
        actor=actor, version_id=policy["draft"]["id"], version=policy["draft"]["version"]
    )
    context = await browser.new_context(locale="nl-NL")
    page = await context.new_page()
    try:
        await page.goto(server + "/sign-in")
        await page.get_by_label("E-mailadres").fill("hanna@northwind.example")
        await page.get_by_label("Wachtwoord", exact=True).fill(PASSWORD)
        await page.get_by_role("button", name="Aanmelden").click()
        await page.goto(server + "/policies/new?kind=personal_use")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Nieuw beleid")
        text = page.get_by_label("Tekst", exact=True)
        await expect(text).to_contain_text("## Jouw rechten gaan voor")
        await expect(text).to_contain_text("kritiek te hebben op het bedrijf")
        await shoot(page, "policies-new-nl")
        await page.goto(server + "/policies/coverage")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Bevestigingen en trainingen"
        )
        await expect(
            page.locator("#acknowledged-chart").get_by_role("link")
        ).to_have_accessible_name("Sociale media in je privéleven 0%: 0 van de 4 bevestigd")
        await shoot(page, "policies-coverage-nl")
    finally:
        await context.close()
