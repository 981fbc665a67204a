"""Publishing a version (and asking its people), the reminder clocks and the digest's share."""

from __future__ import annotations

import datetime as dt
from typing import Any

from register.actor import Actor
from register.db import now, write_transaction
from register.enums import Role
from register.i18n import N_
from register.notifications.enums import MailKind
from register.notifications.flows import publish_mail
from register.policies import services


async def publish_version(
    *, actor: Actor, version_id: int, version: int, at: dt.datetime | None = None
) -> dict[str, Any]:
    """Publish a draft: the last version superseded, its people asked to acknowledge (mailed)."""
    moment = at or now()
    async with write_transaction():
        policy, published, people = await services.mark_published(
            actor=actor, version_id=version_id, version=version, at=moment
        )
        # One mail per person, queued in this transaction: a rolled-back publish sends none.
        mailed = await publish_mail(
            MailKind.policy_acknowledge,
            payload={"title": policy["title"], "policy_id": policy["id"], "version_id": version_id},
            path=f"/policies/versions/{version_id}",
            summary=f"policy to acknowledge: {policy['title']}",
            employees=people,
            actor=actor,
        )
    return {**published, "asked": len(people), "mailed": mailed}


async def ask_late_joiners(*, at: dt.datetime | None = None) -> int:
    """Ask, and mail, whoever joined a current version's audience after it was published; how
    many. The same first request as publishing sends; reminders follow a week later."""
    moment = at or now()
    # Read first: most runs find nobody, and then take no write lock.
    found = await services.late_joiners()
    if not found:
        return 0
    told = 0
    async with write_transaction():
        for version, missing in found:
            people = await services.ask_late_joiners(
                version_id=version["id"], employee_ids=missing, at=moment
            )
            if not people:
                continue
            title = version["policy.title"]
            told += len(people)
            await publish_mail(
                MailKind.policy_acknowledge,
                payload={"title": title, "version_id": version["id"]},
                path=f"/policies/versions/{version['id']}",
                summary=f"policy to acknowledge (joined its audience): {title}",
                employees=people,
            )
    return told


async def remind_unacknowledged(*, at: dt.datetime | None = None) -> int:
    """Remind, once a week, everyone who has not acknowledged a current version; how many."""
    moment = at or now()
    async with write_transaction():
        due = await services.unacknowledged_due(at=moment)
        by_version: dict[int, list[dict[str, Any]]] = {}
        for row in due:
            by_version.setdefault(row["policy_version"], []).append(row)
        for version_id, rows in by_version.items():
            title = rows[0]["policy_version.policy.title"]
            await publish_mail(
                MailKind.policy_acknowledge,
                payload={"title": title, "version_id": version_id, "reminder": True},
                path=f"/policies/versions/{version_id}",
                summary=f"reminder, policy to acknowledge: {title}",
                employees=[r["employee"] for r in rows],
            )
        await services.mark_reminded(ack_ids=[r["id"] for r in due], at=moment)
    return len(due)


async def remind_reviews(*, at: dt.datetime | None = None) -> int:
    """Tell each owner, once, that their policy's review date is near; how many were told."""
    moment = at or now()
    told = 0
    async with write_transaction():
        for row in await services.reviews_coming(at=moment):
            # Only the run that marks it mails it: several workers may run this clock at once.
            if not await services.mark_review_reminded(version_id=row["id"], at=moment):
                continue
            told += 1
            await publish_mail(
                MailKind.policy_review_due,
                payload={
                    "title": row["policy.title"],
                    "review_by": row["review_by"].isoformat(),
                    "due_date": row["review_by"].isoformat(),
                    "policy_id": row["policy"],
                },
                path=f"/policies/{row['policy']}",
                summary=f"policy review due by {row['review_by'].isoformat()}: {row['policy.title']}",
                users=[row["policy.owner"]],
            )
    return told


async def policy_clock(*, at: dt.datetime | None = None) -> dict[str, int]:
    """The worker's clock: late joiners asked, reminders to acknowledge, owners told of reviews."""
    return {
        "asked": await ask_late_joiners(at=at),
        "reminded": await remind_unacknowledged(at=at),
        "reviews": await remind_reviews(at=at),
    }


async def digest(role: Any, since: Any) -> list[dict[str, Any]]:
    """The daily digest's policies past their review date, for HR and admins."""
    if Role(role) not in (Role.hr, Role.admin):
        return []
    overdue = await services.review_findings()
    if not overdue:
        return []
    return [
        {
            "title": N_("Policies past their review date"),
            "count": len(overdue),
            "items": [f"{f['title']} ({f['review_by'].isoformat()})" for f in overdue[:20]],
        }
    ]
