"""The playbooks in the browser: an admin reads one category's steps by phase, edits it as a
form and as TOML text, and a bad line is refused with its number. (A SEV1 compromise worked on
its incident page is in test_comms_journey.py.)"""

from __future__ import annotations

from playwright.async_api import Page, expect

from register.actor import Actor
from register.enums import Role
from register.services import create_user
from tests.browser.conftest import shoot

PASSWORD = "a phrase of my own"


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
