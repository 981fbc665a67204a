"""IT in a real browser: the vault (store, reveal with a reason, show, copy, hidden again, a TOTP
code), the risk report, and the inventory import previewed then applied."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

from playwright.async_api import Page, expect

from accounts.services import code_at, create_account
from register.actor import Actor
from register.demo import run_demo
from register.enums import Role
from register.services import create_user
from register.settings import Settings
from register.staff.services import employee_by_email
from tests.browser.conftest import shoot

PASSWORD = "a phrase of my own"
DOMAIN = "northwind-outdoor.example"
SECRET = "Spring-Launch-9fQ2-vault"
SEED = base64.b32encode(b"browser-seed-20bytes").decode()


async def sign_in_as_it(page: Page, server: str, settings: Settings) -> dict[str, Any]:
    """The demo company, and Nadia of IT signed in through the sign-in page; her staff record."""
    await run_demo(settings)
    nadia = await employee_by_email(f"nadia.petrova@{DOMAIN}")
    assert nadia
    await create_user(
        actor=Actor.system("test"),
        email=f"nadia@{DOMAIN}",
        role=Role.it,
        password=PASSWORD,
        must_change_password=False,
        employee_id=nadia["id"],
    )
    await page.goto(server + "/sign-in")
    await page.get_by_label("E-mail address").fill(f"nadia@{DOMAIN}")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Home")
    return nadia


async def test_it_stores_a_credential_reveals_it_with_a_reason_and_sees_it_hidden_again(
    server: str, page: Page, context: Any, settings: Settings
) -> None:
    """Stored through the form, revealed masked, shown, copied, gone after 30 s; a TOTP code."""
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    # The page's timers run on Playwright's clock, so 30 seconds pass at once.
    await page.clock.install()
    nadia = await sign_in_as_it(page, server, settings)
    priya = await employee_by_email(f"priya.raman@{DOMAIN}")
    assert priya
    account = await create_account(
        actor=Actor.system("test"),
        settings=settings,
        data={
            "platform": "threads",
            "handle": "https://www.threads.net/@northwind.outdoor",
            "display_name": "Northwind Outdoor",
            "department": "Communications",
            "custodian_id": priya["id"],
            "backup_custodian_id": nadia["id"],
            "mfa_method": "authenticator_app",
            "purpose": "Launch account for the spring range",
        },
    )
    await page.goto(f"{server}/accounts/{account['id']}")
    vault = page.get_by_role("region", name="The vault")
    await expect(vault).to_contain_text("No credential is stored.")
    await vault.get_by_label("Password", exact=True).fill(SECRET)
    await vault.get_by_label("TOTP seed").fill(SEED)
    await vault.get_by_role("button", name="Store it").click()
    await expect(vault.get_by_role("status")).to_have_text("The credential is stored.")
    await expect(vault).to_contain_text("Stored: Password, TOTP seed")
    # The form comes back empty: nothing typed is echoed into the page.
    assert SECRET not in await page.content()
    await shoot(page, "vault")

    # Too short a reason, through htmx: the server refuses it (422) with the section, which is
    # swapped in with the error next to the field and the reason kept, focus on the field.
    reason = vault.get_by_label("Why do you need it?")
    await reason.fill("why")
    address = page.url
    await vault.get_by_role("button", name="Reveal", exact=True).click()
    await expect(
        vault.get_by_text("Say why you need the credential, in at least 5 characters.")
    ).to_be_visible()
    await expect(reason).to_have_value("why")
    await expect(reason).to_have_attribute("aria-invalid", "true")
    await expect(reason).to_be_focused()
    # Not reported as a failure at the top of the page: the answer is the form again.
    await expect(page.locator("#request-failed")).to_have_count(0)
    assert page.url == address, "the page was loaded again, not updated in place"
    await shoot(page, "vault-refused")

    await reason.fill("Posting the spring campaign")
    await vault.get_by_role("button", name="Reveal", exact=True).click()
    revealed = vault.get_by_role("region", name="The credential")
    await expect(revealed).to_be_focused()
    await expect(revealed).to_contain_text("Posting the spring campaign")
    password = revealed.get_by_role("group", name="Password")
    await expect(password).to_contain_text("\u2022" * 10)
    await expect(password).not_to_contain_text(SECRET)
    show = password.get_by_role("button", name="Show")
    await expect(show).to_have_attribute("aria-pressed", "false")
    await shoot(page, "vault-revealed")
    await show.click()
    await expect(show).to_have_attribute("aria-pressed", "true")
    await expect(password).to_contain_text(SECRET)
    await password.get_by_role("button", name="Copy").click()
    await expect(password.get_by_role("button", name="Copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == SECRET

    await page.clock.fast_forward(31_000)
    await expect(revealed).to_have_count(0)
    assert SECRET not in await page.content(), "the secret is still in the page"
    gone = vault.get_by_text("The credential was hidden again after 30 seconds")
    await expect(gone).to_be_visible()
    await expect(gone).to_be_focused()
    await shoot(page, "vault-hidden")

    await vault.get_by_role("button", name="Show the current code").click()
    await expect(vault).to_contain_text("Current code:")
    shown = await vault.get_by_text(re.compile(r"^\d{6}$")).text_content()
    now = time.time()
    assert shown in {code_at(SEED, now - 5)[0], code_at(SEED, now)[0]}
    content = await page.content()
    assert SEED not in content and SEED.lower() not in content
    await shoot(page, "totp")
    # The code goes when its time is up, and the page says so.
    await page.clock.fast_forward(31_000)
    await expect(vault.get_by_text("That code has expired.")).to_be_visible()


SHEET = (
    "Network,Account URL,Owner,Backup,2FA,Notes\r\n"
    f"Threads,@northwind.outdoor,priya.raman@{DOMAIN},aoife.brennan@{DOMAIN},authenticator,"
    "Launch account for the spring range\r\n"
    f"X,@Northwind_Out,priya.raman@{DOMAIN},aoife.brennan@{DOMAIN},yubikey,"
    "Replies within one working day\r\n"
)


async def test_it_reads_the_risk_report_and_imports_the_inventory_after_a_preview(
    server: str, page: Page, settings: Settings
) -> None:
    """The chart's bars lead to their accounts; an import shows its changes, then applies them."""
    await sign_in_as_it(page, server, settings)
    await page.get_by_role("link", name="Accounts", exact=True).click()
    await page.get_by_role("link", name="Risk report").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Risk report")
    chart = page.get_by_role("group", name="Accounts by kind of finding")
    await expect(chart).to_be_visible()
    table = page.get_by_role("table", name="Accounts by kind of finding")
    # A row per kind of finding (the demo's untrained grant holders among them), and the header.
    await expect(table.get_by_role("row")).to_have_count(12)
    await expect(table).to_contain_text("Access without required training")
    await shoot(page, "risk-report")
    await chart.get_by_role("link", name=re.compile("^High: Weak or no second factor")).click()
    findings = page.get_by_role("region", name=re.compile("^Accounts with this finding"))
    await expect(findings).to_contain_text("Weak or no second factor")
    accounts = findings.get_by_role("listitem").filter(has=page.get_by_role("link"))
    await expect(accounts).to_have_count(3)
    await expect(accounts.first).to_contain_text("High: No second factor, or SMS only")

    await page.get_by_role("link", name="Inventory: export and import").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Inventory")
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Download the inventory (CSV)").click()
    assert (await download.value).suggested_filename == "accounts.csv"
    await page.get_by_label("CSV file").set_input_files(
        files=[{"name": "inventory.csv", "mimeType": "text/csv", "buffer": SHEET.encode()}]
    )
    await page.get_by_role("button", name="Preview the import").click()
    preview = page.get_by_role("region", name="What the import would change")
    await expect(preview).to_contain_text("1 would be added, 1 changed")
    await expect(preview).to_contain_text("Nothing has been written yet.")
    await expect(preview.get_by_role("table")).to_contain_text("Replies within one working day")
    await shoot(page, "import-preview")
    await preview.get_by_role("button", name="Apply these changes").click()
    await expect(page.get_by_role("status")).to_contain_text("The import is done.")
    await expect(page.get_by_role("status")).to_contain_text("1 account added, 1 changed")
    await shoot(page, "import-applied")
    await page.get_by_role("link", name="See the accounts").click()
    await page.get_by_label("Platform").select_option("threads")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_role("row")).to_have_count(2)
    await expect(page.get_by_role("row").nth(1)).to_contain_text("northwind.outdoor")
    await expect(page.get_by_role("row").nth(1)).to_contain_text("Aoife Brennan")


async def test_without_javascript_a_reveal_is_a_page_that_shows_the_secret_on_request(
    server: str, page: Page, browser: Any, settings: Settings
) -> None:
    """No script: the forms post, the answer is a page, the secret opens in a disclosure."""
    nadia = await sign_in_as_it(page, server, settings)
    account = await create_account(
        actor=Actor.system("test"),
        settings=settings,
        data={
            "platform": "bluesky",
            "handle": "@northwind-support.bsky.social",
            "custodian_id": nadia["id"],
            "mfa_method": "authenticator_app",
        },
    )
    plain = await browser.new_context(java_script_enabled=False)
    try:
        tab = await plain.new_page()
        await tab.goto(server + "/sign-in")
        await tab.get_by_label("E-mail address").fill(f"nadia@{DOMAIN}")
        await tab.get_by_label("Password", exact=True).fill(PASSWORD)
        await tab.get_by_role("button", name="Sign in").click()
        await tab.goto(f"{server}/accounts/{account['id']}")
        vault = tab.get_by_role("region", name="The vault")
        await vault.get_by_label("Password", exact=True).fill(SECRET)
        await vault.get_by_role("button", name="Store it").click()
        await expect(tab).to_have_url(f"{server}/accounts/{account['id']}/vault?saved=set")
        await expect(tab.get_by_role("status")).to_have_text("The credential is stored.")
        await tab.get_by_label("Why do you need it?").fill("Checking the bio link")
        async with tab.expect_response(lambda r: r.url.endswith("/vault/reveal")) as answer:
            await tab.get_by_role("button", name="Reveal", exact=True).click()
        await expect(tab).to_have_url(f"{server}/accounts/{account['id']}/vault/reveal")
        # Nothing on the page can remove it: the browser is sent on after 30 seconds.
        headers = (await answer.value).headers
        assert headers["refresh"] == f"30; url=/accounts/{account['id']}/vault?hidden=1"
        assert headers["cache-control"] == "no-store"
        password = tab.get_by_role("group", name="Password")
        await expect(password.get_by_text(SECRET)).to_be_hidden()
        # The disclosure that opens it (the script's Show button stays hidden without script).
        await password.get_by_text("Show").filter(visible=True).click()
        await expect(password.get_by_text(SECRET)).to_be_visible()
    finally:
        await plain.close()
