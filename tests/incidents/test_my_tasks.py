"""The tasks assigned to the caller across incidents: staff see and complete their own, no more."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx

from register.enums import Role
from register.tables import AuditEvent
from tests.helpers import assert_problem
from tests.incidents.conftest import complete, file, tasks

MINE = "/api/v1/incidents/tasks/mine"


async def assign(
    comms: httpx.AsyncClient, incident_id: int, task: dict[str, Any], user_id: int, **extra: Any
) -> dict[str, Any]:
    """Give a task to someone with the version just read."""
    resp = await comms.post(
        f"/api/v1/incidents/{incident_id}/tasks/{task['id']}/assign",
        json={"version": task["version"], "assignee_id": user_id, **extra},
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


async def add(comms: httpx.AsyncClient, incident_id: int, **fields: Any) -> dict[str, Any]:
    """Add a task by hand."""
    resp = await comms.post(f"/api/v1/incidents/{incident_id}/tasks", json=fields)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def audit_of(action: str, task_id: int) -> list[dict[str, Any]]:
    """The audit events of one action on one task."""
    rows = await AuditEvent.select(AuditEvent.actor_id, AuditEvent.actor, AuditEvent.changes).where(
        (AuditEvent.action == action) & (AuditEvent.object_id == str(task_id))
    )
    return [
        {
            **r,
            "changes": json.loads(r["changes"]) if isinstance(r["changes"], str) else r["changes"],
        }
        for r in rows
    ]


async def test_staff_see_the_tasks_assigned_to_them_and_nothing_else(
    comms: httpx.AsyncClient, user_factory: Any
) -> None:
    """Open tasks soonest due first, each with its incident named; another's task is not there."""
    me, staff = await user_factory(Role.staff)
    other, _ = await user_factory(Role.staff)
    first = await file(comms, title="Wrong price in the launch post", severity="SEV2")
    second = await file(comms, title="Typo in the careers post", severity="SEV4")
    got = await tasks(comms, first["id"])
    await assign(comms, first["id"], got["capture"], me["id"])
    await assign(comms, first["id"], got["decide"], other["id"])
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    late = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    added = await add(
        comms,
        second["id"],
        title="Send the screenshot of your reply",
        guidance="Attach it to a mail to comms.",
        assignee_id=me["id"],
        due_at=late.isoformat(),
    )
    capture = await assign(
        comms, first["id"], got["capture"] | {"version": 2}, me["id"], due_at=soon.isoformat()
    )

    resp = await staff.get(MINE)
    assert resp.status_code == 200, resp.text
    mine = resp.json()
    # The overdue one first, then the one due in two hours; the other person's is not listed.
    assert [t["id"] for t in mine] == [added["id"], capture["id"]]
    assert mine[0]["incident"] == {
        "id": second["id"],
        "reference": second["reference"],
        "title": "Typo in the careers post",
        "severity": "SEV4",
    }
    assert mine[0]["guidance"] == "Attach it to a mail to comms."
    assert mine[0]["state"] == "open" and mine[0]["may_complete"] is True
    # Capture waits for the acknowledgement, which is comms' step: named, not completable yet.
    assert mine[1]["waiting_for"] == ["Acknowledge and name the incident commander"]
    assert mine[1]["may_complete"] is False
    # Nothing of the incident beyond what names it.
    assert set(mine[0]) == {
        "id",
        "incident_id",
        "title",
        "guidance",
        "phase",
        "kind",
        "due_at",
        "mandatory",
        "state",
        "note",
        "done_at",
        "version",
        "incident",
        "waiting_for",
        "may_complete",
        "sign_off",
    }
    # The incident itself, its task list and timeline stay closed to staff.
    for path in (
        f"/api/v1/incidents/{first['id']}",
        f"/api/v1/incidents/{first['id']}/tasks",
        f"/api/v1/incidents/{first['id']}/timeline",
    ):
        assert_problem(await staff.get(path), 403, "forbidden")


async def test_staff_complete_their_own_open_task_with_a_note_audited(
    comms: httpx.AsyncClient, user_factory: Any
) -> None:
    """Their own, open, with a note: done, on the timeline and in the audit trail; once only."""
    me, staff = await user_factory(Role.staff)
    incident = await file(comms, title="Off-brand post")
    task = await add(comms, incident["id"], title="Delete your repost", assignee_id=me["id"])

    # A note is required of staff, and is text of at most 5000 characters.
    url = f"/api/v1/incidents/{incident['id']}/tasks/{task['id']}/complete"
    assert_problem(await staff.post(url, json={}), 422, field="note")
    assert_problem(await staff.post(url, json={"note": "   "}), 422, field="note")
    assert_problem(await staff.post(url, json={"note": "x" * 5001}), 422, field="note")
    assert_problem(await staff.post(url, json={"note": 5}), 422, field="note")

    done = await staff.post(url, json={"note": "Deleted it at 10:05"})
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "done" and done.json()["done_by"] == me["id"]
    assert done.json()["note"] == "Deleted it at 10:05"
    events = await audit_of("incident.task.complete", task["id"])
    assert len(events) == 1 and events[0]["actor_id"] == me["id"]
    assert events[0]["actor"] == me["email"]
    assert events[0]["changes"]["state"] == ["open", "done"]
    timeline = (await comms.get(f"/api/v1/incidents/{incident['id']}/timeline")).json()["items"]
    assert any("Delete your repost (Deleted it at 10:05)" in e["text"] for e in timeline)

    # Only while open: a second time is a conflict, and the list shows it finished.
    assert_problem(await staff.post(url, json={"note": "again"}), 409)
    mine = (await staff.get(MINE)).json()
    assert [(t["id"], t["state"], t["may_complete"]) for t in mine] == [(task["id"], "done", False)]
    # Finished tasks stay listed for `days` days: none asked, none listed.
    assert (await staff.get(MINE, params={"days": 0})).json() == []


async def test_staff_may_not_complete_or_skip_what_is_not_theirs_to_do(
    comms: httpx.AsyncClient, user_factory: Any
) -> None:
    """Another's task, a skip, a legal step: 403 saying why, audited, and the task still open."""
    me, staff = await user_factory(Role.staff)
    other, _ = await user_factory(Role.staff)
    incident = await file(comms, title="Leaked slide")
    theirs = await add(comms, incident["id"], title="Their step", assignee_id=other["id"])
    mine = await add(comms, incident["id"], title="My step", assignee_id=me["id"])
    legal = await add(
        comms, incident["id"], title="Weigh the post", owner_role="legal", assignee_id=me["id"]
    )
    base = f"/api/v1/incidents/{incident['id']}/tasks"

    # Refused before the body is read: a broken body gets the same 403.
    for body in ({"note": "done"}, {"note": 5}):
        refused = assert_problem(
            await staff.post(f"{base}/{theirs['id']}/complete", json=body), 403, "forbidden"
        )
        assert refused["detail"] == "role 'staff' may work only its own tasks"
        # Nothing of another's task is said, not even its title.
        assert "Their step" not in refused["detail"]
    skipped = assert_problem(
        await staff.post(f"{base}/{mine['id']}/skip", json={"reason": "not needed"}), 403
    )
    assert "skipped is for the incident's team" in skipped["detail"]
    signed = assert_problem(
        await staff.post(f"{base}/{legal['id']}/complete", json={"note": "fine"}), 403
    )
    assert "signed off by legal counsel" in signed["detail"]
    # A task that does not exist is 404, as for everyone.
    assert_problem(await staff.post(f"{base}/987654/complete", json={"note": "x"}), 404)

    denied = await AuditEvent.select(AuditEvent.object_id, AuditEvent.changes).where(
        (AuditEvent.action == "auth.denied") & (AuditEvent.actor_id == me["id"])
    )
    assert sorted(r["object_id"] for r in denied) == sorted(
        [str(theirs["id"])] * 2 + [str(mine["id"]), str(legal["id"])]
    )
    states = {t["id"]: t["state"] for t in (await tasks(comms, incident["id"])).values()}
    assert {states[theirs["id"]], states[mine["id"]], states[legal["id"]]} == {"open"}
    # The legal step is listed as theirs to prepare, not to finish.
    listed = {t["id"]: t for t in (await staff.get(MINE)).json()}
    assert listed[legal["id"]]["sign_off"] == "legal"
    assert listed[legal["id"]]["may_complete"] is False
    assert listed[mine["id"]]["may_complete"] is True
    assert theirs["id"] not in listed


async def test_other_roles_list_their_own_tasks_and_bad_input_names_the_field(
    comms_user: Any, user_factory: Any, auditor: httpx.AsyncClient
) -> None:
    """Comms (or HR, IT, legal) use the same route for theirs; days out of range is refused."""
    comms_info, comms = comms_user
    hr_info, hr = await user_factory(Role.hr)
    incident = await file(comms, title="Press call")
    got = await tasks(comms, incident["id"])
    await assign(comms, incident["id"], got["acknowledge"], comms_info["id"])
    await assign(comms, incident["id"], got["decide"], hr_info["id"])
    # The filer leads the incident, so the commander's steps are theirs too; HR's is not.
    listed = {t["id"]: t for t in (await comms.get(MINE)).json()}
    assert got["acknowledge"]["id"] in listed and got["decide"]["id"] not in listed
    assert listed[got["acknowledge"]["id"]]["may_complete"] is True
    hr_tasks = (await hr.get(MINE)).json()
    assert [t["id"] for t in hr_tasks] == [got["decide"]["id"]]
    assert hr_tasks[0]["may_complete"] is False and hr_tasks[0]["waiting_for"]
    # Comms' own step: done through the usual route, listed as done afterwards (last).
    assert (await complete(comms, incident["id"], got["acknowledge"])).status_code == 200
    after = (await comms.get(MINE)).json()
    assert (after[-1]["id"], after[-1]["state"]) == (got["acknowledge"]["id"], "done")
    for bad in ("91", "-1", "soon"):
        assert_problem(await comms.get(MINE, params={"days": bad}), 422, field="days")
    # Auditors change nothing, tasks included.
    assert_problem(await auditor.get(MINE), 403, "forbidden")


async def test_a_closed_incidents_open_tasks_leave_the_list(
    comms: httpx.AsyncClient, user_factory: Any
) -> None:
    """Nothing is left to do on a closed incident: its open tasks are not offered."""
    me, staff = await user_factory(Role.staff)
    incident = await file(comms, title="Spam from the brand account")
    task = await add(comms, incident["id"], title="Check your phone", assignee_id=me["id"])
    assert [t["id"] for t in (await staff.get(MINE)).json()] == [task["id"]]
    from incidents.tables import Incident

    await Incident.update({Incident.status: "closed"}).where(Incident.id == incident["id"])
    assert (await staff.get(MINE)).json() == []
