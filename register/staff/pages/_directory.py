"""The staff list, searched and filtered, and a person's page with what every part says they hold."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from register.extensions import extensions
from register.i18n import N_
from register.openapi import ActorDep, Id, SettingsDep
from register.pages import page, reader_of, render
from register.staff import services
from register.staff.enums import EmployeeStatus
from register.staff.pages._common import LEAVING_SOON_DAYS, PAGE_SIZE, STATUSES

# A filter's text: what a select or the search box sends, never a control character.
Filter = Annotated[str, QueryParameter(max_length=200, pattern="^[^\\x00-\\x1f]*$")]
StatusChoice = Annotated[str, QueryParameter(pattern="^(active|leaving|left)?$")]
Soon = Annotated[str, QueryParameter(pattern="^(soon)?$")]
# People who report to someone, shown on their page before "and more".
REPORTS_SHOWN = 20


class DirectoryPages(Controller):
    """The staff directory in the browser."""

    path = "/staff"
    include_in_schema = False

    @get("/", opt=page("employee.read", replica_reads=True))
    async def list_staff(
        self,
        request: Request[Any, Any, Any],
        q: Filter = "",
        department: Filter = "",
        status: StatusChoice = "",
        leaving: Soon = "",
        offset: Annotated[int, QueryParameter(ge=0, le=10**9)] = 0,
    ) -> Template:
        """People searched by name or e-mail and filtered, by name, with their managers by name."""
        today = dt.date.today()
        soon = leaving == "soon"
        people, next_offset, _ = await services.list_employees(
            limit=PAGE_SIZE,
            offset=offset,
            q=q.strip() or None,
            department=department or None,
            status=EmployeeStatus(status) if status else None,
            # Within the next 30 days, today included.
            leaving_after=today - dt.timedelta(days=1) if soon else None,
            leaving_before=today + dt.timedelta(days=LEAVING_SOON_DAYS + 1) if soon else None,
        )
        managers = await services.employee_names(p["manager_id"] for p in people)
        filters = {"q": q, "department": department, "status": status, "leaving": leaving}
        return render(
            request,
            "staff/list.html",
            title=N_("Staff"),
            people=people,
            managers=managers,
            filters=filters,
            filtered=any(filters.values()),
            departments=await services.departments(),
            statuses=reader_of(request).labels(STATUSES),
            soon_days=LEAVING_SOON_DAYS,
            offset=offset,
            next_offset=next_offset,
            page_size=PAGE_SIZE,
        )

    @get("/{employee_id:int}", opt=page("employee.read"))
    async def person_page(
        self,
        request: Request[Any, Any, Any],
        employee_id: Id,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Template:
        """One person: their details, who they report to and who reports to them, then what they
        hold in each part of the register, as far as this reader may see it."""
        employee = await services.get_employee(employee_id=employee_id)
        reports, more, _ = await services.list_employees(
            limit=REPORTS_SHOWN, offset=0, manager_id=employee_id
        )
        manager = (
            await services.employee_names([employee["manager_id"]])
            if employee["manager_id"]
            else {}
        )
        extensions.load()
        sections: list[dict[str, Any]] = []
        for source in extensions.person_sections:
            sections.extend(await source(actor, settings, employee_id))
        return render(
            request,
            "staff/person.html",
            title=employee["name"],
            translate_title=False,
            employee=employee,
            manager=manager.get(employee["manager_id"]),
            reports=reports,
            more_reports=more is not None,
            sections=sections,
            statuses=STATUSES,
            done=request.query_params.get("done", ""),
        )
