"""Filing an incident from its playbook, listing, updating; what leavers and the digest need."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from accounts import services as accounts_services
from accounts.enums import AccountStatus
from accounts.handovers import services as handover_services
from accounts.posts import services as post_services
from incidents.enums import (
    SEVERITIES,
    Category,
    OwnerRole,
    Phase,
    Severity,
    Status,
    TaskState,
    TimelineKind,
    parse_offset,
    phase_clock,
)
from incidents.services import _playbooks as catalogue
from incidents.services._checks import (
    check_account,
    check_active_user,
    check_counsel,
    check_employee,
    clean_text,
    clean_urls,
    given_time,
    platform_value,
)
from incidents.services._records import (
    LIST_COLUMNS,
    TASK_INSERT_COLUMNS,
    get_incident,
    incident_out,
    incident_row,
    notice_payload,
    stored_value,
    task_link,
)
from incidents.services._timeline import reached, say, timeline
from incidents.tables import (
    Incident,
    IncidentTask,
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
from register.enums import Role
from register.errors import (
    Conflict,
    InvalidInput,
    StaleVersion,
)
from register.i18n import N_
from register.notifications.enums import EventType, MailKind
from register.notifications.flows import publish, publish_event, publish_mail
from register.queries import expect_version, page, page_bounds, search_pattern
from register.staff.services import employees_by_id


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
        # Legal steps go to the counsel named, else to the legal team: only they may sign them.
        return people.get("legal")
    return people.get("commander")


def worst(*severities: str) -> str:
    """The highest of some severities (SEV1 is the highest); blanks are ignored."""
    return min((s for s in severities if s), key=lambda s: list(Severity).index(Severity(s)))


def escalation_roles(severity: Severity, playbook: dict[str, Any]) -> list[Role]:
    """Who is told when an incident of this severity is filed or escalates."""
    roles = set(SEVERITIES[severity].escalation_roles)
    if roles:
        roles |= {Role(r) for r in playbook["escalate_to"]}
    return sorted(roles)


async def file_incident(
    *, actor: Actor, data: dict[str, Any], via_intake: bool = False, at: dt.datetime | None = None
) -> dict[str, Any]:
    """File an incident: reference, the playbook's tasks with their clocks, escalation, timeline."""
    title = clean_text(data.get("title"), "title", 300, required=True)
    description = clean_text(data.get("description"), "description", 20000)
    try:
        category = Category(stored_value(data.get("category")))
    except ValueError as exc:
        raise InvalidInput(
            N_("'%(value)s' is not a category"),
            field="category",
            params={"value": data.get("category")},
        ) from exc
    try:
        severity = Severity(stored_value(data.get("severity") or Severity.SEV3.value))
    except ValueError as exc:
        raise InvalidInput(
            N_("'%(value)s' is not a severity"),
            field="severity",
            params={"value": data.get("severity")},
        ) from exc
    urls = clean_urls(data.get("content_urls"))
    reporter_name = clean_text(data.get("reporter_name"), "reporter_name", 200)
    reporter_contact = clean_text(data.get("reporter_contact"), "reporter_contact", 320)
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
        if key == "legal":
            await check_counsel(value, "legal_id")
            continue
        if value is not None and value == actor.user_id:
            continue  # the caller is signed in, so active
        await check_active_user(value, "commander_id" if key == "commander" else f"{key}_id")
    await check_employee(data.get("employee_id"), "employee_id")
    account = await check_account(data.get("account_id"))
    platform = platform_value(data.get("platform")) or (account["platform"] if account else "")
    stamp = as_utc(at) or now()
    async with write_transaction():
        playbook = await catalogue.current_playbook(category)
        if playbook["needs_account"]:
            # A reporter without an account cannot know the register's ids: comms link the
            # account in triage, and linking it marks it (update_incident).
            if account is None and not via_intake:
                raise InvalidInput(
                    N_("a compromise names the registered account concerned"), field="account_id"
                )
            if account is not None and account["status"] == AccountStatus.retired.value:
                raise InvalidInput(
                    N_("account %(id)s is retired"),
                    field="account_id",
                    params={"id": account["id"]},
                )
        reference = await next_reference(stamp.year)
        clock = SEVERITIES[severity]
        rows = await Incident.insert(
            Incident(
                reference=reference,
                title=title,
                description=description,
                category=category.value,
                severity=severity.value,
                severity_at_filing=severity.value,
                highest_severity=severity.value,
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
            said=say(
                N_(
                    "%(reference)s filed as %(severity)s %(category)s through the confidential intake"
                )
                if via_intake
                else N_("%(reference)s filed as %(severity)s %(category)s"),
                reference=reference,
                severity=severity.value,
                category=category.value,
            ),
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
        await _mail_named(actor, row, tasks)
        roles = escalation_roles(severity, playbook)
        await publish(
            EventType.incident_filed.value,
            notice_payload(row),
            summary=f"{reference} filed: {title} ({severity.value}, {category.value})",
            audience=sorted({Role.comms, Role.admin, *roles}),
        )
        if roles:
            published = await publish_event(
                EventType.incident_escalated.value,
                notice_payload(row, reason="filed", roles=[r.value for r in roles]),
                summary=f"{severity.value} {reference}: {title}; acknowledge within "
                f"{int(clock.acknowledge.total_seconds() // 60)} minutes",
                audience=roles,
            )
            said, sent = reached(published, EventType.incident_escalated.value, roles)
            await timeline(
                actor,
                incident_id,
                TimelineKind.escalation,
                f"{severity.value}: escalation to {', '.join(r.value for r in roles)}: {said}",
                {"roles": [r.value for r in roles], **sent},
                at=stamp,
                said=say(
                    N_("%(severity)s: escalation to %(roles)s: %(reach)s"),
                    severity=severity.value,
                    roles=[r.value for r in roles],
                    reach=sent["reach"],
                ),
            )
        if playbook["needs_account"] and account is not None:
            await mark_compromised(actor=actor, incident=row, account=account, at=stamp)
    return incident_out(row, actor)


async def _mail_named(actor: Actor, incident: dict[str, Any], tasks: list[tuple[Any, ...]]) -> None:
    """Each person named on filing hears of the steps that are theirs, in one mail."""
    by_person: dict[int, list[str]] = {}
    for task in tasks:
        # (incident, key, title, guidance, phase, owner, kind, assignee, due, ...)
        if task[7] is not None:
            by_person.setdefault(task[7], []).append(task[2])
    await _mail_steps(actor, incident, by_person)


async def _mail_steps(
    actor: Actor, incident: dict[str, Any], by_person: dict[int, list[str]]
) -> None:
    """One mail to each person listing the incident's steps that just became theirs."""
    for assignee, titles in by_person.items():
        await publish_mail(
            MailKind.incident_task_assigned,
            payload={
                "title": "; ".join(titles[:3]) + (" …" if len(titles) > 3 else ""),
                "reference": incident["reference"],
                "incident": incident["title"],
                "incident_id": incident["id"],
                "sections": [{"title": "Your steps", "count": len(titles), "items": titles}],
            },
            path=await task_link(assignee, incident["id"]),
            summary=f"{incident['reference']}: {len(titles)} task(s) are theirs",
            users=[assignee],
            actor=actor,
        )


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
    people = await employees_by_id([account["custodian"], account["backup_custodian"]])
    custodians = [people[i] for i in sorted(people)]
    # The custodians are not subscribers: IT is told, with their names, to reach them.
    published = await publish_event(
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
    said, sent = reached(published, EventType.incident_escalated.value, [Role.it])
    await timeline(
        actor,
        incident_id,
        TimelineKind.account,
        f"account {account['platform']} {account['handle']} marked compromised; credential "
        "rotation-due; notice to IT for the custodians "
        f"({', '.join(c['name'] for c in custodians) or 'none on record'}): {said}",
        {"account_id": account["id"], "custodians": [c["id"] for c in custodians], **sent},
        at=at,
        said=say(
            N_(
                "account %(platform)s %(handle)s marked compromised; its credential is due for "
                "rotation; notice to IT for the custodians (%(names)s): %(reach)s"
            ),
            platform=account["platform"],
            handle=account["handle"],
            names=", ".join(c["name"] for c in custodians) or "-",
            reach=sent["reach"],
        ),
    )


async def rotation_done(incident: dict[str, Any]) -> bool:
    """Whether the compromised account's credential was rotated since the incident marked it."""
    if incident["account_id"] is None or incident["account_marked_at"] is None:
        return True
    return await accounts_services.rotated_since(
        incident["account_id"], incident["account_marked_at"]
    )


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
        args.append(search_pattern(q.strip()))
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
    "post_request_id",
)


COLUMN_OF = {
    "account_id": "account",
    "employee_id": "employee",
    "post_request_id": "post_request",
}


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
            actor,
            "incident.reporter",
            "incident",
            incident_id,
            N_("only HR records a named reporter"),
        )
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "title":
            clean[key] = clean_text(value, key, 300, required=True)
        elif key == "description":
            clean[key] = clean_text(value, key, 20000)
        elif key == "reporter_name":
            clean[key] = clean_text(value, key, 200)
        elif key == "reporter_contact":
            clean[key] = clean_text(value, key, 320)
        elif key == "severity":
            try:
                clean[key] = Severity(stored_value(value)).value
            except ValueError as exc:
                raise InvalidInput(
                    N_("'%(value)s' is not a severity"), field="severity", params={"value": value}
                ) from exc
        elif key == "platform":
            clean[key] = platform_value(value)
        elif key == "content_urls":
            clean[key] = clean_urls(value)
        elif key == "legal_id":
            await check_counsel(value, key)
            clean[key] = value
        elif key in PERSON_ROLE:
            await check_active_user(value, key)
            clean[key] = value
        elif key == "employee_id":
            await check_employee(value, key)
            clean[key] = value
        elif key == "account_id":
            await check_account(value)
            clean[key] = value
        elif key == "post_request_id":
            if value is not None and not await post_services.post_request_exists(value):
                raise InvalidInput(
                    N_("post request %(id)s does not exist"), field=key, params={"id": value}
                )
            clean[key] = value
    stamp = now()
    async with write_transaction():
        before = await incident_row(incident_id)
        expect_version(f"incident {before['reference']}", before["version"], version)
        if before["status"] == Status.closed.value:
            raise Conflict(
                N_("incident %(reference)s is closed"), params={"reference": before["reference"]}
            )
        if "account_id" in clean and before["account_marked_at"] is not None:
            if clean["account_id"] != before["account_id"]:
                raise Conflict(
                    N_("the compromised account of this incident cannot be changed"),
                    field="account_id",
                )
        compare = {**before, "content_urls": json_value(before["content_urls"])}
        clean = {k: v for k, v in clean.items() if compare.get(k) != v}
        if not clean:
            return incident_out(before, actor)
        values: dict[str, Any] = {COLUMN_OF.get(k, k): v for k, v in clean.items()}
        if "content_urls" in values:
            values["content_urls"] = json.dumps(values["content_urls"])
        if "severity" in clean:
            # The status-update clock runs from the last status update (or the filing) at the
            # new severity's cadence, so a lowered incident is not reminded on the old one's; a
            # reminder already sent was for the old severity.
            cadence = SEVERITIES[Severity(clean["severity"])].update_every
            values["next_update_due_at"] = await _last_status_update(before) + cadence
            values["update_reminded_at"] = None
            values["highest_severity"] = worst(
                clean["severity"], before["severity"], before["highest_severity"]
            )
        updated = (
            await Incident.update({**values, "version": version + 1, "updated_at": stamp})
            .where((Incident.id == incident_id) & (Incident.version == version))
            .returning(Incident.id)
        )
        if not updated:
            raise StaleVersion(
                N_("incident %(reference)s has changed; read it again"),
                params={"reference": before["reference"]},
            )
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
                said=say(N_("changed %(fields)s"), fields=sorted(shown)),
            )
        if secret & set(clean):
            await timeline(
                actor,
                incident_id,
                TimelineKind.change,
                "reporter details changed (HR)",
                said=say(N_("reporter details changed (HR)")),
            )
        # Each kind of step goes to whom it would go on filing with the people as they are now
        # (a spokesperson's step sat with the commander until a spokesperson was named).
        was = {role: before[key] for key, role in PERSON_ROLE.items()}
        named = {role: clean.get(key, before[key]) for key, role in PERSON_ROLE.items()}
        moved: dict[int, list[str]] = {}
        for owner in (
            OwnerRole.commander,
            OwnerRole.comms,
            OwnerRole.spokesperson,
            OwnerRole.legal,
        ):
            old, new = _assignee(owner.value, was), _assignee(owner.value, named)
            if old != new:
                titles = await _reassign_role(incident_id, owner.value, old, new)
                if new is not None and titles:
                    moved.setdefault(new, []).extend(titles)
        if moved:
            await _mail_steps(actor, await incident_row(incident_id), moved)
        if "severity" in clean:
            await _severity_changed(actor, before, Severity(clean["severity"]), stamp)
        if clean.get("account_id") is not None and before["account_marked_at"] is None:
            playbook = await catalogue.playbook_by_id(before["playbook_id"])
            account = await check_account(clean["account_id"])
            if playbook["needs_account"] and account is not None:
                if account["status"] == AccountStatus.retired.value:
                    raise InvalidInput(
                        N_("account %(id)s is retired"),
                        field="account_id",
                        params={"id": account["id"]},
                    )
                # A compromise reported without its account (intake) is marked once it is named.
                await mark_compromised(
                    actor=actor, incident=await incident_row(incident_id), account=account, at=stamp
                )
    return await get_incident(actor=actor, incident_id=incident_id)


async def _reassign_role(
    incident_id: int, role: str, old: int | None, new: int | None
) -> list[str]:
    """Open steps of one owner still with whom they went follow the one they go to now; their titles."""
    query = (
        IncidentTask.update(
            {IncidentTask.assignee_id: new, IncidentTask.version: IncidentTask.version + 1}
        )
        .where(
            (IncidentTask.incident == incident_id)
            & (IncidentTask.state == TaskState.open.value)
            & (IncidentTask.owner_role == role)
        )
        .returning(IncidentTask.title)
    )
    if old is None:
        rows = await query.where(IncidentTask.assignee_id.is_null())
    else:
        rows = await query.where(IncidentTask.assignee_id == old)
    return [r["title"] for r in rows]


async def _last_status_update(incident: dict[str, Any]) -> dt.datetime:
    """When the last status update was posted, else when the incident was filed."""
    rows = await fetch(
        'SELECT "at" FROM "timeline_entry" WHERE "incident" = $1 AND "kind" = $2 '
        'ORDER BY "at" DESC LIMIT 1',
        incident["id"],
        TimelineKind.status_update.value,
    )
    start = as_utc(rows[0]["at"] if rows else incident["reported_at"])
    assert start is not None
    return start


async def _severity_changed(
    actor: Actor, before: dict[str, Any], severity: Severity, stamp: dt.datetime
) -> None:
    """Open playbook steps take the new severity's clocks; a raise to SEV1/SEV2 escalates."""
    incident_id = before["id"]
    playbook = await catalogue.playbook_by_id(before["playbook_id"])
    steps = {s["key"]: s for s in playbook["steps"]}
    start = as_utc(before["reported_at"])
    assert start is not None
    old = Severity(before["severity"])
    open_tasks = await IncidentTask.select(
        IncidentTask.id, IncidentTask.step_key, IncidentTask.due_at
    ).where((IncidentTask.incident == incident_id) & (IncidentTask.state == TaskState.open.value))
    for task in open_tasks:
        step = steps.get(task["step_key"])
        # A due time someone set by hand (assign with due_at) is theirs, not the clock's: only
        # a due time still on the old severity's clock moves.
        if step is not None and as_utc(task["due_at"]) == step_due(step, old, start):
            await IncidentTask.update(
                {
                    IncidentTask.due_at: step_due(step, severity, start),
                    IncidentTask.overdue_notified_at: None,
                }
            ).where(IncidentTask.id == task["id"])
    text = f"severity {old.value} -> {severity.value}"
    data: dict[str, Any] = {"from": old.value, "to": severity.value}
    said = say(
        N_("severity %(old_severity)s -> %(severity)s"),
        old_severity=old.value,
        severity=severity.value,
    )
    roles = escalation_roles(severity, playbook)
    if roles and list(Severity).index(severity) < list(Severity).index(old):
        row = await incident_row(incident_id)
        published = await publish_event(
            EventType.incident_escalated.value,
            notice_payload(row, reason="severity_raised", previous=old.value),
            summary=f"{row['reference']} raised to {severity.value}: {row['title']}",
            audience=roles,
        )
        reach, sent = reached(published, EventType.incident_escalated.value, roles)
        text += f"; escalation to {', '.join(r.value for r in roles)}: {reach}"
        data |= {"roles": [r.value for r in roles], **sent}
        said = say(
            N_("severity %(old_severity)s -> %(severity)s; escalation to %(roles)s: %(reach)s"),
            old_severity=old.value,
            severity=severity.value,
            roles=[r.value for r in roles],
            reach=sent["reach"],
        )
    await timeline(actor, incident_id, TimelineKind.severity, text, data, at=stamp, said=said)


async def open_incidents_on_accounts_of(employee_id: int) -> list[dict[str, Any]]:
    """Open incidents on the accounts a person holds or backs, or their live handover names."""
    # Once custody has moved the account is no longer theirs, but an incident on it is still
    # part of their handover, and of its certificate.
    accounts = {
        **await handover_services.handover_accounts(employee_id),
        **await accounts_services.in_custody_of(employee_id),
    }
    if not accounts:
        return []
    marks = ", ".join(f"${n + 2}" for n in range(len(accounts)))
    rows = await fetch(
        'SELECT "id", "reference", "title", "severity", "status", "account" AS "account_id" '
        f'FROM "incident" WHERE "status" <> $1 AND "account" IN ({marks}) ORDER BY "id"',
        Status.closed.value,
        *sorted(accounts),
    )
    for r in rows:
        r.update(
            platform=accounts[r["account_id"]]["platform"],
            handle=accounts[r["account_id"]]["handle"],
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
