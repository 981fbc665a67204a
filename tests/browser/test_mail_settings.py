"""A reader turns off optional e-mail on their settings page, in a real browser."""

from __future__ import annotations

from playwright.async_api import Page, expect

from register.actor import Actor
from register.enums import Role
from register.notifications.enums import MailKind
from register.services import create_user, mail_opt_out_of
from register.settings import Settings
from tests.browser.conftest import shoot

PASSWORD = "a phrase of my own"


async def test_a_reader_turns_off_past_due_reminders(
    server: str, page: Page, settings: Settings
) -> None:
    """The E-mail section: both optional kinds ticked at first; one unticked, saved, kept."""
    user, _ = await create_user(
        actor=Actor.system("test"),
        email="pat@example.com",
        role=Role.comms,
        name="Pat Page",
        password=PASSWORD,
        must_change_password=False,
    )
    await page.goto(server + "/sign-in")
    await page.get_by_label("E-mail address").fill("pat@example.com")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Settings").click()
    await expect(page.get_by_role("heading", name="E-mail")).to_be_visible()
    reminders = page.get_by_label("Reminders of steps past due")
    digest = page.get_by_label("The daily digest of my role")
    await expect(reminders).to_be_checked()
    await expect(digest).to_be_checked()
    await reminders.uncheck()
    await page.get_by_role("button", name="Save e-mail choices").click()
    await expect(page.get_by_role("status")).to_contain_text("Your e-mail follows your choices")
    await expect(page.get_by_label("Reminders of steps past due")).not_to_be_checked()
    await expect(page.get_by_label("The daily digest of my role")).to_be_checked()
    await shoot(page, "settings-mail")
    assert await mail_opt_out_of(user_id=user["id"]) == [MailKind.step_past_due.value]
