"""The provider's signing keys: fetched once, fetched again when a token names a new one."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from register import oidc
from register.settings import Settings
from register.tables import AuditEvent, UserSession
from tests.cli import free_port
from tests.peers.oidc_peer import (
    CLIENT_ID,
    CLIENT_SECRET,
    GROUP_ROLES,
    SCOPES,
    log_in_at_provider,
    running_peer,
)

BASE = "http://testserver"
CALLBACK = BASE + "/sign-in/company/callback"


def signing_key(kid: str) -> dict[str, Any]:
    """A fresh RSA signing key as a private JWK."""
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    return key.as_dict(private=True)


@pytest.fixture
def port() -> int:
    """The provider's port, kept across its restarts so its issuer stays the same."""
    return free_port()


@pytest.fixture
def settings(settings: Settings, port: int, tmp_path: Path) -> Settings:
    """Company sign-in pointed at the provider the test starts and restarts."""
    secret = tmp_path / "oidc-client-secret"
    secret.write_text(CLIENT_SECRET)
    oidc._providers.clear()
    return dataclasses.replace(
        settings,
        oidc_issuer=f"http://127.0.0.1:{port}",
        oidc_client_id=CLIENT_ID,
        oidc_client_secret_file=secret,
        oidc_scopes=SCOPES,
        group_roles=GROUP_ROLES,
    )


async def signs_in(app: Any) -> int:
    """Alice's whole company sign-in in a new browser; the register's status code."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        authorize = (await c.get("/sign-in/company")).headers["location"]
        callback = await log_in_at_provider(authorize, "alice", CALLBACK)
        return (await c.get(callback.removeprefix(BASE))).status_code


@pytest.fixture
async def restart(port: int) -> AsyncIterator[Any]:
    """restart(keys): the provider, stopped if running, started again with these signing keys."""
    stack: list[Any] = []

    async def start(keys: list[dict[str, Any]]) -> None:
        if stack:
            await stack.pop().__aexit__(None, None, None)
        running = running_peer([CALLBACK], [BASE + "/sign-in"], port=port, keys=keys)
        await running.__aenter__()
        stack.append(running)

    yield start
    if stack:
        await stack.pop().__aexit__(None, None, None)


async def test_a_rotated_key_is_fetched_and_unknown_ones_not_too_often(
    app: Any, restart: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a rotation the new key is fetched; within the floor a second unknown key is not."""
    await restart([signing_key("first")])
    assert await signs_in(app) == 303
    # The provider rotates: tokens are signed with a key the register has not seen.
    await restart([signing_key("second")])
    assert await signs_in(app) == 303
    assert await UserSession.count() == 2
    # Another unknown key at once: the register does not fetch again within the floor.
    monkeypatch.setattr(oidc, "JWKS_REFETCH_FLOOR_SECONDS", 10**9)
    await restart([signing_key("third")])
    assert await signs_in(app) == 401
    refusal = await AuditEvent.select(AuditEvent.changes).where(
        AuditEvent.action == "auth.oidc_refused"
    )
    assert "ID token refused: InvalidKeyIdError" in str(refusal[0]["changes"]), refusal
    # Each server keeps its own copy of the key set: it is read again once it is an hour old,
    # whatever the floor says, so a key the provider withdrew is trusted no longer than that.
    monkeypatch.setattr(oidc, "METADATA_SECONDS", 0)
    assert await signs_in(app) == 303
