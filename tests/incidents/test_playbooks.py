"""Playbooks: every category's file loads and produces its tasks; admins edit by new versions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from incidents.enums import Category, OwnerRole, Phase, TaskKind
from incidents.services import shipped_playbook as shipped
from tests.helpers import assert_problem
from tests.incidents.conftest import file, tasks


def test_every_shipped_playbook_is_valid_and_practical() -> None:
    """Each file validates, starts with acknowledgement, ends with a review, and gates what matters."""
    for category in Category:
        book = shipped(category)
        keys = [s["key"] for s in book["steps"]]
        assert keys[0] == "acknowledge" and keys[-1] == "review", category
        phases = {s["phase"] for s in book["steps"]}
        assert {Phase.triage.value, Phase.contain.value, Phase.review.value} <= phases, category
        assert all(s["guidance"] for s in book["steps"]), category
        assert all(OwnerRole(s["owner"]) for s in book["steps"])
    privacy = {s["key"]: s for s in shipped(Category.privacy_breach)["steps"]}
    decision = privacy["regulator_decision"]
    assert decision["kind"] == TaskKind.regulator_decision.value and decision["mandatory"]
    assert set(decision["due"].values()) == {"72h"}
    assert "72 hours" in decision["guidance"] and "HIPAA" in decision["guidance"]
    post = {s["key"]: s for s in shipped(Category.employee_post)["steps"]}
    assert (
        post["legal_review"]["mandatory"] and "protected activity" in post["legal_review"]["title"]
    )
    assert "legal_review" in post["disciplinary"]["requires"]
    press = {s["key"]: s for s in shipped(Category.press_inquiry)["steps"]}
    assert press["holding_statement"]["owner"] == "spokesperson"
    assert press["holding_statement"]["mandatory"]
    imp = {s["key"]: s for s in shipped(Category.impersonation)["steps"]}
    assert imp["report"]["kind"] == TaskKind.platform_report.value
    assert shipped(Category.account_compromise)["needs_account"]
    assert len(shipped(Category.privacy_breach)["steps"]) == 12


@pytest.mark.parametrize("category", [c.value for c in Category])
async def test_each_category_files_with_its_playbook_tasks(
    comms: httpx.AsyncClient, account: dict[str, Any], category: str
) -> None:
    """Filing any category creates one task per playbook step, with owners, phases and due times."""
    extra = {"account_id": account["id"]} if category == "account_compromise" else {}
    incident = await file(comms, category=category, severity="SEV2", **extra)
    book = shipped(Category(category))
    got = await tasks(comms, incident["id"])
    assert list(got) == [s["key"] for s in book["steps"]]
    assert incident["playbook_version"] == 1
    for step in book["steps"]:
        task = got[step["key"]]
        assert task["phase"] == step["phase"] and task["owner_role"] == step["owner"]
        assert task["mandatory"] == step["mandatory"] and task["due_at"] is not None
        assert task["requires"] == step["requires"]


async def test_due_times_follow_the_severity_clocks(comms: httpx.AsyncClient) -> None:
    """SEV1 triage is due in 15 minutes and containment in 4 hours; the 72-hour clock stays 72 hours."""
    import datetime as dt

    incident = await file(comms, category="privacy_breach", severity="SEV1")
    start = dt.datetime.fromisoformat(incident["reported_at"])
    got = await tasks(comms, incident["id"])

    def offset(key: str) -> dt.timedelta:
        return dt.datetime.fromisoformat(got[key]["due_at"]) - start

    assert offset("acknowledge") == dt.timedelta(minutes=15)
    assert offset("takedown") == dt.timedelta(hours=4)
    assert offset("regulator_decision") == dt.timedelta(hours=72)
    assert offset("dpo") == dt.timedelta(hours=1)
    sev4 = await file(comms, category="privacy_breach", severity="SEV4")
    start4 = dt.datetime.fromisoformat(sev4["reported_at"])
    got4 = await tasks(comms, sev4["id"])
    assert dt.datetime.fromisoformat(got4["acknowledge"]["due_at"]) - start4 == dt.timedelta(days=1)
    assert dt.datetime.fromisoformat(got4["regulator_decision"]["due_at"]) - start4 == dt.timedelta(
        hours=72
    )


async def test_admin_edit_makes_a_new_version_and_incidents_keep_theirs(
    admin: httpx.AsyncClient, comms: httpx.AsyncClient
) -> None:
    """An edit adds version 2; an incident filed before keeps version 1 and its tasks."""
    before = await file(comms, category="location_reveal")
    book = (await admin.get("/api/v1/playbooks/location_reveal")).json()
    assert book["version"] == 1 and book["current"]
    steps = book["steps"] + [
        {
            "key": "exif_check",
            "title": "Check EXIF of every photo in the queue",
            "owner": "comms",
            "phase": "resolve",
            "mandatory": True,
            "requires": ["remove"],
            "due": {"SEV1": "2h"},
        }
    ]
    resp = await admin.put(
        "/api/v1/playbooks/location_reveal",
        json={"version": 1, "title": book["title"], "summary": book["summary"], "steps": steps},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["version"] == 2 and resp.json()["source"] == "edit"
    stale = await admin.put(
        "/api/v1/playbooks/location_reveal",
        json={"version": 1, "title": book["title"], "steps": steps},
    )
    assert_problem(stale, 409, "stale-version")
    after = await file(comms, category="location_reveal")
    assert after["playbook_version"] == 2 and "exif_check" in await tasks(comms, after["id"])
    assert before["playbook_version"] == 1 and "exif_check" not in await tasks(comms, before["id"])
    old = await admin.get("/api/v1/playbooks/location_reveal", params={"version": 1})
    assert old.json()["version"] == 1 and not old.json()["current"]
    events = (await admin.get("/api/v1/audit/events", params={"action": "playbook.edit"})).json()
    assert events["items"], events


async def test_playbook_edits_are_checked_and_admin_only(
    admin: httpx.AsyncClient, comms: httpx.AsyncClient
) -> None:
    """Unknown prerequisites, a disciplinary step without a legal review, and non-admins are refused."""
    step = {"key": "a", "title": "A", "owner": "comms", "phase": "triage"}
    bad = await admin.put(
        "/api/v1/playbooks/spam_unauthorised",
        json={"version": 1, "title": "T", "steps": [{**step, "requires": ["zzz"]}]},
    )
    assert_problem(bad, 422, field="steps[0].requires")
    nolegal = await admin.put(
        "/api/v1/playbooks/spam_unauthorised",
        json={
            "version": 1,
            "title": "T",
            "steps": [step, {**step, "key": "b", "kind": "disciplinary"}],
        },
    )
    assert_problem(nolegal, 422, field="steps")
    denied = await comms.put(
        "/api/v1/playbooks/spam_unauthorised", json={"version": 1, "title": "T", "steps": [step]}
    )
    assert_problem(denied, 403)
    assert_problem(await admin.get("/api/v1/playbooks/nonsense"), 404)
    listed = (await comms.get("/api/v1/playbooks")).json()
    assert sorted(b["category"] for b in listed) == sorted(c.value for c in Category)


def test_a_playbook_as_toml_reads_back_the_same_and_errors_say_their_line() -> None:
    """Written as TOML and read again it is the same playbook; a wrong value, a wrong type and
    broken TOML are each refused with the line they are on; what changed between versions."""
    from incidents.enums import Category
    from incidents.services import (
        parse_playbook_toml,
        playbook_changes,
        playbook_toml,
        shipped_playbook,
    )
    from register.errors import InvalidInput

    category = Category.account_compromise
    shipped = shipped_playbook(category)
    text = playbook_toml(shipped)
    assert parse_playbook_toml(category, text) == shipped
    lines = text.splitlines()

    def refused(changed: str) -> InvalidInput:
        try:
            parse_playbook_toml(category, changed)
        except InvalidInput as exc:
            return exc
        raise AssertionError("accepted")

    owner = lines.index('owner = "it"')
    wrong = "\n".join('owner = "nobody"' if n == owner else x for n, x in enumerate(lines))
    assert refused(wrong).extra["line"] == owner + 1
    flag = lines.index("mandatory = true")
    typed = "\n".join('mandatory = "yes"' if n == flag else x for n, x in enumerate(lines))
    assert refused(typed).extra["line"] == flag + 1
    broken = "\n".join("mandatory = tru" if n == flag else x for n, x in enumerate(lines))
    exc = refused(broken)
    assert exc.extra["line"] == flag + 1 and "not valid TOML" in exc.detail

    edited = parse_playbook_toml(
        category, text.replace("Regain control through the platform", "Regain control")
    )
    changes = playbook_changes(shipped, edited)
    assert changes == [
        {
            "what": "changed",
            "key": "recover",
            "title": "Regain control",
            "field": "title",
            "old": "Regain control through the platform",
            "new": "Regain control",
        }
    ]
