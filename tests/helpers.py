"""Helpers shared by the suites: problem assertions, request bodies, a subscription, page clients."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from register.actor import Actor
from register.enums import Role
from register.notifications.enums import EventType
from register.notifications.services import create_subscription
from register.settings import Settings

PROBLEM = "application/problem+json"
# The password of the users page tests sign in with.
PAGE_PASSWORD = "a phrase of my own"


def assert_problem(
    resp: httpx.Response, status: int, kind: str | None = None, field: str | None = None
) -> dict[str, Any]:
    """The response is a problem document with this status (and type suffix and field)."""
    assert resp.status_code == status, f"{resp.status_code} != {status}: {resp.text}"
    assert resp.headers["content-type"].startswith(PROBLEM), resp.headers["content-type"]
    body = resp.json()
    assert body["status"] == status
    if kind is not None:
        assert body["type"].endswith("/" + kind), body["type"]
    if field is not None:
        fields = {body.get("field")} | {e.get("field") for e in body.get("errors") or []}
        assert field in fields, f"{field!r} not named in {body}"
    assert "Traceback" not in resp.text and "SELECT" not in resp.text
    return body


def employee_body(n: int | str = 1, **overrides: Any) -> dict[str, Any]:
    """A valid employee creation body."""
    body = {
        "name": f"Person {n}",
        "work_email": f"person{n}@example.com",
        "department": "Communications",
        "job_title": "Officer",
        "start_date": "2022-01-10",
    }
    body.update(overrides)
    return body


async def subscribe(
    app: Any,
    settings: Settings,
    url: str,
    *,
    fmt: str = "json",
    events: list[str] | None = None,
    roles: list[str] | None = None,
) -> tuple[int, str]:
    """Create a subscription through the service; (id, signing secret)."""
    sub, secret = await create_subscription(
        actor=Actor.system("test"),
        keyring=app.state.keyring.get(),
        settings=settings,
        data={
            "name": f"receiver {url}",
            "url": url,
            "format": fmt,
            "event_types": events or [EventType.incident_filed.value],
            "roles": roles or [],
        },
    )
    return sub["id"], secret


async def page_client(
    app: Any, role: Role, employee_id: int | None = None, *, name: str = ""
) -> httpx.AsyncClient:
    """A browser-like client signed in through the sign-in page as a new user of this role."""
    from register.services import create_user

    email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
    await create_user(
        actor=Actor.system("test"),
        email=email,
        name=name or email,
        role=role,
        password=PAGE_PASSWORD,
        must_change_password=False,
        employee_id=employee_id,
    )
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    signed = await c.post("/sign-in", data={"email": email, "password": PAGE_PASSWORD})
    assert signed.status_code == 303, signed.text
    return c


def form(c: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """A form's fields with the session's CSRF token, as the pages' forms send them."""
    return {"csrf_token": c.cookies["register_csrf"], **fields}
