"""Fixtures for the incidents suites: people, comms/IT/HR/legal clients, an account, a webhook subscription."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from register.actor import Actor
from register.db import fetch
from register.enums import Role
from register.settings import Settings
from register.staff.services import create_employee
from tests.helpers import subscribe


@pytest.fixture
async def people(app: Any) -> dict[str, int]:
    """Employees: a custodian, a backup, a poster."""
    actor = Actor.system("test")
    made = {}
    for key, name in (("ana", "Ana Silva"), ("ben", "Ben Okoro"), ("cy", "Cy Poster")):
        row = await create_employee(
            actor=actor,
            data={
                "name": name,
                "work_email": f"{key}@example.com",
                "department": "Communications",
                "start_date": dt.date.today() - dt.timedelta(days=900),
            },
        )
        made[key] = row["id"]
    return made


@pytest.fixture
async def comms_user(user_factory: Any) -> tuple[dict[str, Any], httpx.AsyncClient]:
    """A comms user and its client."""
    return await user_factory(Role.comms)


@pytest.fixture
async def comms(comms_user: Any) -> httpx.AsyncClient:
    """A client signed in as comms."""
    return comms_user[1]


@pytest.fixture
async def it_user(user_factory: Any) -> tuple[dict[str, Any], httpx.AsyncClient]:
    """An IT user and its client."""
    return await user_factory(Role.it)


@pytest.fixture
async def it(it_user: Any) -> httpx.AsyncClient:
    """A client signed in as IT."""
    return it_user[1]


@pytest.fixture
async def hr_user(user_factory: Any) -> tuple[dict[str, Any], httpx.AsyncClient]:
    """An HR user and its client."""
    return await user_factory(Role.hr)


@pytest.fixture
async def legal_user(user_factory: Any) -> tuple[dict[str, Any], httpx.AsyncClient]:
    """Legal counsel and its client."""
    return await user_factory(Role.legal)


@pytest.fixture
async def auditor(user_factory: Any) -> httpx.AsyncClient:
    """A client signed in as an auditor."""
    return (await user_factory(Role.auditor))[1]


@pytest.fixture
async def account(it: httpx.AsyncClient, people: dict[str, int]) -> dict[str, Any]:
    """A registered X account held by Ana (backup Ben)."""
    resp = await it.post(
        "/api/v1/accounts",
        json={
            "platform": "x",
            "handle": "@northwind",
            "custodian_id": people["ana"],
            "backup_custodian_id": people["ben"],
            "mfa_method": "authenticator_app",
        },
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.fixture
async def subscription(app: Any, settings: Settings) -> int:
    """A webhook subscription to every incident event, so published events land in the outbox."""
    sub_id, _ = await subscribe(
        app,
        settings,
        "http://127.0.0.1:9/hook",
        events=["incident.filed", "incident.escalated", "incident.past_sla", "incident.closed"],
    )
    return sub_id


async def events(event_type: str | None = None) -> list[dict[str, Any]]:
    """The events queued in the outbox, oldest first."""
    rows = await fetch('SELECT "event_type", "event" FROM "outbox_message" ORDER BY "id"')
    out = []
    for r in rows:
        body = json.loads(r["event"]) if isinstance(r["event"], str) else r["event"]
        if event_type is None or r["event_type"] == event_type:
            out.append(body)
    return out


async def file(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """File an incident through the API and return it."""
    body = {"title": "Something went wrong", "category": "erroneous_post", "severity": "SEV3"}
    body.update(fields)
    resp = await client.post("/api/v1/incidents", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def tasks(client: httpx.AsyncClient, incident_id: int) -> dict[str, dict[str, Any]]:
    """An incident's tasks by step key."""
    resp = await client.get(f"/api/v1/incidents/{incident_id}/tasks")
    assert resp.status_code == 200, resp.text
    return {t["step_key"]: t for t in resp.json()}


async def complete(
    client: httpx.AsyncClient, incident_id: int, task: dict[str, Any], note: str = "done"
) -> httpx.Response:
    """Complete a task."""
    return await client.post(
        f"/api/v1/incidents/{incident_id}/tasks/{task['id']}/complete", json={"note": note}
    )


async def move(client: httpx.AsyncClient, incident_id: int, status: str) -> httpx.Response:
    """Move an incident to a status with the version just read."""
    current = (await client.get(f"/api/v1/incidents/{incident_id}")).json()
    return await client.post(
        f"/api/v1/incidents/{incident_id}/status",
        json={"status": status, "version": current["version"]},
    )
