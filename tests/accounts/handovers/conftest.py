"""Fixtures of the handover suites: a leaver who approves accounts' posts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from register.enums import Role


@dataclass
class Approvals:
    """Cy (leaving) approves three accounts' posts and has a post waiting; Eve's waits on Cy."""

    cy: int
    cy_user: dict[str, Any]
    ben_user: dict[str, Any]
    ana_user: dict[str, Any]
    only: dict[str, Any]  # needs approval, Cy its only approver: the blocker
    shared: dict[str, Any]  # needs approval, Ana approves too
    free: dict[str, Any]  # needs no approval, Cy its only approver
    mine: int  # Cy's post request on `only`
    theirs: int  # Eve's post request on `shared`, waiting on Cy (and Ana)


async def _approvers(it: httpx.AsyncClient, account_id: int, needs: bool, ids: list[int]) -> None:
    resp = await it.put(
        f"/api/v1/accounts/{account_id}/post-approval",
        json={"requires_approval": needs, "approver_ids": ids, "version": 0},
    )
    assert resp.status_code == 200, resp.text


async def _grant(it: httpx.AsyncClient, account_id: int, employee_id: int) -> None:
    resp = await it.post(
        f"/api/v1/accounts/{account_id}/grants",
        json={"employee_id": employee_id, "level": "editor"},
    )
    assert resp.status_code == 201, resp.text


@pytest.fixture
async def approvals(
    people: dict[str, int], make_account: Any, it: httpx.AsyncClient, user_factory: Any
) -> Approvals:
    """Accounts @only, @shared and @free with Cy among their approvers, and two open posts."""
    cy_user, cy_c = await user_factory(
        Role.comms, email="cy-user@example.com", employee_id=people["cy"], name="Cy Leaving"
    )
    ana_user, _ = await user_factory(
        Role.comms, email="ana-user@example.com", employee_id=people["ana"], name="Ana Silva"
    )
    ben_user, _ = await user_factory(
        Role.it, email="ben-user@example.com", employee_id=people["ben"], name="Ben Okoro"
    )
    _, eve_c = await user_factory(
        Role.staff, email="eve-user@example.com", employee_id=people["eve"], name="Eve Active"
    )
    only = await make_account(handle="only")
    shared = await make_account(handle="shared")
    free = await make_account(handle="free")
    await _approvers(it, only["id"], True, [cy_user["id"]])
    await _approvers(it, shared["id"], True, [cy_user["id"], ana_user["id"]])
    await _approvers(it, free["id"], False, [cy_user["id"]])
    await _grant(it, only["id"], people["cy"])
    await _grant(it, shared["id"], people["eve"])
    mine = await cy_c.post(
        "/api/v1/post-requests", json={"account_id": only["id"], "text": "Cy's farewell post"}
    )
    assert mine.status_code == 201, mine.text
    theirs = await eve_c.post(
        "/api/v1/post-requests", json={"account_id": shared["id"], "text": "Eve's launch post"}
    )
    assert theirs.status_code == 201, theirs.text
    return Approvals(
        people["cy"],
        cy_user,
        ben_user,
        ana_user,
        only,
        shared,
        free,
        mine.json()["id"],
        theirs.json()["id"],
    )
