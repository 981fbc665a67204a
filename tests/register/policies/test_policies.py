"""Policies: versions, publishing asks the right people, acknowledged once, review dates."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import httpx

from register.db import json_value, now, write_transaction
from register.enums import Role
from register.notifications.flows import configure_mail, render_mail
from register.notifications.tables import OutboxMessage
from register.policies import flows, services
from register.policies.tables import PolicyAcknowledgement
from register.tables import AuditEvent
from tests.cli import run_cli
from tests.conftest import UserFactory
from tests.helpers import assert_problem
from tests.register.policies.conftest import policy_body


async def make_policy(hr: httpx.AsyncClient, owner_id: int, **overrides: Any) -> dict[str, Any]:
    """A policy with its first draft, through the API."""
    resp = await hr.post("/api/v1/policies", json=policy_body(owner_id, **overrides))
    assert resp.status_code == 201, resp.text
    return resp.json()


async def publish(c: httpx.AsyncClient, policy: dict[str, Any]) -> httpx.Response:
    """Publish a policy's draft as read."""
    draft = policy["draft"]
    return await c.post(
        f"/api/v1/policies/versions/{draft['id']}/publish", json={"version": draft["version"]}
    )


async def test_publishing_asks_the_people_it_applies_to(
    app: Any, settings: Any, hr: httpx.AsyncClient, owner: Any, staff: dict[str, int]
) -> None:
    """A Sales policy asks Sales (the leaver-to-be too, not who left), one mail each; a policy
    for everyone asks everyone still employed."""
    configure_mail(dataclasses.replace(settings, smtp_host="127.0.0.1"))
    try:
        sales = await make_policy(hr, owner[0]["id"], department="Sales")
        assert sales["draft"]["state"] == "draft" and sales["current"] is None
        done = await publish(hr, sales)
        assert done.status_code == 200, done.text
        assert done.json()["asked"] == 3 and done.json()["mailed"] == 3
        version_id = sales["draft"]["id"]
        asked = await PolicyAcknowledgement.select(PolicyAcknowledgement.employee).where(
            PolicyAcknowledgement.policy_version == version_id
        )
        assert sorted(a["employee"] for a in asked) == sorted(
            [staff["sam"], staff["sue"], staff["lea"]]
        )
        mails = await OutboxMessage.select(OutboxMessage.event).where(
            OutboxMessage.event_type == "mail.policy_acknowledge"
        )
        assert sorted(str(m["event"]).split('"to":"')[1].split('"')[0] for m in mails) == [
            "lea@example.com",
            "sam@example.com",
            "sue@example.com",
        ]
        # The mail says what to do and links to the version to read.
        row = (
            await OutboxMessage.select()
            .where(OutboxMessage.event_type == "mail.policy_acknowledge")
            .first()
        )
        mail = render_mail(json_value(row["event"]), row_id=row["id"], settings=settings)
        assert mail["Subject"] == "Please read and acknowledge: Using social media for the job"
        assert f"/policies/versions/{version_id}" in mail.get_body(("plain",)).get_content()
        everyone = await make_policy(hr, owner[0]["id"], title="Personal use", kind="personal_use")
        assert (await publish(hr, everyone)).json()["asked"] == 4
    finally:
        configure_mail(settings)
    # Published once: the second attempt is a clean conflict, and the audit trail has one.
    again = await publish(hr, sales)
    assert again.status_code == 409, again.text
    events = await AuditEvent.select(AuditEvent.changes).where(
        (AuditEvent.action == "policy.publish") & (AuditEvent.object_id == str(version_id))
    )
    assert len(events) == 1 and '"asked"' in str(events[0]["changes"]).replace("'", '"')


async def test_a_new_version_supersedes_the_last_and_asks_again(
    hr: httpx.AsyncClient, owner: Any, staff: dict[str, int]
) -> None:
    """The owner writes and publishes version 2; version 1 is superseded."""
    policy = await make_policy(hr, owner[0]["id"], department="Marketing")
    assert (await publish(hr, policy)).status_code == 200
    comms = owner[1]
    today = dt.date.today()
    draft = await comms.post(
        f"/api/v1/policies/{policy['id']}/draft",
        json={
            "body": "# Job use, version 2",
            "effective_on": today.isoformat(),
            "review_by": (today + dt.timedelta(days=30)).isoformat(),
        },
    )
    assert draft.status_code == 200, draft.text
    assert draft.json()["number"] == 2
    published = await comms.post(
        f"/api/v1/policies/versions/{draft.json()['id']}/publish",
        json={"version": draft.json()["version"]},
    )
    assert published.status_code == 200, published.text
    states = {
        v["number"]: v["state"]
        for v in (await hr.get(f"/api/v1/policies/{policy['id']}")).json()["versions"]
    }
    assert states == {1: "superseded", 2: "published"}


async def test_someone_else_than_the_owner_or_hr_may_not_change_a_policy(
    hr: httpx.AsyncClient, owner: Any, user_factory: UserFactory
) -> None:
    policy = await make_policy(hr, owner[0]["id"])
    _, other = await user_factory(Role.comms)
    assert_problem(await publish(other, policy), 403)
    assert_problem(
        await other.patch(f"/api/v1/policies/{policy['id']}", json={"version": 1, "title": "X"}),
        403,
    )
    # Only admins and HR create policies.
    assert_problem(await other.post("/api/v1/policies", json=policy_body(owner[0]["id"])), 403)


async def test_the_review_date_is_at_most_six_months_on(hr: httpx.AsyncClient, owner: Any) -> None:
    start = dt.date(2026, 8, 31)
    late = await hr.post(
        "/api/v1/policies",
        json=policy_body(owner[0]["id"], effective_on=start.isoformat(), review_by="2027-03-01"),
    )
    body = assert_problem(late, 422)
    assert body["errors"][0]["field"] == "review_by"
    assert "2027-02-28" in body["detail"]
    # Six months to the day (the month's end where it is shorter) is allowed.
    fine = await hr.post(
        "/api/v1/policies",
        json=policy_body(owner[0]["id"], effective_on=start.isoformat(), review_by="2027-02-28"),
    )
    assert fine.status_code == 201, fine.text


async def test_an_acknowledgement_is_recorded_once(
    app: Any, hr: httpx.AsyncClient, owner: Any, staff: dict[str, int], user_factory: UserFactory
) -> None:
    """Sam acknowledges; a second time changes nothing and answers the first time."""
    policy = await make_policy(hr, owner[0]["id"], department="Sales")
    await publish(hr, policy)
    version_id = policy["draft"]["id"]
    _, sam = await user_factory(Role.staff, employee_id=staff["sam"])
    mine = (await sam.get("/api/v1/policies/mine")).json()
    assert [(p["id"], p["acknowledged_at"]) for p in mine] == [(version_id, None)]
    first = await sam.post(f"/api/v1/policies/versions/{version_id}/acknowledge")
    assert first.status_code == 200, first.text
    assert first.json()["new"] is True
    second = await sam.post(f"/api/v1/policies/versions/{version_id}/acknowledge")
    assert second.status_code == 200
    assert second.json()["new"] is False
    assert second.json()["acknowledged_at"] == first.json()["acknowledged_at"]
    rows = await PolicyAcknowledgement.select().where(
        (PolicyAcknowledgement.policy_version == version_id)
        & (PolicyAcknowledgement.employee == staff["sam"])
    )
    assert len(rows) == 1 and rows[0]["acknowledged_at"] is not None
    assert (
        await AuditEvent.count().where(
            (AuditEvent.action == "policy.acknowledge") & (AuditEvent.object_id == str(version_id))
        )
        == 1
    )
    coverage = (await hr.get("/api/v1/policies/coverage")).json()
    assert [(c["asked"], c["acknowledged"]) for c in coverage] == [(3, 1)]
    asked = (await hr.get(f"/api/v1/policies/versions/{version_id}/acknowledgements")).json()
    assert [a["name"] for a in asked if a["acknowledged_at"]] == ["Sam Person"]


async def test_staff_see_and_acknowledge_their_own_policies_only(
    hr: httpx.AsyncClient, owner: Any, staff: dict[str, int], user_factory: UserFactory
) -> None:
    sales = await make_policy(hr, owner[0]["id"], department="Sales")
    await publish(hr, sales)
    draft_only = await make_policy(hr, owner[0]["id"], title="Draft")
    _, mia = await user_factory(Role.staff, employee_id=staff["mia"])
    assert (await mia.get("/api/v1/policies/mine")).json() == []
    # Another department's policy, a draft, the list of all, who acknowledged: none are hers.
    assert_problem(await mia.get(f"/api/v1/policies/versions/{sales['draft']['id']}"), 403)
    assert_problem(
        await mia.post(f"/api/v1/policies/versions/{sales['draft']['id']}/acknowledge"), 403
    )
    assert_problem(await mia.get(f"/api/v1/policies/versions/{draft_only['draft']['id']}"), 403)
    assert_problem(await mia.get("/api/v1/policies"), 403)
    assert_problem(await mia.get("/api/v1/policies/coverage"), 403)
    assert_problem(await mia.get("/api/v1/training/courses"), 403)
    assert (await mia.get("/api/v1/training/mine")).json() == []
    # A draft is no one's to acknowledge, not even a reader's of every policy.
    _, sam = await user_factory(Role.it, employee_id=staff["sam"])
    assert_problem(
        await sam.post(f"/api/v1/policies/versions/{draft_only['draft']['id']}/acknowledge"), 409
    )


async def test_the_review_finding_appears_when_the_date_passes(
    app: Any, settings: Any, hr: httpx.AsyncClient, owner: Any, staff: dict[str, int]
) -> None:
    """Time is injected: the owner is reminded once in the fortnight before the review date,
    and the finding appears the day after it."""
    today = dt.date.today()
    policy = await make_policy(
        hr, owner[0]["id"], review_by=(today + dt.timedelta(days=20)).isoformat()
    )
    await publish(hr, policy)
    moment = now()
    assert await services.review_findings(at=moment) == []
    configure_mail(dataclasses.replace(settings, smtp_host="127.0.0.1"))
    try:
        assert await flows.remind_reviews(at=moment) == 0
        soon = moment + dt.timedelta(days=7)
        assert await flows.remind_reviews(at=soon) == 1
        assert await flows.remind_reviews(at=soon + dt.timedelta(days=1)) == 0
        mails = await OutboxMessage.select(OutboxMessage.event).where(
            OutboxMessage.event_type == "mail.policy_review_due"
        )
        assert len(mails) == 1 and owner[0]["email"] in str(mails[0]["event"])
    finally:
        configure_mail(settings)
    assert await services.review_findings(at=moment + dt.timedelta(days=20)) == []
    [finding] = await services.review_findings(at=moment + dt.timedelta(days=21))
    assert finding["kind"] == "policy_review_overdue" and finding["policy_id"] == policy["id"]
    assert finding["days_over"] == 1 and finding["owner_id"] == owner[0]["id"]


async def test_reminders_go_weekly_to_those_who_have_not_acknowledged(
    app: Any,
    settings: Any,
    hr: httpx.AsyncClient,
    owner: Any,
    staff: dict[str, int],
    user_factory: UserFactory,
) -> None:
    policy = await make_policy(hr, owner[0]["id"], department="Sales")
    await publish(hr, policy)
    _, sam = await user_factory(Role.staff, employee_id=staff["sam"])
    await sam.post(f"/api/v1/policies/versions/{policy['draft']['id']}/acknowledge")
    moment = now()
    assert await flows.remind_unacknowledged(at=moment) == 0
    week = moment + dt.timedelta(days=7, minutes=1)
    # Sue and Lea have not acknowledged; Sam has.
    assert await flows.remind_unacknowledged(at=week) == 2
    assert await flows.remind_unacknowledged(at=week + dt.timedelta(days=1)) == 0
    assert await flows.remind_unacknowledged(at=week + dt.timedelta(days=8)) == 2


def test_markdown_is_rendered_without_raw_html_or_unsafe_links() -> None:
    html = services.render_markdown(
        "# Title\n\n<script>alert(1)</script>\n\n[ok](https://example.com) "
        "[bad](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=) "
        "[mail](mailto:hr@example.com) [here](/policies)\n\n<img src=x onerror=alert(1)>"
    )
    assert "<h2>Title</h2>" in html and "<h1>" not in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html
    assert 'href="https://example.com"' in html and 'href="mailto:hr@example.com"' in html
    assert 'href="/policies"' in html
    assert 'href="javascript' not in html and 'href="data:' not in html


async def test_ids_and_dates_at_the_edges_are_refused_or_kept(
    hr: httpx.AsyncClient, owner: Any
) -> None:
    """An id beyond the columns is a 422 naming it; an effective date at the calendar's end works."""
    body = assert_problem(await hr.post("/api/v1/policies", json=policy_body(2**31)), 422)
    assert "owner_id" in str(body)
    edge = await hr.post(
        "/api/v1/policies",
        json=policy_body(owner[0]["id"], effective_on="9999-10-01", review_by="9999-12-31"),
    )
    assert edge.status_code == 201, edge.text


async def test_the_command_line_lists_shows_publishes_and_counts(
    app: Any,
    settings: Any,
    hr: httpx.AsyncClient,
    owner: Any,
    staff: dict[str, int],
    user_factory: UserFactory,
) -> None:
    policy = await make_policy(hr, owner[0]["id"], department="Sales")
    listed = await run_cli(settings, "policies", "list")
    assert listed.code == 0 and "not published" in listed.out
    shown = await run_cli(settings, "policies", "show", str(policy["id"]))
    assert shown.code == 0 and '"draft"' in shown.out
    published = await run_cli(settings, "policies", "publish", str(policy["id"]))
    assert published.code == 0, published
    assert "3 people asked" in published.out
    _, sam = await user_factory(Role.staff, employee_id=staff["sam"])
    await sam.post(f"/api/v1/policies/versions/{policy['draft']['id']}/acknowledge")
    counted = await run_cli(settings, "policies", "acknowledgements", str(policy["id"]))
    assert counted.code == 0 and "1 of 3 acknowledged" in counted.out
    again = await run_cli(settings, "policies", "publish", str(policy["id"]))
    assert again.code == 2 and "no draft" in again.err
    events = await AuditEvent.select(AuditEvent.actor).where(AuditEvent.action == "policy.publish")
    assert [e["actor"] for e in events] == ["cli"]


async def test_a_policy_changes_hands_and_a_stale_change_is_refused(
    hr: httpx.AsyncClient, owner: Any, user_factory: UserFactory
) -> None:
    policy = await make_policy(hr, owner[0]["id"])
    new_owner, new_client = await user_factory(Role.legal)
    moved = await hr.patch(
        f"/api/v1/policies/{policy['id']}",
        json={"version": 1, "owner_id": new_owner["id"], "department": "Sales"},
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["owner_id"], moved.json()["department"], moved.json()["version"]) == (
        new_owner["id"],
        "Sales",
        2,
    )
    assert_problem(
        await hr.patch(f"/api/v1/policies/{policy['id']}", json={"version": 1, "title": "X"}), 409
    )
    # The old owner keeps it no more; the new one does.
    assert_problem(await publish(owner[1], policy), 403)
    assert (await publish(new_client, policy)).status_code == 200
    staff_user, _ = await user_factory(Role.staff)
    refused = await hr.patch(
        f"/api/v1/policies/{policy['id']}", json={"version": 2, "owner_id": staff_user["id"]}
    )
    assert assert_problem(refused, 422)["errors"][0]["field"] == "owner_id"
    changes = await AuditEvent.select(AuditEvent.changes).where(
        AuditEvent.action == "policy.update"
    )
    assert len(changes) == 1 and "owner_id" in str(changes[0]["changes"])


async def test_people_who_join_the_audience_later_are_asked_once_by_the_clock(
    app: Any,
    settings: Any,
    hr: httpx.AsyncClient,
    owner: Any,
    staff: dict[str, int],
    user_factory: UserFactory,
) -> None:
    """Time is injected: a person hired into Sales and one moved there after a Sales policy was
    published get the same first request (row and mail) at the clock's next run, once however
    often it runs; a week on they are reminded like the others; who is elsewhere or gone is not."""
    policy = await make_policy(hr, owner[0]["id"], department="Sales")
    everyone = await make_policy(hr, owner[0]["id"], title="Personal use", kind="personal_use")
    published = now()
    await publish(hr, policy)
    await publish(hr, everyone)
    sales, all_ = policy["draft"]["id"], everyone["draft"]["id"]
    # Hired through the staff API into Sales; Mia moved from Marketing; Max hired into Marketing.
    hired = await hr.post(
        "/api/v1/employees",
        json={"name": "Nia New", "work_email": "nia@example.com", "department": "Sales"},
    )
    assert hired.status_code == 201, hired.text
    nia = hired.json()["id"]
    mia = (await hr.get(f"/api/v1/employees/{staff['mia']}")).json()
    moved = await hr.patch(
        f"/api/v1/employees/{staff['mia']}", json={"department": "Sales", "version": mia["version"]}
    )
    assert moved.status_code == 200, moved.text
    elsewhere = await hr.post(
        "/api/v1/employees",
        json={"name": "Max Else", "work_email": "max@example.com", "department": "Marketing"},
    )
    max_ = elsewhere.json()["id"]

    async def asked(version_id: int) -> dict[int, Any]:
        rows = await PolicyAcknowledgement.select().where(
            PolicyAcknowledgement.policy_version == version_id
        )
        return {r["employee"]: r["asked_at"] for r in rows}

    assert nia not in await asked(sales) and staff["mia"] not in await asked(sales)
    configure_mail(dataclasses.replace(settings, smtp_host="127.0.0.1"))
    try:
        later = published + dt.timedelta(days=2)
        # What a second worker read at the same moment, to ask after the first has.
        stale = await services.late_joiners()
        assert sorted((v["id"], tuple(m)) for v, m in stale) == sorted(
            [(sales, tuple(sorted([staff["mia"], nia]))), (all_, tuple(sorted([nia, max_])))]
        )
        ran = await flows.policy_clock(at=later)
        # Nia and Mia for Sales; Nia and Max for everyone (Mia was asked for it at publishing).
        assert ran["asked"] == 4
        assert (await asked(sales))[nia] == later and (await asked(sales))[staff["mia"]] == later
        assert (await asked(all_))[max_] == later and (await asked(all_))[nia] == later
        assert max_ not in await asked(sales) and staff["old"] not in await asked(sales)
        mails = await OutboxMessage.select(OutboxMessage.event).where(
            OutboxMessage.event_type == "mail.policy_acknowledge"
        )
        late = [json_value(m["event"]) for m in mails]
        late = [e for e in late if "joined its audience" in e["summary"]]
        assert sorted((e["mail"]["to"], e["payload"]["version_id"]) for e in late) == sorted(
            [
                ("nia@example.com", sales),
                ("mia@example.com", sales),
                ("nia@example.com", all_),
                ("max@example.com", all_),
            ]
        )
        # The same first request as publishing sends: its subject and link.
        row = next(e for e in late if e["mail"]["to"] == "mia@example.com")
        mail = render_mail(row, row_id=1, settings=settings)
        assert mail["Subject"] == "Please read and acknowledge: Using social media for the job"
        assert f"/policies/versions/{sales}" in mail.get_body(("plain",)).get_content()
        # However often the clock runs (several workers, every minute), nobody is asked twice:
        # the worker that read before the first one asked inserts nothing, so mails nothing.
        async with write_transaction():
            for version, missing in stale:
                assert (
                    await services.ask_late_joiners(
                        version_id=version["id"], employee_ids=missing, at=later
                    )
                    == []
                )
        assert await flows.ask_late_joiners(at=later + dt.timedelta(minutes=1)) == 0
        assert (await flows.policy_clock(at=later + dt.timedelta(hours=1)))["asked"] == 0
        after = await OutboxMessage.count().where(
            OutboxMessage.event_type == "mail.policy_acknowledge"
        )
        assert after == len(mails)
        # Reminded a week after they were asked, not a week after publishing.
        week = published + dt.timedelta(days=7, minutes=1)
        reminded = await services.unacknowledged_due(at=week)
        assert {(r["policy_version"], r["employee"]) for r in reminded}.isdisjoint(
            {(sales, nia), (sales, staff["mia"]), (all_, nia), (all_, max_)}
        )
        late_week = later + dt.timedelta(days=7, minutes=1)
        due = {
            (r["policy_version"], r["employee"])
            for r in await services.unacknowledged_due(at=late_week)
        }
        assert {(sales, nia), (sales, staff["mia"]), (all_, max_)} <= due
    finally:
        configure_mail(settings)
    # Who has acknowledged by reading it first keeps that one record, and is not asked.
    _, nia_user = await user_factory(Role.staff, employee_id=nia)
    assert (
        await nia_user.post(f"/api/v1/policies/versions/{sales}/acknowledge")
    ).status_code == 200
    assert await flows.ask_late_joiners(at=later + dt.timedelta(days=1)) == 0
    # Each asking is in the audit trail, by the clock.
    events = await AuditEvent.select().where(AuditEvent.action == "policy.ask")
    assert sorted(e["object_id"] for e in events) == sorted([str(sales), str(all_)])
    assert {e["actor"] for e in events} == {"policy clock"}
