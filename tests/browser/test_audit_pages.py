"""An auditor in a real browser: the trail, a filter, "Verify now" in place, the reveal found; settings."""

from __future__ import annotations

from playwright.async_api import Page, expect

from accounts.services import list_accounts, reveal, set_credential
from register.actor import Actor
from register.demo import run_demo
from register.enums import Role
from register.keys import Secrets
from register.services import create_user
from register.settings import Settings
from register.tables import User
from tests.browser.conftest import shoot

PASSWORD = "a phrase of my own"
REASON = "Posting the spring campaign from the shared phone"


async def it_reveals_a_credential(settings: Settings, secrets: Secrets) -> str:
    """IT (Nadia Petrova, the demo's IT user) stores a credential, then reveals it with a reason."""
    it_user = await User.select().where(User.role == Role.it.value).first()
    nadia = Actor(it_user["id"], it_user["email"], Role.it, employee_id=it_user["employee"])
    accounts, _ = await list_accounts(limit=1, offset=0, settings=settings)
    await set_credential(
        actor=nadia,
        keyring=secrets.keyring,
        settings=settings,
        account_id=accounts[0]["id"],
        password="correct horse battery staple",
    )
    revealed = await reveal(
        actor=nadia, keyring=secrets.keyring, account_id=accounts[0]["id"], reason=REASON
    )
    assert revealed["password"] == "correct horse battery staple"
    return str(accounts[0]["id"])


async def test_an_auditor_verifies_the_trail_and_finds_the_reveal(
    server: str, page: Page, settings: Settings, secrets: Secrets
) -> None:
    """Journey 3: sign in, open the trail, filter to the reveal, verify without a reload."""
    # The demo seals its credentials with the key ring of the environment's settings: this test's.
    await run_demo(settings)
    account_id = await it_reveals_a_credential(settings, secrets)
    await create_user(
        actor=Actor.system("test"),
        email="ines@northwind-outdoor.example",
        role=Role.auditor,
        name="Ines Bakker",
        password=PASSWORD,
        must_change_password=False,
    )
    await page.goto(server + "/sign-in")
    await page.get_by_label("E-mail address").fill("ines@northwind-outdoor.example")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Home")

    await page.get_by_role("link", name="Audit trail").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    events = page.get_by_role("table", name="Events")
    # Newest first: the auditor's own sign-in heads the trail.
    await expect(events.get_by_role("row").nth(1)).to_contain_text("Ines Bakker")
    await expect(events.get_by_role("row").nth(1)).to_contain_text("Signed in")
    await shoot(page, "audit-trail")

    await page.get_by_label("What").select_option("credential.reveal")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_label("What")).to_have_value("credential.reveal")
    rows = events.get_by_role("row")
    await expect(rows).to_have_count(2)
    found = rows.nth(1)
    await expect(found).to_contain_text("Revealed a credential")
    await expect(found).to_contain_text("Nadia Petrova")
    await expect(found).to_contain_text(REASON)
    await expect(found.get_by_role("link", name=f"Account {account_id}")).to_be_visible()

    # Verify in place: the page is not loaded again, and the result is announced.
    await page.evaluate("window.stillTheSamePage = true")
    await page.get_by_role("button", name="Verify now").click()
    result = page.get_by_role("heading", name="The trail is intact")
    await expect(result).to_be_visible()
    assert await page.evaluate("window.stillTheSamePage === true")
    await expect(page.get_by_text("Verified: the trail is intact.")).to_have_count(1)
    await expect(page.get_by_text("Events checked")).to_be_visible()
    await expect(page.get_by_label("What")).to_have_value("credential.reveal")
    await result.scroll_into_view_if_needed()
    await shoot(page, "audit-verified")


async def test_a_reader_chooses_dutch_and_their_time_zone(
    server: str, page: Page, settings: Settings
) -> None:
    """Settings from the menu: Dutch and Amsterdam saved, and the pages follow at once."""
    await create_user(
        actor=Actor.system("test"),
        email="ines@example.com",
        role=Role.auditor,
        name="Ines Bakker",
        password=PASSWORD,
        must_change_password=False,
    )
    await page.goto(server + "/sign-in")
    await page.get_by_label("E-mail address").fill("ines@example.com")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Settings").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your settings")
    await page.get_by_label("Time zone").fill("Mars/Olympus")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_label("Time zone")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_text("not a time zone the register knows")).to_be_visible()
    await page.get_by_label("Nederlands").check()
    await page.get_by_label("Time zone").fill("Europe/Amsterdam")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_role("status")).to_be_visible()
    await expect(page.get_by_role("heading", level=1)).not_to_have_text("Your settings")
    await expect(page.get_by_label("Nederlands")).to_be_checked()
    await expect(page.locator("html")).to_have_attribute("lang", "nl")
    await shoot(page, "settings")
    await page.goto(server + "/audit")
    await expect(page.get_by_role("table").get_by_role("columnheader").nth(1)).to_contain_text(
        "Europe/Amsterdam"
    )
