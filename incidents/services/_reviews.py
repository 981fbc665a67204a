"""Post-incident reviews, their search, and the incident metrics."""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from incidents.enums import Category, Phase, Severity, Status, TaskKind, TaskState, TimelineKind
from incidents.services import _records, _tasks
from incidents.services._checks import clean_text, given_time
from incidents.services._records import incident_row
from incidents.services._timeline import say, timeline
from incidents.tables import IncidentTask, Review
from register import audit
from register.actor import Actor
from register.db import as_utc, enum_literal, fetch, is_postgres, now, offloaded, write_transaction
from register.errors import Conflict, InvalidInput, NotFound, StaleVersion
from register.i18n import N_
from register.queries import page, page_bounds, search_pattern, unique_or_409

REVIEW_FIELDS = ("summary", "impact", "root_cause", "went_well", "to_improve")
REVIEW_COLUMNS = (
    'r."id", r."incident" AS "incident_id", r."summary", r."impact", r."root_cause", '
    'r."went_well", r."to_improve", r."signed_off_by", r."signed_off_at", r."version", '
    'r."created_by", r."created_at", r."updated_at"'
)


async def _review(incident_id: int) -> dict[str, Any] | None:
    rows = await fetch(
        f'SELECT {REVIEW_COLUMNS} FROM "incident_review" r WHERE r."incident" = $1', incident_id
    )
    return rows[0] if rows else None


async def review_out(incident_id: int) -> dict[str, Any]:
    """The review with its follow-up actions, or NotFound."""
    review = await _review(incident_id)
    if review is None:
        raise NotFound(N_("incident %(id)s has no review yet"), params={"id": incident_id})
    actions = await fetch(
        f'SELECT {_records.TASK_COLUMNS} FROM "incident_task" WHERE "incident" = $1 AND "kind" = $2 ORDER BY "id"',
        incident_id,
        TaskKind.follow_up.value,
    )
    legal = await _records.incident_legal_steps(incident_id)
    return {**review, "follow_up_actions": [_records.task_out(a, legal) for a in actions]}


async def save_review(
    *, actor: Actor, incident_id: int, version: int | None, data: dict[str, Any]
) -> dict[str, Any]:
    """Write or change the review (version 0 or none: the first write); a signed-off one is final."""
    clean = {k: clean_text(data.get(k), k, 20000) for k in REVIEW_FIELDS if data.get(k) is not None}
    stamp = now()
    async with write_transaction():
        incident = await incident_row(incident_id)
        if Status(incident["status"]) in (Status.reported, Status.triaged):
            raise Conflict(
                N_("the review is written once the incident is contained"), field="status"
            )
        before = await _review(incident_id)
        if before is None:
            if version not in (None, 0):
                raise StaleVersion(N_("there is no review yet: send version 0 to write the first"))
            # Two first saves at once: the unique index on the incident makes the second a 409.
            async with unique_or_409(
                N_("incident %(id)s already has a review: read it and send its version"),
                "version",
                params={"id": incident_id},
            ):
                await Review.insert(
                    Review(
                        incident=incident_id,
                        **clean,
                        version=1,
                        created_by=actor.user_id,
                        created_at=stamp,
                        updated_at=stamp,
                    )
                )
            await audit.record(
                actor,
                "review.create",
                "incident_review",
                incident_id,
                {k: [None, v[:200]] for k, v in clean.items()},
            )
            await timeline(
                actor,
                incident_id,
                TimelineKind.review,
                "post-incident review started",
                at=stamp,
                said=say(N_("post-incident review started")),
            )
        else:
            if before["signed_off_at"] is not None:
                raise Conflict(N_("the review is signed off and final"))
            if version != before["version"]:
                raise StaleVersion(
                    N_("the review has changed since version %(version)s; read it again"),
                    current_version=before["version"],
                    params={"version": version},
                )
            updated = (
                await Review.update(
                    {**clean, "version": before["version"] + 1, "updated_at": stamp}
                )
                .where((Review.incident == incident_id) & (Review.version == before["version"]))
                .returning(Review.id)
            )
            if not updated:
                raise StaleVersion(N_("the review has changed; read it again"))
            await audit.record(
                actor,
                "review.update",
                "incident_review",
                incident_id,
                {k: [str(before[k])[:200], v[:200]] for k, v in clean.items() if before[k] != v},
            )
            await timeline(
                actor,
                incident_id,
                TimelineKind.review,
                "post-incident review updated",
                at=stamp,
                said=say(N_("post-incident review updated")),
            )
    return await review_out(incident_id)


async def add_action(*, actor: Actor, incident_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """A follow-up action: a review-phase task with an owner and a due date."""
    if await _review(incident_id) is None:
        raise Conflict(N_("write the review first"), field="incident_id")
    if data.get("due_at") is None:
        raise InvalidInput(N_("a follow-up action needs a due date"), field="due_at")
    return await _tasks.add_task(
        actor=actor,
        incident_id=incident_id,
        data={
            **data,
            "phase": Phase.review.value,
            "kind": TaskKind.follow_up.value,
            "mandatory": False,
        },
    )


async def sign_off_review(*, actor: Actor, incident_id: int, version: int) -> dict[str, Any]:
    """The reviewer signs the review off; the playbook's review step is done with it."""
    stamp = now()
    async with write_transaction():
        review = await _review(incident_id)
        if review is None:
            raise NotFound(N_("incident %(id)s has no review yet"), params={"id": incident_id})
        if review["signed_off_at"] is not None:
            raise Conflict(N_("the review is already signed off"))
        if review["version"] != version:
            raise StaleVersion(
                N_("the review has changed; read it again"), current_version=review["version"]
            )
        missing = [k for k in REVIEW_FIELDS if not review[k]]
        if missing:
            raise InvalidInput(
                N_("fill in before signing off: %(fields)s"),
                field=missing[0],
                params={"fields": ", ".join(missing)},
            )
        updated = (
            await Review.update(
                {
                    Review.signed_off_by: actor.user_id,
                    Review.signed_off_at: stamp,
                    Review.version: version + 1,
                    Review.updated_at: stamp,
                }
            )
            .where((Review.incident == incident_id) & (Review.version == version))
            .returning(Review.id)
        )
        if not updated:
            raise StaleVersion(N_("the review has changed; read it again"))
        await IncidentTask.update(
            {
                IncidentTask.state: TaskState.done.value,
                IncidentTask.done_by: actor.user_id,
                IncidentTask.done_at: stamp,
                IncidentTask.note: "review signed off",
                IncidentTask.version: IncidentTask.version + 1,
            }
        ).where(
            (IncidentTask.incident == incident_id)
            & (IncidentTask.step_key == "review")
            & (IncidentTask.state == TaskState.open.value)
        )
        await audit.record(
            actor,
            "review.sign_off",
            "incident_review",
            incident_id,
            {"signed_off_at": [None, stamp]},
        )
        await timeline(
            actor,
            incident_id,
            TimelineKind.review,
            f"review signed off by {actor.email}",
            at=stamp,
            said=say(N_("review signed off by %(email)s"), email=actor.email),
        )
    return await review_out(incident_id)


async def search_reviews(
    *, q: str | None, limit: int, offset: int, category: Category | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """Reviews whose text matches, newest first, with their incident's reference and title."""
    limit, offset = page_bounds(limit, offset)
    where: list[str] = []
    args: list[Any] = []
    if q and q.strip():
        args.append(search_pattern(q.strip()))
        op = "ILIKE" if is_postgres() else "GLOB"
        where.append("(" + " OR ".join(f'r."{c}" {op} ${len(args)}' for c in REVIEW_FIELDS) + ")")
    if category is not None:
        where.append(f'i."category" = {enum_literal(category)}')
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    rows = await fetch(
        f'SELECT {REVIEW_COLUMNS}, i."reference", i."title", i."category", i."severity" '
        f'FROM "incident_review" r JOIN "incident" i ON i."id" = r."incident"{clause} '
        f'ORDER BY r."id" DESC LIMIT {limit + 1} OFFSET {offset}',
        *args,
    )
    return page(rows, limit, offset)


def _minutes(start: Any, end: Any) -> float | None:
    if start is None or end is None:
        return None
    return round((as_utc(end) - as_utc(start)).total_seconds() / 60, 1)


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "median_minutes": None, "mean_minutes": None, "max_minutes": None}
    return {
        "count": len(values),
        "median_minutes": round(statistics.median(values), 1),
        "mean_minutes": round(statistics.fmean(values), 1),
        "max_minutes": max(values),
    }


async def metrics(
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Time to acknowledge, contain and resolve by severity (now, at filing, highest reached) and
    by category over a period; open incidents by severity; overdue tasks."""
    at = as_utc(at) or now()
    until = given_time(until, "until") or at
    since = given_time(since, "since") or until - dt.timedelta(days=90)
    if since >= until:
        raise InvalidInput(N_("since must be before until"), field="since")
    with offloaded():
        rows = await fetch(
            'SELECT "severity", "severity_at_filing", "highest_severity", "category", "reported_at", '
            '"acknowledged_at", "contained_at", "resolved_at" '
            'FROM "incident" WHERE "reported_at" >= $1 AND "reported_at" < $2',
            since,
            until,
        )
        open_rows = await fetch(
            'SELECT "severity", COUNT(*) AS "n" FROM "incident" WHERE "status" <> $1 GROUP BY "severity"',
            Status.closed.value,
        )
        overdue = await fetch(
            'SELECT t."owner_role", COUNT(*) AS "n" FROM "incident_task" t JOIN "incident" i ON i."id" = t."incident" '
            'WHERE t."state" = $1 AND t."due_at" < $2 AND i."status" <> $3 GROUP BY t."owner_role"',
            TaskState.open.value,
            at,
            Status.closed.value,
        )

    def group(key: str, names: list[str]) -> dict[str, Any]:
        out = {}
        for name in names:
            mine = [r for r in rows if r[key] == name]
            out[name] = {
                "filed": len(mine),
                **{
                    measure: _stats(
                        [
                            m
                            for m in (_minutes(r["reported_at"], r[col]) for r in mine)
                            if m is not None
                        ]
                    )
                    for measure, col in (
                        ("acknowledge", "acknowledged_at"),
                        ("contain", "contained_at"),
                        ("resolve", "resolved_at"),
                    )
                },
            }
        return out

    return {
        "since": since,
        "until": until,
        "filed": len(rows),
        "by_severity": group("severity", [s.value for s in Severity]),
        "by_severity_at_filing": group("severity_at_filing", [s.value for s in Severity]),
        "by_highest_severity": group("highest_severity", [s.value for s in Severity]),
        "by_category": group("category", [c.value for c in Category]),
        "open_by_severity": {s.value: 0 for s in Severity}
        | {r["severity"]: r["n"] for r in open_rows},
        "overdue_tasks": sum(r["n"] for r in overdue),
        "overdue_by_owner": {r["owner_role"]: r["n"] for r in overdue},
    }
