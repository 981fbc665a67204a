"""IT's journey with the keyboard alone: Tab, Shift+Tab, Enter, Space and typing; focus always seen."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Locator, Page, expect

from accounts import services
from register.actor import Actor
from register.enums import Role
from register.services import create_user
from register.staff.services import create_employee
from tests.browser.conftest import check_accessibility

PASSWORD = "a phrase of my own"
SECRET = "Keyboard-Only-7wQ"
# How a focused element shows it: the stylesheet's outline, or a ring drawn as a box shadow.
FOCUS_SHOWN = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  const ring = s.boxShadow && s.boxShadow !== 'none';
  return outline || ring ? '' : (e.tagName + ' ' + (e.getAttribute('name') || e.textContent || '').trim().slice(0, 40));
}"""


class Keyboard:
    """Moves through a page as someone without a mouse does, checking every stop shows focus."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.stops = 0
        self.unseen: list[str] = []

    async def tab_to(self, target: Locator, *, most: int = 60) -> None:
        """Tab (forward) until `target` has the focus; every element passed must show it has."""
        await expect(target).to_be_visible()
        for _ in range(most):
            await self.page.keyboard.press("Tab")
            self.stops += 1
            unseen = await self.page.evaluate(FOCUS_SHOWN)
            if unseen:
                self.unseen.append(f"{self.page.url}: {unseen}")
            if await target.evaluate("e => e === document.activeElement"):
                return
        raise AssertionError(f"{most} presses of Tab never reached {target}")

    async def type_into(self, target: Locator, text: str) -> None:
        """Tab to a field and type into it."""
        await self.tab_to(target)
        await self.page.keyboard.type(text)

    async def press(self, target: Locator, key: str = "Enter") -> None:
        """Tab to a control and press Enter (links, buttons) or Space (buttons, boxes)."""
        await self.tab_to(target)
        await self.page.keyboard.press(key)

    async def pick(self, field: Locator, typed: str) -> None:
        """A person chosen in the type-ahead: type, ArrowDown, Enter."""
        await self.type_into(field, typed)
        await expect(field).to_have_attribute("aria-expanded", "true")
        await self.page.keyboard.press("ArrowDown")
        await self.page.keyboard.press("Enter")
        await expect(field).to_have_attribute("aria-expanded", "false")


async def test_it_works_an_account_with_the_keyboard_alone(
    server: str, page: Page, browser: Any
) -> None:
    """Sign in, register an account by pasting, grant, store and reveal, offer custody: no mouse."""
    made = {}
    for key, name, department in (
        ("priya", "Priya Raman", "Communications"),
        ("ben", "Ben Okoro", "Communications"),
        ("nadia", "Nadia Petrova", "IT"),
    ):
        made[key] = await create_employee(
            actor=Actor.system("test"),
            data={"name": name, "work_email": f"{key}@northwind.example", "department": department},
        )
    await create_user(
        actor=Actor.system("test"),
        email="nadia@northwind.example",
        role=Role.it,
        password=PASSWORD,
        must_change_password=False,
        employee_id=made["nadia"]["id"],
    )
    keys = Keyboard(page)
    await page.goto(server + "/sign-in")
    # The skip link comes first, and takes the reader past the menu.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    await keys.type_into(page.get_by_label("E-mail address"), "nadia@northwind.example")
    await keys.type_into(page.get_by_label("Password", exact=True), PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Home")

    await keys.press(page.get_by_role("link", name="Accounts", exact=True))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Accounts")
    await keys.press(page.get_by_role("link", name="Register an account"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Register an account")
    platform = page.get_by_label("Platform")
    await keys.tab_to(platform)
    # A closed select takes the option whose words are typed, as a keyboard user chooses one.
    await page.keyboard.type("LinkedIn page")
    await expect(platform).to_have_value("linkedin_page")
    await keys.type_into(
        page.get_by_label("Handle or profile address"),
        "https://www.linkedin.com/company/northwind-outdoor/",
    )
    await expect(page.locator("#handle-read")).to_contain_text("northwind-outdoor")
    await keys.type_into(page.get_by_label("Purpose"), "The company page")
    await keys.pick(page.get_by_role("combobox", name="Custodian", exact=True), "Priya")
    await keys.press(page.get_by_role("button", name="Register the account"))
    await expect(page.get_by_role("status")).to_contain_text("The account is registered.")
    account_id = int(page.url.split("?")[0].rsplit("/", 1)[1])

    actions = page.get_by_role("navigation", name="What you can do")
    await keys.press(actions.get_by_role("link", name="Give someone access"))
    await keys.pick(page.get_by_role("combobox", name="Person"), "Ben")
    level = page.get_by_label("Level of access")
    await keys.tab_to(level)
    await page.keyboard.type("Editor")
    await expect(level).to_have_value("editor")
    await keys.type_into(page.get_by_label("Why they need it"), "Posts the news")
    await keys.press(page.get_by_role("button", name="Record the access"))
    await expect(page.get_by_role("status")).to_have_text("The access is recorded.")

    vault = page.get_by_role("region", name="The vault")
    await keys.type_into(vault.get_by_label("Password", exact=True), SECRET)
    await keys.press(vault.get_by_role("button", name="Store it"))
    await expect(vault.get_by_role("status")).to_have_text("The credential is stored.")
    await keys.type_into(vault.get_by_label("Why do you need it?"), "Posting the launch")
    await keys.press(vault.get_by_role("button", name="Reveal", exact=True))
    revealed = vault.get_by_role("region", name="The credential")
    await expect(revealed).to_be_focused()
    show = revealed.get_by_role("button", name="Show")
    await keys.press(show, "Space")
    await expect(show).to_have_attribute("aria-pressed", "true")
    await expect(revealed).to_contain_text(SECRET)
    await check_accessibility(page, "keyboard-vault-revealed")

    await keys.press(actions.get_by_role("link", name="Transfer custody"))
    await keys.pick(page.get_by_role("combobox", name="New holder"), "Ben")
    await keys.press(page.get_by_role("button", name="Offer custody"))
    await expect(page.get_by_role("region", name="Custody transfers")).to_contain_text(
        "waiting for an answer"
    )
    grants = await services.list_grants(account_id=account_id, active=True)
    assert [g["employee_id"] for g in grants] == [made["ben"]["id"]]
    assert keys.stops > 20, "the walk barely moved"
    assert not keys.unseen, "focus not visible on:\n" + "\n".join(keys.unseen)
