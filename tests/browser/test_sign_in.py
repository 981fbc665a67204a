"""Signing in in a real browser: a one-time password must be changed first, then home."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from register.actor import Actor
from register.enums import Role
from register.services import create_user
from tests.browser.conftest import shoot


async def test_first_sign_in_changes_the_one_time_password(server: str, page: Page) -> None:
    """An admin with a one-time password signs in by pasting it and is sent to choose their own."""
    _, one_time = await create_user(
        actor=Actor.system("test"), email="ada@example.com", role=Role.admin
    )
    assert one_time
    await page.goto(server + "/")
    await expect(page).to_have_url(server + "/sign-in?next=/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    await shoot(page, "sign-in")
    await page.get_by_label("E-mail address").fill("ada@example.com")
    await page.get_by_label("Password", exact=True).fill("wrong password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("do not match")
    await page.get_by_label("Password", exact=True).fill(one_time)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Change your password")
    await shoot(page, "password")
    await page.get_by_label("Current password").fill(one_time)
    await page.get_by_label("New password", exact=True).fill("a phrase of my own")
    await page.get_by_label("New password again").fill("a phrase of my own!")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_text("The two new passwords differ.")).to_be_visible()
    await page.get_by_label("Current password").fill(one_time)
    await page.get_by_label("New password", exact=True).fill("a phrase of my own")
    await page.get_by_label("New password again").fill("a phrase of my own")
    await page.get_by_role("button", name="Change password").click()
    await expect(page).to_have_url(server + "/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Home")
    await shoot(page, "home")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(server + "/sign-in")


async def test_the_page_speaks_the_browsers_language(server: str, browser: Any) -> None:
    """A browser that prefers Dutch gets the sign-in page in Dutch."""
    context = await browser.new_context(locale="nl-NL")
    page = await context.new_page()
    await page.goto(server + "/sign-in")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Aanmelden")
    await expect(page.get_by_label("E-mailadres")).to_be_visible()
    await context.close()
