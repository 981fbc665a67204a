"""HTTP controllers of the connections register: a person's connections, imports, search, privacy."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.params import Body, JSONBody, PathParameter, QueryParameter

from accounts.connections import services as connections
from accounts.connections.enums import ConnectionState
from accounts.connections.files import import_connections
from accounts.connections.schemas import (
    ConnectionImportPage,
    ConnectionImportResult,
    ConnectionPage,
    ConnectionStateIn,
    ConnectionStateOut,
    ConnectionSubject,
    ConnectionSummary,
    ErasureOut,
    SubjectAccessOut,
)
from register.errors import InvalidInput
from register.i18n import N_
from register.openapi import NO_STORE, ActorDep, Idempotent, Limit, Offset, Text, problems

EmployeeId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
ImportId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
STRICT = "All rows or none: any line that cannot be read refuses the whole file."


CONNECTIONS_FORM: dict[str, Any] = {
    "properties": {
        "file": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.BINARY,
            description="LinkedIn's Connections.csv, as downloaded (preamble, BOM and CRLF are fine).",
        ),
        "strict": Schema(type=OpenAPIType.BOOLEAN, description=STRICT + " Or ?strict=true."),
    },
    "required": ["file"],
}


def _form_flag(value: Any, name: str) -> bool:
    """A true/false multipart field (absent is false)."""
    text = value.strip().lower() if isinstance(value, str) else value
    if text in (None, "", "false", "0"):
        return False
    if text in ("true", "1"):
        return True
    raise InvalidInput(N_("%(name)s must be true or false"), field=name, params={"name": name})


class EmployeeConnectionController(Controller):
    """One employee's LinkedIn connections: imports, the list, the successor export, state (HR)."""

    path = "/api/v1/employees/{employee_id:int}/connections"
    tags = ["connections"]

    @get("/", opt={"action": "connection.own"}, responses=problems(404))
    async def list_connections(
        self,
        employee_id: EmployeeId,
        actor: ActorDep,
        limit: Limit = 50,
        offset: Offset = 0,
        which: Annotated[
            ConnectionState | None, QueryParameter(name="state", description="Only this state.")
        ] = None,
        gone: Annotated[
            bool | None,
            QueryParameter(
                description="true: only those gone from the profile; false: only those still on it."
            ),
        ] = None,
    ) -> ConnectionPage:
        """The employee's connections by name (HR, admins, and the employee reading their own)."""
        items, next_offset = await connections.list_for_employee(
            actor=actor,
            employee_id=employee_id,
            limit=limit,
            offset=offset,
            state=which,
            gone=gone,
        )
        return msgspec.convert(
            {"items": items, "limit": limit, "offset": offset, "next_offset": next_offset},
            ConnectionPage,
        )

    @post(
        "/imports",
        opt={"action": "connection.write", "idempotent": True},
        status_code=200,
        responses=problems(404, 409, 413),
        operation_class=Idempotent,
    )
    async def import_file(
        self,
        employee_id: EmployeeId,
        data: Annotated[
            dict[str, Any],
            Body(
                media_type=RequestEncodingType.MULTI_PART,
                description="Fields: file (the Connections.csv export), strict.",
                schema_extra=CONNECTIONS_FORM,
            ),
        ],
        actor: ActorDep,
        strict: Annotated[bool, QueryParameter(description=STRICT)] = False,
    ) -> Response[ConnectionImportResult]:
        """Import the employee's Connections.csv; lines that cannot be read are listed and kept."""
        upload = data.get("file")
        # The spooled file itself: the import reads it as a stream, never whole.
        content = upload.file if isinstance(upload, UploadFile) else upload
        filename = upload.filename if isinstance(upload, UploadFile) else ""
        result = await import_connections(
            actor=actor,
            employee_id=employee_id,
            content=content,
            filename=filename or "",
            strict=strict or _form_flag(data.get("strict"), "strict"),
        )
        # The search index catches up after the answer; until then search scans the new rows.
        return Response(
            msgspec.convert(result, ConnectionImportResult),
            background=BackgroundTask(connections.index_pending),
        )

    @get("/imports", opt={"action": "connection.meta"}, responses=problems(404))
    async def list_imports(
        self, employee_id: EmployeeId, limit: Limit = 50, offset: Offset = 0
    ) -> ConnectionImportPage:
        """The employee's imports, newest first: file digest, layout and counts, never names."""
        items, next_offset = await connections.list_imports(
            employee_id=employee_id, limit=limit, offset=offset
        )
        return msgspec.convert(
            {"items": items, "limit": limit, "offset": offset, "next_offset": next_offset},
            ConnectionImportPage,
        )

    @get(
        "/imports/{import_id:int}/rejected.csv",
        opt={"action": "connection.read"},
        media_type="text/csv",
        responses=problems(404),
    )
    async def rejected_csv(
        self, employee_id: EmployeeId, import_id: ImportId, actor: ActorDep
    ) -> Response[str]:
        """The lines of an import's file that could not be read: line, column, problem, cells."""
        body = await connections.rejected_lines_csv(
            actor=actor, employee_id=employee_id, import_id=import_id
        )
        return Response(
            body,
            media_type="text/csv",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="connections-{employee_id}-import-{import_id}-rejected.csv"'
                ),
                **NO_STORE,
            },
        )

    @get(
        "/export.csv",
        opt={"action": "connection.read"},
        media_type="text/csv",
        responses=problems(404),
    )
    async def export_csv(self, employee_id: EmployeeId, actor: ActorDep) -> Response[str]:
        """The employee's employer-owned connections in LinkedIn's columns, for a successor."""
        body = await connections.export_csv(actor=actor, employee_id=employee_id)
        return Response(
            body,
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="connections-{employee_id}.csv"',
                **NO_STORE,
            },
        )

    @post(
        "/state",
        opt={"action": "connection.write"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def set_state(
        self, employee_id: EmployeeId, data: JSONBody[ConnectionStateIn], actor: ActorDep
    ) -> ConnectionStateOut:
        """Record that the connections were exported to the successor, or their deletion attested."""
        return ConnectionStateOut(
            **await connections.set_state(
                actor=actor, employee_id=employee_id, state=data.state, note=data.note
            )
        )


class ConnectionController(Controller):
    """The register of connections across employees: search, counts, privacy requests."""

    path = "/api/v1/connections"
    tags = ["connections"]

    @get("/", opt={"action": "connection.read", "replica_reads": True}, responses=problems())
    async def search(
        self,
        limit: Limit = 50,
        offset: Offset = 0,
        q: Text(
            200, "Words found in the name, company or position, or in the owner's name."
        ) = None,
        employee_id: Annotated[
            int | None, QueryParameter(ge=1, le=2**31 - 1, description="Only this owner's.")
        ] = None,
        which: Annotated[
            ConnectionState | None, QueryParameter(name="state", description="Only this state.")
        ] = None,
    ) -> ConnectionPage:
        """Search the register, newest first."""
        items, next_offset = await connections.search(
            limit=limit, offset=offset, q=q, employee_id=employee_id, state=which
        )
        return msgspec.convert(
            {"items": items, "limit": limit, "offset": offset, "next_offset": next_offset},
            ConnectionPage,
        )

    @get("/summary", opt={"action": "connection.meta", "replica_reads": True}, responses=problems())
    async def summary(self, limit: Limit = 50, offset: Offset = 0) -> ConnectionSummary:
        """Counts per employee and state (auditors see these, not names)."""
        return msgspec.convert(
            await connections.summary(limit=limit, offset=offset), ConnectionSummary
        )

    @post(
        "/subject-access",
        opt={"action": "connection.privacy"},
        status_code=200,
        responses=problems(),
    )
    async def subject_access(
        self, data: JSONBody[ConnectionSubject], actor: ActorDep
    ) -> Response[SubjectAccessOut]:
        """Everything held about one person, by profile URL or e-mail (sent in the body, not the URL)."""
        found = await connections.subject_access(
            actor=actor, profile_url=data.profile_url, email=data.email
        )
        return Response(msgspec.convert(found, SubjectAccessOut), headers=NO_STORE)

    @post("/erasure", opt={"action": "connection.privacy"}, status_code=200, responses=problems())
    async def erase(self, data: JSONBody[ConnectionSubject], actor: ActorDep) -> ErasureOut:
        """Erase one person everywhere; the audit trail records the erasure, not the values."""
        return ErasureOut(
            **await connections.erase(actor=actor, profile_url=data.profile_url, email=data.email)
        )


CONTROLLERS = [EmployeeConnectionController, ConnectionController]
