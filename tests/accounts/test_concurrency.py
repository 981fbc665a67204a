"""Two people acting on the same thing at once: one succeeds, the other gets a clean 409."""

from __future__ import annotations

import asyncio

from register.enums import Role


async def test_concurrent_accepts_one_wins(it, people, make_account, user_factory, admin):
    acct = await make_account()
    transfer = (
        await it.post(
            f"/api/v1/accounts/{acct['id']}/transfers", json={"to_employee_id": people["eve"]}
        )
    ).json()
    _, eve = await user_factory(Role.comms, employee_id=people["eve"])
    url = f"/api/v1/accounts/{acct['id']}/transfers/{transfer['id']}"
    results = await asyncio.gather(
        *(eve.post(f"{url}/{'accept' if n % 2 else 'decline'}", json={}) for n in range(20))
    )
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) == 1 and codes.count(409) == 19, codes
    events = (
        await admin.get(
            f"/api/v1/audit/events?object_type=custody_transfer&object_id={transfer['id']}"
        )
    ).json()["items"]
    assert len(events) == 1


async def test_concurrent_revokes_one_wins(it, people, make_account, admin):
    acct = await make_account()
    grant = (
        await it.post(
            f"/api/v1/accounts/{acct['id']}/grants",
            json={"employee_id": people["eve"], "level": "viewer"},
        )
    ).json()
    results = await asyncio.gather(
        *(
            it.post(
                f"/api/v1/accounts/{acct['id']}/grants/{grant['id']}/revoke",
                json={"reason": str(n)},
            )
            for n in range(10)
        )
    )
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) == 1 and codes.count(409) == 9, [
        (r.status_code, r.text[:200]) for r in results
    ]
    events = (
        await admin.get(f"/api/v1/audit/events?action=grant.revoke&object_id={grant['id']}")
    ).json()["items"]
    assert len(events) == 1
