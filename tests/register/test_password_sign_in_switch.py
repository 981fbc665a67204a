"""Passwords turned off except for the break-glass administrators."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest

from register.actor import Actor
from register.enums import Role
from register.services import create_user
from register.settings import Settings
from register.tables import AuditEvent

PASSWORD = "a phrase of my own"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Passwords off but for root@example.com; the provider named (it is not reached here)."""
    return dataclasses.replace(
        settings,
        oidc_issuer="https://login.example.com",
        oidc_client_id="register",
        oidc_button_label="Example",
        password_sign_in="break-glass",
        break_glass_emails=("root@example.com",),
    )


async def test_passwords_work_only_for_break_glass_admins(app: Any) -> None:
    """The API and the form refuse everyone's password but the break-glass admin's."""
    for email, role in (("root@example.com", Role.admin), ("ada@example.com", Role.it)):
        await create_user(
            actor=Actor.system("test"),
            email=email,
            role=role,
            password=PASSWORD,
            must_change_password=False,
        )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        refused = await c.post(
            "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert refused.status_code == 401
        assert "passwords are off" in refused.json()["detail"]
        form = await c.post("/sign-in", data={"email": "ada@example.com", "password": PASSWORD})
        assert form.status_code == 401
        assert "Passwords are turned off here" in form.text
        page = await c.get("/sign-in")
        assert "Sign in with Example" in page.text
        assert 'name="password"' not in page.text
        assert "/sign-in?break-glass=1" in page.text
        glass = await c.get("/sign-in", params={"break-glass": "1"})
        assert 'name="password"' in glass.text
        ok = await c.post("/sign-in", data={"email": "root@example.com", "password": PASSWORD})
        assert ok.status_code == 303 and ok.headers["location"] == "/"
    failures = await AuditEvent.select(AuditEvent.object_id, AuditEvent.changes).where(
        AuditEvent.action == "auth.login_failed"
    )
    assert {f["object_id"] for f in failures} == {"ada@example.com"}
    assert all("passwords are off" in str(f["changes"]) for f in failures)


async def test_the_pages_csp_lets_the_sign_out_reach_the_provider(app: Any) -> None:
    """Forms may lead to the provider's origin (its end-session page), and nowhere else."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        csp = (await c.get("/sign-in")).headers["content-security-policy"]
    assert "form-action 'self' https://login.example.com;" in csp
    assert "script-src 'self';" in csp


@pytest.mark.parametrize(
    "environ",
    [
        {"REGISTER_OIDC_ISSUER": "https://login.example.com"},
        {"REGISTER_OIDC_ISSUER": "login.example.com", "REGISTER_OIDC_CLIENT_ID": "r"},
        {"REGISTER_PASSWORD_SIGN_IN": "off"},
        {"REGISTER_PASSWORD_SIGN_IN": "break-glass", "REGISTER_BREAK_GLASS_EMAILS": "a@b.c"},
    ],
)
def test_settings_that_would_lock_everyone_out_stop_the_start(
    environ: dict[str, str], tmp_path: Any
) -> None:
    """An issuer without a client, a wrong mode, break-glass without a provider: refused at start."""
    with pytest.raises(SystemExit):
        Settings.from_env(environ, dotenv=tmp_path / "none.env")


def test_company_sign_in_settings_are_read(tmp_path: Any) -> None:
    """The settings as README names them."""
    settings = Settings.from_env(
        {
            "REGISTER_OIDC_ISSUER": "https://login.example.com/tenant/v2.0",
            "REGISTER_OIDC_CLIENT_ID": "register",
            "REGISTER_OIDC_CLIENT_SECRET_FILE": "/secrets/oidc",
            "REGISTER_OIDC_GROUPS_CLAIM": "roles",
            "REGISTER_PASSWORD_SIGN_IN": "break-glass",
            "REGISTER_BREAK_GLASS_EMAILS": "Root@Example.com, ops@example.com",
        },
        dotenv=tmp_path / "none.env",
    )
    assert settings.oidc_enabled and settings.oidc_scopes == "openid email profile"
    assert settings.oidc_groups_claim == "roles"
    assert str(settings.oidc_client_secret_file) == "/secrets/oidc"
    assert settings.break_glass_emails == ("root@example.com", "ops@example.com")
    assert settings.password_allowed("ROOT@example.com")
    assert not settings.password_allowed("ada@example.com")
    assert not Settings.from_env({}, dotenv=tmp_path / "none.env").oidc_enabled
