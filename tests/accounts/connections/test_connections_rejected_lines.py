"""What an HR officer expects of the importer: duplicates merged, bad lines listed and kept, strict."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import httpx

from register.enums import Role
from tests.accounts.connections.test_connections import (
    TODAY,
    all_connections,
    hand_made,
    linkedin_export,
    staff,
    upload,
)
from tests.helpers import assert_problem

__all__ = ["staff"]

WHEN = (TODAY - dt.timedelta(days=20)).strftime("%d %b %Y")
GOOD = [
    f"Ana,Silva,https://www.linkedin.com/in/ana-silva,,Acme,CFO,{WHEN}",
    f"Ben,Okoro,https://www.linkedin.com/in/ben-okoro,,Acme,CTO,{WHEN}",
    f"Cy,Lee,https://www.linkedin.com/in/cy-lee,,Initech,Recruiter,{WHEN}",
    f"Dee,Ng,https://www.linkedin.com/in/dee-ng,,Hooli,Designer,{WHEN}",
]
BAD = [
    "Eve,Ito,https://www.linkedin.com/in/eve-ito,,Acme,CFO,31 Feb 2024",  # no such day
    f"Fay,Ott,https://example.com/in/fay,fay@example.org,Acme,CFO,{WHEN}",  # not LinkedIn
    "Gil,Day,https://www.linkedin.com/in/gil-day,,Acme,CFO",  # a field short
]


def rejected_path(employee_id: int, import_id: int) -> str:
    return f"/api/v1/employees/{employee_id}/connections/imports/{import_id}/rejected.csv"


async def test_the_same_person_twice_is_merged_and_counted(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """A profile URL with and without a trailing slash (and in capitals) is one connection."""
    rec = staff["rec"]["id"]
    content = hand_made(
        GOOD[0],
        GOOD[1],
        f"Ana,Silva,https://www.linkedin.com/in/ana-silva/,,Acme,CFO,{WHEN}",
        f"ANA,SILVA,HTTPS://WWW.LINKEDIN.COM/IN/ANA-SILVA,,Globex,CEO,{WHEN}",
    )
    resp = await upload(hr, rec, content)
    assert resp.status_code == 200, resp.text
    summary = resp.json()["import"]
    assert (summary["rows"], summary["added"], summary["duplicates_in_file"]) == (4, 2, 2)
    assert summary["rejected_lines"] == 0 and resp.json()["problems"] == []
    held = await all_connections(hr, rec)
    # The first row of the person is the one kept.
    assert [(i["first_name"], i["company"]) for i in held] == [("Ben", "Acme"), ("Ana", "Acme")]
    stored = (await hr.get(f"/api/v1/employees/{rec}/connections/imports")).json()["items"]
    assert stored[0]["duplicates_in_file"] == 2
    # In the older layout the same name on the same day is the same person.
    older = hand_made(
        f"Ana,Silva,,Acme,CFO,{WHEN}",
        f"ana,SILVA,,Acme,CFO,{WHEN}",
        f"Ana,Silva,,Acme,CFO,{(TODAY - dt.timedelta(days=3)).strftime('%d %b %Y')}",
        header="First Name,Last Name,Email Address,Company,Position,Connected On",
    )
    resp = await upload(hr, staff["succ"]["id"], older)
    assert resp.json()["import"]["added"] == 2 and resp.json()["import"]["duplicates_in_file"] == 1


async def test_unreadable_lines_are_listed_kept_and_the_rest_imported(
    hr: httpx.AsyncClient, admin: httpx.AsyncClient, user_factory: Any, staff: dict
) -> None:
    """Bad lines come back with line and reason; HR downloads them as CSV; the rest is in."""
    rec = staff["rec"]["id"]
    resp = await upload(hr, rec, hand_made(*GOOD[:2], BAD[0], *GOOD[2:], BAD[1], BAD[2]))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    summary = body["import"]
    assert (summary["rows"], summary["added"], summary["rejected_lines"]) == (7, 4, 3)
    assert [(p["line"], p["field"]) for p in body["problems"]] == [
        (7, "connected_on"),
        (10, "profile_url"),
        (11, "file"),
    ]
    # The answer (kept for Idempotency-Key replays) never repeats a contact's values.
    assert "fay" not in resp.text.lower() and "eve-ito" not in resp.text
    assert {i["first_name"] for i in await all_connections(hr, rec)} == {"Ana", "Ben", "Cy", "Dee"}
    stored = (await hr.get(f"/api/v1/employees/{rec}/connections/imports")).json()["items"]
    assert stored[0]["rejected_lines"] == 3 and stored[0]["rows"] == 7

    path = rejected_path(rec, summary["id"])
    download = await hr.get(path)
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("text/csv")
    assert download.headers["cache-control"] == "no-store"
    assert "rejected.csv" in download.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(download.text)))
    assert table[0] == [
        "Line",
        "Column",
        "Problem",
        "First Name",
        "Last Name",
        "URL",
        "Email Address",
        "Company",
        "Position",
        "Connected On",
    ]
    assert [r[:2] for r in table[1:]] == [["7", "Connected On"], ["10", "URL"], ["11", ""]]
    assert table[1][3:] == BAD[0].split(",") and "not a valid date" in table[1][2]
    assert table[2][3:] == BAD[1].split(",")
    assert table[3][3:] == [*BAD[2].split(","), ""] and "6 fields" in table[3][2]
    # Audited like the successor export: counts, not names.
    events = (
        await admin.get("/api/v1/audit/events", params={"action": "connection.export_rejected"})
    ).json()["items"]
    assert [(e["object_id"], e["changes"]["lines"]) for e in events] == [(str(summary["id"]), 3)]
    assert "Eve" not in str(events)
    # HR-only, like the export; another employee's import is not found through this one.
    for role in (Role.auditor, Role.it, Role.comms):
        assert_problem(await (await user_factory(role))[1].get(path), 403)
    assert_problem(await hr.get(rejected_path(staff["succ"]["id"], summary["id"])), 404)
    assert_problem(await hr.get(rejected_path(rec, summary["id"] + 1)), 404)


async def test_a_file_mostly_unreadable_is_refused_whole(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """More bad lines than good: 422 listing them, nothing written; half and half imports."""
    rec = staff["rec"]["id"]
    body = assert_problem(
        await upload(hr, rec, hand_made(GOOD[0], BAD[0], BAD[1])), 422, "invalid-input", "file"
    )
    assert "2 of 3 rows cannot be read" in body["detail"]
    assert [e["line"] for e in body["errors"]] == [6, 7]
    assert await all_connections(hr, rec) == []
    assert (await hr.get(f"/api/v1/employees/{rec}/connections/imports")).json()["items"] == []
    half = await upload(hr, rec, hand_made(GOOD[0], BAD[0]))
    assert half.status_code == 200 and half.json()["import"]["rejected_lines"] == 1


async def test_strict_keeps_all_or_nothing(hr: httpx.AsyncClient, staff: dict) -> None:
    """strict=true as a form field or in the query: one bad line refuses the file."""
    rec = staff["rec"]["id"]
    content = hand_made(*GOOD, BAD[0])
    url = f"/api/v1/employees/{rec}/connections/imports"
    files = {"file": ("Connections.csv", content, "text/csv")}
    for request in (
        {"files": files, "data": {"strict": "true"}},
        {"files": files, "params": {"strict": "true"}},
    ):
        body = assert_problem(await hr.post(url, **request), 422, "invalid-input", "file")
        assert "nothing was imported" in body["detail"]
        assert [(e["line"], e["field"]) for e in body["errors"]] == [(9, "connected_on")]
        assert await all_connections(hr, rec) == []
    assert_problem(
        await hr.post(url, files=files, data={"strict": "maybe"}), 422, "invalid-input", "strict"
    )
    # Duplicates are merged in strict mode too: they are not errors.
    merged = await hr.post(
        url,
        files={"file": ("c.csv", hand_made(GOOD[0], GOOD[0] + " "), "text/csv")},
        data={"strict": "true"},
    )
    assert merged.status_code == 200 and merged.json()["import"]["duplicates_in_file"] == 1
    doc = (await hr.get("/schema/openapi.json")).json()
    operation = doc["paths"]["/api/v1/employees/{employee_id}/connections/imports"]["post"]
    assert "strict" in {p["name"] for p in operation["parameters"]}
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["strict"]["type"] == "boolean"
    download = doc["paths"][
        "/api/v1/employees/{employee_id}/connections/imports/{import_id}/rejected.csv"
    ]["get"]
    assert "text/csv" in download["responses"]["200"]["content"]


async def test_cli_imports_around_bad_lines_unless_strict(
    settings: Any, hr: httpx.AsyncClient, staff: dict, tmp_path: Path
) -> None:
    """`register connections import` lists the bad lines; with --strict it imports nothing."""
    from tests.cli import run_cli

    path = tmp_path / "Connections.csv"
    path.write_bytes(hand_made(*GOOD, BAD[0]))
    argv = ("connections", "import", "--employee", "rec@example.com", str(path))
    strict = await run_cli(settings, *argv, "--strict")
    assert strict.code == 2 and "line 9" in strict.err, strict
    assert await all_connections(hr, staff["rec"]["id"]) == []
    done = await run_cli(settings, *argv)
    assert done.code == 0, done
    assert '"rejected_lines": 1' in done.out and '"line": 9' in done.out
    assert len(await all_connections(hr, staff["rec"]["id"])) == 4


async def test_date_errors_name_the_formats_the_import_reads(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """Not "use YYYY-MM-DD" for a file whose dates read "07 Dec 2025"; no staff-import options."""
    rec = staff["rec"]["id"]
    rows = [
        "Hal,Ito,https://www.linkedin.com/in/hal,,Acme,CFO,someday",
        "Ida,Ng,https://www.linkedin.com/in/ida,,Acme,CFO,03/04/2024",
        "Jo,Ek,https://www.linkedin.com/in/jo,,Acme,CFO,07 Dez 2025",
    ]
    resp = await upload(hr, rec, hand_made(*GOOD, *rows))
    assert resp.status_code == 200, resp.text
    messages = [p["message"] for p in resp.json()["problems"]]
    assert len(messages) == 3
    for message in messages:
        assert "07 Dec 2025" in message and "2025-12-07" in message, message
        assert "YYYY-MM-DD" not in message and "date_order" not in message, message
    assert "day/month or month/day" in messages[1]
    # What it says it reads, it reads.
    forms = ["2025-12-07", "7 December 2025", "Dec 7, 2025", "07.12.2025"]
    dated = [
        f'P{n},Q,https://www.linkedin.com/in/p{n},,Acme,CFO,"{form}"'
        for n, form in enumerate(forms)
    ]
    assert (await upload(hr, rec, hand_made(*dated))).json()["import"]["added"] == 4


async def test_a_held_connection_on_an_unreadable_line_is_not_gone(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """A later export whose line for Ana is broken does not mark Ana gone from the profile."""
    rec = staff["rec"]["id"]
    assert (await upload(hr, rec, hand_made(*GOOD))).status_code == 200
    broken = GOOD[0].replace(WHEN, "someday")
    resp = await upload(hr, rec, hand_made(broken, *GOOD[1:]))
    summary = resp.json()["import"]
    assert (summary["gone"], summary["unchanged"], summary["rejected_lines"]) == (0, 3, 1)
    assert await all_connections(hr, rec, gone="true") == []


async def test_a_real_export_with_a_few_broken_lines(hr: httpx.AsyncClient, staff: dict) -> None:
    """The generator's export with two lines spoiled: the rest, every row, imports."""
    content = linkedin_export(200, seed=17, since=TODAY - dt.timedelta(days=900), until=TODAY)
    lines = content.split(b"\n")
    header = next(n for n, line in enumerate(lines) if line.startswith(b"First Name"))
    for n in (header + 10, header + 120):
        lines[n] = lines[n].rsplit(b",", 1)[0] + b",not a date"
    resp = await upload(hr, staff["rec"]["id"], b"\n".join(lines))
    assert resp.status_code == 200, resp.text
    summary = resp.json()["import"]
    assert (summary["added"], summary["rejected_lines"], summary["rows"]) == (198, 2, 200)
    assert [p["line"] for p in resp.json()["problems"]] == [header + 11, header + 121]
