"""Company sign-in against a real OpenID Connect provider (oidc-provider from npm, on loopback).

The register runs in-process; the provider's login and consent pages are filled by an HTTP
client, as a browser would (the browser suite does it in Chromium).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from register import oidc
from register.actor import Actor
from register.enums import Role
from register.errors import PermissionDenied
from register.services import create_user, update_user
from register.settings import Settings
from register.staff.services import create_employee
from register.tables import AuditEvent, User, UserSession
from tests.peers.oidc_peer import (
    CLIENT_ID,
    CLIENT_SECRET,
    GROUP_ROLES,
    SCOPES,
    TAMPERED_CLIENT_ID,
    Peer,
    log_in_at_provider,
    running_peer,
)

BASE = "http://testserver"
CALLBACK = BASE + "/sign-in/company/callback"


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    """The provider, knowing the in-process register's callback."""
    async with running_peer([CALLBACK], [BASE + "/sign-in"]) as running:
        yield running


@pytest.fixture
def settings(settings: Settings, peer: Peer, tmp_path: Path) -> Settings:
    """The test's settings with company sign-in pointed at the peer."""
    secret = tmp_path / "oidc-client-secret"
    secret.write_text(CLIENT_SECRET + "\n")
    # A port an earlier test's provider had: its discovery and keys are not this one's.
    oidc._providers.clear()
    return dataclasses.replace(
        settings,
        oidc_issuer=peer.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret_file=secret,
        oidc_scopes=SCOPES,
        oidc_button_label="Example",
        group_roles=GROUP_ROLES,
    )


@pytest.fixture
async def browser(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client of the in-process register."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


async def start(browser: httpx.AsyncClient, next_path: str = "/") -> str:
    """Press "Sign in with ...": the provider's authorization URL the register sends us to."""
    resp = await browser.get("/sign-in/company", params={"next": next_path})
    assert resp.status_code == 303, resp.text
    return resp.headers["location"]


def local(url: str) -> str:
    """The callback URL as a path on the in-process register."""
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path, parts.query, ""))


async def sign_in(browser: httpx.AsyncClient, login: str) -> httpx.Response:
    """The whole flow for one person; the register's answer to the callback."""
    callback = await log_in_at_provider(await start(browser), login, CALLBACK)
    return await browser.get(local(callback))


def as_dict(changes: Any) -> dict[str, Any]:
    """An audit event's changes, whichever way the database hands back JSON."""
    return json.loads(changes) if isinstance(changes, str) else dict(changes)


async def refusals() -> list[dict[str, Any]]:
    """The audited refusals of company sign-in, oldest first."""
    return await (
        AuditEvent.select(AuditEvent.object_id, AuditEvent.changes)
        .where(AuditEvent.action == "auth.oidc_refused")
        .order_by(AuditEvent.seq)
    )


async def test_the_authorization_request_uses_pkce_state_and_nonce(
    browser: httpx.AsyncClient, peer: Peer
) -> None:
    """The register asks for the code flow with an S256 challenge, a state and a nonce."""
    query = parse_qs(urlsplit(await start(browser)).query)
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    assert query["redirect_uri"] == [CALLBACK]
    assert query["scope"] == [SCOPES]


async def test_a_mapped_group_signs_in_and_makes_the_user(browser: httpx.AsyncClient) -> None:
    """Alice's group maps to IT: she is made with that role, linked to her staff record, signed in."""
    person = await create_employee(
        actor=Actor.system("test"), data={"name": "Alice Staff", "work_email": "alice@example.com"}
    )
    resp = await sign_in(browser, "alice")
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    home = await browser.get("/")
    assert home.status_code == 200, home.text
    user = await User.select().where(User.email == "alice@example.com").first()
    assert user["role"] == "it" and user["name"] == "Alice Provider"
    assert user["oidc_subject"] == "alice" and user["must_change_password"] is False
    assert user["employee"] == person["id"] and user["password_hash"] is None
    logins = await AuditEvent.select(AuditEvent.changes).where(AuditEvent.action == "auth.login")
    assert [as_dict(e["changes"]) for e in logins] == [{"via": "oidc"}]


async def test_an_unmapped_group_signs_in_as_staff(browser: httpx.AsyncClient) -> None:
    """Bob's groups map to no role: he is an employee like any other, made with the staff role,
    and his home page and menu offer only his own things."""
    resp = await sign_in(browser, "bob")
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    assert "register_session" in resp.headers.get("set-cookie", "")
    user = await User.select().where(User.email == "bob@example.com").first()
    assert user["role"] == "staff" and user["oidc_subject"] == "bob"
    assert await refusals() == []
    created = await AuditEvent.select(AuditEvent.changes).where(
        (AuditEvent.action == "user.create") & (AuditEvent.object_id == str(user["id"]))
    )
    assert '"staff"' in str(created[0]["changes"]).replace("'", '"')
    home = await browser.get("/")
    assert home.status_code == 200, home.text
    assert 'href="/settings"' in home.text and 'href="/accounts"' not in home.text
    assert (await browser.get("/accounts")).status_code == 403
    assert (await browser.get("/api/v1/employees")).status_code == 403


async def test_a_state_that_does_not_match_is_refused(browser: httpx.AsyncClient) -> None:
    """A callback whose state is not the one this browser's flow holds is refused."""
    callback = await log_in_at_provider(await start(browser), "alice", CALLBACK)
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = query["state"][:-1] + ("A" if query["state"][-1] != "A" else "B")
    resp = await browser.get(parts.path + "?" + urlencode(query))
    assert resp.status_code == 401
    assert "could not be completed" in resp.text
    assert await User.count() == 0
    assert "state does not match" in str((await refusals())[0]["changes"])


async def test_an_answer_naming_another_issuer_is_refused(browser: httpx.AsyncClient) -> None:
    """RFC 9207's iss in the answer must be the configured issuer (no mix-up between providers)."""
    callback = await log_in_at_provider(await start(browser), "alice", CALLBACK)
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["iss"].startswith("http://127.0.0.1:")
    query["iss"] = "https://attacker.example"
    resp = await browser.get(parts.path + "?" + urlencode(query))
    assert resp.status_code == 401
    assert await User.count() == 0
    assert "another issuer answered" in str((await refusals())[0]["changes"])


async def test_a_replayed_callback_is_refused(browser: httpx.AsyncClient, app: Any) -> None:
    """The same callback again: refused without the flow's cookie, and its code is spent anyway."""
    callback = await log_in_at_provider(await start(browser), "alice", CALLBACK)
    pending = browser.cookies.get("register_oidc")
    assert (await browser.get(local(callback))).status_code == 303
    again = await browser.get(local(callback))
    assert again.status_code == 401
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE, cookies={"register_oidc": pending}
    ) as thief:
        stolen = await thief.get(local(callback))
    assert stolen.status_code == 401
    reasons = [str(r["changes"]) for r in await refusals()]
    assert "no pending sign-in" in reasons[0]
    assert "token request refused" in reasons[1]
    assert await UserSession.count() == 1


async def test_a_nonce_that_does_not_match_is_refused(browser: httpx.AsyncClient) -> None:
    """An authorization request whose nonce was changed on the way gives an ID token refused."""
    parts = urlsplit(await start(browser))
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["nonce"] = "a-nonce-the-register-never-made"
    changed = urlunsplit((*parts[:3], urlencode(query), ""))
    callback = await log_in_at_provider(changed, "alice", CALLBACK)
    resp = await browser.get(local(callback))
    assert resp.status_code == 401
    assert await User.count() == 0
    reason = str((await refusals())[0]["changes"])
    assert "ID token refused" in reason and "nonce" in reason


async def test_a_tampered_id_token_is_refused(app: Any, settings: Settings) -> None:
    """An ID token whose signature was changed on its way from the token endpoint is refused."""
    app.state.settings = dataclasses.replace(settings, oidc_client_id=TAMPERED_CLIENT_ID)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
            resp = await sign_in(c, "alice")
    finally:
        app.state.settings = settings
    assert resp.status_code == 401
    assert await User.count() == 0
    reason = str((await refusals())[0]["changes"])
    assert "ID token refused: BadSignatureError" in reason


async def test_the_role_follows_the_groups_and_its_change_is_audited(
    browser: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """A local user with the same verified e-mail is linked; the role then follows the groups."""
    await create_user(
        actor=Actor.system("test"), email="alice@example.com", role=Role.hr, name="Alice"
    )
    assert (await sign_in(browser, "alice")).status_code == 303
    user = await User.select().where(User.email == "alice@example.com").first()
    assert user["role"] == "it" and user["oidc_issuer"] == settings.oidc_issuer
    # Her one-time password is gone rather than asked to be changed.
    assert user["must_change_password"] is False and user["password_hash"] is None
    app.state.settings = dataclasses.replace(
        settings, group_roles=(("Everyone", "auditor"), ("Register IT", "it"))
    )
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
            assert (await sign_in(c, "alice")).status_code == 303
    finally:
        app.state.settings = settings
    assert (await User.select(User.role).where(User.id == user["id"]).first())["role"] == "auditor"
    changes = await (
        AuditEvent.select(AuditEvent.actor, AuditEvent.changes)
        .where((AuditEvent.action == "user.update") & (AuditEvent.object_id == str(user["id"])))
        .order_by(AuditEvent.seq)
    )
    assert [c["actor"] for c in changes] == ["identity provider", "identity provider"]
    assert '"hr"' in str(changes[0]["changes"]).replace("'", '"')
    assert '"auditor"' in str(changes[1]["changes"]).replace("'", '"')
    linked = await AuditEvent.count().where(AuditEvent.action == "user.link_identity")
    assert linked == 1


async def test_a_deactivated_user_is_refused(browser: httpx.AsyncClient) -> None:
    """Once deactivated in the register, the provider's word does not let them in."""
    assert (await sign_in(browser, "alice")).status_code == 303
    user = await User.select().where(User.email == "alice@example.com").first()
    await update_user(
        actor=Actor.system("test"),
        user_id=user["id"],
        version=user["version"],
        changes={"active": False},
    )
    browser.cookies.clear()
    resp = await sign_in(browser, "alice")
    assert resp.status_code == 403
    assert "deactivated" in resp.text
    assert "inactive" in str((await refusals())[-1]["changes"])


@pytest.mark.parametrize(
    ("email", "verified", "linked"),
    [
        ("ada@example.com", True, True),
        ("ada@example.com", False, False),
        # Without the claim, only the company's own domains (REGISTER_WORK_EMAIL_DOMAINS) link.
        ("ada@example.com", None, True),
        ("ada@elsewhere.test", None, False),
    ],
)
async def test_an_existing_user_is_linked_only_when_the_provider_vouches_for_the_email(
    app: Any, settings: Settings, email: str, verified: bool | None, linked: bool
) -> None:
    """A password user with the same e-mail becomes the provider's person only on its word."""
    await create_user(actor=Actor.system("test"), email=email, role=Role.hr, password="x" * 12)
    claims: dict[str, Any] = {"iss": settings.oidc_issuer, "sub": "ada-1", "email": email}
    claims |= {"groups": ["Register IT"]} | (
        {} if verified is None else {"email_verified": verified}
    )
    if linked:
        await oidc.sign_in_identity(
            settings=settings, actor=Actor.anonymous(), claims=claims, id_token="t"
        )
        row = await User.select().where(User.email == email).first()
        assert (row["oidc_subject"], row["role"]) == ("ada-1", "it")
    else:
        with pytest.raises(PermissionDenied, match="not confirmed that the address is yours"):
            await oidc.sign_in_identity(
                settings=settings, actor=Actor.anonymous(), claims=claims, id_token="t"
            )
        row = await User.select().where(User.email == email).first()
        assert (row["oidc_subject"], row["role"]) == (None, "hr")
        assert "e-mail not verified" in str((await refusals())[0]["changes"])


async def test_sign_out_ends_the_session_and_goes_to_the_providers_end_session(
    browser: httpx.AsyncClient, peer: Peer
) -> None:
    """Sign-out ends the register's session, then sends the browser to end the provider's."""
    assert (await sign_in(browser, "alice")).status_code == 303
    resp = await browser.post("/sign-out", data={"csrf_token": browser.cookies["register_csrf"]})
    assert resp.status_code == 303
    target = urlsplit(resp.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == peer.issuer + "/session/end"
    query = parse_qs(target.query)
    assert query["post_logout_redirect_uri"] == [BASE + "/sign-in"]
    assert query["id_token_hint"][0].count(".") == 2
    [session] = await UserSession.select(UserSession.ended_at, UserSession.id_token)
    assert session["ended_at"] is not None and session["id_token"] == query["id_token_hint"][0]
    assert (await browser.get("/")).headers["location"].startswith("/sign-in")
