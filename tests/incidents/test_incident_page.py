"""The incident page and the playbook pages, through httpx: what each person sees and can do."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx

from register.actor import Actor
from register.db import fetch
from register.enums import Role
from register.services import create_user
from tests.helpers import form, page_client
from tests.incidents.conftest import complete, file, move, tasks

HTMX = {"hx-request": "true"}


def version_of(page: str, action: str) -> str:
    """The version a form on the page carries."""
    found = re.search(
        rf'action="{re.escape(action)}"[^>]*>\s*<input type="hidden" name="csrf_token"[^>]*>\s*'
        r'<input type="hidden" name="version" value="(\d+)"',
        page,
    )
    assert found, action
    return found.group(1)


async def test_steps_by_phase_locks_inline_work_and_a_refused_phase_move(
    app: Any, comms: httpx.AsyncClient, it: httpx.AsyncClient, account: dict[str, Any]
) -> None:
    """Steps by phase with what locked ones wait for; complete inline (htmx), a mandatory step
    refused a skip; a phase move refused lists the open mandatory steps with links to them;
    the rotation waits for the vault; the severity changes, and a stale form says so."""
    aid = account["id"]
    await it.put(f"/api/v1/accounts/{aid}/credential", json={"password": "old-password-1"})
    incident = await file(
        comms,
        title="Our X account posts spam",
        category="account_compromise",
        severity="SEV1",
        account_id=aid,
    )
    iid = incident["id"]
    steps = await tasks(comms, iid)
    c = await page_client(app, Role.comms, name="Cleo Comms")
    page = (await c.get(f"/incidents/{iid}")).text
    assert "<h1>" + incident["reference"] + ": Our X account posts spam</h1>" in page
    for phase in ("Triage", "Contain", "Resolve", "Review"):
        assert f">{phase}</h3>" in page
    # Recovering waits for the custodian's confirmation: said, with a link to that step.
    recover = page.split(f'id="task-{steps["recover"]["id"]}"')[1].split("</li>")[0]
    assert "Locked:" in recover and f'href="#task-{steps["confirm"]["id"]}"' in recover
    assert "Confirm the compromise with the custodian" in recover
    assert "<dt>Due</dt><dd>in " in page and "SEV1: critical" in page
    dutch = (await c.get(f"/incidents/{iid}", headers={"accept-language": "nl"})).text
    assert "De stappen van het draaiboek" in dutch and "Vergrendeld:" in dutch

    refused = await c.post(
        f"/incidents/{iid}/status",
        data=form(c, status="contained", version=incident["version"]),
    )
    assert refused.status_code == 409
    assert "These mandatory steps are still open:" in refused.text
    for key in ("acknowledge", "confirm", "rotate"):
        assert f'<a href="#task-{steps[key]["id"]}">{steps[key]["title"]}</a>' in refused.text

    done = await c.post(
        f"/incidents/{iid}/tasks/{steps['acknowledge']['id']}/finish",
        data=form(c, state="done", note="taken"),
        headers=HTMX,
    )
    assert done.status_code == 200 and "<strong>Done</strong>" in done.text
    assert "by Cleo Comms" in done.text and "<html" not in done.text
    skip = await c.post(
        f"/incidents/{iid}/tasks/{steps['capture']['id']}/finish",
        data=form(c, state="skipped", note="no time"),
    )
    assert skip.status_code == 409 and "is mandatory" in skip.text

    # IT: the rotation is refused until the vault holds a new credential.
    for key in ("confirm", "recover"):
        assert (await complete(it, iid, steps[key])).status_code == 200
    i = await page_client(app, Role.it)
    mine = (await i.get(f"/incidents/{iid}")).text
    rotate = mine.split(f'id="task-{steps["rotate"]["id"]}"')[1].split("</li>")[0]
    assert "Waits for the vault:" in rotate and f'href="/accounts/{aid}#vault-heading"' in rotate
    no = await i.post(
        f"/incidents/{iid}/tasks/{steps['rotate']['id']}/finish",
        data=form(i, state="done"),
        headers=HTMX,
    )
    assert (
        no.status_code == 200
        and "rotate the account&#39;s credential in the vault first" in no.text
    )
    assert "/api/" not in no.text.split('id="steps"')[1]
    await it.put(f"/api/v1/accounts/{aid}/credential", json={"password": "new-password-2"})
    yes = await i.post(
        f"/incidents/{iid}/tasks/{steps['rotate']['id']}/finish",
        data=form(i, state="done", note="rotated"),
        headers=HTMX,
    )
    assert "<strong>Done</strong>" in yes.text and "Waits for the vault" not in yes.text

    # Severity: changed with the version read; the same old version again is stale.
    page = (await c.get(f"/incidents/{iid}")).text
    old = version_of(page, f"/incidents/{iid}/severity")
    lowered = await c.post(f"/incidents/{iid}/severity", data=form(c, severity="SEV2", version=old))
    assert lowered.status_code == 303
    assert "SEV2: high" in (await c.get(f"/incidents/{iid}")).text
    stale = await c.post(f"/incidents/{iid}/severity", data=form(c, severity="SEV3", version=old))
    assert stale.status_code == 409 and "This changed since you opened it." in stale.text
    assert "Saved meanwhile:" in stale.text

    # People: named by name from the list; legal counsel must be a lawyer (or an admin).
    lawyer = await create_user(
        actor=Actor.system("test"), email="lee@example.com", name="Lee Fontaine", role=Role.legal
    )
    page = (await c.get(f"/incidents/{iid}")).text
    assert (
        '<option value="' + str(lawyer[0]["id"]) + '">Lee Fontaine (lee@example.com)</option>'
        in page
    )
    version = version_of(page, f"/incidents/{iid}/people")
    commander = re.search(r'<select id="commander" name="commander">.*?selected', page, re.S)
    named = await c.post(
        f"/incidents/{iid}/people",
        data=form(c, version=version, commander=incident["commander_id"], legal=lawyer[0]["id"]),
    )
    assert named.status_code == 303 and commander
    facts = (await c.get(f"/incidents/{iid}")).text.split("Where it stands")[1]
    assert '<a href="mailto:lee@example.com">Lee Fontaine</a>' in facts


async def test_timeline_evidence_reports_and_who_may_act(
    app: Any, comms: httpx.AsyncClient, user_factory: Any
) -> None:
    """A status update appears in the timeline fragment; evidence shows its SHA-256 and its
    download is audited; a platform report and its answer are recorded; an auditor reads only."""
    incident = await file(comms, title="A wrong price posted", severity="SEV2")
    iid = incident["id"]
    c = await page_client(app, Role.comms, name="Cleo Comms")
    page = (await c.get(f"/incidents/{iid}")).text
    after = re.search(r"timeline\?after=(\d+)", page).group(1)
    assert 'hx-trigger="every 10s"' in page and 'aria-live="polite"' in page
    posted = await c.post(
        f"/incidents/{iid}/notes",
        data=form(c, text="Correction posted at 10:05", kind="status_update"),
    )
    assert posted.status_code == 303
    news = await c.get(f"/incidents/{iid}/timeline?after={after}", headers=HTMX)
    assert "Correction posted at 10:05" in news.text and "Status update" in news.text
    assert "Cleo Comms" in news.text and 'hx-swap-oob="true"' in news.text
    nothing = await c.get(f"/incidents/{iid}/timeline?after=2147483000", headers=HTMX)
    assert "Correction posted" not in nothing.text
    blank = await c.post(f"/incidents/{iid}/notes", data=form(c, text=" ", kind="note"))
    assert blank.status_code == 422 and "Write the note or the update first." in blank.text

    shots = [b"\x89PNG first screenshot", b"\x89PNG second screenshot"]
    upload = await c.post(
        f"/incidents/{iid}/evidence",
        data=form(c, description="The post before deletion"),
        files=[("files", (f"shot{n}.png", body, "image/png")) for n, body in enumerate(shots)],
    )
    assert upload.status_code == 303 and "added=" in upload.headers["location"]
    shown = (await c.get(upload.headers["location"])).text
    assert "2 items added. Their SHA-256 is shown below." in shown
    for body in shots:
        assert hashlib.sha256(body).hexdigest() in shown
    none = await c.post(f"/incidents/{iid}/evidence", data=form(c), files={"x": ("", b"")})
    assert none.status_code == 422 and "Choose one or more files, or give a link." in none.text
    link = re.search(rf'href="(/incidents/{iid}/evidence/(\d+)/download)"', shown)
    got = await c.get(link.group(1))
    assert got.status_code == 200 and got.content == shots[0]
    assert got.headers["x-content-sha256"] == hashlib.sha256(shots[0]).hexdigest()
    audited = await fetch(
        'SELECT "action" FROM "audit_event" WHERE "action" = $1 AND "object_id" = $2',
        "evidence.download",
        link.group(2),
    )
    assert len(audited) == 1

    report = await c.post(
        f"/incidents/{iid}/reports",
        data=form(c, platform="x", report_ref="TKD-4411", answer="", outcome="pending"),
    )
    assert report.status_code == 303
    page = (await c.get(f"/incidents/{iid}")).text
    assert "TKD-4411" in page and "Waiting for the platform" in page
    rid = re.search(rf'action="/incidents/{iid}/reports/(\d+)"', page).group(1)
    answered = await c.post(
        f"/incidents/{iid}/reports/{rid}",
        data=form(c, answer="Removed under our policy", outcome="removed", version="1"),
    )
    assert answered.status_code == 303
    page = (await c.get(f"/incidents/{iid}")).text
    assert "Their answer: Removed under our policy" in page and "<strong>Removed</strong>" in page

    a = await page_client(app, Role.auditor)
    read = await a.get(f"/incidents/{iid}")
    assert read.status_code == 200 and "Capture the post and reactions" in read.text
    assert "Correction posted at 10:05" in read.text and "TKD-4411" in read.text
    assert ">Complete</button>" not in read.text and "Change the severity" not in read.text
    assert "Post a status update" not in read.text and "Move the incident on" not in read.text
    refused = await a.post(f"/incidents/{iid}/severity", data=form(a, severity="SEV1", version="1"))
    assert refused.status_code == 403


async def test_review_with_follow_ups_signed_off_then_close(
    app: Any, comms: httpx.AsyncClient
) -> None:
    """Closing a SEV2 waits for a signed-off review, said in words; the review is written with a
    follow-up action, signed off, and the incident closes."""
    incident = await file(comms, title="A wrong price posted", severity="SEV2")
    iid = incident["id"]
    for key, task in (await tasks(comms, iid)).items():
        if key not in ("review", "apology_approval"):
            assert (await complete(comms, iid, task)).status_code == 200, key
    assert (await move(comms, iid, "resolved")).status_code == 200
    c = await page_client(app, Role.comms)
    page = (await c.get(f"/incidents/{iid}")).text
    assert "Close the incident" in page
    version = re.search(
        r'name="version" value="(\d+)">\s*<input type="hidden" name="status" value="closed"', page
    ).group(1)
    early = await c.post(f"/incidents/{iid}/status", data=form(c, status="closed", version=version))
    assert early.status_code == 409 and "These mandatory steps are still open:" in early.text
    review_step = (await tasks(comms, iid))["review"]
    assert f'<a href="#task-{review_step["id"]}">Post-incident review</a>' in early.text

    fields = {
        "summary": "A price was posted wrong.",
        "impact": "Two hours of confused customers.",
        "root_cause": "No second pair of eyes.",
        "went_well": "Quick correction.",
        "to_improve": "",
    }
    saved = await c.post(f"/incidents/{iid}/review", data=form(c, version="0", **fields))
    assert saved.status_code == 303
    action = await c.post(
        f"/incidents/{iid}/review/actions",
        data=form(c, title="Add a four-eyes check", owner_role="comms", due_at="2030-01-31"),
    )
    assert action.status_code == 303
    bad_action = await c.post(
        f"/incidents/{iid}/review/actions",
        data=form(c, title="Something", owner_role="comms", due_at="soon"),
    )
    assert bad_action.status_code == 422 and "Give the date it is due" in bad_action.text
    page = (await c.get(f"/incidents/{iid}")).text
    assert "Add a four-eyes check" in page and "Follow-up actions" in page
    missing = await c.post(f"/incidents/{iid}/review/sign-off", data=form(c, version="1"))
    assert missing.status_code == 422 and "to_improve" in missing.text
    fixed = await c.post(
        f"/incidents/{iid}/review",
        data=form(c, version="1", **{**fields, "to_improve": "Two people approve prices."}),
    )
    assert fixed.status_code == 303
    signed = await c.post(f"/incidents/{iid}/review/sign-off", data=form(c, version="2"))
    assert signed.status_code == 303
    page = (await c.get(f"/incidents/{iid}")).text
    assert "The review is final." in page
    version = re.search(
        r'name="version" value="(\d+)">\s*<input type="hidden" name="status" value="closed"', page
    ).group(1)
    closed = await c.post(
        f"/incidents/{iid}/status", data=form(c, status="closed", version=version)
    )
    assert closed.status_code == 303
    page = (await c.get(f"/incidents/{iid}")).text
    assert "This incident is closed." in page and ">Complete</button>" not in page


async def test_playbooks_shown_and_edited_as_toml_with_line_numbers(
    app: Any, comms: httpx.AsyncClient
) -> None:
    """Each category's steps with owners, due times and unlock order; an edit with a bad line
    says the line; a good edit is the next version, with what changed."""
    admin = await page_client(app, Role.admin)
    listed = (await admin.get("/incidents/playbooks")).text
    assert 'href="/incidents/playbooks/account_compromise"' in listed
    one = (await admin.get("/incidents/playbooks/account_compromise")).text
    assert "Rotate the password and second factor in the vault" in one
    assert "Regain control through the platform" in one and "This is the first version." in one
    edit = (await admin.get("/incidents/playbooks/account_compromise/edit")).text
    text = re.search(r'<textarea id="toml"[^>]*>(.*?)</textarea>', edit, re.S).group(1)
    import html

    text = html.unescape(text)
    lines = text.splitlines()
    bad_line = next(n for n, line in enumerate(lines, 1) if line == 'owner = "it"')
    bad = "\n".join(
        'owner = "nobody"' if n == bad_line else line for n, line in enumerate(lines, 1)
    )
    refused = await admin.post(
        "/incidents/playbooks/account_compromise/edit", data=form(admin, toml=bad, version="1")
    )
    assert refused.status_code == 422
    step_line = bad_line
    assert f"Line {step_line}:" in refused.text and "nobody" in refused.text
    broken = text.replace("mandatory = true", "mandatory = tru", 1)
    refused = await admin.post(
        "/incidents/playbooks/account_compromise/edit", data=form(admin, toml=broken, version="1")
    )
    wrong = next(n for n, line in enumerate(broken.splitlines(), 1) if line == "mandatory = tru")
    assert refused.status_code == 422 and f"Line {wrong}:" in refused.text
    better = text.replace(
        "Confirm the compromise with the custodian", "Confirm it with the custodian"
    )
    saved = await admin.post(
        "/incidents/playbooks/account_compromise/edit", data=form(admin, toml=better, version="1")
    )
    assert saved.status_code == 303
    two = (await admin.get(saved.headers["location"])).text
    assert "Saved as version 2." in two and "From version 1 to version 2:" in two
    assert "Step changed:" in two and "Confirm it with the custodian" in two
    c = await page_client(app, Role.comms)
    assert (await c.get("/incidents/playbooks/account_compromise")).status_code == 200
    assert (await c.get("/incidents/playbooks/account_compromise/edit")).status_code == 403


async def test_a_playbook_edited_as_a_form_keeps_to_the_same_rules(app: Any) -> None:
    """Each step's title, owner, phase, mandatory and due times in a form; a wrong due time is
    refused next to its field; a good change is the next version."""
    admin = await page_client(app, Role.admin)
    page = (await admin.get("/incidents/playbooks/erroneous_post/form")).text
    values = dict(re.findall(r'name="(s\d+_[a-z_A-Z0-9]+)" type="text" value="([^"]*)"', page))
    assert values["s0_title"] == "Acknowledge and name the incident commander"
    fields: dict[str, Any] = dict(values)
    for n in range(7):
        for name in ("owner", "phase"):
            chosen = re.search(
                rf'<select id="s{n}_{name}" name="s{n}_{name}"[^>]*>.*?<option value="([a-z_]+)" selected',
                page,
                re.S,
            )
            fields[f"s{n}_{name}"] = chosen.group(1)
        if re.search(
            rf'id="s{n}_mandatory" name="s{n}_mandatory" type="checkbox" value="on" checked', page
        ):
            fields[f"s{n}_mandatory"] = "on"
    wrong = await admin.post(
        "/incidents/playbooks/erroneous_post/form",
        data=form(admin, version="1", **{**fields, "s1_due_SEV2": "soon"}),
    )
    assert wrong.status_code == 422
    assert 'id="s1_due_SEV2-error"' in wrong.text and "soon" in wrong.text
    saved = await admin.post(
        "/incidents/playbooks/erroneous_post/form",
        data=form(
            admin, version="1", **{**fields, "s1_title": "Capture it first", "s1_due_SEV1": "30m"}
        ),
    )
    assert saved.status_code == 303
    shown = (await admin.get(saved.headers["location"])).text
    assert "Saved as version 2." in shown and "Capture it first" in shown and "SEV1: 30m" in shown
