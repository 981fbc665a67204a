"""SCIM provisioning's processes: a user becomes a person and maybe a register user; leaving.

    create, replace, PATCH   the attributes are checked, then the person in the staff directory
                             is created or changed (work e-mail, name, department, title,
                             manager), then the register user follows the groups' role
    active: true -> false    deprovisioning is an offboarding: leaving date today, status left,
                             every register user who is this person deactivated (sessions and
                             tokens stop at once), and the parts that offboard are told (the
                             handovers part starts a draft handover and tells HR)
    active: false -> true    the person comes back: status active, leaving date cleared, and the
                             register user active again if a group still maps to a role
    DELETE                   deprovisions as above, then forgets the provider's resource; the
                             person and everything they held stay
    groups                   a member takes the role REGISTER_GROUP_ROLES gives the first group
                             listed there that they are in; in none, their register user is
                             deactivated

All of one request is one transaction: if a step fails, nothing of it stays.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from register import audit
from register.actor import Actor
from register.checks import EMAIL_RE, normalise_email
from register.db import write_transaction
from register.enums import Role
from register.errors import AlreadyExists
from register.extensions import extensions
from register.i18n import N_
from register.queries import unique_or_409
from register.scim import services
from register.scim.schemas import CORE_GROUP, CORE_USER, ENTERPRISE, LIST_RESPONSE
from register.services import create_user as create_register_user
from register.services import get_user as get_register_user
from register.services import update_user as update_register_user
from register.services import user_by_email, user_ids_of_employee
from register.settings import Settings
from register.staff.enums import EmployeeStatus
from register.staff.services import (
    create_employee,
    employee_by_email,
    get_employee,
    update_employee,
)

MAX_NAME = 200


# --- reading -------------------------------------------------------------------------------


def _page(
    resources: list[dict[str, Any]], start_index: int | None, count: int | None
) -> dict[str, Any]:
    start = max(start_index or 1, 1)
    size = min(max(services.MAX_RESULTS if count is None else count, 0), services.MAX_RESULTS)
    chosen = resources[start - 1 : start - 1 + size]
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources),
        "startIndex": start,
        "itemsPerPage": len(chosen),
        "Resources": chosen,
    }


async def _rendered_users(rows: list[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    groups = await services.groups_of(r["id"] for r in rows)
    return [services.render_user(r, groups.get(r["id"], []), base) for r in rows]


async def get_user(*, scim_id: str, base: str) -> dict[str, Any]:
    """One provisioned user as SCIM shows it."""
    return (await _rendered_users([await services.user_row(scim_id)], base))[0]


async def list_users(
    *, filter_: str | None, start_index: int | None, count: int | None, base: str
) -> dict[str, Any]:
    """Users matching a filter, a page of them (startIndex counts from 1)."""
    tree = services.parse_filter(filter_) if filter_ else None
    fast = services.simple_equality(tree) if tree else None
    # The lookups providers make before every change go by index; other filters read everyone.
    if fast and fast[0] == "username":
        rows = await services.user_rows('"user_name_key" = $1', fast[1].casefold())
    elif fast and fast[0] == "externalid":
        rows = await services.user_rows('"external_id" = $1', fast[1])
    elif fast and fast[0] == "id":
        rows = await services.user_rows('"scim_id" = $1', fast[1])
    else:
        rows = await services.user_rows()
    resources = await _rendered_users(rows, base)
    if tree:
        resources = [r for r in resources if services.matches(tree, r, CORE_USER)]
    return _page(resources, start_index, count)


async def _rendered_groups(rows: list[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    members = await services.members_of(r["id"] for r in rows)
    return [services.render_group(r, members.get(r["id"], []), base) for r in rows]


async def get_group(*, scim_id: str, base: str) -> dict[str, Any]:
    """One group as SCIM shows it."""
    return (await _rendered_groups([await services.group_row(scim_id)], base))[0]


async def list_groups(
    *, filter_: str | None, start_index: int | None, count: int | None, base: str
) -> dict[str, Any]:
    """Groups matching a filter, a page of them."""
    tree = services.parse_filter(filter_) if filter_ else None
    fast = services.simple_equality(tree) if tree else None
    if fast and fast[0] == "displayname":
        rows = await services.group_rows('"display_key" = $1', fast[1].casefold())
    elif fast and fast[0] == "id":
        rows = await services.group_rows('"scim_id" = $1', fast[1])
    else:
        rows = await services.group_rows()
    resources = await _rendered_groups(rows, base)
    if tree:
        resources = [r for r in resources if services.matches(tree, r, CORE_GROUP)]
    return _page(resources, start_index, count)


async def search_all(
    *, filter_: str | None, start_index: int | None, count: int | None, base: str
) -> dict[str, Any]:
    """Users and groups matching a filter, users first (POST /.search at the root)."""
    tree = services.parse_filter(filter_) if filter_ else None
    users = await _rendered_users(await services.user_rows(), base)
    groups = await _rendered_groups(await services.group_rows(), base)
    if tree:
        users = [r for r in users if services.matches(tree, r, CORE_USER)]
        groups = [r for r in groups if services.matches(tree, r, CORE_GROUP)]
    return _page(users + groups, start_index, count)


# --- the person and the register user -------------------------------------------------------


def _user_name(attributes: dict[str, Any]) -> str:
    name = attributes.get("userName")
    if not isinstance(name, str) or not name.strip():
        raise services.invalid(N_("%(attribute)s is required"), "userName")
    if len(name) > 320:
        raise services.invalid(
            N_("%(attribute)s is longer than %(limit)s characters or holds a NUL"),
            "userName",
            limit=320,
        )
    return name


def work_email(attributes: dict[str, Any]) -> str | None:
    """The person's work e-mail: the work address, else the primary, else the first, else userName."""
    emails = [e for e in attributes.get("emails", []) if isinstance(e.get("value"), str)]
    chosen = (
        next((e for e in emails if str(e.get("type", "")).lower() == "work"), None)
        or next((e for e in emails if e.get("primary") is True), None)
        or (emails[0] if emails else None)
    )
    if chosen:
        return normalise_email(chosen["value"], "emails")
    user_name = attributes["userName"].strip().lower()
    # A userName that is an address is the work e-mail (Entra ID and Okta send the UPN or login).
    return user_name if EMAIL_RE.match(user_name) and len(user_name) <= 320 else None


def person_name(attributes: dict[str, Any]) -> str:
    """The directory's name: name.formatted, else given and family name, else displayName."""
    name = attributes.get("name", {})
    given = " ".join(p for p in (name.get("givenName"), name.get("familyName")) if p)
    text = name.get("formatted") or given or attributes.get("displayName") or attributes["userName"]
    return " ".join(text.split())[:MAX_NAME] or attributes["userName"][:MAX_NAME]


async def _manager(attributes: dict[str, Any], row_id: int | None) -> int | None:
    manager = attributes.get(ENTERPRISE, {}).get("manager", {}).get("value")
    if not manager:
        return None
    rows = await services.user_rows('"scim_id" = $1', manager)
    if not rows:
        raise services.invalid(
            N_("%(attribute)s: user %(value)s does not exist"), "manager", value=manager[:60]
        )
    if rows[0]["id"] == row_id:
        raise services.invalid(N_("an employee cannot be their own manager"), "manager")
    return rows[0]["employee"]


async def _person(
    actor: Actor, row: dict[str, Any] | None, attributes: dict[str, Any]
) -> int | None:
    """Create or change the person in the staff directory; their id (None: no work e-mail yet)."""
    email = work_email(attributes)
    employee_id = row["employee"] if row else None
    values = {
        "name": person_name(attributes),
        "department": attributes.get(ENTERPRISE, {}).get("department", ""),
        "job_title": attributes.get("title", ""),
        "manager_id": await _manager(attributes, row["id"] if row else None),
    }
    if employee_id is None:
        if email is None:
            return None
        known = await employee_by_email(email)
        if known is None:
            created = await create_employee(actor=actor, data={**values, "work_email": email})
            return int(created["id"])
        holder = await services.user_of_employee(known["id"])
        if holder is not None and (row is None or holder["id"] != row["id"]):
            raise AlreadyExists(
                N_("%(attribute)s: %(value)s is another user's work e-mail"),
                field="emails",
                params={"attribute": "emails", "value": email},
            )
        # Someone already in the directory (imported by HR before provisioning began).
        employee_id = int(known["id"])
    before = await get_employee(employee_id=employee_id)
    changes = {**values, **({"work_email": email} if email else {})}
    if values["manager_id"] == employee_id:
        raise services.invalid(N_("an employee cannot be their own manager"), "manager")
    await update_employee(
        actor=actor, employee_id=employee_id, version=before["version"], changes=changes
    )
    return employee_id


async def _sync_access(actor: Actor, settings: Settings, row_id: int) -> None:
    """The register user follows the groups' role: created, changed, deactivated or back."""
    rows = await services.user_rows('"id" = $1', row_id)
    if not rows or rows[0]["employee"] is None:
        return
    row = rows[0]
    names = [g["display_name"] for g in (await services.groups_of([row_id])).get(row_id, [])]
    # An active person in no mapped group signs in with the staff role: their own things only.
    role = (settings.role_for_groups(names) or Role.staff.value) if row["active"] else None
    user_id = row["user"]
    if user_id is None:
        if role is None:
            return
        person = await get_employee(employee_id=row["employee"])
        existing = await user_by_email(email=person["work_email"])
        if existing is None:
            # No password anyone knows: they sign in through the company's identity provider.
            created, _ = await create_register_user(
                actor=actor,
                email=person["work_email"],
                role=Role(role),
                name=person["name"],
                employee_id=person["id"],
            )
            user_id = int(created["id"])
        else:
            user_id = int(existing["id"])
        await services.link_register_user(row, user_id)
    user = await get_register_user(user_id=user_id)
    changes: dict[str, Any] = {}
    if role is not None and user["role"] != role:
        changes["role"] = role
    if user["active"] != (role is not None):
        changes["active"] = role is not None
    if role is not None and user["employee_id"] != row["employee"]:
        changes["employee_id"] = row["employee"]
    if changes:
        await update_register_user(
            actor=actor, user_id=user_id, version=user["version"], changes=changes
        )


async def deprovision(*, actor: Actor, settings: Settings, employee_id: int) -> None:
    """The provider says this person left: leaving today, sign-in stopped, offboarding started."""
    person = await get_employee(employee_id=employee_id)
    today = dt.date.today()
    if person["status"] != EmployeeStatus.left.value:
        leaving = min(person["leaving_date"] or today, today)
        await update_employee(
            actor=actor,
            employee_id=employee_id,
            version=person["version"],
            changes={"leaving_date": leaving, "status": EmployeeStatus.left.value},
        )
    # Every register user who is this person, linked by the provider or by an admin.
    for user_id in await user_ids_of_employee(employee_id):
        user = await get_register_user(user_id=user_id)
        if user["active"]:
            await update_register_user(
                actor=actor, user_id=user_id, version=user["version"], changes={"active": False}
            )
    await audit.record(
        actor, "scim.deprovision", "employee", employee_id, {"active": [True, False]}
    )
    for hook in extensions.on_deprovisioned:
        await hook(actor, settings, employee_id)


async def reactivate(*, actor: Actor, employee_id: int) -> None:
    """The provider brings a person back: active again, leaving date cleared."""
    person = await get_employee(employee_id=employee_id)
    if person["status"] == EmployeeStatus.left.value:
        await update_employee(
            actor=actor,
            employee_id=employee_id,
            version=person["version"],
            changes={"leaving_date": None, "status": EmployeeStatus.active.value},
        )
        await audit.record(
            actor, "scim.reactivate", "employee", employee_id, {"active": [False, True]}
        )


# --- users -----------------------------------------------------------------------------------


async def _save_user(
    actor: Actor, settings: Settings, row: dict[str, Any] | None, body: Any
) -> str:
    attributes = services.canonical(body, CORE_USER)
    user_name = _user_name(attributes)
    active = attributes.get("active", True)
    was_active = row["active"] if row else None
    async with write_transaction():
        await audit.lock_chain()
        employee_id = await _person(actor, row, attributes)
        values = {
            "user_name_key": user_name.casefold(),
            "external_id": attributes.get("externalId"),
            "employee": employee_id,
            "active": active,
            "attributes": attributes,
        }
        async with unique_or_409(
            N_("%(attribute)s: %(value)s is already taken"),
            "userName",
            {"attribute": "userName", "value": user_name},
        ):
            if row is None:
                saved = await services.insert_user(values)
            else:
                await services.update_user(row, values)
                saved = {**row, **values}
        if employee_id is not None:
            if was_active and not active:
                await deprovision(actor=actor, settings=settings, employee_id=employee_id)
            elif active and not was_active:
                # Created for someone who had left (rehired), or brought back after leaving.
                await reactivate(actor=actor, employee_id=employee_id)
        await _sync_access(actor, settings, saved["id"])
        before = row["attributes"] if row else None
        await audit.record(
            actor,
            "scim_user.create" if row is None else "scim_user.update",
            "scim_user",
            saved["scim_id"],
            audit.diff(before, attributes),
        )
    return str(saved["scim_id"])


async def create_user(*, actor: Actor, settings: Settings, body: Any, base: str) -> dict[str, Any]:
    """Provision a user: a person in the directory, and a register user if a group maps."""
    scim_id = await _save_user(actor, settings, None, body)
    return await get_user(scim_id=scim_id, base=base)


async def replace_user(
    *,
    actor: Actor,
    settings: Settings,
    scim_id: str,
    body: Any,
    base: str,
    if_match: str | None = None,
) -> dict[str, Any]:
    """Replace a user's attributes (PUT): what is not sent is removed."""
    row = await services.user_row(scim_id)
    services.expect_etag(if_match, row["version"], scim_id)
    await _save_user(actor, settings, row, body)
    return await get_user(scim_id=scim_id, base=base)


async def patch_user(
    *,
    actor: Actor,
    settings: Settings,
    scim_id: str,
    body: Any,
    base: str,
    if_match: str | None = None,
) -> dict[str, Any]:
    """Apply a PatchOp to a user (RFC 7644 section 3.5.2), then save it as a replace."""
    row = await services.user_row(scim_id)
    services.expect_etag(if_match, row["version"], scim_id)
    await _save_user(actor, settings, row, services.patch(row["attributes"], body, CORE_USER))
    return await get_user(scim_id=scim_id, base=base)


async def delete_user(
    *, actor: Actor, settings: Settings, scim_id: str, if_match: str | None = None
) -> None:
    """Deprovision a user, then forget the provider's resource (404 from now on)."""
    row = await services.user_row(scim_id)
    services.expect_etag(if_match, row["version"], scim_id)
    async with write_transaction():
        await audit.lock_chain()
        if row["employee"] is not None and row["active"]:
            await deprovision(actor=actor, settings=settings, employee_id=row["employee"])
        await services.delete_user(row)
        await audit.record(
            actor,
            "scim_user.delete",
            "scim_user",
            scim_id,
            {"userName": [row["attributes"].get("userName"), None]},
        )


# --- groups ----------------------------------------------------------------------------------


async def _members(attributes: dict[str, Any]) -> set[int]:
    wanted = []
    for member in attributes.get("members", []):
        value = member.get("value")
        if not value:
            raise services.invalid(N_("%(attribute)s is required"), "members.value")
        if str(member.get("type", "User")).lower() != "user":
            raise services.invalid(N_("%(attribute)s: only users can be members"), "members.type")
        wanted.append(value)
    if not wanted:
        return set()
    marks = ", ".join(f"${n + 1}" for n in range(len(wanted)))
    rows = await services.user_rows(f'"scim_id" IN ({marks})', *wanted)
    missing = set(wanted) - {r["scim_id"] for r in rows}
    if missing:
        raise services.invalid(
            N_("%(attribute)s: user %(value)s does not exist"),
            "members",
            value=sorted(missing)[0][:60],
        )
    return {r["id"] for r in rows}


async def _save_group(
    actor: Actor, settings: Settings, row: dict[str, Any] | None, body: Any
) -> str:
    attributes = services.canonical(body, CORE_GROUP)
    name = attributes.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise services.invalid(N_("%(attribute)s is required"), "displayName")
    if len(name) > MAX_NAME:
        raise services.invalid(
            N_("%(attribute)s is longer than %(limit)s characters or holds a NUL"),
            "displayName",
            limit=MAX_NAME,
        )
    values = {"display_name": name, "external_id": attributes.get("externalId")}
    async with write_transaction():
        await audit.lock_chain()
        members = await _members(attributes)
        async with unique_or_409(
            N_("%(attribute)s: %(value)s is already taken"),
            "displayName",
            {"attribute": "displayName", "value": name},
        ):
            if row is None:
                saved = await services.insert_group(values)
            else:
                await services.update_group(row, values)
                saved = row
        before = {m["id"] for m in (await services.members_of([saved["id"]])).get(saved["id"], [])}
        await services.set_members(saved["id"], members, before)
        # A renamed group may map to another role: each member, old and new, is looked at again.
        for member in sorted(before | members):
            await _sync_access(actor, settings, member)
        await audit.record(
            actor,
            "scim_group.create" if row is None else "scim_group.update",
            "scim_group",
            saved["scim_id"],
            {
                **({"displayName": [row["display_name"] if row else None, name]}),
                "members": [len(before), len(members)],
            },
        )
    return str(saved["scim_id"])


async def create_group(*, actor: Actor, settings: Settings, body: Any, base: str) -> dict[str, Any]:
    """Create a group; its members take the role it maps to."""
    scim_id = await _save_group(actor, settings, None, body)
    return await get_group(scim_id=scim_id, base=base)


async def replace_group(
    *,
    actor: Actor,
    settings: Settings,
    scim_id: str,
    body: Any,
    base: str,
    if_match: str | None = None,
) -> dict[str, Any]:
    """Replace a group's name and members (PUT)."""
    row = await services.group_row(scim_id)
    services.expect_etag(if_match, row["version"], scim_id)
    await _save_group(actor, settings, row, body)
    return await get_group(scim_id=scim_id, base=base)


async def patch_group(
    *,
    actor: Actor,
    settings: Settings,
    scim_id: str,
    body: Any,
    base: str,
    if_match: str | None = None,
) -> dict[str, Any]:
    """Apply a PatchOp to a group (members added or removed one by one), then save it."""
    row = await services.group_row(scim_id)
    services.expect_etag(if_match, row["version"], scim_id)
    current = await get_group(scim_id=scim_id, base=base)
    doc = {k: v for k, v in current.items() if k not in ("id", "meta", "schemas")}
    await _save_group(actor, settings, row, services.patch(doc, body, CORE_GROUP))
    return await get_group(scim_id=scim_id, base=base)


async def delete_group(
    *, actor: Actor, settings: Settings, scim_id: str, if_match: str | None = None
) -> None:
    """Delete a group; its members lose the role it gave them."""
    row = await services.group_row(scim_id)
    services.expect_etag(if_match, row["version"], scim_id)
    async with write_transaction():
        await audit.lock_chain()
        members = (await services.members_of([row["id"]])).get(row["id"], [])
        await services.delete_group(row)
        for member in members:
            await _sync_access(actor, settings, member["id"])
        await audit.record(
            actor,
            "scim_group.delete",
            "scim_group",
            scim_id,
            {"displayName": [row["display_name"], None]},
        )
