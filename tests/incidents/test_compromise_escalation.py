"""The compromise flow driving the vault, and escalation with a frozen clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from incidents.flows import check_clocks
from register.db import fetch
from register.settings import Settings
from tests.helpers import assert_problem, subscribe
from tests.incidents.conftest import complete, events, file, move, tasks


async def test_compromise_marks_account_rotation_and_tells_custodian(
    comms: httpx.AsyncClient,
    it: httpx.AsyncClient,
    account: dict[str, Any],
    people: dict[str, int],
    subscription: int,
) -> None:
    """Filing marks the account compromised and its credential rotation-due at once, and the
    custodian is told; resolving waits for the rotation through the vault; then the account is active."""
    aid = account["id"]
    assert (
        await it.put(f"/api/v1/accounts/{aid}/credential", json={"password": "old-password-1"})
    ).status_code == 200
    incident = await file(comms, category="account_compromise", severity="SEV1", account_id=aid)
    iid = incident["id"]
    acct = (await it.get(f"/api/v1/accounts/{aid}")).json()
    assert acct["status"] == "compromised"
    cred = (await it.get(f"/api/v1/accounts/{aid}/credential")).json()
    assert cred["rotation_due"] and incident["reference"] in cred["rotation_due_reason"]
    notices = [
        e
        for e in await events("incident.escalated")
        if e["payload"].get("reason") == "account_compromised"
    ]
    assert len(notices) == 1
    assert notices[0]["payload"]["custodians"][0]["employee_id"] == people["ana"]
    assert notices[0]["payload"]["custodians"][0]["email"] == "ana@example.com"
    timeline = (
        await comms.get(f"/api/v1/incidents/{iid}/timeline", params={"kind": "account"})
    ).json()["items"]
    assert "marked compromised" in timeline[0]["text"]

    got = await tasks(comms, iid)
    for key in ("acknowledge", "confirm", "capture", "recover"):
        assert (
            await complete(it if key in ("confirm", "recover") else comms, iid, got[key])
        ).status_code == 200, key
    # IT's rotation step cannot be ticked off before the vault holds a new credential.
    body = assert_problem(await complete(it, iid, got["rotate"]), 409)
    assert "credential" in body["detail"]
    await complete(it, iid, got["sessions"])
    assert (await move(comms, iid, "triaged")).status_code == 200
    assert_problem(await move(comms, iid, "contained"), 409)
    rotated = await it.put(
        f"/api/v1/accounts/{aid}/credential", json={"password": "new-password-2"}
    )
    assert rotated.status_code == 200 and not rotated.json()["rotation_due"]
    assert (await complete(it, iid, got["rotate"], "rotated, TOTP re-enrolled")).status_code == 200
    assert (await move(comms, iid, "contained")).status_code == 200
    # Nor is "recovery contacts company-controlled" while a recovery contact is someone's own.
    acct = (await it.get(f"/api/v1/accounts/{aid}")).json()
    personal = {"recovery_phone": "+44 7700 900123", "recovery_phone_company_controlled": False}
    assert (
        await it.patch(f"/api/v1/accounts/{aid}", json={"version": acct["version"], **personal})
    ).status_code == 200
    body = assert_problem(await complete(it, iid, got["recovery_contacts"]), 409)
    assert "recovery phone +44 7700 900123" in body["detail"]
    acct = (await it.get(f"/api/v1/accounts/{aid}")).json()
    moved = {"version": acct["version"], "recovery_phone_company_controlled": True}
    assert (await it.patch(f"/api/v1/accounts/{aid}", json=moved)).status_code == 200
    assert (await complete(it, iid, got["recovery_contacts"])).status_code == 200
    resolved = await move(comms, iid, "resolved")
    assert resolved.status_code == 200, resolved.text
    assert (await it.get(f"/api/v1/accounts/{aid}")).json()["status"] == "active"


async def test_resolving_a_compromise_requires_the_rotation(
    comms: httpx.AsyncClient, admin: httpx.AsyncClient, account: dict[str, Any]
) -> None:
    """Even with every task forced through by an admin, resolve is refused until the rotation."""
    incident = await file(
        comms, category="account_compromise", severity="SEV2", account_id=account["id"]
    )
    iid = incident["id"]
    # No credential at all on record: still not rotated.
    from register.db import write_transaction

    async with write_transaction():
        await fetch('UPDATE "incident_task" SET "state" = $1 WHERE "incident" = $2', "done", iid)
    assert (await move(admin, iid, "contained")).status_code == 200
    body = assert_problem(await move(admin, iid, "resolved"), 409)
    assert "rotated" in body["detail"]


async def test_escalation_renotifies_with_a_frozen_clock(
    comms: httpx.AsyncClient, subscription: int
) -> None:
    """SEV1 tells the escalation roles on filing; unacknowledged past 15 minutes it escalates again,
    once per clock period; overdue tasks and due status updates are reminded once each."""
    incident = await file(comms, category="impersonation", severity="SEV1")
    iid = incident["id"]
    start = dt.datetime.fromisoformat(incident["reported_at"])
    filed = await events("incident.escalated")
    assert len(filed) == 1 and set(filed[0]["audience"]) >= {"admin", "comms", "it", "hr"}
    assert (await check_clocks(at=start + dt.timedelta(minutes=10))) == {
        "unacknowledged": 0,
        "overdue_tasks": 0,
        "updates_due": 0,
    }
    counts = await check_clocks(at=start + dt.timedelta(minutes=16))
    # The triage steps (acknowledge, capture) are due at 15 minutes too.
    assert counts["unacknowledged"] == 1 and counts["overdue_tasks"] == 2
    again = [
        e
        for e in await events("incident.escalated")
        if e["payload"]["reason"] == "not_acknowledged"
    ]
    assert len(again) == 1 and again[0]["payload"]["minutes_waiting"] == 16
    assert (await check_clocks(at=start + dt.timedelta(minutes=20)))["unacknowledged"] == 0
    later = await check_clocks(at=start + dt.timedelta(minutes=32))
    assert later["unacknowledged"] == 1 and later["overdue_tasks"] == 0
    hour = await check_clocks(at=start + dt.timedelta(minutes=61))
    assert hour["updates_due"] == 1
    assert (await check_clocks(at=start + dt.timedelta(minutes=62)))["updates_due"] == 0
    past = await events("incident.past_sla")
    assert {e["payload"]["reason"] for e in past} == {"task_overdue", "status_update_due"}
    assert (await comms.post(f"/api/v1/incidents/{iid}/acknowledge")).status_code == 200
    assert (await check_clocks(at=start + dt.timedelta(hours=2)))["unacknowledged"] == 0
    kinds = [
        e["kind"] for e in (await comms.get(f"/api/v1/incidents/{iid}/timeline")).json()["items"]
    ]
    assert kinds.count("escalation") >= 4


async def test_sev3_does_not_page_anyone_on_filing(
    comms: httpx.AsyncClient, subscription: int
) -> None:
    """Only SEV1/SEV2 notify the escalation roles; every filing still tells comms."""
    await file(comms, severity="SEV3")
    assert await events("incident.escalated") == []
    assert len(await events("incident.filed")) == 1


async def test_cli_check_runs_the_clocks(
    app: Any, settings: Any, comms: httpx.AsyncClient, monkeypatch: Any, capsys: Any
) -> None:
    """`register incidents check --at` runs the same check."""
    from register import cli

    incident = await file(comms, severity="SEV2")
    at = (dt.datetime.fromisoformat(incident["reported_at"]) + dt.timedelta(hours=2)).isoformat()
    args = cli.build_parser().parse_args(["incidents", "check", "--at", at])
    code = await args.handler(args, settings)
    assert code == 0
    assert '"unacknowledged": 1' in capsys.readouterr().out


async def test_due_times_in_other_zones_are_compared_as_instants(comms: httpx.AsyncClient) -> None:
    """A due time sent with another offset is stored in UTC, so the clock check orders it right."""
    incident = await file(comms, severity="SEV4")
    start = dt.datetime.fromisoformat(incident["reported_at"])
    due = (start + dt.timedelta(hours=1)).astimezone(dt.timezone(dt.timedelta(hours=5)))
    task = await comms.post(
        f"/api/v1/incidents/{incident['id']}/tasks",
        json={"title": "Call the partner", "due_at": due.isoformat()},
    )
    assert task.status_code == 201, task.text
    assert dt.datetime.fromisoformat(task.json()["due_at"]) == due
    assert (await check_clocks(at=start + dt.timedelta(minutes=30)))["overdue_tasks"] == 0
    assert (await check_clocks(at=start + dt.timedelta(minutes=90)))["overdue_tasks"] == 1


async def test_clocks_checked_by_several_workers_at_once_notify_once(
    comms: httpx.AsyncClient, subscription: int
) -> None:
    """Every worker runs the clocks; two at the same moment send each notice once."""
    import asyncio

    incident = await file(comms, severity="SEV1")
    start = dt.datetime.fromisoformat(incident["reported_at"])
    first, second = await asyncio.gather(
        check_clocks(at=start + dt.timedelta(minutes=61)),
        check_clocks(at=start + dt.timedelta(minutes=61)),
    )
    # One incident: its escalation and its status reminder are each sent by one worker.
    for kind in ("unacknowledged", "updates_due"):
        assert first[kind] + second[kind] == max(first[kind], second[kind]) > 0, kind
    # Several tasks fall due together, and the two workers may share them out: each task's
    # reminder is sent once, by whichever worker marked it first.
    overdue = [
        e["payload"]["task_id"]
        for e in await events("incident.past_sla")
        if e["payload"]["reason"] == "task_overdue"
    ]
    assert len(overdue) == len(set(overdue)) == first["overdue_tasks"] + second["overdue_tasks"] > 0
    reasons = [e["payload"]["reason"] for e in await events("incident.escalated")]
    assert reasons.count("not_acknowledged") == 1
    updates = [
        e
        for e in await events("incident.past_sla")
        if e["payload"]["reason"] == "status_update_due"
    ]
    assert len(updates) == 1


async def test_a_severity_change_moves_the_running_clocks(
    comms: httpx.AsyncClient, subscription: int
) -> None:
    """SEV1 lowered to SEV3: the status update falls due on SEV3's daily cadence (not the hourly
    one), the steps take SEV3's clocks unless someone set their due time by hand, and the clock
    check reminds at SEV3; raised again, the hourly cadence runs from the last status update."""
    incident = await file(comms, category="erroneous_post", severity="SEV1")
    iid = incident["id"]
    start = dt.datetime.fromisoformat(incident["reported_at"])
    got = await tasks(comms, iid)
    by_hand = start + dt.timedelta(hours=3)
    assigned = await comms.post(
        f"/api/v1/incidents/{iid}/tasks/{got['capture']['id']}/assign",
        json={"version": got["capture"]["version"], "due_at": by_hand.isoformat()},
    )
    assert assigned.status_code == 200, assigned.text
    lowered = await comms.patch(f"/api/v1/incidents/{iid}", json={"version": 1, "severity": "SEV3"})
    assert lowered.status_code == 200, lowered.text
    due = dt.datetime.fromisoformat(lowered.json()["next_update_due_at"])
    assert due == start + dt.timedelta(days=1)
    moved = {
        k: dt.datetime.fromisoformat(t["due_at"]) for k, t in (await tasks(comms, iid)).items()
    }
    assert moved["acknowledge"] == start + dt.timedelta(hours=4)
    assert moved["decide"] == start + dt.timedelta(days=2)
    assert moved["capture"] == by_hand
    # Nothing is late on SEV1's clocks any more: no hourly reminder, no 15-minute escalation.
    assert await check_clocks(at=start + dt.timedelta(minutes=61)) == {
        "unacknowledged": 0,
        "overdue_tasks": 0,
        "updates_due": 0,
    }
    assert (await check_clocks(at=start + dt.timedelta(days=1, minutes=1)))["updates_due"] == 1
    reminders = [
        e
        for e in await events("incident.past_sla")
        if e["payload"]["reason"] == "status_update_due"
    ]
    assert len(reminders) == 1 and "every 1440 min at SEV3" in reminders[0]["summary"]
    # Raised again after a status update: an hour from that update.
    note = await comms.post(
        f"/api/v1/incidents/{iid}/notes", json={"text": "Correction posted", "status_update": True}
    )
    posted = dt.datetime.fromisoformat(note.json()["at"])
    version = (await comms.get(f"/api/v1/incidents/{iid}")).json()["version"]
    raised = await comms.patch(
        f"/api/v1/incidents/{iid}", json={"version": version, "severity": "SEV1"}
    )
    assert raised.status_code == 200, raised.text
    due = dt.datetime.fromisoformat(raised.json()["next_update_due_at"])
    assert due == posted + dt.timedelta(hours=1)


async def entries(client: httpx.AsyncClient, incident_id: int) -> list[dict[str, Any]]:
    """The entries of an incident's timeline that speak of notices."""
    items = (await client.get(f"/api/v1/incidents/{incident_id}/timeline")).json()["items"]
    return [e for e in items if e["kind"] in ("escalation", "account")]


async def test_the_timeline_says_who_was_reachable(
    app: Any, settings: Settings, comms: httpx.AsyncClient, account: dict[str, Any]
) -> None:
    """With no subscription the timeline says nobody was reachable (never "told" or "sent");
    with one, it says how many subscriptions each notice was queued for."""
    incident = await file(
        comms, category="account_compromise", severity="SEV1", account_id=account["id"]
    )
    iid = incident["id"]
    start = dt.datetime.fromisoformat(incident["reported_at"])
    await check_clocks(at=start + dt.timedelta(minutes=61))
    nobody = await entries(comms, iid)
    openings = ("SEV1: escalation", "not acknowledged", "past due", "status update due")
    assert {t for t in openings for e in nobody if e["text"].startswith(t)} == set(openings)
    for entry in nobody:
        assert "nobody reachable: no active subscription takes incident." in entry["text"], entry
        assert entry["data"]["subscriptions"] == 0 and entry["data"]["event_id"]
        assert not any(w in entry["text"] for w in ("told", "sent", "notified")), entry["text"]
    assert "Ana Silva, Ben Okoro" in nobody[1]["text"]

    # One receiver for everything, one that hears HR only: each notice reaches the first.
    await subscribe(
        app,
        settings,
        "http://127.0.0.1:9/all",
        events=["incident.escalated", "incident.past_sla"],
    )
    await subscribe(
        app, settings, "http://127.0.0.1:9/hr", events=["incident.past_sla"], roles=["hr"]
    )
    second = await file(comms, category="impersonation", severity="SEV1")
    start = dt.datetime.fromisoformat(second["reported_at"])
    await check_clocks(at=start + dt.timedelta(minutes=61))
    reached = await entries(comms, second["id"])
    assert {t for t in openings for e in reached if e["text"].startswith(t)} == set(openings)
    for entry in reached:
        assert entry["text"].endswith("queued for 1 subscription"), entry["text"]
        assert entry["data"]["subscriptions"] == 1
    # A raise that escalates says so on the severity line.
    third = await file(comms, category="impersonation", severity="SEV3")
    raised = await comms.patch(
        f"/api/v1/incidents/{third['id']}", json={"version": 1, "severity": "SEV2"}
    )
    assert raised.status_code == 200, raised.text
    line = (
        await comms.get(f"/api/v1/incidents/{third['id']}/timeline", params={"kind": "severity"})
    ).json()["items"][0]
    assert line["text"] == (
        "severity SEV3 -> SEV2; escalation to admin, comms: queued for 1 subscription"
    )
