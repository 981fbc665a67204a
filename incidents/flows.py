"""The incident lifecycle: acknowledgement, status changes behind the phase gates, the clocks, the confidential intake."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from accounts.services import recover_compromised
from incidents import services
from incidents.enums import (
    PHASE_ENDED_BY,
    SEVERITIES,
    STATUS_ORDER,
    OwnerRole,
    Severity,
    Status,
    TaskState,
    TimelineKind,
)
from incidents.services import (
    file_incident,
    incident_row,
    notice_payload,
    reached,
    say,
    task_link,
    timeline,
)
from incidents.tables import Incident, IncidentTask, IntakeAttempt, Review
from register import audit
from register.actor import Actor
from register.db import as_utc, fetch, now, write_transaction
from register.enums import Role
from register.errors import Conflict, StaleVersion, TooManyAttempts
from register.i18n import N_
from register.notifications.enums import EventType, MailKind
from register.notifications.flows import publish, publish_event, publish_mail
from register.queries import expect_version

STAMP_OF = {
    Status.triaged: "triaged_at",
    Status.contained: "contained_at",
    Status.resolved: "resolved_at",
    Status.closed: "closed_at",
}

# The note the register leaves on the acknowledge step (a page says it in its reader's words).
ACKNOWLEDGED = N_("acknowledged")


async def acknowledge(
    *, actor: Actor, incident_id: int, at: dt.datetime | None = None
) -> dict[str, Any]:
    """Someone takes the incident: the acknowledgement clock stops and they lead it unless someone does."""
    stamp = as_utc(at) or now()
    async with write_transaction():
        row = await incident_row(incident_id)
        if row["acknowledged_at"] is not None:
            raise Conflict(
                N_("incident %(reference)s was already acknowledged"),
                params={"reference": row["reference"]},
            )
        commander = row["commander_id"] or actor.user_id
        updated = (
            await Incident.update(
                {
                    Incident.acknowledged_at: stamp,
                    Incident.commander_id: commander,
                    Incident.version: Incident.version + 1,
                    Incident.updated_at: stamp,
                }
            )
            .where((Incident.id == incident_id) & Incident.acknowledged_at.is_null())
            .returning(Incident.id)
        )
        if not updated:
            raise Conflict(
                N_("incident %(reference)s was acknowledged at the same moment"),
                params={"reference": row["reference"]},
            )
        if row["commander_id"] is None and commander is not None:
            await IncidentTask.update({IncidentTask.assignee_id: commander}).where(
                (IncidentTask.incident == incident_id)
                & IncidentTask.assignee_id.is_null()
                & IncidentTask.owner_role.is_in(
                    [
                        OwnerRole.commander.value,
                        OwnerRole.comms.value,
                        OwnerRole.spokesperson.value,
                    ]
                )
            )
        # The playbook's acknowledge step is this act.
        await IncidentTask.update(
            {
                IncidentTask.state: TaskState.done.value,
                IncidentTask.done_by: actor.user_id,
                IncidentTask.done_at: stamp,
                IncidentTask.note: ACKNOWLEDGED,
                IncidentTask.version: IncidentTask.version + 1,
            }
        ).where(
            (IncidentTask.incident == incident_id)
            & (IncidentTask.step_key == "acknowledge")
            & (IncidentTask.state == TaskState.open.value)
        )
        minutes = int((stamp - as_utc(row["reported_at"])).total_seconds() // 60)
        await timeline(
            actor,
            incident_id,
            TimelineKind.acknowledged,
            f"acknowledged by {actor.email} after {minutes} min",
            {"commander_id": commander},
            at=stamp,
            said=say(
                N_("acknowledged by %(email)s after %(minutes)s min"),
                email=actor.email,
                minutes=minutes,
            ),
        )
        await audit.record(
            actor,
            "incident.acknowledge",
            "incident",
            incident_id,
            {"acknowledged_at": [None, stamp], "commander_id": [row["commander_id"], commander]},
        )
    return await services.get_incident(actor=actor, incident_id=incident_id)


async def _open_mandatory(incident_id: int, phases: list[str]) -> list[str]:
    rows = await fetch(
        'SELECT "title", "phase" FROM "incident_task" WHERE "incident" = $1 AND "state" = $2 '
        'AND "mandatory" = $3 ORDER BY "position"',
        incident_id,
        TaskState.open.value,
        True,
    )
    return [f"{r['title']} ({r['phase']})" for r in rows if r["phase"] in phases]


async def change_status(
    *,
    actor: Actor,
    incident_id: int,
    status: Status,
    version: int,
    note: str = "",
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Move an incident forward; every phase passed must have its mandatory tasks done."""
    note = services.clean_text(note, "note", 5000)
    stamp = as_utc(at) or now()
    async with write_transaction():
        row = await incident_row(incident_id)
        expect_version(f"incident {row['reference']}", row["version"], version)
        current = Status(row["status"])
        if STATUS_ORDER.index(status) <= STATUS_ORDER.index(current):
            raise Conflict(
                N_("incident %(reference)s is %(status)s; status only moves forward"),
                field="status",
                params={"reference": row["reference"], "status": current.value},
            )
        passed = STATUS_ORDER[STATUS_ORDER.index(current) + 1 : STATUS_ORDER.index(status) + 1]
        # Gate: reaching a status ends its phase (and every phase before it).
        blocking = await _open_mandatory(incident_id, [PHASE_ENDED_BY[s].value for s in passed])
        if blocking:
            raise Conflict(
                N_("cannot move to %(status)s: mandatory tasks still open: %(tasks)s"),
                field="status",
                params={"status": status.value, "tasks": "; ".join(blocking)},
                open_tasks=blocking,
            )
        if Status.resolved in passed and not await services.rotation_done(row):
            raise Conflict(
                N_(
                    "cannot resolve: the compromised account's credential has not been rotated (PUT /api/v1/accounts/%(account)s/credential)"
                ),
                field="status",
                params={"account": row["account_id"]},
            )
        severity = Severity(row["severity"])
        if Status.closed in passed and SEVERITIES[severity].review_required:
            review = (
                await Review.select(Review.signed_off_at)
                .where(Review.incident == incident_id)
                .first()
            )
            if not review or review["signed_off_at"] is None:
                raise Conflict(
                    N_(
                        "a %(severity)s incident closes only after its post-incident review is signed off"
                    ),
                    field="status",
                    params={"severity": severity.value},
                )
        values: dict[str, Any] = {
            "status": status.value,
            "version": version + 1,
            "updated_at": stamp,
        }
        for reached in passed:
            if row[STAMP_OF[reached]] is None:
                values[STAMP_OF[reached]] = stamp
        if row["acknowledged_at"] is None:
            values["acknowledged_at"] = stamp
        updated = (
            await Incident.update(values)
            .where((Incident.id == incident_id) & (Incident.version == version))
            .returning(Incident.id)
        )
        if not updated:
            raise StaleVersion(
                N_("incident %(reference)s has changed; read it again"),
                params={"reference": row["reference"]},
            )
        if Status.resolved in passed and row["account_marked_at"] is not None:
            await _release_account(actor, row)
        await timeline(
            actor,
            incident_id,
            TimelineKind.status,
            f"status {current.value} -> {status.value}" + (f": {note}" if note else ""),
            {"from": current.value, "to": status.value},
            at=stamp,
            said=say(
                N_("status %(old_status)s -> %(status)s: %(note)s")
                if note
                else N_("status %(old_status)s -> %(status)s"),
                old_status=current.value,
                status=status.value,
                note=note,
            ),
        )
        await audit.record(
            actor,
            "incident.status",
            "incident",
            incident_id,
            {"status": [current.value, status.value], "note": [None, note[:200]]},
        )
        if status == Status.closed:
            fresh = await incident_row(incident_id)
            await publish(
                EventType.incident_closed.value,
                notice_payload(fresh),
                summary=f"{fresh['reference']} closed: {fresh['title']}",
                audience=[Role.comms, Role.admin],
            )
    return await services.get_incident(actor=actor, incident_id=incident_id)


async def _release_account(actor: Actor, row: dict[str, Any]) -> None:
    """The credential is rotated and the incident resolved: the account is active again."""
    others = await fetch(
        'SELECT COUNT(*) AS "n" FROM "incident" WHERE "account" = $1 AND "id" <> $2 '
        'AND "account_marked_at" IS NOT NULL AND "status" NOT IN ($3, $4)',
        row["account_id"],
        row["id"],
        Status.resolved.value,
        Status.closed.value,
    )
    if others[0]["n"]:
        return
    if await recover_compromised(
        actor=actor, account_id=row["account_id"], incident_reference=row["reference"]
    ):
        await timeline(
            actor,
            row["id"],
            TimelineKind.account,
            "account recovered: status active again",
            said=say(N_("account recovered: status active again")),
        )


async def check_clocks(*, at: dt.datetime | None = None) -> dict[str, int]:
    """Notify again what is late: unacknowledged incidents, tasks past due, status updates due."""
    at = as_utc(at) or now()
    system = Actor.system("incident clocks")
    counts = {"unacknowledged": 0, "overdue_tasks": 0, "updates_due": 0}
    for severity, clock in SEVERITIES.items():
        late = at - clock.acknowledge
        rows = await fetch(
            'SELECT "id" FROM "incident" WHERE "severity" = $1 AND "acknowledged_at" IS NULL '
            'AND "status" <> $2 AND "reported_at" < $3 AND ("escalated_at" IS NULL OR "escalated_at" < $3) '
            'ORDER BY "id" LIMIT 500',
            severity.value,
            Status.closed.value,
            late,
        )
        for r in rows:
            async with write_transaction():
                row = await incident_row(r["id"])
                done = (
                    await Incident.update({Incident.escalated_at: at})
                    .where(
                        (Incident.id == r["id"])
                        & Incident.acknowledged_at.is_null()
                        # The select's condition again: another worker may have escalated it.
                        & (Incident.escalated_at.is_null() | (Incident.escalated_at < late))
                    )
                    .returning(Incident.id)
                )
                if not done:
                    continue
                playbook = await services.playbook_by_id(row["playbook_id"])
                roles = services.escalation_roles(severity, playbook) or [Role.comms, Role.admin]
                minutes = int((at - as_utc(row["reported_at"])).total_seconds() // 60)
                published = await publish_event(
                    EventType.incident_escalated.value,
                    notice_payload(row, reason="not_acknowledged", minutes_waiting=minutes),
                    summary=f"{row['reference']} ({severity.value}) not acknowledged after {minutes} min: {row['title']}",
                    audience=roles,
                )
                said, sent = reached(published, EventType.incident_escalated.value, roles)
                await timeline(
                    system,
                    r["id"],
                    TimelineKind.escalation,
                    f"not acknowledged within {int(clock.acknowledge.total_seconds() // 60)} min: "
                    f"escalation to {', '.join(x.value for x in roles)}: {said}",
                    {"roles": [x.value for x in roles], **sent},
                    at=at,
                    said=say(
                        N_(
                            "not acknowledged within %(minutes)s min: escalation to %(roles)s: %(reach)s"
                        ),
                        minutes=int(clock.acknowledge.total_seconds() // 60),
                        roles=[x.value for x in roles],
                        reach=sent["reach"],
                    ),
                )
                await audit.record(
                    system,
                    "incident.escalate",
                    "incident",
                    r["id"],
                    {"reason": [None, "not_acknowledged"]},
                )
                counts["unacknowledged"] += 1
    tasks = await fetch(
        'SELECT t."id", t."incident" AS "incident_id", t."title", t."owner_role", t."assignee_id", t."due_at" '
        'FROM "incident_task" t JOIN "incident" i ON i."id" = t."incident" '
        'WHERE t."state" = $1 AND t."due_at" < $2 AND t."overdue_notified_at" IS NULL AND i."status" <> $3 '
        'ORDER BY t."due_at" LIMIT 500',
        TaskState.open.value,
        at,
        Status.closed.value,
    )
    for task in tasks:
        async with write_transaction():
            done = (
                await IncidentTask.update({IncidentTask.overdue_notified_at: at})
                .where(
                    (IncidentTask.id == task["id"])
                    & IncidentTask.overdue_notified_at.is_null()
                    & (IncidentTask.state == TaskState.open.value)
                )
                .returning(IncidentTask.id)
            )
            if not done:
                continue
            row = await incident_row(task["incident_id"])
            owner = task["owner_role"]
            audience = {Role.comms}
            if owner in (Role.hr.value, Role.it.value, Role.legal.value):
                audience.add(Role(owner))
            published = await publish_event(
                EventType.incident_past_sla.value,
                notice_payload(
                    row,
                    reason="task_overdue",
                    task_id=task["id"],
                    task=task["title"],
                    due_at=task["due_at"],
                    assignee_id=task["assignee_id"],
                ),
                summary=f"{row['reference']}: '{task['title']}' is past due",
                audience=sorted(audience),
            )
            said, sent = reached(published, EventType.incident_past_sla.value, audience)
            await publish_mail(
                MailKind.step_past_due,
                payload={
                    "title": task["title"],
                    "incident_ref": f"{row['reference']}: {row['title']}",
                    "due_at": task["due_at"],
                    "incident_id": row["id"],
                    "task_id": task["id"],
                },
                path=await task_link(task["assignee_id"], row["id"], task["id"]),
                summary=f"{row['reference']}: '{task['title']}' is past due",
                users=[task["assignee_id"]],
            )
            await timeline(
                system,
                row["id"],
                TimelineKind.escalation,
                f"past due: {task['title']}; reminder: {said}",
                {"task_id": task["id"], **sent},
                at=at,
                said=say(
                    N_("past due: %(title)s; reminder: %(reach)s"),
                    title=task["title"],
                    reach=sent["reach"],
                ),
            )
            counts["overdue_tasks"] += 1
    updates = await fetch(
        'SELECT "id" FROM "incident" WHERE "status" NOT IN ($1, $2) AND "next_update_due_at" < $3 '
        'AND ("update_reminded_at" IS NULL OR "update_reminded_at" < "next_update_due_at") ORDER BY "id" LIMIT 500',
        Status.resolved.value,
        Status.closed.value,
        at,
    )
    for r in updates:
        async with write_transaction():
            # Conditional, so of several workers checking the clocks one sends the reminder.
            claimed = await fetch(
                'UPDATE "incident" SET "update_reminded_at" = $1 WHERE "id" = $2 '
                'AND ("update_reminded_at" IS NULL OR "update_reminded_at" < "next_update_due_at") '
                'RETURNING "id"',
                at,
                r["id"],
            )
            if not claimed:
                continue
            row = await incident_row(r["id"])
            cadence = SEVERITIES[Severity(row["severity"])].update_every
            published = await publish_event(
                EventType.incident_past_sla.value,
                notice_payload(row, reason="status_update_due", due_at=row["next_update_due_at"]),
                summary=f"{row['reference']}: a status update is due (every {int(cadence.total_seconds() // 60)} min at {row['severity']})",
                audience=[Role.comms],
            )
            said, sent = reached(published, EventType.incident_past_sla.value, [Role.comms])
            await timeline(
                system,
                r["id"],
                TimelineKind.escalation,
                f"status update due; reminder: {said}",
                sent,
                at=at,
                said=say(N_("status update due; reminder: %(reach)s"), reach=sent["reach"]),
            )
            counts["updates_due"] += 1
    return counts


# The confidential intake: any member of staff reports without an account, anonymous if they wish.

INTAKE_PER_HOUR = 5


async def intake(*, actor: Actor, data: dict[str, Any], secret: bytes) -> dict[str, Any]:
    """A report from anyone, without an account; rate-limited per address; lands in triage."""
    address = actor.client_address or "unknown"
    # Keyed with the server's secret: a plain hash of an IPv4 address is reversed by trying
    # all of them, and the attempt's time would then tie an anonymous report to its sender.
    address_hash = hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()
    # Minutes are enough for an hourly limit, and do not line up with the report's own time.
    stamp = now().replace(second=0, microsecond=0)
    window = stamp - dt.timedelta(hours=1)
    body = {
        "title": data.get("title"),
        "description": data.get("description"),
        "category": data.get("category"),
        "severity": Severity.SEV2.value if data.get("urgent") else Severity.SEV3.value,
        "platform": data.get("platform"),
        "content_urls": data.get("content_urls") or [],
        "reporter_name": "" if data.get("anonymous", True) else data.get("reporter_name"),
        "reporter_contact": "" if data.get("anonymous", True) else data.get("reporter_contact"),
    }
    # The reporter's address stays out of the incident's audit event and timeline.
    reporter = Actor.anonymous(request_id=actor.request_id)
    # One transaction: a report refused as invalid takes its attempt back with it, so it does
    # not use up the sender's hour.
    async with write_transaction():
        recent = await IntakeAttempt.count().where(
            (IntakeAttempt.address_hash == address_hash) & (IntakeAttempt.at > window)
        )
        if recent >= INTAKE_PER_HOUR:
            raise TooManyAttempts(
                N_("at most %(count)s reports an hour from one address; try again later"),
                retry_after=3600,
                params={"count": INTAKE_PER_HOUR},
            )
        await IntakeAttempt.delete().where(IntakeAttempt.at < stamp - dt.timedelta(days=1))
        await IntakeAttempt.insert(IntakeAttempt(address_hash=address_hash, at=stamp))
        incident = await file_incident(actor=reporter, data=body, via_intake=True)
    return {
        "reference": incident["reference"],
        "received_at": incident["reported_at"],
        "anonymous": not (body["reporter_name"] or body["reporter_contact"]),
    }
