"""A person's connections: the list by state with its filters, the successor's export, the person section."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Template

from accounts.connections import services
from accounts.connections.enums import ConnectionState
from accounts.connections.pages._common import PAGE_SIZE, STATES, Id, StateChoice, state_of
from register.access import allowed
from register.actor import Actor
from register.errors import Conflict, InvalidInput
from register.forms import FormState, text
from register.i18n import N_
from register.openapi import ActorDep
from register.pages import Form, page, reader_of, redirect, render
from register.settings import Settings
from register.staff.services import get_employee

Offset = Annotated[int, QueryParameter(ge=0, le=10_000_000)]
Gone = Annotated[str, QueryParameter(pattern="^(|yes|no)$")]
Recorded = Annotated[int | None, QueryParameter(ge=0, le=2**31 - 1)]
# The imports listed on a person's connections page (newest first).
IMPORTS_SHOWN = 5


class PersonConnectionPages(Controller):
    """One person's connections (HR and admins)."""

    path = "/connections/people"
    include_in_schema = False

    @get("/{employee_id:int}", opt=page("connection.read"))
    async def connections(
        self,
        request: Request[Any, Any, Any],
        employee_id: Id,
        actor: ActorDep,
        which: StateChoice = "",
        gone: Gone = "",
        offset: Offset = 0,
        recorded: Recorded = None,
    ) -> Template:
        """Their connections by name with each one's state, filtered and paged; the export."""
        return await _list_page(
            request,
            actor,
            employee_id,
            filters={"state": which, "gone": gone},
            offset=offset,
            recorded=recorded,
            form=FormState(gettext=reader_of(request).gettext),
        )

    @post("/{employee_id:int}/exported", opt=page("connection.write"), status_code=303)
    async def exported(
        self, request: Request[Any, Any, Any], employee_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Record that the successor has the export: held connections move on (the service audits)."""
        form = FormState(gettext=reader_of(request).gettext)
        note = text(form, data, "note", max_length=1000)
        if not form.invalid:
            try:
                done = await services.set_state(
                    actor=actor,
                    employee_id=employee_id,
                    state=ConnectionState.exported_to_successor,
                    note=note,
                )
            except (Conflict, InvalidInput) as exc:
                found = await get_employee(employee_id=employee_id)
                form.fail(exc, people={employee_id: found["name"]})
            else:
                return redirect(f"/connections/people/{employee_id}?recorded={done['changed']}")
        return await _list_page(
            request, actor, employee_id, filters={"state": "", "gone": ""}, offset=0, form=form
        )


async def _list_page(
    request: Request[Any, Any, Any],
    actor: Actor,
    employee_id: int,
    *,
    filters: dict[str, str],
    offset: int,
    form: FormState,
    recorded: int | None = None,
) -> Template:
    """A person's connections page, with the successor form as it was sent."""
    which, gone = filters["state"], filters["gone"]
    found = await get_employee(employee_id=employee_id)
    items, next_offset = await services.list_for_employee(
        actor=actor,
        employee_id=employee_id,
        limit=PAGE_SIZE,
        offset=offset,
        state=state_of(which),
        gone={"yes": True, "no": False}.get(gone),
    )
    imports, _ = await services.list_imports(employee_id=employee_id, limit=IMPORTS_SHOWN, offset=0)
    counts = await services.state_counts(employee_id)
    reader = reader_of(request)
    return render(
        request,
        "connections/person.html",
        status=form.status if form.invalid else 200,
        title=reader.gettext(N_("Connections of %(name)s")) % {"name": found["name"]},
        translate_title=False,
        person=found,
        items=items,
        imports=imports,
        counts=counts,
        total=sum(counts.values()),
        states=STATES,
        filters=filters,
        offset=offset,
        next_offset=next_offset,
        page_size=PAGE_SIZE,
        form=form,
        recorded=recorded,
    )


async def person_section(
    actor: Actor, settings: Settings, employee_id: int
) -> list[dict[str, Any]]:
    """On a person's page, for HR: their connections by state, with the list and the upload."""
    if actor.role is None or not allowed("connection.read", actor.role):
        return []
    counts = await services.state_counts(employee_id)
    imports, _ = await services.list_imports(employee_id=employee_id, limit=1, offset=0)
    return [
        {
            "title": N_("LinkedIn connections"),
            "template": "connections/_person_section.html",
            "connections_of": employee_id,
            "connection_counts": counts,
            "connection_total": sum(counts.values()),
            "connection_states": STATES,
            "last_import": imports[0] if imports else None,
            "may_upload": allowed("connection.write", actor.role),
        }
    ]
