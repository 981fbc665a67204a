"""Department templates: the checklist items every handover of a department gets, listed and edited.

Each item is one template in the service (a department, or blank for every department). An item
is removed by taking it out of use: handovers already started keep it, and it can come back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Template

from accounts.handovers import services
from accounts.handovers.enums import HandoverTeam
from register.errors import Conflict, InvalidInput, RegisterError, StaleVersion
from register.forms import FormState, flag, number, text
from register.i18n import N_
from register.openapi import ActorDep, Id
from register.pages import Form, page, reader_of, redirect, render

TEAMS = {HandoverTeam.hr.value: N_("HR"), HandoverTeam.it.value: N_("IT")}
Department = Annotated[str, QueryParameter(max_length=120)]
# The template's fields as the form names them (the service's names are the form's).
# The service's refusals said in the form's words (the API names its fields; the form its labels).
WORDS = {
    "day_offset must be within a year of the leaving date": N_(
        "Give a number from -365 to 365: due within a year of the leaving date."
    ),
}


def _fail(form: FormState, exc: RegisterError) -> None:
    """A service's refusal next to its field, in the form's words where it has its own."""
    field = exc.extra.get("field")
    if isinstance(exc, InvalidInput) and exc.detail in WORDS and field in form.values:
        form.errors[field] = form.gettext(WORDS[exc.detail])
    else:
        form.fail(exc)


def _values(template: Mapping[str, Any]) -> dict[str, Any]:
    """A template as its form shows it."""
    return {
        "department": template["department"],
        "title": template["title"],
        "description": template["description"],
        "owner_role": template["owner_role"],
        "day_offset": str(template["day_offset"]),
        "active": "on" if template["active"] else "",
        "version": template["version"],
    }


def _parse(form: FormState, data: Mapping[str, Any]) -> dict[str, Any]:
    """The form's fields for the service; a field the form can judge alone is judged here."""
    values: dict[str, Any] = {
        "department": text(form, data, "department", max_length=120),
        "title": text(form, data, "title", max_length=300),
        "description": text(form, data, "description", max_length=5000),
        "owner_role": text(form, data, "owner_role", max_length=8),
        "active": flag(form, data, "active"),
    }
    offset = text(form, data, "day_offset", max_length=5)
    try:
        values["day_offset"] = int(offset)
    except ValueError:
        form.errors.setdefault(
            "day_offset",
            form.gettext(N_("Give a whole number of days (negative: before the leaving date).")),
        )
    if values["owner_role"] not in TEAMS:
        form.errors.setdefault("owner_role", form.gettext(N_("Choose HR or IT.")))
    if not values["title"] and "title" not in form.errors:
        form.errors["title"] = form.gettext(N_("Say what to do."))
    return values


class TemplatePages(Controller):
    """Checklist templates per department: the list, an item added, an item edited."""

    path = "/handovers/templates"
    include_in_schema = False

    @get("/", opt=page("handover.read"))
    async def templates(self, request: Request[Any, Any, Any]) -> Template:
        """Every department's items in their order, in use and out of use."""
        return await self._list(request, saved=request.query_params.get("saved", ""))

    async def _list(
        self,
        request: Request[Any, Any, Any],
        *,
        status: int = 200,
        saved: str = "",
        alert: str = "",
    ) -> Template:
        found = await services.list_templates()
        departments: dict[str, list[dict[str, Any]]] = {}
        for t in found:
            departments.setdefault(t["department"], []).append(t)
        return render(
            request,
            "handovers/templates.html",
            title=N_("Checklist templates"),
            departments=sorted(departments.items(), key=lambda d: (d[0] != "", d[0].lower())),
            teams=TEAMS,
            saved=saved,
            alert=alert,
            status=status,
        )

    @post("/{template_id:int}/move", opt=page("handover.write"), status_code=303)
    async def move(
        self, request: Request[Any, Any, Any], template_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """One place up or down in its department; the list again, in the order now."""
        form = FormState(gettext=reader_of(request).gettext)
        version = number(form, data, "version") or 0
        try:
            await services.move_template(
                actor=actor,
                template_id=template_id,
                version=version,
                up=str(data.get("direction") or "") == "up",
            )
        except StaleVersion:
            message = N_("Someone changed these items meanwhile: this is their order now.")
            return await self._list(request, status=409, alert=form.gettext(message))
        except Conflict as exc:
            return await self._list(request, status=409, alert=exc.said(form.gettext))
        return redirect(f"/handovers/templates?saved=moved#template-{template_id}")

    def _form(
        self,
        request: Request[Any, Any, Any],
        form: FormState,
        *,
        template_id: int | None = None,
        status: int = 200,
    ) -> Template:
        return render(
            request,
            "handovers/template_edit.html",
            status=status,
            title=N_("Edit a checklist item") if template_id else N_("Add a checklist item"),
            form=form,
            template_id=template_id,
            teams=TEAMS,
        )

    @get("/new", opt=page("handover.write"))
    async def new_form(
        self, request: Request[Any, Any, Any], department: Department = ""
    ) -> Template:
        """An item for every future handover of a department."""
        form = FormState(
            gettext=reader_of(request).gettext,
            values={
                "department": department.strip(),
                "owner_role": HandoverTeam.hr.value,
                "day_offset": "0",
                "active": "on",
            },
        )
        return self._form(request, form)

    @post("/new", opt=page("handover.write"), status_code=303)
    async def create(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Add the item; the list again, or the form with what to correct."""
        form = FormState(gettext=reader_of(request).gettext)
        values = _parse(form, data)
        if not form.invalid:
            try:
                await services.create_template(actor=actor, data=values)
            except InvalidInput as exc:
                _fail(form, exc)
        if form.invalid:
            return self._form(request, form, status=form.status)
        return redirect("/handovers/templates?saved=1")

    @get("/{template_id:int}", opt=page("handover.write"))
    async def edit_form(self, request: Request[Any, Any, Any], template_id: Id) -> Template:
        """One item as it is saved, to change."""
        template = await services.template_row(template_id)
        form = FormState(gettext=reader_of(request).gettext, values=_values(template))
        return self._form(request, form, template_id=template_id)

    @post("/{template_id:int}", opt=page("handover.write"), status_code=303)
    async def update(
        self, request: Request[Any, Any, Any], template_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Save the item with the version read; if someone saved it meanwhile, show what they saved."""
        form = FormState(gettext=reader_of(request).gettext)
        values = _parse(form, data)
        version = number(form, data, "version") or 0
        if not form.invalid:
            try:
                await services.update_template(
                    actor=actor, template_id=template_id, version=version, changes=values
                )
            except StaleVersion:
                current = await services.template_row(template_id)
                form.mark_stale(current=_values(current), version=current["version"])
            except RegisterError as exc:
                _fail(form, exc)
        if form.invalid:
            return self._form(request, form, template_id=template_id, status=form.status)
        return redirect("/handovers/templates?saved=1")
