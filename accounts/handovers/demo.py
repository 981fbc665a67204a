"""The handover part of `register demo`: department templates and the recruiter's handover in progress."""

from __future__ import annotations

from typing import Any

from register.actor import Actor

TEMPLATES = [
    # department, title, description, owner team, days from the leaving date
    (
        "Sales",
        "Remove from the LinkedIn Page admins",
        "Page admin view > Settings > Manage admins: remove the leaver; keep a screenshot.",
        "it",
        -1,
    ),
    (
        "Sales",
        "Hand over saved searches, InMail templates and open candidate threads",
        "Walk the successor through Recruiter projects; note which threads were handed over.",
        "hr",
        -3,
    ),
    (
        "Communications",
        "Hand over scheduled posts",
        "Reassign or cancel posts scheduled in the publishing tool after the leaving date.",
        "it",
        -2,
    ),
    (
        "",
        "Remind the leaver of the personal social media policy",
        "What they may and may not say about the company once gone; confidentiality survives.",
        "hr",
        -5,
    ),
]


async def demo_handover(actor: Actor, context: dict[str, Any]) -> list[str]:
    """Templates per department, and Oliver Hughes' handover opened with some items worked."""
    from accounts.handovers import flows, services

    settings = context["settings"]
    ids = context["employee_ids"]
    for department, title, description, team, offset in TEMPLATES:
        await services.create_template(
            actor=actor,
            data={
                "department": department,
                "title": title,
                "description": description,
                "owner_role": team,
                "day_offset": offset,
            },
        )
    handover = await flows.start_handover(
        actor=actor,
        settings=settings,
        employee_id=ids["Oliver Hughes"],
        successor_id=ids["Fatima Zahra Alaoui"],
        emails=["oliver.hughes.recruits@gmail.com"],
        phones=["+44 7700 900123"],
        notes="Recruiter leaving for a competitor: restrictive covenants apply.",
        open_now=True,
    )
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for item in handover["items"]:
        by_kind.setdefault(item["kind"], []).append(item)
    worked = 0
    for item in by_kind.get("export_connections", []):
        await flows.export_item(actor=actor, handover_id=handover["id"], item_id=item["id"])
        worked += 1
    for item in by_kind.get("transfer_custody", [])[:1]:
        # Moved; the successor has not accepted yet, so the item stays open.
        await flows.transfer_item(actor=actor, handover_id=handover["id"], item_id=item["id"])
    for item in [i for i in by_kind.get("template", []) if i["owner_role"] == "hr"][:1]:
        await flows.complete_item(
            actor=actor,
            handover_id=handover["id"],
            item_id=item["id"],
            note="Done with the leaver; noted in the HR file.",
        )
        worked += 1
    return [
        f"demo: handover {handover['id']} of Oliver Hughes in progress "
        f"({len(handover['items'])} items, {worked} done; custody awaiting the successor's "
        f"acceptance; try GET /api/v1/handovers/{handover['id']})"
    ]
