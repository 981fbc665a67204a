"""Comms' board: open incidents by severity with their clocks in words, refreshed in place."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from incidents import services
from incidents.enums import Severity
from incidents.pages._common import CATEGORIES, SEVERITY_NAMES, STATUSES
from register.access import allowed
from register.actor import Actor
from register.i18n import N_
from register.pages import is_htmx, page, render
from register.settings import Settings

# How often the board asks for news, in seconds (the fragment says it, htmx polls it).
POLL_SECONDS = 15
State = Annotated[str, QueryParameter(max_length=40, pattern="^[0-9a-f]*$")]


def state_of(incidents: list[dict[str, Any]]) -> str:
    """A short digest of what the board shows apart from the running minutes: it changes when an
    incident comes, goes, moves, or a clock runs out, and only then is the change announced."""
    facts = "|".join(
        f"{i['id']}:{i['status']}:{i['severity']}:{i['acknowledge']['done']}:"
        f"{i['acknowledge']['late']}:{bool(i['next_update'] and i['next_update']['late'])}:"
        f"{i['tasks_past_due']}"
        for i in incidents
    )
    return hashlib.sha256(facts.encode()).hexdigest()[:16]


def board_values(incidents: list[dict[str, Any]], since: str = "") -> dict[str, Any]:
    """What the board's fragment needs, with or without the page around it."""
    state = state_of(incidents)
    return {
        "incidents": incidents,
        "groups": [(s.value, [i for i in incidents if i["severity"] == s.value]) for s in Severity],
        "state": state,
        # Said to screen readers only when a poll brings something new, never on every poll.
        "changed": bool(since) and since != state,
        "unacknowledged": sum(1 for i in incidents if not i["acknowledge"]["done"]),
        "with_late_tasks": sum(1 for i in incidents if i["tasks_past_due"]),
        "categories": CATEGORIES,
        "severity_names": SEVERITY_NAMES,
        "statuses": STATUSES,
        "poll_seconds": POLL_SECONDS,
    }


class BoardPages(Controller):
    """The incident board."""

    path = "/incidents"
    include_in_schema = False

    @get("/board", opt=page("incident.read", replica_reads=True))
    async def board(self, request: Request[Any, Any, Any], since: State = "") -> Template:
        """Open incidents, worst first, with their clocks; htmx asks for the board alone."""
        values = board_values(await services.board(), since)
        if is_htmx(request):
            return render(request, "incidents/_board.html", title=N_("Incident board"), **values)
        return render(request, "incidents/board.html", title=N_("Incident board"), **values)


async def home_sections(actor: Actor, settings: Settings) -> list[dict[str, Any]]:
    """The board on the home page of everyone who reads incidents."""
    if actor.role is None or not allowed("incident.read", actor.role):
        return []
    return [
        {
            "title": N_("Open incidents"),
            "template": "incidents/_board_home.html",
            **board_values(await services.board()),
        }
    ]
