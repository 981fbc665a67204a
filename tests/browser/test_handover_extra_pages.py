"""The handover's pages beyond the checklist in a real browser: HR makes the leaver's link, the
leaver attests through it signed out, the certificate printed to PDF; templates; bulk leavers."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from playwright.async_api import Page, expect

from accounts.handovers import flows
from accounts.handovers.files import verify_certificate
from register.actor import Actor
from register.enums import Role
from register.services import create_user
from register.settings import Settings
from register.staff.services import create_employee
from tests.accounts.handovers.test_handovers import add_connections
from tests.browser.conftest import SCREENSHOTS, shoot
from tests.browser.test_account_forms import PASSWORD, sign_in
from tests.cli import run_cli

BACKEND = os.environ.get("REGISTER_TEST_DATABASE", "sqlite")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


async def staff() -> dict[str, dict[str, Any]]:
    """The leaver Cy (with connections), the successor Eve, and two more for the bulk upload."""
    today = dt.date.today()
    made = {}
    for key, name, leaving in (
        ("cy", "Cy Leaving", today + dt.timedelta(days=10)),
        ("eve", "Eve Active", None),
        ("ana", "Ana Silva", None),
        ("ben", "Ben Okoro", None),
        ("hana", "Hana Kimura", None),
        ("ivo", "Ivo Marsh", None),
    ):
        made[key] = await create_employee(
            actor=Actor.system("test"),
            data={
                "name": name,
                "work_email": f"{key}@northwind.example",
                "department": "Sales",
                "start_date": today - dt.timedelta(days=900),
                "leaving_date": leaving,
            },
        )
    await add_connections(made["cy"]["id"], 3)
    for key, role in (("hana", Role.hr), ("ivo", Role.it)):
        await create_user(
            actor=Actor.system("test"),
            email=f"{key}@northwind.example",
            role=role,
            password=PASSWORD,
            must_change_password=False,
            employee_id=made[key]["id"],
        )
    return made


def actor_of(email: str, role: Role, user_id: int) -> Actor:
    return Actor(user_id=user_id, email=email, role=role)


async def test_the_leaver_attests_through_the_link_and_the_certificate_prints(
    server: str, page: Page, browser: Any, settings: Settings, secrets: Any
) -> None:
    people = await staff()
    handover = await flows.start_handover(
        actor=Actor.system("test"),
        settings=settings,
        employee_id=people["cy"]["id"],
        successor_id=people["eve"]["id"],
        open_now=True,
    )
    hid = handover["id"]
    await sign_in(page, server, "hana@northwind.example")

    # HR makes the link; it is shown once, with a copy button.
    await page.goto(f"{server}/handovers/{hid}/attestation-link")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Attestation link")
    await expect(page.get_by_label("Valid for how many days")).to_have_value("7")
    await shoot(page, "handover-attestation-link")
    await page.get_by_label("Valid for how many days").fill("40")
    await page.get_by_role("button", name="Make the link").click()
    await expect(page.locator("#days-error")).to_have_text("Give a number of days from 1 to 30.")
    await page.get_by_label("Valid for how many days").fill("5")
    await page.get_by_role("button", name="Make the link").click()
    await expect(page.get_by_role("status").first).to_contain_text("The link for Cy Leaving")
    await expect(page.get_by_role("button", name="Copy")).to_be_visible()
    link = (await page.locator("#secret").text_content() or "").strip()
    assert "/attest/" in link
    await shoot(page, "handover-attestation-link-made")

    # The leaver, signed out in a context of their own, attests through it.
    leaver_context = await browser.new_context()
    leaver = await leaver_context.new_page()
    try:
        await leaver.goto(link)
        await expect(leaver.get_by_role("heading", level=1)).to_have_text(
            "Confirm the deletion of your work connections"
        )
        await expect(leaver.get_by_role("navigation", name="Main menu")).to_have_count(0)
        await expect(leaver.get_by_text("The register holds 3 connections")).to_be_visible()
        await shoot(leaver, "handover-attest")
        await leaver.get_by_label("Your full name").fill("Someone Else")
        await leaver.get_by_role("button", name="I confirm").click()
        await expect(leaver.locator("#typed_name-error")).to_contain_text("Cy Leaving")
        await shoot(leaver, "handover-attest-error")
        await leaver.get_by_label("Your full name").fill("Cy Leaving")
        await leaver.get_by_label("The signed form as a PDF (optional)").set_input_files(
            files=[{"name": "signed.pdf", "mimeType": "application/pdf", "buffer": PDF}]
        )
        await leaver.get_by_role("button", name="I confirm").click()
        await expect(leaver.get_by_role("status")).to_contain_text(
            "Your attestation is recorded, Cy Leaving. Thank you."
        )
        assert await leaver_context.cookies() == [], "the link made no session"
        await shoot(leaver, "handover-attest-done")
        await leaver.goto(link)
        await expect(leaver.get_by_text("This link has already been used")).to_be_visible()
        await shoot(leaver, "handover-attest-used")
        await leaver.goto(f"{server}/handovers/{hid}/certificate")
        await expect(leaver.get_by_role("heading", level=1)).to_have_text("Sign in")
    finally:
        await leaver_context.close()

    # The rest through the flows: the export, HR's and IT's sign-offs.
    current = await flows.get_handover(handover_id=hid, sync=False)
    export = next(i for i in current["items"] if i["kind"] == "export_connections")
    assert next(i for i in current["items"] if i["kind"] == "attest_deletion")["state"] == "done"
    users = {
        u["email"]: u["id"]
        for u in [await _user("hana@northwind.example"), await _user("ivo@northwind.example")]
    }
    hr = actor_of("hana@northwind.example", Role.hr, users["hana@northwind.example"])
    await flows.export_item(actor=hr, handover_id=hid, item_id=export["id"])
    for email, role, team in (
        ("hana@northwind.example", Role.hr, "hr"),
        ("ivo@northwind.example", Role.it, "it"),
    ):
        await flows.sign_off(
            actor=actor_of(email, role, users[email]),
            signing_key=secrets.signing_key,
            handover_id=hid,
            team=team,
        )

    await page.goto(f"{server}/handovers/{hid}/certificate")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Handover certificate")
    await expect(page.get_by_text("The checklist: 2 items")).to_be_visible()
    await expect(page.get_by_text("register handover verify handover-")).to_be_visible()
    await shoot(page, "handover-certificate")
    await page.emulate_media(media="print")
    await page.screenshot(
        path=SCREENSHOTS / f"handover-certificate-print-{BACKEND}.png", full_page=True
    )
    await page.emulate_media(media="screen")
    printed = await page.pdf(format="A4", display_header_footer=False)
    assert printed.startswith(b"%PDF-")
    (SCREENSHOTS / f"handover-certificate-{BACKEND}.pdf").write_bytes(printed)
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Download the signed file (JSON)").click()
    download = await waiting.value
    path = settings.var_dir / f"browser-certificate-{hid}.json"
    await download.save_as(path)
    assert verify_certificate(path.read_bytes(), secrets.verify_key).ok
    result = await run_cli(settings, "handover", "verify", str(path))
    assert result.code == 0 and "valid: handover" in result.out, result.out + result.err


async def _user(email: str) -> dict[str, Any]:
    from register.tables import User

    row = await User.select(User.id, User.email).where(User.email == email).first()
    assert row is not None
    return row


async def test_hr_revokes_a_link_and_the_leaver_is_told_it_was_withdrawn(
    server: str, page: Page, browser: Any, settings: Settings, secrets: Any
) -> None:
    people = await staff()
    handover = await flows.start_handover(
        actor=Actor.system("test"),
        settings=settings,
        employee_id=people["cy"]["id"],
        successor_id=people["eve"]["id"],
        open_now=True,
    )
    hid = handover["id"]
    made = await flows.create_attestation_link(
        actor=Actor.system("test"), secret=secrets.secret_key, handover_id=hid, days=3
    )
    await sign_in(page, server, "hana@northwind.example")
    await page.goto(f"{server}/handovers/{hid}/attestation-link")
    await page.get_by_role("button", name="Make the link").click()
    await expect(page.get_by_role("button", name="Copy")).to_be_visible()
    await page.goto(f"{server}/handovers/{hid}/attestation-link")
    revoke = page.get_by_role("button", name="Revoke the link made")
    await expect(revoke).to_have_count(2)
    await revoke.last.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Attestation link")
    await expect(page.get_by_role("button", name="Revoke the link made")).to_have_count(1)
    await expect(page.get_by_role("cell", name="hana@northwind.example").first).to_be_visible()
    await expect(page.get_by_text("revoked", exact=True)).to_have_count(1)
    await shoot(page, "handover-attestation-link-revoked")

    leaver_context = await browser.new_context()
    leaver = await leaver_context.new_page()
    try:
        await leaver.goto(f"{server}/attest/{made['token']}")
        await expect(
            leaver.get_by_text("This link has been withdrawn by your employer.")
        ).to_be_visible()
        await shoot(leaver, "handover-attest-revoked")
    finally:
        await leaver_context.close()


async def test_hr_edits_templates_and_previews_bulk_leavers(
    server: str, page: Page, settings: Settings
) -> None:
    await staff()
    await sign_in(page, server, "hana@northwind.example")
    await page.goto(f"{server}/handovers/templates")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Checklist templates")
    await shoot(page, "handover-templates-empty")
    await page.get_by_role("link", name="Add an item").click()
    await page.get_by_label("Department").fill("Sales")
    await page.get_by_label("Due, in days after the leaving date").fill("400")
    await page.get_by_label("What to do").fill("Collect the work phone")
    await page.get_by_label("Team that does it").select_option(label="IT")
    await page.get_by_label("Evidence needed").fill("The phone's serial number")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#day_offset-error")).to_be_visible()
    await shoot(page, "handover-template-error")
    await page.get_by_label("Due, in days after the leaving date").fill("-2")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_contain_text("The checklist item is saved.")
    sales = page.get_by_role("region", name="Sales").first
    await expect(sales).to_contain_text("Collect the work phone")
    await expect(sales).to_contain_text("2 days before leaving")
    await shoot(page, "handover-templates")
    await page.get_by_role("link", name="Add an item to Sales").click()
    await expect(page.get_by_label("Department")).to_have_value("Sales")
    await page.get_by_label("What to do").fill("Return the badge")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_role("button", name="Move up Return the badge").click()
    await expect(page.get_by_role("status")).to_contain_text("The order is saved.")
    await expect(sales.get_by_role("row").nth(1)).to_contain_text("1. Return the badge")
    await shoot(page, "handover-templates-moved")
    await page.get_by_role("link", name="Edit Collect the work phone").click()
    await expect(page.get_by_label("What to do")).to_have_value("Collect the work phone")
    await shoot(page, "handover-template-edit")

    later = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    sheet = (
        "work_email,leaving_date,successor_email\n"
        f"ana@northwind.example,{later},eve@northwind.example\n"
        f"nobody@northwind.example,{later},eve@northwind.example\n"
    )
    await page.goto(f"{server}/handovers/bulk")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Bulk leavers")
    await shoot(page, "handover-bulk")
    await page.get_by_label("CSV file").set_input_files(
        files=[{"name": "leavers.csv", "mimeType": "text/csv", "buffer": sheet.encode()}]
    )
    await page.get_by_role("button", name="Preview").click()
    await expect(page.get_by_text("1 line refused")).to_be_visible()
    await expect(page.get_by_role("cell", name="no such employee")).to_be_visible()
    await shoot(page, "handover-bulk-refused")
    good = sheet.splitlines()[:2]
    good.append(f"ben@northwind.example,{later},eve@northwind.example")
    await page.get_by_label("CSV file").set_input_files(
        files=[{"name": "leavers.csv", "mimeType": "text/csv", "buffer": "\n".join(good).encode()}]
    )
    await page.get_by_role("button", name="Preview").click()
    await expect(page.get_by_text("2 handovers would be started")).to_be_visible()
    await expect(page.get_by_role("row", name="Ana Silva")).to_contain_text("Eve Active")
    await expect(page.get_by_role("row", name="Ana Silva")).to_contain_text("2 items")
    await shoot(page, "handover-bulk-preview")
    await page.get_by_role("button", name="Start 2 handovers").click()
    await expect(page.get_by_role("status")).to_contain_text("2 handovers started.")
    await expect(page.get_by_role("link", name="Ben Okoro, leaving")).to_be_visible()
    await shoot(page, "handover-bulk-started")
