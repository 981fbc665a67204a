"""An incident task given to a member of staff, in a real browser: comms gives it to them by name
on the incident's page, and the staff member sees it on their home page (on a phone), is asked
for a note, and marks it done."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from playwright.async_api import Page, expect

from incidents.tables import IncidentTask
from register.actor import Actor
from register.auth import CSRF_COOKIE
from register.enums import Role
from register.services import create_user
from register.staff.services import create_employee
from register.tables import AuditEvent
from tests.browser.conftest import PHONE, shoot
from tests.browser.test_account_forms import PASSWORD, sign_in


async def api(page: Page, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A call to the register's API with the browser's own session, as a script on it would."""
    token = next(c["value"] for c in await page.context.cookies() if c["name"] == CSRF_COOKIE)
    resp = await page.request.fetch(
        path,
        method=method,
        data=json.dumps(body),
        headers={"Content-Type": "application/json", "X-CSRF-Token": token},
    )
    assert resp.ok, f"{method} {path}: {resp.status} {await resp.text()}"
    return await resp.json()


async def test_comms_gives_staff_a_task_and_they_mark_it_done_from_home(
    server: str, page: Page
) -> None:
    actor = Actor.system("test")
    sam = await create_employee(
        actor=actor,
        data={"name": "Sam Berg", "work_email": "sam@northwind.example", "department": "Sales"},
    )
    await create_user(
        actor=actor,
        email="cleo@northwind.example",
        role=Role.comms,
        name="Cleo Comms",
        password=PASSWORD,
        must_change_password=False,
    )
    staff, _ = await create_user(
        actor=actor,
        email="sam@northwind.example",
        role=Role.staff,
        name="Sam Berg",
        password=PASSWORD,
        must_change_password=False,
        employee_id=sam["id"],
    )

    # Comms, signed in: files an incident and adds two steps for Sam, one of them already late.
    await sign_in(page, server, "cleo@northwind.example")
    incident = await api(
        page,
        "POST",
        server + "/api/v1/incidents",
        {
            "title": "Launch post names the wrong price",
            "category": "erroneous_post",
            "severity": "SEV2",
        },
    )
    base = f"{server}/api/v1/incidents/{incident['id']}/tasks"
    at = dt.datetime.now(dt.UTC)
    repost = await api(
        page,
        "POST",
        base,
        {
            "title": "Delete your repost of the launch post",
            "guidance": "Remove it from your personal LinkedIn profile; the corrected post follows.",
            "due_at": (at - dt.timedelta(hours=2, minutes=10)).isoformat(),
        },
    )
    asked = await api(
        page,
        "POST",
        base,
        {
            "title": "Tell comms which customers asked about the price",
            "due_at": (at + dt.timedelta(days=3, hours=4, minutes=1)).isoformat(),
        },
    )

    # On the incident's page she gives both steps to Sam, chosen by name.
    await page.goto(f"{server}/incidents/{incident['id']}#task-{repost['id']}")
    step = page.locator(f"#task-{repost['id']}")
    await expect(step.get_by_label("Give this step to")).to_have_value("")
    await shoot(page, "tasks-assign")
    # Nobody chosen: asked for, next to the field.
    await step.get_by_role("button", name="Assign", exact=True).click()
    await expect(step.locator(".error")).to_have_text("Choose who takes this step.")
    await expect(step.get_by_label("Give this step to")).to_have_attribute("aria-invalid", "true")
    await shoot(page, "tasks-assign-refused")
    await step.get_by_label("Give this step to").select_option(
        label="Sam Berg (sam@northwind.example)"
    )
    await step.get_by_role("button", name="Assign", exact=True).click()
    await expect(step.get_by_role("status")).to_have_text("Assigned to Sam Berg.")
    await expect(step.get_by_role("link", name="Sam Berg")).to_have_attribute(
        "href", "mailto:sam@northwind.example"
    )
    await shoot(page, "tasks-assign-done")
    other = page.locator(f"#task-{asked['id']}")
    await other.get_by_label("Give this step to").select_option(
        label="Sam Berg (sam@northwind.example)"
    )
    await other.get_by_role("button", name="Assign", exact=True).click()
    await expect(other.get_by_role("status")).to_have_text("Assigned to Sam Berg.")
    given = await AuditEvent.select(AuditEvent.object_id).where(
        AuditEvent.action == "incident.task.assign"
    )
    assert sorted(int(g["object_id"]) for g in given) == sorted([repost["id"], asked["id"]])

    # Cleo leads the incident, so its commander's steps are hers: on her home page, as links.
    await page.goto(server + "/")
    hers = page.get_by_role("region", name="Tasks assigned to you")
    await expect(
        hers.get_by_role("link", name="Acknowledge and name the incident commander")
    ).to_have_attribute("href", re.compile(rf"^/incidents/{incident['id']}#task-\d+$"))
    await shoot(page, "tasks-comms-home")
    await page.get_by_role("button", name="Sign out").click()

    # Sam, on his phone: both steps wait on his home page, the late one first and marked.
    await page.set_viewport_size(PHONE)
    await sign_in(page, server, "sam@northwind.example")
    mine = page.get_by_role("region", name="Tasks assigned to you")
    steps = mine.get_by_role("listitem")
    await expect(steps).to_have_count(2)
    first = steps.nth(0)
    await expect(first.get_by_role("heading")).to_have_text("Delete your repost of the launch post")
    await expect(first).to_contain_text(
        f"Incident {incident['reference']}: Launch post names the wrong price"
    )
    await expect(first).to_contain_text("SEV2: high")
    await expect(first).to_contain_text("Overdue by 2 h 10 min")
    await expect(mine).to_contain_text("1 task is overdue.")
    await expect(steps.nth(1)).to_contain_text("Due in 3 d 4 h")
    # Nothing else of the incident, and no way into the incident pages.
    menu = page.get_by_role("navigation", name="Main menu")
    await expect(menu.get_by_role("link", name="Incidents")).to_have_count(0)
    await expect(page.get_by_role("link", name="Report an incident")).to_have_count(0)
    await shoot(page, "tasks-staff-home")

    # Marking it done without a note: the note is asked for, next to the field.
    await page.set_viewport_size(PHONE)
    await first.get_by_role("button", name="Mark done").click()
    again = page.get_by_role("region", name="Tasks assigned to you").get_by_role("listitem").nth(0)
    note = again.get_by_label("What did you do?")
    await expect(note).to_have_attribute("aria-invalid", "true")
    await expect(again.locator(".error")).to_have_text("Write in a line what you did.")
    await shoot(page, "tasks-staff-home-note-asked")

    await page.set_viewport_size(PHONE)
    await note.fill("Deleted the repost at 10:05 and told the two people who shared it.")
    await again.get_by_role("button", name="Mark done").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Marked done. Thank you: the incident's team sees your note."
    )
    mine = page.get_by_role("region", name="Tasks assigned to you")
    await expect(mine.get_by_role("heading", name="Done lately")).to_be_visible()
    await expect(mine).not_to_contain_text("task is overdue")
    await expect(mine.get_by_role("button", name="Mark done")).to_have_count(1)
    await shoot(page, "tasks-staff-done")

    row = (
        await IncidentTask.select(IncidentTask.state, IncidentTask.note, IncidentTask.done_by)
        .where(IncidentTask.id == repost["id"])
        .first()
    )
    assert row == {
        "state": "done",
        "note": "Deleted the repost at 10:05 and told the two people who shared it.",
        "done_by": staff["id"],
    }
    audited = await AuditEvent.select(AuditEvent.actor_id).where(
        (AuditEvent.action == "incident.task.complete")
        & (AuditEvent.object_id == str(repost["id"]))
    )
    assert audited == [{"actor_id": staff["id"]}]
