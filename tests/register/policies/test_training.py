"""Training: courses, completions, who is due, the import, and the account register's finding."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx

from register.enums import Role
from register.policies.tables import TrainingCompletion
from register.tables import AuditEvent
from tests.cli import run_cli
from tests.conftest import UserFactory
from tests.helpers import assert_problem


async def make_course(hr: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """A course through the API."""
    body = {"title": "Posting for the company", "renewal_months": 12, **fields}
    resp = await hr.post("/api/v1/training/courses", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def complete(
    hr: httpx.AsyncClient, course_id: int, employee_id: int, day: dt.date
) -> httpx.Response:
    """Record a completion through the API."""
    return await hr.post(
        "/api/v1/training/completions",
        json={
            "course_id": course_id,
            "employee_id": employee_id,
            "completed_on": day.isoformat(),
            "evidence": "CERT-1",
        },
    )


async def test_a_grant_holder_without_required_training_is_a_risk_finding(
    hr: httpx.AsyncClient, user_factory: UserFactory, staff: dict[str, int]
) -> None:
    """Sam holds a grant on an X account; a course X requires makes it a finding until he has
    completed it, and again once his completion has run out."""
    _, it = await user_factory(Role.it)
    account = await it.post(
        "/api/v1/accounts",
        json={
            "platform": "x",
            "handle": "brand",
            "custodian_id": staff["sue"],
            "backup_custodian_id": staff["mia"],
            "mfa_method": "authenticator_app",
        },
    )
    assert account.status_code == 201, account.text
    account_id = account.json()["id"]
    grant = await it.post(
        f"/api/v1/accounts/{account_id}/grants",
        json={"employee_id": staff["sam"], "level": "editor"},
    )
    assert grant.status_code == 201, grant.text

    async def untrained() -> list[int]:
        report = (await it.get("/api/v1/accounts/risks?risk=grant_holder_untrained")).json()
        return [i["account_id"] for i in report["items"]]

    assert await untrained() == []
    # A course for LinkedIn holders does not concern an X account.
    await make_course(hr, title="LinkedIn pages", required_platforms=["linkedin"])
    assert await untrained() == []
    course = await make_course(hr, required_platforms=["x"], renewal_months=12)
    assert await untrained() == [account_id]
    one = (await it.get(f"/api/v1/accounts/{account_id}")).json()
    assert "grant_holder_untrained" in {f["kind"] for f in one["risks"]}
    status = (await hr.get(f"/api/v1/training/courses/{course['id']}/status")).json()
    assert [(s["name"], s["status"]) for s in status] == [("Sam Person", "missing")]
    today = dt.date.today()
    assert (await complete(hr, course["id"], staff["sam"], today)).status_code == 201
    assert await untrained() == []
    # Completed 13 months ago, renewed every 12: it has run out.
    await TrainingCompletion.delete(force=True)
    old = today - dt.timedelta(days=400)
    done = await complete(hr, course["id"], staff["sam"], old)
    assert done.json()["valid_until"] < today.isoformat()
    assert await untrained() == [account_id]
    status = (await hr.get(f"/api/v1/training/courses/{course['id']}/status")).json()
    assert status[0]["status"] == "overdue"
    # The leaver's footprint is about accounts, not training: nothing of it is listed.
    footprint = (await hr.get(f"/api/v1/employees/{staff['sam']}/footprint")).json()
    assert "training" not in str(footprint).lower() and "CERT" not in str(footprint)
    assert account_id in {g["account_id"] for g in footprint["grants"]}
    assert not any("training" in name for name in footprint["other"])


async def test_who_is_due_by_role(
    hr: httpx.AsyncClient, user_factory: UserFactory, staff: dict[str, int]
) -> None:
    """A course required of comms: a comms user's person is due when it runs out within 30 days."""
    _, sue = await user_factory(Role.comms, employee_id=staff["sue"])
    course = await make_course(hr, required_roles=["comms"], renewal_months=1)
    today = dt.date.today()
    await complete(hr, course["id"], staff["sue"], today - dt.timedelta(days=10))
    [row] = (await hr.get(f"/api/v1/training/courses/{course['id']}/status")).json()
    assert (row["name"], row["status"]) == ("Sue Person", "due")
    mine = (await sue.get("/api/v1/training/mine")).json()
    assert [(m["title"], m["required"], m["status"]) for m in mine] == [
        ("Posting for the company", True, "due")
    ]
    cover = (await hr.get("/api/v1/training/coverage")).json()
    assert [(c["required"], c["due"]) for c in cover] == [(1, 1)]
    # A completion in the future is refused naming the field; a day recorded twice is kept once.
    future = await complete(hr, course["id"], staff["sue"], today + dt.timedelta(days=1))
    assert assert_problem(future, 422)["errors"][0]["field"] == "completed_on"
    again = await complete(hr, course["id"], staff["sue"], today - dt.timedelta(days=10))
    assert again.status_code == 201
    assert await TrainingCompletion.count() == 1
    assert await AuditEvent.count().where(AuditEvent.action == "training.complete") == 1


async def test_the_import_names_each_bad_line_and_writes_nothing(
    app: Any, settings: Any, hr: httpx.AsyncClient, staff: dict[str, int], tmp_path: Path
) -> None:
    await make_course(hr)
    today = dt.date.today()
    bad = (
        "email,course,completed_on,evidence\n"
        f"sam@example.com,Posting for the company,{today.isoformat()},CERT-1\n"
        f"nobody@example.com,Posting for the company,{today.isoformat()},\n"
        f"sue@example.com,Knitting,{today.isoformat()},\n"
        "mia@example.com,Posting for the company,31/02/2024,\n"
        f"mia@example.com,Posting for the company,{(today + dt.timedelta(days=3)).isoformat()},\n"
    )
    resp = await hr.post(
        "/api/v1/training/completions/imports",
        files={"file": ("done.csv", bad.encode(), "text/csv")},
        data={"date_order": "DMY"},
    )
    body = assert_problem(resp, 422)
    assert [(e["line"], e["field"]) for e in body["errors"]] == [
        (3, "email"),
        (4, "course"),
        (5, "completed_on"),
        (6, "completed_on"),
    ]
    assert "nobody@example.com" in body["errors"][0]["message"]
    assert "Knitting" in body["errors"][1]["message"]
    assert "nothing was imported" in body["detail"]
    assert await TrainingCompletion.count() == 0
    good = (
        "E-mail;Course;Date;Certificate\n"
        f"sam@example.com;posting for the company;{today.isoformat()};CERT-1\n"
        f"sue@example.com;Posting for the company;{today.isoformat()};\n"
    )
    path = tmp_path / "good.csv"
    path.write_text(good, encoding="utf-8")
    result = await run_cli(settings, "training", "import", str(path))
    assert result.code == 0, result
    assert '"added": 2' in result.out
    assert await TrainingCompletion.count() == 2
    (tmp_path / "bad.csv").write_text(bad, encoding="utf-8")
    failed = await run_cli(settings, "training", "import", str(tmp_path / "bad.csv"))
    assert failed.code == 2 and "line 3: email:" in failed.err
    assert await TrainingCompletion.count() == 2
    empty = await hr.post(
        "/api/v1/training/completions/imports",
        files={"file": ("x.csv", b"email,course\n", "text/csv")},
    )
    assert "completed_on" in assert_problem(empty, 422)["detail"]
