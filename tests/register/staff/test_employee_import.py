"""Importing the staff directory from HR systems' CSV exports: all or nothing, errors by line."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from register.csvfiles import api_lines, said_lines
from register.i18n import translations
from register.staff.tables import Employee
from register.tables import AuditEvent
from tests.helpers import assert_problem, employee_body

URL = "/api/v1/employees/imports"
TODAY = dt.date.today()
FUTURE = TODAY + dt.timedelta(days=60)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


async def upload(
    client: httpx.AsyncClient,
    content: bytes | str,
    *,
    mapping: Any = None,
    date_order: str | None = None,
    **headers: str,
) -> httpx.Response:
    """POST a file to the import endpoint as a browser or script would."""
    data = {}
    if mapping is not None:
        data["mapping"] = mapping if isinstance(mapping, str) else json.dumps(mapping)
    if date_order is not None:
        data["date_order"] = date_order
    raw = content.encode() if isinstance(content, str) else content
    return await client.post(
        URL, files={"file": ("export.csv", raw, "text/csv")}, data=data, headers=headers
    )


def csv_bytes(
    lines: list[str], *, newline: str = "\n", encoding: str = "utf-8", bom: bool = False
) -> bytes:
    """A CSV file from its physical lines."""
    return (("\ufeff" if bom else "") + newline.join(lines) + newline).encode(encoding)


async def counts() -> tuple[int, int]:
    """Employees and audit events, to show that a refused import wrote nothing."""
    return await Employee.count(), await AuditEvent.count()


async def people() -> dict[str, dict[str, Any]]:
    """Every employee by work e-mail."""
    return {r["work_email"]: r for r in await Employee.select()}


def bamboohr_export() -> bytes:
    """A BambooHR-style export: BOM, CRLF, quoted commas and quotes, a multi-line address, blank lines."""
    return csv_bytes(
        [
            '"Employee #","First Name","Last Name","Work Email","Department","Job Title","Employment Status","Hire Date","Termination Date","Reports To (Email)","Work Address"',
            # Grace reports to Ada, who comes later in the file.
            '"1002","Grace","Hopper","Grace.Hopper@Example.COM","Engineering","VP, Engineering","Full-Time","2020-06-15","","ada@example.com","Building 5"',
            "",
            f'"1003","Linus","Torvalds","linus@example.com","Engineering","Kernel ""Chief"" Hacker","Full-Time","2021-01-04","{FUTURE.isoformat()}","grace.hopper@example.com","Building 5,\r\nFloor 2"',
            '"1004","Zoë","Ångström","zoe@example.com","Communications","Social Media Lead","Part-Time","2022-09-01","2023-12-31","grace.hopper@example.com",""',
            '"1001","Ada","Lovelace","ada@example.com","Board","Chief Executive","Full-Time","2019-03-01","","",""',
            "",
        ],
        newline="\r\n",
        bom=True,
    )


# ---------------------------------------------------------------- a realistic export


async def test_bamboohr_export_is_imported(hr: httpx.AsyncClient) -> None:
    resp = await upload(hr, bamboohr_export())
    assert resp.status_code == 200, resp.text
    summary = resp.json()
    assert {k: summary[k] for k in ("rows", "created", "updated", "unchanged")} == {
        "rows": 4,
        "created": 4,
        "updated": 0,
        "unchanged": 0,
    }
    assert summary["mapping"] == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Work Email": "work_email",
        "Department": "department",
        "Job Title": "job_title",
        "Employment Status": "status",
        "Hire Date": "start_date",
        "Termination Date": "leaving_date",
        "Reports To (Email)": "manager_email",
    }
    staff = await people()
    assert set(staff) == {
        "grace.hopper@example.com",
        "linus@example.com",
        "zoe@example.com",
        "ada@example.com",
    }
    ada, grace, linus, zoe = (
        staff[e]
        for e in (
            "ada@example.com",
            "grace.hopper@example.com",
            "linus@example.com",
            "zoe@example.com",
        )
    )
    assert (grace["name"], grace["job_title"], grace["manager"], grace["status"]) == (
        "Grace Hopper",
        "VP, Engineering",
        ada["id"],
        "active",
    )
    assert (linus["job_title"], linus["leaving_date"], linus["status"], linus["manager"]) == (
        'Kernel "Chief" Hacker',
        FUTURE,
        "leaving",
        grace["id"],
    )
    assert (zoe["name"], zoe["leaving_date"], zoe["status"]) == (
        "Zoë Ångström",
        dt.date(2023, 12, 31),
        "left",
    )
    assert (ada["start_date"], ada["manager"], ada["department"]) == (
        dt.date(2019, 3, 1),
        None,
        "Board",
    )
    assert all(p["version"] == 1 for p in staff.values())
    creates = await AuditEvent.select().where(AuditEvent.action == "employee.create")
    assert len(creates) == 4
    # One event per person, with the manager the file gave them.
    by_id = {
        int(e["object_id"]): json.loads(e["changes"])
        if isinstance(e["changes"], str)
        else e["changes"]
        for e in creates
    }
    assert by_id[grace["id"]]["manager_id"] == [None, ada["id"]]
    assert by_id[grace["id"]]["work_email"] == [None, "grace.hopper@example.com"]
    assert by_id[ada["id"]]["manager_id"] == [None, None]
    assert await AuditEvent.count().where(AuditEvent.action == "employee.import") == 1
    # The API shows what the import stored.
    listed = (await hr.get("/api/v1/employees", params={"q": "ångström"})).json()["items"]
    assert [(e["name"], e["status"]) for e in listed] == [("Zoë Ångström", "left")]


async def test_reimporting_the_same_file_changes_nothing(hr: httpx.AsyncClient) -> None:
    assert (await upload(hr, bamboohr_export())).status_code == 200
    before = await people()
    employees, events = await counts()
    resp = await upload(hr, bamboohr_export())
    assert resp.status_code == 200, resp.text
    assert {k: resp.json()[k] for k in ("rows", "created", "updated", "unchanged")} == {
        "rows": 4,
        "created": 0,
        "updated": 0,
        "unchanged": 4,
    }
    assert await people() == before
    # Only the import itself is recorded.
    assert await counts() == (employees, events + 1)


async def test_a_read_column_with_a_twin_header_is_refused(hr: httpx.AsyncClient) -> None:
    """Two "Work Email" columns: which one is right is a guess, so nothing is imported."""
    twins = (
        b"Name,Work Email,Department,Work Email\r\n"
        b"Ana Silva,ana@example.com,Comms,ana.silva@example.com\r\n"
    )
    body = assert_problem(await upload(hr, twins), 422, field="file")
    assert "'Work Email' appears more than once (columns 2, 4)" in body["detail"]
    assert await Employee.count() == 0
    # A twin of a column the import does not read is no one's business.
    unread = b"Name,Work Email,Phone,Phone\r\nAna Silva,ana@example.com,1,2\r\n"
    assert (await upload(hr, unread)).status_code == 200


async def test_a_changed_row_updates_and_bumps_the_version(hr: httpx.AsyncClient) -> None:
    assert (await upload(hr, bamboohr_export())).status_code == 200
    changed = (
        bamboohr_export()
        .replace(b"Social Media Lead", b"Head of Social")
        .replace(
            b'"Kernel ""Chief"" Hacker","Full-Time","2021-01-04","'
            + FUTURE.isoformat().encode()
            + b'","grace.hopper@example.com"',
            b'"Kernel ""Chief"" Hacker","Full-Time","2021-01-04","'
            + FUTURE.isoformat().encode()
            + b'","ada@example.com"',
        )
    )
    resp = await upload(hr, changed)
    assert resp.status_code == 200, resp.text
    assert {k: resp.json()[k] for k in ("created", "updated", "unchanged")} == {
        "created": 0,
        "updated": 2,
        "unchanged": 2,
    }
    staff = await people()
    assert (staff["zoe@example.com"]["job_title"], staff["zoe@example.com"]["version"]) == (
        "Head of Social",
        2,
    )
    assert (staff["linus@example.com"]["manager"], staff["linus@example.com"]["version"]) == (
        staff["ada@example.com"]["id"],
        2,
    )
    assert staff["ada@example.com"]["version"] == staff["grace.hopper@example.com"]["version"] == 1
    got = (await hr.get(f"/api/v1/employees/{staff['zoe@example.com']['id']}")).json()
    assert (got["job_title"], got["version"]) == ("Head of Social", 2)


async def test_import_updates_an_employee_created_through_the_api(hr: httpx.AsyncClient) -> None:
    emp = (
        await hr.post(
            "/api/v1/employees", json=employee_body(1, work_email="ada@example.com", name="Ada L.")
        )
    ).json()
    resp = await upload(hr, bamboohr_export())
    assert {k: resp.json()[k] for k in ("created", "updated", "unchanged")} == {
        "created": 3,
        "updated": 1,
        "unchanged": 0,
    }
    got = (await hr.get(f"/api/v1/employees/{emp['id']}")).json()
    assert (got["name"], got["department"], got["start_date"], got["version"]) == (
        "Ada Lovelace",
        "Board",
        "2019-03-01",
        2,
    )
    # A PATCH with the version read before the import is now stale.
    assert_problem(
        await hr.patch(f"/api/v1/employees/{emp['id']}", json={"version": 1, "name": "X"}),
        409,
        "stale-version",
    )


async def test_semicolon_windows_1252_export_from_european_excel(hr: httpx.AsyncClient) -> None:
    content = csv_bytes(
        [
            "Name;E-mail;Department;Position;Start date;End date",
            "Jürgen Müller;j.mueller@example.com;Vertrieb, Süd;Verkaufsleiter;03.04.2024;",
            'François Œuvre;f.oeuvre@example.com;"Com; Presse";Chargé de communication;15.01.2020;31.12.2023',
            "Zoë Ångström;zoe@example.com;Kommunikation;Social Media;01.02.2021;",
        ],
        newline="\r\n",
        encoding="cp1252",
    )
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    resp = await upload(hr, content)
    assert resp.status_code == 200, resp.text
    assert resp.json()["created"] == 3
    staff = await people()
    assert (
        staff["j.mueller@example.com"]["name"],
        staff["j.mueller@example.com"]["department"],
    ) == ("Jürgen Müller", "Vertrieb, Süd")
    # Dotted dates are day.month.year wherever they are written.
    assert staff["j.mueller@example.com"]["start_date"] == dt.date(2024, 4, 3)
    assert (staff["f.oeuvre@example.com"]["name"], staff["f.oeuvre@example.com"]["department"]) == (
        "François Œuvre",
        "Com; Presse",
    )
    assert (
        staff["f.oeuvre@example.com"]["leaving_date"],
        staff["f.oeuvre@example.com"]["status"],
    ) == (dt.date(2023, 12, 31), "left")
    assert staff["zoe@example.com"]["name"] == "Zoë Ångström"


async def test_german_personio_headers(hr: httpx.AsyncClient) -> None:
    content = csv_bytes(
        [
            "Vorname;Nachname;E-Mail-Adresse;Abteilung;Position;Eintrittsdatum;Austrittsdatum;Vorgesetzter (E-Mail)",
            "Anna;Schmidt;anna@example.com;Marketing;Leiterin;01.03.2019;;",
            "Bernd;Weber;bernd@example.com;Marketing;Referent;15.08.2021;;anna@example.com",
        ]
    )
    resp = await upload(hr, content)
    assert resp.status_code == 200, resp.text
    staff = await people()
    assert (staff["bernd@example.com"]["name"], staff["bernd@example.com"]["manager"]) == (
        "Bernd Weber",
        staff["anna@example.com"]["id"],
    )
    assert staff["bernd@example.com"]["start_date"] == dt.date(2021, 8, 15)


async def test_excel_unicode_text_is_utf16_and_tab_separated(hr: httpx.AsyncClient) -> None:
    content = (
        "\ufeff"
        + "Full Name\tEmail Address\tTeam\r\nŁukasz Żółć\tlukasz@example.com\tKomunikacja\r\n"
    ).encode("utf-16-le")
    resp = await upload(hr, content)
    assert resp.status_code == 200, resp.text
    staff = await people()
    assert (staff["lukasz@example.com"]["name"], staff["lukasz@example.com"]["department"]) == (
        "Łukasz Żółć",
        "Komunikacja",
    )


async def test_workday_headers_prefer_the_work_email_and_job_title(hr: httpx.AsyncClient) -> None:
    content = csv_bytes(
        [
            "Employee ID,Title,Legal Name,Personal Email,Email,Work Email,Business Title,Supervisory Organization,Original Hire Date",
            "21001,Dr,Rosalind Franklin,ros@gmail.com,rf-private@gmail.com,rosalind.franklin@example.com,Research Lead,Science,2018-07-25",
        ]
    )
    resp = await upload(hr, content)
    assert resp.status_code == 200, resp.text
    row = (await people())["rosalind.franklin@example.com"]
    assert (row["name"], row["job_title"], row["start_date"]) == (
        "Rosalind Franklin",
        "Research Lead",
        dt.date(2018, 7, 25),
    )


# ---------------------------------------------------------------- mapping


async def test_mapping_overrides_the_headers(hr: httpx.AsyncClient) -> None:
    content = csv_bytes(
        [
            "Mitarbeiter,Email,Firmen-Mail,Bereich,Seit",
            "Kim Park,kim@gmail.com,Kim.Park@example.com,Legal,2020-02-02",
        ]
    )
    # Headers and fields are matched loosely, as people type them.
    mapping = {
        "mitarbeiter": "name",
        "Firmen-Mail": "work_email",
        "Bereich": "Department",
        "Seit": " start_date ",
    }
    resp = await upload(hr, content, mapping=mapping)
    assert resp.status_code == 200, resp.text
    assert resp.json()["mapping"] == {
        "Mitarbeiter": "name",
        "Firmen-Mail": "work_email",
        "Bereich": "department",
        "Seit": "start_date",
    }
    row = (await people())["kim.park@example.com"]
    assert (row["name"], row["department"], row["start_date"]) == (
        "Kim Park",
        "Legal",
        dt.date(2020, 2, 2),
    )


async def test_mapping_can_ignore_a_column(hr: httpx.AsyncClient) -> None:
    content = csv_bytes(["Name,Work Email,Department", "Kim Park,kim@example.com,Secret Project"])
    resp = await upload(hr, content, mapping={"Department": "Ignore"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["mapping"] == {"Name": "name", "Work Email": "work_email"}
    assert (await people())["kim@example.com"]["department"] == ""


@pytest.mark.parametrize(
    "mapping", ['{"Name": "salary"}', '{"Nope": "name"}', "not json", '["Name"]', '{"Name": 3}']
)
async def test_a_bad_mapping_is_422(hr: httpx.AsyncClient, mapping: str) -> None:
    content = csv_bytes(["Name,Work Email", "Kim Park,kim@example.com"])
    assert_problem(await upload(hr, content, mapping=mapping), 422, field="mapping")
    assert await Employee.count() == 0


async def test_headers_without_an_email_column_are_a_clear_422(hr: httpx.AsyncClient) -> None:
    body = assert_problem(
        await upload(hr, csv_bytes(["Name,Phone", "Kim Park,123"])), 422, field="file"
    )
    assert "Phone" in body["detail"] and "mapping" in body["detail"]
    body = assert_problem(
        await upload(hr, csv_bytes(["Mail,Phone", "kim@example.com,123"])), 422, field="file"
    )
    assert "mapping" in body["detail"]


# ---------------------------------------------------------------- row errors


async def test_row_errors_name_physical_lines_and_nothing_is_written(hr: httpx.AsyncClient) -> None:
    existing = (
        await hr.post(
            "/api/v1/employees",
            json=employee_body(1, work_email="ok@example.com", name="Okay Person"),
        )
    ).json()
    content = csv_bytes(
        [
            "Name,Work Email,Department,Notes,Hire Date,Termination Date,Manager Email",  # 1
            "Okay Renamed,ok@example.com,Comms,,2020-01-01,,",  # 2: a valid update
            'Has Notes,notes@example.com,Comms,"first line',  # 3
            'second, line",2020-01-01,,',  # 4
            "",  # 5
            "Bad Email,not-an-email,Comms,,2020-01-01,,",  # 6
            "Bad Date,baddate@example.com,Comms,,2020-13-45,,",  # 7
            "Backwards,backwards@example.com,Comms,,2021-05-01,2021-04-01,",  # 8
            ",noname@example.com,Comms,,2020-01-01,,",  # 9
            "Dup,OK@Example.com,Comms,,2020-01-01,,",  # 10
            "Ghost Boss,ghost@example.com,Comms,,2020-01-01,,nobody@example.com",  # 11
            "Own Boss,own@example.com,Comms,,2020-01-01,,own@example.com",  # 12
            "Fine,fine@example.com,Comms,,2020-01-01,,notes@example.com",  # 13
        ],
        newline="\r\n",
    )
    before = await counts()
    resp = await upload(hr, content)
    body = assert_problem(resp, 422, "invalid-input", field="file")
    assert "nothing was imported" in body["detail"]
    assert [(e["line"], e["field"]) for e in body["errors"]] == [
        (6, "work_email"),
        (7, "start_date"),
        (8, "leaving_date"),
        (9, "name"),
        (10, "work_email"),
        (11, "manager_email"),
        (12, "manager_email"),
    ]
    messages = {e["line"]: e["message"] for e in body["errors"]}
    assert "not-an-email" in messages[6]
    assert "2020-13-45" in messages[7]
    assert "line 2" in messages[10]
    assert "nobody@example.com" in messages[11]
    assert await counts() == before
    got = (await hr.get(f"/api/v1/employees/{existing['id']}")).json()
    assert got == existing


async def test_a_reporting_cycle_in_the_file_is_refused(hr: httpx.AsyncClient) -> None:
    boss = (
        await hr.post("/api/v1/employees", json=employee_body(1, work_email="boss@example.com"))
    ).json()
    content = csv_bytes(
        [
            "Name,Email,Manager Email",
            "Boss,boss@example.com,b@example.com",
            "A,a@example.com,boss@example.com",
            "B,b@example.com,a@example.com",
            "Fine,fine@example.com,boss@example.com",
        ]
    )
    before = await counts()
    body = assert_problem(await upload(hr, content), 422, field="manager_email")
    assert sorted(e["line"] for e in body["errors"]) == [2, 3, 4]
    assert all("cycle" in e["message"] for e in body["errors"])
    assert await counts() == before
    assert (await hr.get(f"/api/v1/employees/{boss['id']}")).json()["manager_id"] is None


async def test_a_short_or_overlong_row_is_reported(hr: httpx.AsyncClient) -> None:
    long_title = "x" * 201
    content = csv_bytes(
        [
            "Name,Work Email,Job Title,Department",
            "Short Row",
            f"Long Title,long@example.com,{long_title},{'d' * 121}",
        ]
    )
    body = assert_problem(await upload(hr, content), 422, field="file")
    assert sorted((e["line"], e["field"]) for e in body["errors"]) == [
        (2, "work_email"),
        (3, "department"),
        (3, "job_title"),
    ]
    assert await Employee.count() == 0


async def test_unknown_status_words_are_reported_and_known_ones_understood(
    hr: httpx.AsyncClient,
) -> None:
    past = "2022-06-30"
    content = csv_bytes(
        [
            "Name,Work Email,Status,Termination Date",
            "A,a@example.com,Active,",
            f"B,b@example.com,Terminated,{past}",
            f"C,c@example.com,Active,{FUTURE.isoformat()}",
            "D,d@example.com,Contractor,",
            "E,e@example.com,Retired?,",
        ]
    )
    body = assert_problem(await upload(hr, content), 422, field="file")
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(6, "status")]
    resp = await upload(hr, content.replace(b"E,e@example.com,Retired?,\n", b""))
    assert resp.status_code == 200, resp.text
    staff = await people()
    assert {e: staff[e]["status"] for e in staff} == {
        "a@example.com": "active",
        "b@example.com": "left",
        "c@example.com": "leaving",
        "d@example.com": "active",
    }


# ---------------------------------------------------------------- dates


def dated(*dates: str) -> bytes:
    return csv_bytes(
        ["Name,Work Email,Hire Date", *(f"P{n},p{n}@example.com,{d}" for n, d in enumerate(dates))]
    )


async def test_an_ambiguous_date_is_a_clear_error(hr: httpx.AsyncClient) -> None:
    body = assert_problem(await upload(hr, dated("2020-01-01", "03/04/2024")), 422, field="file")
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(3, "start_date")]
    assert (
        "03/04/2024" in body["errors"][0]["message"]
        and "date_order" in body["errors"][0]["message"]
    )
    assert await Employee.count() == 0


@pytest.mark.parametrize(
    ("order", "expected"),
    [("MDY", dt.date(2024, 3, 4)), ("DMY", dt.date(2024, 4, 3)), ("dmy", dt.date(2024, 4, 3))],
)
async def test_date_order_resolves_ambiguous_dates(
    hr: httpx.AsyncClient, order: str, expected: dt.date
) -> None:
    resp = await upload(hr, dated("03/04/2024"), date_order=order)
    assert resp.status_code == 200, resp.text
    assert (await people())["p0@example.com"]["start_date"] == expected


@pytest.mark.parametrize(
    ("other", "expected"),
    [("25/12/2023", dt.date(2024, 4, 3)), ("12/25/2023", dt.date(2024, 3, 4))],
)
async def test_a_day_over_12_elsewhere_in_the_file_infers_the_order(
    hr: httpx.AsyncClient, other: str, expected: dt.date
) -> None:
    resp = await upload(hr, dated("03/04/2024", other))
    assert resp.status_code == 200, resp.text
    assert (await people())["p0@example.com"]["start_date"] == expected


async def test_a_file_mixing_date_orders_is_refused(hr: httpx.AsyncClient) -> None:
    assert_problem(await upload(hr, dated("25/12/2023", "12/25/2023")), 422, field="date_order")
    assert await Employee.count() == 0


async def test_a_bad_date_order_is_422(hr: httpx.AsyncClient) -> None:
    assert_problem(await upload(hr, dated("03/04/2024"), date_order="YMD"), 422, field="date_order")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-04", dt.date(2024, 3, 4)),
        ("4 March 2024", dt.date(2024, 3, 4)),
        ('"Mar 4, 2024"', dt.date(2024, 3, 4)),
        ("04-Mar-2024", dt.date(2024, 3, 4)),
        ("2024-03-04 00:00:00", dt.date(2024, 3, 4)),
        ("4/3/24", dt.date(2024, 3, 4)),
    ],
)
async def test_date_forms_hr_systems_write(
    hr: httpx.AsyncClient, text: str, expected: dt.date
) -> None:
    resp = await upload(hr, dated(text), date_order="DMY")
    assert resp.status_code == 200, resp.text
    assert (await people())["p0@example.com"]["start_date"] == expected


# ---------------------------------------------------------------- not a CSV


@pytest.mark.parametrize(
    "content",
    [
        PNG,
        b"",
        b"   \r\n\r\n",
        b"Name,Work Email\r\n",
        b"Name,Work Email\r\n\r\n,\r\n",
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00",
    ],
    ids=["png", "empty", "blank", "header-only", "header-and-empty-rows", "xlsx"],
)
async def test_a_file_that_is_not_a_usable_csv_is_a_clear_422(
    hr: httpx.AsyncClient, content: bytes
) -> None:
    before = await counts()
    body = assert_problem(await upload(hr, content), 422, "invalid-input", field="file")
    assert body["detail"]
    assert await counts() == before


async def test_a_nul_byte_deep_in_the_file_is_refused_as_binary(hr: httpx.AsyncClient) -> None:
    rows = b"".join(f"P{i},p{i}@example.com\r\n".encode() for i in range(400))
    good = b"Name,Work Email\r\n" + rows
    bad = good + b"Nul\x00Name,nul@example.com\r\n"
    body = assert_problem(await upload(hr, bad), 422, field="file")
    assert "binary" in body["detail"]
    assert await Employee.count() == 0
    assert (await upload(hr, good)).json()["created"] == 400


async def test_a_form_without_the_file_is_422(hr: httpx.AsyncClient) -> None:
    resp = await hr.post(
        URL, files={"upload": ("x.csv", b"Name,Email\nA,a@example.com\n", "text/csv")}
    )
    assert_problem(resp, 422, field="file")


async def test_two_files_are_422(hr: httpx.AsyncClient) -> None:
    one = ("a.csv", b"Name,Email\nA,a@example.com\n", "text/csv")
    resp = await hr.post(URL, files=[("file", one), ("file", one)])
    assert_problem(resp, 422, field="file")
    assert await Employee.count() == 0


async def test_a_json_body_is_refused_cleanly(hr: httpx.AsyncClient) -> None:
    resp = await hr.post(URL, json={"file": "Name,Email\nA,a@example.com\n"})
    assert resp.status_code in (400, 415, 422), resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert await Employee.count() == 0


async def test_an_excel_sep_line_names_the_delimiter(hr: httpx.AsyncClient) -> None:
    content = csv_bytes(
        ["sep=;", "Name;Work Email;Department", "Kim Park;kim@example.com;Legal, Risk"]
    )
    resp = await upload(hr, content)
    assert resp.status_code == 200, resp.text
    assert (await people())["kim@example.com"]["department"] == "Legal, Risk"


async def test_an_unterminated_quote_is_reported_on_its_line(hr: httpx.AsyncClient) -> None:
    content = csv_bytes(
        [
            "Name,Work Email,Department",
            "Kim Park,kim@example.com,Legal",
            'Lee Chan,lee@example.com,"Comms',
            "Max Roe,max@example.com,IT",
        ]
    )
    before = await counts()
    body = assert_problem(await upload(hr, content), 422, field="file")
    assert [e["line"] for e in body["errors"]] == [3]
    assert await counts() == before


# ---------------------------------------------------------------- the preview the pages show


async def test_a_preview_reads_like_the_import_and_writes_nothing(hr: httpx.AsyncClient) -> None:
    """Columns, rows with what each would do, counts and manager errors; no row, no audit event."""
    from register.staff.files import preview_import

    assert (await hr.post("/api/v1/employees", json=employee_body(1))).status_code == 201
    before = await counts()
    content = csv_bytes(
        [
            "Name;Email;Team;Manager",
            "Person 1;person1@example.com;Board;",
            "New One;new@example.com;Sales;person1@example.com",
            "Lost;lost@example.com;Sales;nobody@example.com",
        ],
        newline="\r\n",
        bom=True,
    )
    shown = await preview_import(content=content)
    assert await counts() == before
    assert [(c["header"], c["field"]) for c in shown["columns"]] == [
        ("Name", "name"),
        ("Email", "work_email"),
        ("Team", "department"),
        ("Manager", "manager_email"),
    ]
    assert [(r["line"], r["action"], r["changed"]) for r in shown["rows"]] == [
        (2, "update", ["department"]),
        (3, "create", []),
        (4, "create", []),
    ]
    assert (shown["total"], shown["created"], shown["updated"], shown["unchanged"]) == (3, 2, 1, 0)
    assert api_lines(shown["errors"]) == [
        {
            "line": 4,
            "field": "manager_email",
            "message": "no employee with e-mail nobody@example.com in the directory or the file",
        }
    ]
    # A page says each line's problem in its reader's words.
    dutch = said_lines(shown["errors"], translations("nl").gettext)
    assert dutch[0]["message"] == (
        "geen medewerker met e-mailadres nobody@example.com in het personeelsbestand of het bestand"
    )
    assert not shown["ambiguous"] and shown["date_order"] is None


async def test_a_preview_says_when_the_date_order_is_open(hr: httpx.AsyncClient) -> None:
    """Dates that read either way: asked, not line errors; a day over 12 settles it; mixed is open."""
    from register.staff.files import preview_import

    either = csv_bytes(["Name,Email,Start date", "A,a@example.com,03/04/2025", "B,b@example.com,"])
    shown = await preview_import(content=either)
    assert shown["ambiguous"] and shown["undecided"] == ["03/04/2025"] and not shown["errors"]
    assert [r["line"] for r in shown["rows"]] == [3]
    chosen = await preview_import(content=either, date_order="DMY")
    assert chosen["rows"][0]["values"]["start_date"] == dt.date(2025, 4, 3)
    assert chosen["ambiguous"] and chosen["date_order"] == "DMY"
    settled = csv_bytes(
        ["Name,Email,Start date", "A,a@example.com,03/04/2025", "B,b@example.com,25/12/2024"]
    )
    shown = await preview_import(content=settled)
    assert not shown["ambiguous"] and shown["date_order"] == "DMY"
    mixed = csv_bytes(
        ["Name,Email,Start date", "A,a@example.com,13/04/2025", "B,b@example.com,12/25/2024"]
    )
    shown = await preview_import(content=mixed)
    assert shown["ambiguous"] and shown["mixed"] and shown["date_order"] is None
    read = await preview_import(content=mixed, date_order="MDY")
    assert [e["line"] for e in read["errors"]] == [2]


async def test_the_date_question_quotes_dates_that_differ_by_order_first() -> None:
    """01/01/2026 reads the same either way: quoted only when nothing better shows the question."""
    from register.staff.files import preview_import

    rows = ["Name,Email,Start date", "A,a@example.com,01/01/2026", "B,b@example.com,03/04/2025"]
    shown = await preview_import(content=csv_bytes(rows))
    assert shown["ambiguous"] and shown["undecided"] == ["03/04/2025", "01/01/2026"]
    only_same = await preview_import(content=csv_bytes(rows[:2]))
    assert only_same["ambiguous"] and only_same["undecided"] == ["01/01/2026"]
