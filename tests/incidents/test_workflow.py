"""Tasks and phase gates: prerequisites, mandatory steps, the legal review before HR, review before closing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from incidents import services
from incidents.enums import Category, TaskState
from register.actor import Actor
from register.enums import Role
from tests.helpers import assert_problem
from tests.incidents.conftest import complete, file, move, tasks


async def test_status_cannot_pass_a_phase_with_mandatory_tasks_open(
    comms: httpx.AsyncClient,
) -> None:
    """Triaged needs the triage steps; jumping ahead checks every phase passed; status only moves forward."""
    incident = await file(comms, category="erroneous_post", severity="SEV3")
    iid = incident["id"]
    body = assert_problem(await move(comms, iid, "triaged"), 409)
    assert "Acknowledge" in body["detail"] and "Capture" in body["detail"]
    got = await tasks(comms, iid)
    assert (await complete(comms, iid, got["acknowledge"])).status_code == 200
    assert (await complete(comms, iid, got["capture"])).status_code == 200
    body = assert_problem(await move(comms, iid, "contained"), 409)
    assert "Decide" in body["detail"]
    assert (await move(comms, iid, "triaged")).json()["status"] == "triaged"
    assert_problem(await move(comms, iid, "reported"), 409, field="status")
    await complete(comms, iid, got["decide"])
    await complete(comms, iid, got["correction"])
    moved = (await move(comms, iid, "contained")).json()
    assert moved["status"] == "contained" and moved["contained_at"] and moved["triaged_at"]


async def test_prerequisites_and_skipping(comms: httpx.AsyncClient) -> None:
    """A step waits for the steps it requires; mandatory steps cannot be skipped; others with a reason."""
    incident = await file(comms, category="impersonation", severity="SEV3")
    iid = incident["id"]
    got = await tasks(comms, iid)
    body = assert_problem(await complete(comms, iid, got["report"]), 409, field="requires")
    assert body["waiting_for"] == ["Capture the fake account"]
    assert_problem(
        await comms.post(
            f"/api/v1/incidents/{iid}/tasks/{got['capture']['id']}/skip", json={"reason": "x"}
        ),
        409,
        field="mandatory",
    )
    assert_problem(
        await comms.post(f"/api/v1/incidents/{iid}/tasks/{got['warn']['id']}/skip", json={}), 422
    )
    await complete(comms, iid, got["acknowledge"])
    await complete(comms, iid, got["capture"])
    skipped = await comms.post(
        f"/api/v1/incidents/{iid}/tasks/{got['warn']['id']}/skip",
        json={"reason": "no customer contact seen"},
    )
    assert (
        skipped.json()["state"] == "skipped"
        and skipped.json()["note"] == "no customer contact seen"
    )
    assert (await complete(comms, iid, got["report"], "reported as X-123")).json()[
        "state"
    ] == "done"
    assert_problem(await complete(comms, iid, got["report"]), 409)


async def test_add_and_reassign_tasks(comms: httpx.AsyncClient, user_factory: Any) -> None:
    """Tasks can be added by hand (with prerequisites) and reassigned with the version read."""
    other, _ = await user_factory(Role.comms)
    incident = await file(comms, category="spam_unauthorised", severity="SEV3")
    iid = incident["id"]
    added = await comms.post(
        f"/api/v1/incidents/{iid}/tasks",
        json={
            "title": "Tell the agency",
            "phase": "contain",
            "owner_role": "comms",
            "requires": ["identify"],
            "mandatory": True,
        },
    )
    assert added.status_code == 201, added.text
    task = added.json()
    assert task["requires"] == ["identify"] and task["mandatory"]
    assert_problem(
        await comms.post(
            f"/api/v1/incidents/{iid}/tasks", json={"title": "x", "requires": ["nope"]}
        ),
        422,
        field="requires",
    )
    moved = await comms.post(
        f"/api/v1/incidents/{iid}/tasks/{task['id']}/assign",
        json={"version": 1, "assignee_id": other["id"]},
    )
    assert moved.json()["assignee_id"] == other["id"] and moved.json()["version"] == 2
    assert_problem(
        await comms.post(f"/api/v1/incidents/{iid}/tasks/{task['id']}/assign", json={"version": 1}),
        409,
        "stale-version",
    )
    # A new commander takes over the commander's open steps.
    changed = await comms.patch(
        f"/api/v1/incidents/{iid}", json={"version": 1, "commander_id": other["id"]}
    )
    assert changed.status_code == 200, changed.text
    assert (await tasks(comms, iid))["acknowledge"]["assignee_id"] == other["id"]


async def test_no_disciplinary_step_before_the_legal_review(
    comms: httpx.AsyncClient, hr_user: Any, people: dict[str, int], user_factory: Any
) -> None:
    """On an employee's post, HR's disciplinary step waits for legal's protected-activity review."""
    hr_info, hr = hr_user
    _, legal = await user_factory(Role.legal)
    incident = await file(
        comms,
        category="employee_post",
        severity="SEV2",
        employee_id=people["cy"],
        hr_assignee_id=hr_info["id"],
    )
    iid = incident["id"]
    got = await tasks(comms, iid)
    assert got["disciplinary"]["assignee_id"] == hr_info["id"]
    await complete(comms, iid, got["acknowledge"])
    await complete(comms, iid, got["capture"])
    body = assert_problem(await complete(hr, iid, got["disciplinary"], "written warning"), 409)
    assert "legal" in body["detail"].lower()
    assert_problem(
        await legal.post(
            f"/api/v1/incidents/{iid}/tasks/{got['legal_review']['id']}/skip",
            json={"reason": "no time"},
        ),
        409,
    )
    # Even a disciplinary task added by hand without listing the review waits for it.
    extra = await comms.post(
        f"/api/v1/incidents/{iid}/tasks",
        json={"title": "Final warning", "owner_role": "hr", "kind": "disciplinary"},
    )
    assert_problem(await complete(hr, iid, extra.json()), 409)
    review = await complete(
        legal, iid, got["legal_review"], "Not protected: no working conditions discussed"
    )
    assert review.status_code == 200, review.text
    done = await complete(
        hr, iid, got["disciplinary"], "informal conversation and training; no sanction"
    )
    assert done.status_code == 200, done.text


async def test_two_people_completing_one_task_get_one_success(
    app: Any, comms: httpx.AsyncClient
) -> None:
    """Concurrent completions: exactly one 200, the other a clean 409."""
    incident = await file(comms, category="location_reveal")
    got = await tasks(comms, incident["id"])
    results = await asyncio.gather(
        complete(comms, incident["id"], got["acknowledge"], "me"),
        complete(comms, incident["id"], got["acknowledge"], "me too"),
    )
    assert sorted(r.status_code for r in results) == [200, 409]
    # And at the service level, bypassing the pre-read, the conditional update decides.
    task = got["capture"]
    actor = Actor(user_id=None, email="a@example.com", role=Role.comms)
    outcomes = await asyncio.gather(
        *(
            services.finish_task(
                actor=actor,
                incident_id=incident["id"],
                task_id=task["id"],
                state=TaskState.done,
                note=str(n),
            )
            for n in range(3)
        ),
        return_exceptions=True,
    )
    assert sum(1 for o in outcomes if isinstance(o, dict)) == 1


async def test_sev1_closes_only_after_a_signed_off_review(comms: httpx.AsyncClient) -> None:
    """Every phase done, SEV1 still needs the review signed off; the follow-ups are tasks with owners."""
    import datetime as dt

    incident = await file(comms, category="erroneous_post", severity="SEV1")
    iid = incident["id"]
    got = await tasks(comms, iid)
    for key in ("acknowledge", "capture", "decide", "correction", "approval_flow"):
        assert (await complete(comms, iid, got[key])).status_code == 200
    assert (await move(comms, iid, "resolved")).status_code == 200
    body = assert_problem(await move(comms, iid, "closed"), 409)
    assert "Post-incident review" in body["detail"]
    review = await comms.put(
        f"/api/v1/incidents/{iid}/review",
        json={
            "version": 0,
            "summary": "Offensive joke posted from the brand account",
            "impact": "2k replies",
        },
    )
    assert review.status_code == 200, review.text
    assert_problem(
        await comms.post(f"/api/v1/incidents/{iid}/review/sign-off", json={"version": 1}),
        422,
        field="root_cause",
    )
    review = await comms.put(
        f"/api/v1/incidents/{iid}/review",
        json={
            "version": 1,
            "root_cause": "No second approver on weekend posts",
            "went_well": "Deleted in 9 min",
            "to_improve": "Two-person approval for scheduled posts",
        },
    )
    action = await comms.post(
        f"/api/v1/incidents/{iid}/review/actions",
        json={
            "title": "Set up two-person approval",
            "owner_role": "comms",
            "due_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=14)).isoformat(),
        },
    )
    assert (
        action.status_code == 201
        and action.json()["kind"] == "follow_up"
        and action.json()["due_at"]
    )
    signed = await comms.post(
        f"/api/v1/incidents/{iid}/review/sign-off", json={"version": review.json()["version"]}
    )
    assert signed.status_code == 200 and signed.json()["signed_off_at"]
    assert signed.json()["follow_up_actions"][0]["title"] == "Set up two-person approval"
    closed = await move(comms, iid, "closed")
    assert closed.status_code == 200 and closed.json()["closed_at"]
    found = (await comms.get("/api/v1/incidents/reviews", params={"q": "two-person"})).json()[
        "items"
    ]
    assert [r["incident_id"] for r in found] == [iid]
    assert (await comms.get("/api/v1/incidents/reviews", params={"q": "nothing like it"})).json()[
        "items"
    ] == []
    category = found[0]["category"]
    other = next(c.value for c in Category if c.value != category)
    for wanted, ids in ((category, [iid]), (other, [])):
        page = await comms.get("/api/v1/incidents/reviews", params={"category": wanted})
        assert [r["incident_id"] for r in page.json()["items"]] == ids, page.text
    assert_problem(
        await comms.patch(
            f"/api/v1/incidents/{iid}", json={"version": closed.json()["version"], "title": "x"}
        ),
        409,
    )


async def test_sev3_closes_without_a_signed_review(comms: httpx.AsyncClient) -> None:
    """Lower severities close once their review step is done (the decision noted)."""
    incident = await file(comms, category="location_reveal", severity="SEV4")
    iid = incident["id"]
    got = await tasks(comms, iid)
    for key in ("acknowledge", "capture", "person_at_risk", "remove", "review"):
        assert (await complete(comms, iid, got[key], "ok")).status_code == 200, key
    assert (await move(comms, iid, "closed")).json()["status"] == "closed"
