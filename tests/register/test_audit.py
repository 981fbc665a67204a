"""The audit trail: an event for every change, the hash chain, signed checkpoints, append-only storage."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from register import audit
from register.actor import Actor
from register.asgi import create_app
from register.db import bind_engine, get_engine, make_engine
from register.enums import Role
from register.keys import public_key_id
from register.staff.services import create_employee
from register.staff.tables import Employee
from register.tables import AuditCheckpoint, AuditEvent
from tests.cli import run_cli
from tests.helpers import assert_problem, employee_body
from tests.register.conftest import assert_broken, attacker, record_events, trail

# ---------------------------------------------------------------- helpers


# ---------------------------------------------------------------- events for changes


async def test_employee_create_and_update_are_audited(user_factory) -> None:
    """Creating and changing an employee each leave one complete event."""
    user, admin = await user_factory(Role.admin)
    before = dt.datetime.now(dt.UTC)
    created = await admin.post("/api/v1/employees", json=employee_body(7, department="Sales"))
    assert created.status_code == 201, created.text
    emp = created.json()
    patched = await admin.patch(
        f"/api/v1/employees/{emp['id']}",
        json={"version": 1, "department": "Legal", "job_title": "Officer"},
        headers={"X-Request-ID": "patch-req-42"},
    )
    assert patched.status_code == 200, patched.text
    after = dt.datetime.now(dt.UTC)

    events = [e for e in await trail() if e["object_type"] == "employee"]
    assert [e["action"] for e in events] == ["employee.create", "employee.update"]
    create, update = events
    for event in events:
        assert event["actor_id"] == user["id"]
        assert event["actor"] == user["email"]
        assert event["object_id"] == str(emp["id"])
        assert event["client_address"] == "127.0.0.1"
        assert event["at"].utcoffset() == dt.timedelta(0)
        assert before <= event["at"] <= after
    assert create["request_id"] == created.headers["x-request-id"]
    assert len(create["request_id"]) >= 16
    assert create["changes"]["name"] == [None, "Person 7"]
    assert create["changes"]["work_email"] == [None, "person7@example.com"]
    assert create["changes"]["department"] == [None, "Sales"]
    # Only what changed, as [old, new]; the unchanged job title is not there.
    assert update["changes"] == {"department": ["Sales", "Legal"]}
    assert update["request_id"] == "patch-req-42" == patched.headers["x-request-id"]


async def test_times_in_changes_are_spelt_as_the_api_spells_them(app) -> None:
    """An event's changes write times as RFC 3339 with Z, as the API shows every other time."""
    when = dt.datetime(2026, 12, 2, 15, 11, 16, 494841, tzinfo=dt.UTC)
    seq = await audit.record(Actor.system("test"), "test.time", "thing", 1, {"at": [None, when]})
    row = await AuditEvent.select().where(AuditEvent.seq == seq).first()
    changes = row["changes"] if isinstance(row["changes"], str) else json.dumps(row["changes"])
    assert json.loads(changes) == {"at": [None, "2026-12-02T15:11:16.494841Z"]}


async def test_unchanged_update_writes_no_event(user_factory) -> None:
    """A PATCH that changes nothing records nothing."""
    _, admin = await user_factory(Role.admin)
    emp = (await admin.post("/api/v1/employees", json=employee_body(8))).json()
    count = await AuditEvent.count()
    resp = await admin.patch(
        f"/api/v1/employees/{emp['id']}", json={"version": 1, "department": emp["department"]}
    )
    assert resp.status_code == 200, resp.text
    assert await AuditEvent.count() == count


async def test_user_events_never_hold_passwords(app, user_factory) -> None:
    """Users, tokens, sign-ins and password changes are audited without any secret value."""
    admin_user, admin = await user_factory(Role.admin)
    chosen = "Chosen-Password-81f3"
    made = await admin.post(
        "/api/v1/users", json={"email": "Pat@Example.com", "role": "hr", "password": chosen}
    )
    assert made.status_code == 201, made.text
    pat = made.json()["user"]
    otp_resp = await admin.post("/api/v1/users", json={"email": "sam@example.com", "role": "comms"})
    one_time = otp_resp.json()["one_time_password"]
    assert one_time
    changed = await admin.patch(
        f"/api/v1/users/{pat['id']}", json={"version": pat["version"], "role": "comms"}
    )
    assert changed.status_code == 200, changed.text
    issued = (
        await admin.post("/api/v1/tokens", json={"name": "script", "user_id": pat["id"]})
    ).json()
    revoked = await admin.delete(f"/api/v1/tokens/{issued['id']}")
    assert revoked.status_code == 204, revoked.text

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as browser:
        wrong = "Wrong-Password-77aa"
        assert (
            await browser.post(
                "/api/v1/auth/login", json={"email": "pat@example.com", "password": wrong}
            )
        ).status_code == 401
        login = await browser.post(
            "/api/v1/auth/login", json={"email": "pat@example.com", "password": chosen}
        )
        assert login.status_code == 200, login.text
        new = "Brand-New-Password-5c2e"
        resp = await browser.post(
            "/api/v1/auth/password",
            json={"current_password": chosen, "new_password": new},
            headers={"X-CSRF-Token": login.json()["csrf_token"]},
        )
        assert resp.status_code == 204, resp.text

    events = await trail()
    by_action = {e["action"]: e for e in events if e["actor"] != "test"}
    assert by_action["user.create"]["changes"]["password"] == ["***", "***"]
    assert by_action["user.create"]["actor_id"] == admin_user["id"]
    assert by_action["user.update"]["changes"] == {"role": ["hr", "comms"]}
    assert by_action["token.issue"]["object_id"] == str(issued["id"])
    assert by_action["token.revoke"]["object_id"] == str(issued["id"])
    assert by_action["token.revoke"]["request_id"] == revoked.headers["x-request-id"]
    assert by_action["auth.login_failed"]["object_id"] == "pat@example.com"
    assert by_action["auth.login"]["actor_id"] == pat["id"]
    assert by_action["user.password_change"]["changes"] == {"password": ["***", "***"]}
    everything = json.dumps(events, default=str)
    for secret in (
        chosen,
        wrong,
        new,
        one_time,
        issued["token"],
        login.cookies["register_session"],
    ):
        assert secret not in everything


# ---------------------------------------------------------------- the hash chain


async def test_untouched_trail_verifies(app, admin, secrets, settings) -> None:
    """verify(), the API and `register audit verify` all accept an untouched trail."""
    await record_events(5)
    count = await AuditEvent.count()
    verdict = await audit.verify(secrets.verify_key)
    assert verdict.ok, verdict
    assert verdict.events == count
    assert verdict.first_bad_seq is None
    resp = await admin.post("/api/v1/audit/verify")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "ok": True,
        "events": count,
        "checkpoints": 0,
        "first_bad_seq": None,
        "reason": "",
        "macs_checked": True,
        "witnessed": 0,
    }
    result = await run_cli(settings, "audit", "verify", subprocess=True)
    assert result.code == 0, result
    assert f"audit trail OK: {count} events" in result.out


async def test_empty_trail_verifies(app, secrets) -> None:
    """A trail with no events is intact on a register that holds nothing."""
    assert await AuditEvent.count() == 0
    assert (await audit.verify(secrets.verify_key)).ok


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("changes", '{"n":[0,99]}'),
        ("actor", "someone-else"),
        ("action", "test.nothing"),
        ("client_address", "10.9.9.9"),
    ],
)
async def test_changed_field_is_named(app, settings, secrets, column, value) -> None:
    """Editing any field of an event breaks its hash; verify names that event."""
    await record_events(6)
    async with attacker(settings) as execute:
        await execute(f'UPDATE audit_event SET "{column}" = ? WHERE seq = ?', value, 3)
    row = await AuditEvent.select().where(AuditEvent.seq == 3).first()
    assert row[column] == value
    await assert_broken(
        settings, secrets, 3, "event 3 was altered: its content no longer matches its hash"
    )


async def test_changed_newest_event_is_named(app, settings, secrets) -> None:
    """The newest event has no successor to vouch for it; its own hash still gives it away."""
    await record_events(4)
    async with attacker(settings) as execute:
        await execute("UPDATE audit_event SET object_id = ? WHERE seq = ?", "999", 4)
    await assert_broken(
        settings, secrets, 4, "event 4 was altered: its content no longer matches its hash"
    )


async def test_changed_field_with_recomputed_hash_is_named(app, settings, secrets) -> None:
    """Recomputing the edited event's hash is caught by its MAC, and by the next event's link."""
    await record_events(6)
    row = await AuditEvent.select().where(AuditEvent.seq == 3).first()
    row["actor"] = "someone-else"
    forged = audit.event_hash(row)
    async with attacker(settings) as execute:
        await execute(
            "UPDATE audit_event SET actor = ?, hash = ? WHERE seq = ?", "someone-else", forged, 3
        )
    await assert_broken(settings, secrets, 3, "event 3 was altered or forged: its MAC")
    # With the public key only, the MACs go unchecked, and the link to event 4 gives it away.
    verdict = await audit.verify(secrets.verify_key)
    assert (verdict.first_bad_seq, verdict.macs_checked) == (3, False)
    assert "event 4 recorded a different hash" in verdict.reason


async def test_rewritten_chain_is_caught_by_checkpoint(app, settings, secrets) -> None:
    """Rebuilding every hash after an edit still fails against the signed checkpoint."""
    await record_events(6)
    assert await audit.checkpoint_now() == 6
    rows = await AuditEvent.select().order_by(AuditEvent.seq)
    prev = rows[1]["hash"]
    async with attacker(settings) as execute:
        for row in rows[2:]:
            if row["seq"] == 3:
                row["actor"] = "someone-else"
            row["prev_hash"] = prev
            row["hash"] = prev = audit.event_hash(row)
            await execute(
                "UPDATE audit_event SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                row["actor"],
                row["prev_hash"],
                row["hash"],
                row["seq"],
            )
    # The MAC of the first rewritten event gives it away; with the public key only (no MACs),
    # the signed checkpoint does.
    await assert_broken(settings, secrets, 3, "event 3 was altered or forged: its MAC")
    verdict = await audit.verify(secrets.verify_key)
    assert verdict.first_bad_seq == 6
    assert "does not match its signed checkpoint" in verdict.reason
    assert "between events 1 and 6" in verdict.reason


async def test_deleted_event_is_named(app, settings, secrets) -> None:
    """A gap in the sequence names the missing event."""
    await record_events(6)
    async with attacker(settings) as execute:
        await execute("DELETE FROM audit_event WHERE seq = ?", 3)
    await assert_broken(settings, secrets, 3, "missing")
    as_json = await run_cli(settings, "audit", "verify", "--json", subprocess=True)
    assert as_json.code == 1
    assert json.loads(as_json.out) == {
        "ok": False,
        "events": 5,
        "checkpoints": 0,
        "first_bad_seq": 3,
        "reason": "event 3 is missing: the chain jumps from 2 to 4",
        "macs_checked": True,
        "witnessed": 0,
    }


async def test_deleted_first_event_is_named(app, settings, secrets) -> None:
    """The chain must start at event 1."""
    await record_events(3)
    async with attacker(settings) as execute:
        await execute("DELETE FROM audit_event WHERE seq = ?", 1)
    await assert_broken(settings, secrets, 1, "missing")


async def test_deleted_tail_is_caught_by_checkpoint(app, settings, secrets) -> None:
    """Cutting off the newest events leaves a checkpoint pointing past the end."""
    await record_events(5)
    await audit.checkpoint_now()
    async with attacker(settings) as execute:
        await execute("DELETE FROM audit_event WHERE seq >= ?", 4)
    await assert_broken(settings, secrets, 5, "signed in a checkpoint, is missing")


async def test_checkpoint_signed_by_another_key_is_named(app, settings, secrets) -> None:
    """A checkpoint that the register's key did not sign is refused."""
    await record_events(4)
    last = await AuditEvent.select().where(AuditEvent.seq == 4).first()
    other = Ed25519PrivateKey.generate()
    signed_at = audit.now()
    # Inserting needs no bypass: the trail is append-only, not write-protected.
    await AuditCheckpoint.insert(
        AuditCheckpoint(
            seq=4,
            hash=last["hash"],
            signed_at=signed_at,
            key_id=secrets.signing_key_id,
            signature=base64.b64encode(
                other.sign(audit.checkpoint_message(4, last["hash"], signed_at))
            ).decode(),
        )
    )
    await assert_broken(settings, secrets, 4, "invalid signature")


async def test_checkpoint_with_altered_hash_is_named(app, settings, secrets) -> None:
    """Changing the hash a real checkpoint signed voids its signature."""
    await record_events(4)
    await audit.checkpoint_now()
    assert (await audit.verify(secrets.verify_key)).ok
    async with attacker(settings) as execute:
        await execute("UPDATE audit_checkpoint SET hash = ? WHERE seq = ?", "f" * 64, 4)
    await assert_broken(settings, secrets, 4, "invalid signature")


async def test_first_of_several_problems_is_named(app, settings, secrets) -> None:
    """With a forged checkpoint late and an edit early, the edit is reported."""
    await record_events(6)
    await audit.checkpoint_now()
    async with attacker(settings) as execute:
        await execute("UPDATE audit_checkpoint SET hash = ? WHERE seq = ?", "0" * 64, 6)
        await execute("UPDATE audit_event SET actor = ? WHERE seq = ?", "someone-else", 2)
    await assert_broken(settings, secrets, 2, "altered")


# ---------------------------------------------------------------- checkpoints


async def test_checkpoint_every_hundred_events(app, settings, secrets) -> None:
    """Events 100 and 200 each get a checkpoint signed by the register's key."""
    await record_events(205)
    checkpoints = await AuditCheckpoint.select().order_by(AuditCheckpoint.seq)
    assert [c["seq"] for c in checkpoints] == [100, 200]
    events = {
        e["seq"]: e
        for e in await AuditEvent.select(AuditEvent.seq, AuditEvent.hash).where(
            AuditEvent.seq.is_in([100, 200])
        )
    }
    for cp in checkpoints:
        assert cp["hash"] == events[cp["seq"]]["hash"]
        assert cp["key_id"] == secrets.signing_key_id == public_key_id(secrets.verify_key)
        # Raises InvalidSignature if it was not signed by this key over exactly these values.
        secrets.verify_key.verify(
            base64.b64decode(cp["signature"]),
            audit.checkpoint_message(cp["seq"], cp["hash"], cp["signed_at"]),
        )
    verdict = await audit.verify(secrets.verify_key)
    assert verdict.ok, verdict
    assert (verdict.events, verdict.checkpoints) == (205, 2)

    # Removing a periodic checkpoint (to rebuild the chain behind it unseen) is itself detected.
    async with attacker(settings) as execute:
        await execute("DELETE FROM audit_checkpoint WHERE seq = ?", 100)
    await assert_broken(settings, secrets, 100, "checkpoint at event 100 is missing")


async def test_checkpoint_once_the_oldest_unsigned_event_is_old(app, secrets, monkeypatch) -> None:
    """A busy trail is signed at the first append after its oldest unsigned event turns 30 s."""
    start = audit.now()

    def at(seconds: float) -> None:
        monkeypatch.setattr(audit, "now", lambda: start + dt.timedelta(seconds=seconds))

    at(0)
    await record_events(3)
    at(audit.CHECKPOINT_SECONDS - 1)
    await record_events(1)
    assert await AuditCheckpoint.count() == 0
    at(audit.CHECKPOINT_SECONDS)
    await record_events(1)
    at(audit.CHECKPOINT_SECONDS + 10)
    await record_events(2)
    # The clock restarts at the first event after the checkpoint (event 6, at 40 s).
    at(audit.CHECKPOINT_SECONDS + 39)
    await record_events(1)
    at(audit.CHECKPOINT_SECONDS + 40)
    await record_events(1)
    checkpoints = await AuditCheckpoint.select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)
    assert [c["seq"] for c in checkpoints] == [5, 9]
    assert (await audit.verify(secrets.verify_key, mac_key=secrets.audit_mac_key)).ok


async def test_delivery_worker_signs_a_quiet_trail(app, secrets, monkeypatch) -> None:
    """The worker's tick signs events that no later append would sign, once per interval."""
    worker = app.state.outbox_worker
    await worker.sign_audit_trail(force=True)
    assert await AuditCheckpoint.count() == 0
    await record_events(3)
    await worker.sign_audit_trail(force=True)
    await worker.sign_audit_trail(force=True)
    assert [c["seq"] for c in await AuditCheckpoint.select(AuditCheckpoint.seq)] == [3]
    await record_events(1)
    await worker.sign_audit_trail()  # within the interval of the last tick: not yet
    assert await AuditCheckpoint.count() == 1

    # The delivery loop ticks by itself.
    monkeypatch.setattr(audit, "CHECKPOINT_SECONDS", 0.0)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    for _ in range(100):
        if await AuditCheckpoint.exists().where(AuditCheckpoint.seq == 4):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await running
    assert [c["seq"] for c in await AuditCheckpoint.select(AuditCheckpoint.seq)] == [3, 4]
    assert (await audit.verify(secrets.verify_key, mac_key=secrets.audit_mac_key)).ok


async def test_shutdown_signs_a_checkpoint(settings, secrets) -> None:
    """Stopping the app signs the end of the chain, once."""
    application = create_app(settings)
    async with application.lifespan():
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as client:
            assert (await client.get("/ready")).status_code == 200
        await create_employee(
            actor=Actor.system("test"),
            data={"name": "Ada Lovelace", "work_email": "ada@example.com"},
        )
        await create_employee(
            actor=Actor.system("test"),
            data={"name": "Alan Turing", "work_email": "alan@example.com"},
        )
        assert await AuditCheckpoint.count() == 0
    engine: Any = make_engine(settings.database_url)
    bind_engine(engine)
    await engine.start_connection_pool()
    try:
        checkpoints = await AuditCheckpoint.select().order_by(AuditCheckpoint.seq)
        assert [c["seq"] for c in checkpoints] == [2]
        assert (await audit.verify(secrets.verify_key)).ok
    finally:
        await engine.close_connection_pool()

    # A second shutdown with nothing new does not sign the same point again.
    application = create_app(settings)
    async with application.lifespan():
        pass
    engine = make_engine(settings.database_url)
    bind_engine(engine)
    await engine.start_connection_pool()
    try:
        assert await AuditCheckpoint.count() == 1
    finally:
        await engine.close_connection_pool()


# ---------------------------------------------------------------- append-only storage


async def test_database_refuses_update_and_delete(app, settings, secrets) -> None:
    """UPDATE and DELETE on the trail fail in the database itself, whoever sends them."""
    await record_events(3)
    await audit.checkpoint_now()
    before_events = await AuditEvent.select().order_by(AuditEvent.seq)
    before_checkpoints = await AuditCheckpoint.select()
    engine = get_engine()
    refused = [
        'UPDATE "audit_event" SET "actor" = \'x\' WHERE "seq" = 2',
        'DELETE FROM "audit_event" WHERE "seq" = 2',
        'DELETE FROM "audit_event"',
        'UPDATE "audit_checkpoint" SET "hash" = \'x\'',
        'DELETE FROM "audit_checkpoint"',
    ]
    if not settings.is_sqlite:
        refused += [
            'TRUNCATE "audit_event"',
            'TRUNCATE "audit_checkpoint"',
            'TRUNCATE "audit_event", "audit_checkpoint"',
        ]
    for sql in refused:
        with pytest.raises(Exception, match="append-only") as caught:
            await engine.run_ddl(sql)
        assert caught.type.__module__.split(".")[0] in ("sqlite3", "asyncpg"), caught.type
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.update({AuditEvent.actor: "x"}).where(AuditEvent.seq == 1)
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.delete().where(AuditEvent.seq == 1)
    assert await AuditEvent.select().order_by(AuditEvent.seq) == before_events
    assert await AuditCheckpoint.select() == before_checkpoints
    assert (await audit.verify(secrets.verify_key)).ok


# ---------------------------------------------------------------- audit failure stops the change


FAIL_SQLITE = "CREATE TRIGGER audit_event_broken BEFORE INSERT ON audit_event BEGIN SELECT RAISE(ABORT, 'audit store broken'); END"
FAIL_PG = [
    "CREATE OR REPLACE FUNCTION test_audit_broken() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit store broken'; END $$",
    "CREATE TRIGGER audit_event_broken BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION test_audit_broken()",
]
UNFAIL_PG = [
    "DROP TRIGGER IF EXISTS audit_event_broken ON audit_event",
    "DROP FUNCTION IF EXISTS test_audit_broken()",
]


async def test_failed_audit_write_rolls_back_the_change(hr, settings) -> None:
    """If the event cannot be written, the change it records is not committed either."""
    emp = (await hr.post("/api/v1/employees", json=employee_body(3, department="Sales"))).json()
    events = await AuditEvent.count()
    engine = get_engine()
    for sql in [FAIL_SQLITE] if settings.is_sqlite else FAIL_PG:
        await engine.run_ddl(sql)
    try:
        resp = await hr.patch(
            f"/api/v1/employees/{emp['id']}",
            json={"version": 1, "department": "Legal", "leaving_date": "2031-01-31"},
        )
        body = assert_problem(resp, 500, "internal")
        for leak in (
            "audit store broken",
            "audit_event",
            "INSERT",
            "sqlite",
            "asyncpg",
            "Traceback",
            "File ",
        ):
            assert leak not in resp.text
        assert set(body) <= {"type", "title", "status", "detail", "instance"}
        created = await hr.post("/api/v1/employees", json=employee_body(4))
        assert_problem(created, 500, "internal")
    finally:
        if not settings.is_sqlite:
            for sql in UNFAIL_PG:
                await engine.run_ddl(sql)
    row = await Employee.select().where(Employee.id == emp["id"]).first()
    assert (row["department"], row["leaving_date"], row["status"], row["version"]) == (
        "Sales",
        None,
        "active",
        1,
    )
    assert not await Employee.exists().where(Employee.work_email == "person4@example.com")
    assert await AuditEvent.count() == events
    if settings.is_sqlite:
        await engine.run_ddl("DROP TRIGGER audit_event_broken")
    # With the trail working again, the same change goes through.
    again = await hr.patch(
        f"/api/v1/employees/{emp['id']}", json={"version": 1, "department": "Legal"}
    )
    assert again.status_code == 200, again.text


# ---------------------------------------------------------------- reading the trail


async def test_only_auditors_and_admins_read_the_trail(user_factory, client) -> None:
    """Auditors and admins read and verify; other roles get 403, anonymous 401."""
    for role in (Role.auditor, Role.admin):
        _, c = await user_factory(role)
        assert (await c.get("/api/v1/audit/events")).status_code == 200
        assert (await c.post("/api/v1/audit/verify")).status_code == 200
    for role in (Role.hr, Role.it, Role.comms):
        _, c = await user_factory(role)
        assert_problem(await c.get("/api/v1/audit/events"), 403, "forbidden")
        assert_problem(await c.post("/api/v1/audit/verify"), 403, "forbidden")
    assert_problem(await client.get("/api/v1/audit/events"), 401)
    assert_problem(await client.post("/api/v1/audit/verify"), 401)


@pytest.fixture
async def story(user_factory) -> dict[str, Any]:
    """An admin adds three people, HR changes one; an auditor reads."""
    admin_user, admin = await user_factory(Role.admin)
    hr_user, hr = await user_factory(Role.hr)
    _, auditor = await user_factory(Role.auditor)
    emps = [(await admin.post("/api/v1/employees", json=employee_body(i))).json() for i in range(3)]
    resp = await hr.patch(
        f"/api/v1/employees/{emps[1]['id']}", json={"version": 1, "job_title": "Lead"}
    )
    assert resp.status_code == 200, resp.text
    return {"admin": admin_user, "hr": hr_user, "auditor": auditor, "employees": emps}


async def _items(c: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    resp = await c.get("/api/v1/audit/events", params={"limit": 200, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


async def test_trail_filters(story) -> None:
    """Actor, actor id, action (exact and prefix), object and time range all narrow the list."""
    auditor, emps = story["auditor"], story["employees"]
    everything = await _items(auditor)
    assert [e["seq"] for e in everything] == sorted((e["seq"] for e in everything), reverse=True)
    assert len(everything) == await AuditEvent.count()

    creates = await _items(auditor, action="employee.create")
    assert [e["object_id"] for e in creates] == [str(e["id"]) for e in reversed(emps)]
    assert {e["action"] for e in await _items(auditor, action="employee.*")} == {
        "employee.create",
        "employee.update",
    }
    assert len(await _items(auditor, action="employee.*")) == 4
    assert {e["action"] for e in await _items(auditor, action="token.*")} == {"token.issue"}
    assert await _items(auditor, action="employee") == []

    by_hr = await _items(auditor, actor=story["hr"]["email"].upper())
    assert [(e["action"], e["object_id"]) for e in by_hr] == [
        ("employee.update", str(emps[1]["id"]))
    ]
    assert await _items(auditor, actor_id=story["hr"]["id"]) == by_hr
    assert {e["actor_id"] for e in await _items(auditor, actor_id=story["admin"]["id"])} == {
        story["admin"]["id"]
    }

    one = await _items(auditor, object_type="employee", object_id=str(emps[1]["id"]))
    assert [e["action"] for e in one] == ["employee.update", "employee.create"]
    assert one[0]["changes"] == {"job_title": ["Officer", "Lead"]}
    assert {e["object_type"] for e in await _items(auditor, object_type="user")} == {"user"}

    # since is inclusive, until exclusive; an offset other than UTC means the same instant.
    second, update = creates[1], by_hr[0]
    window = await _items(auditor, since=second["at"], until=update["at"])
    assert [e["seq"] for e in window] == [creates[0]["seq"], second["seq"]]
    shifted = dt.datetime.fromisoformat(second["at"].replace("Z", "+00:00")).astimezone(
        dt.timezone(dt.timedelta(hours=2))
    )
    assert [
        e["seq"] for e in await _items(auditor, since=shifted.isoformat(), until=update["at"])
    ] == [e["seq"] for e in window]
    assert [e["seq"] for e in await _items(auditor, since=update["at"])] == [
        e["seq"] for e in everything if e["seq"] >= update["seq"]
    ]
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()
    assert await _items(auditor, since=later) == []


async def test_trail_pagination(story) -> None:
    """Pages of `limit` events, newest first, linked by next_offset, without gaps or repeats."""
    auditor = story["auditor"]
    total = await AuditEvent.count()
    seen: list[int] = []
    offset: int | None = 0
    while offset is not None:
        resp = await auditor.get("/api/v1/audit/events", params={"limit": 3, "offset": offset})
        page = resp.json()
        assert (page["limit"], page["offset"]) == (3, offset)
        assert len(page["items"]) <= 3
        seen += [e["seq"] for e in page["items"]]
        offset = page["next_offset"]
    assert seen == list(range(total, 0, -1))
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"since": "yesterday"}):
        resp = await auditor.get("/api/v1/audit/events", params=params)
        assert resp.status_code in (400, 422), resp.text
        assert_problem(resp, resp.status_code)


async def test_event_shape_in_api(story) -> None:
    """The API shows each event's fields, with UTC times and decoded changes."""
    event = (await _items(story["auditor"], action="employee.update"))[0]
    assert set(event) == {
        "seq",
        "at",
        "actor_id",
        "actor",
        "action",
        "object_type",
        "object_id",
        "changes",
        "request_id",
        "client_address",
        "hash",
    }
    at = dt.datetime.fromisoformat(event["at"].replace("Z", "+00:00"))
    assert at.utcoffset() == dt.timedelta(0)
    assert event["actor"] == story["hr"]["email"]
    assert event["client_address"] == "127.0.0.1"
    assert len(event["hash"]) == 64


async def test_verify_endpoint_reports_tampering(story, settings) -> None:
    """POST /api/v1/audit/verify gives the verdict, naming the first bad event."""
    auditor = story["auditor"]
    assert (await auditor.post("/api/v1/audit/verify")).json()["ok"] is True
    async with attacker(settings) as execute:
        await execute("DELETE FROM audit_event WHERE seq = ?", 2)
    resp = await auditor.post("/api/v1/audit/verify")
    assert resp.status_code == 200
    verdict = resp.json()
    assert verdict["ok"] is False
    assert verdict["first_bad_seq"] == 2
    assert "missing" in verdict["reason"]
