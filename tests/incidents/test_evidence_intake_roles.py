"""Evidence sealed at rest, platform reports, the confidential intake, and who may do what."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from register.db import fetch
from tests.helpers import assert_problem
from tests.incidents.conftest import complete, file, tasks

SCREENSHOT = b"\x89PNG\r\n\x1a\n" + b"secret-client-list-visible" * 40


async def test_evidence_is_sealed_at_rest_and_downloads_are_audited(
    comms: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    auditor: httpx.AsyncClient,
    hr: httpx.AsyncClient,
) -> None:
    """URL and file are stored encrypted with their SHA-256; the raw row shows neither; reads are audited."""
    incident = await file(comms, category="confidential_info", severity="SEV2")
    iid = incident["id"]
    url = "https://x.com/someone/status/998877665544"
    link = await comms.post(
        f"/api/v1/incidents/{iid}/evidence", json={"url": url, "description": "the post"}
    )
    assert link.status_code == 201, link.text
    assert link.json()["sha256"] == hashlib.sha256(url.encode()).hexdigest()
    upload = await comms.post(
        f"/api/v1/incidents/{iid}/evidence/files",
        files={"file": ("client-list.png", SCREENSHOT, "image/png")},
        data={"description": "screenshot", "captured_at": "2026-01-05T10:00:00Z"},
    )
    assert upload.status_code == 201, upload.text
    meta = upload.json()
    assert meta["sha256"] == hashlib.sha256(SCREENSHOT).hexdigest() and meta["size"] == len(
        SCREENSHOT
    )
    assert meta["captured_by_email"].startswith("comms-") and meta["captured_at"].startswith(
        "2026-01-05"
    )
    ancient = await comms.post(
        f"/api/v1/incidents/{iid}/evidence/files",
        files={"file": ("a.png", b"x", "image/png")},
        data={"captured_at": "0001-01-01T00:00:00Z"},
    )
    assert_problem(ancient, 422, field="captured_at")
    raw = await fetch('SELECT * FROM "evidence" WHERE "incident" = $1', iid)
    dump = repr(raw).encode()
    assert (
        b"998877665544" not in dump
        and b"secret-client-list" not in dump
        and b"client-list.png" not in dump
    )
    for row in raw:
        assert (row["url_ct"] or row["filename_ct"]).startswith("g1.")
        assert row["wrapped_key"].startswith("k")
    opened = await comms.get(f"/api/v1/incidents/{iid}/evidence/{link.json()['id']}")
    assert opened.json()["url"] == url and opened.headers["cache-control"] == "no-store"
    got = await auditor.get(f"/api/v1/incidents/{iid}/evidence/{meta['id']}/content")
    assert got.status_code == 200 and got.content == SCREENSHOT
    assert got.headers["x-content-sha256"] == meta["sha256"]
    assert 'filename="client-list.png"' in got.headers["content-disposition"]
    assert_problem(await hr.get(f"/api/v1/incidents/{iid}/evidence/{meta['id']}/content"), 403)
    audited = (await admin.get("/api/v1/audit/events", params={"object_type": "evidence"})).json()[
        "items"
    ]
    assert {"evidence.add", "evidence.view", "evidence.download"} <= {e["action"] for e in audited}
    listed = (await hr.get(f"/api/v1/incidents/{iid}/evidence")).json()
    assert [e["sha256"] for e in listed] == [link.json()["sha256"], meta["sha256"]]
    assert "url" not in listed[0]


async def test_a_file_named_in_any_script_downloads_under_its_name(
    comms: httpx.AsyncClient,
) -> None:
    """HTTP headers are Latin-1: a Japanese or accented name was a 500 on every download. The
    real name travels as filename*, and direction marks never reach the stored name."""
    from urllib.parse import unquote

    incident = await file(comms, category="confidential_info", severity="SEV3")
    iid = incident["id"]
    for name, plain, shown in (
        ("日本語のスクリーンショット.png", "evidence.png", "日本語のスクリーンショット.png"),
        ("naïve café.png", "naive_cafe.png", "naïve café.png"),
        ("\u202egnp.exe", "gnp.exe", "gnp.exe"),
    ):
        up = await comms.post(
            f"/api/v1/incidents/{iid}/evidence/files",
            files={"file": (name, SCREENSHOT, "image/png")},
        )
        assert up.status_code == 201, up.text
        item = f"/api/v1/incidents/{iid}/evidence/{up.json()['id']}"
        assert (await comms.get(item)).json()["filename"] == shown
        got = await comms.get(f"{item}/content")
        assert got.status_code == 200 and got.content == SCREENSHOT, got.text
        disposition = got.headers["content-disposition"]
        assert f'filename="{plain}"' in disposition
        assert unquote(disposition.split("filename*=UTF-8''")[1]) == shown


async def test_evidence_moved_to_another_incident_does_not_open(
    comms: httpx.AsyncClient, settings: Any
) -> None:
    """The ciphertext is bound to its incident and evidence id."""
    a = await file(comms)
    b = await file(comms)
    url = "https://example.com/post/1"
    ev = (await comms.post(f"/api/v1/incidents/{a['id']}/evidence", json={"url": url})).json()
    from register.db import write_transaction

    async with write_transaction():
        await fetch('UPDATE "evidence" SET "incident" = $1 WHERE "id" = $2', b["id"], ev["id"])
    resp = await comms.get(f"/api/v1/incidents/{b['id']}/evidence/{ev['id']}")
    assert_problem(resp, 500)


async def test_rewrap_covers_evidence(comms: httpx.AsyncClient, settings: Any) -> None:
    """The rewrap handler moves evidence keys to the current master key and they still open."""
    from incidents.services import rewrap_evidence
    from register.keys import load_secrets

    incident = await file(comms)
    await comms.post(
        f"/api/v1/incidents/{incident['id']}/evidence", json={"url": "https://example.com/a/b"}
    )
    keyring = load_secrets(settings, announce=False).keyring
    result = await rewrap_evidence(keyring)
    assert result["remaining_on_old_versions"] == 0 and result["current_version"] == keyring.current
    from register.extensions import extensions

    extensions.load()
    assert extensions.rewrap_handlers["evidence"] is rewrap_evidence


async def test_platform_reports_are_tracked(comms: httpx.AsyncClient) -> None:
    """Platform, report id, submitted, the answer and the outcome; versioned updates."""
    incident = await file(comms, category="impersonation", severity="SEV2")
    iid = incident["id"]
    made = await comms.post(
        f"/api/v1/incidents/{iid}/platform-reports",
        json={
            "platform": "instagram",
            "report_ref": "IG-5521",
            "submitted_at": "2026-03-01T09:00:00Z",
        },
    )
    assert made.status_code == 201, made.text
    report = made.json()
    assert report["outcome"] == "pending" and report["submitted_at"].startswith("2026-03-01")
    updated = await comms.patch(
        f"/api/v1/incidents/{iid}/platform-reports/{report['id']}",
        json={"version": 1, "answer": "We removed the account", "outcome": "removed"},
    )
    assert updated.json()["outcome"] == "removed" and updated.json()["answered_at"]
    assert_problem(
        await comms.patch(
            f"/api/v1/incidents/{iid}/platform-reports/{report['id']}",
            json={"version": 1, "outcome": "refused"},
        ),
        409,
        "stale-version",
    )
    listed = (await comms.get(f"/api/v1/incidents/{iid}/platform-reports")).json()
    assert [r["report_ref"] for r in listed] == ["IG-5521"]


async def test_refused_reports_do_not_use_up_the_hour_and_a_compromise_can_be_reported(
    client: httpx.AsyncClient, comms: httpx.AsyncClient, it: httpx.AsyncClient, account: Any
) -> None:
    """A report the register refuses takes its attempt back; someone who only knows "our X was
    hacked" can report it, and naming the account in triage marks it compromised."""
    bad = {"category": "harassment", "title": "x", "content_urls": ["ftp://example.com/a"]}
    for _ in range(6):
        assert_problem(await client.post("/api/v1/incidents/intake", json=bad), 422)
    hacked = {"category": "account_compromise", "title": "Our X account posts crypto ads"}
    filed = await client.post("/api/v1/incidents/intake", json=hacked)
    assert filed.status_code == 201, filed.text
    found = (await comms.get("/api/v1/incidents", params={"category": "account_compromise"})).json()
    incident = (await comms.get(f"/api/v1/incidents/{found['items'][0]['id']}")).json()
    assert incident["account_id"] is None
    assert (await it.get(f"/api/v1/accounts/{account['id']}")).json()["status"] == "active"
    linked = await comms.patch(
        f"/api/v1/incidents/{incident['id']}",
        json={"version": incident["version"], "account_id": account["id"]},
    )
    assert linked.status_code == 200, linked.text
    assert (await it.get(f"/api/v1/accounts/{account['id']}")).json()["status"] == "compromised"
    timeline = (
        await comms.get(f"/api/v1/incidents/{incident['id']}/timeline", params={"kind": "account"})
    ).json()["items"]
    assert "marked compromised" in timeline[0]["text"]


async def test_anonymous_intake_lands_in_triage_and_never_names_the_reporter(
    client: httpx.AsyncClient,
    comms: httpx.AsyncClient,
    hr: httpx.AsyncClient,
    admin: httpx.AsyncClient,
) -> None:
    """No account needed; a named reporter is visible to HR only, never to comms, admin or auditors."""
    anon = await client.post(
        "/api/v1/incidents/intake",
        json={
            "category": "harassment",
            "title": "Abusive replies to a colleague",
            "description": "daily DMs",
        },
    )
    assert anon.status_code == 201, anon.text
    assert anon.json()["anonymous"] and anon.json()["reference"].startswith("INC-")
    named = await client.post(
        "/api/v1/incidents/intake",
        json={
            "category": "harassment",
            "title": "Team lead posting insults about me",
            "anonymous": False,
            "reporter_name": "Rosa Quiet",
            "reporter_contact": "rosa.personal@example.org",
        },
    )
    assert named.status_code == 201 and not named.json()["anonymous"]
    items = (await comms.get("/api/v1/incidents", params={"category": "harassment"})).json()[
        "items"
    ]
    assert {i["status"] for i in items} == {"reported"}
    named_id = next(i["id"] for i in items if i["reference"] == named.json()["reference"])
    as_comms = await comms.get(f"/api/v1/incidents/{named_id}")
    assert as_comms.json()["reporter_name"] is None and as_comms.json()["reporter_contact"] is None
    assert as_comms.json()["via_intake"] and as_comms.json()["reporter_id"] is None
    assert "Rosa" not in as_comms.text
    as_hr = (await hr.get(f"/api/v1/incidents/{named_id}")).json()
    assert (
        as_hr["reporter_name"] == "Rosa Quiet"
        and as_hr["reporter_contact"] == "rosa.personal@example.org"
    )
    assert (await admin.get(f"/api/v1/incidents/{named_id}")).json()["reporter_name"] is None
    for path in (
        f"/api/v1/incidents/{named_id}/timeline",
        f"/api/v1/incidents/{named_id}/tasks",
        "/api/v1/incidents",
    ):
        assert "Rosa" not in (await comms.get(path)).text
    audit_text = (await admin.get("/api/v1/audit/events", params={"limit": 200})).text
    assert "Rosa" not in audit_text and "rosa.personal" not in audit_text
    filed = (await admin.get("/api/v1/audit/events", params={"action": "incident.file"})).json()
    assert filed["items"] and all(e["client_address"] == "" for e in filed["items"])
    raw = await fetch('SELECT "event" FROM "outbox_message"')
    assert "Rosa" not in repr(raw)
    # Comms cannot set the reporter either; HR can.
    assert_problem(
        await comms.put(
            f"/api/v1/incidents/{named_id}/reporter", json={"version": 1, "reporter_name": "x"}
        ),
        403,
    )
    assert_problem(
        await comms.patch(
            f"/api/v1/incidents/{named_id}", json={"version": 1, "reporter_name": "x"}
        ),
        422,
        field="reporter_name",
    )
    fixed = await hr.put(
        f"/api/v1/incidents/{named_id}/reporter", json={"version": 1, "reporter_name": "Rosa Q."}
    )
    assert fixed.status_code == 200 and fixed.json()["reporter_name"] == "Rosa Q."


async def test_intake_is_rate_limited_per_address(client: httpx.AsyncClient) -> None:
    """Five reports an hour from one address, then 429 with Retry-After; bad input names the field."""
    body = {"category": "spam_unauthorised", "title": "Spam from our page"}
    assert_problem(
        await client.post("/api/v1/incidents/intake", json={**body, "category": "x"}),
        422,
        field="category",
    )
    for _ in range(5):
        assert (await client.post("/api/v1/incidents/intake", json=body)).status_code == 201
    limited = await client.post("/api/v1/incidents/intake", json=body)
    assert_problem(limited, 429)
    assert limited.headers["retry-after"] == "3600"


async def test_role_matrix(
    comms: httpx.AsyncClient,
    hr_user: Any,
    it_user: Any,
    auditor: httpx.AsyncClient,
    account: dict[str, Any],
) -> None:
    """HR edits no incident but works its own tasks; IT works the compromise tasks; auditors read."""
    hr, it = hr_user[1], it_user[1]
    incident = await file(
        comms, category="account_compromise", severity="SEV2", account_id=account["id"]
    )
    iid = incident["id"]
    got = await tasks(comms, iid)
    for client in (hr, it, auditor):
        assert_problem(
            await client.patch(f"/api/v1/incidents/{iid}", json={"version": 1, "title": "x"}), 403
        )
        assert_problem(
            await client.post(
                "/api/v1/incidents",
                json={"title": "x", "category": "spam_unauthorised", "severity": "SEV4"},
            ),
            403,
        )
        assert_problem(await client.post(f"/api/v1/incidents/{iid}/notes", json={"text": "x"}), 403)
        assert (await client.get(f"/api/v1/incidents/{iid}")).status_code == 200
        assert (await client.get(f"/api/v1/incidents/{iid}/timeline")).status_code == 200
    assert_problem(
        await auditor.post(
            f"/api/v1/incidents/{iid}/tasks/{got['confirm']['id']}/complete", json={}
        ),
        403,
    )
    # HR may not work an IT or comms task of this incident ...
    assert_problem(await complete(hr, iid, got["capture"]), 403)
    # ... IT works its own (the compromise steps) but not comms' capture.
    assert_problem(await complete(it, iid, got["capture"]), 403)
    await complete(comms, iid, got["acknowledge"])
    assert (await complete(it, iid, got["confirm"], "custodian locked out")).status_code == 200
    # HR works a task given to it by name.
    extra = await comms.post(
        f"/api/v1/incidents/{iid}/tasks",
        json={"title": "Brief the custodian's manager", "owner_role": "hr"},
    )
    assert (await complete(hr, iid, extra.json(), "done")).status_code == 200
    for client in (hr, it, auditor, comms):
        assert (await client.get("/api/v1/incidents/metrics")).status_code == 200


async def test_a_task_outside_ones_team_is_403_whatever_the_body(
    comms: httpx.AsyncClient, hr_user: Any
) -> None:
    """HR may work tasks, but not comms' capture: refused before the note is judged."""
    hr = hr_user[1]
    iid = (await file(comms))["id"]
    capture = (await tasks(comms, iid))["capture"]
    base = f"/api/v1/incidents/{iid}/tasks/{capture['id']}"
    for body in (
        {"json": {"note": 5, "unknown": True}},
        {"json": {"reason": ""}},
        {"json": []},
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"content": b"[" * 1000, "headers": {"content-type": "application/json"}},
    ):
        for action in ("complete", "skip"):
            assert_problem(await hr.post(f"{base}/{action}", **body), 403, "forbidden")
    assert (await tasks(comms, iid))["capture"]["state"] == capture["state"]


async def test_intake_rate_limit_keeps_no_reversible_trace_of_the_address(
    client: httpx.AsyncClient,
) -> None:
    """The per-address limit stores a keyed hash at minute precision, not the address's SHA-256."""
    import hashlib

    from incidents.tables import IntakeAttempt

    resp = await client.post(
        "/api/v1/incidents/intake",
        json={"category": "harassment", "title": "Abuse in replies", "description": "x"},
    )
    assert resp.status_code == 201, resp.text
    [attempt] = await IntakeAttempt.select()
    for address in ("127.0.0.1", "testclient", "unknown"):
        assert attempt["address_hash"] != hashlib.sha256(address.encode()).hexdigest()
    at = attempt["at"]
    assert at.second == 0 and at.microsecond == 0
