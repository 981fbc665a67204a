"""The home page's "Tasks assigned to you": named, due in words, overdue marked, done with a note."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from incidents.tables import IncidentTask
from register.enums import Role
from tests.incidents.conftest import file, tasks
from tests.incidents.test_my_tasks import add, audit_of
from tests.incidents.test_pages import Browser, browser, csrf, words

__all__ = ["browser"]


async def test_a_staff_home_names_their_tasks_and_marks_one_done(
    browser: Browser, comms: httpx.AsyncClient
) -> None:
    """Title, incident, due in words, overdue first and marked; a note is asked; done goes home."""
    me, page = await browser(Role.staff)
    empty = words((await page.get("/")).text)
    assert "Tasks assigned to you" in empty and "No incident task is waiting for you" in empty

    incident = await file(comms, title="Wrong price in the launch post", severity="SEV2")
    late = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3, minutes=5)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=2, hours=1)
    overdue = await add(
        comms,
        incident["id"],
        title="Delete your repost",
        guidance="Remove it from your own profile too.",
        assignee_id=me["id"],
        due_at=late.isoformat(),
    )
    later = await add(
        comms,
        incident["id"],
        title="Tell comms who asked",
        assignee_id=me["id"],
        due_at=soon.isoformat(),
    )
    home = (await page.get("/")).text
    said = words(home)
    assert "Delete your repost" in said and "Tell comms who asked" in said
    assert f"Incident {incident['reference']}: Wrong price in the launch post" in said
    assert "SEV2: high" in said
    assert "1 task is overdue." in said and "Overdue by 3 h 5 min" in said
    assert "Due in 2 d" in said
    assert "Remove it from your own profile too." in said
    # Overdue first, and marked so beyond its colour.
    assert said.index("Delete your repost") < said.index("Tell comms who asked")
    assert 'class="step step-late"' in home
    assert "Report an incident" not in said and "/incidents/board" not in home

    url = f"/incidents/{incident['id']}/tasks/{overdue['id']}/finish"
    # A note is asked of staff: the home page again, the error next to the field.
    refused = await page.post(url, data=csrf(page, state="done", note=" "))
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in refused.text and "my-note-" in refused.text
    assert "Tasks assigned to you" in words(refused.text)
    assert "Wrong price" in refused.text and "Capture the post" not in refused.text
    row = (
        await IncidentTask.select(IncidentTask.state)
        .where(IncidentTask.id == overdue["id"])
        .first()
    )
    assert row is not None and row["state"] == "open"

    done = await page.post(url, data=csrf(page, state="done", note="Deleted at 10:05"))
    assert done.status_code == 303 and done.headers["location"] == "/?done=task#tasks-done"
    after = words((await page.get(done.headers["location"])).text)
    assert "Marked done." in after and "Done lately" in after
    assert "task is overdue" not in after
    assert len(await audit_of("incident.task.complete", overdue["id"])) == 1
    assert later["id"] in {t["id"] for t in (await tasks(comms, incident["id"])).values()}


async def test_staff_cannot_finish_anothers_task_from_a_page_nor_read_the_incident(
    browser: Browser, comms: httpx.AsyncClient, user_factory: Any
) -> None:
    """Someone else's task is a 403 page that names no more than that; skipping is refused too."""
    me, page = await browser(Role.staff)
    other, _ = await user_factory(Role.staff)
    incident = await file(comms, title="Leaked slide")
    theirs = await add(comms, incident["id"], title="Their step", assignee_id=other["id"])
    mine = await add(comms, incident["id"], title="My step", assignee_id=me["id"])
    base = f"/incidents/{incident['id']}/tasks"
    # Refused before the form is read (a note too long is no 422 here), as a 403 page.
    for note in ("done", "x" * 6000):
        refused = await page.post(f"{base}/{theirs['id']}/finish", data=csrf(page, note=note))
        assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
        assert "Their step" not in refused.text and "Leaked slide" not in refused.text
    # Their own task with a note too long: the home page again, never the incident page.
    long = await page.post(f"{base}/{mine['id']}/finish", data=csrf(page, note="x" * 6000))
    assert long.status_code == 422 and "Tasks assigned to you" in words(long.text)
    assert "Their step" not in long.text and "Timeline" not in long.text
    skipped = await page.post(
        f"{base}/{mine['id']}/finish", data=csrf(page, state="skipped", note="not needed")
    )
    assert skipped.status_code == 403
    # Legal's queue answers a signed-off step with its own page: never to staff, own task or not.
    queue = await page.post(
        f"/incidents/legal/{incident['id']}/tasks/{mine['id']}", data=csrf(page, note="ok")
    )
    assert queue.status_code == 403 and "Leaked slide" not in queue.text
    assert (await page.get("/incidents/legal")).status_code == 403
    assert (await page.get(f"/incidents/{incident['id']}")).status_code == 403
    states = {t["id"]: t["state"] for t in (await tasks(comms, incident["id"])).values()}
    assert states[mine["id"]] == states[theirs["id"]] == "open"


async def test_comms_see_their_own_tasks_on_home_as_links_to_the_steps(
    browser: Browser, comms: httpx.AsyncClient
) -> None:
    """Other roles get the section when something is theirs: each step a link to it on its
    incident's page, where they work it (no form on home, and finishing there goes back there)."""
    me, page = await browser(Role.comms)
    # Nothing assigned: no section beside the board.
    assert "Tasks assigned to you" not in words((await page.get("/")).text)
    incident = await file(comms, title="Press call")
    got = await tasks(comms, incident["id"])
    for key in ("acknowledge", "capture"):
        resp = await comms.post(
            f"/api/v1/incidents/{incident['id']}/tasks/{got[key]['id']}/assign",
            json={"version": got[key]["version"], "assignee_id": me["id"]},
        )
        assert resp.status_code == 200, resp.text
    home = (await page.get("/")).text
    said = words(home)
    assert "Tasks assigned to you" in said and "open one to work it on its incident" in said
    step = got["acknowledge"]
    assert f'href="/incidents/{incident["id"]}#task-{step["id"]}"' in home
    assert "Mark done" not in said and "What did you do?" not in said
    back = await page.post(
        f"/incidents/{incident['id']}/tasks/{step['id']}/finish",
        data=csrf(page, state="done", note="taken"),
    )
    assert back.status_code == 303 and back.headers["location"].startswith(
        f"/incidents/{incident['id']}?"
    )
    assert "Done lately" in words((await page.get("/")).text)
    # One open step left and five more given: the first five shown, the rest counted.
    for n in range(5):
        await add(comms, incident["id"], title=f"Extra {n}", assignee_id=me["id"])
    said = words((await page.get("/")).text)
    assert "And 1 more step: each incident's page lists its own." in said


async def test_the_section_speaks_dutch(browser: Browser, comms: httpx.AsyncClient) -> None:
    """In Dutch: the heading, the lateness in words, the form's label and button."""
    me, page = await browser(Role.staff)
    nl = {"Accept-Language": "nl"}
    assert "Er wacht geen incidenttaak op u." in words((await page.get("/", headers=nl)).text)
    incident = await file(comms, title="Verkeerde prijs")
    late = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=50)
    await add(
        comms,
        incident["id"],
        title="Verwijder uw repost",
        assignee_id=me["id"],
        due_at=late.isoformat(),
    )
    said = words((await page.get("/", headers=nl)).text)
    for dutch in (
        "Taken voor u",
        "1 taak is over tijd.",
        "50 min over tijd",
        f"Incident {incident['reference']}: Verkeerde prijs",
        "Wat hebt u gedaan?",
        "Markeer als klaar",
    ):
        assert dutch in said, dutch


async def test_a_task_finished_meanwhile_says_so_on_the_home_page(
    browser: Browser, comms: httpx.AsyncClient
) -> None:
    """Comms finished it first: the home page says it is already done, above the list."""
    me, page = await browser(Role.staff)
    incident = await file(comms, title="Wrong price")
    task = await add(comms, incident["id"], title="Delete your repost", assignee_id=me["id"])
    resp = await comms.post(
        f"/api/v1/incidents/{incident['id']}/tasks/{task['id']}/complete", json={"note": "I did it"}
    )
    assert resp.status_code == 200, resp.text
    late = await page.post(
        f"/incidents/{incident['id']}/tasks/{task['id']}/finish",
        data=csrf(page, state="done", note="deleted"),
    )
    assert late.status_code == 409
    said = words(late.text)
    assert "task 'Delete your repost' is already done" in said and "Done lately" in said
    assert 'role="alert"' in late.text
