"""A SEV1 account compromise worked on its incident page in four browsers at once: IT contains it
(the rotation waits for the vault), the spokesperson's status update reaches the commander's open
page without a reload, legal approves the holding statement, comms adds evidence, writes the
review, signs it off and closes."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from playwright.async_api import Page, expect

from accounts.services import create_account
from incidents import flows, services
from register.actor import Actor
from register.enums import Role
from register.services import create_user
from register.settings import Settings
from register.staff.services import create_employee
from tests.browser.conftest import shoot

PASSWORD = "a phrase of my own"
PHONE = {"width": 390, "height": 844}


async def person(role: Role, email: str, name: str) -> Actor:
    """A user of the register, and an actor for them."""
    user, _ = await create_user(
        actor=Actor.system("test"),
        email=email,
        name=name,
        role=role,
        password=PASSWORD,
        must_change_password=False,
    )
    return Actor(user_id=user["id"], email=email, role=role)


async def signed_in(browser: Any, server: str, email: str, **options: Any) -> Page:
    """A browser of its own, signed in through the sign-in page."""
    context = await browser.new_context(**options)
    page = await context.new_page()
    await page.goto(server + "/sign-in")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Home")
    return page


def step(page: Page, title: str) -> Any:
    """One step of the playbook on the page, by its title."""
    return page.locator("li.step").filter(has=page.get_by_role("heading", name=title, exact=True))


async def test_a_sev1_compromise_from_containment_to_close_in_four_browsers(
    server: str, page: Page, browser: Any, settings: Settings, tmp_path: Any
) -> None:
    """Each person does their part on the same page; what one posts reaches the others."""
    system = Actor.system("test")
    cleo = await person(Role.comms, "cleo@example.com", "Cleo Marsh")
    ivan = await person(Role.it, "ivan@example.com", "Ivan Horvat")
    sam = await person(Role.comms, "sam@example.com", "Sam Okafor")
    lee = await person(Role.legal, "lee@example.com", "Lee Fontaine")
    custodian = await create_employee(
        actor=system,
        data={
            "name": "Ana Silva",
            "work_email": "ana@example.com",
            "department": "Communications",
            "start_date": dt.date(2022, 1, 10),
        },
    )
    account = await create_account(
        actor=system,
        settings=settings,
        data={
            "platform": "x",
            "handle": "@northwind",
            "display_name": "Northwind",
            "department": "Communications",
            "custodian_id": custodian["id"],
            "mfa_method": "authenticator_app",
            "purpose": "The brand's X account",
        },
    )
    incident = await services.file_incident(
        actor=cleo,
        data={
            "title": "Our X account posts crypto spam",
            "category": "account_compromise",
            "severity": "SEV1",
            "account_id": account["id"],
            "spokesperson_id": sam.user_id,
            "legal_id": lee.user_id,
            "it_assignee_id": ivan.user_id,
        },
    )
    iid = incident["id"]
    await services.add_task(
        actor=cleo,
        incident_id=iid,
        data={
            "title": "Approve the holding statement",
            "owner_role": "legal",
            "phase": "contain",
            "mandatory": True,
            "assignee_id": lee.user_id,
        },
    )
    await flows.acknowledge(actor=cleo, incident_id=iid)
    steps = {t["step_key"]: t for t in await services.list_tasks(incident_id=iid)}
    await services.finish_task(
        actor=cleo, incident_id=iid, task_id=steps["capture"]["id"], state="done", note="saved"
    )
    url = f"{server}/incidents/{iid}"

    # The commander keeps the page open from here on.
    await page.goto(server + "/sign-in")
    await page.get_by_label("E-mail address").fill("cleo@example.com")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.goto(url)
    await expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Our X account posts crypto spam"
    )
    await shoot(page, "incident")

    # IT contains it: the rotation is refused until the vault holds a new credential.
    it = await signed_in(browser, server, "ivan@example.com")
    await it.goto(url)
    for title in (
        "Confirm the compromise with the custodian",
        "Regain control through the platform",
    ):
        item = step(it, title)
        await item.get_by_label("Note (a reason, to skip)").fill("done by IT")
        await item.get_by_role("button", name="Complete").click()
        await expect(step(it, title)).to_contain_text("Done")
    rotate = step(it, "Rotate the password and second factor in the vault")
    await expect(rotate).to_contain_text("Waits for the vault:")
    await rotate.get_by_role("button", name="Complete").click()
    await expect(step(it, "Rotate the password and second factor in the vault")).to_contain_text(
        "rotate the account's credential in the vault first"
    )
    await shoot(it, "incident-rotation-refused")
    await (
        step(it, "Rotate the password and second factor in the vault")
        .get_by_role("link", name="Open the account's vault")
        .click()
    )
    vault = it.get_by_role("region", name="The vault")
    await vault.get_by_label("Password", exact=True).fill("A-new-password-after-the-breach-7")
    await vault.get_by_role("button", name="Store it").click()
    await expect(vault.get_by_role("status")).to_contain_text("The credential is")
    await it.goto(url)
    rotate = step(it, "Rotate the password and second factor in the vault")
    await rotate.get_by_label("Note (a reason, to skip)").fill("rotated in the vault")
    await rotate.get_by_role("button", name="Complete").click()
    await expect(step(it, "Rotate the password and second factor in the vault")).to_contain_text(
        "Done"
    )
    sessions = step(it, "End other sessions and remove unknown apps and admins")
    await sessions.get_by_role("button", name="Complete").click()
    await expect(step(it, "End other sessions and remove unknown apps and admins")).to_contain_text(
        "Done"
    )

    # The spokesperson, on a phone, posts a status update; the commander's page shows it.
    spokesperson = await signed_in(browser, server, "sam@example.com", viewport=PHONE)
    await spokesperson.goto(url)
    await spokesperson.get_by_label("Note or status update").fill(
        "We know the account was misused and have taken it back. Do not click links it sent."
    )
    await spokesperson.get_by_role("button", name="Post a status update").click()
    await expect(spokesperson.get_by_role("status").first).to_have_text("Saved.")
    await shoot(spokesperson, "incident-phone-status-update")
    await expect(page.locator("#timeline-list")).to_contain_text(
        "Do not click links it sent.", timeout=20_000
    )

    # Legal approves the holding statement.
    legal = await signed_in(browser, server, "lee@example.com")
    await legal.goto(url)
    approval = step(legal, "Approve the holding statement")
    await approval.get_by_label("Note (a reason, to skip)").fill("Approved as drafted.")
    await approval.get_by_role("button", name="Complete").click()
    await expect(step(legal, "Approve the holding statement")).to_contain_text("Done")
    await expect(step(legal, "Approve the holding statement")).to_contain_text("Signed off")
    assert (
        await step(legal, "Capture what was posted or changed").get_by_role("button").count() == 0
    )

    # Comms: evidence, contained, the review with a follow-up, signed off, resolved, closed.
    await page.reload()
    shots = [tmp_path / "spam-post.png", tmp_path / "profile-change.png"]
    for n, path in enumerate(shots):
        path.write_bytes(b"\x89PNG screenshot " + bytes([n]) * 64)
    await page.get_by_label("Screenshots or files (drop them here, or choose)").set_input_files(
        [str(p) for p in shots]
    )
    await page.get_by_label("What it shows").fill("The spam post and the changed bio")
    await page.get_by_role("button", name="Add the evidence").click()
    await expect(page.get_by_text("2 items added.")).to_be_visible()
    for path in shots:
        await expect(page.locator("#evidence-heading ~ div")).to_contain_text(
            hashlib.sha256(path.read_bytes()).hexdigest()
        )
    await shoot(page, "incident-evidence")
    await page.get_by_label("Move to").select_option("contained")
    await page.get_by_role("button", name="Move on").click()
    await expect(page.locator(".lede")).to_contain_text("Contained")
    await page.get_by_label("Summary").fill("The account was taken over through an SMS reset.")
    await page.get_by_label("Impact").fill("Spam to 40,000 followers for 50 minutes.")
    await page.get_by_label("Root cause").fill("The recovery phone was a personal number.")
    await page.get_by_label("What went well").fill("Contained within the hour.")
    await page.get_by_label("What to improve").fill("Company-controlled recovery contacts.")
    await page.get_by_role("button", name="Save the review").click()
    await page.get_by_label("Action").fill("Move every recovery phone to a company number")
    await page.get_by_label("Whose").select_option("it")
    await page.get_by_label("Due on").fill("2030-01-31")
    await page.get_by_role("button", name="Add the follow-up action").click()
    await expect(page.locator("#review-heading ~ ul")).to_contain_text(
        "Move every recovery phone to a company number"
    )
    await page.get_by_role("button", name="Sign the review off").click()
    await expect(page.get_by_text("The review is final.")).to_be_visible()
    await services.finish_task(
        actor=ivan,
        incident_id=iid,
        task_id=steps["recovery_contacts"]["id"],
        state="done",
        note="company mailbox and number",
    )
    await page.reload()
    await page.get_by_label("Move to").select_option("resolved")
    await page.get_by_role("button", name="Move on").click()
    await expect(page.locator(".lede")).to_contain_text("Resolved")
    await page.get_by_role("button", name="Close the incident").click()
    await expect(page.get_by_text("This incident is closed.")).to_be_visible()
    await shoot(page, "incident-closed")
    for other in (it, spokesperson, legal):
        await other.context.close()


async def test_an_admin_reads_a_playbook_and_an_edit_with_a_bad_line_says_the_line(
    server: str, page: Page
) -> None:
    """The playbooks, one category's steps by phase, and its TOML edit refused with a line number."""
    await person(Role.admin, "ada@example.com", "Ada Admin")
    await page.goto(server + "/sign-in")
    await page.get_by_label("E-mail address").fill("ada@example.com")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.goto(server + "/incidents/playbooks")
    await shoot(page, "playbooks")
    await page.get_by_role("link", name="Compromise of one of our registered accounts").click()
    await expect(page.get_by_role("heading", name="Contain")).to_be_visible()
    await shoot(page, "playbook")
    await page.get_by_role("link", name="Edit this playbook").click()
    await expect(page.get_by_label("Title").first).to_have_value(
        "Acknowledge and name the incident commander"
    )
    await shoot(page, "playbook-form")
    await page.get_by_role("link", name="edit the playbook as text").click()
    box = page.get_by_label("The playbook as TOML")
    text = await box.input_value()
    await box.fill(text.replace('owner = "it"', 'owner = "nobody"', 1))
    await page.get_by_role("button", name="Save as a new version").click()
    await expect(page.locator("#toml-error")).to_contain_text("Line ")
    await shoot(page, "playbook-edit-refused")
    await box.fill(text.replace("Regain control through the platform", "Regain control", 1))
    await page.get_by_role("button", name="Save as a new version").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved as version 2.")
    await expect(page.locator("#changes-heading ~ ul").first).to_contain_text("Regain control")
    await shoot(page, "playbook-changed")
