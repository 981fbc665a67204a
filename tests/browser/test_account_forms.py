"""IT's account forms in a real browser: register by pasting, the keyboard picker, custody accepted by another."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from accounts import services
from register.actor import Actor
from register.enums import Role
from register.services import create_user
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


async def pick(page: Page, label: str, typed: str, shot: str | None = None) -> None:
    """Choose a person with the keyboard only: type, ArrowDown, Enter."""
    field = page.get_by_role("combobox", name=label, exact=True)
    matches = page.get_by_role("listbox", name="People who match").get_by_role("option")
    await field.focus()
    await page.keyboard.type(typed, delay=30)
    await expect(matches.first).to_be_visible()
    await expect(field).to_have_attribute("aria-expanded", "true")
    await page.keyboard.press("ArrowDown")
    await expect(matches.first).to_have_attribute("aria-selected", "true")
    if shot:
        await shoot(page, shot)
        await expect(field).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(matches).to_have_count(0)
    await expect(field).to_have_attribute("aria-expanded", "false")


async def people() -> dict[str, dict[str, Any]]:
    """The directory this journey picks from, with two people of the same name."""
    made = {}
    for key, name, department in (
        ("priya", "Priya Raman", "Communications"),
        ("ben", "Ben Okoro", "Communications"),
        ("sam_sales", "Sam Jones", "Sales"),
        ("sam_it", "Sam Jones", "IT"),
        ("nadia", "Nadia Petrova", "IT"),
    ):
        made[key] = await create_employee(
            actor=Actor.system("test"),
            data={
                "name": name,
                "work_email": f"{key.replace('_', '.')}@northwind.example",
                "department": department,
            },
        )
    return made


async def test_it_registers_an_account_and_hands_over_custody(
    server: str, page: Page, browser: Any, settings: Settings
) -> None:
    """Paste a profile URL, see it read; grant and transfer by name with the keyboard; Ben accepts."""
    staff = await people()
    for email, role, employee in (
        ("nadia@northwind.example", Role.it, staff["nadia"]),
        ("ben@northwind.example", Role.comms, staff["ben"]),
    ):
        await create_user(
            actor=Actor.system("test"),
            email=email,
            role=role,
            password=PASSWORD,
            must_change_password=False,
            employee_id=employee["id"],
        )
    await sign_in(page, server, "nadia@northwind.example")
    await page.get_by_role("link", name="Accounts").click()
    await page.get_by_role("link", name="Register an account").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Register an account")
    await page.get_by_label("Platform").select_option(label="Instagram")
    await page.get_by_label("Handle or profile address").fill(
        "https://www.instagram.com/Northwind.Careers/?hl=en"
    )
    # Read while typing (htmx), before anything is sent.
    await expect(page.locator("#handle-read")).to_contain_text("Instagram · northwind.careers")
    await page.get_by_label("Purpose").fill("Job posts and life at Northwind")
    await page.get_by_label("Department", exact=True).fill("Communications")
    await pick(page, "Custodian", "Priya")
    await expect(page.get_by_role("combobox", name="Custodian", exact=True)).to_have_value(
        "Priya Raman"
    )
    await page.get_by_label("Second factor", exact=True).select_option(label="Authenticator app")
    await shoot(page, "account-new")
    await page.get_by_role("button", name="Register the account").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("northwind.careers")
    created = page.get_by_role("status")
    await expect(created).to_contain_text("The account is registered.")
    await expect(created).to_contain_text("https://www.instagram.com/northwind.careers/")
    await expect(page.get_by_role("region", name="Who holds it")).to_contain_text("Priya Raman")
    await shoot(page, "account-created")
    account_url = page.url.split("?")[0]
    account_id = int(account_url.rsplit("/", 1)[1])

    # A grant, the person chosen among namesakes by department, with the keyboard only.
    await (
        page.get_by_role("navigation", name="What you can do")
        .get_by_role("link", name="Give someone access")
        .click()
    )
    await pick(page, "Person", "Sam J", shot="picker")
    await expect(page.get_by_role("combobox", name="Person")).to_have_value("Sam Jones")
    await expect(
        page.get_by_text("Chosen: Sam Jones, IT · sam.it@northwind.example")
    ).to_be_visible()
    await page.get_by_label("Level of access").select_option("editor")
    await page.get_by_label("Why they need it").fill("Posts the job openings")
    await shoot(page, "account-grant")
    await page.get_by_role("button", name="Record the access").click()
    grants = page.get_by_role("region", name="Who can get in")
    await expect(grants.get_by_role("row").nth(1)).to_contain_text("Sam Jones")
    await expect(page.get_by_role("status")).to_have_text("The access is recorded.")
    assert (await services.list_grants(account_id=account_id, active=True))[0][
        "employee_id"
    ] == staff["sam_it"]["id"]

    # Someone else saves while the edit form is open: both shown, the input kept.
    await page.get_by_role("link", name="Edit").click()
    await services.update_account(
        actor=Actor.system("test"),
        settings=settings,
        account_id=account_id,
        version=1,
        changes={"display_name": "Northwind Careers"},
    )
    await page.get_by_label("Display name").fill("Northwind Jobs")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_role("alert").first).to_contain_text(
        "This changed since you opened it."
    )
    await expect(page.get_by_label("Display name")).to_have_value("Northwind Jobs")
    await expect(page.locator("#display_name-now")).to_contain_text("Northwind Careers")
    await shoot(page, "account-edit-stale")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_role("status")).to_have_text("Your changes are saved.")
    await expect(page.locator(".lede")).to_contain_text("Northwind Jobs")

    # Custody offered to Ben, who accepts from his own home page in his own browser.
    await (
        page.get_by_role("navigation", name="What you can do")
        .get_by_role("link", name="Transfer custody")
        .click()
    )
    await pick(page, "New holder", "Ben")
    await page.get_by_label("Note for them").fill("Priya moves to the Lisbon office")
    await shoot(page, "account-transfer")
    await page.get_by_role("button", name="Offer custody").click()
    await expect(page.get_by_role("region", name="Custody transfers")).to_contain_text(
        "waiting for an answer"
    )
    context = await browser.new_context()
    try:
        ben = await context.new_page()
        await sign_in(ben, server, "ben@northwind.example")
        offer = ben.get_by_role("region", name="Custody offered to you")
        await expect(offer).to_contain_text("Priya moves to the Lisbon office")
        await offer.get_by_role("button", name="Accept").click()
        await expect(ben.get_by_role("status")).to_have_text("You accepted custody.")
    finally:
        await context.close()
    await page.reload()
    await expect(page.get_by_role("region", name="Who holds it")).to_contain_text("Ben Okoro")

    # Re-certified: the grant that is no longer needed is unticked.
    await page.get_by_role("link", name="Re-certify").click()
    await expect(page.get_by_role("checkbox", name="Sam Jones")).to_be_checked()
    await shoot(page, "account-recertify")
    await page.get_by_role("checkbox", name="Sam Jones").uncheck()
    await page.get_by_role("button", name="Confirm the re-certification").click()
    await expect(page.get_by_role("status")).to_have_text("Custody is re-certified.")
    assert not await services.list_grants(account_id=account_id, active=True)

    # Retired, behind a page that says what that does.
    await page.get_by_role("link", name="Retire").click()
    await expect(page.get_by_role("region", name="What retiring does")).to_be_visible()
    await page.get_by_label("Reason").fill("The careers page moved to LinkedIn")
    await shoot(page, "account-retire")
    await page.get_by_role("button", name="Retire this account").click()
    await expect(page.get_by_role("status")).to_contain_text("The account is retired")
    await expect(page.get_by_role("link", name="Edit")).to_have_count(0)
