"""A person's connections: the list by state with its filters, the successor's export, the person section."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from accounts.connections import services
from accounts.connections.pages._common import PAGE_SIZE, STATES, Id, StateChoice, state_of
from register.access import allowed
from register.actor import Actor
from register.i18n import N_
from register.openapi import ActorDep
from register.pages import page, reader_of, render
from register.settings import Settings
from register.staff.services import get_employee

Offset = Annotated[int, QueryParameter(ge=0, le=10_000_000)]
Gone = Annotated[str, QueryParameter(pattern="^(|yes|no)$")]
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
    ) -> Template:
        """Their connections by name with each one's state, filtered and paged; the export."""
        found = await get_employee(employee_id=employee_id)
        items, next_offset = await services.list_for_employee(
            actor=actor,
            employee_id=employee_id,
            limit=PAGE_SIZE,
            offset=offset,
            state=state_of(which),
            gone={"yes": True, "no": False}.get(gone),
        )
        imports, _ = await services.list_imports(
            employee_id=employee_id, limit=IMPORTS_SHOWN, offset=0
        )
        counts = await services.state_counts(employee_id)
        reader = reader_of(request)
        return render(
            request,
            "connections/person.html",
            title=reader.gettext(N_("Connections of %(name)s")) % {"name": found["name"]},
            translate_title=False,
            person=found,
            items=items,
            imports=imports,
            counts=counts,
            total=sum(counts.values()),
            states=STATES,
            filters={"state": which, "gone": gone},
            offset=offset,
            next_offset=next_offset,
            page_size=PAGE_SIZE,
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
