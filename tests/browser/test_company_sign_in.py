"""Company sign-in in a real browser, through a real OpenID Connect provider's pages.

oidc-provider (npm) runs on loopback with Alice in a group mapped to IT and Bob in none; the
register is `register serve` pointed at it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from register.settings import Settings
from register.tables import User, UserSession
from tests.browser.conftest import shoot
from tests.cli import free_port, serve_until_up, stop_server
from tests.peers.oidc_peer import CLIENT_ID, CLIENT_SECRET, SCOPES, running_peer


@pytest.fixture
async def company_server(app: Any, settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """The register on loopback with company sign-in through the provider peer."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = tmp_path / "oidc-client-secret"
    secret.write_text(CLIENT_SECRET)
    async with running_peer([base + "/sign-in/company/callback"], [base + "/sign-in"]) as peer:
        proc, _ = await serve_until_up(
            settings,
            port,
            REGISTER_ALLOWED_HOSTS="127.0.0.1",
            REGISTER_WORKER_IN_PROCESS="false",
            REGISTER_OIDC_ISSUER=peer.issuer,
            REGISTER_OIDC_CLIENT_ID=CLIENT_ID,
            REGISTER_OIDC_CLIENT_SECRET_FILE=str(secret),
            REGISTER_OIDC_SCOPES=SCOPES,
            REGISTER_OIDC_BUTTON_LABEL="Example",
            REGISTER_GROUP_ROLES="Register IT=it,Register HR=hr",
        )
        try:
            yield base
        finally:
            await stop_server(proc)


async def through_provider(page: Page, login: str) -> None:
    """The provider's own login page (any password) and its consent page."""
    await page.locator("input[name=login]").fill(login)
    await page.locator("input[name=password]").fill("any password")
    await page.get_by_role("button", name="Sign-in").click()
    await page.get_by_role("button", name="Continue").click()


async def test_sign_in_role_refusal_and_sign_out_through_the_provider(
    company_server: str, page: Page
) -> None:
    """Alice gets in as IT and signs out at both ends; Bob, in no mapped group, gets in as staff."""
    await page.goto(company_server + "/")
    await expect(page).to_have_url(company_server + "/sign-in?next=/")
    company = page.get_by_role("link", name="Sign in with Example")
    await expect(company).to_be_visible()
    await shoot(page, "company-sign-in")
    await company.click()
    await through_provider(page, "alice")
    await expect(page).to_have_url(company_server + "/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Home")
    # IT's menu: the account register is there, the users' page (admins') is not.
    await expect(page.get_by_role("link", name="Accounts", exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name="Users", exact=True)).to_have_count(0)
    alice = await User.select().where(User.email == "alice@example.com").first()
    assert alice["role"] == "it" and alice["oidc_subject"] == "alice"

    await page.get_by_role("button", name="Sign out").click()
    # The provider asks whether to end its session too; yes brings the browser back.
    await page.get_by_role("button", name="Yes, sign me out").click()
    await expect(page).to_have_url(company_server + "/sign-in")
    sessions = await UserSession.select(UserSession.ended_at).where(UserSession.user == alice["id"])
    assert len(sessions) == 1 and sessions[0]["ended_at"] is not None
    await page.goto(company_server + "/")
    await expect(page).to_have_url(company_server + "/sign-in?next=/")

    # The provider's session ended too: Bob is asked to log in afresh, not signed in as Alice.
    await page.get_by_role("link", name="Sign in with Example").click()
    await through_provider(page, "bob")
    # His groups map to no role: he gets in as staff, and his menu holds only his own things.
    await expect(page).to_have_url(company_server + "/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Home")
    await expect(page.get_by_role("link", name="Settings", exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name="Accounts", exact=True)).to_have_count(0)
    await expect(page.get_by_role("link", name="Staff", exact=True)).to_have_count(0)
    await shoot(page, "company-sign-in-staff")
    bob = await User.select().where(User.email == "bob@example.com").first()
    assert bob["role"] == "staff"
