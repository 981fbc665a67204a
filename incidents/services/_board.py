"""What the incident pages gather across incidents: the board's clocks, legal's queue, trends by month."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from typing import Any

from incidents.enums import SEVERITIES, Category, Severity, Status, TaskState
from incidents.services._records import legal_steps
from register.db import as_utc, fetch, json_value, now, offloaded

# The order the board shows severities in, worst first.
_RANK = {s.value: n for n, s in enumerate(Severity)}


def _minutes(delta: dt.timedelta) -> int:
    # Toward zero: 25 min and a few seconds late is "25 min", as a person would say it.
    return int(delta.total_seconds() / 60)


async def board(*, at: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Incidents not yet closed, worst severity and oldest first, with their clocks at `at`.

    Each carries `acknowledge` (due time, minutes left or late, or minutes it took), `update`
    (the next status update's due time and minutes left, None once resolved) and the number of
    its open tasks past due, so a page can say each clock in words.
    """
    at = as_utc(at) or now()
    rows = await fetch(
        'SELECT "id", "reference", "title", "category", "severity", "status", "platform", '
        '"account" AS "account_id", "commander_id", "via_intake", "reported_at", '
        '"acknowledged_at", "next_update_due_at" FROM "incident" WHERE "status" <> $1',
        Status.closed.value,
    )
    late = await fetch(
        'SELECT t."incident" AS "incident_id", COUNT(*) AS "n" '
        'FROM "incident_task" t JOIN "incident" i ON i."id" = t."incident" '
        'WHERE t."state" = $1 AND t."due_at" < $2 AND i."status" <> $3 GROUP BY t."incident"',
        TaskState.open.value,
        at,
        Status.closed.value,
    )
    overdue = {r["incident_id"]: r for r in late}
    out = []
    for r in rows:
        clock = SEVERITIES[Severity(r["severity"])]
        reported = as_utc(r["reported_at"])
        acked = as_utc(r["acknowledged_at"])
        due = reported + clock.acknowledge
        acknowledge = {
            "due_at": due,
            "limit_minutes": _minutes(clock.acknowledge),
            "done": acked is not None,
            "took_minutes": _minutes(acked - reported) if acked else None,
            "late": (acked or at) > due,
            "minutes_left": _minutes(due - at) if acked is None else None,
        }
        update = None
        if r["status"] not in (Status.resolved.value, Status.closed.value):
            next_due = as_utc(r["next_update_due_at"])
            update = {
                "due_at": next_due,
                "every_minutes": _minutes(clock.update_every),
                "late": next_due is not None and next_due < at,
                "minutes_left": _minutes(next_due - at) if next_due else None,
            }
        past = overdue.get(r["id"])
        out.append(
            {
                **r,
                "via_intake": bool(r["via_intake"]),
                "reported_at": reported,
                "acknowledge": acknowledge,
                "next_update": update,
                "tasks_past_due": int(past["n"]) if past else 0,
            }
        )
    out.sort(key=lambda i: (_RANK[i["severity"]], i["reported_at"], i["id"]))
    return out


async def legal_queue() -> list[dict[str, Any]]:
    """Open incidents with legal steps still open: each step, and what it still waits for."""
    rows = await fetch(
        'SELECT t."id", t."incident" AS "incident_id", t."step_key", t."title", t."guidance", '
        't."phase", t."owner_role", t."kind", t."requires", t."state", t."due_at", '
        't."assignee_id", t."position", i."reference", i."title" AS "incident_title", '
        'i."severity", i."status", i."legal_id" FROM "incident_task" t '
        'JOIN "incident" i ON i."id" = t."incident" WHERE i."status" <> $1 '
        'ORDER BY t."incident", t."position", t."id"',
        Status.closed.value,
    )
    by_incident: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_incident[r["incident_id"]].append(r)
    out = []
    for incident_id, tasks in by_incident.items():
        signed = legal_steps(tasks)
        titles = {t["step_key"]: t for t in tasks}
        steps = []
        for t in tasks:
            if t["step_key"] not in signed or t["state"] != TaskState.open.value:
                continue
            waiting = [
                titles[k]["title"]
                for k in json_value(t["requires"]) or []
                if k in titles and titles[k]["state"] == TaskState.open.value
            ]
            steps.append(
                {
                    "id": t["id"],
                    "title": t["title"],
                    "guidance": t["guidance"],
                    "kind": t["kind"],
                    "due_at": as_utc(t["due_at"]),
                    "assignee_id": t["assignee_id"],
                    "waiting_for": waiting,
                }
            )
        if steps:
            first = tasks[0]
            out.append(
                {
                    "id": incident_id,
                    "reference": first["reference"],
                    "title": first["incident_title"],
                    "severity": first["severity"],
                    "status": first["status"],
                    "legal_id": first["legal_id"],
                    "steps": steps,
                }
            )
    out.sort(key=lambda i: (_RANK[i["severity"]], i["id"]))
    return out


def _month(value: dt.datetime) -> str:
    return f"{value.year:04d}-{value.month:02d}"


def _months_back(at: dt.datetime, months: int) -> list[str]:
    year, month = at.year, at.month
    out = []
    for _ in range(months):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


async def trends(*, months: int = 6, at: dt.datetime | None = None) -> dict[str, Any]:
    """Incidents filed in the last `months` calendar months (this one included), by month: how
    many per category, median minutes to acknowledge and to resolve per severity, and the clocks
    missed (acknowledged late, resolved late, tasks finished or still open past due)."""
    at = as_utc(at) or now()
    months = max(1, min(months, 36))
    labels = _months_back(at, months)
    year, month = (int(x) for x in labels[0].split("-"))
    since = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    with offloaded():
        rows = await fetch(
            'SELECT "id", "category", "severity", "reported_at", "acknowledged_at", "resolved_at" '
            'FROM "incident" WHERE "reported_at" >= $1 AND "reported_at" <= $2',
            since,
            at,
        )
        tasks = await fetch(
            'SELECT t."incident" AS "incident_id", COUNT(*) AS "n" FROM "incident_task" t '
            'JOIN "incident" i ON i."id" = t."incident" WHERE i."reported_at" >= $1 '
            'AND i."reported_at" <= $2 AND t."due_at" IS NOT NULL AND ('
            '(t."state" = $3 AND t."due_at" < $4) OR (t."state" = $5 AND t."done_at" > t."due_at")) '
            'GROUP BY t."incident"',
            since,
            at,
            TaskState.open.value,
            at,
            TaskState.done.value,
        )
    tasks_late = {r["incident_id"]: int(r["n"]) for r in tasks}
    by_category: dict[str, Counter[str]] = {m: Counter() for m in labels}
    waits: dict[str, dict[str, dict[str, list[float]]]] = {
        measure: {s.value: defaultdict(list) for s in Severity}
        for measure in ("acknowledge", "resolve")
    }
    misses = {m: {"acknowledge": 0, "resolve": 0, "tasks": 0} for m in labels}
    for r in rows:
        reported = as_utc(r["reported_at"])
        key = _month(reported)
        if key not in by_category:
            continue
        clock = SEVERITIES[Severity(r["severity"])]
        by_category[key][r["category"]] += 1
        for measure, column, limit in (
            ("acknowledge", "acknowledged_at", clock.acknowledge),
            ("resolve", "resolved_at", clock.resolve),
        ):
            done = as_utc(r[column])
            if done is not None:
                waits[measure][r["severity"]][key].append((done - reported).total_seconds() / 60)
            # Missed: done after the clock ran out, or not done and the clock has run out.
            if (done or at) > reported + limit:
                misses[key][measure] += 1
        misses[key]["tasks"] += tasks_late.get(r["id"], 0)
    return {
        "months": labels,
        "filed": {m: sum(by_category[m].values()) for m in labels},
        "by_category": {m: {c.value: by_category[m][c.value] for c in Category} for m in labels},
        "acknowledge": {s: {m: _median(waits["acknowledge"][s][m]) for m in labels} for s in _RANK},
        "resolve": {s: {m: _median(waits["resolve"][s][m]) for m in labels} for s in _RANK},
        "missed": misses,
    }
