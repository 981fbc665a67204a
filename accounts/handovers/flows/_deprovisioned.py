"""A person the identity provider deprovisioned: their handover drafted from the footprint, HR told."""

from __future__ import annotations

from typing import Any

from accounts.handovers.flows._start import _start
from accounts.handovers.services import LIVE
from accounts.handovers.tables import Handover
from register.actor import Actor
from register.enums import Role
from register.errors import RegisterError
from register.notifications.enums import EventType
from register.settings import Settings
from register.staff.enums import EmployeeStatus
from register.staff.services import get_employee


async def start_for_deprovisioned(actor: Actor, settings: Settings, employee_id: int) -> None:
    """Draft the leaver's handover (their manager the successor) and tell HR; never fails the caller."""
    from register.notifications.flows import publish

    if await Handover.exists().where(
        (Handover.employee == employee_id) & Handover.state.is_in(list(LIVE))
    ):
        return
    leaver = await get_employee(employee_id=employee_id)
    successor = None
    if leaver["manager_id"] is not None:
        manager = await get_employee(employee_id=leaver["manager_id"])
        if manager["status"] == EmployeeStatus.active.value:
            successor = manager["id"]
    payload: dict[str, Any] = {
        "employee_id": employee_id,
        "employee": leaver["name"],
        "leaving_date": leaver["leaving_date"].isoformat() if leaver["leaving_date"] else None,
        "state": "draft",
        "handover_id": None,
    }
    summary = (
        f"{leaver['name']} was deprovisioned by the identity provider: no active manager to "
        "take over, so start their handover with a successor."
    )
    if successor is not None:
        try:
            # A draft: HR reviews the checklist, may name another successor, then opens it.
            payload["handover_id"] = await _start(
                actor=actor,
                settings=settings,
                employee_id=employee_id,
                successor_id=successor,
                leaving_date=None,
                emails=(),
                phones=(),
                notes="Started by the identity provider's deprovisioning (SCIM).",
                open_now=False,
            )
            payload["link"] = f"/api/v1/handovers/{payload['handover_id']}"
            summary = (
                f"{leaver['name']} was deprovisioned by the identity provider: a draft handover "
                "is waiting for HR to review and open it."
            )
        except RegisterError as exc:
            # The offboarding goes on without it; HR starts the handover by hand.
            payload["refused"] = exc.detail
    await publish(EventType.handover_started.value, payload, summary=summary, audience=[Role.hr])
