"""Fixtures for the accounts suites: people to hold accounts, and an IT client."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from register.actor import Actor
from register.enums import Role
from register.staff.services import create_employee


@pytest.fixture
async def people(app: Any) -> dict[str, int]:
    """A few employees: two active, one leaving, one who left."""
    actor = Actor.system("test")
    today = dt.date.today()
    made = {}
    for key, name, leaving in (
        ("ana", "Ana Silva", None),
        ("ben", "Ben Okoro", None),
        ("cy", "Cy Leaving", today + dt.timedelta(days=10)),
        ("dee", "Dee Gone", today - dt.timedelta(days=10)),
        ("eve", "Eve Active", None),
    ):
        row = await create_employee(
            actor=actor,
            data={
                "name": name,
                "work_email": f"{key}@example.com",
                "department": "Communications",
                "start_date": today - dt.timedelta(days=900),
                "leaving_date": leaving,
            },
        )
        made[key] = row["id"]
    return made


@pytest.fixture
async def it(user_factory: Any) -> Any:
    """A client signed in as IT."""
    return (await user_factory(Role.it))[1]


@pytest.fixture
async def make_account(it: Any, people: dict[str, int]) -> Any:
    """make(**fields) -> created account JSON (custodian ana, backup ben by default)."""
    counter = {"n": 0}

    async def make(**fields: Any) -> dict[str, Any]:
        counter["n"] += 1
        body = {
            "platform": "x",
            "handle": f"acct{counter['n']}",
            "custodian_id": people["ana"],
            "backup_custodian_id": people["ben"],
            "mfa_method": "authenticator_app",
            "recovery_email": "social@example.com",
        }
        body.update(fields)
        resp = await it.post("/api/v1/accounts", json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()

    return make
