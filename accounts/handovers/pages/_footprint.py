"""The footprint section of a person's page: what they hold, could get into or could recover."""

from __future__ import annotations

from typing import Any

from accounts.handovers.services import footprint
from accounts.pages._common import LEVELS, PLATFORMS
from register.access import allowed
from register.actor import Actor
from register.i18n import N_
from register.settings import Settings

# A person's role on an account, in words.
ROLES = {
    "custodian": N_("Custodian"),
    "backup": N_("Backup custodian"),
    "mfa_holder": N_("Holds the second factor"),
    "recovery_email": N_("Recovery contact (e-mail)"),
    "recovery_phone": N_("Recovery contact (phone)"),
}
# Where an open incident is shown: its page (the incidents part's, found by the API's id).
INCIDENT_PATH = "/incidents/{id}"


async def footprint_section(
    actor: Actor, settings: Settings, employee_id: int
) -> list[dict[str, Any]]:
    """What the person holds across the register, for readers who may read handovers."""
    if actor.role is None or not allowed("handover.read", actor.role):
        return []
    found = await footprint(employee_id=employee_id, reveal_days=settings.handover_reveal_days)
    # Every account the section names, by id: held, granted or revealed.
    handles = {
        item["account_id"]: item
        for item in [*found["accounts"], *found["grants"], *found["revealed"]]
    }
    revealed = {r["account_id"]: r for r in found["revealed"]}
    incidents = [
        {**item, "link": INCIDENT_PATH.format(id=item["incident_id"])}
        for item in found["other"].get("incidents", [])
        if item.get("kind") == "open_incident"
    ]
    posts = found["post_requests"]
    empty = not (
        found["accounts"]
        or found["grants"]
        or found["credentials"]
        or found["post_approvals"]
        or posts["submitted"]
        or posts["waiting_on"]
        or incidents
    )
    return [
        {
            "title": N_("What they hold in the register"),
            "template": "handovers/_footprint.html",
            "footprint": found,
            "handles": handles,
            "revealed": revealed,
            "incidents": incidents,
            "empty": empty,
            "roles": ROLES,
            "levels": LEVELS,
            "platforms": PLATFORMS,
        }
    ]
