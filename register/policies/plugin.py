"""How policies and training plug into the core: routes, CLI, pages, the clock and the digest."""

from __future__ import annotations

from typing import Any

from register.extensions import Extensions

PART = "policies"


def register(ext: Extensions) -> None:
    """Register policies and training with the core."""
    from register.policies.api import PolicyController, TrainingController
    from register.policies.commands import add_commands
    from register.policies.demo import demo_policies
    from register.policies.pages import register_pages

    ext.add_controllers(PART, [PolicyController, TrainingController])
    ext.add_commands(PART, add_commands)
    ext.demo_steps.append(demo_policies)
    ext.periodic_tasks.append(policy_clock)
    ext.digest_sources.append(policy_digest)
    ext.audited_records["policy"] = count_policies
    register_pages(ext)


async def policy_clock() -> None:
    """Reminders to acknowledge, and owners told that a review is near (worker clock)."""
    from register.policies.flows import policy_clock as clock

    await clock()


async def policy_digest(role: Any, since: Any) -> list[dict[str, Any]]:
    """The daily digest's policies past their review date."""
    from register.policies.flows import digest

    return await digest(role, since)


async def count_policies() -> int:
    """Policies (each made by an audited change)."""
    from register.policies.tables import Policy

    return await Policy.count()
