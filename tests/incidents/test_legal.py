"""The legal gate: legal counsel alone (or an admin) signs the legal steps and the release approvals."""

from __future__ import annotations

import json
from typing import Any

import httpx

from register.enums import Role
from register.tables import AuditEvent
from tests.helpers import assert_problem
from tests.incidents.conftest import complete, file, tasks


async def test_only_legal_counsel_signs_the_legal_steps(
    comms: httpx.AsyncClient, legal_user: Any, admin: httpx.AsyncClient
) -> None:
    """A press inquiry's legal check and its holding statement approved before release are
    refused to the comms commander and signed by legal, with who, as what and when on the task,
    the timeline and the audit trail; legal may finish nothing else."""
    counsel, legal = legal_user
    incident = await file(comms, category="press_inquiry", severity="SEV2", legal_id=counsel["id"])
    iid = incident["id"]
    got = await tasks(comms, iid)
    gated = {k for k, t in got.items() if t["sign_off"] == "legal"}
    assert gated == {"legal_check", "holding_statement"}
    assert got["legal_check"]["assignee_id"] == counsel["id"]
    for key in ("acknowledge", "log_inquiry"):
        # Legal works nothing but legal steps, even ones it could see.
        assert_problem(await complete(legal, iid, got[key]), 403, "forbidden")
        assert (await complete(comms, iid, got[key])).status_code == 200
    refused = assert_problem(await complete(comms, iid, got["legal_check"]), 403, "forbidden")
    assert "legal" in refused["detail"]
    signed = await complete(legal, iid, got["legal_check"], "nothing on litigation may be said")
    assert signed.status_code == 200, signed.text
    task = signed.json()
    assert task["state"] == "done" and task["signed_off_by"] == counsel["id"]
    assert task["signed_off_as"] == "legal" and task["signed_off_at"] == task["done_at"]
    assert_problem(await complete(comms, iid, got["holding_statement"]), 403, "forbidden")
    assert (await complete(legal, iid, got["holding_statement"], "approved")).status_code == 200

    lines = (await legal.get(f"/api/v1/incidents/{iid}/timeline", params={"kind": "task"})).json()[
        "items"
    ]
    assert (
        f"legal sign-off by {counsel['email']} (legal): completed: Legal check of the inquiry"
        in lines[-2]["text"]
    )
    assert lines[-2]["data"]["signed_off_by"] == counsel["id"]
    events = await AuditEvent.select(AuditEvent.action, AuditEvent.changes).where(
        (AuditEvent.object_type == "incident_task")
        & (AuditEvent.object_id == str(got["legal_check"]["id"]))
    )
    changes = [
        json.loads(e["changes"]) if isinstance(e["changes"], str) else e["changes"] for e in events
    ]
    assert any(c.get("signed_off_as") == [None, "legal"] for c in changes), changes
    denied = await AuditEvent.count().where(
        (AuditEvent.action == "auth.denied") & (AuditEvent.object_type == "incident_task")
    )
    assert denied == 4

    # An admin stands in, and the sign-off says so; a step added by hand for legal is legal's.
    other = await file(comms, category="employee_post", severity="SEV3")
    steps = await tasks(comms, other["id"])
    for key in ("acknowledge", "capture"):
        assert (await complete(comms, other["id"], steps[key])).status_code == 200
    review = steps["legal_review"]
    assert review["assignee_id"] is None  # no counsel named: the legal team's
    by_admin = await complete(admin, other["id"], review, "not protected activity")
    assert by_admin.status_code == 200, by_admin.text
    assert by_admin.json()["signed_off_as"] == "admin"
    added = await comms.post(
        f"/api/v1/incidents/{other['id']}/tasks",
        json={"title": "Answer the employee's lawyer", "owner_role": "legal"},
    )
    assert added.json()["sign_off"] == "legal"
    assert_problem(await complete(comms, other["id"], added.json()), 403, "forbidden")


async def test_legal_reads_incidents_and_changes_nothing_else(
    comms: httpx.AsyncClient, legal_user: Any, user_factory: Any
) -> None:
    """Legal reads incidents, their timeline, evidence and playbooks; files, edits and notes nothing;
    and counsel named on an incident must be a legal user (or an admin)."""
    counsel, legal = legal_user
    incident = await file(comms, category="privacy_breach", severity="SEV2")
    iid = incident["id"]
    for path in (
        f"/api/v1/incidents/{iid}",
        f"/api/v1/incidents/{iid}/timeline",
        f"/api/v1/incidents/{iid}/tasks",
        f"/api/v1/incidents/{iid}/evidence",
        "/api/v1/playbooks/privacy_breach",
    ):
        assert (await legal.get(path)).status_code == 200, path
    for method, path, body in (
        ("POST", "/api/v1/incidents", {"title": "x", "category": "harassment"}),
        ("PATCH", f"/api/v1/incidents/{iid}", {"version": 1, "title": "x"}),
        ("POST", f"/api/v1/incidents/{iid}/notes", {"text": "x"}),
        ("GET", "/api/v1/incidents/metrics", None),
        ("GET", "/api/v1/accounts", None),
        ("GET", "/api/v1/employees", None),
    ):
        assert_problem(await legal.request(method, path, json=body), 403, "forbidden")
    gated = {k for k, t in (await tasks(legal, iid)).items() if t["sign_off"] == "legal"}
    # The legal team's steps, and the public statement legal approves before release.
    assert gated == {
        "scope",
        "dpo",
        "regulator_decision",
        "individuals",
        "statement",
        "breach_register",
    }
    commander, _ = await user_factory(Role.comms)
    named = await comms.patch(
        f"/api/v1/incidents/{iid}", json={"version": 1, "legal_id": commander["id"]}
    )
    assert_problem(named, 422, field="legal_id")
    named = await comms.patch(
        f"/api/v1/incidents/{iid}", json={"version": 1, "legal_id": counsel["id"]}
    )
    assert named.status_code == 200, named.text
    assert {
        t["assignee_id"] for t in (await tasks(legal, iid)).values() if t["owner_role"] == "legal"
    } == {counsel["id"]}


async def test_the_api_document_and_the_cli_know_the_legal_role(
    client: httpx.AsyncClient, settings: Any
) -> None:
    """The OpenAPI document lists `legal` among the roles, and `register user create` takes it."""
    from register import cli

    doc = (await client.get("/schema/openapi.json")).json()
    assert "legal" in doc["components"]["schemas"]["Role"]["enum"]
    assert "sign_off" in doc["components"]["schemas"]["TaskOut"]["properties"]
    args = cli.build_parser().parse_args(
        ["user", "create", "--email", "counsel@example.com", "--role", "legal"]
    )
    assert args.role == "legal"
