"""Adding a person and editing them (their manager chosen by name), and recording a leaving date."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Template

from register.errors import RegisterError, StaleVersion
from register.forms import FormState, number, text
from register.i18n import N_
from register.openapi import ActorDep, Id
from register.pages import Form, page, reader_of, redirect, render
from register.staff import services
from register.staff.pages._common import STATUSES, date_field, form_of
from register.staff.pages._picker import person

# The service's field -> the form's: the manager is chosen with a person picker, and a leaving
# date before the start is the start date's fault on this form (the leaving date is not on it).
FIELDS = {"manager_id": "manager", "leaving_date": "start_date"}
# Text fields of the person form and how long each may be (the columns' widths).
TEXTS = {"name": 200, "work_email": 320, "department": 120, "job_title": 200}


def employee_values(employee: Mapping[str, Any], names: Mapping[int, str]) -> dict[str, Any]:
    """A person as their form shows them: the manager by name, dates as a date input writes them."""
    values: dict[str, Any] = {k: employee[k] or "" for k in TEXTS}
    manager = employee["manager_id"]
    values.update(
        manager=names.get(manager, "") if manager else "",
        manager_id=manager,
        start_date=employee["start_date"].isoformat() if employee["start_date"] else "",
        leaving_date=employee["leaving_date"].isoformat() if employee["leaving_date"] else "",
        version=employee["version"],
    )
    return values


async def read_person(
    form: FormState, data: Mapping[str, Any], before: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The person form's fields as the service takes them (errors, if any, on the form)."""
    values: dict[str, Any] = {
        name: text(form, data, name, max_length=n) for name, n in TEXTS.items()
    }
    if not values["name"] and "name" not in form.errors:
        form.errors["name"] = form.gettext(N_("Give the person's name."))
    if not values["work_email"] and "work_email" not in form.errors:
        form.errors["work_email"] = form.gettext(N_("Give their work e-mail address."))
    # A manager already named who has left since may stay named; naming them anew is refused.
    kept = before is not None and str(data.get("manager_id") or "") == str(before["manager_id"])
    values["manager_id"] = await person(form, data, "manager", who="all" if kept else "current")
    values["start_date"] = date_field(form, data, "start_date")
    return values


class EditPages(Controller):
    """HR adds people, corrects them and records when they leave."""

    path = "/staff"
    include_in_schema = False

    def _form(
        self,
        request: Request[Any, Any, Any],
        form: FormState,
        employee: Mapping[str, Any] | None,
        status: int = 200,
    ) -> Template:
        reader = reader_of(request)
        title = (
            reader.gettext(N_("Edit %(name)s")) % {"name": employee["name"]}
            if employee
            else reader.gettext(N_("Add a person"))
        )
        return render(
            request,
            "staff/edit.html",
            status=status,
            title=title,
            translate_title=False,
            form=form,
            employee=employee,
        )

    @get("/new", opt=page("employee.write"))
    async def new_form(self, request: Request[Any, Any, Any]) -> Template:
        """The form to add a person."""
        return self._form(request, form_of(request), None)

    @post("/new", opt=page("employee.write"), status_code=303)
    async def create(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Add the person, then show their page."""
        form = form_of(request)
        values = await read_person(form, data, None)
        if not form.invalid:
            try:
                employee = await services.create_employee(actor=actor, data=values)
            except RegisterError as exc:
                form.fail(exc, FIELDS, await services.employee_names([values["manager_id"]]))
            else:
                return redirect(f"/staff/{employee['id']}?done=created")
        return self._form(request, form, None, status=form.status)

    @get("/{employee_id:int}/edit", opt=page("employee.write"))
    async def edit_form(self, request: Request[Any, Any, Any], employee_id: Id) -> Template:
        """The person's form, filled in, with its version hidden."""
        employee = await services.get_employee(employee_id=employee_id)
        form = form_of(request)
        form.values.update(
            employee_values(employee, await services.employee_names([employee["manager_id"]]))
        )
        return self._form(request, form, employee)

    @post("/{employee_id:int}/edit", opt=page("employee.write"), status_code=303)
    async def edit(
        self, request: Request[Any, Any, Any], employee_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Save the changes; a version someone else saved meanwhile shows both, input kept."""
        before = await services.get_employee(employee_id=employee_id)
        form = form_of(request)
        version = number(form, data, "version")
        changes = await read_person(form, data, before)
        if not form.invalid:
            try:
                if version is None:
                    raise StaleVersion(N_("the form carried no version"))
                await services.update_employee(
                    actor=actor, employee_id=employee_id, version=version, changes=changes
                )
            except StaleVersion:
                before = await self._stale(form, employee_id)
            except RegisterError as exc:
                form.fail(exc, FIELDS, await services.employee_names([changes["manager_id"]]))
            else:
                return redirect(f"/staff/{employee_id}?done=saved")
        return self._form(request, form, before, status=form.status)

    async def _stale(self, form: FormState, employee_id: int) -> dict[str, Any]:
        """Someone saved the person meanwhile: what is saved now goes next to the fields."""
        now = await services.get_employee(employee_id=employee_id)
        saved = employee_values(now, await services.employee_names([now["manager_id"]]))
        form.mark_stale(
            current={k: v for k, v in saved.items() if k in form.values and k != "manager_id"},
            version=now["version"],
        )
        return now

    def _leaving_form(
        self,
        request: Request[Any, Any, Any],
        form: FormState,
        employee: Mapping[str, Any],
        status: int = 200,
    ) -> Template:
        return render(
            request,
            "staff/leaving.html",
            status=status,
            title=reader_of(request).gettext(N_("%(name)s leaves")) % {"name": employee["name"]},
            translate_title=False,
            form=form,
            employee=employee,
            statuses=STATUSES,
        )

    @get("/{employee_id:int}/leaving", opt=page("employee.write"))
    async def leaving_form(self, request: Request[Any, Any, Any], employee_id: Id) -> Template:
        """When the person leaves, and what follows from it."""
        employee = await services.get_employee(employee_id=employee_id)
        form = form_of(request)
        form.values.update(employee_values(employee, {}))
        return self._leaving_form(request, form, employee)

    @post("/{employee_id:int}/leaving", opt=page("employee.write"), status_code=303)
    async def leaving(
        self, request: Request[Any, Any, Any], employee_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Record (or change, or take back) the leaving date; the status follows from it."""
        before = await services.get_employee(employee_id=employee_id)
        form = form_of(request)
        version = number(form, data, "version")
        staying = data.get("stays") == "1"
        leaving_date = None if staying else date_field(form, data, "leaving_date", required=True)
        if not form.invalid:
            try:
                if version is None:
                    raise StaleVersion(N_("the form carried no version"))
                await services.update_employee(
                    actor=actor,
                    employee_id=employee_id,
                    version=version,
                    changes={"leaving_date": leaving_date},
                )
            except StaleVersion:
                before = await self._stale(form, employee_id)
            except RegisterError as exc:
                form.fail(exc)
            else:
                return redirect(f"/staff/{employee_id}?done={'staying' if staying else 'leaving'}")
        return self._leaving_form(request, form, before, status=form.status)
