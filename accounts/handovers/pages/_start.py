"""Starting a handover: the leaver by name, the successor chosen by name, the leaver's personal
e-mail and phone to match recovery contacts, and what will happen, before anything is written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Template

from accounts.handovers import flows, services
from accounts.handovers.pages._common import form_of
from accounts.pages._common import PLATFORMS
from register.errors import AlreadyExists, NotFound, RegisterError
from register.forms import FormState, flag, text
from register.i18n import N_
from register.openapi import ActorDep, SettingsDep
from register.pages import Form, page, redirect, render
from register.settings import Settings
from register.staff.pages import person
from register.staff.services import employee_names, get_employee

EmployeeChoice = Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)]
# The service's fields and the form's.
FIELDS = {
    "successor_id": "successor",
    "leaving_date": "leaving_date",
    "emails": "emails",
    "email": "emails",
    "phones": "phones",
    "phone": "phones",
    "notes": "notes",
    "employee_id": "leaver",
}


def _lines(value: str) -> list[str]:
    """One e-mail or phone a line (commas too: people paste lists)."""
    return [part.strip() for line in value.splitlines() for part in line.split(",") if part.strip()]


async def _leaver(employee_id: int | None) -> dict[str, Any] | None:
    if employee_id is None:
        return None
    try:
        return await get_employee(employee_id=employee_id)
    except NotFound:
        return None


async def _preview(settings: Settings, leaver: Mapping[str, Any] | None, form: FormState) -> Any:
    """What the leaver holds now, as the checklist will be written from it (None without a leaver)."""
    if leaver is None:
        return None
    try:
        return await services.footprint(
            employee_id=leaver["id"],
            reveal_days=settings.handover_reveal_days,
            emails=_lines(form.value("emails")),
            phones=_lines(form.value("phones")),
        )
    except RegisterError:
        # A personal e-mail typed wrong is said next to its field on submit; the preview waits.
        return await services.footprint(
            employee_id=leaver["id"], reveal_days=settings.handover_reveal_days
        )


class HandoverStartPages(Controller):
    """The start form."""

    path = "/handovers"
    include_in_schema = False

    async def _form(
        self,
        request: Request[Any, Any, Any],
        settings: Settings,
        leaver: Mapping[str, Any] | None,
        form: FormState,
        status: int = 200,
        existing: int | None = None,
    ) -> Template:
        return render(
            request,
            "handovers/new.html",
            status=status,
            title=N_("Start a handover"),
            leaver=leaver,
            form=form,
            preview=await _preview(settings, leaver, form),
            platforms=PLATFORMS,
            existing=existing,
        )

    @get("/new", opt=page("handover.write"))
    async def start_form(
        self,
        request: Request[Any, Any, Any],
        settings: SettingsDep,
        employee_id: EmployeeChoice = None,
    ) -> Template:
        """The leaver by name (or chosen here), the successor to choose, and what will happen."""
        leaver = await _leaver(employee_id)
        if employee_id is not None and leaver is None:
            raise NotFound(
                N_("employee %(employee_id)s does not exist"), params={"employee_id": employee_id}
            )
        form = form_of(request)
        form.values["open"] = "on"
        if leaver is not None:
            form.values["leaver"] = leaver["name"]
            form.values["leaver_id"] = leaver["id"]
            form.values["leaving_date"] = (
                leaver["leaving_date"].isoformat() if leaver["leaving_date"] else ""
            )
        existing = await self._existing(leaver)
        return await self._form(request, settings, leaver, form, existing=existing)

    async def _existing(self, leaver: Mapping[str, Any] | None) -> int | None:
        """The leaver's handover in progress, if one is (the form then points to it)."""
        if leaver is None:
            return None
        found, _ = await services.list_handovers(limit=5, offset=0, employee_id=leaver["id"])
        live = [h for h in found if h["state"] in services.LIVE]
        return live[0]["id"] if live else None

    @post("/new", opt=page("handover.write"), status_code=303)
    async def start(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep, settings: SettingsDep
    ) -> Response[Any]:
        """Write the checklist from the leaver's footprint (opened at once unless asked not to)."""
        form = form_of(request)
        leaver_id = await person(form, data, "leaver", who="all", required=True)
        successor_id = await person(form, data, "successor", who="staying", required=True)
        typed_date = text(form, data, "leaving_date", max_length=10)
        leaving: dt.date | None = None
        if typed_date:
            try:
                leaving = dt.date.fromisoformat(typed_date)
            except ValueError:
                form.errors["leaving_date"] = form.gettext(
                    N_("Write the date as year-month-day, for example 2027-03-31.")
                )
        emails = text(form, data, "emails", max_length=2000)
        phones = text(form, data, "phones", max_length=1000)
        notes = text(form, data, "notes", max_length=2000)
        open_now = flag(form, data, "open")
        leaver = await _leaver(leaver_id)
        if not form.invalid and leaver_id is not None and successor_id is not None:
            try:
                started = await flows.start_handover(
                    actor=actor,
                    settings=settings,
                    employee_id=leaver_id,
                    successor_id=successor_id,
                    leaving_date=leaving,
                    emails=_lines(emails),
                    phones=_lines(phones),
                    notes=notes,
                    open_now=open_now,
                )
            except AlreadyExists:
                form.alert = form.gettext(
                    N_("%(name)s already has a handover in progress: work that one.")
                ) % {"name": leaver["name"] if leaver else ""}
                return await self._form(
                    request, settings, leaver, form, 409, await self._existing(leaver)
                )
            except RegisterError as exc:
                form.fail(exc, FIELDS, await employee_names([leaver_id, successor_id]))
            else:
                return redirect(f"/handovers/{started['id']}?done=started")
        return await self._form(request, settings, leaver, form, status=form.status)
