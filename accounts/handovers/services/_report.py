"""What HR oversees across handovers: people leaving without one, overdue items by team, and the
on-time record per month."""

from __future__ import annotations

import datetime as dt
from typing import Any

from accounts.handovers.enums import HandoverState, HandoverTeam
from accounts.handovers.services._handovers import as_date, overdue_items, today
from register.db import fetch
from register.queries import MAX_LIMIT
from register.staff.enums import EmployeeStatus
from register.staff.services import list_employees


async def leavers_without_handover(
    *, within_days: int = 30, on: dt.date | None = None
) -> list[dict[str, Any]]:
    """People leaving from today to `within_days` ahead with no handover started or completed."""
    on = on or today()
    found: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        rows, offset, _ = await list_employees(
            limit=MAX_LIMIT,
            offset=offset,
            status=EmployeeStatus.leaving,
            leaving_after=on - dt.timedelta(days=1),
            leaving_before=on + dt.timedelta(days=within_days + 1),
        )
        found.extend(rows)
    if not found:
        return []
    marks = ", ".join(f"${n + 2}" for n in range(len(found)))
    # A cancelled handover is no handover: the person may be leaving after all.
    started = await fetch(
        f'SELECT DISTINCT "employee" FROM "handover" WHERE "state" <> $1 AND "employee" IN ({marks})',
        HandoverState.cancelled.value,
        *[p["id"] for p in found],
    )
    have = {r["employee"] for r in started}
    return sorted(
        (p for p in found if p["id"] not in have),
        key=lambda p: (as_date(p["leaving_date"]), p["name"], p["id"]),
    )


async def overdue_by_team(*, on: dt.date | None = None) -> dict[str, int]:
    """How many items are overdue on open handovers, per owning team (every team named)."""
    counts = {team.value: 0 for team in HandoverTeam}
    for item in await overdue_items(on=on):
        counts[item["owner_role"]] = counts.get(item["owner_role"], 0) + 1
    return counts


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _months_back(last: dt.date, months: int) -> list[dt.date]:
    out = [_month(last)]
    while len(out) < months:
        first = out[-1]
        out.append((first - dt.timedelta(days=1)).replace(day=1))
    return list(reversed(out))


async def completion_by_month(
    *, months: int = 12, on: dt.date | None = None
) -> list[dict[str, Any]]:
    """Per month of the leaving date (oldest first): handovers completed on or before the leaving
    date, completed after it, not completed yet, and all of them (cancelled ones left out)."""
    on = on or today()
    first = _months_back(on, months)
    start = first[0]
    rows = await fetch(
        'SELECT "leaving_date", "state", "completed_at" FROM "handover" '
        'WHERE "state" <> $1 AND "leaving_date" >= $2 AND "leaving_date" < $3',
        HandoverState.cancelled.value,
        start,
        # Up to the end of the current month: a handover due later this month counts in it.
        (_month(on) + dt.timedelta(days=32)).replace(day=1),
    )
    table = {
        m: {"month": m, "on_time": 0, "late": 0, "not_completed": 0, "total": 0} for m in first
    }
    for r in rows:
        leaving = as_date(r["leaving_date"])
        bucket = table[_month(leaving)]
        bucket["total"] += 1
        completed = r["completed_at"]
        if r["state"] != HandoverState.completed.value or completed is None:
            bucket["not_completed"] += 1
        elif _utc_date(completed) <= leaving:
            bucket["on_time"] += 1
        else:
            bucket["late"] += 1
    return [table[m] for m in first]


def _utc_date(value: Any) -> dt.date:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.date()


async def count_by_state() -> dict[str, int]:
    """How many handovers are in each state (every state named)."""
    counts = {state.value: 0 for state in HandoverState}
    for r in await fetch('SELECT "state", COUNT(*) AS "n" FROM "handover" GROUP BY "state"'):
        counts[r["state"]] = int(r["n"])
    return counts
