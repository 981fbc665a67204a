"""Offboarding handovers through the API: footprint, start, every item kind, auto-completion, waivers,
sign-offs, the completion gate, cancellation, overdue, the certificate, a race, bulk start."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from accounts.connections.tables import Connection, ConnectionImport
from accounts.handovers.files import verify_certificate
from register.actor import Actor
from register.enums import Role
from register.notifications.tables import OutboxMessage
from register.settings import Settings
from register.staff.services import create_employee
from register.tables import AuditEvent
from tests.helpers import assert_problem, subscribe

LEAD = "hr-lead@example.com"
DATA = Path(__file__).parent / "data"
# RFC 3339 in UTC with Z, as the API writes times; and the spelling format 1 and old evidence had.
API_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
OLD_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?\+00:00")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings with one HR lead."""
    return dataclasses.replace(settings, handover_hr_leads=(LEAD,))


async def add_connections(employee_id: int, count: int) -> None:
    """Connections recorded for an employee (as an import would leave them)."""
    now = dt.datetime.now(dt.UTC)
    rows = await ConnectionImport.insert(
        ConnectionImport(employee=employee_id, sha256="0" * 64, rows=count, imported_at=now)
    )
    await Connection.insert(
        *[
            Connection(
                owner=employee_id,
                first_name=f"Contact{n}",
                last_name="Person",
                profile_url=f"https://www.linkedin.com/in/contact-{employee_id}-{n}",
                company="Acme",
                position="Buyer",
                connected_on=dt.date.today() - dt.timedelta(days=30 + n),
                source_import=rows[0]["id"],
            )
            for n in range(count)
        ]
    )


HANDOVER_EVENTS = ["handover.started", "handover.item_overdue", "handover.completed"]


async def events(kind: str) -> list[dict[str, Any]]:
    """Outbox messages of one event type."""
    return list(await OutboxMessage.select().where(OutboxMessage.event_type == kind))


@pytest.fixture
async def world(
    app: Any, people: dict[str, int], make_account: Any, it: Any, user_factory: Any
) -> dict[str, Any]:
    """Cy (leaving) holds, backs, holds the second factor of and can recover accounts."""
    cy = people["cy"]
    a1 = await make_account(
        handle="held", custodian_id=cy, backup_custodian_id=people["ben"], mfa_holder_id=cy
    )
    a2 = await make_account(
        handle="backed", backup_custodian_id=cy, recovery_email="cy.personal@gmail.com"
    )
    a3 = await make_account(handle="phoned", recovery_phone="+44 7700 900123")
    a4 = await make_account(handle="revealed")
    grant = await it.post(
        f"/api/v1/accounts/{a3['id']}/grants", json={"employee_id": cy, "level": "editor"}
    )
    assert grant.status_code == 201, grant.text
    for account in (a1, a3, a4):
        resp = await it.put(
            f"/api/v1/accounts/{account['id']}/credential", json={"password": "first-secret-1"}
        )
        assert resp.status_code == 200, resp.text
    # Cy signs in to the register as IT staff and reveals a4's password.
    _, cy_client = await user_factory(Role.it, email="cy-user@example.com", employee_id=cy)
    resp = await cy_client.post(
        f"/api/v1/accounts/{a4['id']}/credential/reveal", json={"reason": "posting the launch"}
    )
    assert resp.status_code == 200, resp.text
    await add_connections(cy, 3)
    return {
        "cy": cy,
        "accounts": [a1, a2, a3, a4],
        "grant_id": grant.json()["id"],
        "cy_client": cy_client,
    }


def by_kind(handover: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [i for i in handover["items"] if i["kind"] == kind]


async def start(hr: Any, world: dict[str, Any], people: dict[str, int], **extra: Any) -> dict:
    body = {
        "employee_id": world["cy"],
        "successor_id": people["eve"],
        "emails": ["cy.personal@gmail.com"],
        "phones": ["07700 900123"],
        **extra,
    }
    resp = await hr.post("/api/v1/handovers", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_footprint(hr: Any, world: dict[str, Any]) -> None:
    a1, a2, a3, a4 = world["accounts"]
    resp = await hr.get(
        f"/api/v1/employees/{world['cy']}/footprint",
        params={"email": "cy.personal@gmail.com", "phone": "07700 900123"},
    )
    assert resp.status_code == 200, resp.text
    fp = resp.json()
    roles = {a["account_id"]: a["roles"] for a in fp["accounts"]}
    assert roles == {
        a1["id"]: ["custodian", "mfa_holder"],
        a2["id"]: ["backup", "recovery_email"],
        a3["id"]: ["recovery_phone"],
    }
    assert [g["grant_id"] for g in fp["grants"]] == [world["grant_id"]]
    assert [(r["account_id"], r["times"]) for r in fp["revealed"]] == [(a4["id"], 1)]
    assert {c["account_id"]: (c["held"], c["revealed"]) for c in fp["credentials"]} == {
        a1["id"]: (True, False),
        a3["id"]: (True, False),
        a4["id"]: (False, True),
    }
    assert fp["connections"]["held"] == 3
    assert fp["post_approvals"] == []
    assert fp["post_requests"] == {"submitted": [], "waiting_on": []}
    # Without the personal e-mail and phone, only what the register ties to the person.
    plain = (await hr.get(f"/api/v1/employees/{world['cy']}/footprint")).json()
    assert {a["account_id"] for a in plain["accounts"]} == {a1["id"], a2["id"]}
    assert_problem(await hr.get("/api/v1/employees/999999/footprint"), 404)
    bad = await hr.get(f"/api/v1/employees/{world['cy']}/footprint", params={"email": "nope"})
    assert_problem(bad, 422, "invalid-input", field="email")


async def test_the_handover_and_the_directory_agree_on_the_leaving_date(
    hr: Any, people: dict
) -> None:
    """A handover's date becomes the directory's (which the leaver sweep, grants and successor
    checks read); someone who has left keeps the date they left on."""
    later = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    started = await hr.post(
        "/api/v1/handovers",
        json={"employee_id": people["cy"], "successor_id": people["ana"], "leaving_date": later},
    )
    assert started.status_code == 201, started.text
    cy = (await hr.get(f"/api/v1/employees/{people['cy']}")).json()
    assert (cy["leaving_date"], cy["status"]) == (later, "leaving")
    changed = [
        e
        for e in await AuditEvent.select().where(AuditEvent.action == "employee.update")
        if e["object_id"] == str(people["cy"])
    ]
    assert changed, "the directory change is audited"
    # Someone starting a handover is leaving: they cannot be named a successor meanwhile.
    ben = await hr.post(
        "/api/v1/handovers",
        json={"employee_id": people["ben"], "successor_id": people["eve"], "leaving_date": later},
    )
    assert ben.status_code == 201, ben.text
    mutual = await hr.post(
        "/api/v1/handovers",
        json={"employee_id": people["eve"], "successor_id": people["ben"], "leaving_date": later},
    )
    assert_problem(mutual, 422, field="successor_id")
    gone = await hr.post(
        "/api/v1/handovers",
        json={"employee_id": people["dee"], "successor_id": people["ana"], "leaving_date": later},
    )
    body = assert_problem(gone, 422, field="leaving_date")
    assert "left on" in body["detail"]
    assert (
        await hr.post(
            "/api/v1/handovers", json={"employee_id": people["dee"], "successor_id": people["ana"]}
        )
    ).status_code == 201


async def test_start_writes_every_item_kind(hr: Any, world: dict, people: dict) -> None:
    tpl = await hr.post(
        "/api/v1/handovers/templates",
        json={
            "department": "Communications",
            "title": "Hand over scheduled posts",
            "owner_role": "it",
            "day_offset": -1,
        },
    )
    assert tpl.status_code == 201, tpl.text
    other = await hr.post(
        "/api/v1/handovers/templates", json={"department": "Sales", "title": "Not for Cy"}
    )
    assert other.status_code == 201
    handover = await start(hr, world, people)
    assert handover["state"] == "draft"
    kinds = sorted({i["kind"] for i in handover["items"]})
    assert kinds == sorted(
        [
            "transfer_custody",
            "rotate_credential",
            "revoke_grant",
            "replace_mfa_holder",
            "replace_recovery_contact",
            "export_connections",
            "attest_deletion",
            "template",
        ]
    )
    leaving = dt.date.fromisoformat(handover["leaving_date"])
    (template,) = by_kind(handover, "template")
    assert template["title"] == "Hand over scheduled posts"
    assert template["owner_role"] == "it"
    assert dt.date.fromisoformat(template["due_date"]) == leaving - dt.timedelta(days=1)
    transfers = by_kind(handover, "transfer_custody")
    assert sorted(t["detail"]["role"] for t in transfers) == ["backup", "custodian"]
    assert all(t["assignee_id"] == people["eve"] for t in transfers)
    assert len(by_kind(handover, "rotate_credential")) == 3
    assert len(by_kind(handover, "replace_recovery_contact")) == 2
    (attest,) = by_kind(handover, "attest_deletion")
    assert "Cy Leaving" in attest["detail"]["statement"]
    for item in handover["items"]:
        assert item["evidence_needed"] and item["owner_role"] in ("hr", "it")
    # One live handover per leaver.
    again = await hr.post(
        "/api/v1/handovers", json={"employee_id": world["cy"], "successor_id": people["eve"]}
    )
    assert_problem(again, 409)
    # The successor must be an active employee other than the leaver.
    for successor in (world["cy"], people["dee"]):
        resp = await hr.post(
            "/api/v1/handovers",
            json={
                "employee_id": people["ana"],
                "successor_id": successor,
                "leaving_date": "2030-01-01",
            },
        )
        assert_problem(resp, 422, field="successor_id")
    # Someone with no leaving date needs one sent.
    resp = await hr.post(
        "/api/v1/handovers", json={"employee_id": people["ana"], "successor_id": people["eve"]}
    )
    assert_problem(resp, 422, field="leaving_date")


async def test_whole_journey(
    hr: Any,
    it: Any,
    admin: Any,
    world: dict,
    people: dict,
    secrets: Any,
    settings: Settings,
    app: Any,
) -> None:
    await subscribe(app, settings, "http://127.0.0.1:9/hook", events=HANDOVER_EVENTS)
    await hr.post(
        "/api/v1/handovers/templates",
        json={"department": "Communications", "title": "Return the company phone"},
    )
    handover = await start(hr, world, people)
    hid = handover["id"]
    a1, a2, a3, a4 = world["accounts"]
    (template,) = by_kind(handover, "template")
    # Nothing is worked in a draft.
    resp = await hr.post(
        f"/api/v1/handovers/{hid}/items/{template['id']}/complete", json={"note": "x"}
    )
    assert_problem(resp, 409)
    resp = await hr.post(f"/api/v1/handovers/{hid}/open", json={"version": handover["version"]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "open"
    assert len(await events("handover.started")) == 1

    # Custody of a1 moves to the successor through the handover; IT answers for her.
    custody = next(i for i in by_kind(handover, "transfer_custody") if i["target_id"] == a1["id"])
    resp = await it.post(f"/api/v1/handovers/{hid}/items/{custody['id']}/transfer", json={})
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "pending"
    resp = await it.post(f"/api/v1/handovers/{hid}/items/{custody['id']}/answer", json={})
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "done" and resp.json()["auto_completed"]
    assert resp.json()["evidence"]["holder_id"] == people["eve"]
    # Backup of a2 moves through the accounts API; the handover sees it accepted.
    backup = next(i for i in by_kind(handover, "transfer_custody") if i["target_id"] == a2["id"])
    resp = await it.post(
        f"/api/v1/accounts/{a2['id']}/transfers",
        json={"role": "backup", "to_employee_id": people["eve"]},
    )
    assert resp.status_code == 201, resp.text
    # Moved but not accepted: not done, and completing it by hand is refused.
    resp = await it.post(f"/api/v1/handovers/{hid}/items/{backup['id']}/complete", json={})
    assert_problem(resp, 409)
    pending = (await it.get(f"/api/v1/accounts/{a2['id']}/transfers")).json()[-1]
    accept = await it.post(f"/api/v1/accounts/{a2['id']}/transfers/{pending['id']}/accept", json={})
    assert accept.status_code == 200, accept.text

    # MFA holder and recovery contacts replaced on the accounts themselves.
    a1_now = (await it.get(f"/api/v1/accounts/{a1['id']}")).json()
    resp = await it.patch(
        f"/api/v1/accounts/{a1['id']}",
        json={"version": a1_now["version"], "mfa_holder_id": people["eve"]},
    )
    assert resp.status_code == 200, resp.text
    a2_now = (await it.get(f"/api/v1/accounts/{a2['id']}")).json()
    resp = await it.patch(
        f"/api/v1/accounts/{a2['id']}",
        json={"version": a2_now["version"], "recovery_email": "social@example.com"},
    )
    assert resp.status_code == 200, resp.text
    a3_now = (await it.get(f"/api/v1/accounts/{a3['id']}")).json()
    resp = await it.patch(
        f"/api/v1/accounts/{a3['id']}",
        json={"version": a3_now["version"], "recovery_phone": "+44 20 7946 0000"},
    )
    assert resp.status_code == 200, resp.text
    # Another phone nobody says the company controls does not count as replaced.
    current = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    phone_item = next(
        i for i in by_kind(current, "replace_recovery_contact") if i["target_id"] == a3["id"]
    )
    assert phone_item["state"] == "open"
    resp = await it.patch(
        f"/api/v1/accounts/{a3['id']}",
        json={"version": resp.json()["version"], "recovery_phone_company_controlled": True},
    )
    assert resp.status_code == 200, resp.text
    # Credentials rotated in the vault after the start.
    for account in (a1, a3, a4):
        resp = await it.put(
            f"/api/v1/accounts/{account['id']}/credential", json={"password": "rotated-secret-2"}
        )
        assert resp.status_code == 200, resp.text
    # The grant revoked through the handover.
    (grant_item,) = by_kind(handover, "revoke_grant")
    resp = await it.post(f"/api/v1/handovers/{hid}/items/{grant_item['id']}/revoke", json={})
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "done"

    current = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    states = {i["kind"]: set() for i in current["items"]}
    for i in current["items"]:
        states[i["kind"]].add(i["state"])
    for kind in (
        "transfer_custody",
        "rotate_credential",
        "revoke_grant",
        "replace_mfa_holder",
        "replace_recovery_contact",
    ):
        assert states[kind] == {"done"}, (kind, current["items"])
    assert all(i["auto_completed"] for i in current["items"] if i["kind"] == "rotate_credential")

    # Connections exported to the successor, with the file's hash.
    (export,) = by_kind(handover, "export_connections")
    assert_problem(await it.post(f"/api/v1/handovers/{hid}/items/{export['id']}/export"), 403)
    resp = await hr.post(f"/api/v1/handovers/{hid}/items/{export['id']}/export")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    digest = hashlib.sha256(resp.content).hexdigest()
    assert resp.headers["x-content-sha256"] == digest
    assert resp.text.count("\n") == 4  # header and three connections
    item = (await hr.get(f"/api/v1/handovers/{hid}/items/{export['id']}")).json()
    assert item["state"] == "done" and item["evidence"]["sha256"] == digest
    assert item["evidence"]["exported_to"] == people["eve"] and item["evidence"]["rows"] == 3
    states = (await hr.get(f"/api/v1/employees/{world['cy']}/footprint")).json()["connections"]
    assert states["by_state"] == {"exported_to_successor": 3}

    # The leaver's attestation: their own name, a date, the signed PDF kept with its hash.
    (attest,) = by_kind(handover, "attest_deletion")
    url = f"/api/v1/handovers/{hid}/items/{attest['id']}/attest"
    today = dt.date.today().isoformat()
    resp = await world["cy_client"].post(
        url, json={"typed_name": "Someone Else", "signed_on": today}
    )
    assert_problem(resp, 422, field="typed_name")
    resp = await world["cy_client"].post(
        url,
        json={
            "typed_name": "cy leaving",
            "signed_on": (dt.date.today() + dt.timedelta(days=2)).isoformat(),
        },
    )
    assert_problem(resp, 422, field="signed_on")
    resp = await world["cy_client"].post(
        url,
        json={
            "typed_name": "Cy Leaving",
            "signed_on": today,
            "signed_pdf_base64": base64.b64encode(b"not a pdf").decode(),
        },
    )
    assert_problem(resp, 422, field="signed_pdf_base64")
    resp = await world["cy_client"].post(
        url,
        json={
            "typed_name": "Cy Leaving",
            "signed_on": today,
            "signed_pdf_base64": base64.b64encode(PDF).decode(),
            "filename": "signed.pdf",
        },
    )
    assert resp.status_code == 200, resp.text
    evidence = resp.json()["evidence"]
    assert evidence["recorded_by"] == "the leaver" and "Cy Leaving" in evidence["statement"]
    assert evidence["document"]["sha256"] == hashlib.sha256(PDF).hexdigest()
    states = (await hr.get(f"/api/v1/employees/{world['cy']}/footprint")).json()["connections"]
    assert states["by_state"] == {"deletion_attested": 3}
    doc = await hr.get(f"/api/v1/handovers/{hid}/documents/{evidence['document']['id']}")
    assert doc.status_code == 200 and doc.content == PDF
    assert doc.headers["x-content-sha256"] == hashlib.sha256(PDF).hexdigest()

    # The template item is HR's: IT may not complete it; HR does, with a note.
    (template,) = by_kind(handover, "template")
    resp = await it.post(
        f"/api/v1/handovers/{hid}/items/{template['id']}/complete", json={"note": "done"}
    )
    assert_problem(resp, 403)
    resp = await hr.post(f"/api/v1/handovers/{hid}/items/{template['id']}/complete", json={})
    assert_problem(resp, 422, field="note")
    resp = await hr.post(
        f"/api/v1/handovers/{hid}/items/{template['id']}/complete",
        json={"note": "Phone returned to IT", "reference": "ticket 4411"},
    )
    assert resp.status_code == 200, resp.text

    current = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    assert current["state"] == "awaiting_sign_off", [
        (i["kind"], i["state"]) for i in current["items"] if i["state"] == "open"
    ]
    assert current["items_open"] == 0

    # Two sign-offs, HR and IT, by different people; the same person twice is refused.
    resp = await admin.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "hr"})
    assert resp.status_code == 200, resp.text
    assert_problem(await admin.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "it"}), 409)
    assert_problem(await hr.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "it"}), 403)
    assert_problem(await hr.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "hr"}), 409)
    resp = await it.post(
        f"/api/v1/handovers/{hid}/sign-off", json={"team": "it", "note": "all access gone"}
    )
    assert resp.status_code == 200, resp.text
    done = resp.json()
    assert done["state"] == "completed" and len(done["sign_offs"]) == 2
    assert len(await events("handover.completed")) == 1

    # The certificate verifies offline; any edited byte fails.
    resp = await hr.get(f"/api/v1/handovers/{hid}/certificate")
    assert resp.status_code == 200
    data = resp.content
    assert hashlib.sha256(data).hexdigest() == done["certificate_sha256"]
    check = verify_certificate(data, secrets.verify_key)
    assert check.ok, check.reason
    assert len(check.certificate["items"]) == len(done["items"])
    # Format 2: every time spelt as the API spells it, evidence included.
    assert check.certificate["format_version"] == 2
    # Nobody's post approval moved: the certificate reads as it did before that list existed.
    assert "post_approvers" not in check.certificate
    assert not OLD_TIME.search(data.decode()), OLD_TIME.search(data.decode())
    cert_handover = check.certificate["handover"]
    assert cert_handover["completed_at"] == done["completed_at"]
    assert cert_handover["started_at"] == done["started_at"]
    cert_items = {i["id"]: i for i in check.certificate["items"]}
    for item in done["items"]:
        assert cert_items[item["id"]]["resolved_at"] == item["resolved_at"]
        assert cert_items[item["id"]]["evidence"] == item["evidence"]
    rotated = [i["evidence"]["rotated_at"] for i in done["items"] if "rotated_at" in i["evidence"]]
    assert rotated and all(API_TIME.fullmatch(t) for t in rotated)
    assert {s["team"] for s in check.certificate["sign_offs"]} == {"hr", "it"}
    for position in (0, len(data) // 3, len(data) // 2, len(data) - 40, len(data) - 2):
        tampered = bytearray(data)
        tampered[position] = tampered[position] ^ 0x01
        assert not verify_certificate(bytes(tampered), secrets.verify_key).ok, position
    reformatted = json.dumps(json.loads(data), indent=1).encode()
    assert not verify_certificate(reformatted, secrets.verify_key).ok
    page = await hr.get(f"/api/v1/handovers/{hid}/certificate.html")
    assert page.status_code == 200 and "Cy Leaving" in page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"

    # Offline, through the CLI.
    from tests.cli import run_cli

    path = settings.var_dir / f"certificate-{hid}.json"
    path.write_bytes(data)
    ok = await run_cli(settings, "handover", "verify", str(path))
    assert ok.code == 0, ok.out + ok.err
    tampered = bytearray(data)
    tampered[len(data) // 2] ^= 0x02
    path.write_bytes(bytes(tampered))
    bad = await run_cli(settings, "handover", "verify", str(path))
    assert bad.code == 1 and "INVALID" in bad.err


async def open_handover(hr: Any, world: dict, people: dict, **extra: Any) -> dict:
    handover = await start(hr, world, people, **extra)
    resp = await hr.post(
        f"/api/v1/handovers/{handover['id']}/open", json={"version": handover["version"]}
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


async def except_everything(admin: Any, handover: dict[str, Any], reason: str = "test") -> None:
    """An admin names everything the leaver still holds as an exception."""
    for held in handover["remaining"]:
        resp = await admin.post(
            f"/api/v1/handovers/{handover['id']}/exceptions",
            json={
                "holding": held["holding"],
                "account_id": held["account_id"],
                "grant_id": held["grant_id"],
                "reason": reason,
            },
        )
        assert resp.status_code == 200, resp.text


async def test_waiver_rules(
    hr: Any, it: Any, admin: Any, world: dict, people: dict, user_factory: Any
) -> None:
    handover = await open_handover(hr, world, people)
    hid = handover["id"]
    items = [i for i in handover["items"] if i["state"] == "open"]
    url = f"/api/v1/handovers/{hid}/items/{items[0]['id']}/waive"
    # An HR user who is not a lead, and IT, may not waive.
    assert_problem(await hr.post(url, json={"reason": "not needed"}), 403)
    assert_problem(await it.post(url, json={"reason": "not needed"}), 403)
    _, lead = await user_factory(Role.hr, email=LEAD)
    assert_problem(await lead.post(url, json={"reason": ""}), 422)
    resp = await lead.post(url, json={"reason": "account closed by the platform"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "waived"
    assert resp.json()["waive_reason"] == "account closed by the platform"
    # A waived item is not waived (or completed) again.
    assert_problem(await admin.post(url, json={"reason": "again"}), 409)
    resp = await admin.post(
        f"/api/v1/handovers/{hid}/items/{items[1]['id']}/waive", json={"reason": "admin"}
    )
    assert resp.status_code == 200
    denied = await AuditEvent.select().where(AuditEvent.action == "auth.denied")
    assert any("handover.waive" in (e["changes"] or "") for e in denied)


async def test_completion_gate_and_reassign(
    hr: Any, it: Any, admin: Any, world: dict, people: dict
) -> None:
    handover = await open_handover(hr, world, people)
    hid = handover["id"]
    # Not while items are open.
    assert_problem(await hr.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "hr"}), 409)
    transfer = by_kind(handover, "transfer_custody")[0]
    url = f"/api/v1/handovers/{hid}/items/{transfer['id']}/reassign"
    resp = await hr.post(url, json={"version": transfer["version"], "assignee_id": people["ana"]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["assignee_id"] == people["ana"]
    stale = await hr.post(url, json={"version": transfer["version"], "assignee_id": people["ben"]})
    assert_problem(stale, 409, "stale-version")
    resp = await it.post(f"/api/v1/handovers/{hid}/items/{transfer['id']}/transfer", json={})
    assert resp.status_code == 200 and resp.json()["to_employee_id"] == people["ana"]
    # Waive everything else; the handover then awaits sign-off, never completes on its own.
    for item in (await hr.get(f"/api/v1/handovers/{hid}")).json()["items"]:
        if item["state"] == "open":
            resp = await admin.post(
                f"/api/v1/handovers/{hid}/items/{item['id']}/waive", json={"reason": "test"}
            )
            assert resp.status_code == 200, resp.text
    current = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    # Cy still holds access, so only exceptions an admin names let it await sign-off.
    assert current["state"] == "open" and current["items_open"] == 0 and current["remaining"]
    await except_everything(admin, current)
    current = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    assert current["state"] == "awaiting_sign_off" and current["completed_at"] is None
    resp = await hr.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "hr"})
    assert resp.json()["state"] == "awaiting_sign_off"
    assert_problem(await hr.get(f"/api/v1/handovers/{hid}/certificate"), 409)


async def test_cancellation(hr: Any, world: dict, people: dict) -> None:
    handover = await open_handover(hr, world, people)
    hid = handover["id"]
    url = f"/api/v1/handovers/{hid}/cancel"
    assert_problem(await hr.post(url, json={"version": 1, "reason": "stays"}), 409, "stale-version")
    resp = await hr.post(
        url, json={"version": handover["version"], "reason": "Counter-offer accepted"}
    )
    assert resp.status_code == 200, resp.text
    cancelled = resp.json()
    assert cancelled["state"] == "cancelled"
    employee = (await hr.get(f"/api/v1/employees/{world['cy']}")).json()
    assert employee["leaving_date"] is None and employee["status"] == "active"
    item = next(i for i in handover["items"] if i["owner_role"] == "hr")
    resp = await hr.post(f"/api/v1/handovers/{hid}/items/{item['id']}/complete", json={"note": "x"})
    assert_problem(resp, 409)
    assert_problem(await hr.post(url, json={"version": cancelled["version"], "reason": "x"}), 409)
    # A new handover can be started after a cancelled one.
    again = await start(hr, world, people, leaving_date="2031-03-31")
    assert again["state"] == "draft"


async def test_overdue_listed_and_notified(
    hr: Any, world: dict, people: dict, app: Any, settings: Settings
) -> None:
    from accounts.handovers.flows import notify_overdue

    await subscribe(app, settings, "http://127.0.0.1:9/hook", events=HANDOVER_EVENTS)
    past = (dt.date.today() - dt.timedelta(days=5)).isoformat()
    handover = await open_handover(hr, world, people, leaving_date=past)
    resp = await hr.get("/api/v1/handovers/overdue")
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert [h["id"] for h in report["handovers"]] == [handover["id"]]
    assert report["handovers"][0]["overdue"]
    open_items = [i for i in handover["items"] if i["state"] == "open"]
    assert {i["id"] for i in report["items"]} == {i["id"] for i in open_items}
    listed = (await hr.get("/api/v1/handovers", params={"overdue": "true"})).json()
    assert [h["id"] for h in listed["items"]] == [handover["id"]]
    assert await notify_overdue(actor=Actor.system("test")) == len(open_items)
    sent = await events("handover.item_overdue")
    assert len(sent) == 1
    body = json.loads(sent[0]["event"])
    assert len(body["payload"]["items"]) == len(open_items)
    # Each item is notified once.
    assert await notify_overdue(actor=Actor.system("test")) == 0


async def test_race_twenty_completions_one_success(hr: Any, world: dict, people: dict) -> None:
    await hr.post("/api/v1/handovers/templates", json={"title": "Return the laptop"})
    handover = await open_handover(hr, world, people)
    (item,) = by_kind(handover, "template")
    url = f"/api/v1/handovers/{handover['id']}/items/{item['id']}/complete"
    answers = await asyncio.gather(*[hr.post(url, json={"note": f"by {n}"}) for n in range(20)])
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 19, codes
    for a in answers:
        if a.status_code == 409:
            assert_problem(a, 409)
    audited = await AuditEvent.select().where(
        (AuditEvent.action == "handover.item_complete") & (AuditEvent.object_id == str(item["id"]))
    )
    assert len(audited) == 1


async def test_bulk_start_from_csv(hr: Any, app: Any, people: dict) -> None:
    actor = Actor.system("test")
    leavers = []
    for n in range(5):
        row = await create_employee(
            actor=actor,
            data={
                "name": f"Leaver {n}",
                "work_email": f"leaver{n}@example.com",
                "department": "Sales",
                "leaving_date": dt.date.today() + dt.timedelta(days=30),
            },
        )
        leavers.append(row)
    header = "Work Email,Leaving Date,Successor Email\n"
    bad = (
        header
        + "leaver0@example.com,2031-01-31,eve@example.com\nnobody@example.com,,eve@example.com\n"
    )
    resp = await hr.post("/api/v1/handovers/bulk", files={"file": ("leavers.csv", bad.encode())})
    body = assert_problem(resp, 422)
    assert "line 3" in json.dumps(body)
    assert (await hr.get("/api/v1/handovers")).json()["items"] == []
    good = header + "".join(f"leaver{n}@example.com,,\n" for n in range(5))
    resp = await hr.post(
        "/api/v1/handovers/bulk",
        files={"file": ("leavers.csv", good.encode())},
        data={"default_successor_email": "eve@example.com"},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["started"] == 5
    listed = (await hr.get("/api/v1/handovers", params={"state": "open"})).json()["items"]
    assert sorted(h["employee_id"] for h in listed) == sorted(r["id"] for r in leavers)
    assert all(h["successor_id"] == people["eve"] for h in listed)


async def test_bulk_start_reads_dates_as_the_file_or_date_order_says(hr: Any, people: dict) -> None:
    """03/04/2027 is ambiguous: date_order settles it, as does another date in the file that can
    only be read one way; an employee id that is not a number is a line error, not a crash."""
    actor = Actor.system("test")
    for n in range(3):
        await create_employee(
            actor=actor, data={"name": f"Mover {n}", "work_email": f"mover{n}@example.com"}
        )
    header = "Work Email,Leaving Date,Successor Email\n"
    ambiguous = header + "mover0@example.com,03/04/2027,eve@example.com\n"
    body = assert_problem(
        await hr.post("/api/v1/handovers/bulk", files={"file": ("a.csv", ambiguous.encode())}),
        422,
    )
    assert "date_order" in json.dumps(body)
    started = await hr.post(
        "/api/v1/handovers/bulk",
        files={"file": ("a.csv", ambiguous.encode())},
        data={"date_order": "DMY", "open": "false"},
    )
    assert started.status_code == 201, started.text
    told = (
        header
        + "mover1@example.com,03/04/2027,eve@example.com\n"
        + ("mover2@example.com,13/04/2027,eve@example.com\n")
    )
    assert (
        await hr.post(
            "/api/v1/handovers/bulk",
            files={"file": ("b.csv", told.encode())},
            data={"open": "false"},
        )
    ).status_code == 201
    dates = {
        h["employee_id"]: h["leaving_date"]
        for h in (await hr.get("/api/v1/handovers")).json()["items"]
    }
    assert sorted(dates.values()) == ["2027-04-03", "2027-04-03", "2027-04-13"]
    by_id = "employee_id,leaving_date,successor_email\nabc,2027-05-01,eve@example.com\n"
    body = assert_problem(
        await hr.post("/api/v1/handovers/bulk", files={"file": ("c.csv", by_id.encode())}), 422
    )
    assert "employee_id must be a whole number" in json.dumps(body)
    # Someone already in a handover is a line error among the others, not a 409 afterwards.
    again = header + "mover0@example.com,2027-04-03,eve@example.com\nnobody@example.com,,\n"
    body = assert_problem(
        await hr.post("/api/v1/handovers/bulk", files={"file": ("d.csv", again.encode())}), 422
    )
    messages = [e["message"] for e in body["errors"]]
    assert messages[0].startswith("line 2: this leaver already has handover")
    assert messages[1].startswith("line 3:")


async def test_templates_editable_by_hr_only(hr: Any, it: Any) -> None:
    resp = await hr.post(
        "/api/v1/handovers/templates",
        json={
            "department": "Sales",
            "title": "Remove from the LinkedIn Page admins",
            "owner_role": "it",
            "day_offset": -2,
        },
    )
    assert resp.status_code == 201, resp.text
    tpl = resp.json()
    assert_problem(await it.post("/api/v1/handovers/templates", json={"title": "x"}), 403)
    resp = await hr.patch(
        f"/api/v1/handovers/templates/{tpl['id']}",
        json={"version": tpl["version"], "day_offset": -4},
    )
    assert resp.status_code == 200 and resp.json()["day_offset"] == -4
    stale = await hr.patch(
        f"/api/v1/handovers/templates/{tpl['id']}", json={"version": 1, "active": False}
    )
    assert_problem(stale, 409, "stale-version")
    listed = (await it.get("/api/v1/handovers/templates", params={"department": "Sales"})).json()
    assert [t["id"] for t in listed] == [tpl["id"]]


async def test_grants_revoked_on_the_leaving_date(
    hr: Any, world: dict, people: dict, settings: Settings
) -> None:
    from tests.cli import run_cli

    handover = await open_handover(hr, world, people, leaving_date=dt.date.today().isoformat())
    (grant_item,) = by_kind(handover, "revoke_grant")
    assert grant_item["state"] == "open"
    result = await run_cli(settings, "handover", "sync")
    assert result.code == 0, result.out + result.err
    assert "grants revoked on the leaving date: 1" in result.out
    item = (await hr.get(f"/api/v1/handovers/{handover['id']}/items/{grant_item['id']}")).json()
    assert item["state"] == "done" and item["evidence"]["revoked_at"]


async def test_footprint_other_sources_and_digest(hr: Any, world: dict, people: dict) -> None:
    from accounts.handovers.services import digest_source
    from register.extensions import extensions

    async def incidents_of(employee_id: int) -> list[dict[str, Any]]:
        return [{"kind": "open_incident", "detail": f"INC-1 on an account of {employee_id}"}]

    extensions.footprint_sources["test_incidents"] = incidents_of
    try:
        fp = (await hr.get(f"/api/v1/employees/{world['cy']}/footprint")).json()
    finally:
        del extensions.footprint_sources["test_incidents"]
    assert fp["other"]["test_incidents"] == [
        {"kind": "open_incident", "detail": f"INC-1 on an account of {world['cy']}"}
    ]
    past = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    await open_handover(hr, world, people, leaving_date=past)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    it_sections = {s["title"]: s for s in await digest_source(Role.it, since)}
    hr_sections = {s["title"]: s for s in await digest_source(Role.hr, since)}
    assert it_sections["Handover items overdue"]["count"] > 0
    assert all("Cy Leaving" in line for line in it_sections["Handover items overdue"]["items"])
    assert it_sections["Handovers started"]["count"] == 1
    assert (
        it_sections["Handover items overdue"]["count"]
        + hr_sections["Handover items overdue"]["count"]
        > it_sections["Handover items overdue"]["count"]
    )
    assert await digest_source(Role.comms, since) == []


async def test_cli_bulk_and_overdue(hr: Any, app: Any, people: dict, settings: Settings) -> None:
    from tests.cli import run_cli

    await subscribe(app, settings, "http://127.0.0.1:9/hook", events=HANDOVER_EVENTS)
    await hr.post("/api/v1/handovers/templates", json={"title": "Return the badge"})
    past = dt.date.today() - dt.timedelta(days=2)
    for n in range(3):
        await create_employee(
            actor=Actor.system("test"),
            data={"name": f"Cli Leaver {n}", "work_email": f"cli{n}@example.com"},
        )
    path = settings.var_dir / "restructuring.csv"
    path.write_text(
        "work_email;leaving_date\n" + "".join(f"cli{n}@example.com;{past}\n" for n in range(3)),
        encoding="utf-8",
    )
    result = await run_cli(
        settings, "handover", "bulk", str(path), "--successor", "eve@example.com"
    )
    assert result.code == 0, result.out + result.err
    assert json.loads(result.out)["started"] == 3
    listed = (await hr.get("/api/v1/handovers", params={"state": "open"})).json()["items"]
    assert len(listed) == 3 and all(h["overdue"] for h in listed)
    result = await run_cli(settings, "handover", "overdue", "--notify")
    assert result.code == 0, result.out + result.err
    assert "3 overdue handover(s), 3 overdue item(s)" in result.out
    assert "notified 3 newly overdue item(s)" in result.out
    assert len(await events("handover.item_overdue")) == 3
    path.write_text("work_email\nnobody@example.com\n", encoding="utf-8")
    result = await run_cli(
        settings, "handover", "bulk", str(path), "--successor", "eve@example.com"
    )
    assert result.code != 0 and "line 2" in (result.out + result.err)


async def test_auto_completion_from_the_vault_and_grants(
    hr: Any, it: Any, world: dict, people: dict
) -> None:
    handover = await open_handover(hr, world, people)
    hid = handover["id"]
    a1, _, a3, _ = world["accounts"]
    rotate = next(i for i in by_kind(handover, "rotate_credential") if i["target_id"] == a1["id"])
    (grant_item,) = by_kind(handover, "revoke_grant")
    # Credentials set before the start do not count as rotated.
    assert rotate["state"] == "open" and grant_item["state"] == "open"
    assert_problem(await it.post(f"/api/v1/handovers/{hid}/items/{rotate['id']}/complete"), 422)
    resp = await it.post(f"/api/v1/handovers/{hid}/items/{rotate['id']}/complete", json={})
    assert_problem(resp, 409)
    resp = await it.put(f"/api/v1/accounts/{a1['id']}/credential", json={"password": "new-one-3"})
    assert resp.status_code == 200
    resp = await it.post(
        f"/api/v1/accounts/{a3['id']}/grants/{world['grant_id']}/revoke", json={"reason": "left"}
    )
    assert resp.status_code == 200, resp.text
    current = {i["id"]: i for i in (await hr.get(f"/api/v1/handovers/{hid}")).json()["items"]}
    for item_id in (rotate["id"], grant_item["id"]):
        assert current[item_id]["state"] == "done" and current[item_id]["auto_completed"]
        assert current[item_id]["resolved_by_email"] == "register"
    assert current[rotate["id"]]["evidence"]["rotated_at"]
    audited = await AuditEvent.select().where(AuditEvent.action == "handover.item_auto_complete")
    assert {int(e["object_id"]) for e in audited} == {rotate["id"], grant_item["id"]}


async def test_the_leaver_cannot_work_or_sign_their_own_handover(
    hr: Any, it: Any, world: dict, people: dict, user_factory: Any
) -> None:
    """A leaving HR lead may not waive, complete or sign off what their own departure owes."""
    handover = await open_handover(hr, world, people)
    hid = handover["id"]
    _, leaver = await user_factory(Role.hr, email=LEAD, employee_id=world["cy"])
    item = next(i for i in handover["items"] if i["state"] == "open")
    base = f"/api/v1/handovers/{hid}/items/{item['id']}"
    assert_problem(await leaver.post(f"{base}/waive", json={"reason": "mine"}), 403)
    assert_problem(await leaver.post(f"{base}/complete", json={"note": "done"}), 403)
    assert_problem(await leaver.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "hr"}), 403)
    after = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    assert next(i for i in after["items"] if i["id"] == item["id"])["state"] == "open"


BROKEN = [
    {"json": {"note": 7, "reason": "", "team": "nobody", "version": "x", "unknown": 1}},
    {"json": []},
    {"content": b"{not json", "headers": {"content-type": "application/json"}},
    {"content": b"[" * 1000, "headers": {"content-type": "application/json"}},
]


async def test_item_rules_are_decided_before_the_body(
    hr: Any, it: Any, world: dict, people: dict, user_factory: Any
) -> None:
    """A caller an item's own rule refuses (not its team, not an HR lead, the leaver, not the
    successor) gets 403 whatever the body holds, not 400 or 422 for it."""
    handover = await open_handover(hr, world, people)
    hid = handover["id"]
    hr_item = next(i for i in handover["items"] if i["owner_role"] == "hr" and i["state"] == "open")
    it_item = next(i for i in handover["items"] if i["owner_role"] == "it" and i["state"] == "open")
    (attest,) = by_kind(handover, "attest_deletion")
    transfer = by_kind(handover, "transfer_custody")[0]
    moved = await hr.post(
        f"/api/v1/handovers/{hid}/items/{transfer['id']}/reassign",
        json={"version": transfer["version"], "assignee_id": people["ana"]},
    )
    assert moved.status_code == 200, moved.text
    sent = await it.post(f"/api/v1/handovers/{hid}/items/{transfer['id']}/transfer", json={})
    assert sent.status_code == 200, sent.text
    _, leaver = await user_factory(Role.hr, email=LEAD, employee_id=world["cy"])
    _, stranger = await user_factory(Role.comms)
    items = f"/api/v1/handovers/{hid}/items"
    refused = [
        (it, f"{items}/{hr_item['id']}/complete"),
        (it, f"{items}/{hr_item['id']}/reassign"),
        (hr, f"{items}/{it_item['id']}/complete"),
        (hr, f"{items}/{transfer['id']}/transfer"),
        (hr, f"{items}/{hr_item['id']}/waive"),
        (it, f"{items}/{attest['id']}/attest"),
        (stranger, f"{items}/{transfer['id']}/answer"),
        (leaver, f"{items}/{hr_item['id']}/waive"),
        (leaver, f"/api/v1/handovers/{hid}/sign-off"),
    ]
    for body in BROKEN:
        for c, url in refused:
            assert_problem(await c.post(url, **body), 403, "forbidden")
    after = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    assert {i["id"]: i["state"] for i in after["items"]}[hr_item["id"]] == "open"


async def test_a_leaving_date_years_away_is_refused(hr: Any, world: dict, people: dict) -> None:
    for date in ("0001-01-01", "2999-12-31"):
        resp = await hr.post(
            "/api/v1/handovers",
            json={"employee_id": world["cy"], "successor_id": people["eve"], "leaving_date": date},
        )
        assert_problem(resp, 422, field="leaving_date")


async def test_evidence_is_shown_with_the_api_spelling_of_times(
    hr: Any, it: Any, world: dict, people: dict
) -> None:
    """New evidence is stored in RFC 3339 with Z; evidence stored in the old spelling is shown so."""
    from accounts.handovers.tables import HandoverItem

    handover = await open_handover(hr, world, people)
    hid = handover["id"]
    a4 = world["accounts"][3]
    resp = await it.put(f"/api/v1/accounts/{a4['id']}/credential", json={"password": "rotated-2"})
    assert resp.status_code == 200, resp.text
    current = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    (item,) = [i for i in by_kind(current, "rotate_credential") if i["target_id"] == a4["id"]]
    assert item["state"] == "done" and API_TIME.fullmatch(item["evidence"]["rotated_at"])
    stored = await HandoverItem.select(HandoverItem.evidence).where(HandoverItem.id == item["id"])
    raw = stored[0]["evidence"]
    assert (json.loads(raw) if isinstance(raw, str) else raw) == item["evidence"]
    # As evidence was recorded before times had one spelling (kept as recorded, shown as now).
    old = {
        "rotated_at": "2026-12-02 15:11:16.494841+00:00",
        "note": "rotated 2026-12-02 15:11:16+00:00, by hand",
    }
    await HandoverItem.update({HandoverItem.evidence: json.dumps(old)}).where(
        HandoverItem.id == item["id"]
    )
    shown = (await hr.get(f"/api/v1/handovers/{hid}/items/{item['id']}")).json()["evidence"]
    assert shown == {"rotated_at": "2026-12-02T15:11:16.494841Z", "note": old["note"]}
    listed = (await hr.get(f"/api/v1/handovers/{hid}")).json()["items"]
    assert next(i for i in listed if i["id"] == item["id"])["evidence"] == shown


async def test_certificates_of_format_1_still_verify_and_print(
    hr: Any, world: dict, people: dict, settings: Settings
) -> None:
    """A certificate issued before format 2 (times spelt `... +00:00`) verifies, offline and in
    the CLI, and prints; a format version the register does not know is refused."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from accounts.handovers.files import sha256_hex
    from accounts.handovers.tables import Handover
    from register.audit import canonical
    from register.keys import load_verify_key, public_key_id, public_key_pem
    from tests.cli import run_cli

    data = (DATA / "certificate-v1.json").read_bytes()
    pem = DATA / "certificate-v1.pub.pem"
    check = verify_certificate(data, load_verify_key(pem))
    assert check.ok, check.reason
    assert check.certificate["format_version"] == 1 and OLD_TIME.search(data.decode())
    ok = await run_cli(
        settings, "handover", "verify", str(DATA / "certificate-v1.json"), "--public-key", str(pem)
    )
    assert ok.code == 0, ok.out + ok.err
    assert "valid: handover 1 of Cy Leaving" in ok.out
    tampered = settings.var_dir / "certificate-v1-edited.json"
    tampered.write_bytes(data.replace(b"issued before format 2", b"issued before format 3"))
    bad = await run_cli(settings, "handover", "verify", str(tampered), "--public-key", str(pem))
    assert bad.code == 1 and "INVALID" in bad.err

    # The register serves and prints a stored format 1 certificate as it was issued.
    handover = await start(hr, world, people)
    await Handover.update(
        {
            Handover.state: "completed",
            Handover.certificate: data.decode(),
            Handover.certificate_sha256: sha256_hex(data),
        }
    ).where(Handover.id == handover["id"])
    served = await hr.get(f"/api/v1/handovers/{handover['id']}/certificate")
    assert served.status_code == 200 and served.content == data
    page = await hr.get(f"/api/v1/handovers/{handover['id']}/certificate.html")
    assert page.status_code == 200, page.text
    assert "Cy Leaving" in page.text and sha256_hex(data) in page.text

    key = Ed25519PrivateKey.generate()
    future = {
        **check.certificate,
        "format_version": 3,
        "key_id": public_key_id(key.public_key()),
        "public_key": public_key_pem(key.public_key()),
    }
    signature = {
        "algorithm": "Ed25519",
        "key_id": future["key_id"],
        "value": key.sign(canonical(future).encode()).hex(),
    }
    document = canonical({"certificate": future, "signature": signature}).encode() + b"\n"
    refused = verify_certificate(document, key.public_key())
    assert not refused.ok and "format version 3" in refused.reason


async def test_no_completion_while_the_leaver_keeps_access_unless_an_admin_excepts_it(
    hr: Any, it: Any, admin: Any, world: dict, people: dict, user_factory: Any
) -> None:
    """Waiving every item removes no access: while the leaver is custodian, backup, second-factor
    holder or recovery contact of a live account, or holds a grant, the handover does not await
    sign-off and no sign-off is taken (409 naming what remains), unless an admin names it as an
    exception with a reason; the certificate lists the exceptions."""
    a1, a2, a3, a4 = world["accounts"]
    handover = await open_handover(hr, world, people)
    hid = handover["id"]
    _, lead = await user_factory(Role.hr, email=LEAD)
    for item in handover["items"]:
        resp = await lead.post(
            f"/api/v1/handovers/{hid}/items/{item['id']}/waive", json={"reason": "in a hurry"}
        )
        assert resp.status_code == 200, resp.text
    current = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    assert (current["state"], current["items_open"]) == ("open", 0)
    held = {(h["holding"], h["account_id"], h["grant_id"]) for h in current["remaining"]}
    assert held == {
        ("custodian", a1["id"], None),
        ("mfa_holder", a1["id"], None),
        ("backup", a2["id"], None),
        ("recovery_email", a2["id"], None),
        ("recovery_phone", a3["id"], None),
        ("grant", a3["id"], world["grant_id"]),
    }
    refused = await hr.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "hr"})
    body = assert_problem(refused, 409)
    assert "Cy Leaving still holds: custodian of x held" in body["detail"]
    assert f"editor grant {world['grant_id']} on x phoned" in body["detail"]
    assert len(body["remaining"]) == 6
    assert await events("handover.completed") == []

    # Only an admin names an exception, never the leaver, and only for what is held now.
    url = f"/api/v1/handovers/{hid}/exceptions"
    custody = {"holding": "custodian", "account_id": a1["id"], "reason": "runs the brand"}
    assert_problem(await hr.post(url, json=custody), 403)
    assert_problem(await it.post(url, json=custody), 403)
    _, leaving_admin = await user_factory(Role.admin, employee_id=world["cy"])
    assert_problem(await leaving_admin.post(url, json=custody), 403)
    assert_problem(
        await admin.post(url, json={**custody, "account_id": a4["id"]}), 422, field="account_id"
    )
    no_account = {"holding": "custodian", "reason": "x"}
    assert_problem(await admin.post(url, json=no_account), 422, field="account_id")
    no_grant = {"holding": "grant", "account_id": a3["id"], "reason": "x"}
    assert_problem(await admin.post(url, json=no_grant), 422, field="grant_id")
    resp = await admin.post(url, json=custody)
    assert resp.status_code == 200, resp.text
    assert_problem(await admin.post(url, json=custody), 409, "already-exists", "account_id")
    # Access removed where it lives counts as much as an exception.
    revoked = await it.post(
        f"/api/v1/accounts/{a3['id']}/grants/{world['grant_id']}/revoke", json={"reason": "left"}
    )
    assert revoked.status_code == 200, revoked.text
    current = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    assert current["state"] == "open"
    assert [(e["holding"], e["account_id"], e["reason"]) for e in current["exceptions"]] == [
        ("custodian", a1["id"], "runs the brand")
    ]
    left = {(h["holding"], h["account_id"]) for h in current["remaining"]}
    assert ("custodian", a1["id"]) not in left and ("grant", a3["id"]) not in left
    await except_everything(admin, current, reason="the platform will not let us change it yet")
    current = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    assert current["state"] == "awaiting_sign_off" and current["remaining"] == []
    assert len(current["exceptions"]) == 5

    # Access given back after the last item closed stops the sign-off again.
    regranted = await it.post(
        f"/api/v1/accounts/{a4['id']}/grants", json={"employee_id": world["cy"], "level": "admin"}
    )
    assert regranted.status_code == 201, regranted.text
    body = assert_problem(
        await hr.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "hr"}), 409
    )
    assert body["remaining"] == [
        {"holding": "grant", "account_id": a4["id"], "grant_id": regranted.json()["id"]}
    ]
    resp = await it.post(
        f"/api/v1/accounts/{a4['id']}/grants/{regranted.json()['id']}/revoke", json={}
    )
    assert resp.status_code == 200, resp.text
    assert (
        await hr.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "hr"})
    ).status_code == 200
    done = await it.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "it"})
    assert done.status_code == 200 and done.json()["state"] == "completed", done.text
    assert len(done.json()["exceptions"]) == 5 and done.json()["remaining"] == []

    data = (await hr.get(f"/api/v1/handovers/{hid}/certificate")).content
    cert = json.loads(data)["certificate"]
    first = cert["exceptions"][0]
    admin_email = (await admin.get("/api/v1/auth/me")).json()["email"]
    assert (first["holding"], first["account_id"], first["platform"], first["handle"]) == (
        "custodian",
        a1["id"],
        "x",
        "held",
    )
    assert first["recorded_by_email"] == admin_email and first["reason"] == "runs the brand"
    assert {e["reason"] for e in cert["exceptions"]} == {
        "runs the brand",
        "the platform will not let us change it yet",
    }
    assert all(API_TIME.fullmatch(e["recorded_at"]) for e in cert["exceptions"])
    page = (await hr.get(f"/api/v1/handovers/{hid}/certificate.html")).text
    assert "runs the brand" in page and "Kept by the leaver" in page
    recorded = await AuditEvent.select().where(AuditEvent.action == "handover.exception")
    assert len(recorded) == 5
