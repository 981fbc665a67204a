"""Post approval's part of `register demo`: the Instagram account needs approval by comms, and
the campaign assistant who holds a grant on it has a post waiting."""

from __future__ import annotations

from typing import Any

from accounts.enums import Platform
from register.actor import Actor
from register.enums import Role

CAMPAIGN_ASSISTANT = "Lucas Ferreira"
POST = (
    "Autumn trail days are back! Join our guides on 12 October for a morning hike from the "
    "Keswick store. Free for members."
)


async def demo_posts(actor: Actor, context: dict[str, Any]) -> list[str]:
    """Approval on the Instagram account (comms approves) and a post waiting from Lucas."""
    from accounts.posts import flows
    from accounts.posts.services import set_approval
    from accounts.services import list_accounts
    from register.keys import load_secrets
    from register.services import create_user, user_by_email

    settings = context["settings"]
    accounts, _ = await list_accounts(limit=5, offset=0, platform=Platform.instagram)
    comms = await user_by_email(email=f"comms@{context['domain']}")
    if not accounts or comms is None:
        return []
    account = accounts[0]
    await set_approval(
        actor=actor,
        account_id=account["id"],
        requires_approval=True,
        approvers=[comms["id"]],
        version=0,
    )
    employee_id = context["employee_ids"][CAMPAIGN_ASSISTANT]
    lucas, password = await create_user(
        actor=actor,
        email="lucas.ferreira@" + context["domain"],
        role=Role.staff,
        name=CAMPAIGN_ASSISTANT,
        employee_id=employee_id,
    )
    await flows.submit(
        actor=Actor(
            user_id=lucas["id"], email=lucas["email"], role=Role.staff, employee_id=employee_id
        ),
        keyring=load_secrets(settings, announce=False).keyring,
        account_id=account["id"],
        text=POST,
    )
    return [
        f"demo: posts from {account['handle']} need approval by comms; one waits (/posts), "
        "from a member of staff (one-time password, shown once):",
        f"  {Role.staff.value:<8} {lucas['email']:<40} {password}",
    ]
