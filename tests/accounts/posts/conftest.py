"""Fixtures of post approval: an account that needs approval, a grant holder, two approvers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from register.enums import Role

# Who submits: a member of staff with a grant on the account (any role but auditor may).
SUBMITTER_ROLE = Role.staff


@dataclass
class World:
    """The people and the account of a post approval test."""

    account: dict[str, Any]
    submitter: dict[str, Any]
    submitter_c: httpx.AsyncClient
    approver: dict[str, Any]
    approver_c: httpx.AsyncClient
    second: dict[str, Any]
    second_c: httpx.AsyncClient
    outsider_c: httpx.AsyncClient
    it_c: httpx.AsyncClient


@pytest.fixture
async def world(
    user_factory: Any, make_account: Any, people: dict[str, int], it: httpx.AsyncClient
) -> World:
    """Account @acct1 needs approval; Eve holds a grant and submits; Ana and Ben approve."""
    account = await make_account()
    grant = await it.post(
        f"/api/v1/accounts/{account['id']}/grants",
        json={"employee_id": people["eve"], "level": "editor"},
    )
    assert grant.status_code == 201, grant.text
    submitter, submitter_c = await user_factory(
        SUBMITTER_ROLE, email="eve@example.com", employee_id=people["eve"], name="Eve Active"
    )
    approver, approver_c = await user_factory(
        Role.comms, email="ana@example.com", employee_id=people["ana"], name="Ana Silva"
    )
    second, second_c = await user_factory(
        Role.it, email="ben@example.com", employee_id=people["ben"], name="Ben Okoro"
    )
    _, outsider_c = await user_factory(Role.hr)
    setting = await it.put(
        f"/api/v1/accounts/{account['id']}/post-approval",
        json={
            "requires_approval": True,
            "approver_ids": [approver["id"], second["id"], submitter["id"]],
            "version": 0,
        },
    )
    assert setting.status_code == 200, setting.text
    return World(
        account, submitter, submitter_c, approver, approver_c, second, second_c, outsider_c, it
    )
