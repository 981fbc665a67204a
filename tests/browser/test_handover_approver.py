"""A leaver who is the only approver of an account's posts, in a real browser: HR sees it in the
footprint before starting, IT is refused removing them without a replacement (the error next to
the field), names a replacement by name, withdraws the leaver's open post; the certificate page
lists who took over. Shot at phone and laptop width (handover-approver-*)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page, expect

from accounts.posts.flows import submit
from accounts.posts.services import set_approval
from accounts.services import add_grant, create_account
from register.actor import Actor
from register.enums import Role
from register.services import create_user
from register.settings import Settings
from register.staff.services import create_employee
from tests.browser.conftest import PHONE, shoot
from tests.browser.test_account_forms import PASSWORD, pick, sign_in
from tests.cli import free_port, serve_until_up, stop_server

HR = "hana@northwind.example"
IT = "nadia@northwind.example"


@pytest.fixture
async def server(app: Any, settings: Settings) -> AsyncIterator[str]:
    """The register on a free loopback port."""
    port = free_port()
    proc, _ = await serve_until_up(
        settings, port, REGISTER_ALLOWED_HOSTS="127.0.0.1", REGISTER_WORKER_IN_PROCESS="false"
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop_server(proc)


async def world(settings: Settings) -> dict[str, Any]:
    """Cy (leaving) alone approves @northwind_news, whose posts need approval, and has a post
    waiting there; Ben approves nothing yet; Hana (HR) and Nadia (IT) run the handover."""
    system = Actor.system("test")
    today = dt.date.today()
    made: dict[str, int] = {}
    for key, name, leaving in (
        ("cy", "Cy Leaver", today + dt.timedelta(days=12)),
        ("priya", "Priya Raman", None),
        ("ben", "Ben Okoro", None),
        ("nadia", "Nadia Petrova", None),
    ):
        row = await create_employee(
            actor=system,
            data={
                "name": name,
                "work_email": f"{key}@northwind.example",
                "department": "Communications",
                "leaving_date": leaving,
            },
        )
        made[key] = row["id"]
    users: dict[str, dict[str, Any]] = {}
    for key, email, role, employee in (
        ("hana", HR, Role.hr, None),
        ("nadia", IT, Role.it, made["nadia"]),
        ("cy", "cy@northwind.example", Role.comms, made["cy"]),
        ("ben", "ben@northwind.example", Role.comms, made["ben"]),
    ):
        users[key], _ = await create_user(
            actor=system,
            email=email,
            role=role,
            password=PASSWORD,
            must_change_password=False,
            employee_id=employee,
        )
    account = await create_account(
        actor=system,
        settings=settings,
        data={"platform": "instagram", "handle": "northwind_news", "custodian_id": made["priya"]},
    )
    await add_grant(actor=system, account_id=account["id"], employee_id=made["cy"], level="editor")
    await set_approval(
        actor=system,
        account_id=account["id"],
        requires_approval=True,
        approvers=[users["cy"]["id"]],
        version=0,
    )
    cy = Actor(
        user_id=users["cy"]["id"],
        email="cy@northwind.example",
        role=Role.comms,
        employee_id=made["cy"],
    )
    await submit(
        actor=cy,
        keyring=None,  # type: ignore[arg-type]  # no photo, so nothing is sealed
        account_id=account["id"],
        text="Thank you all, it has been a pleasure!",
    )
    return {"people": made, "account": account}


async def test_it_replaces_the_only_approver_and_withdraws_the_leavers_post(
    server: str, page: Page, settings: Settings
) -> None:
    """From the footprint to the certificate, every step's page shot at both widths."""
    made = await world(settings)
    await sign_in(page, server, HR)
    await page.goto(f"{server}/handovers/new?employee_id={made['people']['cy']}")
    happen = page.get_by_role("region", name="What will happen")
    await expect(happen).to_contain_text(
        "Instagram northwind_news: the only approver, and posts need approval"
    )
    await expect(happen).to_contain_text("Thank you all, it has been a pleasure!")
    await pick(page, "Successor", "Priya")
    await page.get_by_label("Open it now").check()
    await shoot(page, "handover-approver-footprint")
    await page.get_by_role("button", name="Start the handover").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Handover of Cy Leaver")
    handover_url = page.url.split("?")[0]

    # IT works its items in its own session.
    await page.context.clear_cookies()
    await sign_in(page, server, IT)
    await page.goto(handover_url)
    title = "Replace Cy Leaver as post approver of Instagram northwind_news"
    approver = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=title))
    await expect(approver).to_contain_text("Nobody else approves this account's posts")
    await shoot(page, "handover-approver-checklist")
    await approver.get_by_role("link", name="Replace the approver").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Replace a post approver")
    await expect(page.get_by_text("Cy Leaver is the only approver")).to_be_visible()
    # Nobody named: refused, the reason next to the field.
    await page.get_by_role("button", name="Replace the approver").click()
    field = page.get_by_label("Who approves in their place")
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#replacement-error")).to_contain_text(
        "need approval and nobody else approves them"
    )
    await shoot(page, "handover-approver-refused")
    await field.select_option(label="Ben Okoro (comms, ben@northwind.example)")
    await page.get_by_label("Note").fill("Ben runs the news account from now on")
    await page.get_by_role("button", name="Replace the approver").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "The leaver no longer approves the account's posts"
    )
    await expect(approver).to_contain_text("Approves in their place: Ben Okoro")
    await shoot(page, "handover-approver-replaced")

    posts = page.get_by_role("listitem").filter(
        has=page.get_by_role(
            "heading", name="Withdraw Cy Leaver's post requests that are still open"
        )
    )
    await posts.get_by_role("link", name="Withdraw the post requests").click()
    await expect(page.get_by_role("main")).to_contain_text("Thank you all, it has been a pleasure!")
    await page.get_by_label("Reason").fill("Cy leaves; Ben posts a farewell for the team instead")
    await shoot(page, "handover-approver-withdraw")
    await page.get_by_role("button", name="Withdraw the post requests").click()
    await expect(posts).to_contain_text("1 post request withdrawn")

    # On a phone, the checklist with the done item reads without sideways scrolling.
    await page.set_viewport_size(PHONE)
    await expect(approver).to_contain_text("Approvers now: Ben Okoro")
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # The grant goes too; IT and then HR sign; the certificate says who approves in Cy's place.
    grant = page.get_by_role("listitem").filter(
        has=page.get_by_role(
            "heading", name="Revoke Cy Leaver's access to Instagram northwind_news"
        )
    )
    await grant.get_by_role("link", name="Revoke the access").click()
    await page.get_by_role("button", name="Revoke the access").click()
    sign_off = page.get_by_role("region", name="Sign-off")
    await sign_off.get_by_role("button", name="Sign off for IT").click()
    await expect(page.get_by_role("status")).to_have_text("Your sign-off is recorded.")
    await page.context.clear_cookies()
    await sign_in(page, server, HR)
    await page.goto(handover_url)
    await (
        page.get_by_role("region", name="Sign-off")
        .get_by_role("button", name="Sign off for HR")
        .click()
    )
    await page.get_by_role("link", name="Open the certificate").click()
    handed = page.get_by_role("region", name="Post approvers handed over")
    await expect(handed).to_contain_text(
        "Instagram northwind_news: Ben Okoro (ben@northwind.example) approves in place of Cy Leaver"
    )
    await expect(handed).to_contain_text("Approvers now: Ben Okoro")
    # Who revoked the grant is named by e-mail address, not by a user number.
    await expect(page.locator("dt:text-is('Revoked by') + dd")).to_have_text(IT)
    await shoot(page, "handover-approver-certificate")
