"""The employees API: create, read, update with versions, managers, list filters, search, roles."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest

from register.enums import Role
from register.staff.tables import Employee
from register.tables import AuditEvent
from tests.helpers import assert_problem, employee_body

URL = "/api/v1/employees"
TODAY = dt.date.today()


async def create(client: httpx.AsyncClient, n: int | str = 1, **overrides: Any) -> dict[str, Any]:
    """Create an employee and return it, failing loudly on anything but 201."""
    resp = await client.post(URL, json=employee_body(n, **overrides))
    assert resp.status_code == 201, resp.text
    return resp.json()


# ---------------------------------------------------------------- create


async def test_create_returns_201_and_lower_cases_the_email(hr: httpx.AsyncClient) -> None:
    resp = await hr.post(
        URL, json=employee_body(1, work_email="  Jane.Doe@Example.COM ", name=" Jane Doe ")
    )
    assert resp.status_code == 201, resp.text
    emp = resp.json()
    assert emp["work_email"] == "jane.doe@example.com"
    assert emp["name"] == "Jane Doe"
    assert emp["version"] == 1
    assert emp["status"] == "active"
    assert emp["manager_id"] is None
    assert emp["start_date"] == "2022-01-10"
    assert (await hr.get(f"{URL}/{emp['id']}")).json() == emp
    events = await AuditEvent.select().where(AuditEvent.action == "employee.create")
    assert [e["object_id"] for e in events] == [str(emp["id"])]


async def test_duplicate_work_email_is_409_naming_the_field(hr: httpx.AsyncClient) -> None:
    await create(hr, 1, work_email="dup@example.com")
    resp = await hr.post(URL, json=employee_body(2, work_email="DUP@example.com"))
    assert_problem(resp, 409, "already-exists", field="work_email")
    assert await Employee.count() == 1


async def test_concurrent_duplicates_give_one_201_and_one_409(hr: httpx.AsyncClient) -> None:
    results = await asyncio.gather(
        *(hr.post(URL, json=employee_body(n, work_email="race@example.com")) for n in range(4))
    )
    assert sorted(r.status_code for r in results) == [201, 409, 409, 409], [r.text for r in results]
    for resp in results:
        if resp.status_code == 409:
            assert_problem(resp, 409, "already-exists", field="work_email")
    assert await Employee.count() == 1


@pytest.mark.parametrize(
    "email", ["not-an-email", "two@@example.com", "no domain@example.com", "x@y"]
)
async def test_bad_email_is_422_naming_the_field(hr: httpx.AsyncClient, email: str) -> None:
    resp = await hr.post(URL, json=employee_body(1, work_email=email))
    assert_problem(resp, 422, field="work_email")
    assert await Employee.count() == 0


async def test_blank_name_is_422(hr: httpx.AsyncClient) -> None:
    assert_problem(await hr.post(URL, json=employee_body(1, name="   ")), 422, field="name")


async def test_leaving_before_start_is_422(hr: httpx.AsyncClient) -> None:
    resp = await hr.post(
        URL, json=employee_body(1, start_date="2024-05-01", leaving_date="2024-04-30")
    )
    assert_problem(resp, 422, "invalid-input", field="leaving_date")
    assert await Employee.count() == 0


@pytest.mark.parametrize(
    ("leaving", "status"),
    [
        (None, "active"),
        (TODAY + dt.timedelta(days=30), "leaving"),
        (TODAY, "leaving"),
        (TODAY - dt.timedelta(days=1), "left"),
    ],
)
async def test_status_is_derived_from_the_leaving_date(
    hr: httpx.AsyncClient, leaving: dt.date | None, status: str
) -> None:
    emp = await create(hr, leaving_date=leaving.isoformat() if leaving else None)
    assert emp["status"] == status


async def test_explicit_left_without_leaving_date_is_422(hr: httpx.AsyncClient) -> None:
    resp = await hr.post(URL, json=employee_body(1, status="left"))
    assert_problem(resp, 422, field="leaving_date")
    assert await Employee.count() == 0


async def test_explicit_status_with_a_leaving_date_is_kept(hr: httpx.AsyncClient) -> None:
    emp = await create(hr, leaving_date=(TODAY + dt.timedelta(days=3)).isoformat(), status="left")
    assert emp["status"] == "left"


async def test_unknown_status_is_422(hr: httpx.AsyncClient) -> None:
    assert_problem(await hr.post(URL, json=employee_body(1, status="retired")), 422, field="status")


# ---------------------------------------------------------------- read


async def test_missing_employee_is_404_problem(hr: httpx.AsyncClient) -> None:
    body = assert_problem(await hr.get(f"{URL}/999999"), 404, "not-found")
    assert body["title"] and "999999" in body["detail"]


# ---------------------------------------------------------------- update


async def test_patch_with_the_right_version_bumps_it(hr: httpx.AsyncClient) -> None:
    emp = await create(hr)
    resp = await hr.patch(
        f"{URL}/{emp['id']}",
        json={"version": 1, "job_title": "Head of Social", "work_email": "New@Example.com"},
    )
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert (got["version"], got["job_title"], got["work_email"]) == (
        2,
        "Head of Social",
        "new@example.com",
    )
    assert got["department"] == emp["department"]
    assert (await hr.get(f"{URL}/{emp['id']}")).json() == got
    events = await AuditEvent.select().where(AuditEvent.action == "employee.update")
    assert len(events) == 1 and str(emp["id"]) == events[0]["object_id"]


async def test_patch_with_a_stale_version_is_409_and_changes_nothing(hr: httpx.AsyncClient) -> None:
    emp = await create(hr)
    assert (
        await hr.patch(f"{URL}/{emp['id']}", json={"version": 1, "job_title": "First"})
    ).status_code == 200
    resp = await hr.patch(
        f"{URL}/{emp['id']}", json={"version": 1, "job_title": "Second", "department": "Legal"}
    )
    body = assert_problem(resp, 409, "stale-version")
    assert body["current_version"] == 2
    got = (await hr.get(f"{URL}/{emp['id']}")).json()
    assert (got["version"], got["job_title"], got["department"]) == (2, "First", "Communications")


async def test_concurrent_patches_of_one_version_give_one_success(hr: httpx.AsyncClient) -> None:
    emp = await create(hr)
    results = await asyncio.gather(
        *(
            hr.patch(f"{URL}/{emp['id']}", json={"version": 1, "job_title": f"T{n}"})
            for n in range(4)
        )
    )
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409], [r.text for r in results]
    assert (await hr.get(f"{URL}/{emp['id']}")).json()["version"] == 2


async def test_patch_clears_a_field_with_null_and_rederives_status(hr: httpx.AsyncClient) -> None:
    emp = await create(hr, leaving_date=(TODAY - dt.timedelta(days=5)).isoformat())
    assert emp["status"] == "left"
    resp = await hr.patch(
        f"{URL}/{emp['id']}", json={"version": 1, "leaving_date": None, "start_date": None}
    )
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert (got["leaving_date"], got["start_date"], got["status"], got["version"]) == (
        None,
        None,
        "active",
        2,
    )


async def test_patch_setting_a_future_leaving_date_makes_them_leaving(
    hr: httpx.AsyncClient,
) -> None:
    emp = await create(hr)
    resp = await hr.patch(
        f"{URL}/{emp['id']}",
        json={"version": 1, "leaving_date": (TODAY + dt.timedelta(days=10)).isoformat()},
    )
    assert resp.json()["status"] == "leaving"


async def test_patch_rules_match_create(hr: httpx.AsyncClient) -> None:
    emp = await create(hr, 1)
    other = await create(hr, 2)
    url = f"{URL}/{emp['id']}"
    assert_problem(
        await hr.patch(url, json={"version": 1, "work_email": other["work_email"].upper()}),
        409,
        "already-exists",
        field="work_email",
    )
    assert_problem(
        await hr.patch(url, json={"version": 1, "work_email": "nope"}), 422, field="work_email"
    )
    assert_problem(
        await hr.patch(url, json={"version": 1, "leaving_date": "2000-01-01"}),
        422,
        field="leaving_date",
    )
    assert_problem(
        await hr.patch(url, json={"version": 1, "status": "left"}), 422, field="leaving_date"
    )
    assert_problem(await hr.patch(url, json={"version": 1, "name": "  "}), 422, field="name")
    assert_problem(await hr.patch(url, json={"version": 1, "name": None}), 422, field="name")
    assert_problem(await hr.patch(url, json={"job_title": "x"}), 422, field="version")
    assert (await hr.get(url)).json() == emp


async def test_concurrent_email_changes_to_one_address_give_one_success(
    hr: httpx.AsyncClient,
) -> None:
    people = [await create(hr, n) for n in range(3)]
    results = await asyncio.gather(
        *(
            hr.patch(f"{URL}/{p['id']}", json={"version": 1, "work_email": "taken@example.com"})
            for p in people
        )
    )
    assert sorted(r.status_code for r in results) == [200, 409, 409], [r.text for r in results]
    for resp in results:
        if resp.status_code == 409:
            assert_problem(resp, 409, "already-exists", field="work_email")
    assert await Employee.count().where(Employee.work_email == "taken@example.com") == 1


async def test_patch_of_a_missing_employee_is_404(hr: httpx.AsyncClient) -> None:
    assert_problem(
        await hr.patch(f"{URL}/424242", json={"version": 1, "name": "X"}), 404, "not-found"
    )


async def test_patch_without_changes_keeps_the_version(hr: httpx.AsyncClient) -> None:
    emp = await create(hr)
    resp = await hr.patch(f"{URL}/{emp['id']}", json={"version": 1, "job_title": emp["job_title"]})
    assert resp.status_code == 200 and resp.json()["version"] == 1


# ---------------------------------------------------------------- managers


async def test_manager_must_exist(hr: httpx.AsyncClient) -> None:
    assert_problem(
        await hr.post(URL, json=employee_body(1, manager_id=987654)), 422, field="manager_id"
    )
    emp = await create(hr, 2)
    assert_problem(
        await hr.patch(f"{URL}/{emp['id']}", json={"version": 1, "manager_id": 987654}),
        422,
        field="manager_id",
    )


async def test_manager_cannot_be_self_or_a_cycle(hr: httpx.AsyncClient) -> None:
    boss = await create(hr, "boss")
    mid = await create(hr, "mid", manager_id=boss["id"])
    low = await create(hr, "low", manager_id=mid["id"])
    assert (low["manager_id"], mid["manager_id"]) == (mid["id"], boss["id"])
    assert_problem(
        await hr.patch(f"{URL}/{boss['id']}", json={"version": 1, "manager_id": boss["id"]}),
        422,
        field="manager_id",
    )
    assert_problem(
        await hr.patch(f"{URL}/{boss['id']}", json={"version": 1, "manager_id": low["id"]}),
        422,
        field="manager_id",
    )
    assert_problem(
        await hr.patch(f"{URL}/{boss['id']}", json={"version": 1, "manager_id": mid["id"]}),
        422,
        field="manager_id",
    )
    assert (await hr.get(f"{URL}/{boss['id']}")).json()["manager_id"] is None


async def test_manager_can_be_changed_and_cleared(hr: httpx.AsyncClient) -> None:
    a, b = await create(hr, "a"), await create(hr, "b")
    emp = await create(hr, "c", manager_id=a["id"])
    moved = (
        await hr.patch(f"{URL}/{emp['id']}", json={"version": 1, "manager_id": b["id"]})
    ).json()
    assert (moved["manager_id"], moved["version"]) == (b["id"], 2)
    cleared = (await hr.patch(f"{URL}/{emp['id']}", json={"version": 2, "manager_id": None})).json()
    assert (cleared["manager_id"], cleared["version"]) == (None, 3)


# ---------------------------------------------------------------- list


@pytest.fixture
async def staff(hr: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """A small directory with managers, departments and leaving dates."""
    boss = await create(
        hr, "boss", name="Ada Boss", department="Board", job_title="Chief Executive"
    )
    people = {"boss": boss}
    people["zoe"] = await create(
        hr,
        "zoe",
        name="Zoë Ångström",
        work_email="zoe.angstrom@example.com",
        department="Communications",
        job_title="Social Media Lead",
        manager_id=boss["id"],
    )
    people["eli"] = await create(
        hr,
        "eli",
        name="Élodie Dupré",
        department="Communications",
        job_title="Community Manager",
        manager_id=boss["id"],
        leaving_date=(TODAY + dt.timedelta(days=20)).isoformat(),
    )
    people["bob"] = await create(
        hr,
        "bob",
        name="Bob Stone",
        department="IT",
        job_title="Systems Engineer",
        leaving_date=(TODAY - dt.timedelta(days=40)).isoformat(),
    )
    people["cy"] = await create(
        hr,
        "cy",
        name="Cy 100% Real_Name",
        department="IT",
        job_title="Recruiter",
        manager_id=people["zoe"]["id"],
        leaving_date=(TODAY + dt.timedelta(days=90)).isoformat(),
    )
    return people


def names(resp: httpx.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [e["name"] for e in resp.json()["items"]]


def name_set(resp: httpx.Response) -> set[str]:
    # Where accented names sort depends on the database's collation, so compare as sets.
    return set(names(resp))


async def test_list_filters(hr: httpx.AsyncClient, staff: dict[str, dict[str, Any]]) -> None:
    assert name_set(await hr.get(URL)) == {
        "Ada Boss",
        "Bob Stone",
        "Cy 100% Real_Name",
        "Zoë Ångström",
        "Élodie Dupré",
    }
    assert name_set(await hr.get(URL, params={"department": "IT"})) == {
        "Bob Stone",
        "Cy 100% Real_Name",
    }
    assert name_set(await hr.get(URL, params={"status": "leaving"})) == {
        "Cy 100% Real_Name",
        "Élodie Dupré",
    }
    assert name_set(await hr.get(URL, params={"status": "left"})) == {"Bob Stone"}
    assert name_set(await hr.get(URL, params={"manager_id": staff["boss"]["id"]})) == {
        "Zoë Ångström",
        "Élodie Dupré",
    }
    soon = (TODAY + dt.timedelta(days=30)).isoformat()
    assert name_set(await hr.get(URL, params={"leaving_before": soon})) == {
        "Bob Stone",
        "Élodie Dupré",
    }
    assert name_set(await hr.get(URL, params={"leaving_after": TODAY.isoformat()})) == {
        "Cy 100% Real_Name",
        "Élodie Dupré",
    }
    assert name_set(
        await hr.get(URL, params={"leaving_after": TODAY.isoformat(), "leaving_before": soon})
    ) == {"Élodie Dupré"}
    assert name_set(await hr.get(URL, params={"department": "IT", "status": "left"})) == {
        "Bob Stone"
    }
    assert names(await hr.get(URL, params={"department": "Nobody"})) == []
    # Ordered by name (ASCII names, so the order is the same under any collation).
    assert names(await hr.get(URL, params={"department": "IT"})) == [
        "Bob Stone",
        "Cy 100% Real_Name",
    ]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("zoë", ["Zoë Ångström"]),
        ("ÅNGSTRÖM", ["Zoë Ångström"]),
        ("ångström", ["Zoë Ångström"]),
        ("élodie", ["Élodie Dupré"]),
        ("DUPRÉ", ["Élodie Dupré"]),
        ("ZOE.ANGSTROM@", ["Zoë Ångström"]),
        ("social media", ["Zoë Ångström"]),
        ("engineer", ["Bob Stone"]),
        ("100%", ["Cy 100% Real_Name"]),
        ("real_name", ["Cy 100% Real_Name"]),
        ("_", ["Cy 100% Real_Name"]),
        ("%", ["Cy 100% Real_Name"]),
        ("*", []),
        ("[a]", []),
        ("\\", []),
        ("nobody-matches", []),
    ],
)
async def test_search_is_case_insensitive_over_name_email_and_title(
    hr: httpx.AsyncClient, staff: dict[str, dict[str, Any]], q: str, expected: list[str]
) -> None:
    assert names(await hr.get(URL, params={"q": q})) == expected
    assert names(await hr.get(URL, params={"q": f"  {q}  "})) == expected


async def test_pagination_with_next_offset_and_total(
    hr: httpx.AsyncClient, staff: dict[str, dict[str, Any]]
) -> None:
    seen: list[str] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        resp = await hr.get(URL, params={"limit": 2, "offset": offset, "include_total": "true"})
        body = resp.json()
        assert (body["limit"], body["offset"], body["total"]) == (2, offset, 5)
        seen += names(resp)
        offset = body["next_offset"]
        pages += 1
    assert pages == 3
    assert seen == names(await hr.get(URL))
    body = (await hr.get(URL, params={"limit": 5})).json()
    assert body["next_offset"] is None and body["total"] is None
    body = (
        await hr.get(URL, params={"department": "IT", "include_total": "true", "limit": 1})
    ).json()
    assert (len(body["items"]), body["total"], body["next_offset"]) == (1, 2, 1)
    assert (await hr.get(URL, params={"offset": 50})).json()["items"] == []


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"limit": -1}, {"limit": "many"}])
async def test_limit_out_of_range_is_422(hr: httpx.AsyncClient, params: dict[str, Any]) -> None:
    assert_problem(await hr.get(URL, params=params), 422, field="limit")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"offset": -1}, "offset"),
        ({"status": "gone"}, "status"),
        ({"leaving_before": "soon"}, "leaving_before"),
        ({"manager_id": "boss"}, "manager_id"),
    ],
)
async def test_bad_filters_are_422(
    hr: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    assert_problem(await hr.get(URL, params=params), 422, field=field)


# ---------------------------------------------------------------- roles


@pytest.mark.parametrize("role", [Role.hr, Role.admin])
async def test_hr_and_admin_may_write(user_factory: Any, role: Role) -> None:
    _, client = await user_factory(role)
    emp = await create(client)
    resp = await client.patch(f"{URL}/{emp['id']}", json={"version": 1, "job_title": "Changed"})
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("role", [Role.it, Role.comms, Role.auditor])
async def test_other_roles_read_only(user_factory: Any, hr: httpx.AsyncClient, role: Role) -> None:
    emp = await create(hr)
    _, client = await user_factory(role)
    assert (await client.get(URL)).json()["items"][0]["id"] == emp["id"]
    assert (await client.get(f"{URL}/{emp['id']}")).status_code == 200
    assert_problem(await client.post(URL, json=employee_body(2)), 403, "forbidden")
    assert_problem(
        await client.patch(f"{URL}/{emp['id']}", json={"version": 1, "name": "Hacked"}),
        403,
        "forbidden",
    )
    files = {"file": ("staff.csv", b"Name,Email\nX Y,xy@example.com\n", "text/csv")}
    assert_problem(await client.post(f"{URL}/imports", files=files), 403, "forbidden")
    assert await Employee.count() == 1
    assert (await client.get(f"{URL}/{emp['id']}")).json()["name"] == emp["name"]
    denied = await AuditEvent.select().where(AuditEvent.action == "auth.denied")
    assert len(denied) == 3


async def test_field_lengths_match_the_table(hr: httpx.AsyncClient) -> None:
    assert (
        await hr.post(
            URL, json=employee_body(1, department="d" * 120, job_title="t" * 200, name="n" * 200)
        )
    ).status_code == 201
    assert_problem(
        await hr.post(URL, json=employee_body(2, department="d" * 121)), 422, field="department"
    )
    assert_problem(
        await hr.post(URL, json=employee_body(3, job_title="t" * 201)), 422, field="job_title"
    )
    assert_problem(await hr.post(URL, json=employee_body(4, name="n" * 201)), 422, field="name")
    emp = (await hr.get(URL)).json()["items"][0]
    assert_problem(
        await hr.patch(f"{URL}/{emp['id']}", json={"version": 1, "department": "d" * 121}),
        422,
        field="department",
    )
    assert await Employee.count() == 1


async def test_a_nul_character_is_422_on_every_database(hr: httpx.AsyncClient) -> None:
    assert_problem(await hr.post(URL, json=employee_body(1, name="A\u0000B")), 422, field="name")
    emp = await create(hr, 2)
    resp = await hr.patch(f"{URL}/{emp['id']}", json={"version": 1, "job_title": "x\u0000"})
    assert_problem(resp, 422, field="job_title")
    assert await Employee.count() == 1
