"""The handover services HR's pages stand on: people leaving without a handover, counts by state,
overdue items by team, the on-time record per month, the department filter, and stale item forms."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from accounts.handovers import flows, services
from register.actor import Actor
from register.enums import Role
from register.errors import StaleVersion
from register.settings import Settings
from register.staff.services import create_employee

TODAY = dt.date.today()
SYSTEM = Actor.system("test")


async def employee(name: str, department: str, leaving: dt.date | None) -> int:
    row = await create_employee(
        actor=SYSTEM,
        data={
            "name": name,
            "work_email": f"{name.split()[0].lower()}@example.com",
            "department": department,
            "start_date": TODAY - dt.timedelta(days=900),
            "leaving_date": leaving,
        },
    )
    return int(row["id"])


async def start(settings: Settings, leaver: int, successor: int, **kw: Any) -> dict[str, Any]:
    return await flows.start_handover(
        actor=SYSTEM, settings=settings, employee_id=leaver, successor_id=successor, **kw
    )


async def test_leavers_without_a_handover_and_counts(
    app: Any, people: dict[str, int], settings: Settings
) -> None:
    """Within 30 days only, a cancelled handover counts as none; overdue items per team."""
    later = await employee("Lou Later", "Sales", TODAY + dt.timedelta(days=45))
    soon = await employee("Sue Soon", "Sales", TODAY + dt.timedelta(days=2))
    names = [p["name"] for p in await services.leavers_without_handover(within_days=30)]
    assert names == ["Sue Soon", "Cy Leaving"] and later
    await services.create_template(
        actor=SYSTEM,
        data={
            "department": "Communications",
            "title": "Old laptop",
            "owner_role": "it",
            "day_offset": -30,
        },
    )
    cy = await start(settings, people["cy"], people["eve"], open_now=True)
    sue = await start(settings, soon, people["eve"])
    assert [p["name"] for p in await services.leavers_without_handover()] == []
    await flows.cancel_handover(
        actor=SYSTEM,
        handover_id=sue["id"],
        version=sue["version"],
        reason="stays",
        person_stays=False,
    )
    assert [p["name"] for p in await services.leavers_without_handover()] == ["Sue Soon"]
    counts = await services.count_by_state()
    assert counts["open"] == 1 and counts["cancelled"] == 1 and counts["draft"] == 0
    assert await services.overdue_by_team() == {"hr": 0, "it": 1}
    sales, _ = await services.list_handovers(limit=10, offset=0, department="Sales")
    comms, _ = await services.list_handovers(limit=10, offset=0, department="Communications")
    assert [h["id"] for h in sales] == [sue["id"]] and [h["id"] for h in comms] == [cy["id"]]
    nobody, _ = await services.list_handovers(limit=10, offset=0, department="Legal")
    assert nobody == []


async def test_completion_by_month_counts_on_time_late_and_open(
    app: Any, people: dict[str, int], settings: Settings, secrets: Any
) -> None:
    """One completed on its leaving date, one after it, one not yet: each in its month."""

    async def finish(leaver: int, leaving: dt.date) -> None:
        h = await start(settings, leaver, people["eve"], leaving_date=leaving, open_now=True)
        for n, team in enumerate(("hr", "it")):
            signer = Actor(user_id=880000 + n, email=f"{team}@example.com", role=Role(team))
            await flows.sign_off(
                actor=signer, signing_key=secrets.signing_key, handover_id=h["id"], team=team
            )

    await finish(await employee("Ona Time", "Sales", TODAY), TODAY)
    late = TODAY - dt.timedelta(days=70)
    await finish(await employee("Lia Late", "Sales", late), late)
    await start(settings, await employee("Opa Open", "Sales", TODAY), people["eve"])
    months = {m["month"]: m for m in await services.completion_by_month(months=12)}
    assert len(months) == 12 and max(months) == TODAY.replace(day=1)
    now = months[TODAY.replace(day=1)]
    assert (now["on_time"], now["not_completed"], now["total"]) == (1, 1, 2)
    before = months[late.replace(day=1)]
    assert (before["late"], before["total"]) == (1, 1)


async def test_a_stale_version_refuses_completing_and_waiving(
    app: Any, people: dict[str, int], settings: Settings
) -> None:
    """A form that showed an older version of the item is refused; the current one goes through."""
    await services.create_template(
        actor=SYSTEM, data={"department": "Communications", "title": "Badge", "owner_role": "hr"}
    )
    h = await start(settings, people["cy"], people["eve"], open_now=True)
    (item,) = [i for i in h["items"] if i["title"] == "Badge"]
    await flows.reassign_item(
        actor=SYSTEM, handover_id=h["id"], item_id=item["id"], version=1, assignee_id=people["ana"]
    )
    with pytest.raises(StaleVersion):
        await flows.complete_item(
            actor=SYSTEM, handover_id=h["id"], item_id=item["id"], note="x", version=1
        )
    with pytest.raises(StaleVersion):
        await flows.waive_item(
            actor=SYSTEM,
            settings=settings,
            handover_id=h["id"],
            item_id=item["id"],
            reason="x",
            version=1,
        )
    done = await flows.complete_item(
        actor=SYSTEM, handover_id=h["id"], item_id=item["id"], note="x", version=2
    )
    assert done["state"] == "done"
