"""The staff directory's pages: the list, a person's page with its sections, add and edit, a
leaving date, and the CSV import with its preview, date-order question and errors by line."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import httpx
import pytest

from register.actor import Actor
from register.enums import Role
from register.errors import InvalidInput
from register.staff.files import import_employees
from register.staff.services import create_employee, get_employee
from register.staff.tables import Employee
from tests.helpers import form, page_client

TODAY = dt.date.today()


def words(page: str) -> str:
    """A page's text as a reader sees it: tags gone, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def hidden_fields(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action`, as a browser sends them back."""
    start = page.index(f'action="{action}"')
    part = page[start : page.index("</form>", start)]
    return {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', part
        )
    }


def rows_of(page: str) -> list[str]:
    """The staff table's rows, each as its text."""
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    return [words(r) for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.fixture
async def staff(app: Any) -> dict[str, int]:
    """A small directory: a manager, her report, someone leaving soon, later, and someone gone."""
    actor = Actor.system("test")
    made: dict[str, int] = {}
    for key, name, department, leaving, manager in (
        ("eve", "Eve Manager", "Communications", None, None),
        ("ana", "Ana Silva", "Communications", None, "eve"),
        ("ben", "Ben Okoro", "IT", TODAY + dt.timedelta(days=10), "eve"),
        ("cy", "Cy Later", "IT", TODAY + dt.timedelta(days=60), None),
        ("dee", "Dee Gone", "Sales", TODAY - dt.timedelta(days=10), None),
    ):
        row = await create_employee(
            actor=actor,
            data={
                "name": name,
                "work_email": f"{key}@example.com",
                "department": department,
                "job_title": "Officer",
                "start_date": TODAY - dt.timedelta(days=900),
                "leaving_date": leaving,
                "manager_id": made.get(manager) if manager else None,
            },
        )
        made[key] = row["id"]
    return made


async def test_the_list_searches_and_filters_and_links_people_by_name(
    app: Any, staff: dict[str, int]
) -> None:
    """Search by name or e-mail; department, status and leaving-soon filters; names and managers linked."""
    hr = await page_client(app, Role.hr)
    try:
        page = await hr.get("/staff")
        assert page.status_code == 200
        assert [r.split(" ")[0] + " " + r.split(" ")[1] for r in rows_of(page.text)] == [
            "Ana Silva",
            "Ben Okoro",
            "Cy Later",
            "Dee Gone",
            "Eve Manager",
        ]
        assert f'<a href="/staff/{staff["ana"]}">Ana Silva</a>' in page.text
        # The manager by name, with a link to their page.
        assert f'<a href="/staff/{staff["eve"]}">Eve Manager</a>' in page.text
        # What HR can do next.
        assert 'href="/staff/new"' in page.text and 'href="/staff/import"' in page.text
        assert '<a href="/staff" aria-current="page">Staff</a>' in page.text

        async def names(**params: str) -> list[str]:
            resp = await hr.get("/staff", params=params)
            assert resp.status_code == 200, resp.text
            if "<tbody>" not in resp.text:
                return []
            return [" ".join(r.split(" ")[:2]) for r in rows_of(resp.text)]

        assert await names(q="silva") == ["Ana Silva"]
        assert await names(q="ben@example") == ["Ben Okoro"]
        assert await names(department="IT") == ["Ben Okoro", "Cy Later"]
        assert await names(status="left") == ["Dee Gone"]
        assert await names(leaving="soon") == ["Ben Okoro"]
        assert await names(department="IT", leaving="soon") == ["Ben Okoro"]
        nobody = await hr.get("/staff", params={"q": "zzz"})
        assert "Nobody matches." in words(nobody.text) and "Show everyone" in nobody.text
        # A leaver's status in words, with the date.
        assert "Ben Okoro ben@example.com IT Officer Eve Manager Leaving leaving on" in words(
            page.text
        )
        assert (await hr.get("/staff", params={"status": "gone"})).status_code == 422
    finally:
        await hr.aclose()


async def test_paging_keeps_the_filters(app: Any) -> None:
    """More than a page: Next keeps the search and shows the rest."""
    for n in range(55):
        await create_employee(
            actor=Actor.system("test"),
            data={"name": f"Pat {n:02d}", "work_email": f"pat{n}@example.com", "department": "Ops"},
        )
    hr = await page_client(app, Role.hr)
    try:
        first = await hr.get("/staff", params={"department": "Ops"})
        assert len(rows_of(first.text)) == 50
        assert 'href="?department=Ops&amp;offset=50">Next</a>' in first.text
        second = await hr.get("/staff", params={"department": "Ops", "offset": "50"})
        assert [r.split(" ")[1] for r in rows_of(second.text)] == ["50", "51", "52", "53", "54"]
        assert "Previous" in second.text and ">Next<" not in second.text
    finally:
        await hr.aclose()


async def test_a_persons_page_shows_details_and_what_they_hold(
    app: Any, staff: dict[str, int], user_factory: Any
) -> None:
    """Details with the manager by name; the footprint: accounts by role, grants, incidents."""
    _, it_api = await user_factory(Role.it)
    account = await it_api.post(
        "/api/v1/accounts",
        json={
            "platform": "x",
            "handle": "northwind",
            "custodian_id": staff["ana"],
            "backup_custodian_id": staff["eve"],
            "mfa_method": "authenticator_app",
            "mfa_holder_id": staff["ana"],
            "recovery_email": "ana@example.com",
        },
    )
    assert account.status_code == 201, account.text
    other = await it_api.post(
        "/api/v1/accounts",
        json={"platform": "instagram", "handle": "nw.pics", "custodian_id": staff["eve"]},
    )
    assert other.status_code == 201, other.text
    grant = await it_api.post(
        f"/api/v1/accounts/{other.json()['id']}/grants",
        json={"employee_id": staff["ana"], "level": "editor"},
    )
    assert grant.status_code == 201, grant.text
    _, comms_api = await user_factory(Role.comms)
    incident = await comms_api.post(
        "/api/v1/incidents",
        json={
            "title": "Odd posts",
            "category": "account_compromise",
            "severity": "SEV2",
            "account_id": account.json()["id"],
        },
    )
    assert incident.status_code == 201, incident.text

    hr = await page_client(app, Role.hr)
    comms = await page_client(app, Role.comms)
    try:
        page = await hr.get(f"/staff/{staff['ana']}")
        assert page.status_code == 200
        text = words(page.text)
        assert "<h1>Ana Silva</h1>" in page.text
        assert "Work e-mail ana@example.com Department Communications Job title Officer" in text
        assert f'<a href="/staff/{staff["eve"]}">Eve Manager</a>' in page.text
        assert "Status Works here" in text
        section = text[text.index("What they hold in the register") :]
        assert (
            "Accounts northwind · X: Custodian, Holds the second factor, Recovery contact (e-mail)"
            in section
        )
        assert f'<a href="/accounts/{account.json()["id"]}">northwind</a>' in page.text
        assert "Access grants nw.pics · Instagram: Editor" in section
        assert "Open incidents on their accounts" in section
        assert f'href="/incidents/{incident.json()["id"]}"' in page.text
        assert "Odd posts" in section
        # What HR can do here.
        assert f'href="/staff/{staff["ana"]}/edit"' in page.text
        assert "Record a leaving date" in text

        # The manager's page: who reports to them, and her own footprint.
        eve = words((await hr.get(f"/staff/{staff['eve']}")).text)
        assert "Who reports to them Ana Silva · Officer Ben Okoro · Officer (leaving)" in eve
        assert "northwind · X: Backup custodian" in eve and "nw.pics · Instagram: Custodian" in eve

        # Someone who holds nothing: said in words.
        cy = words((await hr.get(f"/staff/{staff['cy']}")).text)
        assert "Nothing: they hold no account, grant or credential" in cy

        # Comms reads the directory, not the footprint (handovers are not theirs to read).
        seen = await comms.get(f"/staff/{staff['ana']}")
        assert seen.status_code == 200 and "Ana Silva" in seen.text
        assert "What they hold in the register" not in seen.text
        assert "/edit" not in seen.text and "Record a leaving date" not in seen.text
        assert (await hr.get("/staff/999999")).status_code == 404
    finally:
        await hr.aclose()
        await comms.aclose()


async def test_hr_adds_a_person_with_their_manager_chosen_by_name(
    app: Any, staff: dict[str, int]
) -> None:
    """Errors next to the fields, input kept; then the person with their manager."""
    hr = await page_client(app, Role.hr)
    try:
        blank = await hr.get("/staff/new")
        assert blank.status_code == 200 and 'name="manager_id"' in blank.text
        bad = await hr.post(
            "/staff/new",
            data=form(hr, name="", work_email="not-an-address", manager="Eve", start_date="31/12"),
        )
        assert bad.status_code == 422
        assert 'id="name-error">Give the person&#39;s name.' in bad.text
        assert 'id="start_date-error">Write the date as year-month-day' in bad.text
        assert 'value="not-an-address"' in bad.text
        taken = await hr.post(
            "/staff/new",
            data=form(hr, name="Ana Twin", work_email="ANA@example.com", manager=""),
        )
        assert taken.status_code == 422
        assert 'id="work_email-error"' in taken.text and "already exists" in taken.text
        made = await hr.post(
            "/staff/new",
            data=form(
                hr,
                name="Finn New",
                work_email="finn@example.com",
                department="IT",
                job_title="Engineer",
                manager="eve manager",
                start_date="2025-04-01",
            ),
        )
        assert made.status_code == 303
        finn = await Employee.select().where(Employee.work_email == "finn@example.com").first()
        assert finn["manager"] == staff["eve"] and finn["start_date"] == dt.date(2025, 4, 1)
        assert made.headers["location"] == f"/staff/{finn['id']}?done=created"
        shown = words((await hr.get(made.headers["location"])).text)
        assert "Finn New is added to the staff directory." in shown
        assert "Manager Eve Manager" in shown
    finally:
        await hr.aclose()


async def test_an_edit_over_a_stale_version_keeps_the_input_and_shows_what_is_saved(
    app: Any, staff: dict[str, int], hr: httpx.AsyncClient
) -> None:
    """Someone else saved meanwhile: 409, both shown, the new version carried; a second save works."""
    c = await page_client(app, Role.hr)
    try:
        opened = await c.get(f"/staff/{staff['ana']}/edit")
        fields = hidden_fields(opened.text, f"/staff/{staff['ana']}/edit")
        assert fields["version"] == "1"
        assert 'value="Eve Manager"' in opened.text
        # Meanwhile, through the API.
        changed = await hr.patch(
            f"/api/v1/employees/{staff['ana']}", json={"version": 1, "department": "Sales"}
        )
        assert changed.status_code == 200
        data = form(
            c,
            version="1",
            name="Ana Silva",
            work_email="ana@example.com",
            department="Communications",
            job_title="Lead",
            manager="Eve Manager",
            manager_id=str(staff["eve"]),
            start_date="",
        )
        stale = await c.post(f"/staff/{staff['ana']}/edit", data=data)
        assert stale.status_code == 409
        text = words(stale.text)
        assert "This changed since you opened it." in text
        assert 'id="department-now">Saved meanwhile: <strong>Sales</strong>' in stale.text
        assert 'value="Lead"' in stale.text
        again = hidden_fields(stale.text, f"/staff/{staff['ana']}/edit")
        assert again["version"] == "2"
        saved = await c.post(f"/staff/{staff['ana']}/edit", data={**data, "version": "2"})
        assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved")
        ana = await get_employee(employee_id=staff["ana"])
        assert (ana["job_title"], ana["department"], ana["version"]) == (
            "Lead",
            "Communications",
            3,
        )
        assert ana["start_date"] is None
        # A manager who would make a cycle: said next to the picker.
        cycle = await c.post(
            f"/staff/{staff['eve']}/edit",
            data=form(
                c,
                version="1",
                name="Eve Manager",
                work_email="eve@example.com",
                manager="Ana Silva",
            ),
        )
        assert cycle.status_code == 422 and 'id="manager-error"' in cycle.text
    finally:
        await c.aclose()


async def test_hr_records_a_leaving_date_and_is_told_what_follows(
    app: Any, staff: dict[str, int]
) -> None:
    """What follows is said before; the person is then leaving, listed as leaving soon; it can be taken back."""
    hr = await page_client(app, Role.hr)
    try:
        page = await hr.get(f"/staff/{staff['ana']}/leaving")
        text = words(page.text)
        assert "<h1>Ana Silva leaves</h1>" in page.text
        assert "the access grants their handover lists are revoked" in text
        assert "Start their handover now" in text
        empty = await hr.post(f"/staff/{staff['ana']}/leaving", data=form(hr, version="1"))
        assert empty.status_code == 422 and 'id="leaving_date-error">Give the date.' in empty.text
        early = await hr.post(
            f"/staff/{staff['ana']}/leaving", data=form(hr, version="1", leaving_date="2000-01-01")
        )
        assert early.status_code == 422 and 'id="leaving_date-error"' in early.text
        day = TODAY + dt.timedelta(days=20)
        done = await hr.post(
            f"/staff/{staff['ana']}/leaving",
            data=form(hr, version="1", leaving_date=day.isoformat()),
        )
        assert done.status_code == 303, done.text
        shown = words((await hr.get(done.headers["location"])).text)
        assert "The leaving date is recorded" in shown and "Next: start their handover" in shown
        assert "Status Leaving" in shown and "Change the leaving date" in shown
        soon = words((await hr.get("/staff", params={"leaving": "soon"})).text)
        assert "Ana Silva" in soon
        stale = await hr.post(
            f"/staff/{staff['ana']}/leaving",
            data=form(hr, version="1", leaving_date=day.isoformat()),
        )
        assert stale.status_code == 409 and "This changed since you opened it." in words(stale.text)
        stays = await hr.post(
            f"/staff/{staff['ana']}/leaving", data=form(hr, version="2", stays="1")
        )
        assert stays.status_code == 303
        ana = await get_employee(employee_id=staff["ana"])
        assert (ana["status"], ana["leaving_date"]) == ("active", None)
    finally:
        await hr.aclose()


# A messy export: BOM, semicolons, Windows line ends, day-first dates that read either way
# (03/04/2025), a bad e-mail, a manager who comes later in the file.
MESSY = (
    "\ufeffFull Name;Work Email;Department;Job Title;Hire Date;Reports To\r\n"
    "Gus Grant;gus@example.com;Sales;Rep;03/04/2025;hana@example.com\r\n"
    "Ivo Bad;ivo(at)example.com;Sales;Rep;01/02/2024;\r\n"
    "Hana Head;hana@example.com;Sales;Head of Sales;05/06/2019;\r\n"
).encode()


async def upload(c: httpx.AsyncClient, content: bytes) -> httpx.Response:
    """The upload form, as a browser posts it."""
    return await c.post(
        "/staff/import",
        data={"csrf_token": c.cookies["register_csrf"]},
        files={"file": ("staff.csv", content, "text/csv")},
    )


async def test_the_import_asks_the_date_order_and_lists_problems_by_line(app: Any) -> None:
    """Columns as detected; the date question with the file's own date read both ways; the bad line."""
    hr = await page_client(app, Role.hr)
    try:
        shown = await upload(hr, MESSY)
        assert shown.status_code == 200, shown.text
        text = words(shown.text)
        assert "How are dates written in this file?" in text
        assert "03/04/2025 is Apr 3, 2025" in text and "03/04/2025 is Mar 4, 2025" in text
        assert "Before the rows can be read" in text
        # The columns as detected, each with its choice.
        assert re.search(
            r'<label for="column_1">Work Email</label>.*?value="work_email" selected',
            shown.text,
            re.S,
        )
        assert re.search(
            r'<label for="column_5">Reports To</label>.*?value="manager_email" selected',
            shown.text,
            re.S,
        )
        problems = text[text.index("problem in the file") :]
        assert "3 Work e-mail 'ivo(at)example.com' is not an e-mail address" in problems
        assert "/staff/import/apply" not in shown.text
        # Asked, not yet scolded; sent back unanswered, the question says so.
        assert "Choose how the dates are written" not in text
        unanswered = await hr.post(
            "/staff/import/read", data=hidden_fields(shown.text, "/staff/import/read")
        )
        assert 'id="date_order-error">Choose how the dates are written' in unanswered.text
        # Day first: the rows as they will be read.
        again = await hr.post(
            "/staff/import/read",
            data={
                **hidden_fields(shown.text, "/staff/import/read"),
                "date_order": "DMY",
                **{
                    f"column_{i}": f
                    for i, f in enumerate(
                        [
                            "name",
                            "work_email",
                            "department",
                            "job_title",
                            "start_date",
                            "manager_email",
                        ]
                    )
                },
            },
        )
        assert again.status_code == 200
        rows = words(again.text)
        assert "2 Gus Grant gus@example.com Rep Sales hana@example.com Apr 3, 2025" in rows
        assert "1 problem in the file" in rows
        assert "/staff/import/apply" not in again.text
        # A column the reader chose not to read is left out of the rows.
        unread = await hr.post(
            "/staff/import/read",
            data={
                **hidden_fields(shown.text, "/staff/import/read"),
                "date_order": "DMY",
                "column_5": "",
            },
        )
        assert "2 Gus Grant gus@example.com Rep Sales Apr 3, 2025" in words(unread.text)
        assert "hana@example.com Apr 3" not in words(unread.text)
        # A tampered file is refused.
        fields = hidden_fields(shown.text, "/staff/import/read")
        garbled = await hr.post("/staff/import/read", data={**fields, "headers": "[not json"})
        assert garbled.status_code == 200 and "How are dates written" in garbled.text
        forged = await hr.post("/staff/import/read", data={**fields, "issued": "1"})
        assert forged.status_code == 422 and "cannot be used any more" in words(forged.text)
    finally:
        await hr.aclose()


async def test_the_imports_line_problems_are_said_in_dutch(app: Any) -> None:
    """Each line's problem in the reader's language, Python's reason for a day that does not
    exist included; the API keeps its English."""
    bad = (
        b"name,work_email,start_date\n"
        b"Ivo Bad,ivo(at)example.com,2024-01-02\n"
        b"Feb Thirty,feb@example.com,2024-02-30\n"
    )
    hr = await page_client(app, Role.hr)
    try:
        hr.headers["accept-language"] = "nl"
        shown = await upload(hr, bad)
        text = html.unescape(words(shown.text))
        assert "2 Werk-e-mailadres 'ivo(at)example.com' is geen e-mailadres" in text
        assert "'2024-02-30' is geen geldige datum (die maand heeft zo'n dag niet)" in text
        assert "is not" not in text and "out of range" not in text
    finally:
        await hr.aclose()
    with pytest.raises(InvalidInput) as exc:
        await import_employees(actor=Actor.system("test"), content=bad)
    lines = {e["line"]: e["message"] for e in exc.value.problem()["errors"]}
    assert lines[2] == "'ivo(at)example.com' is not an e-mail address"
    assert lines[3] == "'2024-02-30' is not a valid date (day is out of range for month)"


async def test_the_import_applies_what_the_preview_showed(app: Any, staff: dict[str, int]) -> None:
    """Without the bad line: month-first chosen, rows read so, applied; counts shown; a change too."""
    good = MESSY.replace(b"Ivo Bad;ivo(at)example.com", b"Ana Silva;ana@example.com")
    hr = await page_client(app, Role.hr)
    try:
        shown = await upload(hr, good)
        month_first = await hr.post(
            "/staff/import/read",
            data={
                **hidden_fields(shown.text, "/staff/import/read"),
                "date_order": "MDY",
                **{
                    f"column_{i}": f
                    for i, f in enumerate(
                        [
                            "name",
                            "work_email",
                            "department",
                            "job_title",
                            "start_date",
                            "manager_email",
                        ]
                    )
                },
            },
        )
        text = words(month_first.text)
        assert (
            "The file has 3 people who can be read. 2 would be added, 1 changed, 0 stay as they are."
            in text
        )
        assert "Gus Grant gus@example.com Rep Sales hana@example.com Mar 4, 2025 Added" in text
        assert (
            "Ana Silva ana@example.com Rep Sales Jan 2, 2024 Changed: Department (was Communications), "
            "Job title (was Officer), Start date (was " in text
        )
        assert "Manager's e-mail (was Eve Manager) 4 Hana Head" in text
        apply = hidden_fields(month_first.text, "/staff/import/apply")
        assert apply["date_order"] == "MDY"
        # The choices the preview showed are bound: a different order is refused.
        changed = await hr.post("/staff/import/apply", data={**apply, "date_order": "DMY"})
        assert changed.status_code == 422
        assert await Employee.count() == 5
        done = await hr.post("/staff/import/apply", data=apply)
        assert done.status_code == 303
        assert (
            done.headers["location"]
            == "/staff/import?imported=1&rows=3&created=2&updated=1&unchanged=0"
        )
        result = words((await hr.get(done.headers["location"])).text)
        assert "The import is done. 2 people added, 1 changed, 0 unchanged." in result
        gus = await Employee.select().where(Employee.work_email == "gus@example.com").first()
        hana = await Employee.select().where(Employee.work_email == "hana@example.com").first()
        assert gus["start_date"] == dt.date(2025, 3, 4) and gus["manager"] == hana["id"]
    finally:
        await hr.aclose()


async def test_a_file_that_decides_its_dates_is_not_asked_about(app: Any) -> None:
    """A day over 12 elsewhere settles the order: no question, rows read, apply offered."""
    content = (
        b"Name,Email,Start date\nAna,ana2@example.com,03/04/2025\nBo,bo@example.com,25/02/2024\n"
    )
    hr = await page_client(app, Role.hr)
    try:
        shown = await upload(hr, content)
        text = words(shown.text)
        assert "How are dates written" not in text
        assert "Ana ana2@example.com Apr 3, 2025 Added" in text
        assert "/staff/import/apply" in shown.text
        missing = await hr.post(
            "/staff/import",
            data={"csrf_token": hr.cookies["register_csrf"]},
            files={"other": ("x", b"", "text/plain")},
        )
        assert (
            missing.status_code == 422
            and 'id="file-error">Choose the CSV file to import.' in missing.text
        )
        png = await upload(hr, b"\x89PNG\r\n\x1a\n....")
        assert png.status_code == 422 and "PNG image" in png.text
    finally:
        await hr.aclose()


async def test_it_and_comms_read_the_directory_but_do_not_change_it(
    app: Any, staff: dict[str, int]
) -> None:
    """Reading is open to IT and comms; the forms and the import are HR's (and admins')."""
    for role in (Role.it, Role.comms):
        c = await page_client(app, role)
        try:
            listed = await c.get("/staff")
            assert listed.status_code == 200 and "Ana Silva" in listed.text
            assert (
                'href="/staff/new"' not in listed.text and 'href="/staff/import"' not in listed.text
            )
            assert (await c.get(f"/staff/{staff['ana']}")).status_code == 200
            for path in (
                "/staff/new",
                f"/staff/{staff['ana']}/edit",
                f"/staff/{staff['ana']}/leaving",
                "/staff/import",
            ):
                refused = await c.get(path)
                assert refused.status_code == 403, path
            posted = await c.post(
                f"/staff/{staff['ana']}/edit", data=form(c, version="1", name="X")
            )
            assert posted.status_code == 403
        finally:
            await c.aclose()
    it = await page_client(app, Role.it, employee_id=staff["cy"])
    try:
        # IT reads handovers, so it sees what a person holds.
        assert "What they hold in the register" in (await it.get(f"/staff/{staff['ben']}")).text
    finally:
        await it.aclose()
