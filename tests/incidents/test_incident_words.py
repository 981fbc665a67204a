"""The incident page and the playbook editor say a service's refusal in the reader's language."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

from incidents.enums import Category
from incidents.services._playbooks import parse_playbook_toml
from register.enums import Role
from register.errors import InvalidInput
from register.i18n import translations
from tests.helpers import form, page_client
from tests.incidents.conftest import file, tasks

DUTCH = {"accept-language": "nl"}


async def test_a_refused_phase_move_and_a_refused_skip_are_said_in_dutch(
    app: Any, comms: httpx.AsyncClient
) -> None:
    """A move back, a move past open mandatory steps and a skipped mandatory step, each refused in
    Dutch with the incident and the step named; the API keeps its English."""
    incident = await file(comms, title="A wrong price posted", severity="SEV2")
    iid, reference = incident["id"], incident["reference"]
    steps = await tasks(comms, iid)
    c = await page_client(app, Role.comms)

    back = await c.post(
        f"/incidents/{iid}/status",
        data=form(c, status="reported", version=incident["version"]),
        headers=DUTCH,
    )
    assert back.status_code == 409
    # The status is said with the page's word for it, not the API's.
    assert f"incident {reference} is Gemeld; de status gaat alleen vooruit" in back.text
    assert "is reported" not in back.text
    assert "only moves forward" not in back.text

    ahead = await c.post(
        f"/incidents/{iid}/status",
        data=form(c, status="contained", version=incident["version"]),
        headers=DUTCH,
    )
    assert ahead.status_code == 409
    # The page lists the open steps with links, in its own words.
    assert "Deze verplichte stappen staan nog open:" in ahead.text
    assert "mandatory tasks still open" not in ahead.text

    mandatory = next(t for t in steps.values() if t["mandatory"] and t["state"] == "open")
    skip = await c.post(
        f"/incidents/{iid}/tasks/{mandatory['id']}/finish",
        data=form(c, state="skipped", note="no time"),
        headers=DUTCH,
    )
    assert skip.status_code == 409
    title = html.escape(mandatory["title"])
    assert f"&#39;{title}&#39; is verplicht: rond de stap af met een notitie" in skip.text
    assert "is mandatory" not in skip.text

    api = await comms.post(
        f"/api/v1/incidents/{iid}/status",
        json={"status": "reported", "version": incident["version"]},
    )
    assert api.json()["detail"] == f"incident {reference} is reported; status only moves forward"


async def test_the_playbook_editor_says_a_toml_error_and_its_line_in_dutch(app: Any) -> None:
    """An unknown owner and broken TOML, each refused in Dutch with the line it is on."""
    admin = await page_client(app, Role.admin)
    edit = (await admin.get("/incidents/playbooks/account_compromise/edit")).text
    text = html.unescape(re.search(r'<textarea id="toml"[^>]*>(.*?)</textarea>', edit, re.S)[1])
    lines = text.splitlines()
    bad_line = next(n for n, line in enumerate(lines, 1) if line == 'owner = "it"')
    bad = "\n".join(
        'owner = "nobody"' if n == bad_line else line for n, line in enumerate(lines, 1)
    )

    refused = await admin.post(
        "/incidents/playbooks/account_compromise/edit",
        data=form(admin, toml=bad, version="1"),
        headers=DUTCH,
    )
    assert refused.status_code == 422
    said = html.unescape(refused.text)
    assert re.search(
        rf"Regel {bad_line}: steps\[\d+\]: 'nobody' is geen geldige eigenaar \(OwnerRole\)", said
    )
    assert "is not a valid" not in said

    broken = text.replace("mandatory = true", "mandatory = tru", 1)
    wrong = next(n for n, line in enumerate(broken.splitlines(), 1) if line == "mandatory = tru")
    refused = await admin.post(
        "/incidents/playbooks/account_compromise/edit",
        data=form(admin, toml=broken, version="1"),
        headers=DUTCH,
    )
    assert refused.status_code == 422
    said = html.unescape(refused.text)
    assert f"Regel {wrong}: de tekst is geen geldige TOML:" in said
    # tomllib's own reason, said in Dutch too (the API keeps tomllib's words).
    assert "een waarde is ongeldig: tekst moet tussen aanhalingstekens" in said
    assert "Invalid value" not in said
    with pytest.raises(InvalidInput) as exc:
        parse_playbook_toml(Category.account_compromise, broken)
    assert "Invalid value" in exc.value.detail


async def test_the_step_form_says_a_wrong_due_time_in_dutch_next_to_it(app: Any) -> None:
    """A due time that is no duration, refused in Dutch next to its severity's field."""
    admin = await page_client(app, Role.admin)
    page = (await admin.get("/incidents/playbooks/erroneous_post/form", headers=DUTCH)).text
    fields: dict[str, Any] = dict(
        re.findall(r'name="(s\d+_[a-z_A-Z0-9]+)" type="text" value="([^"]*)"', page)
    )
    for n in range(7):
        for name in ("owner", "phase"):
            chosen = re.search(
                rf'<select id="s{n}_{name}" name="s{n}_{name}"[^>]*>.*?<option value="([a-z_]+)" selected',
                page,
                re.S,
            )
            fields[f"s{n}_{name}"] = chosen[1]
        if re.search(
            rf'id="s{n}_mandatory" name="s{n}_mandatory" type="checkbox" value="on" checked', page
        ):
            fields[f"s{n}_mandatory"] = "on"
    wrong = await admin.post(
        "/incidents/playbooks/erroneous_post/form",
        data=form(admin, version="1", **{**fields, "s1_due_SEV2": "soon"}),
        headers=DUTCH,
    )
    assert wrong.status_code == 422
    error = wrong.text.split('id="s1_due_SEV2-error"')[1].split("</")[0]
    assert "steps[1].due.SEV2: &#39;soon&#39; is geen duur zoals 15m, 4h of 3d" in error


async def test_the_list_says_an_unknown_filter_in_dutch(app: Any) -> None:
    """A status that does not exist, asked for in the list's address, refused in Dutch."""
    c = await page_client(app, Role.comms)
    refused = await c.get("/incidents/?status=lost", headers=DUTCH)
    assert refused.status_code == 422
    assert "&#39;lost&#39; is geen status" in refused.text and "is not a status" not in refused.text


async def test_the_timeline_is_said_in_dutch_while_the_api_keeps_its_english(
    app: Any, comms: httpx.AsyncClient
) -> None:
    """Lines the register writes (filed, escalated, steps finished, fields changed) are said in
    the reader's words on the page, the API's words translated too; a note stays as written."""
    incident = await file(comms, title="Een verkeerde prijs", severity="SEV2")
    iid, reference = incident["id"], incident["reference"]
    steps = await tasks(comms, iid)
    done = await comms.post(
        f"/api/v1/incidents/{iid}/tasks/{steps['acknowledge']['id']}/complete",
        json={"note": "gezien"},
    )
    assert done.status_code == 200, done.text
    fresh = (await comms.get(f"/api/v1/incidents/{iid}")).json()
    changed = await comms.patch(
        f"/api/v1/incidents/{iid}",
        json={"version": fresh["version"], "title": "Een verkeerde prijs online"},
    )
    assert changed.status_code == 200, changed.text
    note = await comms.post(f"/api/v1/incidents/{iid}/notes", json={"text": "Called the shop"})
    assert note.status_code in (200, 201), note.text

    c = await page_client(app, Role.comms)
    page = await c.get(f"/incidents/{iid}", headers=DUTCH)
    assert page.status_code == 200
    text = html.unescape(re.sub(r"\s+", " ", page.text))
    assert f"{reference} gemeld als SEV2: hoog, Wij hebben iets verkeerds geplaatst" in text
    assert "afgerond: " in text and "(gezien)" in text
    assert "gewijzigd: titel" in text
    assert "Called the shop" in text
    for english in ("filed as", "completed:", "changed title", "queued for", "nobody reachable"):
        assert english not in text, english

    api = (await comms.get(f"/api/v1/incidents/{iid}/timeline")).json()
    lines = [e["text"] for e in (api["items"] if isinstance(api, dict) else api)]
    assert any(line.startswith(f"{reference} filed as SEV2 erroneous_post") for line in lines)
    assert "changed title" in lines


async def test_a_shipped_playbook_reads_in_dutch_and_an_edited_step_as_written(
    app: Any, comms: httpx.AsyncClient
) -> None:
    """The playbook's title, steps and guidance as shipped are said in Dutch, on the playbook
    page and on an incident's steps; the API keeps the shipped English."""
    nl = translations("nl").gettext
    admin = await page_client(app, Role.admin)
    shipped = (await admin.get("/api/v1/playbooks/erroneous_post")).json()
    first = shipped["steps"][0]
    assert nl(shipped["title"]) != shipped["title"], "the shipped title has Dutch"
    page = html.unescape(
        (await admin.get("/incidents/playbooks/erroneous_post", headers=DUTCH)).text
    )
    assert nl(shipped["title"]) in page and shipped["title"] not in page
    assert nl(first["title"]) in page and nl(first["guidance"]) in page
    assert first["guidance"] not in page

    incident = await file(
        comms, title="Verkeerde prijs", category="erroneous_post", severity="SEV2"
    )
    c = await page_client(app, Role.comms)
    shown = html.unescape((await c.get(f"/incidents/{incident['id']}", headers=DUTCH)).text)
    assert nl(first["title"]) in shown and first["title"] not in shown
    api = (await comms.get(f"/api/v1/incidents/{incident['id']}/tasks")).json()
    assert first["title"] in [t["title"] for t in api]
