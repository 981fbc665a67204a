"""The reads the connections pages needed: one import with why its lines failed, an erasure's preview."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.connections.files import import_connections
from accounts.connections.services import (
    erasure_preview,
    get_import,
    import_problems,
    subject_access,
)
from register.actor import Actor
from register.audit import head
from register.errors import InvalidInput, NotFound
from tests.accounts.connections.test_connections import hand_made, staff
from tests.accounts.connections.test_connections_privacy import ZOE, ZOE_UNREADABLE

__all__ = ["staff"]


async def _imported(staff: dict[str, Any]) -> dict[str, Any]:
    """Rita's export: Zoë, Zoë again on a line that cannot be read, and a line with no name."""
    return await import_connections(
        actor=Actor.system("test"),
        employee_id=staff["rec"]["id"],
        content=hand_made(
            ZOE,
            ZOE_UNREADABLE,
            "Ana,Silva,https://www.linkedin.com/in/ana-silva,,Initech,CFO,07 Dec 2024",
            ",,,,,,07 Dec 2024",
        ),
    )


async def test_an_import_and_why_its_lines_were_not_read(staff: dict[str, Any]) -> None:
    """Counts as the import gave them; each bad line with its column and reason, no cell."""
    result = await _imported(staff)
    rec, import_id = staff["rec"]["id"], result["import"]["id"]
    found = await get_import(employee_id=rec, import_id=import_id)
    assert found == result["import"]
    problems, total = await import_problems(employee_id=rec, import_id=import_id, limit=1)
    assert total == 2 and len(problems) == 1
    problems, _ = await import_problems(employee_id=rec, import_id=import_id, limit=10)
    assert [(p["line"], p["column"]) for p in problems] == [(6, "Connected On"), (8, "First Name")]
    assert "someday" in problems[0]["problem"] and "Müller" not in str(problems)
    with pytest.raises(NotFound):
        await get_import(employee_id=staff["new"]["id"], import_id=import_id)
    with pytest.raises(NotFound):
        await import_problems(employee_id=staff["new"]["id"], import_id=import_id, limit=10)


async def test_an_erasure_preview_counts_what_erase_would_take_and_writes_nothing(
    staff: dict[str, Any],
) -> None:
    """The person's names and holders, their records and unreadable lines; the trail unchanged."""
    await _imported(staff)
    before = await head()
    preview = await erasure_preview(email="zoe.mueller@example.org")
    assert preview["connections"] == 1 and preview["rejected_lines"] == 1
    assert preview["names"] == ["Zoë Müller"]
    assert preview["owners"] == [{"employee_id": staff["rec"]["id"], "name": "Rita Reyes"}]
    assert await head() == before, "the preview wrote to the audit trail"
    held = await subject_access(actor=Actor.system("test"), email="zoe.mueller@example.org")
    assert held["count"] == 1
    with pytest.raises(InvalidInput):
        await erasure_preview(profile_url="https://example.com/zoe")
    nobody = await erasure_preview(profile_url="https://www.linkedin.com/in/nobody")
    assert (nobody["connections"], nobody["rejected_lines"], nobody["owners"]) == (0, 0, [])
