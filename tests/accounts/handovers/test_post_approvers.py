"""A leaver who approves accounts' posts: the footprint names it, the handover replaces them as
approver (never leaving an account that needs approval without one), withdraws their open post
requests, refuses completion while they still approve, and the certificate lists who took over."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from accounts.handovers.files import certificate_html, verify_certificate
from register.enums import Role
from register.settings import Settings
from register.tables import AuditEvent
from tests.accounts.handovers.conftest import Approvals
from tests.helpers import assert_problem

LEAD = "hr-lead@example.com"
DATA = Path(__file__).parent / "data"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings with one HR lead."""
    return dataclasses.replace(settings, handover_hr_leads=(LEAD,))


async def _start(hr: httpx.AsyncClient, cy: int, successor: int) -> dict[str, Any]:
    resp = await hr.post(
        "/api/v1/handovers", json={"employee_id": cy, "successor_id": successor, "open": True}
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def _item(handover: dict[str, Any], kind: str, target: int | None = None) -> dict[str, Any]:
    (found,) = [
        i
        for i in handover["items"]
        if i["kind"] == kind and (target is None or i["target_id"] == target)
    ]
    return found


async def test_the_footprint_names_the_approvals_and_the_open_posts(
    hr: httpx.AsyncClient, approvals: Approvals
) -> None:
    fp = (await hr.get(f"/api/v1/employees/{approvals.cy}/footprint")).json()
    by_handle = {a["handle"]: a for a in fp["post_approvals"]}
    assert set(by_handle) == {"only", "shared", "free"}
    assert (by_handle["only"]["only_approver"], by_handle["only"]["blocker"]) == (True, True)
    assert (by_handle["shared"]["only_approver"], by_handle["shared"]["blocker"]) == (False, False)
    assert [a["name"] for a in by_handle["shared"]["other_approvers"]] == ["Ana Silva"]
    # Its only approver, but posts there need no approval: nothing stalls.
    assert (by_handle["free"]["only_approver"], by_handle["free"]["blocker"]) == (True, False)
    assert [r["id"] for r in fp["post_requests"]["submitted"]] == [approvals.mine]
    assert [r["id"] for r in fp["post_requests"]["waiting_on"]] == [approvals.theirs]
    assert fp["post_requests"]["waiting_on"][0]["submitted_by_name"] == "Eve Active"
    # Someone who approves nothing has empty lists.
    ana = (await hr.get(f"/api/v1/employees/{approvals.ana_user['employee_id']}/footprint")).json()
    assert ana["post_approvals"][0]["handle"] == "shared"
    assert ana["post_approvals"][0]["blocker"] is False


async def test_the_handover_replaces_the_approver_and_withdraws_the_open_posts(
    hr: httpx.AsyncClient,
    it: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    user_factory: Any,
    approvals: Approvals,
    people: dict[str, int],
    secrets: Any,
    settings: Settings,
) -> None:
    a = approvals
    handover = await _start(hr, a.cy, people["eve"])
    hid = handover["id"]
    only = _item(handover, "replace_post_approver", a.only["id"])
    shared = _item(handover, "replace_post_approver", a.shared["id"])
    free = _item(handover, "replace_post_approver", a.free["id"])
    assert only["detail"]["blocker"] is True and shared["detail"]["blocker"] is False
    assert only["owner_role"] == "it"
    posts = _item(handover, "withdraw_post_requests")
    assert posts["detail"]["post_request_ids"] == [a.mine]
    # While Cy approves anywhere, the handover names it as what Cy still holds.
    held = {(r["holding"], r["account_id"]) for r in handover["remaining"]}
    assert {("post_approver", x["id"]) for x in (a.only, a.shared, a.free)} <= held

    url = f"/api/v1/handovers/{hid}/items/{only['id']}/approver"
    # HR does not work IT's item.
    assert_problem(await hr.post(url, json={"replacement_user_id": a.ben_user["id"]}), 403)
    # Removing the only approver of an account that needs approval is refused, saying why.
    body = assert_problem(await it.post(url, json={}), 422, field="replacement_user_id")
    assert "need approval" in body["detail"] and "only" in body["detail"]
    # The leaver cannot replace themselves, nor can someone who is no active user.
    assert_problem(
        await it.post(url, json={"replacement_user_id": a.cy_user["id"]}),
        422,
        field="replacement_user_id",
    )
    assert_problem(
        await it.post(url, json={"replacement_user_id": 999999}), 422, field="replacement_user_id"
    )
    dee, _ = await user_factory(Role.comms, employee_id=people["dee"], name="Dee Gone")
    body = assert_problem(
        await it.post(url, json={"replacement_user_id": dee["id"]}),
        422,
        field="replacement_user_id",
    )
    assert "Dee Gone is leaving too" in body["detail"]
    auditor, _ = await user_factory(Role.auditor)
    assert_problem(
        await it.post(url, json={"replacement_user_id": auditor["id"]}),
        422,
        field="replacement_user_id",
    )
    approval = (await it.get(f"/api/v1/accounts/{a.only['id']}/post-approval")).json()
    assert [x["user_id"] for x in approval["approvers"]] == [a.cy_user["id"]], "nothing changed"

    done = await it.post(url, json={"replacement_user_id": a.ben_user["id"], "note": "ticket 12"})
    assert done.status_code == 200, done.text
    item = done.json()
    assert item["state"] == "done" and not item["auto_completed"]
    assert item["evidence"]["replacement"] == {"name": "Ben Okoro", "email": "ben-user@example.com"}
    assert item["evidence"]["removed"] == [{"name": "Cy Leaving", "email": "cy-user@example.com"}]
    approval = (await it.get(f"/api/v1/accounts/{a.only['id']}/post-approval")).json()
    assert [x["user_id"] for x in approval["approvers"]] == [a.ben_user["id"]]
    assert approval["requires_approval"] is True
    assert_problem(await it.post(url, json={"replacement_user_id": a.ben_user["id"]}), 409)

    # Ana approves @shared too: Cy simply goes.
    resp = await it.post(f"/api/v1/handovers/{hid}/items/{shared['id']}/approver", json={})
    assert resp.status_code == 200, resp.text
    assert resp.json()["evidence"]["replacement"] is None
    assert resp.json()["evidence"]["approvers"] == [
        {"name": "Ana Silva", "email": "ana-user@example.com"}
    ]
    # Eve's post still has an approver who can decide it.
    waiting = await hr.get(f"/api/v1/employees/{people['ana']}/footprint")
    assert [r["id"] for r in waiting.json()["post_requests"]["waiting_on"]] == [a.theirs]

    # Who did what, when: the approval change and the item, both in the audit trail.
    changes = [
        e
        for e in await AuditEvent.select()
        .where(AuditEvent.action == "post_approval.update")
        .order_by(AuditEvent.seq)
        if e["object_id"] == str(a.only["id"])
    ]
    last = changes[-1]["changes"]
    last = json.loads(last) if isinstance(last, str) else last
    assert last["approvers"] == [["cy-user@example.com"], ["ben-user@example.com"]]
    assert "handover" in last["reason"][1]
    completes = [
        e
        for e in await AuditEvent.select().where(AuditEvent.action == "handover.item_complete")
        if e["object_id"] == str(only["id"])
    ]
    assert len(completes) == 1 and completes[0]["actor"] == item["resolved_by_email"]
    assert changes[-1]["actor"] == item["resolved_by_email"] and changes[-1]["at"]

    # Cy's own post: withdrawn, with the reason in its history.
    resp = await it.post(
        f"/api/v1/handovers/{hid}/items/{posts['id']}/withdraw-posts",
        json={"reason": "Cy leaves; Ben posts it anew if wanted"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["evidence"]["withdrawn"] == [a.mine]
    post = (await admin.get(f"/api/v1/post-requests/{a.mine}")).json()
    assert post["state"] == "withdrawn"
    assert post["history"][-1]["step"] == "withdrawn"
    assert post["history"][-1]["note"] == "Cy leaves; Ben posts it anew if wanted"
    assert any(
        e["object_id"] == str(a.mine)
        for e in await AuditEvent.select().where(AuditEvent.action == "post_request.withdraw")
    )
    assert post["may"] == {
        "edit": False,
        "resubmit": False,
        "decide": False,
        "mark_posted": False,
    }

    # The grant goes too; only @free is left, and a waiver of its item removes nothing.
    grant = _item(handover, "revoke_grant")
    assert (
        await it.post(f"/api/v1/handovers/{hid}/items/{grant['id']}/revoke", json={})
    ).status_code == 200
    _, lead = await user_factory(Role.hr, email=LEAD)
    waived = await lead.post(
        f"/api/v1/handovers/{hid}/items/{free['id']}/waive", json={"reason": "later"}
    )
    assert waived.status_code == 200, waived.text
    current = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    assert current["state"] == "open"
    assert [(r["holding"], r["account_id"]) for r in current["remaining"]] == [
        ("post_approver", a.free["id"])
    ]
    refused = await hr.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "hr"})
    body = assert_problem(refused, 409)
    assert "post approver of x free" in body["detail"]
    # Removed on the account's own page: the handover sees it, and awaits sign-off.
    await it.put(
        f"/api/v1/accounts/{a.free['id']}/post-approval",
        json={"requires_approval": False, "approver_ids": [], "version": 1},
    )
    current = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    assert current["state"] == "awaiting_sign_off", current["remaining"]

    assert (
        await hr.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "hr"})
    ).status_code == 200
    final = await it.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "it"})
    assert final.status_code == 200 and final.json()["state"] == "completed", final.text

    # The certificate lists who approves in Cy's place, and verifies; an edit does not.
    data = (await hr.get(f"/api/v1/handovers/{hid}/certificate")).content
    check = verify_certificate(data, secrets.verify_key)
    assert check.ok, check.reason
    listed = {c["handle"]: c for c in check.certificate["post_approvers"]}
    assert set(listed) == {"only", "shared"}
    assert listed["only"]["replacement"] == {"name": "Ben Okoro", "email": "ben-user@example.com"}
    assert listed["only"]["removed"] == [{"name": "Cy Leaving", "email": "cy-user@example.com"}]
    assert listed["only"]["by"] == item["resolved_by_email"] and listed["only"]["at"]
    assert listed["shared"]["replacement"] is None
    assert check.certificate["format_version"] == 2
    edited = data.replace(b"Ben Okoro", b"Bob Okoro")
    assert edited != data and not verify_certificate(edited, secrets.verify_key).ok
    page = await hr.get(f"/api/v1/handovers/{hid}/certificate.html")
    assert "Post approvers handed over" in page.text and "Ben Okoro" in page.text

    from tests.cli import run_cli

    path = settings.var_dir / "approver-certificate.json"
    path.write_bytes(data)
    pem = settings.var_dir / "approver-certificate.pub.pem"
    pem.write_text(check.certificate["public_key"])
    ok = await run_cli(settings, "handover", "verify", str(path), "--public-key", str(pem))
    assert ok.code == 0, ok.out + ok.err
    assert "post approver of x only: Ben Okoro" in ok.out


async def test_a_certificate_issued_before_approvers_were_listed_still_verifies(
    settings: Settings,
) -> None:
    """A format 2 certificate from before this change has no `post_approvers`: it verifies, prints
    without the section, and the CLI says nothing of approvers."""
    from register.keys import load_verify_key
    from tests.cli import run_cli

    data = (DATA / "certificate-v2-before-approvers.json").read_bytes()
    pem = DATA / "certificate-v2-before-approvers.pub.pem"
    check = verify_certificate(data, load_verify_key(pem))
    assert check.ok, check.reason
    assert check.certificate["format_version"] == 2
    assert "post_approvers" not in check.certificate
    assert "Post approvers" not in certificate_html(data)
    path = DATA / "certificate-v2-before-approvers.json"
    ok = await run_cli(settings, "handover", "verify", str(path), "--public-key", str(pem))
    assert ok.code == 0 and "post approver" not in ok.out, ok.out + ok.err
    # Adding the new list to it afterwards breaks the signature.
    from register.audit import canonical

    document = json.loads(data)
    document["certificate"]["post_approvers"] = []
    forged = canonical(document).encode() + b"\n"
    assert not verify_certificate(forged, load_verify_key(pem)).ok


async def test_two_replacements_at_once_give_one_success(
    hr: httpx.AsyncClient, it: httpx.AsyncClient, approvals: Approvals, people: dict[str, int]
) -> None:
    """Ten IT people naming a replacement at the same moment: one succeeds, the rest get 409,
    and the approvers and the audit trail change once."""
    a = approvals
    handover = await _start(hr, a.cy, people["eve"])
    only = _item(handover, "replace_post_approver", a.only["id"])
    url = f"/api/v1/handovers/{handover['id']}/items/{only['id']}/approver"
    answers = await asyncio.gather(
        *[
            it.post(url, json={"replacement_user_id": (a.ben_user, a.ana_user)[n % 2]["id"]})
            for n in range(10)
        ]
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [409] * 9, codes
    approval = (await it.get(f"/api/v1/accounts/{a.only['id']}/post-approval")).json()
    assert len(approval["approvers"]) == 1 and approval["version"] == 2
    changed = [
        e
        for e in await AuditEvent.select().where(AuditEvent.action == "post_approval.update")
        if e["object_id"] == str(a.only["id"])
    ]
    assert len(changed) == 2  # the fixture's setting, then the one replacement
