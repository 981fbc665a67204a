"""The first admin in a real browser: their one-time password, a new IT user who signs in in a
browser of their own, a token, subscriptions with a test, and the outbox's dead letter."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page, expect

from register.actor import Actor
from register.settings import Settings
from register.staff.services import create_employee
from tests.browser.conftest import check_accessibility, shoot
from tests.cli import free_port, serve_until_up, stop_server
from tests.register.notifications.conftest import Receiver

ADMIN_PASSWORD = "the admin's own phrase"
IT_PASSWORD = "nadia's own phrase"


async def change_password(page: Page, one_time: str, new: str) -> None:
    """The form a one-time password leads to, filled as a person would."""
    await expect(page.get_by_role("heading", level=1)).to_have_text("Change your password")
    await page.get_by_label("Current password").fill(one_time)
    await page.get_by_label("New password", exact=True).fill(new)
    await page.get_by_label("New password again").fill(new)
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Home")


async def sign_in(page: Page, server: str, email: str, password: str) -> None:
    """Through the sign-in page."""
    await page.goto(server + "/sign-in")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_the_first_admin_creates_an_it_user_who_signs_in_in_their_own_browser(
    app: Any, settings: Settings, page: Page, browser: Any
) -> None:
    """Journey 1 of the issue, then the rest of the admin's pages: a token, two subscriptions (one
    tested through htmx, one a dead letter at once), and that dead letter retried from the outbox."""
    await create_employee(
        actor=Actor.system("test"),
        data={"name": "Nadia Petrova", "work_email": "nadia@example.com", "department": "IT"},
    )
    receiver = await Receiver().start()
    port = free_port()
    proc, output = await serve_until_up(
        settings,
        port,
        REGISTER_ALLOWED_HOSTS="127.0.0.1",
        REGISTER_WORKER_IN_PROCESS="false",
        REGISTER_WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
    )
    server = f"http://127.0.0.1:{port}"
    nadia_context = None
    try:
        # The first start printed the administrator's one-time password, once.
        found = re.search(r"e-mail:\s+(\S+)\s+password:\s+(\S+)", output)
        assert found, output
        admin_email, one_time = found.groups()
        await sign_in(page, server, admin_email, one_time)
        await change_password(page, one_time, ADMIN_PASSWORD)

        await (
            page.get_by_role("navigation", name="Main menu")
            .get_by_role("link", name="Users")
            .click()
        )
        await expect(page.get_by_role("heading", level=1)).to_have_text("Users")
        await expect(page.get_by_role("row").nth(1)).to_contain_text(admin_email)
        await shoot(page, "admin-users")
        await page.get_by_role("link", name="Create a user").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("New user")
        await page.get_by_label("E-mail address").fill("nadia@example.com")
        await page.get_by_label("E-mail address").blur()
        # htmx looks the person up as soon as the address is typed.
        await expect(page.get_by_text("Linked to: Nadia Petrova, IT")).to_be_visible()
        await check_accessibility(page, "admin-user-new")
        await page.get_by_role("radio", name="IT", exact=True).check()
        await page.get_by_role("button", name="Create the user").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("User created")
        await expect(page.get_by_text("will not be shown again")).to_be_visible()
        secret = page.get_by_role("region", name="One-time password").get_by_role("code")
        nadia_one_time = (await secret.inner_text()).strip()
        assert len(nadia_one_time) >= 12
        await expect(page.get_by_role("button", name="Copy")).to_be_visible()
        await shoot(page, "admin-user-created")
        # The page is gone for good: a reload shows the list, and so do back and forward.
        await page.reload()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Users")
        await expect(page.get_by_text(nadia_one_time)).to_have_count(0)
        await page.go_back()
        await expect(page.get_by_role("heading", level=1)).to_have_text("New user")
        await page.go_forward()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Users")
        await expect(page.get_by_text(nadia_one_time)).to_have_count(0)
        await expect(page.get_by_role("row", name=re.compile("nadia@example.com"))).to_contain_text(
            "Has not yet changed the one-time password"
        )
        await page.get_by_role("link", name="nadia@example.com").click()
        await expect(page.get_by_role("region", name="Who it is")).to_contain_text("Nadia Petrova")
        await check_accessibility(page, "admin-user")
        await page.get_by_role("link", name="Deactivate nadia@example.com").click()
        await expect(
            page.get_by_text("Deactivate nadia@example.com (Nadia Petrova, IT)?")
        ).to_be_visible()
        await check_accessibility(page, "admin-user-deactivate")
        await page.get_by_role("link", name="Cancel").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("nadia@example.com")

        nadia_context = await browser.new_context()
        nadia = await nadia_context.new_page()
        await sign_in(nadia, server, "nadia@example.com", nadia_one_time)
        await change_password(nadia, nadia_one_time, IT_PASSWORD)
        await check_accessibility(nadia, "home-it-first-sign-in")
        await expect(nadia.get_by_role("region", name="Accounts at risk")).to_be_visible()
        menu = nadia.get_by_role("navigation", name="Main menu")
        await expect(menu.get_by_role("link", name="Users")).to_have_count(0)

        await page.get_by_role("link", name="API tokens", exact=True).click()
        await page.get_by_label("Owner").select_option(label="nadia@example.com (Nadia Petrova)")
        await page.get_by_label("What it is for").fill("nightly inventory export")
        await page.get_by_role("button", name="Create the token").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Token created")
        token = (
            await page.get_by_role("region", name="The token").get_by_role("code").inner_text()
        ).strip()
        assert token.startswith("sar_")
        await check_accessibility(page, "admin-token-created")
        await page.get_by_role("link", name="Back to the tokens").click()
        await expect(
            page.get_by_role("row", name=re.compile("nightly inventory export"))
        ).to_contain_text("nadia@example.com")
        await expect(page.get_by_text(token)).to_have_count(0)
        await shoot(page, "admin-tokens")
        await page.get_by_role("link", name="Revoke… nightly inventory export").click()
        await expect(
            page.get_by_text("Revoke the token “nightly inventory export”")
        ).to_be_visible()
        await check_accessibility(page, "admin-token-revoke")
        await page.get_by_role("link", name="Cancel").click()

        await page.get_by_role("link", name="Notifications", exact=True).click()
        await expect(page.get_by_text("No subscription yet")).to_be_visible()
        for name, kind, path in (
            ("#it-oncall (Slack)", "Slack", "/ok"),
            ("HR handovers (Teams)", "Microsoft Teams", "/redirect"),
        ):
            await page.get_by_role("link", name="Add a subscription").click()
            await page.get_by_label("Name", exact=True).fill(name)
            await page.get_by_role("radio", name=kind).check()
            await page.get_by_label("Receiver's URL").fill(receiver.url(path))
            if path == "/ok":
                # Without an event the form comes back, the error at the events, the rest kept.
                await page.get_by_role("button", name="Add the subscription").click()
                await expect(page.get_by_text("Choose at least one event.")).to_be_visible()
                await expect(page.get_by_label("Receiver's URL")).to_have_value(receiver.url(path))
                await check_accessibility(page, "admin-subscription-new-error")
            await page.get_by_role("checkbox", name="An incident is filed").check()
            await page.get_by_role("checkbox", name="A handover starts").check()
            await page.get_by_role("button", name="Add the subscription").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("Subscription created")
            await expect(page.get_by_role("region", name="Signing secret")).to_contain_text(
                "whsec_"
            )
            await check_accessibility(page, "admin-subscription-created")
            if path == "/ok":
                await page.get_by_role("link", name="Back to the notifications").click()
        # The second is tested from the page that showed its secret: a redirect, a dead letter.
        await page.get_by_role("button", name="Send a test message now").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
        teams = page.get_by_role("region", name="HR handovers (Teams)")
        await expect(teams).to_contain_text("not tried again")
        await expect(teams).to_contain_text("redirect (302)")
        # The first is tested in place (htmx): its answer appears in its own section.
        slack = page.get_by_role("region", name="#it-oncall (Slack)")
        address = page.url
        await slack.get_by_role("button", name="Send a test message").click()
        await expect(slack).to_contain_text("Test delivered")
        await expect(slack).to_contain_text("the receiver answered 204")
        assert page.url == address, "the page was loaded again, not updated in place"
        assert len(receiver.at("/ok")) == 1
        await shoot(page, "admin-subscriptions")
        # Moved to another channel and told of other events: changed on its own page.
        await slack.get_by_role("link", name="Change… #it-oncall (Slack)").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Change a subscription")
        await expect(page.get_by_role("checkbox", name="A handover starts")).to_be_checked()
        await expect(page.get_by_label("New receiver's URL (optional)")).to_have_value("")
        await shoot(page, "admin-subscription-edit")
        await page.get_by_label("New receiver's URL (optional)").fill(
            "https://hooks.evil.example/x"
        )
        await page.get_by_role("checkbox", name="A handover starts").uncheck()
        await page.get_by_role("checkbox", name="An incident is escalated").check()
        await page.get_by_role("button", name="Save the changes").click()
        # Refused at the URL, with everything typed kept.
        url_field = page.get_by_label("New receiver's URL (optional)")
        await expect(url_field).to_have_value("https://hooks.evil.example/x")
        await expect(url_field).to_have_attribute("aria-invalid", "true")
        await expect(page.get_by_text("is not in REGISTER_WEBHOOK_ALLOWED_HOSTS")).to_be_visible()
        await expect(page.get_by_role("checkbox", name="An incident is escalated")).to_be_checked()
        await expect(page.get_by_role("checkbox", name="A handover starts")).not_to_be_checked()
        await shoot(page, "admin-subscription-edit-error")
        await url_field.fill(receiver.url("/oncall-2"))
        await page.get_by_role("button", name="Save the changes").click()
        await expect(page.get_by_role("status")).to_have_text("The subscription is changed.")
        await expect(slack).to_contain_text("An incident is escalated")
        await expect(slack).not_to_contain_text("A handover starts")
        await slack.get_by_role("button", name="Send a test message").click()
        await expect(slack).to_contain_text("Test delivered")
        assert len(receiver.at("/oncall-2")) == 1 and len(receiver.at("/ok")) == 1
        await slack.get_by_role("link", name=re.compile("New signing secret")).click()
        await expect(page.get_by_text("The old secret stops at once")).to_be_visible()
        await check_accessibility(page, "admin-subscription-rotate")
        await page.get_by_role("button", name="Make a new signing secret").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("New signing secret")
        await expect(page.get_by_role("region", name="Signing secret")).to_contain_text("whsec_")

        await page.get_by_role("link", name="Home", exact=True).click()
        await expect(
            page.get_by_role("region", name="Notifications not delivered")
        ).to_contain_text("1 notification was not delivered")
        await page.get_by_role("link", name=re.compile("notification was not delivered")).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Outbox")
        await expect(page.get_by_label("State", exact=True)).to_have_value("dead")
        rows = page.get_by_role("row")
        await expect(rows).to_have_count(2)
        await expect(rows.nth(1)).to_contain_text("HR handovers (Teams)")
        await expect(rows.nth(1)).to_contain_text("which is never followed")
        await shoot(page, "outbox")
        await rows.nth(1).get_by_role("button", name=re.compile("Retry")).click()
        await expect(page.get_by_role("status")).to_contain_text("queued again")
        # Waiting again (this server's worker runs apart), so no longer among the dead letters.
        await expect(page.get_by_text("No message matches.")).to_be_visible()
    finally:
        if nadia_context is not None:
            await nadia_context.close()
        await stop_server(proc)
        await receiver.stop()
