"""Metrics over a period, the CLI report, the demo, the digest and footprint sources."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx

from incidents import flows, services
from incidents.enums import Status
from register.actor import Actor
from register.extensions import extensions
from tests.helpers import assert_problem
from tests.incidents.conftest import file


async def _worked(
    actor: Actor, start: dt.datetime, category: str, severity: str, ack: int, contain: int
) -> int:
    """An incident acknowledged and contained the given minutes after filing (clock injected)."""
    inc = await services.file_incident(
        actor=actor, at=start, data={"title": "t", "category": category, "severity": severity}
    )
    await flows.acknowledge(
        actor=actor, incident_id=inc["id"], at=start + dt.timedelta(minutes=ack)
    )
    for task in await services.list_tasks(incident_id=inc["id"]):
        if task["phase"] in ("triage", "contain") and task["state"] == "open":
            await services.finish_task(
                actor=actor,
                incident_id=inc["id"],
                task_id=task["id"],
                state="done",
                note="",
                at=start + dt.timedelta(minutes=contain),
            )
    row = await services.incident_row(inc["id"])
    await flows.change_status(
        actor=actor,
        incident_id=inc["id"],
        status=Status.contained,
        version=row["version"],
        at=start + dt.timedelta(minutes=contain),
    )
    return inc["id"]


async def test_metrics_by_severity_and_category(
    app: Any, comms: httpx.AsyncClient, auditor: httpx.AsyncClient
) -> None:
    """Median minutes to acknowledge and contain per severity and category; open by severity; overdue."""
    actor = Actor.system("test")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    await _worked(actor, start, "erroneous_post", "SEV2", ack=10, contain=100)
    await _worked(actor, start, "erroneous_post", "SEV2", ack=30, contain=300)
    await _worked(actor, start, "location_reveal", "SEV3", ack=60, contain=600)
    old = start - dt.timedelta(days=200)
    await services.file_incident(
        actor=actor,
        at=old,
        data={"title": "old", "category": "spam_unauthorised", "severity": "SEV1"},
    )
    resp = await auditor.get(
        "/api/v1/incidents/metrics", params={"since": (start - dt.timedelta(days=1)).isoformat()}
    )
    assert resp.status_code == 200, resp.text
    m = resp.json()
    assert m["filed"] == 3
    sev2 = m["by_severity"]["SEV2"]
    assert sev2["filed"] == 2 and sev2["acknowledge"]["median_minutes"] == 20.0
    assert sev2["contain"]["median_minutes"] == 200.0 and sev2["resolve"]["count"] == 0
    assert m["by_category"]["location_reveal"]["contain"]["median_minutes"] == 600.0
    assert m["open_by_severity"] == {"SEV1": 1, "SEV2": 2, "SEV3": 1, "SEV4": 0}
    assert m["overdue_tasks"] > 0 and sum(m["overdue_by_owner"].values()) == m["overdue_tasks"]
    assert_problem(
        await comms.get(
            "/api/v1/incidents/metrics",
            params={"since": "2030-01-01T00:00:00Z", "until": "2029-01-01T00:00:00Z"},
        ),
        422,
        field="since",
    )


async def test_metrics_keep_the_severity_at_filing_and_the_highest(
    app: Any, comms: httpx.AsyncClient, settings: Any, capsys: Any
) -> None:
    """Filed SEV1 and lowered to SEV2, an incident still counts as SEV1 by severity at filing and by
    highest severity; one filed SEV3, raised to SEV1 and lowered to SEV2 counts as SEV3 at filing."""
    from register import cli

    lowered = await file(comms, severity="SEV1")
    changed = await comms.patch(
        f"/api/v1/incidents/{lowered['id']}", json={"version": 1, "severity": "SEV2"}
    )
    assert changed.status_code == 200, changed.text
    got = changed.json()
    assert (got["severity"], got["severity_at_filing"], got["highest_severity"]) == (
        "SEV2",
        "SEV1",
        "SEV1",
    )
    bounced = await file(comms, severity="SEV3")
    for version, severity in ((1, "SEV1"), (2, "SEV2")):
        changed = await comms.patch(
            f"/api/v1/incidents/{bounced['id']}", json={"version": version, "severity": severity}
        )
        assert changed.status_code == 200, changed.text
    got = changed.json()
    assert (got["severity"], got["severity_at_filing"], got["highest_severity"]) == (
        "SEV2",
        "SEV3",
        "SEV1",
    )
    m = (await comms.get("/api/v1/incidents/metrics")).json()
    filed = {
        key: {s: g["filed"] for s, g in m[key].items() if g["filed"]}
        for key in ("by_severity", "by_severity_at_filing", "by_highest_severity")
    }
    assert filed == {
        "by_severity": {"SEV2": 2},
        "by_severity_at_filing": {"SEV1": 1, "SEV3": 1},
        "by_highest_severity": {"SEV1": 2},
    }
    args = cli.build_parser().parse_args(["report", "incidents", "--days", "1"])
    assert await args.handler(args, settings) == 0
    out = capsys.readouterr().out
    table = out.split("by severity at filing")[1].split("by highest severity")[0]
    assert re.search(r"SEV1\s+1\b", table) and re.search(r"SEV3\s+1\b", table), out
    assert re.search(r"SEV1\s+2\b", out.split("by highest severity")[1]), out


async def test_existing_incidents_get_their_severities_from_the_timeline(
    app: Any, comms: httpx.AsyncClient, monkeypatch: Any
) -> None:
    """The migration fills the new columns of incidents filed before them: at filing from the filing
    line, the highest from every change; without any history, the current severity."""
    import importlib

    from register import piccolo_conf
    from register.db import fetch, get_engine, write_transaction

    backfill = importlib.import_module(
        "incidents.piccolo_migrations.incidents_0004_severity_backfill"
    ).backfill
    monkeypatch.setattr(piccolo_conf, "DB", get_engine())
    bounced = await file(comms, severity="SEV3")
    for version, severity in ((1, "SEV1"), (2, "SEV4")):
        changed = await comms.patch(
            f"/api/v1/incidents/{bounced['id']}", json={"version": version, "severity": severity}
        )
        assert changed.status_code == 200, changed.text
    quiet = await file(comms, severity="SEV2")
    bare = await file(comms, severity="SEV4")
    async with write_transaction():
        # As the rows stood right after the columns were added, one of them with no history.
        await fetch('UPDATE "incident" SET "severity_at_filing" = \'\', "highest_severity" = \'\'')
        await fetch('DELETE FROM "timeline_entry" WHERE "incident" = $1', bare["id"])
        await backfill()
    rows = await fetch(
        'SELECT "id", "severity", "severity_at_filing", "highest_severity" FROM "incident" '
        'ORDER BY "id"'
    )
    assert {r["id"]: (r["severity_at_filing"], r["highest_severity"]) for r in rows} == {
        bounced["id"]: ("SEV3", "SEV1"),
        quiet["id"]: ("SEV2", "SEV2"),
        bare["id"]: ("SEV4", "SEV4"),
    }


async def test_cli_report_incidents(app: Any, settings: Any, capsys: Any) -> None:
    """`register report incidents` prints the same figures."""
    from register import cli

    actor = Actor.system("test")
    await _worked(
        actor,
        dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
        "press_inquiry",
        "SEV1",
        ack=5,
        contain=50,
    )
    args = cli.build_parser().parse_args(["report", "incidents", "--days", "30"])
    assert await args.handler(args, settings) == 0
    out = capsys.readouterr().out
    assert "SEV1" in out and "press_inquiry" in out and "overdue tasks" in out
    risks = cli.build_parser().parse_args(["report", "risks"])
    assert risks.handler.__name__ == "cmd_report_risks"


async def test_demo_adds_incidents_in_several_states(app: Any, settings: Any) -> None:
    """`register demo` files incidents that are reported, triaged, contained, resolved and closed."""
    from register.db import fetch
    from register.demo import run_demo

    lines = await run_demo(settings)
    assert "incidents:" in lines
    rows = await fetch('SELECT "status", "category", "via_intake" FROM "incident"')
    assert {r["status"] for r in rows} == {"reported", "triaged", "contained", "resolved", "closed"}
    assert any(r["via_intake"] for r in rows)
    compromised = await fetch(
        'SELECT "status" FROM "social_account" WHERE "platform" = $1', "instagram"
    )
    assert compromised[0]["status"] == "compromised"
    # The press inquiry's legal check and holding statement are signed by the demo's counsel.
    from register.enums import Role
    from register.services import list_users

    counsel = (await list_users(limit=1, offset=0, role=Role.legal))[0][0]
    assert counsel["name"] == "Leila Haddad"
    signed = await fetch(
        'SELECT "signed_off_as", "signed_off_by" FROM "incident_task" WHERE "step_key" IN ($1, $2)',
        "legal_check",
        "holding_statement",
    )
    assert [(r["signed_off_as"], r["signed_off_by"]) for r in signed] == [
        ("legal", counsel["id"])
    ] * 2


async def test_digest_and_footprint_sources(
    comms: httpx.AsyncClient, account: dict[str, Any], people: dict[str, int]
) -> None:
    """The digest lists tasks past due per team; a leaver's footprint shows open incidents on their accounts."""
    from register.enums import Role

    extensions.load()
    incident = await file(
        comms, category="account_compromise", severity="SEV1", account_id=account["id"]
    )
    source = extensions.footprint_sources["incidents"]
    found = await source(people["ana"])
    assert [f["reference"] for f in found] == [incident["reference"]]
    assert await source(people["cy"]) == []
    late = await services.file_incident(
        actor=Actor.system("test"),
        at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2),
        data={"title": "Late one", "category": "spam_unauthorised", "severity": "SEV1"},
    )
    digest = next(f for f in extensions.digest_sources if f.__module__ == "incidents.plugin")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    comms_part = await digest(Role.comms, since)
    assert comms_part[0]["title"] == "Incident tasks past due"
    assert comms_part[0]["count"] == 3  # acknowledge, capture (comms), identify (IT), all 15 min
    assert all(late["reference"] in item for item in comms_part[0]["items"])
    it_part = await digest(Role.it, since)
    assert it_part[0]["count"] == 1 and "Identify who or what posted" in it_part[0]["items"][0]
    assert await digest(Role.hr, since) == []
    assert await digest(Role.auditor, since) == []


async def test_open_incidents_on_a_leavers_accounts_are_on_the_handover_and_its_certificate(
    comms: httpx.AsyncClient,
    it: httpx.AsyncClient,
    hr_user: Any,
    admin: httpx.AsyncClient,
    account: dict[str, Any],
    people: dict[str, int],
) -> None:
    """The handover shows open incidents on the leaver's accounts, and so does its certificate,
    even once custody has moved to the successor."""
    import json

    hr = hr_user[1]
    incident = await file(
        comms, category="account_compromise", severity="SEV2", account_id=account["id"]
    )
    leaving = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    started = await hr.post(
        "/api/v1/handovers",
        json={
            "employee_id": people["ana"],
            "successor_id": people["cy"],
            "leaving_date": leaving,
            "open": True,
        },
    )
    assert started.status_code == 201, started.text
    handover = started.json()
    hid = handover["id"]
    assert [f["reference"] for f in handover["other"]["incidents"]] == [incident["reference"]]
    custody = next(i for i in handover["items"] if i["kind"] == "transfer_custody")
    moved = await it.post(f"/api/v1/handovers/{hid}/items/{custody['id']}/transfer", json={})
    assert moved.status_code == 200, moved.text
    accepted = await it.post(f"/api/v1/handovers/{hid}/items/{custody['id']}/answer", json={})
    assert accepted.json()["state"] == "done", accepted.text
    current = (await hr.get(f"/api/v1/handovers/{hid}")).json()
    assert [f["reference"] for f in current["other"]["incidents"]] == [incident["reference"]]
    for item in current["items"]:
        if item["state"] == "open":
            resp = await admin.post(
                f"/api/v1/handovers/{hid}/items/{item['id']}/waive", json={"reason": "test"}
            )
            assert resp.status_code == 200, resp.text
    assert (await hr.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "hr"})).is_success
    done = await it.post(f"/api/v1/handovers/{hid}/sign-off", json={"team": "it"})
    assert done.json()["state"] == "completed", done.text
    cert = json.loads((await hr.get(f"/api/v1/handovers/{hid}/certificate")).content)
    (found,) = cert["certificate"]["other"]["incidents"]
    assert (found["reference"], found["account_id"]) == (incident["reference"], account["id"])
    assert done.json()["other"] == cert["certificate"]["other"]
    page = (await hr.get(f"/api/v1/handovers/{hid}/certificate.html")).text
    assert incident["reference"] in page
    # Once the handover is over, the account is no longer the leaver's.
    assert await extensions.footprint_sources["incidents"](people["ana"]) == []


async def test_cli_list_shows_open_incidents_and_with_all_every_one(
    app: Any, settings: Any, capsys: Any
) -> None:
    """`register incidents list` shows the open ones; `--all` adds the closed ones."""
    import json

    from register import cli
    from register.demo import run_demo

    await run_demo(settings)
    capsys.readouterr()
    listed = {}
    for flags in ([], ["--all"]):
        args = cli.build_parser().parse_args(["incidents", "list", "--json", *flags])
        assert await args.handler(args, settings) == 0
        rows = json.loads(capsys.readouterr().out)
        listed[bool(flags)] = {r["status"] for r in rows}
    # Times as the API writes them, so a script reads CLI and API output alike.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", rows[0]["reported_at"])
    assert "closed" not in listed[False] and "reported" in listed[False]
    assert listed[True] == {"reported", "triaged", "contained", "resolved", "closed"}
