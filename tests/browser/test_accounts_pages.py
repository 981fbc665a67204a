"""IT in a real browser: the account list, an account's page, and custody answered from home."""

from __future__ import annotations

from playwright.async_api import Page, expect

from register.actor import Actor
from register.demo import run_demo
from register.enums import Role
from register.services import create_user
from register.settings import Settings
from register.staff.services import employee_by_email
from tests.browser.conftest import shoot

PASSWORD = "a phrase of my own"


async def sign_in(page: Page, server: str, email: str) -> None:
    """Through the sign-in page, as a person would."""
    await page.goto(server + "/sign-in")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Home")


async def test_it_finds_accounts_at_risk_and_reads_one(
    server: str, page: Page, settings: Settings
) -> None:
    """Home names the risks in words; the list filters by one; the account says who and what."""
    await run_demo(settings)
    it_person = await employee_by_email("nadia.petrova@northwind-outdoor.example")
    assert it_person
    await create_user(
        actor=Actor.system("test"),
        email="nadia@northwind-outdoor.example",
        role=Role.it,
        password=PASSWORD,
        must_change_password=False,
        employee_id=it_person["id"],
    )
    await sign_in(page, server, "nadia@northwind-outdoor.example")
    risks = page.get_by_role("region", name="Accounts at risk")
    await expect(risks).to_be_visible()
    await shoot(page, "home-it")
    await risks.get_by_role("link", name="Switch to an authenticator app").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Accounts")
    await expect(page.get_by_label("Risk")).to_have_value("weak_mfa")
    rows = page.get_by_role("row")
    await expect(rows.nth(1)).to_contain_text("No second factor, or SMS only")
    await shoot(page, "accounts-at-risk")
    await rows.nth(1).get_by_role("link").first.click()
    await expect(page.get_by_role("heading", level=1)).not_to_have_text("Accounts")
    await expect(page.get_by_role("region", name="Who holds it")).to_contain_text("Custodian")
    await expect(page.get_by_role("region", name="What is wrong")).to_contain_text("High:")
    await shoot(page, "account")
    await page.get_by_role("link", name="Accounts").click()
    await page.get_by_label("Search").fill("hiring")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_role("row")).to_have_count(2)
    await expect(page.get_by_role("row").nth(1)).to_contain_text("Priya Raman")
    await shoot(page, "accounts-search")


async def test_a_successor_accepts_custody_from_their_home_page(
    server: str, page: Page, settings: Settings
) -> None:
    """The person offered custody sees the offer on their home page and accepts it there."""
    await run_demo(settings)
    successor = await employee_by_email("fatima.alaoui@northwind-outdoor.example")
    assert successor
    await create_user(
        actor=Actor.system("test"),
        email="fatima@northwind-outdoor.example",
        role=Role.comms,
        password=PASSWORD,
        must_change_password=False,
        employee_id=successor["id"],
    )
    await sign_in(page, server, "fatima@northwind-outdoor.example")
    offers = page.get_by_role("region", name="Custody offered to you")
    await expect(offers).to_contain_text("you are asked to become the custodian")
    await shoot(page, "home-offer")
    await offers.get_by_role("button", name="Accept").first.click()
    await expect(page.get_by_role("status")).to_have_text("You accepted custody.")
    await expect(page.get_by_role("region", name="Custody transfers")).to_contain_text("accepted")
    await shoot(page, "account-accepted")
