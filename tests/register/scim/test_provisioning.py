"""SCIM provisioning: people in the directory, roles from groups, filters, PATCH, refusals, tokens."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx

from register.enums import Role
from register.tables import AuditEvent, User
from tests.conftest import UserFactory
from tests.helpers import assert_problem
from tests.register.scim.conftest import scim_error

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def person(user_name: str, **extra: Any) -> dict[str, Any]:
    """A SCIM user as Okta or Entra ID sends one."""
    given, _, family = user_name.split("@")[0].partition(".")
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": given.title(), "familyName": family.title()},
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": True,
        **extra,
    }


def ops(*operations: dict[str, Any]) -> dict[str, Any]:
    """A PatchOp."""
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


async def employee_of(admin: httpx.AsyncClient, email: str) -> dict[str, Any]:
    """The person in the staff directory with this work e-mail, as the API shows them."""
    found = (await admin.get("/api/v1/employees", params={"q": email})).json()["items"]
    assert len(found) == 1, found
    return found[0]


async def test_a_user_is_a_person_in_the_directory(
    scim: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    boss = (await scim.post("/Users", json=person("mia.berg@example.com"))).json()
    made = await scim.post(
        "/Users",
        json=person(
            "Leo.Kant@Example.com",
            externalId="00u1leo",
            title="Social media lead",
            **{ENTERPRISE: {"department": "Marketing", "manager": {"value": boss["id"]}}},
        ),
    )
    assert made.status_code == 201, made.text
    assert made.headers["content-type"].startswith("application/scim+json")
    body = made.json()
    assert made.headers["location"] == body["meta"]["location"]
    assert made.headers["etag"] == body["meta"]["version"] == 'W/"1"'
    assert body["externalId"] == "00u1leo" and body[ENTERPRISE]["manager"]["value"] == boss["id"]
    leo = await employee_of(admin, "leo.kant@example.com")
    mia = await employee_of(admin, "mia.berg@example.com")
    assert (leo["name"], leo["work_email"], leo["department"], leo["job_title"]) == (
        "Leo Kant",
        "leo.kant@example.com",
        "Marketing",
        "Social media lead",
    )
    assert leo["manager_id"] == mia["id"] and leo["status"] == "active"
    # A PUT replaces: the department goes, the title changes, the directory follows.
    replaced = await scim.put(
        f"/Users/{body['id']}", json=person("leo.kant@example.com", title="Head of social")
    )
    assert replaced.status_code == 200, replaced.text
    assert ENTERPRISE not in replaced.json() and "externalId" not in replaced.json()
    leo = await employee_of(admin, "leo.kant@example.com")
    assert (leo["department"], leo["job_title"], leo["manager_id"]) == ("", "Head of social", None)
    # The directory's change is audited as the provider's, by its token's name.
    rows = await AuditEvent.select(AuditEvent.actor).where(AuditEvent.action == "employee.update")
    assert {r["actor"] for r in rows} == {"scim:test provider"}


async def test_someone_already_in_the_directory_is_taken_over(
    scim: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    """HR imported the person before provisioning began: the provider's user is that person."""
    made = await admin.post(
        "/api/v1/employees", json={"name": "Ana Lima", "work_email": "ana.lima@example.com"}
    )
    assert made.status_code == 201, made.text
    resp = await scim.post("/Users", json=person("ana.lima@example.com"))
    assert resp.status_code == 201, resp.text
    assert (await employee_of(admin, "ana.lima@example.com"))["id"] == made.json()["id"]
    # A second provider user with the same work e-mail is refused: one person, one user.
    other = person("ana2@example.com", emails=[{"value": "ana.lima@example.com", "type": "work"}])
    body = scim_error(await scim.post("/Users", json=other), 409, "uniqueness")
    assert "emails" in body["detail"]


async def test_filters_and_paging(scim: httpx.AsyncClient) -> None:
    ids = []
    for n in range(5):
        made = await scim.post("/Users", json=person(f"p{n}.x@example.com", externalId=f"ext-{n}"))
        ids.append(made.json()["id"])
    found = (await scim.get("/Users", params={"filter": 'userName eq "P3.X@EXAMPLE.COM"'})).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == ids[3]
    found = (await scim.get("/Users", params={"filter": 'externalId eq "ext-1"'})).json()
    assert [r["id"] for r in found["Resources"]] == [ids[1]]
    # externalId is compared as written (caseExact).
    assert (await scim.get("/Users", params={"filter": 'externalId eq "EXT-1"'})).json()[
        "totalResults"
    ] == 0
    found = (
        await scim.get("/Users", params={"filter": 'emails[type eq "work" and value sw "p4"]'})
    ).json()
    assert [r["id"] for r in found["Resources"]] == [ids[4]]
    page = (await scim.get("/Users", params={"startIndex": 2, "count": 2})).json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (5, 2, 2)
    assert [r["id"] for r in page["Resources"]] == ids[1:3]
    counted = (await scim.get("/Users", params={"count": 0})).json()
    assert counted["totalResults"] == 5 and counted["Resources"] == []
    only = (await scim.get("/Users", params={"attributes": "userName", "count": 1})).json()
    assert set(only["Resources"][0]) == {"schemas", "id", "userName"}
    body = scim_error(await scim.get("/Users", params={"filter": 'userName eq "x'}), 400)
    assert body["scimType"] == "invalidFilter" and "filter" in body["detail"]
    body = scim_error(await scim.get("/Users", params={"filter": "a\x00b"}), 400, "invalidValue")
    assert body["detail"].startswith("filter")


async def test_patch_active_leaves_and_comes_back(
    scim: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    made = (await scim.post("/Users", json=person("eva.dam@example.com"))).json()
    # Entra ID's way: no path, the value an object, the boolean as a string.
    off = await scim.patch(
        f"/Users/{made['id']}", json=ops({"op": "Replace", "value": {"active": "False"}})
    )
    assert off.status_code == 200, off.text
    assert off.json()["active"] is False
    eva = await employee_of(admin, "eva.dam@example.com")
    assert (eva["status"], eva["leaving_date"]) == ("left", dt.date.today().isoformat())
    # Still there, inactive: nothing is deleted by deprovisioning.
    assert (await scim.get(f"/Users/{made['id']}")).json()["active"] is False
    on = await scim.patch(
        f"/Users/{made['id']}", json=ops({"op": "replace", "path": "active", "value": True})
    )
    assert on.json()["active"] is True
    eva = await employee_of(admin, "eva.dam@example.com")
    assert (eva["status"], eva["leaving_date"]) == ("active", None)
    actions = [
        r["action"]
        for r in await AuditEvent.select(AuditEvent.action)
        .where(AuditEvent.action.like("scim.%"))
        .order_by(AuditEvent.seq)
    ]
    assert actions == ["scim.deprovision", "scim.reactivate"]


async def test_groups_give_roles_and_take_them_back(scim: httpx.AsyncClient) -> None:
    uid = (await scim.post("/Users", json=person("raf.os@example.com"))).json()["id"]
    # In no mapped group: an employee like any other, with the staff role (their own things).
    user = await User.select().where(User.email == "raf.os@example.com").first()
    assert (user["role"], user["active"]) == ("staff", True)
    hr = await scim.post(
        "/Groups", json={"displayName": "Register HR", "members": [{"value": uid}]}
    )
    assert hr.status_code == 201, hr.text
    user = await User.select().where(User.email == "raf.os@example.com").first()
    assert (user["role"], user["active"]) == ("hr", True)
    assert user["employee"] is not None
    # In both groups: the first listed in REGISTER_GROUP_ROLES ("Register IT") wins.
    it = (await scim.post("/Groups", json={"displayName": "Register IT"})).json()
    added = await scim.patch(
        f"/Groups/{it['id']}",
        json=ops({"op": "add", "path": "members", "value": [{"value": uid}]}),
    )
    assert [m["value"] for m in added.json()["members"]] == [uid]
    user = await User.select().where(User.email == "raf.os@example.com").first()
    assert user["role"] == "it"
    groups = (await scim.get(f"/Users/{uid}")).json()["groups"]
    assert {g["display"] for g in groups} == {"Register HR", "Register IT"}
    # Okta's way of removing one member.
    await scim.patch(
        f"/Groups/{it['id']}", json=ops({"op": "remove", "path": f'members[value eq "{uid}"]'})
    )
    user = await User.select().where(User.email == "raf.os@example.com").first()
    assert user["role"] == "hr"
    # In no mapped group any more: back to the staff role, still signed in to their own things.
    assert (await scim.delete(f"/Groups/{hr.json()['id']}")).status_code == 204
    user = await User.select().where(User.email == "raf.os@example.com").first()
    assert (user["role"], user["active"]) == ("staff", True)
    scim_error(await scim.get(f"/Groups/{hr.json()['id']}"), 404)
    # A group no role maps to gives the staff role.
    other = (await scim.post("/Users", json=person("ida.ek@example.com"))).json()["id"]
    await scim.post("/Groups", json={"displayName": "Everyone", "members": [{"value": other}]})
    ida = await User.select().where(User.email == "ida.ek@example.com").first()
    assert (ida["role"], ida["active"]) == ("staff", True)
    changes = await AuditEvent.select(AuditEvent.actor, AuditEvent.changes).where(
        AuditEvent.action == "user.update"
    )
    assert {r["actor"] for r in changes} == {"scim:test provider"}
    roles = [
        json.loads(r["changes"]) if isinstance(r["changes"], str) else r["changes"] for r in changes
    ]
    assert {"role": ["staff", "hr"]} in roles and {"role": ["hr", "it"]} in roles
    assert {"role": ["it", "hr"]} in roles and {"role": ["hr", "staff"]} in roles


async def test_bad_input_is_a_scim_error_naming_the_attribute(scim: httpx.AsyncClient) -> None:
    body = scim_error(await scim.post("/Users", json={"name": {"givenName": "X"}}), 400)
    assert body["scimType"] == "invalidValue" and "userName" in body["detail"]
    bad_email = person("x@example.com", emails=[{"value": "not an address"}])
    assert "emails" in scim_error(await scim.post("/Users", json=bad_email), 400)["detail"]
    assert (
        "active"
        in scim_error(await scim.post("/Users", json=person("y@example.com", active="maybe")), 400)[
            "detail"
        ]
    )
    wrong_manager = person("z@example.com", **{ENTERPRISE: {"manager": {"value": "nobody"}}})
    assert "manager" in scim_error(await scim.post("/Users", json=wrong_manager), 400)["detail"]
    assert "body" in scim_error(await scim.post("/Users", content=b"[1]"), 400)["detail"]
    made = await scim.post("/Users", json=person("w@example.com"))
    scim_error(await scim.post("/Users", json=person("W@example.com")), 409, "uniqueness")
    uid = made.json()["id"]
    body = scim_error(
        await scim.patch(f"/Users/{uid}", json=ops({"op": "move", "path": "title"})), 400
    )
    assert "op" in body["detail"]
    body = scim_error(
        await scim.patch(f"/Users/{uid}", json=ops({"op": "replace", "path": "id", "value": "1"})),
        400,
        "mutability",
    )
    assert "id" in body["detail"]
    stale = await scim.put(
        f"/Users/{uid}", json=person("w@example.com"), headers={"If-Match": 'W/"9"'}
    )
    scim_error(stale, 412)
    fresh = await scim.put(
        f"/Users/{uid}", json=person("w@example.com"), headers={"If-Match": 'W/"1"'}
    )
    assert fresh.status_code == 200 and fresh.json()["meta"]["version"] == 'W/"2"'
    body = scim_error(
        await scim.post("/Groups", json={"displayName": "G", "members": [{"value": "x"}]}), 400
    )
    assert "members" in body["detail"]
    scim_error(await scim.get("/Users/no-such-user"), 404)
    scim_error(await scim.get("/Nothing/here"), 404)


async def test_a_scim_token_opens_scim_only_and_an_api_token_does_not_open_scim(
    app: Any, scim_token: str, user_factory: UserFactory, scim: httpx.AsyncClient
) -> None:
    _, admin = await user_factory(Role.admin)
    assert (await admin.get("/api/v1/auth/me")).status_code == 200
    scim_error(await admin.get("/scim/v2/Users"), 401)
    scim_error(await admin.post("/scim/v2/Users", json=person("a@example.com")), 401)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {scim_token}"},
    ) as provider:
        assert (await provider.get("/scim/v2/Users")).status_code == 200
        assert_problem(await provider.get("/api/v1/auth/me"), 401)
        assert_problem(await provider.get("/api/v1/employees"), 401)
        assert_problem(await provider.post("/api/v1/employees", json={}), 401)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as anonymous:
        scim_error(await anonymous.get("/scim/v2/ServiceProviderConfig"), 401)


async def test_what_entra_id_and_okta_send(
    scim: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    """Patches as the two big providers write them, beyond the RFC's examples."""
    boss = (await scim.post("/Users", json=person("kim.boss@example.com"))).json()["id"]
    uid = (await scim.post("/Users", json={"userName": "nora"})).json()["id"]
    # No e-mail yet: a user of the provider, not yet a person in the directory.
    assert (await admin.get("/api/v1/employees", params={"q": "nora"})).json()["items"] == []
    entra = ops(
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "nora.vos@example.com"},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss},
        {"op": "Replace", "path": "name.givenName", "value": "Nora"},
    )
    resp = await scim.patch(f"/Users/{uid}", json=entra)
    assert resp.status_code == 200, resp.text
    assert resp.json()["emails"] == [{"type": "work", "value": "nora.vos@example.com"}]
    nora = await employee_of(admin, "nora.vos@example.com")
    kim = await employee_of(admin, "kim.boss@example.com")
    assert (nora["name"], nora["manager_id"]) == ("Nora", kim["id"])
    group = (await scim.post("/Groups", json={"displayName": "Register HR"})).json()
    okta = ops({"op": "replace", "value": {"id": group["id"], "displayName": "Register IT"}})
    renamed = await scim.patch(f"/Groups/{group['id']}", json=okta)
    assert renamed.json()["displayName"] == "Register IT", renamed.text


async def test_an_external_id_longer_than_its_column_is_refused(scim: httpx.AsyncClient) -> None:
    body = scim_error(
        await scim.post("/Users", json=person("l@example.com", externalId="x" * 321)), 400
    )
    assert body["detail"].startswith("externalId")
    body = scim_error(
        await scim.post("/Groups", json={"displayName": "G", "externalId": "x" * 321}), 400
    )
    assert body["detail"].startswith("externalId")
