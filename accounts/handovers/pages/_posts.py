"""What the post approver and post request items of a handover show on their forms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accounts.posts.services import approval_of, open_requests_of, possible_approvers
from register.i18n import ROLE_WORDS
from register.services import user_ids_of_employee
from register.staff.enums import EmployeeStatus
from register.staff.services import employees_by_id


async def approver_choices(
    handover: Mapping[str, Any], item: Mapping[str, Any], gettext: Any
) -> dict[str, Any]:
    """Who may take the leaver's place as approver (by name), and who approves the account now."""
    leaving = await user_ids_of_employee(handover["employee_id"])
    current = await approval_of(account_id=item["target_id"])
    named = {a["user_id"] for a in current["approvers"]}
    users = await possible_approvers()
    people = await employees_by_id(u["employee_id"] for u in users)
    # Only people who stay: someone leaving too would leave the account where it was.
    staying = [
        u
        for u in users
        if u["employee_id"] is None
        or people.get(u["employee_id"], {}).get("status") == EmployeeStatus.active.value
    ]
    options = [
        (u["id"], f"{u['name']} ({gettext(ROLE_WORDS.get(u['role'], u['role']))}, {u['email']})")
        for u in staying
        if u["id"] not in leaving and u["id"] not in named
    ]
    others = [a for a in current["approvers"] if a["user_id"] not in leaving]
    return {"approval": current, "others": others, "options": options}


async def open_posts(handover: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The leaver's post requests still open (what a withdrawal takes back)."""
    found = await open_requests_of(await user_ids_of_employee(handover["employee_id"]))
    return found["submitted"]
