"""Incidents and their tasks as stored, and as the API shows them."""

from __future__ import annotations

from enum import Enum
from typing import Any

from incidents.enums import (
    TaskState,
    needs_legal_sign_off,
)
from incidents.tables import (
    Incident,
)
from register.access import allowed
from register.actor import Actor
from register.db import (
    fetch,
    json_value,
)
from register.enums import Role
from register.errors import (
    NotFound,
)
from register.i18n import N_
from register.services import get_user

OPEN_STATES = (TaskState.open.value,)


INCIDENT_COLUMNS = (
    '"id", "reference", "title", "description", "category", "severity", "severity_at_filing", '
    '"highest_severity", "status", "platform", "account" AS "account_id", "employee" AS "employee_id", "content_urls", "reporter_id", '
    '"reporter_name", "reporter_contact", "via_intake", "commander_id", "spokesperson_id", '
    '"legal_id", "playbook" AS "playbook_id", "playbook_version", "reported_at", '
    '"acknowledged_at", "triaged_at", "contained_at", "resolved_at", "closed_at", '
    '"account_marked_at", "next_update_due_at", "update_reminded_at", "escalated_at", '
    '"post_request" AS "post_request_id", "version", "created_at", "updated_at"'
)


LIST_COLUMNS = (
    '"id", "reference", "title", "category", "severity", "status", "platform", '
    '"account" AS "account_id", "employee" AS "employee_id", "commander_id", "reported_at", '
    '"acknowledged_at", "contained_at", "resolved_at", "closed_at", "version"'
)


TASK_INSERT_COLUMNS = (
    "incident",
    "step_key",
    "title",
    "guidance",
    "phase",
    "owner_role",
    "kind",
    "assignee_id",
    "due_at",
    "mandatory",
    "requires",
    "state",
    "note",
    "position",
    "version",
    "created_at",
)


TASK_COLUMNS = (
    '"id", "incident" AS "incident_id", "step_key", "title", "guidance", "phase", "owner_role", '
    '"kind", "assignee_id", "due_at", "mandatory", "requires", "state", "note", "done_by", '
    '"done_at", "signed_off_by", "signed_off_as", "signed_off_at", "position", "version", '
    '"created_at"'
)


def stored_value(value: Any) -> Any:
    """An enum as the value a column stores; anything else as it is."""
    return value.value if isinstance(value, Enum) else value


def sees_reporter(actor: Actor) -> bool:
    """A named reporter is shown to HR only (never to comms, IT, auditors, or admins)."""
    return actor.role == Role.hr


def incident_out(row: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """An incident as the API shows it to this caller."""
    out = {
        k: row[k]
        for k in (
            "id",
            "reference",
            "title",
            "description",
            "category",
            "severity",
            "severity_at_filing",
            "highest_severity",
            "status",
            "platform",
            "account_id",
            "employee_id",
            "post_request_id",
            "reporter_id",
            "via_intake",
            "commander_id",
            "spokesperson_id",
            "legal_id",
            "playbook_id",
            "playbook_version",
            "reported_at",
            "acknowledged_at",
            "triaged_at",
            "contained_at",
            "resolved_at",
            "closed_at",
            "next_update_due_at",
            "version",
            "created_at",
            "updated_at",
        )
    }
    out["via_intake"] = bool(out["via_intake"])
    out["content_urls"] = json_value(row["content_urls"]) or []
    named = sees_reporter(actor)
    out["reporter_name"] = row["reporter_name"] if named else None
    out["reporter_contact"] = row["reporter_contact"] if named else None
    return out


def task_out(row: dict[str, Any], legal: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A task as the API shows it (`legal`: the step keys that need legal counsel's sign-off)."""
    out = dict(row)
    out["requires"] = json_value(row["requires"]) or []
    out["mandatory"] = bool(row["mandatory"])
    out["sign_off"] = "legal" if row["step_key"] in legal else None
    out["signed_off_as"] = row.get("signed_off_as") or None
    return out


def legal_steps(tasks: list[dict[str, Any]]) -> frozenset[str]:
    """The step keys among an incident's tasks that only legal counsel (or an admin) may finish."""
    by_key = {t["step_key"]: t for t in tasks}
    return frozenset(
        t["step_key"]
        for t in tasks
        if needs_legal_sign_off(
            t, [by_key[k] for k in json_value(t["requires"]) or [] if k in by_key]
        )
    )


async def incident_legal_steps(incident_id: int) -> frozenset[str]:
    """The step keys of one incident that only legal counsel (or an admin) may finish."""
    rows = await fetch(
        'SELECT "step_key", "owner_role", "kind", "requires" FROM "incident_task" '
        'WHERE "incident" = $1',
        incident_id,
    )
    return legal_steps(rows)


async def incident_row(incident_id: int) -> dict[str, Any]:
    """The raw incident row (with the secret columns), or NotFound."""
    rows = await fetch(f'SELECT {INCIDENT_COLUMNS} FROM "incident" WHERE "id" = $1', incident_id)
    if not rows:
        raise NotFound(N_("incident %(id)s does not exist"), params={"id": incident_id})
    return rows[0]


async def get_incident(*, actor: Actor, incident_id: int) -> dict[str, Any]:
    """One incident as this caller may see it."""
    return incident_out(await incident_row(incident_id), actor)


async def by_reference(reference: str) -> int:
    """The id of an incident by its reference."""
    row = await Incident.select(Incident.id).where(Incident.reference == reference.upper()).first()
    if not row:
        raise NotFound(N_("incident %(id)s does not exist"), params={"id": reference})
    return row["id"]


def notice_payload(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Facts about an incident for a notification (never the reporter, never evidence)."""
    return {
        "incident_id": row["id"],
        "reference": row["reference"],
        "title": row["title"],
        "category": row["category"],
        "severity": row["severity"],
        "status": row["status"],
        "link": f"/api/v1/incidents/{row['id']}",
        **extra,
    }


async def task_row(incident_id: int, task_id: int) -> dict[str, Any]:
    """One task of an incident, or NotFound."""
    rows = await fetch(
        f'SELECT {TASK_COLUMNS} FROM "incident_task" WHERE "id" = $1 AND "incident" = $2',
        task_id,
        incident_id,
    )
    if not rows:
        raise NotFound(
            N_("task %(task)s does not exist on incident %(incident)s"),
            params={"task": task_id, "incident": incident_id},
        )
    return task_out(rows[0], await incident_legal_steps(incident_id))


async def incidents_about_post(post_request_id: int) -> list[dict[str, Any]]:
    """The incidents that name a post request as the one they concern."""
    return await fetch(
        'SELECT "id", "reference", "title", "status" FROM "incident" WHERE "post_request" = $1 '
        'ORDER BY "id"',
        post_request_id,
    )


async def linkable_incidents(limit: int = 50) -> list[dict[str, Any]]:
    """Incidents not closed, newest first: those a post request can be named on."""
    return await fetch(
        'SELECT "id", "reference", "title", "version" FROM "incident" WHERE "status" <> $1 '
        'ORDER BY "id" DESC LIMIT $2',
        "closed",
        limit,
    )


async def task_link(assignee_id: int | None, incident_id: int, task_id: int | None = None) -> str:
    """The page a mail about someone's task links to: the incident, or for someone who may not
    read incidents (staff) their home page, which lists the task with its form."""
    try:
        role = (await get_user(user_id=assignee_id))["role"] if assignee_id else None
    except NotFound:
        role = None
    if role is None or allowed("incident.read", Role(role)):
        return f"/incidents/{incident_id}"
    return f"/#my-task-{task_id}" if task_id else "/"
