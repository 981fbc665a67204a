"""Fixtures for policies and training: people in two departments, users for them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from register.actor import Actor
from register.enums import Role
from register.staff.services import create_employee
from tests.conftest import UserFactory


@pytest.fixture
async def staff(app: Any) -> dict[str, int]:
    """Employees: two in Sales, one in Marketing, one leaving in Sales, one who left."""
    actor = Actor.system("test")
    today = dt.date.today()
    made = {}
    for key, department, leaving in (
        ("sam", "Sales", None),
        ("sue", "Sales", None),
        ("mia", "Marketing", None),
        ("lea", "Sales", today + dt.timedelta(days=10)),
        ("old", "Sales", today - dt.timedelta(days=10)),
    ):
        row = await create_employee(
            actor=actor,
            data={
                "name": f"{key.title()} Person",
                "work_email": f"{key}@example.com",
                "department": department,
                "leaving_date": leaving,
            },
        )
        made[key] = row["id"]
    return made


@pytest.fixture
async def owner(user_factory: UserFactory) -> tuple[dict[str, Any], Any]:
    """A comms user who owns policies (may edit and publish their own)."""
    return await user_factory(Role.comms)


def policy_body(owner_id: int, **overrides: Any) -> dict[str, Any]:
    """A valid new policy for the API."""
    today = dt.date.today()
    body = {
        "title": "Using social media for the job",
        "kind": "job_use",
        "owner_id": owner_id,
        "body": "# Job use\n\nUse the company's accounts.",
        "effective_on": today.isoformat(),
        "review_by": (today + dt.timedelta(days=150)).isoformat(),
    }
    body.update(overrides)
    return body
