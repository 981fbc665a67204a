"""The credential vault: encryption at rest, tamper failures, rewrap, reveal rules, TOTP, no leaks."""

from __future__ import annotations

import base64
import dataclasses
import logging
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from accounts.services import code_at
from register.asgi import create_app
from register.commands import rewrap, rotate
from register.db import get_engine, is_postgres
from register.enums import Role
from tests.helpers import assert_problem

CANARY = "Canary-Pa55word-7f3a9c2e41"
SEED = base64.b32encode(b"canary-seed-20-bytes").decode()


def _forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [
        raw,
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw),
        raw.hex().encode(),
        raw.hex().upper().encode(),
    ]


async def _db_bytes(settings) -> bytes:
    """Everything the database holds on disk (SQLite files) or in a dump (PostgreSQL)."""
    if is_postgres():
        dsn = settings.database_url
        out = subprocess.run(
            ["pg_dump", "--data-only", dsn], capture_output=True, check=True, timeout=60
        )
        return out.stdout
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    blob = b""
    for suffix in ("", "-wal", "-shm"):
        f = Path(str(path) + suffix)
        if f.exists():
            blob += f.read_bytes()
    return blob


async def test_canary_never_stored_or_logged_in_plain(it, make_account, settings, caplog):
    caplog.set_level(logging.DEBUG)
    acct = await make_account()
    resp = await it.put(
        f"/api/v1/accounts/{acct['id']}/credential",
        json={
            "password": CANARY,
            "totp_seed": SEED,
            "recovery_codes": ["rc-one-1234", "rc-two-5678"],
        },
    )
    assert resp.status_code == 200, resp.text
    assert (
        resp.json()["has_password"]
        and resp.json()["has_totp_seed"]
        and resp.json()["has_recovery_codes"]
    )
    revealed = await it.post(
        f"/api/v1/accounts/{acct['id']}/credential/reveal", json={"reason": "quarterly check"}
    )
    assert revealed.json()["password"] == CANARY
    if not is_postgres():
        await get_engine().run_ddl("PRAGMA wal_checkpoint(PASSIVE)")
    stored = await _db_bytes(settings)
    logs = "\n".join(r.getMessage() for r in caplog.records).encode()
    for form in _forms(CANARY) + _forms(SEED) + _forms("rc-one-1234"):
        assert form not in stored, f"secret form {form[:12]!r}... found in the database"
        assert form not in logs, "secret found in the logs"


async def test_no_response_leaks_secrets_except_reveal(it, make_account, user_factory, people):
    acct = await make_account()
    await it.put(
        f"/api/v1/accounts/{acct['id']}/credential", json={"password": CANARY, "totp_seed": SEED}
    )
    from accounts.tables import Credential

    row = await Credential.select().where(Credential.account == acct["id"]).first()
    forbidden = [
        CANARY,
        SEED,
        row["wrapped_key"],
        row["password_ct"][:40],
        row["totp_seed_ct"][:40],
    ]
    paths = [
        "/api/v1/accounts",
        f"/api/v1/accounts/{acct['id']}",
        f"/api/v1/accounts/{acct['id']}/credential",
        f"/api/v1/accounts/{acct['id']}/grants",
        "/api/v1/accounts/risks",
        "/api/v1/accounts/export.csv",
        "/api/v1/audit/events?limit=200",
    ]
    for role in Role:
        _, c = await user_factory(role)
        for path in paths:
            resp = await c.get(path)
            for secret in forbidden:
                assert secret not in resp.text, f"{role.value} saw a secret at {path}"


async def test_reveal_rules(it, make_account, user_factory, people, admin):
    acct = await make_account()
    await it.put(f"/api/v1/accounts/{acct['id']}/credential", json={"password": CANARY})
    for role in (Role.hr, Role.comms, Role.auditor):
        _, c = await user_factory(role)
        assert_problem(
            await c.post(
                f"/api/v1/accounts/{acct['id']}/credential/reveal",
                json={"reason": "curious about it"},
            ),
            403,
        )
    assert_problem(
        await it.post(f"/api/v1/accounts/{acct['id']}/credential/reveal", json={"reason": ""}),
        422,
        field="reason",
    )
    _, ana = await user_factory(Role.comms, employee_id=people["ana"])
    ok = await ana.post(
        f"/api/v1/accounts/{acct['id']}/credential/reveal", json={"reason": "posting the launch"}
    )
    assert ok.status_code == 200 and ok.json()["password"] == CANARY
    assert "no-store" in ok.headers["cache-control"]
    moved = await it.post(
        f"/api/v1/accounts/{acct['id']}/transfers", json={"to_employee_id": people["eve"]}
    )
    assert moved.status_code == 201
    assert_problem(
        await ana.post(
            f"/api/v1/accounts/{acct['id']}/credential/reveal", json={"reason": "posting again"}
        ),
        403,
    )
    events = (
        await admin.get(f"/api/v1/audit/events?object_id={acct['id']}&action=credential.*")
    ).json()["items"]
    actions = [e["action"] for e in events]
    assert "credential.reveal" in actions and "credential.reveal_denied" in actions
    reveal = next(e for e in events if e["action"] == "credential.reveal")
    assert reveal["changes"]["reason"] == [None, "posting the launch"]


BROKEN_BODIES = [
    {"json": {"reason": "abc"}},
    {"json": {"reason": ""}},
    {"json": {"reason": 5, "extra": True}},
    {"json": []},
    {"content": b"{not json", "headers": {"content-type": "application/json"}},
    {"content": b"[" * 1000, "headers": {"content-type": "application/json"}},
]


async def test_who_may_not_reveal_gets_403_whatever_the_body(
    it, make_account, user_factory, people, admin
):
    """Only custodians and IT reveal: a role the route is open to, but who is not a custodian,
    is refused before the body is looked at, so a short reason is not a 422 inviting a longer one."""
    acct = await make_account()
    await it.put(f"/api/v1/accounts/{acct['id']}/credential", json={"password": CANARY})
    _, stranger = await user_factory(Role.comms)
    base = f"/api/v1/accounts/{acct['id']}"
    moved = await it.post(f"{base}/transfers", json={"to_employee_id": people["eve"]})
    assert moved.status_code == 201, moved.text
    for body in BROKEN_BODIES:
        for method, path in (
            ("POST", f"{base}/credential/reveal"),
            ("PUT", f"{base}/credential"),
            ("POST", f"{base}/recertify"),
            ("POST", f"{base}/transfers/{moved.json()['id']}/accept"),
            ("POST", f"{base}/transfers/{moved.json()['id']}/decline"),
        ):
            resp = await stranger.request(method, path, **body)
            assert_problem(resp, 403, "forbidden")
            assert CANARY not in resp.text
    # IT may reveal: for IT the short reason is the problem, named.
    assert_problem(
        await it.post(f"{base}/credential/reveal", json={"reason": "abc"}), 422, field="reason"
    )
    events = (await admin.get(f"/api/v1/audit/events?object_id={acct['id']}&limit=200")).json()[
        "items"
    ]
    assert sum(e["action"] == "credential.reveal_denied" for e in events) == len(BROKEN_BODIES)


async def test_an_id_no_row_can_have_is_422_naming_it_on_a_guarded_route(it, caplog):
    """The per-object guard runs before the path's own checks: an id out of range is not looked
    up (the database would refuse it) but left to them."""
    with caplog.at_level(logging.WARNING):
        for account_id in ("0", "-5", str(2**31), "9" * 30):
            resp = await it.post(
                f"/api/v1/accounts/{account_id}/credential/reveal", json={"reason": "quarterly"}
            )
            assert_problem(resp, 422, field="account_id")
    assert not [r for r in caplog.records if r.name.startswith("register")], caplog.text


async def test_totp_code_without_seeing_the_seed(it, make_account):
    acct = await make_account()
    await it.put(f"/api/v1/accounts/{acct['id']}/credential", json={"totp_seed": SEED.lower()})
    resp = await it.get(f"/api/v1/accounts/{acct['id']}/credential/totp")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert SEED not in resp.text
    assert body["code"] in {code_at(SEED)[0], code_at(SEED, __import__("time").time() - 30)[0]}
    assert 0 < body["valid_for_seconds"] <= 30
    assert_problem(
        await it.put(
            f"/api/v1/accounts/{acct['id']}/credential", json={"totp_seed": "not base32!"}
        ),
        422,
        field="totp_seed",
    )


async def test_swapped_and_flipped_ciphertexts_fail_cleanly(it, make_account, admin):
    from accounts.tables import Credential

    a = await make_account()
    b = await make_account()
    for acct, pw in ((a, "secret-a-1"), (b, "secret-b-2")):
        await it.put(f"/api/v1/accounts/{acct['id']}/credential", json={"password": pw})
    ra = await Credential.select().where(Credential.account == a["id"]).first()
    rb = await Credential.select().where(Credential.account == b["id"]).first()
    await Credential.update(
        {Credential.wrapped_key: rb["wrapped_key"], Credential.password_ct: rb["password_ct"]}
    ).where(Credential.id == ra["id"])
    await Credential.update(
        {Credential.wrapped_key: ra["wrapped_key"], Credential.password_ct: ra["password_ct"]}
    ).where(Credential.id == rb["id"])
    for acct in (a, b):
        resp = await it.post(
            f"/api/v1/accounts/{acct['id']}/credential/reveal", json={"reason": "incident check"}
        )
        body = assert_problem(resp, 500)
        assert "secret-" not in resp.text and "ciphertext" not in resp.text.lower()
        assert body["detail"] == "The server could not complete the request; it has been logged."
    # Put b back, then flip one byte of its password ciphertext.
    await Credential.update(
        {Credential.wrapped_key: rb["wrapped_key"], Credential.password_ct: rb["password_ct"]}
    ).where(Credential.id == rb["id"])
    ct = rb["password_ct"]
    flipped = ct[:-3] + ("A" if ct[-3] != "A" else "B") + ct[-2:]
    await Credential.update({Credential.password_ct: flipped}).where(Credential.id == rb["id"])
    resp = await it.post(
        f"/api/v1/accounts/{b['id']}/credential/reveal", json={"reason": "incident check"}
    )
    assert_problem(resp, 500)
    assert "secret-b" not in resp.text
    failures = (
        await admin.get(
            f"/api/v1/audit/events?action=credential.decrypt_failed&object_id={b['id']}"
        )
    ).json()["items"]
    assert len(failures) == 2  # the swap and the flip, each audited


def own_keyring_settings(settings, tmp_path):
    """Settings with a private copy of the secrets, so rotating the key ring touches no other test."""
    var = tmp_path / "own-var"
    shutil.copytree(settings.var_dir, var, ignore=shutil.ignore_patterns("*.db*"))
    return dataclasses.replace(
        settings,
        var_dir=var,
        keyring_file=var / "keyring.json",
        secret_key_file=var / "secret.key",
        audit_signing_key_file=var / "audit_signing.pem",
    )


async def it_token(email: str) -> str:
    """A bearer token of a new IT user on the bound database."""
    from register.actor import Actor
    from register.auth import issue_token
    from register.services import create_user

    user, _ = await create_user(
        actor=Actor.system("t"),
        email=email,
        role=Role.it,
        password="long enough pw",
        must_change_password=False,
    )
    return (
        await issue_token(actor=Actor.system("t"), user_id=user["id"], name="t", expires_in_days=1)
    ).token


async def test_rotate_and_rewrap_keep_every_secret(settings, tmp_path, people):
    own = own_keyring_settings(settings, tmp_path)
    app = create_app(own)
    await app.state.engine.start_connection_pool()
    token = await it_token("it-rot@example.com")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    ) as c:
        ids = []
        for n in range(5):
            r = await c.post(
                "/api/v1/accounts",
                json={"platform": "x", "handle": f"rot{n}", "custodian_id": people["ana"]},
            )
            ids.append(r.json()["id"])
            await c.put(
                f"/api/v1/accounts/{ids[-1]}/credential",
                json={"password": f"pw-{n}", "totp_seed": SEED},
            )
        ring = rotate(own)
        assert ring.current == 2
        counts = await rewrap(own)
        assert (
            counts["credential"]["rewrapped"] == 5
            and counts["credential"]["remaining_on_old_versions"] == 0
        )
    from accounts.tables import Credential

    assert await Credential.count().where(Credential.key_version != 2) == 0
    app2 = create_app(own)
    await app2.state.engine.start_connection_pool()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app2),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    ) as c:
        for n, account_id in enumerate(ids):
            r = await c.post(
                f"/api/v1/accounts/{account_id}/credential/reveal", json={"reason": "after rewrap"}
            )
            assert (
                r.status_code == 200
                and r.json()["password"] == f"pw-{n}"
                and r.json()["totp_seed"] == SEED
            )
    await app2.state.engine.close_connection_pool()
    await app.state.engine.close_connection_pool()


@pytest.mark.parametrize("field", ["password"])
async def test_replacing_is_a_rotation(it, make_account, field):
    acct = await make_account()
    await it.put(f"/api/v1/accounts/{acct['id']}/credential", json={field: "first-value"})
    await it.post(
        f"/api/v1/accounts/{acct['id']}/transfers",
        json={"to_employee_id": acct["backup_custodian_id"]},
    )
    assert (await it.get(f"/api/v1/accounts/{acct['id']}/credential")).json()[
        "rotation_due"
    ] is True
    status = (
        await it.put(f"/api/v1/accounts/{acct['id']}/credential", json={field: "second-value"})
    ).json()
    assert (
        status["rotation_due"] is False
        and status["rotated_at"] is not None
        and status["version"] == 2
    )


async def test_running_server_picks_up_a_rotated_ring(settings, tmp_path, people):
    own = own_keyring_settings(settings, tmp_path)
    app = create_app(own)
    await app.state.engine.start_connection_pool()
    token = await it_token("it-live@example.com")
    from accounts.tables import Credential

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    ) as c:
        first = (
            await c.post(
                "/api/v1/accounts",
                json={"platform": "x", "handle": "live1", "custodian_id": people["ana"]},
            )
        ).json()
        await c.put(f"/api/v1/accounts/{first['id']}/credential", json={"password": "before"})
        rotate(own)
        second = (
            await c.post(
                "/api/v1/accounts",
                json={"platform": "x", "handle": "live2", "custodian_id": people["ana"]},
            )
        ).json()
        status = (
            await c.put(f"/api/v1/accounts/{second['id']}/credential", json={"password": "after"})
        ).json()
        assert status["key_version"] == 2
        assert (
            await Credential.select(Credential.key_version)
            .where(Credential.account == first["id"])
            .first()
        )["key_version"] == 1
        for acct, pw in ((first, "before"), (second, "after")):
            got = await c.post(
                f"/api/v1/accounts/{acct['id']}/credential/reveal",
                json={"reason": "after rotation"},
            )
            assert got.json()["password"] == pw
    await app.state.engine.close_connection_pool()


async def test_a_holder_leaving_makes_rotation_due(it, people, make_account, hr):
    """When the leaving date passes, the sweep marks the person left and their accounts' credentials due."""
    import datetime as dt

    from register.actor import Actor
    from register.staff.services import sweep_leavers

    held = await make_account(backup_custodian_id=people["cy"])
    granted = await make_account()
    untouched = await make_account()
    for acct in (held, granted, untouched):
        await it.put(f"/api/v1/accounts/{acct['id']}/credential", json={"password": "before"})
    await it.post(
        f"/api/v1/accounts/{granted['id']}/grants",
        json={"employee_id": people["cy"], "level": "viewer"},
    )
    for acct in (held, granted, untouched):
        assert (await it.get(f"/api/v1/accounts/{acct['id']}/credential")).json()[
            "rotation_due"
        ] is False
    # Cy's leaving date was set in the future; a week later it has passed.
    left = await sweep_leavers(
        actor=Actor.system("test"), today=dt.date.today() + dt.timedelta(days=30)
    )
    assert left == [people["cy"]]
    employee = (await hr.get(f"/api/v1/employees/{people['cy']}")).json()
    assert employee["status"] == "left"
    for acct, due in ((held, True), (granted, True), (untouched, False)):
        status = (await it.get(f"/api/v1/accounts/{acct['id']}/credential")).json()
        assert status["rotation_due"] is due, acct
        if due:
            assert status["rotation_due_reason"] == "a holder left"
    assert (
        await sweep_leavers(
            actor=Actor.system("test"), today=dt.date.today() + dt.timedelta(days=30)
        )
        == []
    )


async def test_idempotency_key_never_stores_or_replays_secrets(
    it, make_account, admin, user_factory
):
    """Reveal and token creation ignore Idempotency-Key: nothing secret is stored, each call is checked."""
    from register.tables import IdempotencyRecord

    acct = await make_account()
    await it.put(f"/api/v1/accounts/{acct['id']}/credential", json={"password": CANARY})
    headers = {"Idempotency-Key": "reveal-1"}
    for _ in range(2):
        resp = await it.post(
            f"/api/v1/accounts/{acct['id']}/credential/reveal",
            json={"reason": "twice over"},
            headers=headers,
        )
        assert resp.status_code == 200 and "idempotent-replayed" not in resp.headers
    token = await it.post(
        "/api/v1/tokens", json={"name": "script"}, headers={"Idempotency-Key": "tok-1"}
    )
    assert token.status_code == 201
    stored = await IdempotencyRecord.select(IdempotencyRecord.body)
    assert all(CANARY not in r["body"] and token.json()["token"] not in r["body"] for r in stored)
    assert stored == []
    reveals = (
        await admin.get(f"/api/v1/audit/events?action=credential.reveal&object_id={acct['id']}")
    ).json()["items"]
    assert len(reveals) == 2


async def test_a_replay_is_refused_once_the_role_no_longer_allows_it(
    it, people, user_factory, admin
):
    """An opted-in create replays only while the caller may still take the action."""
    user, client = await user_factory(Role.it)
    body = {"platform": "x", "handle": "replayed", "custodian_id": people["ana"]}
    first = await client.post("/api/v1/accounts", json=body, headers={"Idempotency-Key": "acct-1"})
    assert first.status_code == 201
    again = await client.post("/api/v1/accounts", json=body, headers={"Idempotency-Key": "acct-1"})
    assert (
        again.headers.get("idempotent-replayed") == "true"
        and again.json()["id"] == first.json()["id"]
    )
    await admin.patch(
        f"/api/v1/users/{user['id']}", json={"version": user["version"], "role": "comms"}
    )
    assert_problem(
        await client.post("/api/v1/accounts", json=body, headers={"Idempotency-Key": "acct-1"}), 403
    )
