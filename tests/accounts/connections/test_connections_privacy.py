"""LinkedIn connections as third parties' personal data: subject access, erasure, retention."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import httpx

from accounts.connections.files import import_connections
from accounts.connections.services import index_pending, leavers_due_for_connection_purge, purge
from register.actor import Actor
from register.db import fetch
from register.staff.enums import EmployeeStatus
from register.staff.services import create_employee
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

WHEN = (TODAY - dt.timedelta(days=40)).strftime("%d %b %Y")
ZOE = f"Zoë,Müller,https://www.linkedin.com/in/zoe-mueller,Zoe.Mueller@Example.org,Umbrella Health,Head of People,{WHEN}"
# Her row again with a date the import cannot read: rejected, and kept as the file had it.
ZOE_UNREADABLE = "Zoë,Müller,https://www.linkedin.com/in/zoe-mueller/,Zoe.Mueller@Example.org,Umbrella Health,Head of People,someday"


async def _audit_text() -> str:
    rows = await fetch(
        'SELECT "action", "object_type", "object_id", "changes" FROM "audit_event" ORDER BY "seq"'
    )
    return "\n".join(str(r) for r in rows)


async def test_subject_access_by_url_or_email_returns_everything_held(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """One person held by two employees: both records, with owner and import, by URL or e-mail."""
    await upload(hr, staff["rec"]["id"], hand_made(ZOE))
    theirs = await upload(
        hr,
        staff["succ"]["id"],
        hand_made(ZOE, f"Bo,Ek,https://www.linkedin.com/in/bo-ek,,Acme,CFO,{WHEN}", ZOE_UNREADABLE),
        "theirs.csv",
    )
    assert theirs.json()["import"]["rejected_lines"] == 1, theirs.text
    by_url = await hr.post(
        "/api/v1/connections/subject-access",
        json={"profile_url": "https://uk.linkedin.com/in/ZOE-MUELLER/"},
    )
    assert by_url.status_code == 200, by_url.text
    assert by_url.headers["cache-control"] == "no-store"
    body = by_url.json()
    assert body["count"] == 2 and body["profile_url"] == "https://www.linkedin.com/in/zoe-mueller"
    owners = {c["owner"]["work_email"] for c in body["connections"]}
    assert owners == {"rec@example.com", "succ@example.com"}
    record = body["connections"][0]
    assert (record["first_name"], record["last_name"], record["email"]) == (
        "Zoë",
        "Müller",
        "zoe.mueller@example.org",
    )
    assert record["company"] == "Umbrella Health" and record["position"] == "Head of People"
    assert record["import"]["filename"] in ("Connections.csv", "theirs.csv")
    # The line an import could not read is about her too.
    [line] = body["rejected_lines"]
    assert (line["employee_id"], line["line"], line["connected_on"]) == (
        staff["succ"]["id"],
        7,
        "someday",
    )
    assert line["first_name"] == "Zoë" and "not a date" in line["reason"]
    by_email = await hr.post(
        "/api/v1/connections/subject-access", json={"email": "ZOE.MUELLER@example.org"}
    )
    assert [c["id"] for c in by_email.json()["connections"]] == [
        c["id"] for c in body["connections"]
    ]
    nobody = await hr.post("/api/v1/connections/subject-access", json={"email": "x@example.org"})
    assert nobody.json()["count"] == 0
    assert_problem(
        await hr.post("/api/v1/connections/subject-access", json={}),
        422,
        "invalid-input",
        "profile_url",
    )
    assert_problem(
        await hr.post(
            "/api/v1/connections/subject-access", json={"profile_url": "https://x.com/z"}
        ),
        422,
        "invalid-input",
        "profile_url",
    )
    trail = await _audit_text()
    assert "connection.subject_access" in trail
    assert "mueller" not in trail.lower() and "Müller" not in trail


async def test_erasure_removes_the_person_everywhere_and_the_trail_still_verifies(
    hr: httpx.AsyncClient, admin: httpx.AsyncClient, staff: dict
) -> None:
    """Erased from every owner, from search and export; audited without the values; chain intact."""
    for key in ("rec", "succ"):
        await upload(
            hr,
            staff[key]["id"],
            hand_made(
                ZOE,
                f"Bo,Ek,https://www.linkedin.com/in/bo-ek-{key},,Acme,CFO,{WHEN}",
                *([ZOE_UNREADABLE] if key == "succ" else []),
            ),
        )
    await index_pending()
    found = await hr.get("/api/v1/connections", params={"q": "müller"})
    assert len(found.json()["items"]) == 2
    erased = await hr.post("/api/v1/connections/erasure", json={"email": "zoe.mueller@example.org"})
    assert erased.status_code == 200, erased.text
    assert erased.json() == {"erased": 2, "owners": 2, "rejected_lines": 1}
    lines = await fetch('SELECT * FROM "connection_rejected_line"')
    assert not any("Müller" in str(r) or "mueller" in str(r) for r in lines)
    for query in ("müller", "zoë", "umbrella", "head of people"):
        resp = await hr.get("/api/v1/connections", params={"q": query})
        assert resp.json()["items"] == [], query
    for key in ("rec", "succ"):
        held = await all_connections(hr, staff[key]["id"])
        tomb = [i for i in held if i["state"] == "erased"]
        assert len(tomb) == 1
        assert all(tomb[0][f] == "" for f in ("first_name", "last_name", "profile_url", "email"))
        assert tomb[0]["company"] == "" and tomb[0]["position"] == ""
        export = await hr.get(f"/api/v1/employees/{staff[key]['id']}/connections/export.csv")
        assert "Müller" not in export.text and "Bo" in export.text
    rows = await fetch('SELECT * FROM "connection"')
    assert not any("Müller" in str(r) or "mueller" in str(r) for r in rows)
    again = await hr.post(
        "/api/v1/connections/subject-access",
        json={"profile_url": "https://www.linkedin.com/in/zoe-mueller"},
    )
    assert again.json()["count"] == 0
    # The search index forgot the text too: a fresh index of the rest still finds Bo only.
    assert (await hr.get("/api/v1/connections", params={"q": "ek"})).json()["items"]
    trail = await _audit_text()
    assert "connection.erase" in trail
    for value in ("Müller", "mueller", "Zoë", "zoe", "Umbrella", "Head of People"):
        assert value.lower() not in trail.lower(), value
    verdict = await admin.post("/api/v1/audit/verify")
    assert verdict.status_code == 200 and verdict.json()["ok"] is True, verdict.text
    # Erasing again finds nothing more to erase.
    assert (
        await hr.post(
            "/api/v1/connections/erasure",
            json={"profile_url": "https://www.linkedin.com/in/zoe-mueller"},
        )
    ).json() == {"erased": 0, "owners": 0, "rejected_lines": 0}
    # A later export that still lists her (here without her e-mail) does not bring her back,
    # nor keeps a line about her that it cannot read.
    later = hand_made(
        f"Zoë,Müller,https://www.linkedin.com/in/zoe-mueller,,Umbrella Health,CEO,{WHEN}",
        ZOE_UNREADABLE.replace("Zoe.Mueller@Example.org", ""),
        f"Bo,Ek,https://www.linkedin.com/in/bo-ek-rec,,Acme,CFO,{WHEN}",
        f"Al,Ny,https://www.linkedin.com/in/al-ny,,Initech,CTO,{WHEN}",
    )
    resp = await upload(hr, staff["rec"]["id"], later)
    assert resp.status_code == 200, resp.text
    summary = resp.json()
    assert summary["import"]["suppressed"] == 1 and summary["import"]["added"] == 1
    assert summary["import"]["rejected_lines"] == 1
    rows = await fetch('SELECT * FROM "connection"')
    rows += await fetch('SELECT * FROM "connection_rejected_line"')
    assert not any("Müller" in str(r) or "mueller" in str(r) for r in rows)
    # What is kept to recognise her names no one: digests only.
    kept = await fetch('SELECT * FROM "connection_suppression"')
    assert kept and not any("mueller" in str(r).lower() for r in kept)


async def test_no_audit_event_holds_a_connections_values(
    hr: httpx.AsyncClient, staff: dict
) -> None:
    """Import, re-import, export, state change, subject access: the trail holds counts, not people."""
    content = linkedin_export(80, seed=13, since=TODAY - dt.timedelta(days=400), until=TODAY)
    rec = staff["rec"]["id"]
    await upload(hr, rec, content)
    await upload(hr, rec, content.replace(b"\n", b"\r\n"))
    await hr.get(f"/api/v1/employees/{rec}/connections/export.csv")
    await hr.post(
        f"/api/v1/employees/{rec}/connections/state", json={"state": "exported_to_successor"}
    )
    held = await all_connections(hr, rec)
    await hr.post(
        "/api/v1/connections/subject-access", json={"profile_url": held[0]["profile_url"]}
    )
    trail = (await _audit_text()).lower()
    for item in held:
        for field in ("profile_url", "email"):
            if item[field]:
                assert item[field].lower() not in trail
        assert f"{item['first_name']} {item['last_name']}".lower() not in trail
        assert item["profile_url"].rsplit("/", 1)[-1] not in trail


async def test_purge_removes_leavers_past_retention_only(
    settings: Any, hr: httpx.AsyncClient, app: Any
) -> None:
    """Leavers gone more than connection_retention_days ago, handover complete, lose their
    connections; audited."""
    from accounts.handovers.tables import Handover

    actor = Actor.system("test")
    people = {}
    for key, left_days_ago in (("old", 400), ("recent", 30), ("here", None), ("owed", 400)):
        leaving = TODAY - dt.timedelta(days=left_days_ago) if left_days_ago else None
        people[key] = await create_employee(
            actor=actor,
            data={
                "name": f"Person {key}",
                "work_email": f"{key}@example.com",
                "start_date": TODAY - dt.timedelta(days=2000),
                "leaving_date": leaving,
                **({"status": EmployeeStatus.left} if leaving else {}),
            },
        )
        await import_connections(
            actor=actor,
            employee_id=people[key]["id"],
            content=linkedin_export(
                20,
                seed=len(key),
                since=TODAY - dt.timedelta(days=1500),
                until=TODAY - dt.timedelta(days=500),
            )
            # A line the import cannot read: kept, and purged with the connections.
            + f"Una,Readable,https://www.linkedin.com/in/una-{key},,Acme,CFO,someday\n".encode(),
        )
    # "owed" left as long ago as "old", but their handover is not complete: nothing goes yet.
    for key, state in (("old", "completed"), ("recent", "completed"), ("owed", "open")):
        await Handover.insert(
            Handover(
                employee=people[key]["id"],
                successor=people["here"]["id"],
                leaving_date=people[key]["leaving_date"],
                state=state,
                started_at=dt.datetime.now(dt.UTC),
            )
        )
    await index_pending()
    due = await leavers_due_for_connection_purge(today=TODAY, retention_days=365)
    assert [d["id"] for d in due] == [people["old"]["id"]]
    dry = await purge(actor=actor, settings=settings, dry_run=True)
    assert dry["employees"] == 1 and dry["connections"] == 20
    assert len(await all_connections(hr, people["old"]["id"])) == 20
    done = await purge(actor=actor, settings=settings)
    assert done == {
        "dry_run": False,
        "employees": 1,
        "connections": 20,
        "items": [{"employee_id": people["old"]["id"], "connections": 20}],
    }
    assert await all_connections(hr, people["old"]["id"]) == []
    assert len(await all_connections(hr, people["recent"]["id"])) == 20
    assert len(await all_connections(hr, people["here"]["id"])) == 20
    assert len(await all_connections(hr, people["owed"]["id"])) == 20
    owners = {r["owner"] for r in (await fetch('SELECT "owner" FROM "connection"'))}
    assert people["old"]["id"] not in owners
    lines = await fetch('SELECT "url" FROM "connection_rejected_line" ORDER BY "url"')
    assert [r["url"] for r in lines] == [
        f"https://www.linkedin.com/in/una-{key}" for key in ("here", "owed", "recent")
    ]
    # The import's metadata stays: counts and digest, no names.
    imports = await hr.get(f"/api/v1/employees/{people['old']['id']}/connections/imports")
    assert len(imports.json()["items"]) == 1
    assert "connection.purge" in await _audit_text()
    # A shorter retention reaches the recent leaver too, through the CLI.
    from tests.cli import run_cli

    shorter = dataclasses.replace(settings, connection_retention_days=10)
    result = await run_cli(shorter, "connections", "purge", REGISTER_CONNECTION_RETENTION_DAYS="10")
    assert result.code == 0, result
    assert '"connections": 20' in result.out
    assert await all_connections(hr, people["recent"]["id"]) == []
    assert len(await all_connections(hr, people["here"]["id"])) == 20
    assert len(await all_connections(hr, people["owed"]["id"])) == 20


async def test_cli_subject_access_and_erase(
    settings: Any, hr: httpx.AsyncClient, staff: dict
) -> None:
    """`register connections subject-access` prints the JSON; `erase` erases."""
    from tests.cli import run_cli

    await upload(hr, staff["rec"]["id"], hand_made(ZOE))
    found = await run_cli(
        settings, "connections", "subject-access", "--email", "zoe.mueller@example.org"
    )
    assert found.code == 0 and '"count": 1' in found.out and "Müller" in found.out
    gone = await run_cli(
        settings, "connections", "erase", "--profile-url", "linkedin.com/in/zoe-mueller"
    )
    assert gone.code == 0 and '"erased": 1' in gone.out
    assert (
        await hr.post(
            "/api/v1/connections/subject-access", json={"email": "zoe.mueller@example.org"}
        )
    ).json()["count"] == 0
