"""The incidents part of `register demo`: incidents in several states, worked through their playbooks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from accounts.enums import Platform
from accounts.services import list_accounts
from incidents import flows, services
from incidents.enums import EvidenceKind, Phase, Status, TaskState
from register.actor import Actor
from register.db import now as db_now
from register.enums import Role
from register.services import list_users


async def _user(role: Role) -> int | None:
    users, _ = await list_users(limit=1, offset=0, role=role)
    return users[0]["id"] if users else None


async def _counsel() -> Actor | None:
    """The demo's legal counsel, who signs the legal steps."""
    users, _ = await list_users(limit=1, offset=0, role=Role.legal)
    if not users:
        return None
    return Actor(user_id=users[0]["id"], email=users[0]["email"], role=Role.legal, via="demo")


async def _finish_phases(
    actor: Actor, incident_id: int, phases: list[Phase], at: dt.datetime
) -> None:
    """Complete every open task of these phases in playbook order, as the people working it would
    (legal counsel signs the legal steps)."""
    counsel = await _counsel()
    for task in await services.list_tasks(incident_id=incident_id):
        if (
            task["phase"] in {p.value for p in phases}
            and task["state"] == TaskState.open.value
            and task["kind"] != "follow_up"
        ):
            await services.finish_task(
                actor=counsel if counsel and task["sign_off"] == "legal" else actor,
                incident_id=incident_id,
                task_id=task["id"],
                state=TaskState.done,
                note="done (demo)",
                at=at,
            )


async def _advance(actor: Actor, incident_id: int, to: Status, at: dt.datetime) -> None:
    order = [Status.triaged, Status.contained, Status.resolved, Status.closed]
    phases = {
        Status.triaged: Phase.triage,
        Status.contained: Phase.contain,
        Status.resolved: Phase.resolve,
        Status.closed: Phase.review,
    }
    current = Status((await services.incident_row(incident_id))["status"])
    ahead = [s for s in order[: order.index(to) + 1] if order.index(s) > _rank(current)]
    for n, status in enumerate(ahead):
        moment = at + dt.timedelta(minutes=20 * (n + 1))
        await _finish_phases(actor, incident_id, [phases[status]], moment)
        row = await services.incident_row(incident_id)
        await flows.change_status(
            actor=actor, incident_id=incident_id, status=status, version=row["version"], at=moment
        )


def _rank(status: Status) -> int:
    return [
        Status.reported,
        Status.triaged,
        Status.contained,
        Status.resolved,
        Status.closed,
    ].index(status) - 1


async def demo_incidents(actor: Actor, context: dict[str, Any]) -> list[str]:
    """Six incidents: a live compromise, a press inquiry, a closed impersonation, an employee post
    awaiting legal review, a resolved geotag, and an anonymous harassment report."""
    from register.keys import load_secrets

    settings = context["settings"]
    secrets = load_secrets(settings, announce=False)
    keyring = secrets.keyring
    comms = await _user(Role.comms)
    hr = await _user(Role.hr)
    it = await _user(Role.it)
    legal = await _user(Role.legal)
    people = context["employee_ids"]
    now = db_now()
    instagram = next(
        iter((await list_accounts(limit=1, offset=0, platform=Platform.instagram))[0]), None
    )
    x = next(iter((await list_accounts(limit=1, offset=0, platform=Platform.x))[0]), None)
    made: list[str] = []

    def when(hours: float) -> dt.datetime:
        return now - dt.timedelta(hours=hours)

    common = {"commander_id": comms, "hr_assignee_id": hr, "it_assignee_id": it, "legal_id": legal}
    # A live SEV1: the Instagram account was taken over two hours ago; triage is done.
    if instagram:
        inc = await services.file_incident(
            actor=actor,
            at=when(2),
            data={
                **common,
                "title": "Instagram account posting crypto giveaway scams",
                "category": "account_compromise",
                "severity": "SEV1",
                "account_id": instagram["id"],
                "description": "Three posts promising a Bitcoin giveaway appeared overnight; the "
                "brand manager's sign-in no longer works.",
                "content_urls": ["https://www.instagram.com/p/demoScam01/"],
            },
        )
        await flows.acknowledge(actor=actor, incident_id=inc["id"], at=when(1.9))
        await services.add_evidence(
            actor=actor,
            keyring=keyring,
            incident_id=inc["id"],
            kind=EvidenceKind.url,
            url="https://www.instagram.com/p/demoScam01/",
            description="First scam post, 14k views at capture",
            captured_at=when(1.8),
        )
        await _advance(actor, inc["id"], Status.triaged, when(1.8))
        made.append(
            f"  {inc['reference']} SEV1 account compromise (triaged, credential rotation due)"
        )
    # A SEV2 press inquiry, contained: the holding statement went out.
    inc = await services.file_incident(
        actor=actor,
        at=when(30),
        data={
            **common,
            "title": "Journalist asking about a deleted post on our X account",
            "category": "press_inquiry",
            "severity": "SEV2",
            "spokesperson_id": comms,
            "platform": "x",
            "account_id": x["id"] if x else None,
        },
    )
    await flows.acknowledge(actor=actor, incident_id=inc["id"], at=when(29.5))
    await _advance(actor, inc["id"], Status.contained, when(29))
    made.append(f"  {inc['reference']} SEV2 press inquiry (contained)")
    # A SEV3 impersonation, closed after the platform removed the fake account.
    inc = await services.file_incident(
        actor=actor,
        at=when(24 * 20),
        data={
            **common,
            "title": "Fake 'Northwind Outdoor Support' account DMing customers",
            "category": "impersonation",
            "severity": "SEV3",
            "platform": "x",
            "content_urls": ["https://x.com/northwind_help_desk"],
        },
    )
    await flows.acknowledge(actor=actor, incident_id=inc["id"], at=when(24 * 20 - 1))
    report = await services.add_report(
        actor=actor,
        incident_id=inc["id"],
        data={"platform": "x", "report_ref": "X-IMP-4471902", "submitted_at": when(24 * 20 - 2)},
    )
    await services.update_report(
        actor=actor,
        incident_id=inc["id"],
        report_id=report["id"],
        version=1,
        changes={"answer": "Account suspended for impersonation", "outcome": "removed"},
    )
    await _advance(actor, inc["id"], Status.resolved, when(24 * 19))
    review = await services.save_review(
        actor=actor,
        incident_id=inc["id"],
        version=0,
        data={
            "summary": "A fake support account contacted 11 customers asking for order numbers.",
            "impact": "No payments lost; two customers shared order numbers.",
            "root_cause": "Our real support handle is not linked from the website.",
            "went_well": "Customers reported it within an hour; X removed it in two days.",
            "to_improve": "Link official handles from the site; pre-register lookalike handles.",
        },
    )
    await services.add_action(
        actor=actor,
        incident_id=inc["id"],
        data={
            "title": "List official handles on the contact page",
            "owner_role": "comms",
            "assignee_id": comms,
            "due_at": now + dt.timedelta(days=10),
        },
    )
    await services.sign_off_review(actor=actor, incident_id=inc["id"], version=review["version"])
    await _advance(actor, inc["id"], Status.closed, when(24 * 15))
    made.append(f"  {inc['reference']} SEV3 impersonation (closed, review signed off)")
    # A SEV2 employee post awaiting the legal review before HR may act.
    inc = await services.file_incident(
        actor=actor,
        at=when(5),
        data={
            **common,
            "title": "Sales rep's post mocking a partner's product goes viral",
            "category": "employee_post",
            "severity": "SEV2",
            "platform": "linkedin_profile",
            "employee_id": people.get("Jonas Becker"),
        },
    )
    await flows.acknowledge(actor=actor, incident_id=inc["id"], at=when(4.5))
    made.append(f"  {inc['reference']} SEV2 employee post (reported, legal review pending)")
    # A SEV4 geotagged photo, resolved.
    inc = await services.file_incident(
        actor=actor,
        at=when(24 * 3),
        data={
            **common,
            "title": "Team photo geotagged at the CEO's home",
            "category": "location_reveal",
            "severity": "SEV4",
            "platform": "instagram",
        },
    )
    await flows.acknowledge(actor=actor, incident_id=inc["id"], at=when(24 * 3 - 2))
    await _advance(actor, inc["id"], Status.resolved, when(24 * 2))
    made.append(f"  {inc['reference']} SEV4 geotagged photo (resolved)")
    # An anonymous report through the intake link.
    anonymous = Actor.anonymous(client_address="demo")
    receipt = await flows.intake(
        actor=anonymous,
        secret=secrets.secret_key,
        data={
            "category": "harassment",
            "title": "Colleague receiving abusive replies after a company video",
            "description": "Since the recruiting video went out, she gets daily abusive replies and DMs.",
            "platform": "tiktok",
            "anonymous": True,
        },
    )
    made.append(
        f"  {receipt['reference']} harassment via the confidential intake (anonymous, in triage)"
    )
    return ["incidents:", *made]
