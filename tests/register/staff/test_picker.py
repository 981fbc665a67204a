"""The person picker: people found by part of a name, namesakes told apart, typed text resolved on submit."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest

from register.actor import Actor
from register.enums import Role
from register.forms import FormState
from register.staff.pages import person
from register.staff.services import create_employee
from tests.conftest import FIXTURE_PASSWORD, UserFactory


@pytest.fixture
async def staff(app: Any) -> dict[str, int]:
    """Two namesakes in different departments, someone leaving and someone who left."""
    today = dt.date.today()
    made = {}
    for key, name, department, leaving in (
        ("sam_sales", "Sam Jones", "Sales", None),
        ("sam_it", "Sam Jones", "IT", None),
        ("priya", "Priya Raman", "Communications", None),
        ("lena", "Lena Vos", "Finance", today + dt.timedelta(days=20)),
        ("olga", "Olga Gone", "Finance", today - dt.timedelta(days=20)),
    ):
        row = await create_employee(
            actor=Actor.system("test"),
            data={
                "name": name,
                "work_email": f"{key.replace('_', '.')}@example.com",
                "department": department,
                "leaving_date": leaving,
            },
        )
        made[key] = row["id"]
    return made


async def signed_in(app: Any, user_factory: UserFactory, role: Role) -> httpx.AsyncClient:
    """A browser-like client of this role, signed in through the sign-in page."""
    user, _ = await user_factory(role)
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    resp = await c.post("/sign-in", data={"email": user["email"], "password": FIXTURE_PASSWORD})
    assert resp.status_code == 303
    return c


def options(fragment: str) -> list[str]:
    """The options of the picker's answer, as the words a reader hears."""
    found = re.findall(r'<li role="option"[^>]*>(.*?)</li>', fragment, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", o)).strip() for o in found]


async def test_the_picker_finds_people_by_part_of_a_name_and_tells_namesakes_apart(
    app: Any, user_factory: UserFactory, staff: dict[str, int]
) -> None:
    """Each match shows name, department and e-mail; the count is said through the live region."""
    c = await signed_in(app, user_factory, Role.comms)
    try:
        found = await c.get("/staff/picker", params={"q": "jon", "field": "custodian"})
        assert found.status_code == 200 and "text/html" in found.headers["content-type"]
        assert options(found.text) == [
            "Sam Jones IT · sam.it@example.com",
            "Sam Jones Sales · sam.sales@example.com",
        ]
        assert 'role="listbox" id="custodian-listbox"' in found.text
        assert f'id="custodian-option-{staff["sam_it"]}"' in found.text
        assert f'data-id="{staff["sam_it"]}" data-name="Sam Jones"' in found.text
        assert re.search(
            r'<p id="custodian-status" hx-swap-oob="innerHTML">2 people match\.', found.text
        )
        # Words in any order, in the name or the e-mail.
        assert options(
            (await c.get("/staff/picker", params={"q": "raman pri", "field": "x"})).text
        ) == ["Priya Raman Communications · priya@example.com"]
        nobody = await c.get("/staff/picker", params={"q": "zzz", "field": "x"})
        assert "Nobody matches." in nobody.text and "listbox" not in nobody.text
        empty = await c.get("/staff/picker", params={"field": "x"})
        assert empty.status_code == 200 and not empty.text.strip()
    finally:
        await c.aclose()


async def test_leavers_are_marked_or_left_out_depending_on_the_use(
    app: Any, user_factory: UserFactory, staff: dict[str, int]
) -> None:
    """By default people who left are not offered; "all" marks them; "staying" drops leavers too."""
    c = await signed_in(app, user_factory, Role.it)
    try:
        current = await c.get("/staff/picker", params={"q": "finance", "field": "p"})
        assert options(current.text) == []
        by_email = await c.get("/staff/picker", params={"q": "example.com", "field": "p"})
        listed = options(by_email.text)
        assert any(o.startswith("Lena Vos Finance · lena@example.com leaving on") for o in listed)
        assert not any("Olga" in o for o in listed)
        everyone = await c.get("/staff/picker", params={"q": "o", "field": "p", "who": "all"})
        assert "Olga Gone Finance · olga@example.com has left" in options(everyone.text)
        staying = await c.get(
            "/staff/picker", params={"q": "example", "field": "p", "who": "staying"}
        )
        assert not any("Lena" in o for o in options(staying.text))
        wrong = await c.get("/staff/picker", params={"q": "o", "field": "p", "who": "nobody"})
        assert wrong.status_code == 422
    finally:
        await c.aclose()


async def test_a_form_resolves_typed_text_without_javascript(
    app: Any, staff: dict[str, int]
) -> None:
    """Exact e-mail or a single match is taken; namesakes are offered; nobody and leavers are said."""

    async def resolve(data: dict[str, Any], **kwargs: Any) -> tuple[int | None, FormState]:
        form = FormState()
        return await person(form, data, "owner", **kwargs), form

    taken, form = await resolve({"owner": "priya"})
    assert taken == staff["priya"] and form.value("owner") == "Priya Raman" and not form.errors
    taken, _ = await resolve({"owner": "SAM.IT@example.com"})
    assert taken == staff["sam_it"]
    taken, form = await resolve({"owner": "sam jones"})
    assert taken is None
    assert form.errors["owner"].startswith("Several people match “sam jones”")
    assert [p["department"] for p in form.choices["owner"]] == ["IT", "Sales"]
    # The choice made among them comes back as the id, with the text as typed.
    taken, form = await resolve({"owner": "sam jones", "owner_id": ["", str(staff["sam_sales"])]})
    assert taken == staff["sam_sales"] and not form.errors
    # An id left over from an earlier choice does not outweigh a name typed over it.
    taken, _ = await resolve({"owner": "Priya", "owner_id": str(staff["sam_it"])})
    assert taken == staff["priya"]
    taken, form = await resolve({"owner": "nobody at all"})
    assert taken is None and "Nobody in the staff directory matches" in form.errors["owner"]
    taken, form = await resolve({"owner": "olga"})
    assert taken is None
    assert form.errors["owner"] == "Olga Gone has left the company: choose someone who works here."
    taken, _ = await resolve({"owner": "olga"}, who="all")
    assert taken == staff["olga"]
    taken, form = await resolve({"owner": "lena"}, who="staying")
    assert taken is None and "is leaving the company" in form.errors["owner"]
    taken, form = await resolve({"owner": ""}, required=True)
    assert taken is None and form.errors["owner"] == "Choose a person: type part of their name."
    taken, form = await resolve({"owner": ""})
    assert taken is None and not form.errors


async def test_the_picker_needs_the_right_to_read_the_directory(
    app: Any, user_factory: UserFactory, client: httpx.AsyncClient, staff: dict[str, int]
) -> None:
    """Signed out: to sign-in. Legal counsel (who reads no directory): a 403 page, nobody listed."""
    out = await client.get("/staff/picker", params={"q": "sam", "field": "p"})
    assert out.status_code == 303 and out.headers["location"].startswith("/sign-in?next=")
    c = await signed_in(app, user_factory, Role.legal)
    try:
        refused = await c.get("/staff/picker", params={"q": "sam", "field": "p"})
        assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
        assert "Sam Jones" not in refused.text
    finally:
        await c.aclose()


async def test_staying_people_are_found_past_a_page_of_leavers(
    app: Any, user_factory: UserFactory
) -> None:
    """Eleven leavers named Aa... before one who stays: "staying" still offers the one who stays."""
    soon = dt.date.today() + dt.timedelta(days=10)
    for n in range(11):
        await create_employee(
            actor=Actor.system("test"),
            data={
                "name": f"Aa Leaver {n:02d}",
                "work_email": f"aa{n}@example.com",
                "leaving_date": soon,
            },
        )
    await create_employee(
        actor=Actor.system("test"), data={"name": "Ab Stayer", "work_email": "ab@example.com"}
    )
    c = await signed_in(app, user_factory, Role.it)
    try:
        staying = await c.get("/staff/picker", params={"q": "a", "field": "p", "who": "staying"})
        assert options(staying.text) == ["Ab Stayer ab@example.com"]
    finally:
        await c.aclose()
