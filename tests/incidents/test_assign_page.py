"""Giving an incident's step to someone on the incident page: chosen by name from those who may
work it, unassigned, refused next to the field, stale, audited and mailed as the API's assignment."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
from typing import Any

import httpx

from register.actor import Actor
from register.db import fetch
from register.enums import Role
from register.notifications.enums import MailKind
from register.notifications.flows._mail import configure_mail
from register.services import create_user, list_users, update_user
from register.settings import Settings
from register.staff.services import create_employee
from register.tables import AuditEvent
from tests.helpers import assert_problem, form, page_client
from tests.incidents.conftest import file, tasks

HTMX = {"hx-request": "true"}


async def person(name: str, role: Role, *, left: bool = False, active: bool = True) -> int:
    """A user with a person in the staff directory (who has left, if asked); their user id."""
    key = name.split()[0].lower()
    actor = Actor.system("test")
    today = dt.date.today()
    employee = await create_employee(
        actor=actor,
        data={
            "name": name,
            "work_email": f"{key}@example.com",
            "start_date": today - dt.timedelta(days=900),
            **({"leaving_date": today - dt.timedelta(days=3)} if left else {}),
        },
    )
    user, _ = await create_user(
        actor=actor,
        email=f"{key}@example.com",
        name=name,
        role=role,
        employee_id=employee["id"],
    )
    if not active:
        await update_user(
            actor=actor, user_id=user["id"], version=user["version"], changes={"active": False}
        )
    return user["id"]


def step(page: str, task_id: int) -> str:
    """One step's part of the incident page."""
    return page.split(f'id="task-{task_id}"')[1].split("</li>")[0]


def offered(page: str, task_id: int) -> list[str]:
    """The names a step's "Give this step to" list offers, in order."""
    found = re.search(rf'<select id="assignee-{task_id}" name="assignee".*?</select>', page, re.S)
    assert found, task_id
    return [html.unescape(n) for n in re.findall(r'<option value="\d+"[^>]*>([^<]*)<', found[0])]


def version(page: str, task_id: int) -> str:
    """The task version the step's assign form carries."""
    found = re.search(r'/assign".*?name="version" value="(\d+)"', step(page, task_id), re.S)
    assert found, task_id
    return found[1]


async def test_comms_gives_a_step_by_name_unassigns_it_and_a_stale_form_says_so(
    app: Any, comms: httpx.AsyncClient, settings: Settings
) -> None:
    """Only those who may work a step are offered (staff yes; auditors, leavers, the deactivated,
    counsel for a non-legal step no); the step goes to the person chosen, who is mailed, and it
    is audited and on the timeline as through the API; unassigned; a stale version is kept."""
    sam = await person("Sam Berg", Role.staff)
    await person("Lee Fontaine", Role.legal)
    await person("Gus Gone", Role.comms, left=True)
    await person("Dee Off", Role.comms, active=False)
    await person("Ada Auditor", Role.auditor)
    await person("Hal Hr", Role.hr)
    incident = await file(comms, title="Launch post names the wrong price")
    iid = incident["id"]
    capture = (await tasks(comms, iid))["capture"]
    c = await page_client(app, Role.comms, name="Cleo Comms")
    [cleo] = (await list_users(limit=5, offset=0, q="Cleo Comms"))[0]

    page = (await c.get(f"/incidents/{iid}")).text
    names = offered(page, capture["id"])
    assert "Sam Berg (sam@example.com)" in names and "Hal Hr (hal@example.com)" in names
    assert any(n.startswith("Cleo Comms") for n in names)
    assert not [n for n in names if n.split()[0] in ("Lee", "Gus", "Dee", "Ada")]
    assert names == sorted(names, key=str.lower)
    assert "Give this step to" in step(page, capture["id"])
    # The filer leads the incident and has the step: theirs is the name chosen now.
    assert ">Unassign</button>" in step(page, capture["id"])
    assert re.search(rf'<option value="{capture["assignee_id"]}" selected>', page)

    configure_mail(dataclasses.replace(settings, smtp_host="127.0.0.1", public_url="https://r.ex"))
    try:
        given = await c.post(
            f"/incidents/{iid}/tasks/{capture['id']}/assign",
            data=form(c, assignee=sam, version=version(page, capture["id"])),
        )
        mails = await fetch(
            'SELECT "event" FROM "outbox_message" WHERE "event_type" = $1',
            MailKind.incident_task_assigned.value,
        )
    finally:
        configure_mail(settings)
    assert given.status_code == 303
    assert given.headers["location"] == (
        f"/incidents/{iid}?done=assign&task={capture['id']}#task-{capture['id']}"
    )
    # The assignment mail, through the same flow as the API's: one, to Sam.
    assert len(mails) == 1 and '"to":"sam@example.com"' in mails[0]["event"]
    after = (await c.get(given.headers["location"])).text
    mine = step(after, capture["id"])
    assert '<p class="success" role="status">Assigned to Sam Berg.</p>' in mine
    # A hand-made address with digits Python reads as digits but int() refuses is no 500.
    for query in ("done=assign&task=\u00b2", "added=\u00b2.1"):
        assert (await c.get(f"/incidents/{iid}?{query}")).status_code == 200, query
    assert '<a href="mailto:sam@example.com">Sam Berg</a>' in mine
    assert "Saved.</p>" not in after.split('id="steps"')[0]
    assert ">Unassign</button>" in mine
    audited = await AuditEvent.select(AuditEvent.actor_id, AuditEvent.changes).where(
        (AuditEvent.action == "incident.task.assign") & (AuditEvent.object_id == str(capture["id"]))
    )
    assert [(a["actor_id"], _changes(a["changes"])) for a in audited] == [
        (cleo["id"], {"assignee_id": [capture["assignee_id"], sam]})
    ]
    assert "reassigned: Capture the post and reactions" in after.split('id="timeline-list"')[1]

    # The form read before the assignment is stale now: said, with who has it, the choice kept.
    stale = await c.post(
        f"/incidents/{iid}/tasks/{capture['id']}/assign",
        data=form(c, assignee=cleo["id"], version=version(page, capture["id"])),
    )
    assert stale.status_code == 409
    part = step(stale.text, capture["id"])
    assert "This changed since you opened it." in part
    assert "Saved meanwhile: <strong>Sam Berg</strong>" in part
    assert re.search(rf'<option value="{cleo["id"]}" selected>', part)

    # Unassigned with htmx: the steps come back, the step the team's again, said in place.
    fresh = (await c.get(f"/incidents/{iid}")).text
    back = await c.post(
        f"/incidents/{iid}/tasks/{capture['id']}/assign",
        data=form(c, unassign="yes", assignee=sam, version=version(fresh, capture["id"])),
        headers=HTMX,
    )
    assert back.status_code == 200 and "<html" not in back.text
    part = step(back.text, capture["id"])
    assert "Unassigned: the step is the team's again." in part
    assert "<dd>the team</dd>" in part
    # Nobody has it: nothing to unassign.
    assert ">Unassign</button>" not in part
    row = (await tasks(comms, iid))["capture"]
    assert row["assignee_id"] is None
    assert (
        await AuditEvent.count().where(
            (AuditEvent.action == "incident.task.assign")
            & (AuditEvent.object_id == str(capture["id"]))
        )
        == 2
    )

    # Nobody chosen: asked for, next to the field.
    empty = await c.post(
        f"/incidents/{iid}/tasks/{capture['id']}/assign",
        data=form(c, assignee="", version=row["version"]),
    )
    assert empty.status_code == 422
    assert (
        f'<p class="error" id="assignee-{capture["id"]}-error">Choose who takes this step.</p>'
        in step(empty.text, capture["id"])
    )


def _changes(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


async def test_a_person_who_may_not_work_the_step_is_refused_next_to_the_field(
    app: Any, comms: httpx.AsyncClient
) -> None:
    """A legal step goes to counsel (or an admin) only: staff are not offered it, and sending
    them anyway is refused next to the field, by name, with or without htmx, and by the API."""
    sam = await person("Sam Berg", Role.staff)
    lee = await person("Lee Fontaine", Role.legal)
    gus = await person("Gus Gone", Role.comms, left=True)
    incident = await file(comms, title="Confidential slide posted")
    iid = incident["id"]
    added = await comms.post(
        f"/api/v1/incidents/{iid}/tasks",
        json={"title": "Weigh the post", "owner_role": "legal", "phase": "triage"},
    )
    legal = added.json()
    capture = (await tasks(comms, iid))["capture"]
    c = await page_client(app, Role.comms, name="Cleo Comms")
    page = (await c.get(f"/incidents/{iid}")).text
    assert offered(page, legal["id"]) == ["Lee Fontaine (lee@example.com)"]
    assert "Lee Fontaine (lee@example.com)" not in offered(page, capture["id"])

    base = f"/incidents/{iid}/tasks/{legal['id']}/assign"
    refused = await c.post(base, data=form(c, assignee=sam, version=legal["version"]))
    assert refused.status_code == 422
    part = step(refused.text, legal["id"])
    assert f'aria-invalid="true" aria-describedby="assignee-{legal["id"]}-error"' in part
    assert (
        f'<p class="error" id="assignee-{legal["id"]}-error">&#39;Weigh the post&#39; is signed '
        "off by legal counsel: give it to a user with role &#39;legal&#39; or an admin, not "
        "Sam Berg</p>"
    ) in part
    inline = await c.post(base, data=form(c, assignee=gus, version=legal["version"]), headers=HTMX)
    assert inline.status_code == 200 and "<html" not in inline.text
    assert "Gus Gone has left the company: give the step to someone still here" in step(
        inline.text, legal["id"]
    )
    wrong = await c.post(
        f"/incidents/{iid}/tasks/{capture['id']}/assign",
        data=form(c, assignee=lee, version=capture["version"]),
    )
    assert "Lee Fontaine is legal counsel, who works only the steps that need a lawyer" in (
        step(wrong.text, capture["id"])
    )
    # The API refuses the same, naming the field.
    assert_problem(
        await comms.post(
            f"/api/v1/incidents/{iid}/tasks/{legal['id']}/assign",
            json={"version": legal["version"], "assignee_id": sam},
        ),
        422,
        field="assignee_id",
    )
    assert (await tasks(comms, iid))["capture"]["assignee_id"] == capture["assignee_id"]
    now = {t["id"]: t for t in (await tasks(comms, iid)).values()}
    assert now[legal["id"]]["assignee_id"] is None
    # Given to counsel, it goes.
    ok = await c.post(base, data=form(c, assignee=lee, version=legal["version"]))
    assert ok.status_code == 303


async def test_only_those_who_assign_see_the_form_and_the_others_get_403(
    app: Any, comms: httpx.AsyncClient
) -> None:
    """IT, HR, legal and auditors read the page without the form; their post is 403 (audited);
    staff may not post it either."""
    sam = await person("Sam Berg", Role.staff)
    incident = await file(comms, title="Spam from the brand account")
    iid = incident["id"]
    capture = (await tasks(comms, iid))["capture"]
    for role in (Role.it, Role.hr, Role.legal, Role.auditor, Role.staff):
        c = await page_client(app, role)
        if role != Role.staff:
            page = (await c.get(f"/incidents/{iid}")).text
            assert f'id="task-{capture["id"]}"' in page and "Give this step to" not in page
        no = await c.post(
            f"/incidents/{iid}/tasks/{capture['id']}/assign",
            data=form(c, assignee=sam, version=capture["version"]),
        )
        assert no.status_code == 403, role
    assert (await tasks(comms, iid))["capture"]["assignee_id"] == capture["assignee_id"]
    # Each refusal is on the audit trail, naming the route and the right it needs.
    denied = await AuditEvent.select(AuditEvent.changes).where(
        (AuditEvent.action == "auth.denied")
        & (AuditEvent.object_id == f"POST /incidents/{iid}/tasks/{capture['id']}/assign")
    )
    assert [_changes(d["changes"])["action"] for d in denied] == ["incident.write"] * 5
    assert not await AuditEvent.exists().where(AuditEvent.action == "incident.task.assign")
