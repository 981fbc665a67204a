"""Incidents and what hangs off them: filing, reading, updates, tasks, timeline, evidence, reports.

Status changes and the clocks are in flows.py; playbooks in catalogue.py.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from enum import Enum
from typing import Any

from accounts import services as accounts_services
from accounts.enums import AccountStatus, Platform
from accounts.tables import SocialAccount
from incidents import catalogue
from incidents.enums import (
    SEVERITIES,
    Category,
    OwnerRole,
    Phase,
    Severity,
    Status,
    TaskKind,
    TaskState,
    TimelineKind,
    parse_offset,
    phase_clock,
)
from incidents.tables import (
    Incident,
    IncidentTask,
    TimelineEntry,
)
from register import audit
from register.access import refuse
from register.actor import Actor
from register.db import (
    as_utc,
    bulk_insert,
    enum_literal,
    fetch,
    is_postgres,
    json_value,
    now,
    offloaded,
    write_transaction,
)
from register.enums import EventType, Role
from register.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    StaleVersion,
)
from register.outbox import publish
from register.services import glob_pattern, page, page_bounds
from register.tables import Employee, User

MAX_URLS = 20
OPEN_STATES = (TaskState.open.value,)

INCIDENT_COLUMNS = (
    '"id", "reference", "title", "description", "category", "severity", "status", "platform", '
    '"account" AS "account_id", "employee" AS "employee_id", "content_urls", "reporter_id", '
    '"reporter_name", "reporter_contact", "via_intake", "commander_id", "spokesperson_id", '
    '"legal_id", "playbook" AS "playbook_id", "playbook_version", "reported_at", '
    '"acknowledged_at", "triaged_at", "contained_at", "resolved_at", "closed_at", '
    '"account_marked_at", "next_update_due_at", "update_reminded_at", "escalated_at", '
    '"version", "created_at", "updated_at"'
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
    '"done_at", "position", "version", "created_at"'
)


EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


def given_time(value: dt.datetime | None, field: str) -> dt.datetime | None:
    """A time from the caller, in UTC, within a sane range (1990-2200), or 422 naming the field."""
    moment = as_utc(value)
    if moment is not None and not EARLIEST <= moment < LATEST:
        raise InvalidInput(f"{field} must be between 1990 and 2200", field=field)
    return moment


def _value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


# ---------------------------------------------------------------- shaping


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
            "status",
            "platform",
            "account_id",
            "employee_id",
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


def task_out(row: dict[str, Any]) -> dict[str, Any]:
    """A task as the API shows it."""
    out = dict(row)
    out["requires"] = json_value(row["requires"]) or []
    out["mandatory"] = bool(row["mandatory"])
    return out


async def incident_row(incident_id: int) -> dict[str, Any]:
    """The raw incident row (with the secret columns), or NotFound."""
    rows = await fetch(f'SELECT {INCIDENT_COLUMNS} FROM "incident" WHERE "id" = $1', incident_id)
    if not rows:
        raise NotFound(f"incident {incident_id} does not exist")
    return rows[0]


async def get_incident(*, actor: Actor, incident_id: int) -> dict[str, Any]:
    """One incident as this caller may see it."""
    return incident_out(await incident_row(incident_id), actor)


async def by_reference(reference: str) -> int:
    """The id of an incident by its reference."""
    row = await Incident.select(Incident.id).where(Incident.reference == reference.upper()).first()
    if not row:
        raise NotFound(f"incident {reference} does not exist")
    return row["id"]


# ---------------------------------------------------------------- timeline and audit


async def timeline(
    actor: Actor,
    incident_id: int,
    kind: TimelineKind,
    text: str,
    data: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> int:
    """Add a line to the incident's timeline (inside the caller's transaction); its id."""
    rows = await TimelineEntry.insert(
        TimelineEntry(
            incident=incident_id,
            at=at or now(),
            actor_id=actor.user_id,
            actor=actor.email,
            kind=kind.value,
            text=text[:5000],
            data=json.dumps(data or {}, default=str),
        )
    ).returning(TimelineEntry.id)
    return rows[0]["id"]


async def list_timeline(
    *, incident_id: int, limit: int, offset: int, kind: TimelineKind | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """An incident's timeline, oldest first."""
    limit, offset = page_bounds(limit, offset)
    await incident_row(incident_id)
    args: list[Any] = [incident_id]
    where = '"incident" = $1'
    if kind is not None:
        args.append(kind.value)
        where += ' AND "kind" = $2'
    rows = await fetch(
        'SELECT "id", "at", "actor_id", "actor", "kind", "text", "data" FROM "timeline_entry" '
        f'WHERE {where} ORDER BY "id" LIMIT {limit + 1} OFFSET {offset}',
        *args,
    )
    for r in rows:
        r["data"] = json_value(r["data"]) or {}
    return page(rows, limit, offset)


async def add_note(
    *, actor: Actor, incident_id: int, text: str, status_update: bool = False
) -> dict[str, Any]:
    """A person's note; a status update also restarts the update cadence."""
    text = _clean_text(text, "text", 5000, required=True)
    async with write_transaction():
        row = await incident_row(incident_id)
        kind = TimelineKind.status_update if status_update else TimelineKind.note
        stamp = now()
        if status_update:
            if row["status"] == Status.closed.value:
                raise Conflict(f"incident {row['reference']} is closed")
            cadence = SEVERITIES[Severity(row["severity"])].update_every
            await Incident.update(
                {Incident.next_update_due_at: stamp + cadence, Incident.update_reminded_at: None}
            ).where(Incident.id == incident_id)
        entry_id = await timeline(actor, incident_id, kind, text, at=stamp)
        await audit.record(
            actor, f"incident.{kind.value}", "incident", incident_id, {"text": [None, text[:200]]}
        )
    rows = await fetch(
        'SELECT "id", "at", "actor_id", "actor", "kind", "text", "data" FROM "timeline_entry" '
        'WHERE "id" = $1',
        entry_id,
    )
    rows[0]["data"] = json_value(rows[0]["data"]) or {}
    return rows[0]


# ---------------------------------------------------------------- validation


def _clean_text(value: Any, field: str, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", field=field)
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{field} must not be blank", field=field)
    if len(value) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", field=field)
    if "\x00" in value:
        raise InvalidInput(f"{field} contains a NUL character", field=field)
    return value


def clean_url(value: str, field: str) -> str:
    """An http(s) URL, trimmed."""
    url = _clean_text(value, field, 2000, required=True)
    if not url.lower().startswith(("http://", "https://")) or " " in url or len(url) < 10:
        raise InvalidInput(f"'{url[:80]}' is not an http(s) URL", field=field)
    return url


def _urls(values: Iterable[str] | None) -> list[str]:
    urls = [clean_url(v, f"content_urls[{n}]") for n, v in enumerate(values or [])]
    if len(urls) > MAX_URLS:
        raise InvalidInput(f"at most {MAX_URLS} content URLs", field="content_urls")
    return list(dict.fromkeys(urls))


async def _active_user(user_id: int | None, field: str) -> None:
    if user_id is None:
        return
    row = await User.select(User.active).where(User.id == user_id).first()
    if not row or not row["active"]:
        raise InvalidInput(f"user {user_id} is not an active user", field=field)


async def _employee(employee_id: int | None, field: str) -> None:
    if employee_id is None:
        return
    if not await Employee.exists().where(Employee.id == employee_id):
        raise InvalidInput(f"employee {employee_id} does not exist", field=field)


async def _account(account_id: int | None, field: str = "account_id") -> dict[str, Any] | None:
    if account_id is None:
        return None
    row = (
        await SocialAccount.select(
            SocialAccount.id,
            SocialAccount.platform,
            SocialAccount.handle,
            SocialAccount.status,
            SocialAccount.custodian,
            SocialAccount.backup_custodian,
            SocialAccount.version,
        )
        .where(SocialAccount.id == account_id)
        .first()
    )
    if not row:
        raise InvalidInput(f"account {account_id} does not exist", field=field)
    return row


def _search_pattern(text: str) -> str:
    """A case-insensitive substring pattern: ILIKE on PostgreSQL, GLOB on SQLite."""
    if is_postgres():
        return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return glob_pattern(text)


def _platform(value: Any) -> str:
    if value in (None, ""):
        return ""
    try:
        return Platform(_value(value)).value
    except ValueError as exc:
        choices = ", ".join(p.value for p in Platform)
        raise InvalidInput(
            f"'{value}' is not a platform; one of: {choices}", field="platform"
        ) from exc


# ---------------------------------------------------------------- filing


async def next_reference(year: int) -> str:
    """The next INC-YYYY-NNNN: one atomic upsert, so concurrent filings never share a number."""
    rows = await fetch(
        'INSERT INTO "incident_counter" ("year", "last") VALUES ($1, 1) '
        'ON CONFLICT ("year") DO UPDATE SET "last" = "incident_counter"."last" + 1 '
        'RETURNING "last"',
        year,
    )
    return f"INC-{year}-{rows[0]['last']:04d}"


def step_due(step: dict[str, Any], severity: Severity, start: dt.datetime) -> dt.datetime:
    """When a playbook step is due: its own offset for the severity, else its phase's clock."""
    text = (step.get("due") or {}).get(severity.value)
    offset = parse_offset(text) if text else phase_clock(severity, Phase(step["phase"]))
    return start + offset


def _assignee(owner: str, people: dict[str, int | None]) -> int | None:
    """Who a step goes to on filing: the person named for its role, else the commander."""
    role = OwnerRole(owner)
    if role in (OwnerRole.hr, OwnerRole.it):
        return people.get(role.value)
    if role == OwnerRole.spokesperson:
        return people.get("spokesperson") or people.get("commander")
    if role == OwnerRole.legal:
        return people.get("legal") or people.get("commander")
    return people.get("commander")


def escalation_roles(severity: Severity, playbook: dict[str, Any]) -> list[Role]:
    """Who is told when an incident of this severity is filed or escalates."""
    roles = set(SEVERITIES[severity].escalation_roles)
    if roles:
        roles |= {Role(r) for r in playbook["escalate_to"]}
    return sorted(roles)


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


async def file_incident(
    *, actor: Actor, data: dict[str, Any], via_intake: bool = False, at: dt.datetime | None = None
) -> dict[str, Any]:
    """File an incident: reference, the playbook's tasks with their clocks, escalation, timeline."""
    title = _clean_text(data.get("title"), "title", 300, required=True)
    description = _clean_text(data.get("description"), "description", 20000)
    try:
        category = Category(_value(data.get("category")))
    except ValueError as exc:
        raise InvalidInput(f"'{data.get('category')}' is not a category", field="category") from exc
    try:
        severity = Severity(_value(data.get("severity") or Severity.SEV3.value))
    except ValueError as exc:
        raise InvalidInput(f"'{data.get('severity')}' is not a severity", field="severity") from exc
    urls = _urls(data.get("content_urls"))
    reporter_name = _clean_text(data.get("reporter_name"), "reporter_name", 200)
    reporter_contact = _clean_text(data.get("reporter_contact"), "reporter_contact", 320)
    people: dict[str, int | None] = {
        "commander": data.get("commander_id"),
        "spokesperson": data.get("spokesperson_id"),
        "legal": data.get("legal_id"),
        "hr": data.get("hr_assignee_id"),
        "it": data.get("it_assignee_id"),
    }
    if people["commander"] is None and actor.role in (Role.comms, Role.admin) and actor.user_id:
        # Whoever files it leads it until someone else is named.
        people["commander"] = actor.user_id
    for key, value in people.items():
        if value is not None and value == actor.user_id:
            continue  # the caller is signed in, so active
        await _active_user(value, "commander_id" if key == "commander" else f"{key}_id")
    await _employee(data.get("employee_id"), "employee_id")
    account = await _account(data.get("account_id"))
    platform = _platform(data.get("platform")) or (account["platform"] if account else "")
    stamp = as_utc(at) or now()
    async with write_transaction():
        playbook = await catalogue.current_playbook(category)
        if playbook["needs_account"]:
            # A reporter without an account cannot know the register's ids: comms link the
            # account in triage, and linking it marks it (update_incident).
            if account is None and not via_intake:
                raise InvalidInput(
                    "a compromise names the registered account concerned", field="account_id"
                )
            if account is not None and account["status"] == AccountStatus.retired.value:
                raise InvalidInput(f"account {account['id']} is retired", field="account_id")
        reference = await next_reference(stamp.year)
        clock = SEVERITIES[severity]
        rows = await Incident.insert(
            Incident(
                reference=reference,
                title=title,
                description=description,
                category=category.value,
                severity=severity.value,
                status=Status.reported.value,
                platform=platform,
                account=account["id"] if account else None,
                employee=data.get("employee_id"),
                content_urls=json.dumps(urls),
                reporter_id=None if via_intake else actor.user_id,
                reporter_name=reporter_name,
                reporter_contact=reporter_contact,
                via_intake=via_intake,
                commander_id=people["commander"],
                spokesperson_id=people["spokesperson"],
                legal_id=people["legal"],
                playbook=playbook["id"],
                playbook_version=playbook["version"],
                reported_at=stamp,
                next_update_due_at=stamp + clock.update_every,
                version=1,
                created_at=stamp,
                updated_at=stamp,
            )
        ).returning(Incident.id)
        incident_id = rows[0]["id"]
        # The driver's bulk path (executemany, COPY): building a Piccolo row per step cost more
        # than the insert itself.
        tasks = [
            (
                incident_id,
                step["key"],
                step["title"],
                step["guidance"],
                step["phase"],
                step["owner"],
                step["kind"],
                _assignee(step["owner"], people),
                step_due(step, severity, stamp),
                step["mandatory"],
                json.dumps(step["requires"]),
                TaskState.open.value,
                "",
                n,
                1,
                stamp,
            )
            for n, step in enumerate(playbook["steps"])
        ]
        await bulk_insert("incident_task", TASK_INSERT_COLUMNS, tasks)
        await timeline(
            actor,
            incident_id,
            TimelineKind.filed,
            f"{reference} filed as {severity.value} {category.value}"
            + (" through the confidential intake" if via_intake else ""),
            {"severity": severity.value, "playbook_version": playbook["version"]},
            at=stamp,
        )
        changes = {
            "reference": [None, reference],
            "title": [None, title],
            "category": [None, category.value],
            "severity": [None, severity.value],
            "account_id": [None, account["id"] if account else None],
            "playbook_version": [None, playbook["version"]],
            "tasks": [None, len(tasks)],
        }
        if reporter_name or reporter_contact:
            changes["reporter"] = ["***", "***"]
        await audit.record(actor, "incident.file", "incident", incident_id, changes)
        row = await incident_row(incident_id)
        roles = escalation_roles(severity, playbook)
        await publish(
            EventType.incident_filed.value,
            notice_payload(row),
            summary=f"{reference} filed: {title} ({severity.value}, {category.value})",
            audience=sorted({Role.comms, Role.admin, *roles}),
        )
        if roles:
            await publish(
                EventType.incident_escalated.value,
                notice_payload(row, reason="filed", roles=[r.value for r in roles]),
                summary=f"{severity.value} {reference}: {title}; acknowledge within "
                f"{int(clock.acknowledge.total_seconds() // 60)} minutes",
                audience=roles,
            )
            await timeline(
                actor,
                incident_id,
                TimelineKind.escalation,
                f"{severity.value}: escalation roles told ({', '.join(r.value for r in roles)})",
                {"roles": [r.value for r in roles]},
                at=stamp,
            )
        if playbook["needs_account"] and account is not None:
            await mark_compromised(actor=actor, incident=row, account=account, at=stamp)
    return incident_out(row, actor)


async def mark_compromised(
    *, actor: Actor, incident: dict[str, Any], account: dict[str, Any], at: dt.datetime
) -> None:
    """A registered account is compromised: mark it, make its credential rotation-due, tell its custodian."""
    incident_id = incident["id"]
    reference = incident["reference"]
    await accounts_services.mark_compromised(
        actor=actor, account=account, incident_reference=reference, at=at
    )
    await Incident.update({Incident.account_marked_at: at}).where(Incident.id == incident_id)
    custodians = await Employee.select(Employee.id, Employee.name, Employee.work_email).where(
        Employee.id.is_in(
            [i for i in (account["custodian"], account["backup_custodian"]) if i] or [0]
        )
    )
    await publish(
        EventType.incident_escalated.value,
        notice_payload(
            incident,
            reason="account_compromised",
            account={
                "id": account["id"],
                "platform": account["platform"],
                "handle": account["handle"],
            },
            custodians=[
                {"employee_id": c["id"], "name": c["name"], "email": c["work_email"]}
                for c in custodians
            ],
        ),
        summary=f"{reference}: the {account['platform']} account {account['handle']} you hold is "
        "compromised; its credential must be rotated",
        audience=[Role.it],
    )
    await timeline(
        actor,
        incident_id,
        TimelineKind.account,
        f"account {account['platform']} {account['handle']} marked compromised; credential "
        f"rotation-due; custodian told ({', '.join(c['name'] for c in custodians) or 'none on record'})",
        {"account_id": account["id"], "custodians": [c["id"] for c in custodians]},
        at=at,
    )


async def rotation_done(incident: dict[str, Any]) -> bool:
    """Whether the compromised account's credential was rotated since the incident marked it."""
    if incident["account_id"] is None or incident["account_marked_at"] is None:
        return True
    return await accounts_services.rotated_since(
        incident["account_id"], incident["account_marked_at"]
    )


# ---------------------------------------------------------------- list and update


async def list_incidents(
    *,
    actor: Actor,
    limit: int,
    offset: int,
    status: Status | None = None,
    severity: Severity | None = None,
    category: Category | None = None,
    platform: str | None = None,
    account_id: int | None = None,
    employee_id: int | None = None,
    commander_id: int | None = None,
    open_only: bool | None = None,
    reported_from: dt.datetime | None = None,
    reported_to: dt.datetime | None = None,
    q: str | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Incidents filtered and paginated, newest first."""
    limit, offset = page_bounds(limit, offset)
    where: list[str] = []
    args: list[Any] = []
    for column, value in (
        ("status", status),
        ("severity", severity),
        ("category", category),
        ("platform", platform),
    ):
        if value is not None and value != "":
            where.append(f'"{column}" = {enum_literal(value)}')
    for column, value in (
        ("account", account_id),
        ("employee", employee_id),
        ("commander_id", commander_id),
    ):
        if value is not None:
            args.append(value)
            where.append(f'"{column}" = ${len(args)}')
    if open_only is not None:
        where.append(f'"status" {"<>" if open_only else "="} {enum_literal(Status.closed)}')
    if reported_from is not None:
        args.append(given_time(reported_from, "reported_from"))
        where.append(f'"reported_at" >= ${len(args)}')
    if reported_to is not None:
        args.append(given_time(reported_to, "reported_to"))
        where.append(f'"reported_at" < ${len(args)}')
    if q and q.strip():
        args.append(_search_pattern(q.strip()))
        op = "ILIKE" if is_postgres() else "GLOB"
        where.append(f'("title" {op} ${len(args)} OR "reference" {op} ${len(args)})')
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    rows = await fetch(
        f'SELECT {LIST_COLUMNS} FROM "incident"{clause} ORDER BY "id" DESC '
        f"LIMIT {int(limit) + 1} OFFSET {int(offset)}",
        *args,
    )
    return page(rows, limit, offset)


UPDATABLE = (
    "title",
    "description",
    "severity",
    "platform",
    "account_id",
    "employee_id",
    "content_urls",
    "commander_id",
    "spokesperson_id",
    "legal_id",
    "reporter_name",
    "reporter_contact",
)
COLUMN_OF = {"account_id": "account", "employee_id": "employee"}
PERSON_ROLE = {"commander_id": "commander", "spokesperson_id": "spokesperson", "legal_id": "legal"}


async def update_incident(
    *, actor: Actor, incident_id: int, version: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change an incident with a version check; a severity change moves the clocks and is recorded."""
    changes = {k: v for k, v in changes.items() if k in UPDATABLE}
    if ("reporter_name" in changes or "reporter_contact" in changes) and actor.role not in (
        Role.hr,
        Role.admin,
    ):
        # Admins may correct it without reading it back; only HR ever sees it.
        raise await refuse(
            actor, "incident.reporter", "incident", incident_id, "only HR records a named reporter"
        )
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "title":
            clean[key] = _clean_text(value, key, 300, required=True)
        elif key == "description":
            clean[key] = _clean_text(value, key, 20000)
        elif key == "reporter_name":
            clean[key] = _clean_text(value, key, 200)
        elif key == "reporter_contact":
            clean[key] = _clean_text(value, key, 320)
        elif key == "severity":
            try:
                clean[key] = Severity(_value(value)).value
            except ValueError as exc:
                raise InvalidInput(f"'{value}' is not a severity", field="severity") from exc
        elif key == "platform":
            clean[key] = _platform(value)
        elif key == "content_urls":
            clean[key] = _urls(value)
        elif key in PERSON_ROLE:
            await _active_user(value, key)
            clean[key] = value
        elif key == "employee_id":
            await _employee(value, key)
            clean[key] = value
        elif key == "account_id":
            await _account(value)
            clean[key] = value
    stamp = now()
    async with write_transaction():
        before = await incident_row(incident_id)
        if before["version"] != version:
            raise StaleVersion(
                f"incident {before['reference']} has changed since version {version}; read it again",
                current_version=before["version"],
            )
        if before["status"] == Status.closed.value:
            raise Conflict(f"incident {before['reference']} is closed")
        if "account_id" in clean and before["account_marked_at"] is not None:
            if clean["account_id"] != before["account_id"]:
                raise Conflict(
                    "the compromised account of this incident cannot be changed", field="account_id"
                )
        compare = {**before, "content_urls": json_value(before["content_urls"])}
        clean = {k: v for k, v in clean.items() if compare.get(k) != v}
        if not clean:
            return incident_out(before, actor)
        values: dict[str, Any] = {COLUMN_OF.get(k, k): v for k, v in clean.items()}
        if "content_urls" in values:
            values["content_urls"] = json.dumps(values["content_urls"])
        if "severity" in clean:
            new = Severity(clean["severity"])
            cadence = SEVERITIES[new].update_every
            due = as_utc(before["next_update_due_at"])
            values["next_update_due_at"] = min(due, stamp + cadence) if due else stamp + cadence
        updated = (
            await Incident.update({**values, "version": version + 1, "updated_at": stamp})
            .where((Incident.id == incident_id) & (Incident.version == version))
            .returning(Incident.id)
        )
        if not updated:
            raise StaleVersion(f"incident {before['reference']} has changed; read it again")
        secret = frozenset({"reporter_name", "reporter_contact"})
        await audit.record(
            actor,
            "incident.update",
            "incident",
            incident_id,
            audit.diff({k: compare.get(k) for k in clean}, clean, secret),
        )
        shown = {k: v for k, v in clean.items() if k not in secret and k != "severity"}
        if shown:
            await timeline(
                actor,
                incident_id,
                TimelineKind.change,
                "changed " + ", ".join(sorted(shown)),
                {k: [compare.get(k), v] for k, v in shown.items() if k != "description"},
                at=stamp,
            )
        if secret & set(clean):
            await timeline(actor, incident_id, TimelineKind.change, "reporter details changed (HR)")
        for key, role in PERSON_ROLE.items():
            if key in clean:
                await _reassign_role(incident_id, role, before[key], clean[key])
        if "severity" in clean:
            await _severity_changed(actor, before, Severity(clean["severity"]), stamp)
        if clean.get("account_id") is not None and before["account_marked_at"] is None:
            playbook = await catalogue.playbook_by_id(before["playbook_id"])
            account = await _account(clean["account_id"])
            if playbook["needs_account"] and account is not None:
                if account["status"] == AccountStatus.retired.value:
                    raise InvalidInput(f"account {account['id']} is retired", field="account_id")
                # A compromise reported without its account (intake) is marked once it is named.
                await mark_compromised(
                    actor=actor, incident=await incident_row(incident_id), account=account, at=stamp
                )
    return await get_incident(actor=actor, incident_id=incident_id)


async def _reassign_role(incident_id: int, role: str, old: int | None, new: int | None) -> None:
    """Open steps that followed the person in a role (commander, spokesperson, legal) follow the new one."""
    query = IncidentTask.update(
        {IncidentTask.assignee_id: new, IncidentTask.version: IncidentTask.version + 1}
    ).where(
        (IncidentTask.incident == incident_id)
        & (IncidentTask.state == TaskState.open.value)
        & (IncidentTask.owner_role == role)
    )
    if old is None:
        await query.where(IncidentTask.assignee_id.is_null())
    else:
        await query.where(IncidentTask.assignee_id == old)


async def _severity_changed(
    actor: Actor, before: dict[str, Any], severity: Severity, stamp: dt.datetime
) -> None:
    """Open playbook steps take the new severity's clocks; a raise to SEV1/SEV2 escalates."""
    incident_id = before["id"]
    playbook = await catalogue.playbook_by_id(before["playbook_id"])
    steps = {s["key"]: s for s in playbook["steps"]}
    start = as_utc(before["reported_at"])
    assert start is not None
    open_tasks = await IncidentTask.select(IncidentTask.id, IncidentTask.step_key).where(
        (IncidentTask.incident == incident_id) & (IncidentTask.state == TaskState.open.value)
    )
    for task in open_tasks:
        step = steps.get(task["step_key"])
        if step is not None:
            await IncidentTask.update(
                {
                    IncidentTask.due_at: step_due(step, severity, start),
                    IncidentTask.overdue_notified_at: None,
                }
            ).where(IncidentTask.id == task["id"])
    old = Severity(before["severity"])
    await timeline(
        actor,
        incident_id,
        TimelineKind.severity,
        f"severity {old.value} -> {severity.value}",
        {"from": old.value, "to": severity.value},
        at=stamp,
    )
    roles = escalation_roles(severity, playbook)
    if roles and list(Severity).index(severity) < list(Severity).index(old):
        row = await incident_row(incident_id)
        await publish(
            EventType.incident_escalated.value,
            notice_payload(row, reason="severity_raised", previous=old.value),
            summary=f"{row['reference']} raised to {severity.value}: {row['title']}",
            audience=roles,
        )


# ---------------------------------------------------------------- tasks


async def list_tasks(*, incident_id: int) -> list[dict[str, Any]]:
    """An incident's tasks in playbook order."""
    await incident_row(incident_id)
    rows = await fetch(
        f'SELECT {TASK_COLUMNS} FROM "incident_task" WHERE "incident" = $1 ORDER BY "position", "id"',
        incident_id,
    )
    return [task_out(r) for r in rows]


async def task_row(incident_id: int, task_id: int) -> dict[str, Any]:
    """One task of an incident, or NotFound."""
    rows = await fetch(
        f'SELECT {TASK_COLUMNS} FROM "incident_task" WHERE "id" = $1 AND "incident" = $2',
        task_id,
        incident_id,
    )
    if not rows:
        raise NotFound(f"task {task_id} does not exist on incident {incident_id}")
    return task_out(rows[0])


async def may_work_task(actor: Actor, task: dict[str, Any]) -> bool:
    """Comms and admins work every task; others their own: assigned to them, or their team's."""
    if actor.role in (Role.admin, Role.comms):
        return True
    if actor.user_id is not None and task["assignee_id"] == actor.user_id:
        return True
    return (actor.role == Role.hr and task["owner_role"] == OwnerRole.hr.value) or (
        actor.role == Role.it and task["owner_role"] == OwnerRole.it.value
    )


async def check_task_worker(*, actor: Actor, incident_id: int, task_id: int) -> None:
    """Refuse (audited) a task to anyone but comms, an admin, its assignee or its team."""
    if not await may_work_task(actor, await task_row(incident_id, task_id)):
        raise await refuse(
            actor,
            "incident.task",
            "incident_task",
            task_id,
            f"role '{actor.role.value if actor.role else 'none'}' may work only its own tasks",
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
            f"do these steps first: {'; '.join(waiting)}", field="requires", waiting_for=waiting
        )
    if task["kind"] == TaskKind.disciplinary.value and done:
        reviews = [o for o in others if o["kind"] == TaskKind.legal_review.value]
        if not reviews or any(o["state"] != TaskState.done.value for o in reviews):
            raise Conflict(
                "no disciplinary step before the legal review of whether the post is protected "
                "activity is done",
                field="kind",
            )
    if task["kind"] == TaskKind.rotation.value and done and not await rotation_done(incident):
        raise Conflict(
            "rotate the account's credential in the vault first "
            f"(PUT /api/v1/accounts/{incident['account_id']}/credential)",
            field="kind",
        )
    if (
        task["kind"] == TaskKind.recovery_contacts.value
        and done
        and incident["account_id"] is not None
    ):
        outside = await accounts_services.recovery_not_controlled(incident["account_id"])
        if outside:
            raise Conflict(
                f"{' and '.join(outside)} not company-controlled: change it on the platform, then "
                f"record it (PATCH /api/v1/accounts/{incident['account_id']})",
                field="kind",
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
    await check_task_worker(actor=actor, incident_id=incident_id, task_id=task_id)
    note = _clean_text(
        note,
        "reason" if state == TaskState.skipped else "note",
        5000,
        required=state == TaskState.skipped,
    )
    task = await task_row(incident_id, task_id)
    stamp = as_utc(at) or now()
    async with write_transaction():
        incident = await incident_row(incident_id)
        if incident["status"] == Status.closed.value:
            raise Conflict(f"incident {incident['reference']} is closed")
        if task["state"] != TaskState.open.value:
            raise Conflict(f"task '{task['title']}' is already {task['state']}")
        if state == TaskState.skipped and task["mandatory"]:
            raise Conflict(
                f"'{task['title']}' is mandatory: complete it with a note saying what was decided",
                field="mandatory",
            )
        await _check_can_finish(task, incident, state == TaskState.done)
        # Conditional on the task still being open: two people completing it at once get one
        # success and one conflict.
        updated = (
            await IncidentTask.update(
                {
                    IncidentTask.state: state.value,
                    IncidentTask.note: note,
                    IncidentTask.done_by: actor.user_id,
                    IncidentTask.done_at: stamp,
                    IncidentTask.version: IncidentTask.version + 1,
                }
            )
            .where((IncidentTask.id == task_id) & (IncidentTask.state == TaskState.open.value))
            .returning(IncidentTask.id)
        )
        if not updated:
            raise Conflict(
                f"task '{task['title']}' was finished at the same moment by someone else"
            )
        verb = "completed" if state == TaskState.done else "skipped"
        await timeline(
            actor,
            incident_id,
            TimelineKind.task,
            f"{verb}: {task['title']}" + (f" ({note[:300]})" if note else ""),
            {"task_id": task_id, "state": state.value},
            at=stamp,
        )
        await audit.record(
            actor,
            f"incident.task.{'complete' if state == TaskState.done else 'skip'}",
            "incident_task",
            task_id,
            {"state": [TaskState.open.value, state.value], "note": [None, note[:200]]},
        )
        if task["step_key"] == "acknowledge" and incident["acknowledged_at"] is None:
            await Incident.update(
                {Incident.acknowledged_at: stamp, Incident.version: Incident.version + 1}
            ).where(Incident.id == incident_id)
    return await task_row(incident_id, task_id)


async def add_task(*, actor: Actor, incident_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Add a task by hand (or a review's follow-up action)."""
    title = _clean_text(data.get("title"), "title", 300, required=True)
    guidance = _clean_text(data.get("guidance"), "guidance", 5000)
    try:
        phase = Phase(_value(data.get("phase") or Phase.resolve.value))
        owner = OwnerRole(_value(data.get("owner_role") or OwnerRole.comms.value))
        kind = TaskKind(_value(data.get("kind") or TaskKind.step.value))
    except ValueError as exc:
        raise InvalidInput(str(exc), field="phase") from exc
    await _active_user(data.get("assignee_id"), "assignee_id")
    due_at = given_time(data.get("due_at"), "due_at")
    requires = list(data.get("requires") or [])
    async with write_transaction():
        incident = await incident_row(incident_id)
        if incident["status"] == Status.closed.value:
            raise Conflict(f"incident {incident['reference']} is closed")
        keys = {
            r["step_key"]
            for r in await IncidentTask.select(IncidentTask.step_key).where(
                IncidentTask.incident == incident_id
            )
        }
        unknown = [k for k in requires if k not in keys]
        if unknown:
            raise InvalidInput(
                f"no such steps on this incident: {', '.join(unknown)}", field="requires"
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
    """Give a task to someone (or back to its team), optionally with a new due time."""
    await _active_user(assignee_id, "assignee_id")
    async with write_transaction():
        task = await task_row(incident_id, task_id)
        if task["version"] != version:
            raise StaleVersion(
                f"task {task_id} has changed since version {version}; read it again",
                current_version=task["version"],
            )
        if task["state"] != TaskState.open.value:
            raise Conflict(f"task '{task['title']}' is already {task['state']}")
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
            raise StaleVersion(f"task {task_id} has changed; read it again")
        await timeline(
            actor,
            incident_id,
            TimelineKind.task,
            f"reassigned: {task['title']}",
            {"task_id": task_id, "from": task["assignee_id"], "to": assignee_id},
        )
        await audit.record(
            actor,
            "incident.task.assign",
            "incident_task",
            task_id,
            {"assignee_id": [task["assignee_id"], assignee_id]}
            | ({"due_at": [task["due_at"], due_at]} if due_at else {}),
        )
    return await task_row(incident_id, task_id)


# ---------------------------------------------------------------- leavers and digests


async def open_incidents_on_accounts_of(employee_id: int) -> list[dict[str, Any]]:
    """Open incidents on the accounts a person holds or backs (the handover footprint)."""
    rows = await fetch(
        'SELECT i."id", i."reference", i."title", i."severity", i."status", i."account" AS "account_id", '
        'a."platform", a."handle" FROM "incident" i JOIN "social_account" a ON a."id" = i."account" '
        'WHERE i."status" <> $1 AND (a."custodian" = $2 OR a."backup_custodian" = $2) ORDER BY i."id"',
        Status.closed.value,
        employee_id,
    )
    return [
        {
            "kind": "open_incident",
            "incident_id": r["id"],
            "reference": r["reference"],
            "title": r["title"],
            "severity": r["severity"],
            "status": r["status"],
            "account_id": r["account_id"],
            "detail": f"{r['reference']} ({r['severity']}, {r['status']}) on {r['platform']} {r['handle']}",
        }
        for r in rows
    ]


async def past_sla(
    at: dt.datetime | None = None, owner_roles: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Open tasks past their due time on open incidents, oldest due first."""
    at = as_utc(at) or now()
    args: list[Any] = [TaskState.open.value, at, Status.closed.value]
    extra = ""
    if owner_roles is not None:
        roles = list(owner_roles)
        marks = ", ".join(f"${len(args) + n + 1}" for n in range(len(roles)))
        args += roles
        extra = f' AND t."owner_role" IN ({marks})'
    with offloaded():
        return await fetch(
            'SELECT t."id", t."title", t."due_at", t."owner_role", t."assignee_id", '
            'i."id" AS "incident_id", i."reference", i."severity" FROM "incident_task" t '
            'JOIN "incident" i ON i."id" = t."incident" '
            f'WHERE t."state" = $1 AND t."due_at" < $2 AND i."status" <> $3{extra} '
            'ORDER BY t."due_at" LIMIT 500',
            *args,
        )
