"""The staff role: any employee, who sees their own things only (home, settings, policies, training,
the incident tasks assigned to them)."""

from __future__ import annotations

import re

from register.enums import Role
from tests.conftest import UserFactory


async def test_a_staff_members_home_and_menu_offer_only_their_own_things(
    user_factory: UserFactory, admin: object
) -> None:
    _, staff = await user_factory(Role.staff)
    home = await staff.get("/")
    assert home.status_code == 200, home.text
    nav = re.search(r"<nav.*?</nav>", home.text, re.S)
    assert nav is not None
    links = set(re.findall(r'href="(/[^"]*)"', nav.group(0)))
    # Their home and settings (and the sign-out form), and none of another role's pages.
    assert {"/", "/settings", "/policies", "/training"} <= links
    assert not links & {"/accounts", "/staff", "/incidents", "/audit", "/admin/users"}
    for path in ("/accounts", "/staff", "/incidents", "/audit", "/handovers"):
        page = await staff.get(path)
        assert page.status_code == 403, path
    for path in (
        "/api/v1/employees",
        "/api/v1/accounts",
        "/api/v1/incidents",
        "/api/v1/audit/events",
    ):
        assert (await staff.get(path)).status_code == 403, path
    # The incident tasks assigned to them are theirs to list (tests/incidents/test_my_tasks.py).
    assert (await staff.get("/api/v1/incidents/tasks/mine")).json() == []
    # Their own settings and tokens are theirs.
    assert (await staff.get("/settings")).status_code == 200
    assert (await staff.get("/api/v1/tokens")).status_code == 200
