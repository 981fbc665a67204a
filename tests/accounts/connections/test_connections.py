"""LinkedIn connections: importing the real export and its quirks, the employment window, re-import diffs."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from accounts.connections.services import index_pending
from register.actor import Actor
from register.enums import Role
from register.staff.services import create_employee
from tests.helpers import assert_problem

# A copy of the shared generator, kept in the repository so a clean clone runs on its own.
GENERATOR = Path(__file__).resolve().parents[2] / "data" / "make_linkedin_export.py"
HEADER = "First Name,Last Name,URL,Email Address,Company,Position,Connected On"
PREAMBLE = (
    'Notes:\n"When exporting your connection data, you may notice that some of the email '
    'addresses are missing."\n\n'
)
TODAY = dt.date.today()


def linkedin_export(rows: int, *, seed: int = 7, since: dt.date, until: dt.date) -> bytes:
    """A real export from the shared generator (the same tool the benchmarks use)."""
    out = subprocess.run(
        [
            sys.executable,
            str(GENERATOR),
            str(rows),
            "--seed",
            str(seed),
            "--since",
            since.isoformat(),
            "--until",
            until.isoformat(),
        ],
        check=True,
        capture_output=True,
    )
    return out.stdout


def data_rows(content: bytes) -> list[list[str]]:
    """The connection rows of an export (after its header)."""
    text = content.decode("utf-8-sig")
    records = list(csv.reader(io.StringIO(text, newline="")))
    start = next(i for i, r in enumerate(records) if r[:2] == ["First Name", "Last Name"])
    return [r for r in records[start + 1 :] if r]


def without_url(content: bytes) -> bytes:
    """The older layout: the same export without its URL column."""
    text = content.decode("utf-8")
    head, _, body = text.partition(HEADER + "\n")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c for c in HEADER.split(",") if c != "URL"])
    for row in csv.reader(io.StringIO(body, newline="")):
        if row:
            writer.writerow(row[:2] + row[3:])
    return (head + out.getvalue()).encode("utf-8")


def hand_made(*rows: str, preamble: str = PREAMBLE, header: str = HEADER) -> bytes:
    """A small export written by hand, for edge cases."""
    return (preamble + header + "\n" + "".join(r + "\n" for r in rows)).encode("utf-8")


async def upload(
    client: httpx.AsyncClient, employee_id: int, content: bytes, name: str = "Connections.csv"
) -> httpx.Response:
    """POST the export as the multipart form LinkedIn users would send."""
    return await client.post(
        f"/api/v1/employees/{employee_id}/connections/imports",
        files={"file": (name, content, "text/csv")},
    )


async def all_connections(client: httpx.AsyncClient, employee_id: int, **params: Any) -> list[dict]:
    """Every page of an employee's connections."""
    items: list[dict] = []
    offset: int | None = 0
    while offset is not None:
        resp = await client.get(
            f"/api/v1/employees/{employee_id}/connections",
            params={"limit": 200, "offset": offset, **params},
        )
        assert resp.status_code == 200, resp.text
        items += resp.json()["items"]
        offset = resp.json()["next_offset"]
    return items


@pytest.fixture
async def staff(app: Any) -> dict[str, dict[str, Any]]:
    """Employees with known employment windows."""
    actor = Actor.system("test")
    made = {}
    for key, start, leaving in (
        ("rec", TODAY - dt.timedelta(days=1000), None),
        ("new", TODAY - dt.timedelta(days=100), None),
        ("left", TODAY - dt.timedelta(days=1000), TODAY - dt.timedelta(days=200)),
        ("succ", TODAY - dt.timedelta(days=500), None),
    ):
        made[key] = await create_employee(
            actor=actor,
            data={
                "name": {"rec": "Rita Reyes", "new": "Nils Newcomer", "left": "Lea Leaver"}.get(
                    key, "Sam Successor"
                ),
                "work_email": f"{key}@example.com",
                "start_date": start,
                "leaving_date": leaving,
            },
        )
    return made


# ---------------------------------------------------------------- import and file quirks


async def test_real_export_imports_with_its_preamble_and_records_the_digest(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """The generator's 400-row export: preamble skipped, every field kept, SHA-256 recorded."""
    rec = staff["rec"]
    content = linkedin_export(400, since=TODAY - dt.timedelta(days=900), until=TODAY)
    resp = await upload(hr, rec["id"], content)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["duplicate"] is False
    summary = body["import"]
    assert summary["rows"] == 400 and summary["added"] == 400
    assert summary["sha256"] == hashlib.sha256(content).hexdigest()
    assert summary["layout"] == "with_url" and summary["filename"] == "Connections.csv"
    assert summary["employee_id"] == rec["id"] and summary["before_employment"] == 0
    held = await all_connections(hr, rec["id"])
    assert len(held) == 400
    source = {r[2]: r for r in data_rows(content)}
    for item in held:
        row = source[item["profile_url"]]
        assert [item["first_name"], item["last_name"]] == row[:2]
        assert item["email"] == row[3] and item["company"] == row[4] and item["position"] == row[5]
        assert dt.date.fromisoformat(item["connected_on"]).strftime("%d %b %Y") == row[6]
        assert item["state"] == "held" and item["import_id"] == summary["id"]
        assert item["employee_id"] == rec["id"] and item["gone_on"] is None
    # Commas, quotes and non-ASCII letters survive.
    companies = {i["company"] for i in held}
    assert "Globex, Inc." in companies and 'The "Good" Agency' in companies
    assert any(not i["first_name"].isascii() or not i["last_name"].isascii() for i in held)
    imports = await hr.get(f"/api/v1/employees/{rec['id']}/connections/imports")
    assert imports.status_code == 200
    assert [i["sha256"] for i in imports.json()["items"]] == [summary["sha256"]]


async def test_bom_and_crlf_are_read_like_the_plain_file(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """A UTF-8 BOM and CRLF line ends (Windows) give exactly the same connections."""
    content = linkedin_export(120, seed=3, since=TODAY - dt.timedelta(days=400), until=TODAY)
    windows = b"\xef\xbb\xbf" + content.replace(b"\n", b"\r\n")
    plain = await upload(hr, staff["rec"]["id"], content)
    crlf = await upload(hr, staff["succ"]["id"], windows)
    assert plain.status_code == 200 and crlf.status_code == 200, crlf.text
    assert crlf.json()["import"]["added"] == plain.json()["import"]["added"] == 120
    strip = ("id", "employee_id", "import_id")
    mine = [
        {k: v for k, v in i.items() if k not in strip}
        for i in await all_connections(hr, staff["rec"]["id"])
    ]
    theirs = [
        {k: v for k, v in i.items() if k not in strip}
        for i in await all_connections(hr, staff["succ"]["id"])
    ]
    assert mine == theirs
    assert not any("\r" in i["position"] or "\ufeff" in i["first_name"] for i in theirs)


async def test_older_layout_without_url(hr: httpx.AsyncClient, staff: dict) -> None:
    """Exports from before LinkedIn added the URL column import, and re-import by name and date."""
    content = without_url(
        linkedin_export(80, seed=5, since=TODAY - dt.timedelta(days=900), until=TODAY)
    )
    first = await upload(hr, staff["rec"]["id"], content)
    assert first.status_code == 200, first.text
    assert first.json()["import"]["layout"] == "without_url"
    assert first.json()["import"]["added"] == 80
    held = await all_connections(hr, staff["rec"]["id"])
    assert {i["profile_url"] for i in held} == {""}
    # The same people in a file that differs (CRLF): nothing new, nothing gone.
    again = await upload(hr, staff["rec"]["id"], content.replace(b"\n", b"\r\n"))
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is False
    summary = again.json()["import"]
    assert (summary["added"], summary["unchanged"], summary["gone"]) == (0, 80, 0)


async def test_header_is_found_not_skipped(hr: httpx.AsyncClient, staff: dict) -> None:
    """No preamble, a longer preamble, or columns in another order: the header row is found."""
    row = "Ana,Silva,https://www.linkedin.com/in/ana-silva,,Acme,CFO,07 Dec 2025"
    for n, (preamble, header, line) in enumerate(
        (
            ("", HEADER, row),
            ("Notes:\nline one\nline two, with a comma\n\n\n", HEADER, row),
            (
                PREAMBLE,
                "Connected On,Company,First Name,Last Name,URL,Email Address,Position",
                "07 Dec 2025,Acme,Ana,Silva,https://www.linkedin.com/in/ana-silva,,CFO",
            ),
        )
    ):
        employee = staff["rec"] if n == 0 else (staff["succ"] if n == 1 else staff["new"])
        if n == 2:
            # The newcomer started 100 days ago: use a date inside that window.
            when = (TODAY - dt.timedelta(days=5)).strftime("%d %b %Y")
            line = line.replace("07 Dec 2025", when)
        resp = await upload(hr, employee["id"], hand_made(line, preamble=preamble, header=header))
        assert resp.status_code == 200, resp.text
        held = await all_connections(hr, employee["id"])
        assert [(i["first_name"], i["company"], i["position"]) for i in held] == [
            ("Ana", "Acme", "CFO")
        ]


async def test_files_that_are_not_exports_get_422_saying_why(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """A staff list, a spreadsheet, an empty file, a messages export: each refused with the reason."""
    rec = staff["rec"]["id"]
    cases = [
        (b"name,work_email\nAna,ana@example.com\n", "not a LinkedIn connections export"),
        (b"PK\x03\x04rest-of-a-zip", "Excel workbook"),
        (b"", "the file is empty"),
        (
            b"CONVERSATION ID,CONVERSATION TITLE,FROM,TO,DATE,CONTENT\n1,,A,B,2024-01-01,hi\n",
            "messages export",
        ),
        (PREAMBLE.encode() + HEADER.encode() + b"\n", "no connections under it"),
    ]
    for content, reason in cases:
        body = assert_problem(await upload(hr, rec, content), 422, "invalid-input", "file")
        assert reason in body["detail"], body
    # A form whose file field holds no file (nothing chosen).
    nothing = await hr.post(
        f"/api/v1/employees/{rec}/connections/imports", files={"file": (None, b"")}
    )
    body = assert_problem(nothing, 422, "invalid-input", "file")
    assert "attach the Connections.csv" in body["detail"], body
    assert await all_connections(hr, rec) == []


async def test_a_mostly_unreadable_file_is_refused_whole_with_every_bad_line(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """Every bad row, with its line and reason; when most rows are bad nothing is written."""
    when = "07 Dec 2025"
    content = hand_made(
        f"Ana,Silva,https://www.linkedin.com/in/ana-silva,,Acme,CFO,{when}",  # line 5: fine
        "Ben,Okoro,https://www.linkedin.com/in/ben,,Acme,CFO,31 Feb 2024",  # 6: no such day
        f"Cy,Lee,https://example.com/in/cy,,Acme,CFO,{when}",  # 7: not LinkedIn
        f",,,,Acme,CFO,{when}",  # 8: nobody
        f"Dee,Ng,https://www.linkedin.com/in/dee,not-an-email,Acme,CFO,{when}",  # 9
        f"Ana,Silva,https://www.linkedin.com/in/ANA-SILVA/,,Acme,CFO,{when}",  # 10: merged
        "Eve,Ito,https://www.linkedin.com/in/eve,,Acme,CFO,",  # 11: no date
        "Fay,Ott,https://www.linkedin.com/in/fay,,Acme,CFO",  # 12: short row
        "Gil,Day,https://www.linkedin.com/in/gil,,Acme,CFO,07 Dec 2999",  # 13: future
        f"Hal,Ito,https://www.linkedin.com/in/,,Acme,CFO,{when}",  # 14: no profile in the URL
    )
    body = assert_problem(await upload(hr, staff["rec"]["id"], content), 422, "invalid-input")
    found = [(e["line"], e["field"]) for e in body["errors"]]
    assert found == [
        (6, "connected_on"),
        (7, "profile_url"),
        (8, "first_name"),
        (9, "email"),
        (11, "connected_on"),
        (12, "file"),
        (13, "connected_on"),
        (14, "profile_url"),
    ]
    # A contact's e-mail or URL is never repeated in the answer (it may be kept for replays).
    assert "not-an-email" not in str(body) and "example.com/in/cy" not in str(body)
    assert "8 of 10 rows cannot be read" in body["detail"], body["detail"]
    assert await all_connections(hr, staff["rec"]["id"]) == []
    imports = await hr.get(f"/api/v1/employees/{staff['rec']['id']}/connections/imports")
    assert imports.json()["items"] == []


async def test_an_unterminated_quote_is_a_line_error(hr: httpx.AsyncClient, staff: dict) -> None:
    """A broken quote is reported on its line, not swallowed into one giant field."""
    content = hand_made(
        'Ana,Silva,https://www.linkedin.com/in/ana,,"Acme, Inc.,CFO,07 Dec 2025',
    )
    body = assert_problem(await upload(hr, staff["rec"]["id"], content), 422, "invalid-input")
    assert body["errors"][0]["line"] == 5


async def test_same_file_twice_changes_nothing(
    hr: httpx.AsyncClient, admin: httpx.AsyncClient, staff: dict
) -> None:
    """The second upload of the same file answers the first import and writes nothing."""
    content = linkedin_export(50, seed=11, since=TODAY - dt.timedelta(days=900), until=TODAY)
    first = await upload(hr, staff["rec"]["id"], content)
    trail = (await admin.get("/api/v1/audit/events", params={"limit": 200})).json()["items"]
    second = await upload(hr, staff["rec"]["id"], content)
    assert second.status_code == 200
    assert second.json() == {"duplicate": True, "import": first.json()["import"], "problems": []}
    assert len(await all_connections(hr, staff["rec"]["id"])) == 50
    imports = await hr.get(f"/api/v1/employees/{staff['rec']['id']}/connections/imports")
    assert len(imports.json()["items"]) == 1
    after = (await admin.get("/api/v1/audit/events", params={"limit": 200})).json()["items"]
    assert [e["seq"] for e in after] == [e["seq"] for e in trail]


async def test_profile_urls_are_normalised(hr: httpx.AsyncClient, staff: dict) -> None:
    """Country hosts, http, query strings, case and percent-encoding come out in one form."""
    when = (TODAY - dt.timedelta(days=10)).strftime("%d %b %Y")
    content = hand_made(
        f"Ana,Silva,http://uk.linkedin.com/in/Ana-Silva/?trk=people,ANA@Example.ORG,Acme,CFO,{when}",
        f"Chloé,Dubois,https://www.linkedin.com/in/chlo%C3%A9-dubois,,Acme,CFO,{when}",
        f"Old,Timer,linkedin.com/pub/old-timer/1/23/456,,Acme,CFO,{when}",
    )
    resp = await upload(hr, staff["rec"]["id"], content)
    assert resp.status_code == 200, resp.text
    held = {i["first_name"]: i for i in await all_connections(hr, staff["rec"]["id"])}
    assert held["Ana"]["profile_url"] == "https://www.linkedin.com/in/ana-silva"
    assert held["Ana"]["email"] == "ana@example.org"
    assert held["Chloé"]["profile_url"] == "https://www.linkedin.com/in/chloé-dubois"
    assert held["Old"]["profile_url"] == "https://www.linkedin.com/pub/old-timer/1/23/456"


async def test_an_employee_without_a_start_date_is_refused(hr: httpx.AsyncClient, app: Any) -> None:
    """Without a start date the employment window is unknown: 422 naming start_date."""
    person = await create_employee(
        actor=Actor.system("test"), data={"name": "No Start", "work_email": "nostart@example.com"}
    )
    content = hand_made("Ana,Silva,https://www.linkedin.com/in/ana,,Acme,CFO,07 Dec 2025")
    assert_problem(await upload(hr, person["id"], content), 422, "invalid-input", "start_date")
    assert_problem(await upload(hr, 999999, content), 404, "not-found")


# ---------------------------------------------------------------- the employment window


async def test_connections_from_before_the_job_are_counted_not_stored(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """The newcomer's older connections are theirs: counted in the summary, not kept."""
    new = staff["new"]
    start = (
        dt.date.fromisoformat(new["start_date"])
        if isinstance(new["start_date"], str)
        else new["start_date"]
    )
    content = linkedin_export(300, seed=2, since=start - dt.timedelta(days=400), until=TODAY)
    dates = [dt.datetime.strptime(r[6], "%d %b %Y").date() for r in data_rows(content)]
    inside = sum(1 for d in dates if d >= start)
    resp = await upload(hr, new["id"], content)
    assert resp.status_code == 200, resp.text
    summary = resp.json()["import"]
    assert summary["before_employment"] == 300 - inside > 0
    assert summary["added"] == inside
    held = await all_connections(hr, new["id"])
    assert len(held) == inside
    assert min(dt.date.fromisoformat(i["connected_on"]) for i in held) >= start


async def test_connections_after_leaving_are_not_the_employers(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """A leaver's export taken later: connections made after the leaving date are counted only."""
    left = staff["left"]
    leaving = TODAY - dt.timedelta(days=200)
    content = linkedin_export(200, seed=4, since=TODAY - dt.timedelta(days=900), until=TODAY)
    dates = [dt.datetime.strptime(r[6], "%d %b %Y").date() for r in data_rows(content)]
    resp = await upload(hr, left["id"], content)
    assert resp.status_code == 200, resp.text
    summary = resp.json()["import"]
    assert summary["after_employment"] == sum(1 for d in dates if d > leaving) > 0
    assert summary["added"] == sum(1 for d in dates if d <= leaving)


# ---------------------------------------------------------------- re-import diff


async def test_reimport_adds_new_marks_gone_and_brings_back(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """A later export adds the new, marks the missing gone on that date (kept), and returns them."""
    rec = staff["rec"]["id"]
    since = TODAY - dt.timedelta(days=900)
    full = linkedin_export(200, seed=21, since=since, until=TODAY)
    header, rows = full.split(HEADER.encode() + b"\n")[0], data_rows(full)

    def export(selected: list[list[str]]) -> bytes:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([HEADER.split(","), *selected])
        return header + out.getvalue().encode()

    first = await upload(hr, rec, export(rows[:150]))
    assert first.json()["import"]["added"] == 150
    # Later: 20 removed from the profile, 50 new ones made.
    second = await upload(hr, rec, export(rows[20:200]))
    summary = second.json()["import"]
    assert (summary["added"], summary["gone"], summary["unchanged"]) == (50, 20, 130)
    held = await all_connections(hr, rec)
    assert len(held) == 200
    gone = {i["profile_url"] for i in held if i["gone_on"]}
    assert gone == {r[2] for r in rows[:20]}
    assert {i["gone_on"] for i in held if i["gone_on"]} == {TODAY.isoformat()}
    assert {i["state"] for i in held} == {"held"}
    only_gone = await all_connections(hr, rec, gone="true")
    assert len(only_gone) == 20
    # Five reconnect: back on the profile.
    third = await upload(hr, rec, export(rows[15:200]))
    summary = third.json()["import"]
    assert (summary["returned"], summary["added"], summary["gone"]) == (5, 0, 0)
    assert len(await all_connections(hr, rec, gone="true")) == 15


# ---------------------------------------------------------------- the register


async def test_search_name_company_position_owner_with_pages(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """Search finds by name, company, position and owner, newest first, page by page."""
    from accounts.connections.files import import_connections

    when = (TODAY - dt.timedelta(days=30)).strftime("%d %b %Y")
    # Through the service, so nothing runs the indexer: the first searches scan the tail.
    await import_connections(
        actor=Actor.system("test"),
        employee_id=staff["rec"]["id"],
        content=hand_made(
            f"Zoë,Müller,https://www.linkedin.com/in/zoe-mueller,,Umbrella Health,Head of People,{when}",
            f'Tomás,Rossi,https://www.linkedin.com/in/tomas-rossi,,"Globex, Inc.",Recruiter,{when}',
            f"Ana,Li,https://www.linkedin.com/in/ana-li,,Initech,CFO,{when}",
        ),
    )
    await import_connections(
        actor=Actor.system("test"),
        employee_id=staff["succ"]["id"],
        content=hand_made(
            f"Ines,Quinn,https://www.linkedin.com/in/ines-quinn,,Hooli,Recruiter,{when}"
        ),
    )

    async def names(**params: Any) -> list[str]:
        resp = await hr.get("/api/v1/connections", params=params)
        assert resp.status_code == 200, resp.text
        return [f"{i['first_name']} {i['last_name']}" for i in resp.json()["items"]]

    # Not yet indexed (the tail is scanned), then indexed: the same answers.
    for indexed in (False, True):
        if indexed:
            assert await index_pending() == 4
        assert await names(q="müller") == ["Zoë Müller"]
        assert await names(q="MÜLLER") == ["Zoë Müller"]
        assert await names(q="globex") == ["Tomás Rossi"]
        assert await names(q="recruiter") == ["Ines Quinn", "Tomás Rossi"]
        assert await names(q="head people") == ["Zoë Müller"]
        # Short words match inside any field: "li" is in Ana Li and in Hooli (Ines' company).
        assert await names(q="Li") == ["Ines Quinn", "Ana Li"]
        assert await names(q="sam successor") == ["Ines Quinn"]
        assert await names(q="recruiter", employee_id=staff["rec"]["id"]) == ["Tomás Rossi"]
        assert await names(q="nobody-like-this") == []
    first = await hr.get("/api/v1/connections", params={"limit": 2})
    assert first.json()["next_offset"] == 2 and len(first.json()["items"]) == 2
    rest = await hr.get("/api/v1/connections", params={"limit": 2, "offset": 2})
    assert rest.json()["next_offset"] is None and len(rest.json()["items"]) == 2
    ids = [i["id"] for i in first.json()["items"] + rest.json()["items"]]
    assert ids == sorted(ids, reverse=True)
    paged = await hr.get("/api/v1/connections", params={"q": "r", "limit": 1, "offset": 1})
    assert paged.status_code == 200 and len(paged.json()["items"]) == 1


async def test_export_csv_in_linkedins_layout_reimports(hr: httpx.AsyncClient, staff: dict) -> None:
    """The successor's CSV has LinkedIn's columns and dates, and imports as an export would."""
    content = linkedin_export(60, seed=9, since=TODAY - dt.timedelta(days=400), until=TODAY)
    await upload(hr, staff["rec"]["id"], content)
    resp = await hr.get(f"/api/v1/employees/{staff['rec']['id']}/connections/export.csv")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    lines = resp.text.splitlines()
    assert lines[0] == HEADER
    exported = list(csv.reader(io.StringIO(resp.text)))[1:]
    assert sorted(map(tuple, exported)) == sorted(map(tuple, data_rows(content)))
    again = await upload(hr, staff["succ"]["id"], resp.content, "successor.csv")
    assert again.status_code == 200 and again.json()["import"]["added"] == 60


async def test_states_move_on_and_stale_moves_conflict(hr: httpx.AsyncClient, staff: dict) -> None:
    """Exported to the successor, then deletion attested; nothing left to move is 409."""
    rec = staff["rec"]["id"]
    await upload(
        hr, rec, linkedin_export(10, seed=1, since=TODAY - dt.timedelta(days=400), until=TODAY)
    )
    path = f"/api/v1/employees/{rec}/connections/state"
    moved = await hr.post(path, json={"state": "exported_to_successor"})
    assert moved.status_code == 200 and moved.json()["changed"] == 10
    assert_problem(await hr.post(path, json={"state": "exported_to_successor"}), 409, "conflict")
    attested = await hr.post(path, json={"state": "deletion_attested", "note": "letter received"})
    assert attested.json()["changed"] == 10
    assert {i["state"] for i in await all_connections(hr, rec)} == {"deletion_attested"}
    assert_problem(await hr.post(path, json={"state": "erased"}), 422, "invalid-input", "state")
    assert_problem(await hr.post(path, json={"state": "held"}), 422, "invalid-input", "state")


async def test_cli_import_by_work_email(
    settings: Any, hr: httpx.AsyncClient, staff: dict, tmp_path: Path
) -> None:
    """`register connections import --employee EMAIL FILE` imports, and reports bad rows by line."""
    from tests.cli import run_cli

    good = tmp_path / "Connections.csv"
    good.write_bytes(linkedin_export(40, seed=6, since=TODAY - dt.timedelta(days=400), until=TODAY))
    result = await run_cli(
        settings, "connections", "import", "--employee", "REC@example.com", str(good)
    )
    assert result.code == 0, result
    assert '"added": 40' in result.out
    assert len(await all_connections(hr, staff["rec"]["id"])) == 40
    bad = tmp_path / "bad.csv"
    bad.write_bytes(hand_made("Ana,Silva,https://www.linkedin.com/in/ana,,Acme,CFO,someday"))
    result = await run_cli(
        settings, "connections", "import", "--employee", "rec@example.com", str(bad)
    )
    assert result.code == 2 and "line 5" in result.err, result
    missing = await run_cli(
        settings, "connections", "import", "--employee", "nobody@example.com", str(good)
    )
    assert missing.code == 2 and "nobody@example.com" in missing.err


async def test_demo_imports_a_few_employees(app: Any, hr: httpx.AsyncClient) -> None:
    """`register demo`'s connections step: three imports, one re-import with connections gone."""
    from accounts.connections.demo import CONNECTION_OWNERS, demo_connections
    from accounts.connections.services import search

    ids = {}
    for n, (name, _) in enumerate(CONNECTION_OWNERS):
        person = await create_employee(
            actor=Actor.system("test"),
            data={
                "name": name,
                "work_email": f"demo{n}@example.com",
                "start_date": TODAY - dt.timedelta(days=700),
            },
        )
        ids[name] = person["id"]
    lines = await demo_connections(Actor.system("demo"), {"employee_ids": ids, "today": TODAY})
    assert len(lines) == 4 and "gone from the profile" in lines[-1]
    for name in ids:
        held = await all_connections(hr, ids[name])
        assert held, name
    recruiter = await all_connections(hr, ids[CONNECTION_OWNERS[0][0]], gone="true")
    assert recruiter
    items, _ = await search(limit=10, offset=0, q="recruiter")
    assert items


async def test_roles_other_than_hr_and_admin_cannot_import_or_search(
    user_factory: Any, staff: dict
) -> None:
    """IT and comms get nothing; auditors see counts and import metadata but no names."""
    content = hand_made("Ana,Silva,https://www.linkedin.com/in/ana,,Acme,CFO,07 Dec 2025")
    rec = staff["rec"]["id"]
    _, hr = await user_factory(Role.hr)
    assert (await upload(hr, rec, content)).status_code == 200
    for role in (Role.it, Role.comms, Role.auditor):
        _, client = await user_factory(role)
        assert_problem(await upload(client, rec, content), 403, "forbidden")
        assert_problem(await client.get("/api/v1/connections", params={"q": "ana"}), 403)
        assert_problem(await client.get(f"/api/v1/employees/{rec}/connections"), 403)
        assert_problem(await client.get(f"/api/v1/employees/{rec}/connections/export.csv"), 403)
        metadata = await client.get(f"/api/v1/employees/{rec}/connections/imports")
        summary = await client.get("/api/v1/connections/summary")
        if role is Role.auditor:
            assert metadata.status_code == 200 and metadata.json()["items"][0]["added"] == 1
            assert summary.status_code == 200, summary.text
            assert summary.json()["totals"]["held"] == 1
            assert "Silva" not in metadata.text + summary.text
            assert "ana" not in (metadata.text + summary.text).lower().replace("annotation", "")
        else:
            assert_problem(metadata, 403)
            assert_problem(summary, 403)


async def test_an_employee_reads_their_own_connections_only(
    user_factory: Any, hr: httpx.AsyncClient, staff: dict
) -> None:
    """A user linked to an employee reads that employee's list, not anyone else's, and not search."""
    when = (TODAY - dt.timedelta(days=30)).strftime("%d %b %Y")
    await upload(
        hr,
        staff["rec"]["id"],
        hand_made(f"Ana,Silva,https://www.linkedin.com/in/ana,,Acme,CFO,{when}"),
    )
    await upload(
        hr, staff["succ"]["id"], hand_made(f"Bo,Ek,https://www.linkedin.com/in/bo,,Acme,CFO,{when}")
    )
    _, own = await user_factory(Role.comms, employee_id=staff["rec"]["id"])
    mine = await own.get(f"/api/v1/employees/{staff['rec']['id']}/connections")
    assert mine.status_code == 200 and [i["last_name"] for i in mine.json()["items"]] == ["Silva"]
    assert_problem(await own.get(f"/api/v1/employees/{staff['succ']['id']}/connections"), 403)
    assert_problem(await own.get("/api/v1/connections"), 403)
    assert_problem(await upload(own, staff["rec"]["id"], hand_made()), 403)


async def test_search_takes_quotes_percent_and_backslash_literally(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """Quotes, %, _ and backslashes in a search are text to find, never SQL or wildcards."""
    when = (TODAY - dt.timedelta(days=30)).strftime("%d %b %Y")
    await upload(
        hr,
        staff["rec"]["id"],
        hand_made(
            f'Seán,O\'Neil,https://www.linkedin.com/in/sean,,"Back\\slash & 100% Co",Lead_Dev,{when}',
            f"Ann,Other,https://www.linkedin.com/in/ann,,Plain Co,Lead Dev,{when}",
        ),
    )
    for indexed in (False, True):
        if indexed:
            await index_pending()
        for query, expected in (
            ("o'neil", ["O'Neil"]),
            ("100%", ["O'Neil"]),
            ("back\\slash", ["O'Neil"]),
            ("lead_dev", ["O'Neil"]),
            ("'; drop table connection; --", []),
            ("10%0", []),
        ):
            resp = await hr.get("/api/v1/connections", params={"q": query})
            assert resp.status_code == 200, resp.text
            assert [i["last_name"] for i in resp.json()["items"]] == expected, query


async def test_a_search_pages_at_most_ten_thousand_rows_deep(hr: httpx.AsyncClient) -> None:
    resp = await hr.get("/api/v1/connections?q=an&offset=2000000")
    assert_problem(resp, 422, field="offset")
    assert (await hr.get("/api/v1/connections?offset=2000000")).status_code == 200
