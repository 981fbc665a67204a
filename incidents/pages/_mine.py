"""The tasks assigned to the reader across incidents, on their home page: for staff with a form to
mark each done (it posts to the incident page's finish route, which answers them with the home
page), for those who read incidents a link to each step."""

from __future__ import annotations

from typing import Any

from incidents import services
from incidents.enums import TaskState
from incidents.pages._incident import PHASES, SEVERITY_WORDS
from register.access import allowed
from register.actor import Actor
from register.db import as_utc, now
from register.enums import Role
from register.i18n import N_
from register.settings import Settings

# How many open steps a reader of incidents sees on home (the incident pages list every step).
READER_SHOWN = 5


async def my_tasks_section(actor: Actor, settings: Settings) -> list[dict[str, Any]]:
    """Staff always (with the way it works when they have none); others when they have some."""
    if actor.role is None or actor.user_id is None or not allowed("incident.task", actor.role):
        return []
    tasks = await services.my_tasks(actor=actor)
    if not tasks and actor.role != Role.staff:
        return []
    at = now()
    for t in tasks:
        due = as_utc(t["due_at"])
        # Whole minutes either way (negative: overdue), cut toward zero as the board's clocks say them.
        t["minutes_left"] = int((due - at).total_seconds() / 60) if due else None
        t["late"] = due is not None and due < at and t["state"] == TaskState.open.value
    return [
        {
            "title": N_("Tasks assigned to you"),
            "template": "incidents/_my_tasks.html",
            "open": [t for t in tasks if t["state"] == TaskState.open.value],
            "finished": [t for t in tasks if t["state"] != TaskState.open.value],
            "late": sum(1 for t in tasks if t["late"]),
            # Those who read incidents see the first few as links; staff see every one of theirs.
            "shown": READER_SHOWN,
            "severity_words": SEVERITY_WORDS,
            "phase_words": PHASES,
        }
    ]
