"""An incident's tasks: who may work them, finished or skipped, added, assigned."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from accounts import services as accounts_services
from incidents.enums import (
    SIGN_OFF_ROLES,
    OwnerRole,
    Phase,
    Status,
    TaskKind,
    TaskState,
    TimelineKind,
)
from incidents.services._checks import check_active_user, clean_text, given_time
from incidents.services._incidents import rotation_done
from incidents.services._records import (
    TASK_COLUMNS,
    incident_row,
    legal_steps,
    stored_value,
    task_link,
    task_out,
    task_row,
)
from incidents.services._timeline import say, timeline
from incidents.tables import (
    Incident,
    IncidentTask,
)
from register import audit
from register.access import allowed, refuse
from register.actor import Actor
from register.db import (
    as_utc,
    fetch,
    json_value,
    now,
    write_transaction,
)
from register.enums import Role
from register.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    StaleVersion,
)
from register.i18n import N_
from register.notifications.enums import MailKind
from register.notifications.flows import publish_mail
from register.queries import expect_version
from register.services import get_user
from register.staff.enums import EmployeeStatus
from register.staff.services import employees_by_id

E = TypeVar("E", bound=StrEnum)

# A finished step's line on the timeline: signed off by counsel or not, with a note or not.
TASK_LINES = {
    (False, False): N_("%(task_state)s: %(title)s"),
    (False, True): N_("%(task_state)s: %(title)s (%(note)s)"),
    (True, False): N_("legal sign-off by %(email)s: %(task_state)s: %(title)s"),
    (True, True): N_("legal sign-off by %(email)s: %(task_state)s: %(title)s (%(note)s)"),
}


async def list_tasks(*, incident_id: int) -> list[dict[str, Any]]:
    """An incident's tasks in playbook order."""
    await incident_row(incident_id)
    rows = await fetch(
        f'SELECT {TASK_COLUMNS} FROM "incident_task" WHERE "incident" = $1 ORDER BY "position", "id"',
        incident_id,
    )
    legal = legal_steps(rows)
    return [task_out(r, legal) for r in rows]


# How long a finished task stays on its assignee's list, in days, unless they ask otherwise.
RECENT_DAYS = 14
MAX_RECENT_DAYS = 90
# A person's tasks listed at most, open ones first (a list longer than this is for comms' board).
MY_TASKS_LIMIT = 200


async def my_tasks(*, actor: Actor, days: int = RECENT_DAYS) -> list[dict[str, Any]]:
    """The tasks assigned to the caller across incidents: open ones (on incidents not closed),
    soonest due first, then those finished in the last `days` days, latest first; each with no
    more of its incident than names it (reference, title, severity)."""
    if actor.user_id is None:
        return []
    if not 0 <= days <= MAX_RECENT_DAYS:
        raise InvalidInput(
            N_("days must be between 0 and %(limit)s"),
            field="days",
            params={"limit": MAX_RECENT_DAYS},
        )
    rows = await fetch(
        'SELECT t."id", t."incident" AS "incident_id", t."step_key", t."title", t."guidance", '
        't."phase", t."owner_role", t."kind", t."assignee_id", t."due_at", t."mandatory", '
        't."requires", t."state", t."note", t."done_at", t."version", '
        'i."reference", i."title" AS "incident_title", i."severity" '
        'FROM "incident_task" t JOIN "incident" i ON i."id" = t."incident" '
        'WHERE t."assignee_id" = $1 AND ((t."state" = $2 AND i."status" <> $3) '
        'OR (t."state" <> $4 AND t."done_at" >= $5)) '
        'ORDER BY CASE WHEN t."state" = $6 THEN 0 ELSE 1 END, t."id" LIMIT $7',
        # Each value once per placeholder: a plain PostgreSQL engine binds them in order.
        actor.user_id,
        TaskState.open.value,
        Status.closed.value,
        TaskState.open.value,
        now() - dt.timedelta(days=days),
        TaskState.open.value,
        MY_TASKS_LIMIT,
    )
    # Per incident, its steps: which need legal counsel, and which of them are still open.
    steps: dict[int, list[dict[str, Any]]] = {}
    for incident_id in {r["incident_id"] for r in rows}:
        steps[incident_id] = await fetch(
            'SELECT "step_key", "title", "owner_role", "kind", "requires", "state" '
            'FROM "incident_task" WHERE "incident" = $1',
            incident_id,
        )
    may_work = allowed("incident.task", actor.role)
    out = []
    for r in rows:
        others = steps[r["incident_id"]]
        legal = legal_steps(others)
        by_key = {o["step_key"]: o for o in others}
        requires = json_value(r["requires"]) or []
        waiting = [
            by_key[k]["title"]
            for k in requires
            if k in by_key and by_key[k]["state"] == TaskState.open.value
        ]
        is_open = r["state"] == TaskState.open.value
        task = {
            "id": r["id"],
            "incident_id": r["incident_id"],
            "title": r["title"],
            "guidance": r["guidance"],
            "phase": r["phase"],
            "kind": r["kind"],
            "due_at": as_utc(r["due_at"]),
            "mandatory": bool(r["mandatory"]),
            "state": r["state"],
            "note": r["note"],
            "done_at": as_utc(r["done_at"]),
            "version": r["version"],
            "sign_off": "legal" if r["step_key"] in legal else None,
            "waiting_for": waiting,
            "incident": {
                "id": r["incident_id"],
                "reference": r["reference"],
                "title": r["incident_title"],
                "severity": r["severity"],
            },
        }
        task["may_complete"] = (
            is_open
            and may_work
            and not waiting
            and await may_work_task(
                actor,
                {**task, "assignee_id": r["assignee_id"], "owner_role": r["owner_role"]},
            )
        )
        out.append(task)
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    opened = sorted(
        (t for t in out if t["state"] == TaskState.open.value),
        key=lambda t: (t["due_at"] or far, t["id"]),
    )
    finished = sorted(
        (t for t in out if t["state"] != TaskState.open.value),
        key=lambda t: (t["done_at"] or far, t["id"]),
        reverse=True,
    )
    return opened + finished


async def may_work_task(actor: Actor, task: dict[str, Any]) -> bool:
    """Legal counsel alone (and admins) work the steps that need their sign-off, and nothing else;
    comms works every other task; others their own: assigned to them, or their team's; staff
    only those assigned to them by name (they are no team)."""
    if actor.role == Role.admin:
        return True
    if actor.role == Role.staff:
        # A legal step stays counsel's even when it was given to an employee to prepare.
        return (
            actor.user_id is not None
            and task["assignee_id"] == actor.user_id
            and task["sign_off"] != "legal"
        )
    if task["sign_off"] == "legal" or actor.role == Role.legal:
        return task["sign_off"] == "legal" and actor.role in SIGN_OFF_ROLES
    if actor.role == Role.comms:
        return True
    if actor.user_id is not None and task["assignee_id"] == actor.user_id:
        return True
    return (actor.role == Role.hr and task["owner_role"] == OwnerRole.hr.value) or (
        actor.role == Role.it and task["owner_role"] == OwnerRole.it.value
    )


async def check_task_worker(*, actor: Actor, incident_id: int, task_id: int) -> None:
    """Refuse (audited) a task to anyone but its worker: legal counsel for a legal step, else
    comms, an admin, its assignee or its team."""
    task = await task_row(incident_id, task_id)
    if await may_work_task(actor, task):
        return
    role = actor.role.value if actor.role else "none"
    mine = actor.user_id is not None and task["assignee_id"] == actor.user_id
    if actor.role == Role.staff and not mine:
        # Someone else's task: say no more of it than that (not even its title).
        reason = N_("role '%(role)s' may work only its own tasks")
    elif task["sign_off"] == "legal":
        reason = N_("'%(title)s' is signed off by legal counsel: role 'legal' or an admin")
    elif actor.role == Role.legal:
        reason = N_("role 'legal' works only the steps that need legal counsel")
    else:
        reason = N_("role '%(role)s' may work only its own tasks")
    params = {"title": task["title"], "role": role}
    raise await refuse(actor, "incident.task", "incident_task", task_id, reason, params)


async def _could_work(user: Mapping[str, Any], task: Mapping[str, Any]) -> bool:
    """Whether a user's role lets them work a task once it is theirs (the rules of may_work_task)."""
    role = Role(user["role"])
    worker = Actor(user_id=user["id"], email=user["email"], role=role)
    return allowed("incident.task", role) and await may_work_task(
        worker, {**task, "assignee_id": user["id"]}
    )


async def _gone(users: Iterable[Mapping[str, Any]]) -> set[int]:
    """The ids of the users whose person in the staff directory has left."""
    people = await employees_by_id(u["employee_id"] for u in users)
    return {
        u["id"]
        for u in users
        if u["employee_id"] in people
        and people[u["employee_id"]]["status"] == EmployeeStatus.left.value
    }


async def task_assignees(
    *, tasks: Iterable[Mapping[str, Any]], users: Iterable[Mapping[str, Any]]
) -> dict[int, list[dict[str, Any]]]:
    """Per open task, the users it may be given to: active, not gone, and able to work it."""
    here = [dict(u) for u in users if u["active"]]
    gone = await _gone(here)
    here = [u for u in here if u["id"] not in gone]
    return {
        t["id"]: [u for u in here if await _could_work(u, t)]
        for t in tasks
        if t["state"] == TaskState.open.value
    }


async def check_assignee(*, task: Mapping[str, Any], assignee_id: int | None) -> None:
    """Refuse (422 on assignee_id) to give a task to someone who could not work it: no active
    user, someone who has left, or a step their role does not work (a legal step: counsel's)."""
    if assignee_id is None:
        return
    try:
        user: dict[str, Any] | None = await get_user(user_id=assignee_id)
    except NotFound:
        user = None
    if user is None:
        raise InvalidInput(
            N_("user %(id)s is not an active user"), field="assignee_id", params={"id": assignee_id}
        )
    params = {
        "id": assignee_id,
        "name": user["name"] or user["email"],
        "title": task["title"],
        "role": user["role"],
    }
    if not user["active"]:
        message = N_("%(name)s is deactivated: give the step to someone who can sign in")
    elif await _gone([user]):
        message = N_("%(name)s has left the company: give the step to someone still here")
    elif await _could_work(user, task):
        return
    elif task["sign_off"] == "legal":
        message = N_(
            "'%(title)s' is signed off by legal counsel: give it to a user with role 'legal' or an admin, not %(name)s"
        )
    elif user["role"] == Role.legal.value:
        message = N_("%(name)s is legal counsel, who works only the steps that need a lawyer")
    else:
        message = N_("%(name)s has role '%(role)s', which works no incident steps")
    raise InvalidInput(message, field="assignee_id", params=params)


async def check_task_skipper(*, actor: Actor, incident_id: int, task_id: int) -> None:
    """As check_task_worker, and staff never skip a step: they do what they were given, and
    whether a step is needed at all is the incident team's call."""
    await check_task_worker(actor=actor, incident_id=incident_id, task_id=task_id)
    if actor.role == Role.staff:
        raise await refuse(
            actor,
            "incident.task",
            "incident_task",
            task_id,
            N_(
                "role 'staff' completes its tasks with a note; whether a step is skipped is for the incident's team to decide"
            ),
        )


async def _check_can_finish(task: dict[str, Any], incident: dict[str, Any], done: bool) -> None:
    """Prerequisites, the legal review before discipline, the account's rotation and recovery contacts."""
    others = await fetch(
        'SELECT "step_key", "title", "kind", "state" FROM "incident_task" WHERE "incident" = $1',
        incident["id"],
    )
    by_key = {o["step_key"]: o for o in others}
    waiting = [
        by_key[k]["title"]
        for k in task["requires"]
        if k in by_key and by_key[k]["state"] == TaskState.open.value
    ]
    if waiting:
        raise Conflict(
            N_("do these steps first: %(steps)s"),
            field="requires",
            params={"steps": "; ".join(waiting)},
            waiting_for=waiting,
        )
    if task["kind"] == TaskKind.disciplinary.value and done:
        reviews = [o for o in others if o["kind"] == TaskKind.legal_review.value]
        if not reviews or any(o["state"] != TaskState.done.value for o in reviews):
            raise Conflict(
                N_(
                    "no disciplinary step before the legal review of whether the post is protected activity is done"
                ),
                field="kind",
            )
    if task["kind"] == TaskKind.rotation.value and done and not await rotation_done(incident):
        raise Conflict(
            N_(
                "rotate the account's credential in the vault first (PUT /api/v1/accounts/%(account)s/credential)"
            ),
            field="kind",
            params={"account": incident["account_id"]},
        )
    if (
        task["kind"] == TaskKind.recovery_contacts.value
        and done
        and incident["account_id"] is not None
    ):
        outside = await accounts_services.recovery_not_controlled(incident["account_id"])
        if outside:
            # "recovery email x@y" / "recovery phone +44...": the contact's value after its kind.
            found = {item.split(" ", 2)[1]: item.split(" ", 2)[2] for item in outside}
            raise Conflict(
                N_(
                    "recovery email %(email)s and recovery phone %(phone)s not company-controlled: change it on the platform, then record it (PATCH /api/v1/accounts/%(account)s)"
                )
                if len(found) == 2
                else N_(
                    "recovery email %(email)s not company-controlled: change it on the platform, then record it (PATCH /api/v1/accounts/%(account)s)"
                )
                if "email" in found
                else N_(
                    "recovery phone %(phone)s not company-controlled: change it on the platform, then record it (PATCH /api/v1/accounts/%(account)s)"
                ),
                field="kind",
                params={
                    "email": found.get("email", ""),
                    "phone": found.get("phone", ""),
                    "account": incident["account_id"],
                },
            )


async def finish_task(
    *,
    actor: Actor,
    incident_id: int,
    task_id: int,
    state: TaskState,
    note: str,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Complete a task with a note, or skip it with a reason; a second attempt gets 409."""
    state = TaskState(state)
    check = check_task_skipper if state == TaskState.skipped else check_task_worker
    await check(actor=actor, incident_id=incident_id, task_id=task_id)
    note = clean_text(
        note,
        "reason" if state == TaskState.skipped else "note",
        5000,
        # Staff say what they did: comms gave them the step and reads the note, not the person.
        required=state == TaskState.skipped or actor.role == Role.staff,
    )
    task = await task_row(incident_id, task_id)
    stamp = as_utc(at) or now()
    async with write_transaction():
        incident = await incident_row(incident_id)
        if incident["status"] == Status.closed.value:
            raise Conflict(
                N_("incident %(reference)s is closed"), params={"reference": incident["reference"]}
            )
        if task["state"] != TaskState.open.value:
            raise Conflict(
                N_("task '%(title)s' is already %(state)s"),
                params={"title": task["title"], "state": task["state"]},
            )
        if state == TaskState.skipped and task["mandatory"]:
            raise Conflict(
                N_("'%(title)s' is mandatory: complete it with a note saying what was decided"),
                field="mandatory",
                params={"title": task["title"]},
            )
        await _check_can_finish(task, incident, state == TaskState.done)
        values: dict[Any, Any] = {
            IncidentTask.state: state.value,
            IncidentTask.note: note,
            IncidentTask.done_by: actor.user_id,
            IncidentTask.done_at: stamp,
            IncidentTask.version: IncidentTask.version + 1,
        }
        signs = task["sign_off"] == "legal"
        signer = actor.role.value if actor.role else ""
        if signs:
            # Finishing a legal step, either way, is counsel's decision on the record.
            values |= {
                IncidentTask.signed_off_by: actor.user_id,
                IncidentTask.signed_off_as: signer,
                IncidentTask.signed_off_at: stamp,
            }
        # Conditional on the task still being open: two people completing it at once get one
        # success and one conflict.
        updated = (
            await IncidentTask.update(values)
            .where((IncidentTask.id == task_id) & (IncidentTask.state == TaskState.open.value))
            .returning(IncidentTask.id)
        )
        if not updated:
            raise Conflict(
                N_("task '%(title)s' was finished at the same moment by someone else"),
                params={"title": task["title"]},
            )
        verb = "completed" if state == TaskState.done else "skipped"
        data: dict[str, Any] = {"task_id": task_id, "state": state.value}
        changes: dict[str, Any] = {
            "state": [TaskState.open.value, state.value],
            "note": [None, note[:200]],
        }
        if signs:
            sign_off = {"signed_off_by": actor.user_id, "signed_off_as": signer}
            data |= sign_off
            changes |= {k: [None, v] for k, v in sign_off.items()}
        await timeline(
            actor,
            incident_id,
            TimelineKind.task,
            (f"legal sign-off by {actor.email} ({signer}): " if signs else "")
            + f"{verb}: {task['title']}"
            + (f" ({note[:300]})" if note else ""),
            data,
            at=stamp,
            said=say(
                TASK_LINES[(signs, bool(note))],
                email=actor.email,
                task_state=state.value,
                title=task["title"],
                note=note[:300],
            ),
        )
        await audit.record(
            actor,
            f"incident.task.{'complete' if state == TaskState.done else 'skip'}",
            "incident_task",
            task_id,
            changes,
        )
        if task["step_key"] == "acknowledge" and incident["acknowledged_at"] is None:
            await Incident.update(
                {Incident.acknowledged_at: stamp, Incident.version: Incident.version + 1}
            ).where(Incident.id == incident_id)
    return await task_row(incident_id, task_id)


def _given(kind: type[E], value: Any) -> E:
    """A phase, owner or kind of a task added by hand, or 422 (on the phase, as the API says)."""
    try:
        return kind(stored_value(value))
    except ValueError as exc:
        # Python's own words for an unknown value ("'x' is not a valid Phase"), kept for the API.
        message = (
            N_("%(value)r is not a valid Phase")
            if kind is Phase
            else N_("%(value)r is not a valid OwnerRole")
            if kind is OwnerRole
            else N_("%(value)r is not a valid TaskKind")
        )
        raise InvalidInput(message, field="phase", params={"value": stored_value(value)}) from exc


async def add_task(*, actor: Actor, incident_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Add a task by hand (or a review's follow-up action)."""
    title = clean_text(data.get("title"), "title", 300, required=True)
    guidance = clean_text(data.get("guidance"), "guidance", 5000)
    phase = _given(Phase, data.get("phase") or Phase.resolve.value)
    owner = _given(OwnerRole, data.get("owner_role") or OwnerRole.comms.value)
    kind = _given(TaskKind, data.get("kind") or TaskKind.step.value)
    await check_active_user(data.get("assignee_id"), "assignee_id")
    due_at = given_time(data.get("due_at"), "due_at")
    requires = list(data.get("requires") or [])
    async with write_transaction():
        incident = await incident_row(incident_id)
        if incident["status"] == Status.closed.value:
            raise Conflict(
                N_("incident %(reference)s is closed"), params={"reference": incident["reference"]}
            )
        keys = {
            r["step_key"]
            for r in await IncidentTask.select(IncidentTask.step_key).where(
                IncidentTask.incident == incident_id
            )
        }
        unknown = [k for k in requires if k not in keys]
        if unknown:
            raise InvalidInput(
                N_("no such steps on this incident: %(steps)s"),
                field="requires",
                params={"steps": ", ".join(unknown)},
            )
        position = await IncidentTask.count().where(IncidentTask.incident == incident_id)
        key = ("follow_up_" if kind == TaskKind.follow_up else "added_") + uuid.uuid4().hex[:8]
        stamp = now()
        rows = await IncidentTask.insert(
            IncidentTask(
                incident=incident_id,
                step_key=key,
                title=title,
                guidance=guidance,
                phase=phase.value,
                owner_role=owner.value,
                kind=kind.value,
                assignee_id=data.get("assignee_id"),
                due_at=due_at,
                mandatory=bool(data.get("mandatory", False)),
                requires=json.dumps(requires),
                state=TaskState.open.value,
                position=position,
                version=1,
                created_at=stamp,
            )
        ).returning(IncidentTask.id)
        task_id = rows[0]["id"]
        await timeline(
            actor,
            incident_id,
            TimelineKind.task,
            f"task added: {title}",
            {"task_id": task_id},
            at=stamp,
            said=say(N_("task added: %(title)s"), title=title),
        )
        await audit.record(
            actor,
            "incident.task.add",
            "incident_task",
            task_id,
            {
                "incident_id": [None, incident_id],
                "title": [None, title],
                "phase": [None, phase.value],
            },
        )
        await mail_assignee(
            actor=actor,
            incident=incident,
            task_id=task_id,
            title=title,
            assignee_id=data.get("assignee_id"),
            due_at=due_at,
        )
    return await task_row(incident_id, task_id)


async def assign_task(
    *,
    actor: Actor,
    incident_id: int,
    task_id: int,
    version: int,
    assignee_id: int | None,
    due_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Give a task to someone who may work it (or back to its team), optionally with a new due
    time."""
    async with write_transaction():
        task = await task_row(incident_id, task_id)
        expect_version(f"task {task_id}", task["version"], version)
        await check_assignee(task=task, assignee_id=assignee_id)
        if task["state"] != TaskState.open.value:
            raise Conflict(
                N_("task '%(title)s' is already %(state)s"),
                params={"title": task["title"], "state": task["state"]},
            )
        values: dict[Any, Any] = {
            IncidentTask.assignee_id: assignee_id,
            IncidentTask.version: version + 1,
        }
        if due_at is not None:
            values[IncidentTask.due_at] = given_time(due_at, "due_at")
            values[IncidentTask.overdue_notified_at] = None
        updated = (
            await IncidentTask.update(values)
            .where((IncidentTask.id == task_id) & (IncidentTask.version == version))
            .returning(IncidentTask.id)
        )
        if not updated:
            raise StaleVersion(N_("task %(id)s has changed; read it again"), params={"id": task_id})
        await timeline(
            actor,
            incident_id,
            TimelineKind.task,
            f"reassigned: {task['title']}",
            {"task_id": task_id, "from": task["assignee_id"], "to": assignee_id},
            said=say(N_("reassigned: %(title)s"), title=task["title"]),
        )
        await audit.record(
            actor,
            "incident.task.assign",
            "incident_task",
            task_id,
            {"assignee_id": [task["assignee_id"], assignee_id]}
            | ({"due_at": [task["due_at"], due_at]} if due_at else {}),
        )
        if assignee_id != task["assignee_id"]:
            await mail_assignee(
                actor=actor,
                incident=await incident_row(incident_id),
                task_id=task_id,
                title=task["title"],
                assignee_id=assignee_id,
                due_at=values.get(IncidentTask.due_at, task["due_at"]),
            )
    return await task_row(incident_id, task_id)


async def mail_assignee(
    *,
    actor: Actor,
    incident: dict[str, Any],
    task_id: int,
    title: str,
    assignee_id: int | None,
    due_at: dt.datetime | None,
) -> int:
    """E-mail the person a task was just given to (in the caller's transaction)."""
    if assignee_id is None:
        return 0
    return await publish_mail(
        MailKind.incident_task_assigned,
        payload={
            "title": title,
            "reference": incident["reference"],
            "incident": incident["title"],
            "due_at": due_at,
            "incident_id": incident["id"],
            "task_id": task_id,
        },
        path=await task_link(assignee_id, incident["id"], task_id),
        summary=f"{incident['reference']}: task '{title}' is theirs",
        users=[assignee_id],
        actor=actor,
    )
