"""First checks: the app starts, health answers, an admin can create and read an employee."""

from __future__ import annotations

from tests.helpers import assert_problem, employee_body


async def test_health_and_ready(client):
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["migrations"] == "applied"


async def test_create_and_read_employee(admin):
    resp = await admin.post("/api/v1/employees", json=employee_body())
    assert resp.status_code == 201, resp.text
    emp = resp.json()
    got = await admin.get(f"/api/v1/employees/{emp['id']}")
    assert got.json()["work_email"] == "person1@example.com"


async def test_anonymous_gets_401(client):
    assert_problem(await client.get("/api/v1/employees"), 401, "not-authenticated")
