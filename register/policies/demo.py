"""The demo company's two policies (published to everyone) and the course its posters need."""

from __future__ import annotations

import datetime as dt
from typing import Any

from register.actor import Actor
from register.policies import flows, services
from register.services import user_by_email

# (kind, title) of the shipped texts the demo publishes.
POLICIES = (
    ("job_use", "Using social media for the job"),
    ("personal_use", "Using social media in your personal life"),
)
# Who has taken the course, and how many days ago (one of them long enough to be overdue).
TRAINED = (("Marcus Lindqvist", 40), ("Nadia Petrova", 400))


async def demo_policies(actor: Actor, context: dict[str, Any]) -> list[str]:
    """Publish both policies (owned by HR) and add the course required of account holders."""
    today: dt.date = context["today"]
    owner = await user_by_email(email=f"hr@{context['domain']}")
    if owner is None:
        return []
    for kind, title in POLICIES:
        policy = await services.create_policy(
            actor=actor,
            data={
                "title": title,
                "kind": kind,
                "owner_id": owner["id"],
                # English, like the rest of the demo company (its names, titles and course): the
                # register has no company-wide language, only each reader's.
                "body": services.template_text(kind),
                "effective_on": today,
                "review_by": services.add_months(today, services.REVIEW_MONTHS),
            },
        )
        await flows.publish_version(
            actor=actor, version_id=policy["draft"]["id"], version=policy["draft"]["version"]
        )
    course = await services.create_course(
        actor=actor,
        data={
            "title": "Posting for the company",
            "description": "Company accounts, approval, privacy and what never to post.",
            "required_platforms": [services.EVERY_ACCOUNT],
            "renewal_months": 12,
        },
    )
    ids = context["employee_ids"]
    await services.add_completions(
        actor=actor,
        items=[
            {
                "course_id": course["id"],
                "employee_id": ids[name],
                "completed_on": today - dt.timedelta(days=days),
                "evidence": "demo",
            }
            for name, days in TRAINED
            if name in ids
        ],
    )
    return [f"demo: {len(POLICIES)} policies published to everyone, 1 training course"]
