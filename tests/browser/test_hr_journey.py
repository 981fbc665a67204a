"""HR's whole journey in three browsers: the staff imported from a messy CSV, the leaver's LinkedIn
export uploaded, the handover started from their page, IT moves custody and the successor accepts,
the connections exported, the leaver attests through a one-time link, both teams sign, and the
certificate is printed and its signed file verified on the command line."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, expect

from accounts import services as accounts
from register.actor import Actor
from register.enums import Role
from register.services import create_user
from register.settings import Settings
from register.staff.tables import Employee
from tests.browser.conftest import SCREENSHOTS, shoot
from tests.browser.test_account_forms import PASSWORD, pick, sign_in
from tests.cli import run_cli

BACKEND = os.environ.get("REGISTER_TEST_DATABASE", "sqlite")
MAKE_EXPORT = Path(__file__).resolve().parents[1] / "data" / "make_linkedin_export.py"
HR = "hana@northwind.example"
IT = "ivo@northwind.example"
SUCCESSOR = "eve@northwind.example"
TODAY = dt.date.today()
# A leaving day within the month whose day is 12 or less, so that it too reads either way.
LEAVING = next(d for d in (TODAY + dt.timedelta(days=n) for n in range(10, 40)) if d.day <= 12)


def staff_csv(path: Path) -> Path:
    """What a European Excel saves: BOM, semicolons, CRLF, day-first dates that read either way."""
    leaving = LEAVING.strftime("%d/%m/%Y")
    lines = [
        "\ufeffFull Name;Work Email;Department;Job Title;Hire Date;Leaving Date",
        f"Cy Leaver;cy@northwind.example;Sales;Account Manager;03/04/2022;{leaving}",
        "Eve Active;eve@northwind.example;Sales;Account Manager;05/06/2021;",
        "Ivo Marsh;ivo@northwind.example;IT;Systems Administrator;01/02/2020;",
        "Hana Kimura;hana@northwind.example;HR;HR Officer;07/08/2019;",
    ]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


def linkedin_export(path: Path) -> Path:
    """Cy's Connections.csv, written by the generator from the year before they started."""
    since, until = "2021-01-01", TODAY.isoformat()
    out = subprocess.run(
        [
            sys.executable,
            str(MAKE_EXPORT),
            "300",
            "--seed",
            "16",
            "--since",
            since,
            "--until",
            until,
        ],
        check=True,
        capture_output=True,
    ).stdout
    path.write_bytes(out)
    return path


def item(page: Page, title: str) -> Any:
    """One checklist item, found by its heading."""
    return page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=title))


async def employee(email: str) -> dict[str, Any]:
    row = await Employee.select().where(Employee.work_email == email).first()
    assert row is not None, email
    return row


async def test_hr_takes_a_leaver_from_the_csv_import_to_a_verified_certificate(
    server: str, page: Page, browser: Browser, settings: Settings, tmp_path: Path
) -> None:
    """One journey, HR with IT and the successor in their own browsers, the leaver signed out."""
    system = Actor.system("test")
    await create_user(
        actor=system, email=HR, role=Role.hr, password=PASSWORD, must_change_password=False
    )
    heading = page.get_by_role("heading", level=1)
    menu = page.get_by_role("navigation", name="Main menu")

    # HR imports the staff: the date order is asked, answered day first, then applied.
    await sign_in(page, server, HR)
    await menu.get_by_role("link", name="Staff").click()
    await page.get_by_role("link", name="Import a CSV file from your HR system").click()
    await expect(heading).to_have_text("Import staff")
    await page.get_by_label("CSV file").set_input_files(staff_csv(tmp_path / "staff.csv"))
    await page.get_by_role("button", name="Upload and preview").click()
    question = page.get_by_role("group", name="How are dates written in this file?")
    await expect(question).to_contain_text("03/04/2022 is Apr 3, 2022")
    await expect(page.get_by_role("button", name="Import 4 people")).to_have_count(0)
    await shoot(page, "journey-import-question")
    await page.get_by_label("Day first (day/month/year)").check()
    await page.get_by_role("button", name="Read the dates this way").click()
    rows = page.get_by_role("region", name="The first 4 rows as they will be read")
    await expect(rows.get_by_role("row", name="Cy Leaver")).to_contain_text("Apr 3, 2022")
    await shoot(page, "journey-import-preview")
    await page.get_by_role("button", name="Import 4 people").click()
    await expect(page.get_by_role("status")).to_contain_text("4 people added")
    await shoot(page, "journey-import-done")
    cy = await employee("cy@northwind.example")
    assert (cy["start_date"], cy["leaving_date"]) == (dt.date(2022, 4, 3), LEAVING)

    # Meanwhile the register learns the rest: IT's and the successor's users, Cy's account.
    for email, role in ((IT, Role.it), (SUCCESSOR, Role.comms)):
        await create_user(
            actor=system,
            email=email,
            role=role,
            password=PASSWORD,
            must_change_password=False,
            employee_id=(await employee(email))["id"],
        )
    await accounts.create_account(
        actor=Actor.system("IT"),
        settings=settings,
        data={"platform": "linkedin_page", "handle": "northwind-sales", "custodian_id": cy["id"]},
    )

    # Cy's page, from the list of who leaves soon (only Cy), then their LinkedIn export uploaded
    # from it, and the summary.
    await page.get_by_role("link", name="See who is leaving soon").click()
    leaving = page.get_by_role("region", name="Staff", exact=True)
    await expect(leaving.get_by_role("row")).to_have_count(2)
    await shoot(page, "journey-leaving-soon")
    await leaving.get_by_role("link", name="Cy Leaver").click()
    await expect(heading).to_have_text("Cy Leaver")
    await page.get_by_role("link", name="Upload their LinkedIn export").click()
    await expect(heading).to_have_text("Upload a LinkedIn export")
    await expect(page.get_by_role("combobox", name="Whose export is it?")).to_have_value(
        "Cy Leaver"
    )
    await page.get_by_label("Connections.csv").set_input_files(
        linkedin_export(tmp_path / "Connections.csv")
    )
    await shoot(page, "journey-connections-upload")
    await page.get_by_role("button", name="Upload and import").click()
    await expect(heading).to_have_text("Connections of Cy Leaver: the upload")
    summary = page.get_by_role("region", name="What the file held")
    before = summary.get_by_role("row", name="Before the employment")
    await expect(before).not_to_contain_text(" 0")
    status = page.get_by_role("status")
    await expect(status).to_contain_text("connections of Cy Leaver are kept as the employer's.")
    kept = int((await status.text_content() or "").split("The upload is done.")[-1].split()[0])
    assert 0 < kept < 300
    await shoot(page, "journey-connections-summary")

    # Back on Cy's page: what they hold, their connections, and the handover to start.
    await page.get_by_role("link", name="The page of Cy Leaver").click()
    await expect(heading).to_have_text("Cy Leaver")
    footprint = page.get_by_role("region", name="What they hold in the register")
    await expect(footprint).to_contain_text("northwind-sales")
    await expect(footprint).to_contain_text("Custodian")
    await expect(page.get_by_role("region", name="LinkedIn connections")).to_contain_text(
        f"The register holds {kept} of their LinkedIn connections."
    )
    section = page.get_by_role("region", name="Handover", exact=True)
    await expect(section).to_contain_text("No handover is in progress for this person.")
    await shoot(page, "journey-person")
    await section.get_by_role("link", name="Start handover").click()
    await expect(heading).to_have_text("Start a handover")
    happens = page.get_by_role("region", name="What will happen")
    await expect(happens).to_contain_text(f"{kept} connections to export to the successor.")
    await expect(happens).to_contain_text("HR makes them a one-time link")
    await pick(page, "Successor", "Eve")
    await expect(page.get_by_role("combobox", name="Successor")).to_have_value("Eve Active")
    await expect(page.get_by_label("Leaving date")).to_have_value(LEAVING.isoformat())
    await page.get_by_label("Personal e-mail addresses").fill("cy.leaver@gmail.example")
    await page.get_by_label("Open it now, so that HR and IT can start on the items").check()
    await shoot(page, "journey-handover-new")
    await page.get_by_role("button", name="Start the handover").click()
    await expect(heading).to_have_text("Handover of Cy Leaver")
    await expect(page.get_by_role("status")).to_contain_text("The handover is started")
    custody = "Transfer custody of LinkedIn page northwind-sales to the successor"
    await expect(page.get_by_role("region", name="IT's items")).to_contain_text("northwind-sales")
    await shoot(page, "journey-handover")
    handover_url = page.url.split("?")[0].split("#")[0]

    # IT, in its own browser, moves custody from the item; Eve accepts in a third.
    it_context = await browser.new_context()
    eve_context = await browser.new_context()
    try:
        it = await it_context.new_page()
        await sign_in(it, server, IT)
        await it.goto(handover_url)
        transfer = item(it, custody)
        await expect(transfer).to_contain_text("Eve Active")
        await transfer.get_by_role("link", name=re.compile("^Transfer custody")).click()
        await expect(it.get_by_role("heading", level=1)).to_have_text("Transfer custody")
        await it.get_by_label("Note for them").fill("Cy's sales page is yours from today")
        await shoot(it, "journey-it-transfer")
        await it.get_by_role("button", name="Transfer custody").click()
        await expect(it.get_by_role("status")).to_contain_text("Custody has moved.")
        await shoot(it, "journey-it-transferred")

        eve = await eve_context.new_page()
        await sign_in(eve, server, SUCCESSOR)
        offer = eve.get_by_role("region", name="Custody offered to you")
        await expect(offer).to_contain_text("Cy's sales page is yours from today")
        await expect(offer).to_contain_text("Cy Leaver hands it over.")
        await shoot(eve, "journey-successor-offer")
        await offer.get_by_role("button", name="Accept").click()
        await expect(eve.get_by_role("status")).to_have_text("You accepted custody.")
        await shoot(eve, "journey-successor-accepted")
    finally:
        await eve_context.close()

    # HR sees the item done, then exports the connections for Eve from the checklist.
    await page.goto(handover_url)
    await expect(item(page, custody)).to_contain_text("Seen by the register")
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Export the connections (CSV)").click()
    saved = tmp_path / "for-eve.csv"
    await (await waiting.value).save_as(saved)
    exported = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert exported[0][0] == "First Name" and len(exported) == kept + 1
    await page.goto(handover_url)
    await expect(page.get_by_role("region", name="HR's items")).to_contain_text(
        f"{kept} connections exported"
    )
    await shoot(page, "journey-handover-exported")

    # The attestation link, and the leaver signed out in a fresh browser.
    await page.get_by_role("link", name="Create a link for the leaver's attestation").first.click()
    await expect(heading).to_have_text("Attestation link")
    await page.get_by_role("button", name="Make the link").click()
    await expect(page.get_by_role("status").first).to_contain_text("The link for Cy Leaver")
    link = (await page.locator("#secret").text_content() or "").strip()
    assert "/attest/" in link
    await shoot(page, "journey-attestation-link")
    await page.get_by_role("link", name="Back to the handover").click()
    attestation = item(page, "Cy Leaver's written attestation that the connections were deleted")
    await expect(attestation).to_contain_text("The leaver has not used it yet.")
    await shoot(page, "journey-handover-link-made")
    leaver_context = await browser.new_context()
    try:
        leaver = await leaver_context.new_page()
        await leaver.goto(link)
        await expect(leaver.get_by_role("heading", level=1)).to_have_text(
            "Confirm the deletion of your work connections"
        )
        await expect(leaver.get_by_role("navigation", name="Main menu")).to_have_count(0)
        await expect(leaver.get_by_text(f"The register holds {kept} connections")).to_be_visible()
        await shoot(leaver, "journey-leaver-attest")
        await leaver.get_by_label("Your full name").fill("Cy Leaver")
        await leaver.get_by_role("button", name="I confirm").click()
        await expect(leaver.get_by_role("status")).to_contain_text(
            "Your attestation is recorded, Cy Leaver. Thank you."
        )
        await shoot(leaver, "journey-leaver-attested")
        await leaver.goto(link)
        await expect(leaver.get_by_text("This link has already been used")).to_be_visible()
        await shoot(leaver, "journey-leaver-link-used")
        assert await leaver_context.cookies() == []
    finally:
        await leaver_context.close()

    # HR signs off, then IT; the certificate is opened from the handover.
    await page.goto(handover_url)
    await expect(attestation).to_contain_text("Attested by Cy Leaver")
    await expect(attestation).not_to_contain_text("not used it yet")
    # Recorded: no link for another attestation is offered any more.
    await expect(
        page.get_by_role("link", name="Create a link for the leaver's attestation")
    ).to_have_count(0)
    sign_off = page.get_by_role("region", name="Sign-off")
    await sign_off.get_by_role("button", name="Sign off for HR").click()
    await expect(page.get_by_role("status")).to_have_text("Your sign-off is recorded.")
    await shoot(page, "journey-signed-hr")
    try:
        await it.goto(handover_url)
        await (
            it.get_by_role("region", name="Sign-off")
            .get_by_role("button", name="Sign off for IT")
            .click()
        )
        await expect(it.get_by_role("region", name="Sign-off")).to_contain_text(
            "Both have signed: the handover is complete."
        )
        await shoot(it, "journey-signed-it")
    finally:
        await it_context.close()
    await page.reload()
    await page.get_by_role("link", name="Open the certificate").click()
    await expect(heading).to_have_text("Handover certificate")
    await expect(page.get_by_text("Cy Leaver").first).to_be_visible()
    await expect(page.get_by_text("register handover verify")).to_be_visible()
    # The evidence in words: who holds the account now, by name, and when, not as ISO 8601.
    custody_evidence = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=re.compile("Transfer custody"))
    )
    await expect(custody_evidence).to_contain_text("Now held by")
    await expect(custody_evidence).to_contain_text("Eve Active")
    await expect(custody_evidence).not_to_contain_text("holder_id")
    await expect(page.get_by_role("region", name="Who left, and who took over")).to_contain_text(
        LEAVING.strftime("%b %-d, %Y")
    )
    await shoot(page, "journey-certificate")
    printed = await page.pdf(format="A4")
    assert printed.startswith(b"%PDF-")
    (SCREENSHOTS / f"journey-certificate-{BACKEND}.pdf").write_bytes(printed)
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Download the signed file (JSON)").click()
    signed = settings.var_dir / "journey-certificate.json"
    await (await waiting.value).save_as(signed)
    result = await run_cli(settings, "handover", "verify", str(signed))
    assert result.code == 0 and "valid: handover" in result.out, result.out + result.err
