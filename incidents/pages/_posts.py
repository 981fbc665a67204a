"""Incidents and the post requests they concern: the post request page's section (the incidents
that name it, and naming one), and naming it from there."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post

from incidents import services
from register.access import allowed
from register.actor import Actor
from register.errors import InvalidInput
from register.forms import FormState, number
from register.i18n import N_
from register.openapi import ActorDep
from register.pages import Form, page, reader_of, redirect
from register.settings import Settings


async def post_request_section(
    actor: Actor, settings: Settings, post_request_id: int
) -> list[dict[str, Any]]:
    """The incidents that concern a post request, and (for comms) naming one."""
    if actor.role is None or not allowed("incident.read", actor.role):
        return []
    may_link = allowed("incident.write", actor.role)
    return [
        {
            "title": N_("Incidents about this post"),
            "template": "incidents/_post_request.html",
            "incidents": await services.incidents_about_post(post_request_id),
            "choices": await services.linkable_incidents() if may_link else [],
            "may_link": may_link,
            "post_request_id": post_request_id,
        }
    ]


class PostLinkPages(Controller):
    """Naming, on an incident, the post request it concerns."""

    path = "/incidents"
    include_in_schema = False

    @post("/post-links", opt=page("incident.write"), status_code=303)
    async def link(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Name the post request on the chosen incident; back to the post request."""
        form = FormState(gettext=reader_of(request).gettext)
        incident_id = number(form, data, "incident_id")
        post_request_id = number(form, data, "post_request_id")
        if incident_id is None:
            raise InvalidInput(N_("choose the incident"), field="incident_id")
        if post_request_id is None:
            raise InvalidInput(N_("name the post request"), field="post_request_id")
        # Naming a link overwrites nothing anyone typed: the incident's current version is used.
        incident = await services.incident_row(incident_id)
        await services.update_incident(
            actor=actor,
            incident_id=incident_id,
            version=incident["version"],
            changes={"post_request_id": post_request_id},
        )
        return redirect(f"/posts/{post_request_id}?done=linked")
