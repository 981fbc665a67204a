"""HR's view across handovers: the home section, the list with its filters, the report, and the
handover section of a person's page."""

from __future__ import annotations

from typing import Annotated, Any

from babel.dates import format_date
from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from accounts.handovers import services
from accounts.handovers.enums import HandoverState
from accounts.handovers.pages._common import PAGE_SIZE, STATES, TEAMS
from register.access import allowed
from register.actor import Actor
from register.charts import bar_chart
from register.errors import InvalidInput
from register.i18n import N_
from register.openapi import Text
from register.pages import page, reader_of, render
from register.settings import Settings

# How many of each list the home page shows before "see all".
HOME_ITEMS = 10
LEAVING_WITHIN = 30
# "state" is a name Litestar keeps for itself: the parameter is read under it all the same.
StateChoice = Annotated[str, QueryParameter(name="state", max_length=30, pattern="^[a-z_]*$")]
Flag = Annotated[str, QueryParameter(max_length=5, pattern="^(1|on|)$")]
Offset = Annotated[int, QueryParameter(ge=0, le=10**9)]


async def home_sections(actor: Actor, settings: Settings) -> list[dict[str, Any]]:
    """HR's (and IT's, auditors') handover work: states, overdue by team, sign-off, leavers."""
    if actor.role is None or not allowed("handover.read", actor.role):
        return []
    waiting, _ = await services.list_handovers(
        limit=HOME_ITEMS, offset=0, state=HandoverState.awaiting_sign_off
    )
    leavers = await services.leavers_without_handover(within_days=LEAVING_WITHIN)
    return [
        {
            "title": N_("Handovers"),
            "template": "handovers/_home.html",
            "by_state": await services.count_by_state(),
            "states": STATES,
            "overdue": await services.overdue_by_team(),
            "teams": TEAMS,
            "waiting": waiting,
            "leavers": leavers[:HOME_ITEMS],
            "more_leavers": len(leavers) - HOME_ITEMS if len(leavers) > HOME_ITEMS else 0,
            "within": LEAVING_WITHIN,
        }
    ]


async def person_sections(
    actor: Actor, settings: Settings, employee_id: int
) -> list[dict[str, Any]]:
    """A person's handover on their page: its state and a link, or a button to start one."""
    if actor.role is None or not allowed("handover.read", actor.role):
        return []
    found, _ = await services.list_handovers(limit=5, offset=0, employee_id=employee_id)
    return [
        {
            "title": N_("Handover"),
            "template": "handovers/_person.html",
            "handovers": found,
            "live": [h for h in found if h["state"] in services.LIVE],
            "states": STATES,
            "employee_id": employee_id,
        }
    ]


def _state(value: str) -> HandoverState | None:
    if not value:
        return None
    try:
        return HandoverState(value)
    except ValueError as exc:
        raise InvalidInput(
            N_("'%(value)s' is not a handover state"), field="state", params={"value": value}
        ) from exc


class HandoverListPages(Controller):
    """Every handover, filtered; and how they went, as a chart and a table."""

    path = "/handovers"
    include_in_schema = False

    @get("/", opt=page("handover.read", replica_reads=True))
    async def list_page(
        self,
        request: Request[Any, Any, Any],
        which: StateChoice = "",
        department: Text(120) = None,
        overdue: Flag = "",
        offset: Offset = 0,
    ) -> Template:
        """Handovers, newest first, by state, department or overdue; each leaver by name."""
        chosen = _state(which)
        found, next_offset = await services.list_handovers(
            limit=PAGE_SIZE,
            offset=offset,
            state=chosen,
            overdue=bool(overdue) or None,
            department=(department or "").strip() or None,
        )
        return render(
            request,
            "handovers/list.html",
            title=N_("Handovers"),
            handovers=found,
            filters={"state": which, "department": (department or "").strip(), "overdue": overdue},
            states=STATES,
            offset=offset,
            next_offset=next_offset,
            page_size=PAGE_SIZE,
        )

    @get("/report", opt=page("handover.read", replica_reads=True))
    async def report(self, request: Request[Any, Any, Any]) -> Template:
        """Handovers completed on or before the leaving date per month; items overdue by team."""
        reader = reader_of(request)
        months = await services.completion_by_month(months=12)
        overdue = await services.overdue_by_team()
        for m in months:
            m["label"] = format_date(m["month"], "MMMM y", locale=reader.locale)
        on_time = bar_chart(
            "on-time-chart",
            reader.gettext(N_("Handovers completed on or before the leaving date, per month")),
            [(m["label"], m["on_time"]) for m in months],
        )
        by_team = bar_chart(
            "overdue-chart",
            reader.gettext(N_("Items overdue, by team")),
            [
                (reader.gettext(TEAMS[team]), n, "/handovers?overdue=1")
                for team, n in overdue.items()
            ],
        )
        return render(
            request,
            "handovers/report.html",
            title=N_("Handover report"),
            months=months,
            overdue=overdue,
            teams=TEAMS,
            on_time=on_time,
            by_team=by_team,
        )
