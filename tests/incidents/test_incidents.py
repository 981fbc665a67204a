"""Filing, reading, listing and changing incidents; the timeline records every change."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx

from incidents.services import file_incident
from register.actor import Actor
from register.db import fetch
from tests.helpers import assert_problem
from tests.incidents.conftest import events, file, tasks


async def test_filing_gives_reference_people_and_playbook(
    comms: httpx.AsyncClient, comms_user: Any, people: dict[str, int], user_factory: Any
) -> None:
    """INC-YYYY-NNNN in sequence; the filer leads unless someone is named; people and URLs kept."""
    spokes, _ = await user_factory("comms")
    first = await file(comms)
    second = await file(
        comms,
        title="Off-brand reply",
        platform="x",
        employee_id=people["cy"],
        spokesperson_id=spokes["id"],
        content_urls=["https://x.com/northwind/status/1"],
    )
    year = dt.datetime.now(dt.UTC).year
    assert first["reference"] == f"INC-{year}-0001"
    assert second["reference"] == f"INC-{year}-0002"
    assert second["commander_id"] == comms_user[0]["id"]
    assert second["spokesperson_id"] == spokes["id"]
    assert second["employee_id"] == people["cy"] and second["platform"] == "x"
    assert second["content_urls"] == ["https://x.com/northwind/status/1"]
    assert second["status"] == "reported" and second["reported_at"]
    assert second["reporter_id"] == comms_user[0]["id"]
    got = await tasks(comms, second["id"])
    assert got["apology_approval"]["assignee_id"] == spokes["id"]
    assert got["capture"]["assignee_id"] == comms_user[0]["id"]
    assert (await comms.get(f"/api/v1/incidents/{second['id']}")).json()["reference"] == second[
        "reference"
    ]


async def test_steps_follow_the_people_named_after_filing(
    comms: httpx.AsyncClient, comms_user: Any, user_factory: Any
) -> None:
    """Filed with nobody but the commander, a spokesperson's steps sit with the commander until a
    spokesperson is named, then go to them; a new commander takes the commander's and comms' steps."""
    filed = await file(comms, title="Wrong price posted")
    lead = comms_user[0]["id"]
    got = await tasks(comms, filed["id"])
    assert got["apology_approval"]["assignee_id"] == lead
    assert got["correction"]["assignee_id"] == lead
    spokes, _ = await user_factory("comms")
    named = await comms.patch(
        f"/api/v1/incidents/{filed['id']}",
        json={"spokesperson_id": spokes["id"], "version": filed["version"]},
    )
    assert named.status_code == 200, named.text
    got = await tasks(comms, filed["id"])
    assert got["apology_approval"]["assignee_id"] == spokes["id"]
    assert got["capture"]["assignee_id"] == lead
    lead2, _ = await user_factory("comms")
    moved = await comms.patch(
        f"/api/v1/incidents/{filed['id']}",
        json={"commander_id": lead2["id"], "version": named.json()["version"]},
    )
    assert moved.status_code == 200, moved.text
    got = await tasks(comms, filed["id"])
    assert got["capture"]["assignee_id"] == lead2["id"]
    assert got["correction"]["assignee_id"] == lead2["id"]
    assert got["apology_approval"]["assignee_id"] == spokes["id"]


async def test_bad_input_names_the_field(comms: httpx.AsyncClient, people: dict[str, int]) -> None:
    """Unknown category, bad URL, unknown account or user: 422 naming the field, nothing written."""
    body = {"title": "x", "category": "erroneous_post", "severity": "SEV3"}
    assert_problem(
        await comms.post("/api/v1/incidents", json={**body, "category": "nope"}),
        422,
        field="category",
    )
    assert_problem(
        await comms.post("/api/v1/incidents", json={**body, "severity": "SEV9"}),
        422,
        field="severity",
    )
    assert_problem(
        await comms.post(
            "/api/v1/incidents", json={**body, "content_urls": ["ftp://files.example.com/a"]}
        ),
        422,
        field="content_urls[0]",
    )
    assert_problem(
        await comms.post("/api/v1/incidents", json={**body, "account_id": 999}),
        422,
        field="account_id",
    )
    assert_problem(
        await comms.post("/api/v1/incidents", json={**body, "commander_id": 999}),
        422,
        field="commander_id",
    )
    assert_problem(
        await comms.post("/api/v1/incidents", json={**body, "category": "account_compromise"}),
        422,
        field="account_id",
    )
    assert (await fetch('SELECT COUNT(*) AS "n" FROM "incident"'))[0]["n"] == 0


async def test_references_are_unique_under_concurrent_filing(app: Any) -> None:
    """Twenty filings at once get twenty different, consecutive references."""
    actor = Actor.system("test")
    made = await asyncio.gather(
        *(
            file_incident(
                actor=actor,
                data={"title": f"t{n}", "category": "spam_unauthorised", "severity": "SEV4"},
            )
            for n in range(20)
        )
    )
    numbers = sorted(int(m["reference"].rsplit("-", 1)[1]) for m in made)
    assert numbers == list(range(1, 21))


async def test_list_filters_and_paginates(
    comms: httpx.AsyncClient, account: dict[str, Any]
) -> None:
    """Filters by status, severity, category, platform, account, open, text; pages newest first."""
    a = await file(
        comms, title="Spam wave", category="spam_unauthorised", severity="SEV2", platform="x"
    )
    b = await file(
        comms,
        title="Fake page",
        category="impersonation",
        severity="SEV3",
        platform="facebook_page",
    )
    c = await file(
        comms,
        title="Hijack",
        category="account_compromise",
        severity="SEV1",
        account_id=account["id"],
    )

    async def ids(**params: Any) -> list[int]:
        resp = await comms.get("/api/v1/incidents", params=params)
        assert resp.status_code == 200, resp.text
        return [i["id"] for i in resp.json()["items"]]

    assert await ids() == [c["id"], b["id"], a["id"]]
    assert await ids(severity="SEV2") == [a["id"]]
    assert await ids(category="impersonation") == [b["id"]]
    assert await ids(platform="x") == [c["id"], a["id"]]
    assert await ids(account_id=account["id"]) == [c["id"]]
    assert await ids(status="reported", severity="SEV1") == [c["id"]]
    assert await ids(open="true") == [c["id"], b["id"], a["id"]]
    assert await ids(open="false") == []
    assert await ids(q="fake") == [b["id"]]
    assert await ids(q=c["reference"]) == [c["id"]]
    page = (await comms.get("/api/v1/incidents", params={"limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_offset"] == 2
    assert_problem(
        await comms.get("/api/v1/incidents", params={"severity": "SEV7"}), 422, field="severity"
    )


async def test_update_is_versioned_and_severity_change_recorded(
    comms: httpx.AsyncClient, subscription: int
) -> None:
    """A stale version gets 409; raising the severity moves the clocks, escalates, and is on the timeline."""
    incident = await file(comms, category="erroneous_post", severity="SEV3")
    before = await tasks(comms, incident["id"])
    resp = await comms.patch(
        f"/api/v1/incidents/{incident['id']}",
        json={"version": 1, "severity": "SEV1", "title": "Offensive post"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["severity"] == "SEV1" and resp.json()["version"] == 2
    assert_problem(
        await comms.patch(
            f"/api/v1/incidents/{incident['id']}", json={"version": 1, "title": "again"}
        ),
        409,
        "stale-version",
    )
    after = await tasks(comms, incident["id"])
    assert after["capture"]["due_at"] < before["capture"]["due_at"]
    line = (
        await comms.get(f"/api/v1/incidents/{incident['id']}/timeline", params={"kind": "severity"})
    ).json()
    data = line["items"][0]["data"]
    assert data["from"] == "SEV3" and data["to"] == "SEV1" and data["subscriptions"] == 1
    escalated = await events("incident.escalated")
    assert any(e["payload"]["reason"] == "severity_raised" for e in escalated)


async def test_every_change_is_on_the_timeline_and_audited(
    comms: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    """Filing, acknowledging, tasks, notes and status changes appear without anyone writing them."""
    incident = await file(comms, category="location_reveal", severity="SEV4")
    iid = incident["id"]
    assert (await comms.post(f"/api/v1/incidents/{iid}/acknowledge")).status_code == 200
    assert_problem(await comms.post(f"/api/v1/incidents/{iid}/acknowledge"), 409)
    got = await tasks(comms, iid)
    assert got["acknowledge"]["state"] == "done"
    await comms.post(
        f"/api/v1/incidents/{iid}/tasks/{got['capture']['id']}/complete", json={"note": "saved"}
    )
    note = await comms.post(f"/api/v1/incidents/{iid}/notes", json={"text": "CEO informed"})
    assert note.status_code == 201 and note.json()["kind"] == "note"
    kinds = [
        e["kind"] for e in (await comms.get(f"/api/v1/incidents/{iid}/timeline")).json()["items"]
    ]
    assert kinds == ["filed", "acknowledged", "task", "note"]
    actions = {
        e["action"]
        for e in (
            await admin.get("/api/v1/audit/events", params={"object_type": "incident"})
        ).json()["items"]
    }
    assert {"incident.file", "incident.acknowledge", "incident.note"} <= actions


async def test_status_updates_restart_the_cadence(comms: httpx.AsyncClient) -> None:
    """A status update moves the next update due time by the severity's cadence."""
    incident = await file(comms, severity="SEV1")
    due = dt.datetime.fromisoformat(incident["next_update_due_at"])
    assert due - dt.datetime.fromisoformat(incident["reported_at"]) == dt.timedelta(hours=1)
    resp = await comms.post(
        f"/api/v1/incidents/{incident['id']}/notes",
        json={"text": "Post deleted; statement drafted", "status_update": True},
    )
    assert resp.json()["kind"] == "status_update"
    fresh = (await comms.get(f"/api/v1/incidents/{incident['id']}")).json()
    assert dt.datetime.fromisoformat(fresh["next_update_due_at"]) > due


async def test_severities_have_written_definitions(comms: httpx.AsyncClient) -> None:
    """SEV1-SEV4 come with definitions and clocks."""
    got = (await comms.get("/api/v1/incidents/severities")).json()
    assert [s["severity"] for s in got] == ["SEV1", "SEV2", "SEV3", "SEV4"]
    assert got[0]["acknowledge_minutes"] == 15 and got[0]["contain_minutes"] == 240
    assert all(len(s["definition"]) > 60 for s in got)
    assert got[0]["review_required"] and not got[3]["review_required"]


async def test_times_in_the_timeline_are_spelt_as_the_api_spells_them(comms: Any) -> None:
    """A time a timeline line carries in its data reads as RFC 3339 with Z, like every other time."""
    from incidents.enums import TimelineKind
    from incidents.services import list_timeline, timeline
    from register.actor import Actor
    from register.db import write_transaction

    incident = await file(comms)
    when = dt.datetime(2026, 12, 2, 15, 11, 16, 494841, tzinfo=dt.UTC)
    async with write_transaction():
        await timeline(
            Actor.system("test"), incident["id"], TimelineKind.note, "due", {"due_at": when}
        )
    entries, _ = await list_timeline(incident_id=incident["id"], limit=50, offset=0)
    assert any(e["data"].get("due_at") == "2026-12-02T15:11:16.494841Z" for e in entries), entries


async def test_the_timeline_after_an_entry_holds_only_what_came_later(comms: Any) -> None:
    """What a page already shows is not sent again: only the entries after the last one it has."""
    from incidents.enums import TimelineKind
    from incidents.services import list_timeline

    incident = await file(comms)
    before, _ = await list_timeline(incident_id=incident["id"], limit=50, offset=0)
    resp = await comms.post(
        f"/api/v1/incidents/{incident['id']}/notes", json={"text": "a later note"}
    )
    assert resp.status_code in (200, 201), resp.text
    later, _ = await list_timeline(
        incident_id=incident["id"], limit=50, offset=0, after=before[-1]["id"]
    )
    assert [e["text"] for e in later] == ["a later note"]
    notes, _ = await list_timeline(
        incident_id=incident["id"], limit=50, offset=0, kind=TimelineKind.note, after=0
    )
    assert [e["text"] for e in notes] == ["a later note"]
