"""How handovers plug into the core: routes, `register handover`, the demo's handover, digest, clock."""

from __future__ import annotations

from register.extensions import Extensions

PART = "handovers"


def register(ext: Extensions) -> None:
    """Register handovers with the core."""
    from accounts.handovers.api import HANDOVER_CONTROLLERS
    from accounts.handovers.commands import add_commands
    from accounts.handovers.demo import demo_handover
    from accounts.handovers.services import digest_source, offboarded

    ext.add_controllers(PART, HANDOVER_CONTROLLERS)
    ext.add_commands(PART, add_commands)
    ext.demo_steps.append(demo_handover)
    ext.digest_sources.append(digest_source)
    ext.periodic_tasks.append(handover_clock)
    ext.offboarded.append(offboarded)
    # SCIM deprovisioning is an offboarding: a draft handover from the footprint, HR told.
    from accounts.handovers.flows import start_for_deprovisioned

    ext.on_deprovisioned.append(start_for_deprovisioned)
    from accounts.handovers.pages import register_pages

    register_pages(ext)


async def handover_clock() -> None:
    """Revoke grants whose leaving date came, then notify newly overdue items (worker clock)."""
    from accounts.handovers.flows import notify_overdue, revoke_due_grants
    from register.actor import Actor

    actor = Actor.system("handover clock")
    await revoke_due_grants(actor=actor)
    await notify_overdue(actor=actor)
