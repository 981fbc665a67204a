"""HR's staff directory in a real browser: a messy CSV imported (the date order asked and answered,
a bad line shown by number), a person's page, an edit with the manager picked by keyboard, and a
leaving date recorded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from playwright.async_api import Page, expect

from accounts import services as accounts
from accounts.enums import AccessLevel
from register.actor import Actor
from register.enums import Role
from register.services import create_user
from register.settings import Settings
from register.staff.tables import Employee
from tests.browser.conftest import shoot
from tests.browser.test_account_forms import PASSWORD, pick, sign_in

# What a European Excel saves: BOM, semicolons, Windows line ends, day-first dates that each read
# either way (03/04/2025), a manager named by e-mail before their own row.
HEADER = "\ufeffFull Name;Work Email;Department;Job Title;Hire Date;Reports To"
ROWS = [
    "Gus Grant;gus@northwind.example;Sales;Sales Rep;03/04/2025;hana@northwind.example",
    "Ivo Petrov;ivo(at)northwind.example;Sales;Sales Rep;01/02/2024;hana@northwind.example",
    "Hana Berg;hana@northwind.example;Sales;Head of Sales;05/06/2019;",
    "Lotte de Vries;lotte@northwind.example;Communications;Social Media Lead;11/10/2021;",
]


def export(path: Path, rows: list[str]) -> Path:
    """The CSV file as HR's system writes it."""
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode("utf-8"))
    return path


async def test_hr_imports_the_staff_and_keeps_a_person_up_to_date(
    server: str, page: Page, tmp_path: Path, settings: Settings
) -> None:
    """Import with the date question answered; a person's page; edit; a leaving date recorded."""
    await create_user(
        actor=Actor.system("test"),
        email="hr@northwind.example",
        role=Role.hr,
        password=PASSWORD,
        must_change_password=False,
    )
    heading = page.get_by_role("heading", level=1)
    await sign_in(page, server, "hr@northwind.example")
    await page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Staff").click()
    await expect(heading).to_have_text("Staff")
    await expect(page.get_by_text("The staff directory is empty.")).to_be_visible()
    await shoot(page, "staff-empty")

    # The first file has a bad e-mail: the line is named, and the dates are asked about.
    await page.get_by_role("link", name="Import a CSV file from your HR system").click()
    await expect(heading).to_have_text("Import staff")
    await shoot(page, "staff-import")
    await page.get_by_label("CSV file").set_input_files(export(tmp_path / "staff.csv", ROWS))
    await page.get_by_role("button", name="Upload and preview").click()
    problems = page.get_by_role("region", name="1 problem in the file").first
    await expect(problems).to_contain_text("'ivo(at)northwind.example' is not an e-mail address")
    await expect(problems.get_by_role("row").nth(1)).to_contain_text("3")
    question = page.get_by_role("group", name="How are dates written in this file?")
    await expect(question).to_contain_text("03/04/2025 is Apr 3, 2025")
    await expect(question).to_contain_text("03/04/2025 is Mar 4, 2025")
    await expect(page.get_by_role("button", name="Import 4 people")).to_have_count(0)
    await shoot(page, "staff-import-problems")

    # Corrected and uploaded again: the question is answered, then the rows read day first.
    fixed = [r.replace("ivo(at)", "ivo@") for r in ROWS]
    await page.get_by_label("CSV file").set_input_files(export(tmp_path / "fixed.csv", fixed))
    await page.get_by_role("button", name="Upload and preview").click()
    await expect(question).to_be_visible()
    await expect(page.get_by_label("Work Email")).to_have_value("work_email")
    await shoot(page, "staff-import-date-question")
    await page.get_by_label("Day first (day/month/year)").check()
    await page.get_by_role("button", name="Read the dates this way").click()
    rows = page.get_by_role("region", name="The first 4 rows as they will be read")
    await expect(rows.get_by_role("row").nth(1)).to_contain_text("Gus Grant")
    await expect(rows.get_by_role("row").nth(1)).to_contain_text("Apr 3, 2025")
    await expect(rows.get_by_role("row").nth(1)).to_contain_text("Added")
    await expect(page.get_by_label("Day first (day/month/year)")).to_be_checked()
    await shoot(page, "staff-import-preview")
    assert await Employee.count() == 0
    await page.get_by_role("button", name="Import 4 people").click()
    done = page.get_by_role("status")
    await expect(done).to_contain_text(
        "The import is done. 4 people added, 0 changed, 0 unchanged."
    )
    await shoot(page, "staff-import-done")
    gus = await Employee.select().where(Employee.work_email == "gus@northwind.example").first()
    assert gus["start_date"] == dt.date(2025, 4, 3)

    # IT registers the company's accounts meanwhile: Hana holds one, and may post on another.
    hana = await Employee.select().where(Employee.work_email == "hana@northwind.example").first()
    lotte = await Employee.select().where(Employee.work_email == "lotte@northwind.example").first()
    it = Actor.system("IT")
    held = await accounts.create_account(
        actor=it,
        settings=settings,
        data={
            "platform": "linkedin_page",
            "handle": "northwind-sales",
            "custodian_id": hana["id"],
            "backup_custodian_id": lotte["id"],
            "mfa_method": "authenticator_app",
            "mfa_holder_id": hana["id"],
        },
    )
    posted = await accounts.create_account(
        actor=it,
        settings=settings,
        data={"platform": "instagram", "handle": "northwind", "custodian_id": lotte["id"]},
    )
    await accounts.add_grant(
        actor=it, account_id=posted["id"], employee_id=hana["id"], level=AccessLevel.editor
    )

    # The directory, then Gus's page: his manager by name, and what he holds (nothing yet).
    await page.get_by_role("link", name="See the staff directory").click()
    await expect(heading).to_have_text("Staff")
    table = page.get_by_role("region", name="Staff", exact=True)
    await expect(table.get_by_role("row")).to_have_count(5)
    await shoot(page, "staff-list")
    await page.get_by_label("Department").select_option("Sales")
    await page.get_by_role("button", name="Show").click()
    await expect(table.get_by_role("row")).to_have_count(4)
    await table.get_by_role("link", name="Gus Grant").click()
    await expect(heading).to_have_text("Gus Grant")
    details = page.get_by_role("region", name="Details")
    await expect(details).to_contain_text("Hana Berg")
    await expect(details).to_contain_text("Apr 3, 2025")
    await expect(page.get_by_role("region", name="What they hold in the register")).to_contain_text(
        "Nothing: they hold no account"
    )
    await shoot(page, "staff-person")

    # His manager's page: what she holds, each with a link to the account.
    await details.get_by_role("link", name="Hana Berg").click()
    await expect(heading).to_have_text("Hana Berg")
    footprint = page.get_by_role("region", name="What they hold in the register")
    await expect(footprint).to_contain_text("Custodian, Holds the second factor")
    await expect(footprint).to_contain_text("northwind · Instagram: Editor")
    await expect(page.get_by_role("region", name="Who reports to them")).to_contain_text(
        "Gus Grant"
    )
    await shoot(page, "staff-person-footprint")
    assert held["id"] > 0
    await (
        page.get_by_role("region", name="Who reports to them")
        .get_by_role("link", name="Gus Grant")
        .click()
    )
    await expect(heading).to_have_text("Gus Grant")

    # An edit: a new title, and the manager chosen with the keyboard.
    await (
        page.get_by_role("navigation", name="What you can do")
        .get_by_role("link", name="Edit")
        .click()
    )
    await expect(heading).to_have_text("Edit Gus Grant")
    await page.get_by_label("Job title").fill("Senior Sales Rep")
    await page.get_by_role("combobox", name="Manager").fill("")
    await pick(page, "Manager", "Lotte")
    await expect(page.get_by_role("combobox", name="Manager")).to_have_value("Lotte de Vries")
    await shoot(page, "staff-edit")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_role("status")).to_have_text("Your changes are saved.")
    await expect(page.locator(".lede")).to_contain_text("Senior Sales Rep")
    await expect(details).to_contain_text("Lotte de Vries")

    # A leaving date: what follows is said first, then the person is leaving.
    leaving_day = dt.date.today() + dt.timedelta(days=21)
    await page.get_by_role("link", name="Record a leaving date").click()
    await expect(heading).to_have_text("Gus Grant leaves")
    await expect(page.get_by_role("region", name="What follows")).to_contain_text(
        "access grants their handover lists are revoked"
    )
    await page.get_by_label("Leaving date").fill(leaving_day.isoformat())
    await shoot(page, "staff-leaving")
    await page.get_by_role("button", name="Record the leaving date").click()
    await expect(page.get_by_role("status")).to_contain_text("The leaving date is recorded")
    await expect(details).to_contain_text("Leaving")
    await shoot(page, "staff-person-leaving")

    # The list of who leaves within 30 days names him.
    await page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Staff").click()
    await page.get_by_label("Leaving").select_option("soon")
    await page.get_by_role("button", name="Show").click()
    await expect(table.get_by_role("row")).to_have_count(2)
    await expect(table).to_contain_text("Gus Grant")
    await shoot(page, "staff-list-leaving-soon")
    gus = await Employee.select().where(Employee.work_email == "gus@northwind.example").first()
    assert (gus["status"], gus["leaving_date"], gus["job_title"]) == (
        "leaving",
        leaving_day,
        "Senior Sales Rep",
    )
