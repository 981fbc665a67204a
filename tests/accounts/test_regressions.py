"""Defects found in review, each pinned by a test."""

from __future__ import annotations

import asyncio
import datetime as dt

from tests.helpers import assert_problem


async def test_concurrent_creates_of_one_handle_give_one_201_and_409s(it, people):
    body = {"platform": "x", "handle": "@race", "custodian_id": people["ana"]}
    results = await asyncio.gather(*(it.post("/api/v1/accounts", json=body) for _ in range(4)))
    assert sorted(r.status_code for r in results) == [201, 409, 409, 409]


async def test_concurrent_credential_saves_never_mix_keys(it, make_account):
    acct = await make_account()
    await it.put(f"/api/v1/accounts/{acct['id']}/credential", json={"password": "first"})
    results = await asyncio.gather(
        it.put(f"/api/v1/accounts/{acct['id']}/credential", json={"password": "second"}),
        it.put(f"/api/v1/accounts/{acct['id']}/credential", json={"recovery_codes": ["r-1"]}),
    )
    assert {r.status_code for r in results} <= {200, 409}
    revealed = await it.post(
        f"/api/v1/accounts/{acct['id']}/credential/reveal", json={"reason": "after the race"}
    )
    assert revealed.status_code == 200, revealed.text


async def test_text_longer_than_its_column_is_422_on_both_engines(it, people, make_account):
    long = "x" * 121
    assert_problem(
        await it.post(
            "/api/v1/accounts",
            json={
                "platform": "x",
                "handle": "longdept",
                "custodian_id": people["ana"],
                "department": long,
            },
        ),
        422,
        field="department",
    )
    acct = await make_account()
    resp = await it.post(
        f"/api/v1/accounts/{acct['id']}/grants",
        json={"employee_id": people["eve"], "level": "viewer", "platform_role": long},
    )
    assert_problem(resp, 422, field="platform_role")


async def test_inventory_row_with_unknown_status_is_a_row_error(it, people):
    csv = "platform,handle,custodian,status\nx,@paused_one,ana@example.com,paused\n"
    body = assert_problem(
        await it.post(
            "/api/v1/accounts/imports", files={"file": ("i.csv", csv.encode(), "text/csv")}
        ),
        422,
    )
    assert body["errors"][0]["line"] == 2 and body["errors"][0]["field"] == "status"


async def test_an_account_cannot_be_created_retired(it, people):
    resp = await it.post(
        "/api/v1/accounts",
        json={
            "platform": "x",
            "handle": "born_retired",
            "custodian_id": people["ana"],
            "status": "retired",
        },
    )
    assert_problem(resp, 422, field="status")


async def test_hr_import_marking_a_custodian_left_makes_rotation_due(it, hr, people, make_account):
    acct = await make_account(custodian_id=people["ben"], backup_custodian_id=people["ana"])
    await it.put(f"/api/v1/accounts/{acct['id']}/credential", json={"password": "before"})
    past = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    csv = f"name,work email,leaving date\nBen Okoro,ben@example.com,{past}\n"
    resp = await hr.post(
        "/api/v1/employees/imports", files={"file": ("hr.csv", csv.encode(), "text/csv")}
    )
    assert resp.status_code == 200, resp.text
    status = (await it.get(f"/api/v1/accounts/{acct['id']}/credential")).json()
    assert status["rotation_due"] is True and status["rotation_due_reason"] == "a holder left"


async def test_audit_action_prefix_is_literal_and_case_sensitive(admin, it, make_account):
    await make_account()
    assert (await admin.get("/api/v1/audit/events?action=account.*")).json()["items"]
    assert (await admin.get("/api/v1/audit/events?action=ACCOUNT.*")).json()["items"] == []
    assert (await admin.get("/api/v1/audit/events?action=accoun_.*")).json()["items"] == []


async def test_refusals_decided_in_services_are_audited(
    it, people, make_account, user_factory, admin
):
    from register.enums import Role

    acct = await make_account()
    transfer = (
        await it.post(
            f"/api/v1/accounts/{acct['id']}/transfers", json={"to_employee_id": people["eve"]}
        )
    ).json()
    _, outsider = await user_factory(Role.comms)
    calls = [
        outsider.post(f"/api/v1/accounts/{acct['id']}/transfers/{transfer['id']}/accept", json={}),
        outsider.post(f"/api/v1/accounts/{acct['id']}/recertify", json={}),
        outsider.get(f"/api/v1/accounts/{acct['id']}/credential/totp"),
        outsider.put(f"/api/v1/accounts/{acct['id']}/credential", json={"password": "nope"}),
    ]
    for call in calls:
        assert_problem(await call, 403)
    denied = (await admin.get("/api/v1/audit/events?action=auth.denied&limit=50")).json()["items"]
    actions = sorted(e["changes"]["action"] for e in denied)
    assert actions == ["credential.use", "credential.use", "custody.recertify", "custody.respond"]


async def test_risk_report_shows_each_change_at_once(it, people, make_account):
    acct = await make_account()
    first = (await it.get("/api/v1/accounts/risks")).json()
    again = (await it.get("/api/v1/accounts/risks")).json()
    assert first == again and first["totals"]["no_backup_custodian"] == 0
    resp = await it.patch(
        f"/api/v1/accounts/{acct['id']}",
        json={"version": acct["version"], "backup_custodian_id": None},
    )
    assert resp.status_code == 200, resp.text
    after = (await it.get("/api/v1/accounts/risks")).json()
    assert after["totals"]["no_backup_custodian"] == 1
    assert [i["account_id"] for i in after["items"]] == [acct["id"]]


async def test_marking_a_credential_rotation_due_is_its_own_audit_event(
    it, admin, people, make_account
):
    acct = await make_account()
    await it.put(f"/api/v1/accounts/{acct['id']}/credential", json={"password": "s3cret"})
    moved = await it.post(
        f"/api/v1/accounts/{acct['id']}/transfers", json={"to_employee_id": people["eve"]}
    )
    assert moved.status_code == 201, moved.text
    events = (
        await admin.get(
            f"/api/v1/audit/events?object_id={acct['id']}&action=credential.rotation_due"
        )
    ).json()["items"]
    assert len(events) == 1
    assert events[0]["changes"]["reason"] == [None, "custody moved"]
    # Already due: a second move flags nothing new and records nothing.
    await it.post(f"/api/v1/accounts/{acct['id']}/transfers/{moved.json()['id']}/accept", json={})
    await it.post(
        f"/api/v1/accounts/{acct['id']}/transfers", json={"to_employee_id": people["ana"]}
    )
    again = (
        await admin.get(
            f"/api/v1/audit/events?object_id={acct['id']}&action=credential.rotation_due"
        )
    ).json()["items"]
    assert len(again) == 1


async def test_backup_who_steps_up_and_declines_is_the_backup_again(it, people, make_account):
    acct = await make_account()  # custodian ana, backup ben
    moved = await it.post(
        f"/api/v1/accounts/{acct['id']}/transfers", json={"to_employee_id": people["ben"]}
    )
    assert moved.status_code == 201, moved.text
    assert moved.json()["backup_stepped_up"] is True
    during = (await it.get(f"/api/v1/accounts/{acct['id']}")).json()
    assert (during["custodian_id"], during["backup_custodian_id"]) == (people["ben"], None)
    declined = await it.post(
        f"/api/v1/accounts/{acct['id']}/transfers/{moved.json()['id']}/decline",
        json={"note": "not my brand"},
    )
    assert declined.status_code == 200, declined.text
    after = (await it.get(f"/api/v1/accounts/{acct['id']}")).json()
    assert (after["custodian_id"], after["backup_custodian_id"]) == (people["ana"], people["ben"])


async def test_stepped_up_backup_declining_keeps_a_backup_named_meanwhile(it, people, make_account):
    acct = await make_account()
    moved = (
        await it.post(
            f"/api/v1/accounts/{acct['id']}/transfers", json={"to_employee_id": people["ben"]}
        )
    ).json()
    named = await it.post(
        f"/api/v1/accounts/{acct['id']}/transfers",
        json={"to_employee_id": people["eve"], "role": "backup"},
    )
    assert named.status_code == 201, named.text
    await it.post(f"/api/v1/accounts/{acct['id']}/transfers/{moved['id']}/decline", json={})
    after = (await it.get(f"/api/v1/accounts/{acct['id']}")).json()
    assert (after["custodian_id"], after["backup_custodian_id"]) == (people["ana"], people["eve"])
