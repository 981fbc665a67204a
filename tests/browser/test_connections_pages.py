"""HR's connections register in a real browser: an export uploaded with its progress bar, the
summary, the person's connections and their export, search, subject access and an erasure."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from register.actor import Actor
from register.enums import Role
from register.services import create_user
from register.settings import Settings
from register.staff.services import create_employee
from tests.accounts.connections.test_connections import linkedin_export
from tests.browser.conftest import shoot
from tests.browser.test_account_forms import PASSWORD, pick, sign_in

TODAY = dt.date.today()
START = TODAY - dt.timedelta(days=1500)


def export() -> tuple[bytes, list[list[str]]]:
    """A generated export as LinkedIn writes it (notes, BOM), with a duplicate and a bad line."""
    text = linkedin_export(2000, seed=5, since=START - dt.timedelta(days=700), until=TODAY).decode()
    rows = list(csv.reader(io.StringIO(text.split("Connected On\n", 1)[1])))
    kept = [r for r in rows if dt.datetime.strptime(r[6], "%d %b %Y").date() >= START]
    extra = io.StringIO()
    writer = csv.writer(extra, lineterminator="\n")
    writer.writerow(kept[0])
    writer.writerow(["Bad", "Date", "https://www.linkedin.com/in/bad-date", "", "", "", "soon"])
    return ("\ufeff" + text + extra.getvalue()).encode(), kept


async def test_hr_uploads_an_export_reads_the_summary_exports_and_answers_a_privacy_request(
    server: str, page: Page, settings: Settings, tmp_path: Path
) -> None:
    """Upload with a progress bar, summary, list, export, search, subject access, erasure."""
    rita = await create_employee(
        actor=Actor.system("test"),
        data={
            "name": "Rita Reyes",
            "work_email": "rita@northwind.example",
            "department": "Sales",
            "start_date": START,
        },
    )
    await create_user(
        actor=Actor.system("test"),
        email="hana@northwind.example",
        role=Role.hr,
        password=PASSWORD,
        must_change_password=False,
    )
    content, kept = export()
    await sign_in(page, server, "hana@northwind.example")
    await page.get_by_role("link", name="Connections", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Connections")
    await expect(page.get_by_text("The register holds no connections yet.")).to_be_visible()
    await shoot(page, "connections-empty")

    # The upload: the person by name, the file, and the bar while it goes.
    await page.get_by_role("link", name="Upload a LinkedIn export").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Upload a LinkedIn export")
    await pick(page, "Whose export is it?", "Rita")
    await page.get_by_label("Connections.csv").set_input_files(
        {"name": "Connections.csv", "mimeType": "text/csv", "buffer": content}
    )
    bar = page.get_by_role("progressbar", name="Uploading the file")
    await expect(bar).to_be_hidden()
    # A slow line (100 kB/s up), so the upload takes a few seconds and the bar can be seen moving.
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 100_000},
    )
    await page.get_by_role("button", name="Upload and import").click()
    await expect(bar).to_be_visible()
    await expect(page.get_by_role("button", name="Upload and import")).to_be_disabled()
    await page.wait_for_function(
        "() => { const p = document.getElementById('upload-progress'); "
        "return p.value >= 10 && p.value < 90; }"
    )
    await expect(page.get_by_text("% sent")).to_be_visible()
    await shoot(page, "connections-upload-progress")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )

    # The summary.
    heading = page.get_by_role("heading", level=1)
    await expect(heading).to_have_text("Connections of Rita Reyes: the upload")
    summary = page.get_by_role("region", name="What the file held")
    await expect(summary.get_by_role("row", name="Duplicates in the file")).to_contain_text("1")
    await expect(summary.get_by_role("row", name="Before the employment")).to_contain_text(
        str(2000 - len(kept))
    )
    problems = page.get_by_role("region", name="1 line could not be read").first
    await expect(problems).to_contain_text("Connected On")
    await expect(page.get_by_role("status")).to_contain_text(
        f"{len(kept):,} connections of Rita Reyes are kept as the employer's."
    )
    await shoot(page, "connections-summary")

    # Her connections, filtered, and the export for her successor.
    await page.get_by_role("link", name="See the connections of Rita Reyes").click()
    await expect(heading).to_have_text("Connections of Rita Reyes")
    await page.get_by_label("On their profile").select_option("no")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_role("link", name="Next")).to_be_visible()
    await shoot(page, "connections-person")
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Export for the successor (CSV)").click()
    download = await waiting.value
    saved = tmp_path / "export.csv"
    await download.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text())))
    assert rows[0][0] == "First Name" and len(rows) == len(kept) + 1
    await page.get_by_text("The successor has the export: record it").click()
    await page.get_by_label("Note (optional)").fill("Given to Sam Successor on the shared drive")
    await page.get_by_role("button", name=f"Record {len(kept):,} connections as exported").click()
    await expect(page.get_by_role("status")).to_contain_text(
        f"{len(kept):,} connections are now recorded as exported to the successor."
    )
    await shoot(page, "connections-person-exported")

    # Search across the register.
    first, last, url = kept[7][:3]
    await page.get_by_role("link", name="Connections", exact=True).click()
    await page.get_by_role("searchbox", name="Search").fill(f"{first} {last}")
    await page.get_by_role("button", name="Search").click()
    results = page.get_by_role("region", name=f"Connections matching “{first} {last}”")
    await expect(results.get_by_role("link", name="Rita Reyes").first).to_be_visible()
    await shoot(page, "connections-search")

    # Subject access for one of them, found by name, and the file to send them.
    await page.get_by_role("link", name="Privacy requests: subject access and erasure").click()
    await page.get_by_label("Name, LinkedIn profile link or e-mail address").fill(f"{first} {last}")
    await page.get_by_role("button", name="Find").click()
    await expect(page.get_by_text(url, exact=False)).to_be_visible()
    await shoot(page, "connections-privacy-found")
    found = page.get_by_role("listitem").filter(has_text=url)
    await found.get_by_role("button").click()
    await expect(heading).to_have_text("What the register holds about this person")
    await expect(page.get_by_text("The register holds 1 record about this person")).to_be_visible()
    await shoot(page, "connections-subject-access")
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Download for the person (JSON)").click()
    answer = json.loads(Path(await (await waiting.value).path()).read_text())
    assert answer["connections"][0]["profile_url"] == url

    # The erasure: named and counted first, then done.
    await page.get_by_role("button", name="Erase this person…").click()
    await expect(heading).to_have_text("Erase this person from the register?")
    await expect(page.get_by_text("1 connection record")).to_be_visible()
    await shoot(page, "connections-erase-confirm")
    await page.get_by_role("button", name="Erase 1 record").click()
    await expect(page.get_by_role("status")).to_contain_text("The person is erased.")
    await shoot(page, "connections-erased")
    assert rita["id"]


async def test_a_file_that_is_not_an_export_comes_back_with_the_reason_next_to_it(
    server: str, page: Page, browser: Any
) -> None:
    """Sent by htmx, refused: the form is swapped in again with the error by the file field.

    Without JavaScript the plain form posts the same upload and lands on the summary.
    """
    await create_employee(
        actor=Actor.system("test"),
        data={"name": "Rita Reyes", "work_email": "rita@northwind.example", "start_date": START},
    )
    await create_user(
        actor=Actor.system("test"),
        email="hana@northwind.example",
        role=Role.hr,
        password=PASSWORD,
        must_change_password=False,
    )
    await sign_in(page, server, "hana@northwind.example")
    await page.goto(server + "/connections/upload")
    await pick(page, "Whose export is it?", "Rita")
    await page.get_by_label("Connections.csv").set_input_files(
        {
            "name": "messages.csv",
            "mimeType": "text/csv",
            "buffer": b"CONVERSATION ID,FROM,TO\n1,a,b\n",
        }
    )
    await page.get_by_role("button", name="Upload and import").click()
    field = page.get_by_label("Connections.csv")
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#file-error")).to_contain_text("messages export")
    await expect(page.get_by_role("combobox", name="Whose export is it?")).to_have_value(
        "Rita Reyes"
    )
    await expect(page.get_by_role("progressbar", name="Uploading the file")).to_be_hidden()
    await expect(page.get_by_role("heading", level=1)).to_have_count(1)
    await shoot(page, "connections-upload-refused")
    plain = await browser.new_context(java_script_enabled=False)
    try:
        tab = await plain.new_page()
        await sign_in(tab, server, "hana@northwind.example")
        await tab.goto(server + "/connections/upload")
        await tab.get_by_label("Whose export is it?").fill("Rita Reyes")
        await tab.get_by_label("Connections.csv").set_input_files(
            {"name": "Connections.csv", "mimeType": "text/csv", "buffer": export()[0]}
        )
        await tab.get_by_role("button", name="Upload and import").click()
        await expect(tab.get_by_role("heading", level=1)).to_have_text(
            "Connections of Rita Reyes: the upload"
        )
        await expect(tab.get_by_role("status")).to_contain_text("The upload is done.")
    finally:
        await plain.close()
