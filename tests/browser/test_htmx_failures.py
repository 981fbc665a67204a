"""When a request made in place fails: the page says so; a session that ended leads to sign-in."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from accounts import flows
from accounts.enums import CustodyRole
from accounts.services import create_account, set_credential
from register.actor import Actor
from register.enums import Role
from register.services import create_user, end_sessions
from register.settings import Settings
from register.staff.services import create_employee
from tests.browser.conftest import shoot

PASSWORD = "a phrase of my own"


async def sign_in(page: Page, server: str, email: str) -> None:
    """Through the sign-in page, as a person would."""
    await page.goto(server + "/sign-in")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Home")


async def custodian_of_an_account(settings: Settings, secrets: Any) -> tuple[dict, dict, dict]:
    """Priya of comms holds an account with a stored credential; Ben could take it over."""
    people = {}
    for key, name in (("priya", "Priya Raman"), ("ben", "Ben Okoro")):
        people[key] = await create_employee(
            actor=Actor.system("test"),
            data={"name": name, "work_email": f"{key}@northwind.example", "department": "Comms"},
        )
    user, _ = await create_user(
        actor=Actor.system("test"),
        email="priya@northwind.example",
        role=Role.comms,
        password=PASSWORD,
        must_change_password=False,
        employee_id=people["priya"]["id"],
    )
    account = await create_account(
        actor=Actor.system("test"),
        settings=settings,
        data={
            "platform": "x",
            "handle": "@northwind_news",
            "custodian_id": people["priya"]["id"],
            "mfa_method": "authenticator_app",
        },
    )
    await set_credential(
        actor=Actor.system("test"),
        keyring=secrets.keyring,
        settings=settings,
        account_id=account["id"],
        password="a long shared secret",
    )
    return people, user, account


async def test_a_refused_request_in_place_is_said_on_the_page(
    server: str, page: Page, settings: Settings, secrets: Any
) -> None:
    """Custody moves away while the page is open: Reveal is refused, and the page says why."""
    people, _, account = await custodian_of_an_account(settings, secrets)
    await sign_in(page, server, "priya@northwind.example")
    await page.goto(f"{server}/accounts/{account['id']}")
    vault = page.get_by_role("region", name="The vault")
    await vault.get_by_label("Why do you need it?").fill("Posting the news")
    # Meanwhile the custody passes to Ben, who accepts: Priya may no longer reveal.
    transfer = await flows.transfer_custody(
        actor=Actor.system("test"),
        account_id=account["id"],
        role=CustodyRole.custodian,
        to_employee_id=people["ben"]["id"],
    )
    ben = Actor(0, "ben@northwind.example", Role.comms, employee_id=people["ben"]["id"])
    await flows.respond(
        actor=ben, account_id=account["id"], transfer_id=transfer["id"], accept=True
    )
    await vault.get_by_role("button", name="Reveal", exact=True).click()
    alert = page.locator("#request-failed")
    await expect(alert).to_contain_text("That did not go through.")
    await expect(alert).to_contain_text("custodian")
    await expect(alert).to_be_focused()
    await expect(vault.get_by_role("region", name="The credential")).to_have_count(0)
    await shoot(page, "request-refused")


async def test_a_session_that_ended_leads_to_sign_in_and_back_to_the_page(
    server: str, page: Page, settings: Settings, secrets: Any
) -> None:
    """Signed out while typing in the picker: the whole page goes to sign-in, then back."""
    _, user, account = await custodian_of_an_account(settings, secrets)
    await create_user(
        actor=Actor.system("test"),
        email="nadia@northwind.example",
        role=Role.it,
        password=PASSWORD,
        must_change_password=False,
    )
    await sign_in(page, server, "nadia@northwind.example")
    await page.goto(f"{server}/accounts/{account['id']}/transfer")
    nadia = await page.context.cookies()
    assert any(c["name"] == "register_session" for c in nadia)
    from register.tables import User

    it_user = await User.select(User.id).where(User.email == "nadia@northwind.example").first()
    await end_sessions(user_id=it_user["id"])
    await page.get_by_role("combobox", name="New holder").press_sequentially("Ben", delay=30)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert page.url.endswith(f"/sign-in?next=/accounts/{account['id']}/transfer")
    assert user["email"] == "priya@northwind.example"
    await page.get_by_label("E-mail address").fill("nadia@northwind.example")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{server}/accounts/{account['id']}/transfer")
