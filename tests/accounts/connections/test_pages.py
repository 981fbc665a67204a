"""The connections register's pages: upload and summary, a person's list, export, privacy, access."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
from typing import Any

import httpx
import pytest

from accounts.connections.pages import person_section
from register.actor import Actor
from register.audit import list_events
from register.enums import Role
from register.i18n import Reader
from register.staff.services import create_employee
from tests.accounts.connections.test_connections import linkedin_export
from tests.helpers import form, page_client

TODAY = dt.date.today()
START = TODAY - dt.timedelta(days=1000)


def words(page: httpx.Response) -> str:
    """The page's text as a reader sees it: tags out, spaces collapsed."""
    return re.sub(r" ([,.])", r"\1", " ".join(re.sub(r"<[^>]+>", " ", page.text).split()))


def counted(page: httpx.Response, line: str) -> int:
    """The number on the summary's row of that name."""
    found = re.search(
        rf'<th scope="row">{re.escape(line)}[^<]*<br>.*?<td class="number">([\d,]+)</td>', page.text
    )
    assert found, f"no row {line!r} on the summary"
    return int(found.group(1).replace(",", ""))


def export_with_quirks() -> tuple[bytes, dict[str, Any]]:
    """A generated export with a BOM, two duplicates and two bad lines; what it should come to."""
    base = linkedin_export(40, seed=11, since=START - dt.timedelta(days=900), until=TODAY)
    text = base.decode("utf-8")
    lines = text.splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.startswith("First Name,"))
    rows = list(csv.reader(io.StringIO("\n".join(lines[header_at + 1 :]))))
    dates = [dt.datetime.strptime(r[6], "%d %b %Y").date() for r in rows]
    kept = [r for r, d in zip(rows, dates, strict=True) if START <= d <= TODAY]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # The same person twice: once as it was, once with a trailing slash on the profile URL.
    writer.writerow(kept[0])
    writer.writerow([kept[1][0], kept[1][1], kept[1][2] + "/", *kept[1][3:]])
    writer.writerow(
        ["Bad", "Date", "https://www.linkedin.com/in/bad-date", "", "Initech", "", "sometime"]
    )
    writer.writerow(
        ["Not", "Linkedin", "https://example.com/not-a-profile", "", "", "", "07 Dec 2020"]
    )
    content = "\ufeff" + text + out.getvalue()
    total_lines = content.count("\n")
    expected = {
        "kept": len(kept),
        "before": sum(d < START for d in dates),
        "after": sum(d > TODAY for d in dates),
        "duplicates": 2,
        "rejected": 2,
        "bad_lines": (total_lines - 1, total_lines),
        "kept_rows": kept,
    }
    return content.encode("utf-8"), expected


@pytest.fixture
async def staff(app: Any) -> dict[str, dict[str, Any]]:
    """Rita, whose export is uploaded; Nora, who has no start date."""
    actor = Actor.system("test")
    rita = await create_employee(
        actor=actor,
        data={"name": "Rita Reyes", "work_email": "rita@example.com", "start_date": START},
    )
    nora = await create_employee(
        actor=actor, data={"name": "Nora Nodate", "work_email": "nora@example.com"}
    )
    return {"rita": rita, "nora": nora}


async def upload(
    c: httpx.AsyncClient, who: str, content: bytes, *, htmx: bool = False
) -> httpx.Response:
    """The upload form as a browser sends it (htmx adds its header)."""
    return await c.post(
        "/connections/upload",
        data=form(c, person=who),
        files={"file": ("Connections.csv", content, "text/csv")},
        headers={"HX-Request": "true"} if htmx else {},
    )


async def test_the_upload_ends_on_a_summary_with_every_count_and_the_rejected_lines(
    app: Any, staff: dict[str, Any]
) -> None:
    """Kept, before, after, duplicates, rejected with line and reason; the same file twice changes nothing."""
    content, expected = export_with_quirks()
    hr = await page_client(app, Role.hr)
    shown = await hr.get("/connections/upload")
    assert 'type="file"' in shown.text and "<progress" in shown.text
    assert 'hx-post="/connections/upload"' in shown.text and "upload-progress.js" in shown.text
    sent = await upload(hr, "Rita Reyes", content)
    assert sent.status_code == 303, sent.text
    target = sent.headers["location"]
    assert re.fullmatch(rf"/connections/people/{staff['rita']['id']}/imports/\d+", target)
    summary = await hr.get(target)
    text = words(summary)
    assert f"{expected['kept']} connections of Rita Reyes are kept as the employer's." in text
    assert counted(summary, "New, kept as the employer") == expected["kept"]
    assert counted(summary, "Before the employment") == expected["before"]
    assert counted(summary, "After the employment") == expected["after"]
    assert counted(summary, "Duplicates in the file") == 2
    assert counted(summary, "Lines that could not be read") == 2
    assert counted(summary, "Gone") == 0 and counted(summary, "Returned") == 0
    assert "2 lines could not be read" in text
    first, second = expected["bad_lines"]
    assert f"{first} Connected On:" in text and "sometime" in text
    assert f"{second} URL: URL is not a LinkedIn profile URL" in text
    assert "rejected.csv" in summary.text
    dutch = words(await hr.get(target, headers={"Accept-Language": "nl"}))
    assert f"{expected['kept']} connecties van Rita Reyes worden bewaard" in dutch
    assert "Dubbel in het bestand" in dutch and "Wat nu" in dutch
    # Why each line could not be read, said in Dutch too (stored as the API says it).
    said = html.unescape(dutch)
    assert "'sometime' is geen datum; Connected On neemt \"07 Dec 2025\" zoals LinkedIn" in said
    assert f"{second} URL: URL is geen LinkedIn-profiel-URL" in dutch
    assert "is not a" not in dutch
    # The same file again: nothing changes, and the page says so.
    again = await upload(hr, "Rita Reyes", content, htmx=True)
    assert again.status_code == 200 and again.headers["HX-Redirect"].endswith("?same=1")
    same = await hr.get(again.headers["HX-Redirect"])
    assert "same file as the last upload for Rita Reyes, so nothing changed" in words(same)
    # The register's search finds one of them, with who holds it.
    kept = expected["kept_rows"][3]
    found = await hr.get("/connections", params={"q": f"{kept[0]} {kept[1]}"})
    assert f"{kept[0]} {kept[1]}" in words(found)
    assert f'href="/staff/{staff["rita"]["id"]}">Rita Reyes</a>' in found.text


async def test_upload_problems_are_said_next_to_their_field(
    app: Any, staff: dict[str, Any]
) -> None:
    """No file, nobody by that name, someone without a start date, a file that is no export."""
    content, _ = export_with_quirks()
    hr = await page_client(app, Role.hr)
    no_file = await hr.post("/connections/upload", data=form(hr, person="Rita Reyes"))
    assert no_file.status_code == 422
    assert 'id="file-error"' in no_file.text and "Choose the Connections.csv file" in no_file.text
    nobody = await upload(hr, "Zed Nobody", content)
    assert nobody.status_code == 422 and 'id="person-error"' in nobody.text
    assert "Nobody in the staff directory matches “Zed Nobody”" in words(nobody)
    no_start = await upload(hr, "Nora Nodate", content)
    assert no_start.status_code == 422 and 'id="person-error"' in no_start.text
    assert "Nora Nodate has no start date" in words(no_start)
    # In Dutch too, named by name rather than "medewerker 12".
    dutch = await hr.post(
        "/connections/upload",
        data=form(hr, person="Nora Nodate"),
        files={"file": ("Connections.csv", content, "text/csv")},
        headers={"accept-language": "nl"},
    )
    assert "Nora Nodate heeft geen startdatum" in words(dutch)
    other = await upload(hr, "Rita Reyes", b"Conversation ID,From,To\n1,a,b\n")
    assert other.status_code == 422 and 'id="file-error"' in other.text
    assert "messages export" in words(other)
    # htmx gets the form back as a 200 to swap in, with the same error.
    swapped = await upload(hr, "Zed Nobody", content, htmx=True)
    assert swapped.status_code == 200 and 'id="person-error"' in swapped.text
    assert (await hr.get("/api/v1/employees/1/connections/imports")).json()["items"] == []


async def test_a_persons_connections_filter_by_state_and_gone_and_export_for_the_successor(
    app: Any, staff: dict[str, Any], hr: httpx.AsyncClient
) -> None:
    """Held, exported and gone each filter the list; the export is their connections, audited."""
    content, expected = export_with_quirks()
    page = await page_client(app, Role.hr)
    rita = staff["rita"]["id"]
    assert (await upload(page, "Rita Reyes", content)).status_code == 303
    kept = expected["kept_rows"]
    # A later export without the first kept row: that one is gone from the profile.
    later = content.replace(("\n" + ",".join(kept[0][:3])).encode(), b"\nX")
    gone_name = f"{kept[0][0]} {kept[0][1]}"
    listing = await page.get(f"/connections/people/{rita}")
    text = words(listing)
    assert f"The register holds {expected['kept']} of their LinkedIn connections." in text
    assert f"Held as the employer's ({expected['kept']})" in text
    assert f'href="/api/v1/employees/{rita}/connections/export.csv"' in listing.text
    held = await page.get(f"/connections/people/{rita}", params={"state": "held"})
    assert f"{kept[2][0]} {kept[2][1]}" in words(held)
    assert "(0)" in words(held) and "Exported to the successor (0)" in words(held)
    exported = await page.get(
        f"/connections/people/{rita}", params={"state": "exported_to_successor"}
    )
    assert "No connection of theirs matches" in words(exported)
    # The export: LinkedIn's columns, every kept connection, and an audit event.
    body = (await hr.get(f"/api/v1/employees/{rita}/connections/export.csv")).text
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:3] == ["First Name", "Last Name", "URL"]
    assert len(rows) == expected["kept"] + 1
    assert {r[2] for r in rows[1:]} == {r[2] for r in kept}
    events, _ = await list_events(limit=5, offset=0, action="connection.export")
    assert events and events[0]["object_id"] == str(rita)
    recorded = await page.post(
        f"/connections/people/{rita}/exported", data=form(page, note="Given to Sam on a key")
    )
    assert recorded.status_code == 303
    said = words(await page.get(recorded.headers["location"]))
    assert f"{expected['kept']} connections are now recorded as exported to the successor" in said
    events, _ = await list_events(limit=5, offset=0, action="connection.state")
    assert events[0]["changes"]["note"] == "Given to Sam on a key"
    again = await page.post(f"/connections/people/{rita}/exported", data=form(page, note=""))
    assert again.status_code == 409 and "Rita Reyes has no connections in state held" in words(
        again
    )
    exported = await page.get(
        f"/connections/people/{rita}", params={"state": "exported_to_successor"}
    )
    assert f"{kept[2][0]} {kept[2][1]}" in words(exported)
    assert f"Exported to the successor ({expected['kept']})" in words(exported)
    # Gone: only the one missing from the later export.
    sent = await page.post(
        "/connections/upload",
        data=form(page, person="Rita Reyes"),
        files={"file": ("Connections.csv", later, "text/csv")},
    )
    assert sent.status_code == 303
    assert counted(await page.get(sent.headers["location"]), "Gone") == 1
    gone = await page.get(f"/connections/people/{rita}", params={"gone": "yes"})
    assert gone_name in words(gone) and "gone from the profile since" in words(gone)
    assert f"{kept[2][0]} {kept[2][1]}" not in words(gone)
    still = await page.get(f"/connections/people/{rita}", params={"gone": "no"})
    assert f"{kept[2][0]} {kept[2][1]}" in words(still)
    bad = await page.get(f"/connections/people/{rita}", params={"state": "lost"})
    assert bad.status_code == 422


async def test_subject_access_by_name_shows_and_downloads_what_is_held(
    app: Any, staff: dict[str, Any]
) -> None:
    """A name finds the person with their link; the page and the download hold their record."""
    content, expected = export_with_quirks()
    page = await page_client(app, Role.hr)
    assert (await upload(page, "Rita Reyes", content)).status_code == 303
    first, last, url = expected["kept_rows"][4][:3]
    found = await page.post("/connections/privacy/find", data=form(page, who=f"{first} {last}"))
    assert found.status_code == 200
    assert url in found.text and "Among the connections of Rita Reyes" in words(found)
    held = await page.post(
        "/connections/privacy/access", data=form(page, profile_url=url, email="")
    )
    text = words(held)
    assert f"{first} {last}" in text and "A connection of Rita Reyes" in text
    assert "The register holds 1 record about this person" in text
    assert held.headers["cache-control"] == "no-store"
    events, _ = await list_events(limit=5, offset=0, action="connection.subject_access")
    assert events and events[0]["changes"]["connections"] == 1
    # Typed as a link it goes straight to what is held.
    direct = await page.post("/connections/privacy/find", data=form(page, who=url))
    assert "The register holds 1 record about this person" in words(direct)
    download = await page.post(
        "/connections/privacy/access.json", data=form(page, profile_url=url, email="")
    )
    assert "attachment" in download.headers["content-disposition"]
    answer = json.loads(download.content)
    assert answer["count"] == 1 and answer["connections"][0]["owner"]["name"] == "Rita Reyes"
    # A link that is not LinkedIn's: said next to the field.
    wrong = await page.post("/connections/privacy/find", data=form(page, who="example.com/in/x@"))
    assert wrong.status_code == 422 and 'id="who-error"' in wrong.text


async def test_erasure_names_what_it_takes_and_counts_then_erases(
    app: Any, staff: dict[str, Any]
) -> None:
    """The confirmation names the person and counts; nothing goes until it is confirmed."""
    content, expected = export_with_quirks()
    page = await page_client(app, Role.hr)
    assert (await upload(page, "Rita Reyes", content)).status_code == 303
    first, last, url = expected["kept_rows"][5][:3]
    confirm = await page.post(
        "/connections/privacy/erasure/confirm", data=form(page, profile_url=url, email="")
    )
    text = words(confirm)
    assert f"The person {first} {last}" in text and url in text
    assert "1 connection record, among the connections of Rita Reyes" in text
    assert "0 lines of uploads" in text and "Erase 1 record" in text
    still = await page.post("/connections/privacy/access", data=form(page, profile_url=url))
    assert "The register holds 1 record" in words(still), "the confirmation erased something"
    done = await page.post("/connections/privacy/erasure", data=form(page, profile_url=url))
    assert done.status_code == 303
    assert done.headers["location"] == "/connections/privacy?erased=1&owners=1&lines=0"
    said = words(await page.get(done.headers["location"]))
    assert "The person is erased. 1 record was erased (held by 1 person)" in said
    assert url not in said
    events, _ = await list_events(limit=5, offset=0, action="connection.erase")
    assert events and events[0]["changes"]["connections"] == 1
    after = await page.post("/connections/privacy/access", data=form(page, profile_url=url))
    assert f"{first} {last}" not in words(after)
    # The rejected line about someone is erased too, and the count says so first.
    bad = "https://www.linkedin.com/in/bad-date"
    confirm = await page.post(
        "/connections/privacy/erasure/confirm", data=form(page, profile_url=bad)
    )
    assert "0 connection records" in words(confirm) and "1 line of an upload" in words(confirm)


async def test_it_sees_no_connections_and_hr_has_them_in_the_menu(
    app: Any, staff: dict[str, Any]
) -> None:
    """IT is refused every connections page and has no menu entry; HR has it, and a person section."""
    it = await page_client(app, Role.it)
    for path in (
        "/connections",
        "/connections/upload",
        f"/connections/people/{staff['rita']['id']}",
        "/connections/privacy",
    ):
        assert (await it.get(path)).status_code == 403, path
    refused = await it.post(
        "/connections/privacy/find", data=form(it, who="https://www.linkedin.com/in/x")
    )
    assert refused.status_code == 403
    assert 'href="/connections"' not in (await it.get("/")).text
    hr = await page_client(app, Role.hr)
    assert 'href="/connections">Connections</a>' in (await hr.get("/")).text
    it_actor = Actor(user_id=1, role=Role.it, email="it@example.com")
    assert await person_section(it_actor, None, staff["rita"]["id"]) == []
    hr_actor = Actor(user_id=2, role=Role.hr, email="hr@example.com")
    [section] = await person_section(hr_actor, None, staff["rita"]["id"])
    assert section["connection_total"] == 0 and section["may_upload"]


async def test_the_person_section_counts_their_connections_by_state_with_links(
    app: Any, staff: dict[str, Any]
) -> None:
    """On a person's page: how many in each state, each a link to the filtered list; the upload."""
    content, expected = export_with_quirks()
    page = await page_client(app, Role.hr)
    assert (await upload(page, "Rita Reyes", content)).status_code == 303
    rita = staff["rita"]["id"]
    hr_actor = Actor(user_id=2, role=Role.hr, email="hr@example.com")
    [section] = await person_section(hr_actor, None, rita)
    template = app.template_engine.get_template(section["template"])
    shown = template.render(section=section, **Reader(language="en", time_zone="UTC").context())
    text = " ".join(re.sub(r"<[^>]+>", " ", shown).split())
    assert f"The register holds {expected['kept']} of their LinkedIn connections." in text
    assert f'href="/connections/people/{rita}?state=held">Held as the employer' in shown
    assert f"Held as the employer's: {expected['kept']}" in text.replace("&#39;", "'")
    assert "Exported to the successor" not in text, "a state with no connections is listed"
    assert f'href="/connections/upload?employee_id={rita}"' in shown
    prefilled = await page.get(f"/connections/upload?employee_id={rita}")
    assert 'value="Rita Reyes"' in prefilled.text and f'value="{rita}"' in prefilled.text


async def test_the_upload_keeps_the_request_size_limit_and_reads_the_spooled_file(
    app: Any, staff: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's upload has the API's size limit, and hands the import a file, not bytes."""
    from accounts.connections.pages import _register
    from register.asgi import MAX_BODY_BYTES

    [route] = [r for r in app.routes if r.path == "/connections/upload"]
    [handler] = [h for h in route.route_handlers if "POST" in h.http_methods]
    assert handler.resolve_request_max_body_size() == MAX_BODY_BYTES
    seen: list[Any] = []
    real = _register.import_connections

    async def spy(**kwargs: Any) -> Any:
        seen.append(kwargs["content"])
        return await real(**kwargs)

    monkeypatch.setattr(_register, "import_connections", spy)
    content, _ = export_with_quirks()
    page = await page_client(app, Role.hr)
    assert (await upload(page, "Rita Reyes", content)).status_code == 303
    assert not isinstance(seen[0], bytes) and callable(seen[0].read)
