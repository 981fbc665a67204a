"""SCIM fixtures: settings mapping two groups to roles, a SCIM token, a client that sends it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from register.actor import Actor
from register.scim.services import create_token
from register.settings import Settings
from tests.cli import free_port, serve_until_up, stop_server

GROUP_ROLES = (("Register IT", "it"), ("Register HR", "hr"))
SCIM_JSON = "application/scim+json"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, with REGISTER_GROUP_ROLES="Register IT=it,Register HR=hr"."""
    return dataclasses.replace(settings, group_roles=GROUP_ROLES)


@pytest.fixture
async def scim_token(app: Any) -> str:
    """A SCIM token, as `register scim token create` makes it."""
    _, token = await create_token(actor=Actor.system("test"), name="test provider")
    return token


@pytest.fixture
async def scim(app: Any, scim_token: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client that is the identity provider, in-process."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver/scim/v2",
        headers={"Authorization": f"Bearer {scim_token}", "Content-Type": SCIM_JSON},
    ) as c:
        yield c


@pytest.fixture
async def live(app: Any, settings: Settings) -> AsyncIterator[str]:
    """`register serve` on a free loopback port, on this test's database; its base URL."""
    port = free_port()
    proc, _ = await serve_until_up(
        settings,
        port,
        REGISTER_ALLOWED_HOSTS="127.0.0.1",
        REGISTER_WORKER_IN_PROCESS="false",
        REGISTER_GROUP_ROLES=",".join(f"{group}={role}" for group, role in GROUP_ROLES),
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop_server(proc)


def scim_error(resp: httpx.Response, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """Assert SCIM's error document (RFC 7644 section 3.12) and return it."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(SCIM_JSON), resp.headers["content-type"]
    body = resp.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"], body
    assert body["status"] == str(status), body
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body
