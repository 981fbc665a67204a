"""HTTP controllers of the staff directory."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, patch, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery, JSONBody
from msgspec import structs

from register.openapi import (
    IMPORT_FORM,
    ActorDep,
    Id,
    Idempotent,
    Limit,
    Offset,
    QueryId,
    Text,
    changes_in,
    problems,
)
from register.staff import services
from register.staff.enums import EmployeeStatus
from register.staff.files import import_employees
from register.staff.schemas import (
    EmployeeCreate,
    EmployeeOut,
    EmployeePage,
    EmployeeUpdate,
    ImportSummary,
)


class EmployeeController(Controller):
    """The staff directory."""

    path = "/api/v1/employees"
    tags = ["employees"]

    @get("/", opt={"action": "employee.read", "replica_reads": True}, responses=problems())
    async def list_employees(
        self,
        limit: Limit = 50,
        offset: Offset = 0,
        q: Text(200, "Text in name, e-mail or job title.") = None,
        department: Text(200) = None,
        status: FromQuery[EmployeeStatus | None] = None,
        manager_id: QueryId = None,
        leaving_before: FromQuery[dt.date | None] = None,
        leaving_after: FromQuery[dt.date | None] = None,
        include_total: FromQuery[bool] = False,
    ) -> EmployeePage:
        """Employees, filtered, searched and paginated by name."""
        items, next_offset, total = await services.list_employees(
            limit=limit,
            offset=offset,
            q=q,
            department=department,
            status=status,
            manager_id=manager_id,
            leaving_before=leaving_before,
            leaving_after=leaving_after,
            with_total=include_total,
        )
        return EmployeePage(
            items=msgspec.convert(items, list[EmployeeOut]),
            limit=limit,
            offset=offset,
            next_offset=next_offset,
            total=total,
        )

    @post(
        "/",
        opt={"action": "employee.write", "idempotent": True},
        responses=problems(409),
        operation_class=Idempotent,
    )
    async def create_employee(self, data: JSONBody[EmployeeCreate], actor: ActorDep) -> EmployeeOut:
        """Add a person to the directory."""
        return EmployeeOut(**await services.create_employee(actor=actor, data=structs.asdict(data)))

    @get("/{employee_id:int}", opt={"action": "employee.read"}, responses=problems(404))
    async def get_employee(self, employee_id: Id) -> EmployeeOut:
        """One employee."""
        return EmployeeOut(**await services.get_employee(employee_id=employee_id))

    @patch("/{employee_id:int}", opt={"action": "employee.write"}, responses=problems(404, 409))
    async def update_employee(
        self, employee_id: Id, data: JSONBody[EmployeeUpdate], actor: ActorDep
    ) -> EmployeeOut:
        """Change an employee; send the version you read."""
        return EmployeeOut(
            **await services.update_employee(
                actor=actor, employee_id=employee_id, version=data.version, changes=changes_in(data)
            )
        )

    @post(
        "/imports",
        opt={"action": "employee.import", "idempotent": True},
        status_code=200,
        responses=problems(409, 413),
        operation_class=Idempotent,
    )
    async def import_file(
        self,
        data: Annotated[
            dict[str, Any],
            Body(
                media_type=RequestEncodingType.MULTI_PART,
                description="Fields: file (CSV), optional mapping (JSON object: your header -> field), optional date_order (DMY or MDY).",
                schema_extra=IMPORT_FORM,
            ),
        ],
        actor: ActorDep,
    ) -> ImportSummary:
        """Import an HR system's CSV export, all or nothing; row errors carry line numbers."""
        upload = data.get("file")
        content = await upload.read() if isinstance(upload, UploadFile) else upload
        summary = await import_employees(
            actor=actor,
            content=content,
            mapping=data.get("mapping"),
            date_order=data.get("date_order"),
        )
        return ImportSummary(**summary)
