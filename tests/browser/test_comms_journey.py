"""Comms' journey through a SEV1 account compromise, in the browser from end to end: an admin puts
a legal approval in the playbook, comms files on a phone, IT contains it (the rotation waits for
the vault), the spokesperson's status update reaches the commander's open page, legal approves the
holding statement, comms adds evidence, writes the review, signs it off and closes; then a member
of staff reports anonymously and the board shows it; the metrics count what was made here."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from playwright.async_api import Locator, Page, expect

from accounts.services import create_account
from register.actor import Actor
from register.enums import Role
from register.services import create_user
from register.settings import Settings
from register.staff.services import create_employee
from tests.browser.conftest import shoot

PASSWORD = "a phrase of my own"
PHONE = {"width": 390, "height": 844}
HOLDING = "Approve the holding statement"
# The legal step the organisation adds to the shipped playbook, as TOML like the playbook's own.
LEGAL_STEP = f"""
[[steps]]
key = "approve_statement"
title = "{HOLDING}"
guidance = "Legal reads the note to followers before it goes out."
owner = "legal"
phase = "contain"
mandatory = true
requires = ["acknowledge"]
"""


async def person(role: Role, email: str, name: str) -> None:
    """A user of the register who signs in with PASSWORD."""
    await create_user(
        actor=Actor.system("test"),
        email=email,
        name=name,
        role=role,
        password=PASSWORD,
        must_change_password=False,
    )


async def sign_in(page: Page, server: str, email: str) -> Page:
    """Through the sign-in page, to the home page."""
    await page.goto(server + "/sign-in")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Home")
    return page


async def signed_in(browser: Any, server: str, email: str, **options: Any) -> Page:
    """A browser context of its own, signed in."""
    context = await browser.new_context(**options)
    return await sign_in(await context.new_page(), server, email)


def step(page: Page, title: str) -> Locator:
    """One step of the playbook on the incident page, by its title."""
    return page.locator("li.step").filter(has=page.get_by_role("heading", name=title, exact=True))


async def complete(page: Page, title: str, note: str = "") -> None:
    """Complete a step inline, and see it done."""
    if note:
        await step(page, title).get_by_label("Note (a reason, to skip)").fill(note)
    await step(page, title).get_by_role("button", name="Complete").click()
    await expect(step(page, title)).to_contain_text("Done")


def with_legal_step(toml: str) -> str:
    """The playbook's text with the legal step added and the holding statement waiting for it."""
    blocks = re.split(r"(?m)^(?=\[\[steps\]\])", toml)
    out = []
    for block in blocks:
        if re.search(r'(?m)^key = "holding_post"', block):
            block, n = re.subn(
                r"(?m)^requires = \[(.*)\]$",
                lambda m: f'requires = [{m.group(1)}, "approve_statement"]',
                block,
            )
            assert n == 1, block
        out.append(block)
        if re.search(r'(?m)^key = "capture"', block):
            out.append(LEGAL_STEP.lstrip("\n") + "\n")
    return "".join(out)


def cell(table: Locator, row: str, column: int) -> Locator:
    """A table's cell by its row header's text and the number of the data column."""
    header = table.page.get_by_role("rowheader", name=row, exact=True)
    return table.locator("tbody tr").filter(has=header).locator("td").nth(column)


async def test_comms_works_a_sev1_compromise_from_filing_to_close_and_the_metrics_count_it(
    server: str, page: Page, browser: Any, settings: Settings, tmp_path: Any
) -> None:
    """Five people, each in their own browser, on the same incident; nothing made by services but
    the people and the account."""
    system = Actor.system("test")
    await person(Role.admin, "ada@example.com", "Ada Admin")
    await person(Role.comms, "cleo@example.com", "Cleo Marsh")
    await person(Role.it, "ivan@example.com", "Ivan Horvat")
    await person(Role.comms, "sam@example.com", "Sam Okafor")
    await person(Role.legal, "lee@example.com", "Lee Fontaine")
    held = {}
    for key, name in (("ana", "Ana Silva"), ("ben", "Ben Okoro")):
        held[key] = await create_employee(
            actor=system,
            data={
                "name": name,
                "work_email": f"{key}@example.com",
                "department": "Communications",
                "start_date": dt.date(2022, 1, 10),
            },
        )
    await create_account(
        actor=system,
        settings=settings,
        data={
            "platform": "x",
            "handle": "@northwind",
            "display_name": "Northwind",
            "department": "Communications",
            "custodian_id": held["ana"]["id"],
            "backup_custodian_id": held["ben"]["id"],
            "mfa_method": "authenticator_app",
            "purpose": "The brand's X account",
        },
    )

    # The organisation wants legal to approve what is said to followers: an admin adds the step
    # through the playbook's text (the step form changes existing steps only) and makes the
    # holding statement wait for it.
    admin = await signed_in(browser, server, "ada@example.com")
    await admin.goto(server + "/incidents/playbooks/account_compromise/form")
    await admin.get_by_role("link", name="edit the playbook as text").click()
    box = admin.get_by_label("The playbook as TOML")
    await box.fill(with_legal_step(await box.input_value()))
    await admin.get_by_role("button", name="Save as a new version").click()
    await expect(admin.get_by_role("status")).to_contain_text("Saved as version 2.")
    changes = admin.locator("#changes-heading ~ ul").first
    await expect(changes).to_contain_text(f"Step added: {HOLDING}")
    # What the holding statement waits for, by the steps' titles rather than their keys.
    await expect(changes).to_contain_text(
        f"now Rotate the password and second factor in the vault; {HOLDING}"
    )
    # The holding statement's row says what unlocks it.
    await expect(
        admin.get_by_role("row").filter(has_text="Tell followers, approved")
    ).to_contain_text(HOLDING)
    await shoot(admin, "comms-journey-playbook-with-legal-step")
    await admin.context.close()

    # Comms files it on a phone, from the home page's button.
    await page.set_viewport_size(PHONE)
    await sign_in(page, server, "cleo@example.com")
    await expect(page.get_by_role("region", name="Open incidents")).to_contain_text(
        "No open incidents."
    )
    await page.get_by_role("link", name="Report an incident").click()
    await page.get_by_label("What happened?").fill("Our X account posts crypto spam")
    await page.get_by_label("What kind of incident is it?").select_option(
        label="Our account is hacked or taken over"
    )
    await page.get_by_role("radio", name="SEV1 critical").check()
    await page.get_by_label("Which of our accounts? (if any)").select_option(
        label="northwind (Northwind)"
    )
    await page.get_by_label("A link to the post or page (optional)").fill(
        "https://x.com/northwind/status/99"
    )
    await shoot(page, "comms-journey-new")
    await page.set_viewport_size(PHONE)
    await page.get_by_role("button", name="File the incident").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Incident filed")
    await expect(page.get_by_role("region", name="The account")).to_contain_text(
        "It is marked compromised"
    )
    await expect(page.get_by_role("region", name="Who was told")).to_contain_text(
        "custodians: Ana Silva, Ben Okoro"
    )
    await shoot(page, "comms-journey-filed")
    await page.set_viewport_size(PHONE)
    filed = page.url
    await page.goto(server + "/incidents/board")
    await expect(page.get_by_text("Waiting: acknowledge within")).to_be_visible()
    await shoot(page, "comms-journey-board-filed")
    await page.set_viewport_size(PHONE)
    await page.goto(filed)
    await page.get_by_role("link", name="Open the incident and work its steps").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Our X account posts crypto spam"
    )
    url = page.url
    # The commander names who works it, takes it, and captures what was posted.
    await page.get_by_label("Spokesperson", exact=True).select_option(
        label="Sam Okafor (sam@example.com)"
    )
    await page.get_by_label("Legal counsel", exact=True).select_option(
        label="Lee Fontaine (lee@example.com)"
    )
    await page.get_by_role("button", name="Save who works it").click()
    await expect(page.locator("#facts-heading ~ dl")).to_contain_text("Lee Fontaine")
    await complete(page, "Acknowledge and name the incident commander")
    await complete(page, "Capture what was posted or changed", "saved")
    await expect(step(page, HOLDING)).to_contain_text("Lee Fontaine")
    await shoot(page, "comms-journey-incident")
    await page.set_viewport_size(PHONE)
    await page.evaluate("window.notReloaded = true")

    # IT contains it: the rotation is refused until the vault holds a new credential.
    it = await signed_in(browser, server, "ivan@example.com")
    await it.goto(url)
    await complete(it, "Confirm the compromise with the custodian", "done by IT")
    await complete(it, "Regain control through the platform", "done by IT")
    rotation = "Rotate the password and second factor in the vault"
    await expect(step(it, rotation)).to_contain_text("Waits for the vault:")
    await step(it, rotation).get_by_role("button", name="Complete").click()
    await expect(step(it, rotation)).to_contain_text(
        "rotate the account's credential in the vault first"
    )
    await shoot(it, "comms-journey-rotation-refused")
    await step(it, rotation).get_by_role("link", name="Open the account's vault").click()
    await expect(it).to_have_url(re.compile(r"/accounts/\d+"))
    vault = it.get_by_role("region", name="The vault")
    await vault.get_by_label("Password", exact=True).fill("A-new-password-after-the-breach-7")
    await vault.get_by_role("button", name="Store it").click()
    await expect(vault.get_by_role("status")).to_contain_text("The credential is")
    await shoot(it, "comms-journey-vault-rotated")
    await it.goto(url)
    await complete(it, rotation, "rotated in the vault")
    await complete(it, "End other sessions and remove unknown apps and admins")
    await complete(it, "Make recovery contacts company-controlled", "company mailbox and number")
    await shoot(it, "comms-journey-contained-by-it")

    # The spokesperson, on a phone, posts a status update; the commander's page shows it.
    spokesperson = await signed_in(browser, server, "sam@example.com", viewport=PHONE)
    await spokesperson.goto(url)
    await spokesperson.get_by_label("Note or status update").fill(
        "We know the account was misused and have taken it back. Do not click links it sent."
    )
    await spokesperson.get_by_role("button", name="Post a status update").click()
    await expect(spokesperson.get_by_role("status").first).to_have_text("Saved.")
    await shoot(spokesperson, "comms-journey-status-update")
    await expect(page.locator("#timeline-list")).to_contain_text(
        "Do not click links it sent.", timeout=20_000
    )
    assert await page.evaluate("window.notReloaded === true")
    await shoot(page, "comms-journey-update-arrived")
    await page.set_viewport_size(PHONE)

    # Legal approves the holding statement, and may touch nothing else.
    legal = await signed_in(browser, server, "lee@example.com")
    await legal.goto(server + "/incidents/legal")
    await expect(legal.get_by_role("heading", name=HOLDING)).to_be_visible()
    await shoot(legal, "comms-journey-legal-queue")
    approval = legal.locator("li.legal-step").filter(
        has=legal.get_by_role("heading", name=HOLDING, exact=True)
    )
    await approval.get_by_label("Your note (what you decided)").fill("Approved as drafted.")
    await approval.get_by_role("button", name="Approve and sign off").click()
    await expect(legal.get_by_role("status")).to_contain_text("Signed off: the step is done")
    await legal.goto(url)
    await expect(step(legal, HOLDING)).to_contain_text("Done")
    await expect(step(legal, HOLDING)).to_contain_text("Signed off")
    assert (
        await step(legal, "Capture what was posted or changed").get_by_role("button").count() == 0
    )
    await shoot(legal, "comms-journey-legal-approved")

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
    await shoot(page, "comms-journey-evidence")
    await page.set_viewport_size(PHONE)
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
    await shoot(page, "comms-journey-review-signed")
    await page.set_viewport_size(PHONE)
    await page.get_by_label("Move to").select_option("resolved")
    await page.get_by_role("button", name="Move on").click()
    await expect(page.locator(".lede")).to_contain_text("Resolved")
    await page.get_by_role("button", name="Close the incident").click()
    await expect(page.get_by_text("This incident is closed.")).to_be_visible()
    await shoot(page, "comms-journey-closed")
    for other in (it, spokesperson, legal):
        await other.context.close()

    # Comms keeps the board open; a member of staff, signed out and without JavaScript, reports
    # anonymously; the board's next poll (every 15 s) brings it in without a reload.
    await page.goto(server + "/incidents/board")
    await expect(page.get_by_text("No open incidents.")).to_be_visible()
    await page.evaluate("window.notReloaded = true")
    staff = await browser.new_context(java_script_enabled=False)
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
    await staff.close()
    board = page.locator("#incident-board")
    await expect(board).to_contain_text(reference, timeout=25_000)
    await expect(board).to_contain_text("through the confidential form")
    await expect(page.locator("#announce")).to_contain_text("The incident board changed")
    assert await page.evaluate("window.notReloaded === true")
    await shoot(page, "comms-journey-board-report")

    # The metrics count the two incidents made here: one SEV1 compromise, closed; one report.
    await page.goto(server + "/incidents/metrics")
    speed = page.get_by_role("table", name="Minutes from filing, by severity")
    await expect(cell(speed, "SEV1 critical", 0)).to_have_text("1")
    await expect(cell(speed, "SEV1 critical", 3)).to_have_text("0")
    kinds = page.get_by_role("table", name="Incidents filed by kind and month")
    await expect(cell(kinds, "Our account is hacked or taken over", -1)).to_have_text("1")
    await expect(cell(kinds, "Harassment or abuse", -1)).to_have_text("1")
    await expect(cell(kinds, "Someone is pretending to be us", -1)).to_have_text("0")
    missed = page.get_by_role("table", name="Clocks missed by month")
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    await expect(cell(missed, month, 0)).to_have_text("2")
    await expect(page.get_by_text("2 incidents filed in the period.")).to_be_visible()
    # Acknowledged within the minute of filing there is no bar to draw, and the page says so; on
    # a loaded machine the journey may take longer than that, and the bar is drawn.
    await expect(
        page.get_by_role("img", name="Median minutes to acknowledge, by severity").or_(
            page.get_by_text("was acknowledged later than the minute")
        )
    ).to_be_visible()
    await expect(
        page.get_by_role("img", name="Median minutes to resolve, by severity")
    ).to_contain_text("SEV1 critical")
    await expect(page.get_by_role("img", name="Incidents filed per month")).to_contain_text(
        f"{month} 2"
    )
    await shoot(page, "comms-journey-metrics")
