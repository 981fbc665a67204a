"""The services behind the incident pages: the board's clocks, legal counsel's queue, trends by month."""

from __future__ import annotations

import datetime as dt
from typing import Any

from incidents import flows, services
from incidents.enums import TaskState
from register.actor import Actor

SYSTEM = Actor.system("test")
AT = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


async def filed(at: dt.datetime, **data: Any) -> dict[str, Any]:
    """An incident filed through the service at a given time."""
    body = {"title": "Something went wrong", "category": "erroneous_post", "severity": "SEV3"}
    return await services.file_incident(actor=SYSTEM, data={**body, **data}, at=at)


async def test_the_board_runs_each_clock_from_the_severity(app: Any) -> None:
    """Worst severity first; an unacknowledged SEV1 is late after 15 min, its status update due
    an hour after filing; a SEV4 waits; closed incidents leave the board."""
    sev4 = await filed(AT - dt.timedelta(minutes=50), severity="SEV4")
    sev1 = await filed(AT - dt.timedelta(minutes=40), severity="SEV1")
    board = await services.board(at=AT)
    assert [i["id"] for i in board] == [sev1["id"], sev4["id"]]
    first = board[0]
    assert first["acknowledge"] == {
        "due_at": AT - dt.timedelta(minutes=25),
        "limit_minutes": 15,
        "done": False,
        "took_minutes": None,
        "late": True,
        "minutes_left": -25,
    }
    assert first["next_update"]["minutes_left"] == 20 and not first["next_update"]["late"]
    assert first["tasks_past_due"] >= 1
    assert board[1]["acknowledge"]["minutes_left"] == 24 * 60 - 50
    assert board[1]["tasks_past_due"] == 0
    await flows.acknowledge(actor=SYSTEM, incident_id=sev1["id"], at=AT - dt.timedelta(minutes=30))
    acked = (await services.board(at=AT))[0]["acknowledge"]
    assert acked["done"] and acked["took_minutes"] == 10 and not acked["late"]


async def test_legal_queue_says_what_each_legal_step_waits_for(app: Any) -> None:
    """A press inquiry's legal check waits for the inquiry to be logged; the holding statement
    for the legal check; once signed, a step leaves the queue."""
    incident = await filed(AT, category="press_inquiry", severity="SEV2")
    queue = await services.legal_queue()
    steps = {s["title"]: s for s in queue[0]["steps"]}
    assert queue[0]["reference"] == incident["reference"]
    check, statement = (
        steps["Legal check of the inquiry"],
        steps["Holding statement approved before release"],
    )
    assert check["waiting_for"] == ["Log the inquiry"]
    assert statement["waiting_for"] == ["Legal check of the inquiry"]
    tasks = {t["step_key"]: t for t in await services.list_tasks(incident_id=incident["id"])}
    for key in ("acknowledge", "log_inquiry", "legal_check"):
        await services.finish_task(
            actor=SYSTEM,
            incident_id=incident["id"],
            task_id=tasks[key]["id"],
            state=TaskState.done,
            note="done",
        )
    left = (await services.legal_queue())[0]["steps"]
    assert [s["id"] for s in left] == [statement["id"]] and left[0]["waiting_for"] == []


async def test_trends_count_by_month_and_the_clocks_missed(app: Any) -> None:
    """Per month: filed by category, median minutes to acknowledge, acknowledgements missed."""
    january = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)
    slow = await filed(january, severity="SEV1", category="impersonation")
    await flows.acknowledge(
        actor=SYSTEM, incident_id=slow["id"], at=january + dt.timedelta(minutes=45)
    )
    quick = await filed(AT - dt.timedelta(hours=2), severity="SEV1", category="impersonation")
    await flows.acknowledge(
        actor=SYSTEM,
        incident_id=quick["id"],
        at=AT - dt.timedelta(hours=2) + dt.timedelta(minutes=5),
    )
    await filed(AT - dt.timedelta(hours=1), category="harassment")
    got = await services.trends(months=3, at=AT)
    assert got["months"] == ["2026-01", "2026-02", "2026-03"]
    assert got["filed"] == {"2026-01": 1, "2026-02": 0, "2026-03": 2}
    assert got["by_category"]["2026-03"]["impersonation"] == 1
    assert got["by_category"]["2026-03"]["harassment"] == 1
    assert got["acknowledge"]["SEV1"] == {"2026-01": 45.0, "2026-02": None, "2026-03": 5.0}
    assert got["missed"]["2026-01"]["acknowledge"] == 1
    assert got["missed"]["2026-03"]["acknowledge"] == 0
    # January's SEV1 was never resolved, a day is long past: a missed resolution.
    assert got["missed"]["2026-01"]["resolve"] == 1 and got["missed"]["2026-03"]["resolve"] == 0
