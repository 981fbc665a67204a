"""Post approval over the API: submit, send back, resubmit, approve by someone else, locked, posted."""

from __future__ import annotations

import asyncio
import hashlib
import struct
from typing import Any

from accounts.posts.tables import PostMedia
from register.notifications.enums import EventType, MailKind
from register.tables import AuditEvent
from tests.accounts.posts.conftest import World
from tests.accounts.posts.photos import jpeg_with_gps
from tests.helpers import assert_problem


def expected_sha256(text: str, media: list[bytes]) -> str:
    """The approval hash as the README defines it, computed here independently."""
    data = b"social-asset-register/post-request/v1"
    for part in [text.encode("utf-8"), *media]:
        data += struct.pack(">Q", len(part)) + part
    return hashlib.sha256(data).hexdigest()


async def submit(world: World, text: str = "Our new office opens on Monday!") -> dict[str, Any]:
    resp = await world.submitter_c.post(
        "/api/v1/post-requests",
        json={
            "account_id": world.account["id"],
            "text": text,
            "planned_at": "2027-01-04T09:00:00+01:00",
        },
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


async def audit_actions(object_id: int) -> list[str]:
    rows = (
        await AuditEvent.select(AuditEvent.action)
        .where(
            (AuditEvent.object_type == "post_request") & (AuditEvent.object_id == str(object_id))
        )
        .order_by(AuditEvent.seq)
    )
    return [r["action"] for r in rows]


async def test_submit_send_back_resubmit_approve_posted(world: World) -> None:
    """The whole way: the submitter cannot approve their own, the approved text is locked with its
    SHA-256, and the post is marked posted with its https address."""
    made = await submit(world)
    pr = made["id"]
    assert made["state"] == "submitted" and made["round"] == 1 and made["version"] == 1
    assert made["planned_at"].startswith("2027-01-04T08:00:00")
    assert made["may"] == {"edit": True, "resubmit": False, "decide": False, "mark_posted": False}

    # The submitter is one of the named approvers, yet cannot decide on their own post.
    own = await world.submitter_c.post(f"/api/v1/post-requests/{pr}/approve", json={"version": 1})
    body = assert_problem(own, 403, "forbidden")
    assert "you submitted this post request" in body["detail"]
    # Someone who is not an approver cannot either, nor even see it.
    assert_problem(
        await world.outsider_c.post(f"/api/v1/post-requests/{pr}/approve", json={"version": 1}),
        403,
    )
    assert_problem(await world.outsider_c.get(f"/api/v1/post-requests/{pr}"), 403)

    # Sent back with a reason: the reason is required.
    assert_problem(
        await world.approver_c.post(
            f"/api/v1/post-requests/{pr}/send-back", json={"version": 1, "reason": "  "}
        ),
        422,
        field="reason",
    )
    back = await world.approver_c.post(
        f"/api/v1/post-requests/{pr}/send-back",
        json={"version": 1, "reason": "Say which office: we have two."},
    )
    assert back.status_code == 200, back.text
    assert back.json()["state"] == "sent_back"
    assert back.json()["send_back_reason"] == "Say which office: we have two."

    # Edited and resubmitted by its submitter; round 2.
    again = await world.submitter_c.post(
        f"/api/v1/post-requests/{pr}/resubmit",
        json={"version": 2, "text": "Our new Utrecht office opens on Monday!"},
    )
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "submitted" and again.json()["round"] == 2
    version = again.json()["version"]

    # Approved by the second approver: locked, its SHA-256 recorded and correct.
    approved = await world.second_c.post(
        f"/api/v1/post-requests/{pr}/approve", json={"version": version}
    )
    assert approved.status_code == 200, approved.text
    done = approved.json()
    assert done["state"] == "approved"
    assert done["decided_by_email"] == "ben@example.com"
    assert done["approved_sha256"] == expected_sha256("Our new Utrecht office opens on Monday!", [])

    # Any later edit is refused, naming why.
    edit = await world.submitter_c.patch(
        f"/api/v1/post-requests/{pr}", json={"version": done["version"], "text": "changed"}
    )
    body = assert_problem(edit, 409, "conflict")
    assert "locked" in body["detail"] and done["approved_sha256"] in body["detail"]
    photo = await world.submitter_c.post(
        f"/api/v1/post-requests/{pr}/media",
        files={"file": ("late.jpg", jpeg_with_gps(), "image/jpeg")},
        data={"version": str(done["version"])},
    )
    assert_problem(photo, 409, "conflict")

    # Posted: https only.
    assert_problem(
        await world.submitter_c.post(
            f"/api/v1/post-requests/{pr}/posted",
            json={"version": done["version"], "url": "http://x.com/acct1/status/1"},
        ),
        422,
        field="url",
    )
    posted = await world.submitter_c.post(
        f"/api/v1/post-requests/{pr}/posted",
        json={"version": done["version"], "url": "https://x.com/acct1/status/1"},
    )
    assert posted.status_code == 200, posted.text
    assert posted.json()["state"] == "posted"
    assert posted.json()["posted_url"] == "https://x.com/acct1/status/1"
    assert posted.json()["approved_sha256"] == done["approved_sha256"]

    steps = [h["step"] for h in posted.json()["history"]]
    assert steps == ["submitted", "sent_back", "edited", "resubmitted", "approved", "posted"]
    actions = await audit_actions(pr)
    # The refusals are in the trail too: the submitter's own approval, the outsider's two tries.
    assert actions.count("auth.denied") == 3
    assert [a for a in actions if a != "auth.denied"] == [
        "post_request.submit",
        "post_request.send_back",
        "post_request.resubmit",
        "post_request.approve",
        "post_request.posted",
    ]


async def test_two_approvers_at_once_one_wins(world: World) -> None:
    """Two approvers deciding the same version at once: one success, one clean conflict."""
    pr = (await submit(world))["id"]
    answers = await asyncio.gather(
        world.approver_c.post(f"/api/v1/post-requests/{pr}/approve", json={"version": 1}),
        world.second_c.post(
            f"/api/v1/post-requests/{pr}/send-back", json={"version": 1, "reason": "No."}
        ),
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 409)
    assert_problem(loser, 409)
    won = next(a for a in answers if a.status_code == 200).json()
    history = [h["step"] for h in won["history"]]
    assert history.count("approved") + history.count("sent_back") == 1


async def test_approval_hash_covers_the_stored_photo(world: World) -> None:
    """The SHA-256 is over the text and the stripped bytes as stored (what approvers download)."""
    pr = await submit(world, "With a photo")
    added = await world.submitter_c.post(
        f"/api/v1/post-requests/{pr['id']}/media",
        files={"file": ("IMG_0001.jpg", jpeg_with_gps(), "image/jpeg")},
        data={"version": "1"},
    )
    assert added.status_code == 200, added.text
    media = added.json()["media"]
    assert len(media) == 1 and "GPSLatitude" in media[0]["removed"]
    stored = await world.approver_c.get(f"/api/v1/post-requests/{pr['id']}/media/{media[0]['id']}")
    assert stored.status_code == 200
    assert stored.headers["content-type"] == "application/octet-stream"
    assert hashlib.sha256(stored.content).hexdigest() == media[0]["sha256"]
    approved = await world.approver_c.post(
        f"/api/v1/post-requests/{pr['id']}/approve", json={"version": added.json()["version"]}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_sha256"] == expected_sha256("With a photo", [stored.content])
    # The original is nowhere: the sealed row holds only the stripped file.
    assert await PostMedia.count() == 1


async def test_only_grant_holders_submit(world: World, user_factory: Any) -> None:
    """Someone without an active grant on the account is refused, naming why (audited)."""
    resp = await world.outsider_c.post(
        "/api/v1/post-requests", json={"account_id": world.account["id"], "text": "Hello"}
    )
    body = assert_problem(resp, 403, "forbidden")
    assert "active grant" in body["detail"]
    auditor = (await user_factory("auditor"))[1]
    assert_problem(
        await auditor.post(
            "/api/v1/post-requests", json={"account_id": world.account["id"], "text": "Hi"}
        ),
        403,
    )
    assert_problem(
        await world.submitter_c.post(
            "/api/v1/post-requests", json={"account_id": world.account["id"], "text": "   "}
        ),
        422,
        field="text",
    )


async def test_account_without_approval_takes_posts_as_approved(
    world: World, make_account: Any, people: dict[str, int]
) -> None:
    """An account that needs no approval: the post is approved at once, locked and hashed."""
    other = await make_account()
    await world.it_c.post(
        f"/api/v1/accounts/{other['id']}/grants",
        json={"employee_id": people["eve"], "level": "editor"},
    )
    resp = await world.submitter_c.post(
        "/api/v1/post-requests", json={"account_id": other["id"], "text": "Straight out"}
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["state"] == "approved"
    assert resp.json()["approved_sha256"] == expected_sha256("Straight out", [])
    assert [h["step"] for h in resp.json()["history"]] == [
        "submitted",
        "approved_without_approval",
    ]


async def test_approval_setting_needs_an_approver_and_a_version(world: World) -> None:
    """Requiring approval without approvers is refused; a stale version is 409; audited."""
    url = f"/api/v1/accounts/{world.account['id']}/post-approval"
    assert_problem(
        await world.it_c.put(
            url, json={"requires_approval": True, "approver_ids": [], "version": 1}
        ),
        422,
        field="approver_ids",
    )
    assert_problem(
        await world.it_c.put(
            url, json={"requires_approval": False, "approver_ids": [], "version": 0}
        ),
        409,
        "stale-version",
    )
    read = await world.approver_c.get(url)
    assert read.status_code == 200
    assert {a["email"] for a in read.json()["approvers"]} == {
        "ana@example.com",
        "ben@example.com",
        "eve@example.com",
    }
    rows = await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.action == "post_approval.update"
    )
    assert len(rows) == 1


async def test_lists_by_reader(world: World) -> None:
    """Mine for the submitter, waiting for the approvers (never their own), none for an outsider."""
    pr = (await submit(world))["id"]
    mine = (await world.submitter_c.get("/api/v1/post-requests?scope=mine")).json()
    assert [i["id"] for i in mine["items"]] == [pr]
    waiting = (await world.second_c.get("/api/v1/post-requests?scope=waiting")).json()
    assert [i["id"] for i in waiting["items"]] == [pr]
    own_wait = (await world.submitter_c.get("/api/v1/post-requests?scope=waiting")).json()
    assert own_wait["items"] == []
    outsider = (await world.outsider_c.get("/api/v1/post-requests")).json()
    assert outsider["items"] == []


async def test_approvers_hear_of_a_submission_and_the_submitter_of_the_decision(
    world: World, app: Any, settings: Any
) -> None:
    """A webhook event and one e-mail per approver on submission; the submitter's on decision."""
    import dataclasses

    from register.db import fetch
    from register.notifications.flows._mail import configure_mail
    from tests.helpers import subscribe

    configure_mail(
        dataclasses.replace(settings, smtp_host="127.0.0.1", public_url="https://r.example")
    )
    try:
        await subscribe(
            app,
            settings,
            "https://127.0.0.1/hook",
            events=[EventType.post_request_submitted.value, EventType.post_request_decided.value],
        )
        pr = (await submit(world))["id"]
        await world.approver_c.post(f"/api/v1/post-requests/{pr}/approve", json={"version": 1})
        rows = await fetch('SELECT "event_type", "event" FROM "outbox_message" ORDER BY "id"')
    finally:
        configure_mail(settings)
    kinds = [r["event_type"] for r in rows]
    assert kinds.count(EventType.post_request_submitted.value) == 1
    assert kinds.count(EventType.post_request_decided.value) == 1
    waiting = [r["event"] for r in rows if r["event_type"] == MailKind.post_request_waiting.value]
    # The two other approvers; the submitter (also an approver) is not told of their own post.
    assert sorted(e.split('"to":"')[1].split('"')[0] for e in waiting) == [
        "ana@example.com",
        "ben@example.com",
    ]
    decided = [r["event"] for r in rows if r["event_type"] == MailKind.post_request_decided.value]
    assert len(decided) == 1 and '"to":"eve@example.com"' in decided[0]


async def test_register_posts_list_and_show(world: World, settings: Any) -> None:
    """The CLI lists post requests and shows one with its history, as the operator sees them."""
    import json

    from tests.cli import run_cli

    pr = await submit(world, "From the command line")
    listed = await run_cli(settings, "posts", "list", "--json")
    assert listed.code == 0, listed
    assert [i["id"] for i in json.loads(listed.out)] == [pr["id"]]
    plain = await run_cli(settings, "posts", "list", "--state", "submitted")
    assert "From the command line" in plain.out and "submitted" in plain.out
    shown = await run_cli(settings, "posts", "show", str(pr["id"]))
    assert shown.code == 0, shown
    body = json.loads(shown.out)
    assert body["text"] == "From the command line"
    assert [h["step"] for h in body["history"]] == ["submitted"]
    missing = await run_cli(settings, "posts", "show", "999999")
    assert missing.code != 0 and "post request 999999 does not exist" in missing.err


async def test_an_incident_names_its_post_request_through_the_api(
    world: World, user_factory: Any
) -> None:
    """PATCH an incident's post_request_id: a post request that exists, audited; another is 422."""
    pr = (await submit(world))["id"]
    _, comms = await user_factory("comms")
    incident = (
        await comms.post(
            "/api/v1/incidents",
            json={"title": "Wrong post", "category": "erroneous_post", "severity": "SEV3"},
        )
    ).json()
    assert incident["post_request_id"] is None
    assert_problem(
        await comms.patch(
            f"/api/v1/incidents/{incident['id']}",
            json={"version": incident["version"], "post_request_id": 999_999},
        ),
        422,
        field="post_request_id",
    )
    linked = await comms.patch(
        f"/api/v1/incidents/{incident['id']}",
        json={"version": incident["version"], "post_request_id": pr},
    )
    assert linked.status_code == 200, linked.text
    assert linked.json()["post_request_id"] == pr
    rows = await AuditEvent.select(AuditEvent.changes).where(
        (AuditEvent.action == "incident.update") & (AuditEvent.object_id == str(incident["id"]))
    )
    assert any("post_request_id" in str(r["changes"]) for r in rows)
