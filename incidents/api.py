"""HTTP controllers of incidents: filing, the incident, tasks, timeline, evidence, reports, review,
metrics, the confidential intake, and playbooks."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.params import Body, FromQuery, JSONBody, PathParameter, QueryParameter
from msgspec import UNSET, structs

from accounts.enums import Platform
from incidents import flows, services
from incidents.enums import (
    SEVERITIES,
    Category,
    EvidenceKind,
    Severity,
    Status,
    TaskState,
    TimelineKind,
)
from incidents.schemas import (
    ActionIn,
    EvidenceOpened,
    EvidenceOut,
    EvidenceUrlIn,
    IncidentCreate,
    IncidentOut,
    IncidentPage,
    IncidentSummary,
    IncidentUpdate,
    IntakeIn,
    IntakeOut,
    Metrics,
    MyTask,
    NoteIn,
    PlaybookEdit,
    PlaybookOut,
    ReportIn,
    ReportOut,
    ReportUpdate,
    ReviewHit,
    ReviewIn,
    ReviewOut,
    ReviewPage,
    SeverityOut,
    SignOff,
    StatusChange,
    TaskAssign,
    TaskComplete,
    TaskCreate,
    TaskOut,
    TaskSkip,
    TimelineOut,
    TimelinePage,
)
from register.access import object_guard
from register.errors import Conflict, InvalidInput, NotFound
from register.http import attachment
from register.i18n import N_
from register.openapi import (
    NO_STORE,
    ActorDep,
    Idempotent,
    Limit,
    Offset,
    Public,
    Text,
    problems,
    public_problems,
)

IncidentId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
ChildId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
EVIDENCE_FORM: dict[str, Any] = {
    "properties": {
        "file": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.BINARY,
            description="The screenshot or file (up to 10 MB).",
        ),
        "description": Schema(type=OpenAPIType.STRING, max_length=2000),
        "captured_at": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.DATE_TIME,
            description="When it was captured, if before the upload.",
        ),
    },
    "required": ["file"],
}


def _keyring(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.keyring.get()


def _category(value: str) -> Category:
    try:
        return Category(value)
    except ValueError as exc:
        raise NotFound(N_("no category '%(value)s'"), params={"value": value[:60]}) from exc


class IncidentController(Controller):
    """Social media incidents worked through their category's playbook (comms)."""

    path = "/api/v1/incidents"
    tags = ["incidents"]

    @get("/", opt={"action": "incident.read", "replica_reads": True}, responses=problems())
    async def list_incidents(
        self,
        actor: ActorDep,
        limit: Limit = 50,
        offset: Offset = 0,
        status: FromQuery[Status | None] = None,
        severity: FromQuery[Severity | None] = None,
        category: FromQuery[Category | None] = None,
        platform: FromQuery[Platform | None] = None,
        account_id: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
        employee_id: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
        commander_id: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
        open_only: Annotated[
            bool | None,
            QueryParameter(name="open", description="true: not closed; false: closed only."),
        ] = None,
        reported_from: FromQuery[dt.datetime | None] = None,
        reported_to: FromQuery[dt.datetime | None] = None,
        q: Text(200, "Text in title or reference.") = None,
    ) -> IncidentPage:
        """Incidents filtered by status, severity, category, platform, account, people or period."""
        items, next_offset = await services.list_incidents(
            actor=actor,
            limit=limit,
            offset=offset,
            status=status,
            severity=severity,
            category=category,
            platform=platform.value if platform else None,
            account_id=account_id,
            employee_id=employee_id,
            commander_id=commander_id,
            open_only=open_only,
            reported_from=reported_from,
            reported_to=reported_to,
            q=q,
        )
        return IncidentPage(
            items=[IncidentSummary(**i) for i in items],
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    @post(
        "/",
        opt={"action": "incident.file", "idempotent": True},
        responses=problems(409),
        operation_class=Idempotent,
    )
    async def file_incident(self, data: JSONBody[IncidentCreate], actor: ActorDep) -> IncidentOut:
        """File an incident: its tasks come from the category's current playbook with the severity's clocks."""
        return IncidentOut(**await services.file_incident(actor=actor, data=structs.asdict(data)))

    @get("/tasks/mine", opt={"action": "incident.task"}, responses=problems())
    async def my_tasks(
        self,
        actor: ActorDep,
        days: Annotated[
            int,
            QueryParameter(
                ge=0,
                le=services.MAX_RECENT_DAYS,
                description="Also the tasks finished within this many days.",
            ),
        ] = services.RECENT_DAYS,
    ) -> list[MyTask]:
        """The tasks assigned to you across incidents: open ones soonest due first, then those finished lately (staff: theirs only, with the incident named)."""
        return msgspec.convert(await services.my_tasks(actor=actor, days=days), list[MyTask])

    @get("/severities", opt={"action": "incident.read"}, responses=problems())
    async def severities(self) -> list[SeverityOut]:
        """What SEV1-SEV4 mean, and their clocks."""
        return [
            SeverityOut(
                severity=s.value,
                definition=c.definition,
                acknowledge_minutes=int(c.acknowledge.total_seconds() // 60),
                contain_minutes=int(c.contain.total_seconds() // 60),
                resolve_minutes=int(c.resolve.total_seconds() // 60),
                review_minutes=int(c.review.total_seconds() // 60),
                update_every_minutes=int(c.update_every.total_seconds() // 60),
                escalation_roles=[r.value for r in c.escalation_roles],
                review_required=c.review_required,
            )
            for s, c in SEVERITIES.items()
        ]

    @get(
        "/metrics", opt={"action": "incident.metrics", "replica_reads": True}, responses=problems()
    )
    async def metrics(
        self,
        since: FromQuery[dt.datetime | None] = None,
        until: FromQuery[dt.datetime | None] = None,
    ) -> Metrics:
        """Time to acknowledge, contain and resolve by severity and category; open incidents; overdue tasks."""
        return Metrics(**await services.metrics(since=since, until=until))  # type: ignore[arg-type]

    @get("/reviews", opt={"action": "incident.read", "replica_reads": True}, responses=problems())
    async def search_reviews(
        self,
        limit: Limit = 50,
        offset: Offset = 0,
        q: Text(200, "Text anywhere in the review.") = None,
        category: FromQuery[Category | None] = None,
    ) -> ReviewPage:
        """Post-incident reviews, searched."""
        items, next_offset = await services.search_reviews(
            q=q, limit=limit, offset=offset, category=category
        )
        return ReviewPage(
            items=[ReviewHit(**i) for i in items],
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    @post(
        "/intake",
        opt={"action": "public"},
        responses=public_problems(422, 429),
        operation_class=Public,
    )
    async def intake(
        self, request: Request[Any, Any, Any], data: JSONBody[IntakeIn], actor: ActorDep
    ) -> IntakeOut:
        """Confidential report from any staff member, no account needed; anonymous unless you give a name (seen by HR only)."""
        return IntakeOut(
            **await flows.intake(
                actor=actor,
                data=structs.asdict(data),
                secret=request.app.state.secrets.secret_key,
            )
        )

    @get("/{incident_id:int}", opt={"action": "incident.read"}, responses=problems(404))
    async def get_incident(self, incident_id: IncidentId, actor: ActorDep) -> IncidentOut:
        """One incident (a named reporter is shown to HR only)."""
        return IncidentOut(**await services.get_incident(actor=actor, incident_id=incident_id))

    @patch("/{incident_id:int}", opt={"action": "incident.write"}, responses=problems(404, 409))
    async def update_incident(
        self, incident_id: IncidentId, data: JSONBody[IncidentUpdate], actor: ActorDep
    ) -> IncidentOut:
        """Change an incident; send the version you read. A severity change moves the clocks."""
        changes = {
            k: v
            for k, v in structs.asdict(data).items()
            if v is not UNSET and k not in ("version", "reporter_name", "reporter_contact")
        }
        if data.reporter_name is not UNSET or data.reporter_contact is not UNSET:
            raise InvalidInput(
                N_("the reporter is recorded by HR: PUT /api/v1/incidents/{id}/reporter"),
                field="reporter_name",
            )
        return IncidentOut(
            **await services.update_incident(
                actor=actor, incident_id=incident_id, version=data.version, changes=changes
            )
        )

    @put(
        "/{incident_id:int}/reporter",
        opt={"action": "incident.reporter"},
        responses=problems(404, 409),
    )
    async def set_reporter(
        self, incident_id: IncidentId, data: JSONBody[IncidentUpdate], actor: ActorDep
    ) -> IncidentOut:
        """HR records or corrects a named reporter (only reporter_name and reporter_contact)."""
        changes = {
            k: v
            for k, v in structs.asdict(data).items()
            if v is not UNSET and k in ("reporter_name", "reporter_contact")
        }
        other = [
            k
            for k, v in structs.asdict(data).items()
            if v is not UNSET and k not in ("version", "reporter_name", "reporter_contact")
        ]
        if other:
            raise InvalidInput(N_("only reporter_name and reporter_contact here"), field=other[0])
        return IncidentOut(
            **await services.update_incident(
                actor=actor, incident_id=incident_id, version=data.version, changes=changes
            )
        )

    @post(
        "/{incident_id:int}/acknowledge",
        opt={"action": "incident.write"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def acknowledge(self, incident_id: IncidentId, actor: ActorDep) -> IncidentOut:
        """Take the incident: stops the acknowledgement clock; you lead it unless a commander is named."""
        return IncidentOut(**await flows.acknowledge(actor=actor, incident_id=incident_id))

    @post(
        "/{incident_id:int}/status",
        opt={"action": "incident.write"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def change_status(
        self, incident_id: IncidentId, data: JSONBody[StatusChange], actor: ActorDep
    ) -> IncidentOut:
        """Move forward; refused while a passed phase has mandatory tasks open (SEV1/SEV2 close after a signed-off review)."""
        return IncidentOut(
            **await flows.change_status(
                actor=actor,
                incident_id=incident_id,
                status=data.status,
                version=data.version,
                note=data.note,
            )
        )

    @get("/{incident_id:int}/tasks", opt={"action": "incident.read"}, responses=problems(404))
    async def list_tasks(self, incident_id: IncidentId) -> list[TaskOut]:
        """The incident's tasks in playbook order."""
        return [TaskOut(**t) for t in await services.list_tasks(incident_id=incident_id)]

    @post(
        "/{incident_id:int}/tasks",
        opt={"action": "incident.write", "idempotent": True},
        responses=problems(404, 409),
        operation_class=Idempotent,
    )
    async def add_task(
        self, incident_id: IncidentId, data: JSONBody[TaskCreate], actor: ActorDep
    ) -> TaskOut:
        """Add a task by hand."""
        return TaskOut(
            **await services.add_task(
                actor=actor, incident_id=incident_id, data=structs.asdict(data)
            )
        )

    @post(
        "/{incident_id:int}/tasks/{task_id:int}/complete",
        guards=[object_guard(services.check_task_worker)],
        opt={"action": "incident.task"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def complete_task(
        self,
        incident_id: IncidentId,
        task_id: ChildId,
        data: JSONBody[TaskComplete],
        actor: ActorDep,
    ) -> TaskOut:
        """Complete a task with a note; its prerequisites must be done (HR and IT: their own tasks; staff: those assigned to them, with a note; legal steps: legal counsel or an admin, who sign them off)."""
        return TaskOut(
            **await services.finish_task(
                actor=actor,
                incident_id=incident_id,
                task_id=task_id,
                state=TaskState.done,
                note=data.note,
            )
        )

    @post(
        "/{incident_id:int}/tasks/{task_id:int}/skip",
        guards=[object_guard(services.check_task_skipper)],
        opt={"action": "incident.task"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def skip_task(
        self, incident_id: IncidentId, task_id: ChildId, data: JSONBody[TaskSkip], actor: ActorDep
    ) -> TaskOut:
        """Skip a task that is not mandatory, with a reason (not staff: they complete theirs)."""
        return TaskOut(
            **await services.finish_task(
                actor=actor,
                incident_id=incident_id,
                task_id=task_id,
                state=TaskState.skipped,
                note=data.reason,
            )
        )

    @post(
        "/{incident_id:int}/tasks/{task_id:int}/assign",
        opt={"action": "incident.write"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def assign_task(
        self, incident_id: IncidentId, task_id: ChildId, data: JSONBody[TaskAssign], actor: ActorDep
    ) -> TaskOut:
        """Reassign a task (and optionally move its due time); send the version you read."""
        return TaskOut(
            **await services.assign_task(
                actor=actor,
                incident_id=incident_id,
                task_id=task_id,
                version=data.version,
                assignee_id=data.assignee_id,
                due_at=data.due_at,
            )
        )

    @get("/{incident_id:int}/timeline", opt={"action": "incident.read"}, responses=problems(404))
    async def timeline(
        self,
        incident_id: IncidentId,
        limit: Limit = 100,
        offset: Offset = 0,
        kind: FromQuery[TimelineKind | None] = None,
    ) -> TimelinePage:
        """Everything that happened, oldest first."""
        items, next_offset = await services.list_timeline(
            incident_id=incident_id, limit=limit, offset=offset, kind=kind
        )
        return TimelinePage(
            items=[TimelineOut(**i) for i in items],
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    @post(
        "/{incident_id:int}/notes",
        opt={"action": "incident.write", "idempotent": True},
        responses=problems(404, 409),
        operation_class=Idempotent,
    )
    async def add_note(
        self, incident_id: IncidentId, data: JSONBody[NoteIn], actor: ActorDep
    ) -> TimelineOut:
        """Add a note; a status update restarts the severity's update cadence."""
        return TimelineOut(
            **await services.add_note(
                actor=actor,
                incident_id=incident_id,
                text=data.text,
                status_update=data.status_update,
            )
        )

    @get("/{incident_id:int}/evidence", opt={"action": "incident.read"}, responses=problems(404))
    async def list_evidence(self, incident_id: IncidentId) -> list[EvidenceOut]:
        """Evidence captured (metadata and SHA-256; contents through the audited reads)."""
        return [EvidenceOut(**e) for e in await services.list_evidence(incident_id=incident_id)]

    @post(
        "/{incident_id:int}/evidence",
        opt={"action": "incident.write", "idempotent": True},
        responses=problems(404, 409),
        operation_class=Idempotent,
    )
    async def add_url_evidence(
        self,
        request: Request[Any, Any, Any],
        incident_id: IncidentId,
        data: JSONBody[EvidenceUrlIn],
        actor: ActorDep,
    ) -> EvidenceOut:
        """Capture a link as evidence (stored encrypted, SHA-256 recorded)."""
        return EvidenceOut(
            **await services.add_evidence(
                actor=actor,
                keyring=_keyring(request),
                incident_id=incident_id,
                kind=EvidenceKind.url,
                url=data.url,
                description=data.description,
                captured_at=data.captured_at,
            )
        )

    @post(
        "/{incident_id:int}/evidence/files",
        opt={"action": "incident.write", "idempotent": True},
        responses=problems(404, 409, 413),
        operation_class=Idempotent,
    )
    async def add_file_evidence(
        self,
        request: Request[Any, Any, Any],
        incident_id: IncidentId,
        data: Annotated[
            dict[str, Any],
            Body(
                media_type=RequestEncodingType.MULTI_PART,
                description="Fields: file, optional description and captured_at.",
                schema_extra=EVIDENCE_FORM,
            ),
        ],
        actor: ActorDep,
    ) -> EvidenceOut:
        """Upload a screenshot or file as evidence (stored encrypted, SHA-256 recorded)."""
        upload = data.get("file")
        if isinstance(upload, UploadFile):
            content = await upload.read()
            filename, media_type = upload.filename or "evidence", upload.content_type or ""
        elif isinstance(upload, bytes | str):
            content = upload.encode() if isinstance(upload, str) else upload
            filename, media_type = "evidence", "application/octet-stream"
        else:
            raise InvalidInput(N_("send the file as the 'file' field"), field="file")
        captured = data.get("captured_at")
        captured_at = None
        if isinstance(captured, str) and captured.strip():
            try:
                captured_at = dt.datetime.fromisoformat(captured.strip().replace("Z", "+00:00"))
            except ValueError as exc:
                raise InvalidInput(
                    N_("captured_at is not an ISO 8601 time"), field="captured_at"
                ) from exc
            if captured_at.tzinfo is None:
                raise InvalidInput(N_("captured_at needs a time zone"), field="captured_at")
        description = data.get("description")
        return EvidenceOut(
            **await services.add_evidence(
                actor=actor,
                keyring=_keyring(request),
                incident_id=incident_id,
                kind=EvidenceKind.file,
                description=description if isinstance(description, str) else "",
                captured_at=captured_at,
                filename=filename,
                media_type=media_type,
                content=content,
            )
        )

    @get(
        "/{incident_id:int}/evidence/{evidence_id:int}",
        opt={"action": "incident.evidence"},
        responses=problems(404),
    )
    async def open_evidence(
        self,
        request: Request[Any, Any, Any],
        incident_id: IncidentId,
        evidence_id: ChildId,
        actor: ActorDep,
    ) -> Response[EvidenceOpened]:
        """Open an evidence item: the URL, or the file's name (audited, not cached)."""
        opened = await services.open_evidence(
            actor=actor, keyring=_keyring(request), incident_id=incident_id, evidence_id=evidence_id
        )
        opened.pop("content", None)
        return Response(EvidenceOpened(**opened), headers=NO_STORE)

    @get(
        "/{incident_id:int}/evidence/{evidence_id:int}/content",
        opt={"action": "incident.evidence"},
        media_type="application/octet-stream",
        responses=problems(404, 409),
    )
    async def download_evidence(
        self,
        request: Request[Any, Any, Any],
        incident_id: IncidentId,
        evidence_id: ChildId,
        actor: ActorDep,
    ) -> Response[bytes]:
        """Download an evidence file (audited, not cached); the SHA-256 header lets you check it."""
        meta = await services.evidence_meta(incident_id, evidence_id)
        if meta["kind"] != EvidenceKind.file.value:
            raise Conflict(N_("this evidence is a link, not a file: GET it without /content"))
        opened = await services.open_evidence(
            actor=actor, keyring=_keyring(request), incident_id=incident_id, evidence_id=evidence_id
        )
        return Response(
            opened["content"],
            media_type="application/octet-stream",
            headers={
                **NO_STORE,
                "Content-Disposition": attachment(opened["filename"], "evidence"),
                "X-Content-SHA256": opened["sha256"],
            },
        )

    @get(
        "/{incident_id:int}/platform-reports",
        opt={"action": "incident.read"},
        responses=problems(404),
    )
    async def list_reports(self, incident_id: IncidentId) -> list[ReportOut]:
        """Reports made to platforms, with their answers and outcomes."""
        return [ReportOut(**r) for r in await services.list_reports(incident_id=incident_id)]

    @post(
        "/{incident_id:int}/platform-reports",
        opt={"action": "incident.write", "idempotent": True},
        responses=problems(404, 409),
        operation_class=Idempotent,
    )
    async def add_report(
        self, incident_id: IncidentId, data: JSONBody[ReportIn], actor: ActorDep
    ) -> ReportOut:
        """Record a report made to a platform (report id, when submitted)."""
        return ReportOut(
            **await services.add_report(
                actor=actor, incident_id=incident_id, data=structs.asdict(data)
            )
        )

    @patch(
        "/{incident_id:int}/platform-reports/{report_id:int}",
        opt={"action": "incident.write"},
        responses=problems(404, 409),
    )
    async def update_report(
        self,
        incident_id: IncidentId,
        report_id: ChildId,
        data: JSONBody[ReportUpdate],
        actor: ActorDep,
    ) -> ReportOut:
        """Record the platform's answer and the outcome; send the version you read."""
        changes = {
            k: v for k, v in structs.asdict(data).items() if v is not UNSET and k != "version"
        }
        return ReportOut(
            **await services.update_report(
                actor=actor,
                incident_id=incident_id,
                report_id=report_id,
                version=data.version,
                changes=changes,
            )
        )

    @get("/{incident_id:int}/review", opt={"action": "incident.read"}, responses=problems(404))
    async def get_review(self, incident_id: IncidentId) -> ReviewOut:
        """The post-incident review with its follow-up actions."""
        await services.incident_row(incident_id)
        return ReviewOut(**await services.review_out(incident_id))

    @put(
        "/{incident_id:int}/review", opt={"action": "incident.write"}, responses=problems(404, 409)
    )
    async def save_review(
        self, incident_id: IncidentId, data: JSONBody[ReviewIn], actor: ActorDep
    ) -> ReviewOut:
        """Write the review (version 0 the first time), then update it with the version you read."""
        return ReviewOut(
            **await services.save_review(
                actor=actor,
                incident_id=incident_id,
                version=data.version,
                data={k: getattr(data, k) for k in services.REVIEW_FIELDS},
            )
        )

    @post(
        "/{incident_id:int}/review/actions",
        opt={"action": "incident.write", "idempotent": True},
        responses=problems(404, 409),
        operation_class=Idempotent,
    )
    async def add_action(
        self, incident_id: IncidentId, data: JSONBody[ActionIn], actor: ActorDep
    ) -> TaskOut:
        """A follow-up action: a task with an owner and a due date."""
        return TaskOut(
            **await services.add_action(
                actor=actor, incident_id=incident_id, data=structs.asdict(data)
            )
        )

    @post(
        "/{incident_id:int}/review/sign-off",
        opt={"action": "incident.write"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def sign_off(
        self, incident_id: IncidentId, data: JSONBody[SignOff], actor: ActorDep
    ) -> ReviewOut:
        """The reviewer signs the review off; it is final after this."""
        return ReviewOut(
            **await services.sign_off_review(
                actor=actor, incident_id=incident_id, version=data.version
            )
        )


class PlaybookController(Controller):
    """The crisis-response playbooks, one per category, versioned (admins edit)."""

    path = "/api/v1/playbooks"
    tags = ["incidents"]

    @get("/", opt={"action": "playbook.read"}, responses=problems())
    async def list_playbooks(self) -> list[PlaybookOut]:
        """The current version of every category's playbook."""
        return [PlaybookOut(**p) for p in await services.list_playbooks()]

    @get("/{category:str}", opt={"action": "playbook.read"}, responses=problems(404))
    async def get_playbook(
        self,
        category: Annotated[str, PathParameter(max_length=40)],
        version: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
    ) -> PlaybookOut:
        """A category's playbook: the current version, or the one asked for."""
        return PlaybookOut(
            **await services.get_playbook(category=_category(category), version=version)
        )

    @put("/{category:str}", opt={"action": "playbook.write"}, responses=problems(404, 409))
    async def edit_playbook(
        self,
        category: Annotated[str, PathParameter(max_length=40)],
        data: JSONBody[PlaybookEdit],
        actor: ActorDep,
    ) -> PlaybookOut:
        """Edit a playbook: a new version becomes current; incidents keep the version they started with."""
        body = structs.asdict(data)
        body["steps"] = [
            {
                **structs.asdict(s),
                "due": {k.value if hasattr(k, "value") else k: v for k, v in s.due.items()},
            }
            for s in data.steps
        ]
        version = body.pop("version")
        return PlaybookOut(
            **await services.edit_playbook(
                actor=actor, category=_category(category), version=version, data=body
            )
        )


CONTROLLERS = [IncidentController, PlaybookController]
