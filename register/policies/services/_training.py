"""Training: courses required by role or by the platforms of the accounts people have access to,
completions with evidence, and who is due or overdue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from msgspec import UNSET

from register import audit
from register.actor import Actor
from register.db import now, write_transaction
from register.enums import Role
from register.errors import InvalidInput, NotFound
from register.extensions import extensions
from register.i18n import N_
from register.policies.enums import TrainingStatus
from register.policies.services._text import add_months
from register.policies.tables import TrainingCompletion, TrainingCourse
from register.queries import MAX_LIMIT, expect_version, unique_or_409
from register.services import list_users
from register.staff.services import employee_names, employees_by_id

# A completion running out within this many days is "due".
DUE_WITHIN_DAYS = 30
EVERY_ACCOUNT = "*"
COURSE_FIELDS = ("title", "description", "required_roles", "required_platforms", "renewal_months")
MAX_DESCRIPTION = 10_000


def _wrap(items: list[str]) -> str:
    """A list stored comma-wrapped, so one LIKE '%,x,%' finds an item in SQL."""
    return "," + ",".join(items) + "," if items else ""


def _unwrap(value: str) -> list[str]:
    return [i for i in (value or "").split(",") if i]


def course_out(row: dict[str, Any]) -> dict[str, Any]:
    """A course row as the API shows it."""
    return {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "required_roles": _unwrap(row["required_roles"]),
        "required_platforms": _unwrap(row["required_platforms"]),
        "renewal_months": row["renewal_months"],
        "active": row["active"],
        "version": row["version"],
    }


def _course_values(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "title" in data:
        title = (data["title"] or "").strip()
        if not title or len(title) > 200 or "\x00" in title:
            raise InvalidInput(N_("title must be 1 to 200 characters of text"), field="title")
        values["title"] = title
    if "description" in data:
        text = data["description"] or ""
        if len(text) > MAX_DESCRIPTION or "\x00" in text:
            raise InvalidInput(
                N_("description must be at most %(limit)s characters of text"),
                field="description",
                params={"limit": MAX_DESCRIPTION},
            )
        values["description"] = text
    if "required_roles" in data:
        roles = sorted({str(r).strip() for r in data["required_roles"] or [] if str(r).strip()})
        wrong = [r for r in roles if r not in {x.value for x in Role}]
        if wrong:
            raise InvalidInput(
                N_("unknown role '%(name)s'; one of: %(value)s"),
                field="required_roles",
                params={"name": wrong[0], "value": ", ".join(Role)},
            )
        values["required_roles"] = _wrap(roles)
    if "required_platforms" in data:
        platforms = sorted(
            {str(p).strip().lower() for p in data["required_platforms"] or [] if str(p).strip()}
        )
        bad = [p for p in platforms if p != EVERY_ACCOUNT and not p.replace("_", "").isalnum()]
        if bad or len(_wrap(platforms)) > 400:
            raise InvalidInput(
                N_("required_platforms must be platform names, or '*' for every account"),
                field="required_platforms",
            )
        values["required_platforms"] = _wrap(platforms)
    if "renewal_months" in data:
        months = data["renewal_months"]
        if months is not None and not 1 <= months <= 120:
            raise InvalidInput(
                N_("renewal_months must be 1 to 120, or empty for training that stays current"),
                field="renewal_months",
            )
        values["renewal_months"] = months
    return values


async def get_course(*, course_id: int) -> dict[str, Any]:
    """One course, or NotFound."""
    row = await TrainingCourse.select().where(TrainingCourse.id == course_id).first()
    if row is None:
        raise NotFound(N_("course %(course_id)s does not exist"), params={"course_id": course_id})
    return course_out(row)


async def list_courses(*, include_retired: bool = False) -> list[dict[str, Any]]:
    """Courses by title."""
    query = TrainingCourse.select().order_by(TrainingCourse.title)
    if not include_retired:
        query = query.where(TrainingCourse.active == True)  # noqa: E712
    return [course_out(r) for r in await query]


async def create_course(*, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """A new course."""
    values = {"description": "", "required_roles": "", "required_platforms": ""}
    values.update(_course_values({k: data.get(k) for k in COURSE_FIELDS if k in data}))
    if "title" not in values:
        raise InvalidInput(N_("title must be 1 to 200 characters of text"), field="title")
    stamp = now()
    async with write_transaction():
        async with unique_or_409(
            N_("a course titled %(title)s already exists"), "title", {"title": values["title"]}
        ):
            rows = await TrainingCourse.insert(
                TrainingCourse(**values, active=True, version=1, created_at=stamp, updated_at=stamp)
            )
        course_id = rows[0]["id"]
        await audit.record(
            actor, "training.course_create", "training_course", course_id, audit.diff(None, values)
        )
    return await get_course(course_id=course_id)


async def update_course(
    *, actor: Actor, course_id: int, version: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change a course; a new renewal interval moves every completion's end with it."""
    changes = {k: v for k, v in changes.items() if v is not UNSET}
    active = changes.pop("active", None)
    values = _course_values({k: v for k, v in changes.items() if k in COURSE_FIELDS})
    if active is not None:
        values["active"] = bool(active)
    async with write_transaction():
        before_row = await TrainingCourse.select().where(TrainingCourse.id == course_id).first()
        if before_row is None:
            raise NotFound(
                N_("course %(course_id)s does not exist"), params={"course_id": course_id}
            )
        expect_version(f"course {course_id}", before_row["version"], version)
        changed = {k: v for k, v in values.items() if before_row[k] != v}
        if changed:
            async with unique_or_409(
                N_("a course titled %(title)s already exists"),
                "title",
                {"title": changed.get("title", "")},
            ):
                await TrainingCourse.update(
                    {**changed, "version": version + 1, "updated_at": now()}  # type: ignore[dict-item]
                ).where(TrainingCourse.id == course_id)
            if "renewal_months" in changed:
                for c in await TrainingCompletion.select().where(
                    TrainingCompletion.course == course_id
                ):
                    await TrainingCompletion.update(
                        {
                            TrainingCompletion.valid_until: valid_until(
                                c["completed_on"], changed["renewal_months"]
                            )
                        }
                    ).where(TrainingCompletion.id == c["id"])
            await audit.record(
                actor,
                "training.course_update",
                "training_course",
                course_id,
                audit.diff({k: before_row[k] for k in changed}, changed),
            )
    return await get_course(course_id=course_id)


def valid_until(completed_on: dt.date, renewal_months: int | None) -> dt.date | None:
    """The last day a completion counts: the day before the same date `renewal_months` on."""
    if renewal_months is None:
        return None
    return add_months(completed_on, renewal_months) - dt.timedelta(days=1)


def completion_out(row: dict[str, Any]) -> dict[str, Any]:
    """A completion row as the API shows it."""
    return {
        "id": row["id"],
        "course_id": row["course"],
        "employee_id": row["employee"],
        "completed_on": row["completed_on"],
        "valid_until": row["valid_until"],
        "evidence": row["evidence"],
    }


def check_completion(completed_on: dt.date, evidence: str, today: dt.date) -> str:
    """A completion is not in the future, and its evidence is short text."""
    if completed_on > today:
        raise InvalidInput(N_("completed_on is in the future"), field="completed_on")
    evidence = (evidence or "").strip()
    if len(evidence) > 500 or "\x00" in evidence:
        raise InvalidInput(N_("evidence must be at most 500 characters of text"), field="evidence")
    return evidence


async def add_completions(*, actor: Actor, items: list[dict[str, Any]]) -> list[int]:
    """Record completions (course_id, employee_id, completed_on, evidence) in the caller's
    transaction, each audited; one already recorded for that day is left as it is."""
    courses = {c["id"]: c for c in await list_courses(include_retired=True)}
    added = []
    stamp = now()
    for item in items:
        course = courses.get(item["course_id"])
        if course is None:
            raise NotFound(
                N_("course %(course_id)s does not exist"), params={"course_id": item["course_id"]}
            )
        exists = await TrainingCompletion.exists().where(
            (TrainingCompletion.course == item["course_id"])
            & (TrainingCompletion.employee == item["employee_id"])
            & (TrainingCompletion.completed_on == item["completed_on"])
        )
        if exists:
            continue
        until = valid_until(item["completed_on"], course["renewal_months"])
        async with unique_or_409(
            N_("this completion was recorded at the same time by someone else"), "completed_on"
        ):
            rows = await TrainingCompletion.insert(
                TrainingCompletion(
                    course=item["course_id"],
                    employee=item["employee_id"],
                    completed_on=item["completed_on"],
                    valid_until=until,
                    evidence=item.get("evidence") or "",
                    created_at=stamp,
                )
            )
        added.append(rows[0]["id"])
        await audit.record(
            actor,
            "training.complete",
            "training_completion",
            rows[0]["id"],
            {
                "course_id": [None, item["course_id"]],
                "employee_id": [None, item["employee_id"]],
                "completed_on": [None, item["completed_on"].isoformat()],
                "evidence": [None, item.get("evidence") or ""],
            },
        )
    return added


async def record_completion(*, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Record that a person completed a course on a day, with evidence."""
    evidence = check_completion(data["completed_on"], data.get("evidence") or "", now().date())
    if not (await employees_by_id([data["employee_id"]])):
        raise InvalidInput(
            N_("employee %(employee_id)s does not exist"),
            field="employee_id",
            params={"employee_id": data["employee_id"]},
        )
    await get_course(course_id=data["course_id"])
    async with write_transaction():
        await add_completions(actor=actor, items=[{**data, "evidence": evidence}])
        row = (
            await TrainingCompletion.select()
            .where(
                (TrainingCompletion.course == data["course_id"])
                & (TrainingCompletion.employee == data["employee_id"])
                & (TrainingCompletion.completed_on == data["completed_on"])
            )
            .first()
        )
    return completion_out(row)


async def list_completions(
    *,
    course_id: int | None = None,
    employee_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int | None]:
    """Completions, newest first, for a course or a person or all."""
    query = TrainingCompletion.select()
    if course_id is not None:
        query = query.where(TrainingCompletion.course == course_id)
    if employee_id is not None:
        query = query.where(TrainingCompletion.employee == employee_id)
    rows = (
        await query.order_by(TrainingCompletion.completed_on, ascending=False)
        .order_by(TrainingCompletion.id, ascending=False)
        .limit(limit + 1)
        .offset(offset)
    )
    items = [completion_out(r) for r in rows[:limit]]
    return items, (offset + limit if len(rows) > limit else None)


async def _role_people(roles: list[str]) -> set[int]:
    """Employees behind the active users of these roles."""
    people: set[int] = set()
    for role in roles:
        offset: int | None = 0
        while offset is not None:
            users, offset = await list_users(
                limit=MAX_LIMIT, offset=offset, role=Role(role), active=True
            )
            people |= {u["employee_id"] for u in users if u.get("employee_id")}
    return people


async def _holders(platforms: list[str]) -> set[int]:
    """Employees with active access to accounts on these platforms ('*': any), as accounts says."""
    found: set[int] = set()
    for source in extensions.grant_holders:
        found |= await source(platforms)
    return found


def standing(latest: dict[str, Any] | None, today: dt.date) -> TrainingStatus:
    """Where a person stands with a course given their latest completion."""
    if latest is None:
        return TrainingStatus.missing
    until = latest["valid_until"]
    if until is None or until >= today + dt.timedelta(days=DUE_WITHIN_DAYS):
        return TrainingStatus.current
    return TrainingStatus.due if until >= today else TrainingStatus.overdue


async def course_status(*, course_id: int, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Everyone the course is required of, with their standing, by name (due and worse first)."""
    day = today or now().date()
    course = await get_course(course_id=course_id)
    required = await _role_people(course["required_roles"])
    if course["required_platforms"]:
        required |= await _holders(course["required_platforms"])
    latest: dict[int, dict[str, Any]] = {}
    for c in await TrainingCompletion.select().where(TrainingCompletion.course == course_id):
        kept = latest.get(c["employee"])
        if kept is None or c["completed_on"] > kept["completed_on"]:
            latest[c["employee"]] = c
    people = await employees_by_id(required | set(latest))
    out = []
    for employee_id in sorted(required):
        person = people.get(employee_id)
        if person is None or person["status"] == "left":
            continue
        state = standing(latest.get(employee_id), day)
        last = latest.get(employee_id)
        out.append(
            {
                "employee_id": employee_id,
                "name": person["name"],
                "status": state.value,
                "completed_on": last["completed_on"] if last else None,
                "valid_until": last["valid_until"] if last else None,
            }
        )
    order = [
        TrainingStatus.missing,
        TrainingStatus.overdue,
        TrainingStatus.due,
        TrainingStatus.current,
    ]
    return sorted(out, key=lambda r: (order.index(TrainingStatus(r["status"])), r["name"]))


async def training_coverage(*, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Each active course: how many it is required of, and how many stand where."""
    out = []
    for course in await list_courses():
        counts = dict.fromkeys(TrainingStatus, 0)
        for person in await course_status(course_id=course["id"], today=today):
            counts[TrainingStatus(person["status"])] += 1
        out.append(
            {
                "course_id": course["id"],
                "title": course["title"],
                "required": sum(counts.values()),
                **{k.value: v for k, v in counts.items()},
            }
        )
    return out


async def my_training(*, actor: Actor, today: dt.date | None = None) -> list[dict[str, Any]]:
    """The reader's completions, and the courses required of them with their standing."""
    if actor.employee_id is None:
        return []
    day = today or now().date()
    out = []
    for course in await list_courses():
        rows = (
            await TrainingCompletion.select()
            .where(
                (TrainingCompletion.course == course["id"])
                & (TrainingCompletion.employee == actor.employee_id)
            )
            .order_by(TrainingCompletion.completed_on, ascending=False)
        )
        required = actor.role is not None and actor.role.value in course["required_roles"]
        if course["required_platforms"] and not required:
            required = actor.employee_id in await _holders(course["required_platforms"])
        if not rows and not required:
            continue
        latest = rows[0] if rows else None
        out.append(
            {
                "course_id": course["id"],
                "title": course["title"],
                "required": required,
                "status": standing(latest, day).value,
                "completed_on": latest["completed_on"] if latest else None,
                "valid_until": latest["valid_until"] if latest else None,
                "evidence": latest["evidence"] if latest else "",
            }
        )
    return out


async def names_of(employee_ids: list[int]) -> dict[int, str]:
    """People's names by id, for lists of completions."""
    return await employee_names(employee_ids)


def untrained_holder_sql(employee: str, platform: str) -> str:
    """SQL true when `employee` lacks current training that holding an account on `platform`
    requires; for the account register's risk finding, with its {true} and {today} markers."""
    # The account register judges every account in one statement (see accounts' risk kinds); a
    # list of people fetched first would go stale within the report and grow with the company.
    return (
        'EXISTS (SELECT 1 FROM "training_course" tc WHERE tc."active" = {true} '
        "AND (tc.\"required_platforms\" LIKE '%,*,%' "
        f"OR tc.\"required_platforms\" LIKE '%,' || {platform} || ',%') "
        'AND NOT EXISTS (SELECT 1 FROM "training_completion" tk WHERE tk."course" = tc."id" '
        f'AND tk."employee" = {employee} '
        'AND (tk."valid_until" IS NULL OR tk."valid_until" >= {today})))'
    )
