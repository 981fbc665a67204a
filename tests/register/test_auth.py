"""Signing in: browser sessions with CSRF, one-time passwords, hashing, tokens, deactivation, throttling."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from litestar.routes import HTTPRoute

from register import auth
from register.actor import Actor
from register.asgi import create_app
from register.auth import issue_token
from register.enums import Role
from register.passwords import ALGORITHM, ITERATIONS
from register.services import create_user
from register.settings import Settings
from register.tables import ApiToken, AuditEvent, User, UserSession
from tests.conftest import UserFactory
from tests.helpers import assert_problem, employee_body

PASSWORD = "correct horse battery"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"
PASSWORD_URL = "/api/v1/auth/password"
LOGOUT = "/api/v1/auth/logout"

Browser = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def browser(app: Any) -> AsyncIterator[Browser]:
    """make(base_url, address) -> a client that keeps cookies, as a browser would."""
    clients: list[httpx.AsyncClient] = []

    def make(base_url: str = "https://testserver", address: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        c = httpx.AsyncClient(transport=transport, base_url=base_url)
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()


async def new_user(
    role: Role = Role.hr, password: str | None = PASSWORD, **kwargs: Any
) -> tuple[dict[str, Any], str]:
    """A user who signs in with a password; (user, password). No password: a one-time one."""
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
    must_change = kwargs.pop("must_change_password", None if password is None else False)
    user, generated = await create_user(
        actor=Actor.system("test"),
        email=email,
        role=role,
        password=password,
        must_change_password=must_change,
        **kwargs,
    )
    return user, password or generated or ""


async def sign_in(c: httpx.AsyncClient, email: str, password: str) -> dict[str, Any]:
    """Sign in and return the login answer."""
    resp = await c.post(LOGIN, json={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    return resp.json()


def set_cookie(resp: httpx.Response, name: str) -> tuple[str, set[str]]:
    """The value and lower-cased attributes of one Set-Cookie header."""
    for header in resp.headers.get_list("set-cookie"):
        first, *attrs = [part.strip() for part in header.split(";")]
        key, _, value = first.partition("=")
        if key == name:
            return value, {a.lower() for a in attrs}
    raise AssertionError(f"no Set-Cookie for {name}: {resp.headers.get_list('set-cookie')}")


async def events(action: str) -> list[dict[str, Any]]:
    """Audit events of one action, oldest first, changes decoded."""
    rows = await AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.seq)
    for row in rows:
        if isinstance(row["changes"], str):
            row["changes"] = json.loads(row["changes"])
    return rows


def as_text(row: dict[str, Any]) -> str:
    """A row as one string, to look for things that must not be in it."""
    return json.dumps(row, default=str)


# ---------------------------------------------------------------- browser sessions


async def test_login_sets_secure_httponly_lax_cookie_over_https(browser: Browser) -> None:
    user, password = await new_user()
    c = browser("https://testserver")
    resp = await c.post(LOGIN, json={"email": user["email"].upper(), "password": password})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["user"]["id"] == user["id"]
    assert len(body["csrf_token"]) >= 20
    value, attrs = set_cookie(resp, "register_session")
    assert len(value) >= 32 and value not in resp.text
    assert {"httponly", "samesite=lax", "secure", "path=/"} <= attrs
    # The session id is stored only as its hash.
    row = await UserSession.select().where(UserSession.user == user["id"]).first()
    assert row["session_hash"] == hashlib.sha256(value.encode()).hexdigest()
    assert value not in as_text(row)
    me = await c.get(ME)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == user["email"]


async def test_cookie_is_not_secure_over_plain_http(browser: Browser) -> None:
    user, password = await new_user()
    c = browser("http://testserver")
    resp = await c.post(LOGIN, json={"email": user["email"], "password": password})
    assert resp.status_code == 200, resp.text
    _, attrs = set_cookie(resp, "register_session")
    assert {"httponly", "samesite=lax"} <= attrs
    assert "secure" not in attrs
    assert (await c.get(ME)).status_code == 200


async def test_cookie_changes_need_the_csrf_header(browser: Browser) -> None:
    user, password = await new_user(Role.hr)
    c = browser()
    csrf = (await sign_in(c, user["email"], password))["csrf_token"]
    missing = await c.post("/api/v1/employees", json=employee_body(1))
    assert_problem(missing, 403, "forbidden")
    # The last character changed to another one (a token ending in "x" stays wrong too).
    altered = csrf[:-1] + ("y" if csrf.endswith("x") else "x")
    wrong = await c.post(
        "/api/v1/employees", json=employee_body(1), headers={"X-CSRF-Token": altered}
    )
    assert_problem(wrong, 403, "forbidden")
    # A header byte outside ASCII is a wrong token too, not a server error.
    odd = await c.post(
        "/api/v1/employees", json=employee_body(1), headers={"X-CSRF-Token": b"\xe9t\xe9"}
    )
    assert_problem(odd, 403, "forbidden")
    denied = await events("auth.denied")
    assert [e["actor_id"] for e in denied] == [user["id"]] * 3
    assert denied[0]["object_id"] == "POST /api/v1/employees"
    assert {e["changes"]["reason"] for e in denied} == {"missing or wrong CSRF token"}
    ok = await c.post("/api/v1/employees", json=employee_body(1), headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201, ok.text
    # Reads need no token.
    assert (await c.get("/api/v1/employees")).status_code == 200


async def test_bearer_token_changes_need_no_csrf(hr: httpx.AsyncClient) -> None:
    resp = await hr.post("/api/v1/employees", json=employee_body(2))
    assert resp.status_code == 201, resp.text


async def test_logout_ends_the_session(browser: Browser) -> None:
    user, password = await new_user()
    c = browser()
    login = await c.post(LOGIN, json={"email": user["email"], "password": password})
    csrf = login.json()["csrf_token"]
    cookie, _ = set_cookie(login, "register_session")
    # Signing out is a change, so it needs the CSRF token like any other.
    assert_problem(await c.post(LOGOUT), 403, "forbidden")
    out = await c.post(LOGOUT, headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204, out.text
    assert set_cookie(out, "register_session")[0] in ("", '""')
    # The old cookie value, replayed, no longer signs anybody in.
    replay = browser()
    assert_problem(
        await replay.get(ME, headers={"Cookie": f"register_session={cookie}"}),
        401,
        "not-authenticated",
    )
    row = await UserSession.select().where(UserSession.user == user["id"]).first()
    assert row["ended_at"] is not None
    assert [e["actor_id"] for e in await events("auth.logout")] == [user["id"]]


async def test_expired_session_is_refused(browser: Browser) -> None:
    user, password = await new_user()
    c = browser()
    await sign_in(c, user["email"], password)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await UserSession.update({UserSession.expires_at: past}).where(UserSession.user == user["id"])
    assert_problem(await c.get(ME), 401, "not-authenticated")


async def test_wrong_password_and_unknown_email_get_the_same_401(browser: Browser) -> None:
    user, _ = await new_user()
    c = browser()
    wrong = assert_problem(
        await c.post(LOGIN, json={"email": user["email"], "password": "not the password"}),
        401,
        "not-authenticated",
    )
    unknown = assert_problem(
        await c.post(LOGIN, json={"email": "nobody@example.com", "password": PASSWORD}),
        401,
        "not-authenticated",
    )
    # The answer must not tell which e-mails have accounts.
    assert wrong["detail"] == unknown["detail"]
    assert "set-cookie" not in {k.lower() for k in (await c.get("/health")).headers}
    assert_problem(await c.get(ME), 401, "not-authenticated")


async def test_a_damaged_stored_hash_refuses_sign_in_cleanly(browser: Browser) -> None:
    user, password = await new_user()
    damaged = "pbkdf2_sha256$many$c2FsdA==$ZGlnZXN0"
    await User.update({User.password_hash: damaged}).where(User.id == user["id"])
    wrong = {"email": user["email"], "password": password}
    assert_problem(await browser().post(LOGIN, json=wrong), 401, "not-authenticated")


async def test_request_id_is_echoed_only_when_safe(client: httpx.AsyncClient) -> None:
    given = await client.get("/health", headers={"X-Request-ID": "abc-123_DEF"})
    assert given.headers["x-request-id"] == "abc-123_DEF"
    odd = await client.get("/health", headers={"X-Request-ID": b"caf\xe9"})
    assert len(odd.headers["x-request-id"]) == 32
    assert odd.headers["x-request-id"].isalnum() and odd.headers["x-request-id"].isascii()


# ---------------------------------------------------------------- one-time passwords


async def test_one_time_password_must_be_changed_before_anything_else(browser: Browser) -> None:
    user, one_time = await new_user(Role.hr, password=None)
    assert user["must_change_password"] is True
    assert len(one_time) >= 12
    c = browser()
    login = await sign_in(c, user["email"], one_time)
    assert login["user"]["must_change_password"] is True
    csrf = {"X-CSRF-Token": login["csrf_token"]}
    me = await c.get(ME)
    assert me.status_code == 200 and me.json()["must_change_password"] is True
    # Everything else waits for the new password, even what the role may normally do.
    assert_problem(await c.get("/api/v1/employees"), 403, "forbidden")
    assert_problem(
        await c.post("/api/v1/employees", json=employee_body(3), headers=csrf), 403, "forbidden"
    )
    assert_problem(await c.get("/api/v1/tokens"), 403, "forbidden")
    assert_problem(
        await c.post("/api/v1/tokens", json={"name": "x"}, headers=csrf), 403, "forbidden"
    )
    denied = await events("auth.denied")
    assert [e["object_id"] for e in denied] == [
        "GET /api/v1/employees",
        "POST /api/v1/employees",
        "GET /api/v1/tokens",
        "POST /api/v1/tokens",
    ]
    assert {e["changes"]["reason"] for e in denied} == {"one-time password not changed"}
    # The policy: 8 to 128 characters, and the current password must be right.
    short = await c.post(
        PASSWORD_URL, json={"current_password": one_time, "new_password": "7 chars"}, headers=csrf
    )
    assert_problem(short, 422, "invalid-input", field="new_password")
    long = await c.post(
        PASSWORD_URL, json={"current_password": one_time, "new_password": "x" * 129}, headers=csrf
    )
    assert_problem(long, 422, "invalid-input", field="new_password")
    wrong = await c.post(
        PASSWORD_URL,
        json={"current_password": "not the one", "new_password": "a new secret"},
        headers=csrf,
    )
    assert_problem(wrong, 422, "invalid-input", field="current_password")
    assert (await c.get(ME)).json()["must_change_password"] is True
    new_password = "x" * 128
    changed = await c.post(
        PASSWORD_URL,
        json={"current_password": one_time, "new_password": new_password},
        headers=csrf,
    )
    assert changed.status_code == 204, changed.text
    assert (await c.get(ME)).json()["must_change_password"] is False
    assert (await c.get("/api/v1/employees")).status_code == 200
    created = await c.post("/api/v1/employees", json=employee_body(3), headers=csrf)
    assert created.status_code == 201, created.text
    # The one-time password is spent; the new one signs in.
    assert_problem(
        await browser().post(LOGIN, json={"email": user["email"], "password": one_time}), 401
    )
    await sign_in(browser(), user["email"], new_password)
    change = (await events("user.password_change"))[0]
    assert one_time not in as_text(change) and new_password not in as_text(change)


async def test_a_token_issued_by_an_admin_works_before_the_password_is_changed(app: Any) -> None:
    """The one-time password gates browser sessions; an issued token is a separate credential."""
    user, _ = await new_user(Role.hr, password=None)
    token = await issue_token(
        actor=Actor.system("test"), user_id=user["id"], name="t", expires_in_days=1
    )
    headers = {"Authorization": f"Bearer {token.token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
    ) as c:
        assert (await c.get(ME)).status_code == 200
        assert (await c.get("/api/v1/employees")).status_code == 200
        # The role still decides: HR may not manage users.
        assert_problem(await c.get("/api/v1/users"), 403, "forbidden")


async def test_password_change_ends_the_other_sessions(app: Any, browser: Browser) -> None:
    user, password = await new_user(Role.comms)
    elsewhere = browser()
    await sign_in(elsewhere, user["email"], password)
    assert (await elsewhere.get(ME)).status_code == 200
    token = await issue_token(
        actor=Actor.system("test"), user_id=user["id"], name="t", expires_in_days=1
    )
    headers = {"Authorization": f"Bearer {token.token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
    ) as c:
        resp = await c.post(
            PASSWORD_URL, json={"current_password": password, "new_password": "another secret"}
        )
        assert resp.status_code == 204, resp.text
        # Whoever signed in with the old password is out; the script's token is not a session.
        assert_problem(await elsewhere.get(ME), 401, "not-authenticated")
        assert (await c.get(ME)).status_code == 200


# ---------------------------------------------------------------- password storage


async def test_passwords_are_stored_as_pbkdf2_sha256_600k(admin: httpx.AsyncClient) -> None:
    ids = []
    for n in (1, 2):
        resp = await admin.post(
            "/api/v1/users",
            json={"email": f"stored{n}@example.com", "role": "it", "password": PASSWORD},
        )
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["user"]["id"])
    rows = await User.select(User.password_hash).where(User.id.is_in(ids))
    hashes = [r["password_hash"] for r in rows]
    for stored in hashes:
        algorithm, iterations, salt, digest = stored.split("$")
        assert algorithm == ALGORITHM == "pbkdf2_sha256"
        assert int(iterations) >= 600_000 and ITERATIONS >= 600_000
        assert len(base64.b64decode(salt)) >= 16
        expected = hashlib.pbkdf2_hmac(
            "sha256", PASSWORD.encode(), base64.b64decode(salt), int(iterations)
        )
        assert base64.b64decode(digest) == expected
        assert PASSWORD not in stored
    # A salt per user: the same password never hashes alike.
    assert hashes[0] != hashes[1]


async def test_no_endpoint_returns_a_password_or_its_hash(
    app: Any, browser: Browser, user_factory: UserFactory
) -> None:
    _, admin = await user_factory(Role.admin)
    created = await admin.post(
        "/api/v1/users", json={"email": "visible@example.com", "role": "hr", "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["user"]["id"]
    one_time = await admin.post("/api/v1/users", json={"email": "fresh@example.com", "role": "hr"})
    assert one_time.status_code == 201 and one_time.json()["one_time_password"]
    version = created.json()["user"]["version"]
    patched = await admin.patch(
        f"/api/v1/users/{user_id}", json={"name": "Renamed", "version": version}
    )
    assert patched.status_code == 200, patched.text
    login = await browser().post(LOGIN, json={"email": "visible@example.com", "password": PASSWORD})
    assert login.status_code == 200, login.text
    hashes = [r["password_hash"] for r in await User.select(User.password_hash)]
    # The whole stored hash, its digest alone, and the passwords themselves.
    secrets = [*hashes, *(h.rsplit("$", 1)[1] for h in hashes), PASSWORD]
    secrets.append(one_time.json()["one_time_password"])
    answers = [("POST /api/v1/users", created), ("PATCH user", patched), ("login", login)]
    # Every GET route of the app, path parameters filled with the user's id.
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "GET" not in route.methods:
            continue
        if any(p.type is not int for p in route.path_parameters.values()):
            continue
        path = route.path_format.format(**dict.fromkeys(route.path_parameters, user_id))
        answers.append((f"GET {path}", await admin.get(path)))
    names = {name for name, _ in answers}
    assert {f"GET /api/v1/users/{user_id}", "GET /api/v1/users", "GET /api/v1/auth/me"} <= names
    assert "GET /api/v1/audit/events" in names
    for name, resp in answers:
        assert resp.status_code < 500, f"{name}: {resp.status_code}"
        assert "password_hash" not in resp.text, name
        for secret in secrets:
            assert secret not in resp.text, f"{name} shows a password or its hash"


# ---------------------------------------------------------------- API tokens


async def test_token_is_shown_once_and_stored_as_sha256(
    user_factory: UserFactory, app: Any
) -> None:
    user, c = await user_factory(Role.it)
    resp = await c.post("/api/v1/tokens", json={"name": "deploy script", "expires_in_days": 30})
    assert resp.status_code == 201, resp.text
    issued = resp.json()
    token = issued["token"]
    assert token.startswith("sar_") and len(token) >= 40
    assert issued["user_id"] == user["id"] and issued["prefix"] == token[:12]
    row = await ApiToken.select().where(ApiToken.id == issued["id"]).first()
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in as_text(row)
    listed = await c.get("/api/v1/tokens")
    assert listed.status_code == 200, listed.text
    items = {t["id"]: t for t in listed.json()["items"]}
    assert items[issued["id"]]["prefix"] == token[:12]
    assert all("token" not in t and "token_hash" not in t for t in items.values())
    assert token not in listed.text and row["token_hash"] not in listed.text
    audit_row = (await events("token.issue"))[-1]
    assert audit_row["object_id"] == str(issued["id"]) and token not in as_text(audit_row)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    ) as fresh:
        assert (await fresh.get(ME)).json()["id"] == user["id"]


async def test_expired_token_is_refused(user_factory: UserFactory, app: Any) -> None:
    _, c = await user_factory(Role.comms)
    resp = await c.post("/api/v1/tokens", json={"name": "short-lived", "expires_in_days": 1})
    assert resp.status_code == 201, resp.text
    issued = resp.json()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {issued['token']}"},
    ) as fresh:
        assert (await fresh.get(ME)).status_code == 200
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        await ApiToken.update({ApiToken.expires_at: past}).where(ApiToken.id == issued["id"])
        assert_problem(await fresh.get(ME), 401, "not-authenticated")
    # Without expires_in_days the default applies; null means no expiry.
    forever = await c.post("/api/v1/tokens", json={"name": "forever", "expires_in_days": None})
    assert forever.status_code == 201 and forever.json()["expires_at"] is None


async def test_revoked_token_gets_401_on_the_next_request(user_factory: UserFactory) -> None:
    user, c = await user_factory(Role.auditor)
    own = (await c.get("/api/v1/tokens")).json()["items"]
    assert len(own) == 1 and own[0]["user_id"] == user["id"]
    resp = await c.delete(f"/api/v1/tokens/{own[0]['id']}")
    assert resp.status_code == 204, resp.text
    assert_problem(await c.get(ME), 401, "not-authenticated")
    row = await ApiToken.select(ApiToken.revoked_at).where(ApiToken.id == own[0]["id"]).first()
    assert row["revoked_at"] is not None
    assert [e["object_id"] for e in await events("token.revoke")] == [str(own[0]["id"])]


async def test_non_admin_cannot_manage_another_users_tokens(user_factory: UserFactory) -> None:
    other, other_client = await user_factory(Role.hr)
    _, c = await user_factory(Role.it)
    _, admin = await user_factory(Role.admin)
    other_token = (await other_client.get("/api/v1/tokens")).json()["items"][0]
    assert_problem(
        await c.post("/api/v1/tokens", json={"name": "x", "user_id": other["id"]}), 403, "forbidden"
    )
    assert_problem(await c.get("/api/v1/tokens", params={"user_id": other["id"]}), 403, "forbidden")
    assert_problem(await c.delete(f"/api/v1/tokens/{other_token['id']}"), 404, "not-found")
    assert (await other_client.get(ME)).status_code == 200
    assert len(await ApiToken.select().where(ApiToken.user == other["id"])) == 1
    # An admin may do both.
    made = await admin.post("/api/v1/tokens", json={"name": "for hr", "user_id": other["id"]})
    assert made.status_code == 201 and made.json()["user_id"] == other["id"]
    assert (await admin.delete(f"/api/v1/tokens/{other_token['id']}")).status_code == 204
    assert_problem(await other_client.get(ME), 401, "not-authenticated")


# ---------------------------------------------------------------- deactivation


async def test_deactivation_ends_tokens_and_sessions_at_once(
    app: Any, browser: Browser, admin: httpx.AsyncClient
) -> None:
    user, password = await new_user(Role.comms)
    session = browser()
    await sign_in(session, user["email"], password)
    token = await issue_token(
        actor=Actor.system("test"), user_id=user["id"], name="t", expires_in_days=1
    )
    headers = {"Authorization": f"Bearer {token.token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
    ) as script:
        assert (await script.get(ME)).status_code == 200
        assert (await session.get(ME)).status_code == 200
        current = (await admin.get(f"/api/v1/users/{user['id']}")).json()
        resp = await admin.patch(
            f"/api/v1/users/{user['id']}", json={"active": False, "version": current["version"]}
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["active"] is False
        assert_problem(await script.get(ME), 401, "not-authenticated")
        assert_problem(await session.get(ME), 401, "not-authenticated")
    assert_problem(
        await browser().post(LOGIN, json={"email": user["email"], "password": password}), 401
    )


async def test_admin_cannot_deactivate_themself(user_factory: UserFactory) -> None:
    me, admin = await user_factory(Role.admin)
    resp = await admin.patch(
        f"/api/v1/users/{me['id']}", json={"active": False, "version": me["version"]}
    )
    assert_problem(resp, 422, "invalid-input", field="active")
    assert (await admin.get(ME)).json()["active"] is True


# ---------------------------------------------------------------- throttling and audit


async def test_failed_sign_ins_lock_the_account(browser: Browser, settings: Any) -> None:
    user, password = await new_user()
    attacker = browser(address="198.51.100.7")
    for _ in range(settings.login_max_failures):
        assert_problem(
            await attacker.post(LOGIN, json={"email": user["email"], "password": "guess guess"}),
            401,
        )
    # Even the right password, even from another address, waits out the window.
    for c in (attacker, browser(address="203.0.113.9")):
        resp = await c.post(LOGIN, json={"email": user["email"], "password": password})
        assert_problem(resp, 429, "too-many-attempts")
        assert 1 <= int(resp.headers["retry-after"]) <= settings.login_window_seconds + 1
        assert "set-cookie" not in resp.headers
    failed = await events("auth.login_failed")
    assert len(failed) == settings.login_max_failures
    assert {e["object_id"] for e in failed} == {user["email"]}
    assert {e["client_address"] for e in failed} == {"198.51.100.7"}


async def test_the_lock_lifts_when_the_window_has_passed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The window is wide enough for five hashings on a loaded machine; its end is reached by
    # moving the throttle's clock, not by waiting. Settings are frozen: the test builds its app.
    quick = dataclasses.replace(settings, login_window_seconds=60)
    application = create_app(quick)
    await application.state.engine.start_connection_pool()
    try:
        user, password = await new_user()
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            wrong = {"email": user["email"], "password": "guess guess"}
            for _ in range(quick.login_max_failures):
                assert_problem(await c.post(LOGIN, json=wrong), 401)
            locked = await c.post(LOGIN, json={"email": user["email"], "password": password})
            assert_problem(locked, 429, "too-many-attempts")
            wait = int(locked.headers["retry-after"])
            assert 10 < wait <= 61
            # Retry-After is honest: ten seconds before it the lock holds, at it the password works.
            real_now = auth.utcnow
            monkeypatch.setattr(
                auth, "utcnow", lambda: real_now() + dt.timedelta(seconds=wait - 10)
            )
            assert_problem(
                await c.post(LOGIN, json={"email": user["email"], "password": password}), 429
            )
            monkeypatch.setattr(auth, "utcnow", lambda: real_now() + dt.timedelta(seconds=wait))
            await sign_in(c, user["email"], password)
    finally:
        await application.state.engine.close_connection_pool()


async def test_parallel_guesses_do_not_slip_past_the_limit(browser: Browser, settings: Any) -> None:
    user, _ = await new_user()
    attacker = browser(address="198.51.100.9")
    wrong = {"email": user["email"], "password": "guess guess"}
    limit = settings.login_max_failures
    answers = await asyncio.gather(*[attacker.post(LOGIN, json=wrong) for _ in range(2 * limit)])
    # Guesses sent together are counted one after another: the limit holds exactly.
    assert sorted(r.status_code for r in answers) == [401] * limit + [429] * limit
    assert len(await events("auth.login_failed")) == limit


async def test_failed_sign_ins_lock_the_client_address(browser: Browser, settings: Any) -> None:
    user, password = await new_user()
    attacker = browser(address="198.51.100.8")
    for n in range(settings.login_max_failures_per_client):
        assert_problem(
            await attacker.post(
                LOGIN, json={"email": f"guess{n}@example.com", "password": "guess guess"}
            ),
            401,
        )
    resp = await attacker.post(LOGIN, json={"email": user["email"], "password": password})
    assert_problem(resp, 429, "too-many-attempts")
    assert int(resp.headers["retry-after"]) >= 1
    # The account itself is not locked: from another address it signs in.
    await sign_in(browser(address="203.0.113.10"), user["email"], password)


async def test_sign_ins_are_audited_without_the_password(browser: Browser) -> None:
    user, password = await new_user()
    c = browser(address="192.0.2.44")
    wrong = "wrong password 123"
    assert_problem(await c.post(LOGIN, json={"email": user["email"], "password": wrong}), 401)
    await sign_in(c, user["email"], password)
    failed, ok = await events("auth.login_failed"), await events("auth.login")
    assert len(failed) == 1 and len(ok) == 1
    assert failed[0]["object_id"] == user["email"] and failed[0]["actor_id"] is None
    assert ok[0]["actor_id"] == user["id"] and ok[0]["object_id"] == str(user["id"])
    assert failed[0]["client_address"] == ok[0]["client_address"] == "192.0.2.44"
    assert failed[0]["request_id"] and ok[0]["request_id"]
    for row in await AuditEvent.select():
        assert password not in as_text(row) and wrong not in as_text(row)
