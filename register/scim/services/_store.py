"""The provider's users and groups as rows: read, written, and shown as SCIM resources."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from register.db import fetch, json_value, now, rfc3339
from register.errors import NotFound, StaleVersion
from register.i18n import N_
from register.scim.schemas import CORE_GROUP, CORE_USER, ENTERPRISE
from register.scim.tables import ScimGroup, ScimGroupMember, ScimUser

USER_COLUMNS = (
    '"id", "scim_id", "user_name_key", "external_id", "employee", "user", "active", '
    '"attributes", "version", "created_at", "updated_at"'
)
GROUP_COLUMNS = (
    '"id", "scim_id", "display_name", "external_id", "version", "created_at", "updated_at"'
)


def new_id() -> str:
    """A resource id: a UUID, so ids tell nothing about how many there are."""
    return str(uuid.uuid4())


def etag(version: int) -> str:
    """The weak ETag of a version (meta.version and the ETag header)."""
    return f'W/"{version}"'


def expect_etag(if_match: str | None, version: int, what: str) -> None:
    """Refuse a change whose If-Match names another version (412)."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip() for tag in if_match.split(",")}
    if etag(version) not in wanted and f'"{version}"' not in wanted:
        raise StaleVersion(
            N_("%(what)s has changed since the version named in If-Match; read it again"),
            params={"what": what},
            precondition=True,
        )


def _when(value: Any) -> str:
    return rfc3339(value) if not isinstance(value, str) else value


def _row(row: dict[str, Any]) -> dict[str, Any]:
    row["attributes"] = json_value(row.get("attributes"), {})
    return row


async def user_row(scim_id: str) -> dict[str, Any]:
    """One provisioned user's row, or NotFound (404 in SCIM)."""
    rows = await fetch(f'SELECT {USER_COLUMNS} FROM "scim_user" WHERE "scim_id" = $1', scim_id)
    if not rows:
        raise NotFound(N_("user %(scim_id)s does not exist"), params={"scim_id": scim_id})
    return _row(rows[0])


async def user_rows(where: str = "", *args: Any) -> list[dict[str, Any]]:
    """Users' rows in creation order, optionally narrowed by a condition on indexed columns."""
    clause = f" WHERE {where}" if where else ""
    rows = await fetch(f'SELECT {USER_COLUMNS} FROM "scim_user"{clause} ORDER BY "id"', *args)
    return [_row(r) for r in rows]


async def user_of_employee(employee_id: int) -> dict[str, Any] | None:
    """The provisioned user who is this person, if any."""
    rows = await fetch(f'SELECT {USER_COLUMNS} FROM "scim_user" WHERE "employee" = $1', employee_id)
    return _row(rows[0]) if rows else None


async def insert_user(values: dict[str, Any]) -> dict[str, Any]:
    """Insert a user's row; returns it."""
    stamp, scim_id = now(), new_id()
    await ScimUser.insert(
        ScimUser(
            scim_id=scim_id,
            user_name_key=values["user_name_key"],
            external_id=values.get("external_id"),
            employee=values.get("employee"),
            active=values["active"],
            attributes=json.dumps(values["attributes"]),
            version=1,
            created_at=stamp,
            updated_at=stamp,
        )
    )
    return await user_row(scim_id)


async def update_user(row: dict[str, Any], values: dict[str, Any]) -> None:
    """Write a user's changed columns and bump its version (conditional on the version read)."""
    changes: dict[Any, Any] = {}
    for key, column in (
        ("user_name_key", ScimUser.user_name_key),
        ("external_id", ScimUser.external_id),
        ("employee", ScimUser.employee),
        ("user", ScimUser.user),
        ("active", ScimUser.active),
    ):
        if key in values:
            changes[column] = values[key]
    if "attributes" in values:
        changes[ScimUser.attributes] = json.dumps(values["attributes"])
    changes[ScimUser.version] = row["version"] + 1
    changes[ScimUser.updated_at] = now()
    done = (
        await ScimUser.update(changes)
        .where((ScimUser.id == row["id"]) & (ScimUser.version == row["version"]))
        .returning(ScimUser.id)
    )
    if not done:
        raise StaleVersion(
            N_("%(what)s has changed since the version named in If-Match; read it again"),
            params={"what": row["scim_id"]},
        )
    row["version"] += 1


async def link_register_user(row: dict[str, Any], user_id: int) -> None:
    """Note the register user made for a provisioned person (no SCIM attribute: no new version)."""
    # Every provisioned person now gets a register user (the staff role at least) as they are
    # created; the provider's version of the resource must not move for the register's own link.
    await ScimUser.update({ScimUser.user: user_id}).where(ScimUser.id == row["id"])
    row["user"] = user_id


async def delete_user(row: dict[str, Any]) -> None:
    """Remove a provisioned user's row (and their group memberships); the person stays."""
    await ScimUser.delete().where(ScimUser.id == row["id"])


async def groups_of(user_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Each user's groups (scim_id and displayName), by user row id."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    marks = ", ".join(f"${n + 1}" for n in range(len(wanted)))
    rows = await fetch(
        'SELECT m."member", g."scim_id", g."display_name" FROM "scim_group_member" m '
        f'JOIN "scim_group" g ON g."id" = m."group" WHERE m."member" IN ({marks}) '
        'ORDER BY g."display_name", g."id"',
        *wanted,
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["member"], []).append(r)
    return out


def render_user(row: dict[str, Any], groups: list[dict[str, Any]], base: str) -> dict[str, Any]:
    """A user as SCIM shows it: what the provider sent, with id, groups and meta."""
    attributes = row["attributes"]
    resource: dict[str, Any] = {
        "schemas": [CORE_USER, *([ENTERPRISE] if ENTERPRISE in attributes else [])],
        "id": row["scim_id"],
        **attributes,
    }
    if groups:
        resource["groups"] = [
            {
                "value": g["scim_id"],
                "$ref": f"{base}/Groups/{g['scim_id']}",
                "display": g["display_name"],
            }
            for g in groups
        ]
    resource["meta"] = {
        "resourceType": "User",
        "created": _when(row["created_at"]),
        "lastModified": _when(row["updated_at"]),
        "location": f"{base}/Users/{row['scim_id']}",
        "version": etag(row["version"]),
    }
    return resource


async def group_row(scim_id: str) -> dict[str, Any]:
    """One group's row, or NotFound (404 in SCIM)."""
    rows = await fetch(f'SELECT {GROUP_COLUMNS} FROM "scim_group" WHERE "scim_id" = $1', scim_id)
    if not rows:
        raise NotFound(N_("group %(scim_id)s does not exist"), params={"scim_id": scim_id})
    return rows[0]


async def group_rows(where: str = "", *args: Any) -> list[dict[str, Any]]:
    """Groups' rows in creation order, optionally narrowed by a condition on indexed columns."""
    clause = f" WHERE {where}" if where else ""
    return await fetch(f'SELECT {GROUP_COLUMNS} FROM "scim_group"{clause} ORDER BY "id"', *args)


async def members_of(group_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Each group's members (their row id and scim_id), by group row id."""
    wanted = sorted(set(group_ids))
    if not wanted:
        return {}
    marks = ", ".join(f"${n + 1}" for n in range(len(wanted)))
    rows = await fetch(
        'SELECT m."group", u."id", u."scim_id" FROM "scim_group_member" m '
        f'JOIN "scim_user" u ON u."id" = m."member" WHERE m."group" IN ({marks}) '
        'ORDER BY u."id"',
        *wanted,
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["group"], []).append(r)
    return out


async def insert_group(values: dict[str, Any]) -> dict[str, Any]:
    """Insert a group's row; returns it."""
    stamp, scim_id = now(), new_id()
    await ScimGroup.insert(
        ScimGroup(
            scim_id=scim_id,
            display_name=values["display_name"],
            display_key=values["display_name"].casefold(),
            external_id=values.get("external_id"),
            version=1,
            created_at=stamp,
            updated_at=stamp,
        )
    )
    return await group_row(scim_id)


async def update_group(row: dict[str, Any], values: dict[str, Any]) -> None:
    """Write a group's name and externalId and bump its version (conditional on the version read)."""
    done = (
        await ScimGroup.update(
            {
                ScimGroup.display_name: values["display_name"],
                ScimGroup.display_key: values["display_name"].casefold(),
                ScimGroup.external_id: values.get("external_id"),
                ScimGroup.version: row["version"] + 1,
                ScimGroup.updated_at: now(),
            }
        )
        .where((ScimGroup.id == row["id"]) & (ScimGroup.version == row["version"]))
        .returning(ScimGroup.id)
    )
    if not done:
        raise StaleVersion(
            N_("%(what)s has changed since the version named in If-Match; read it again"),
            params={"what": row["scim_id"]},
        )


async def set_members(group_id: int, user_ids: set[int], before: set[int]) -> None:
    """Make a group's members exactly these users."""
    gone = sorted(before - user_ids)
    if gone:
        await ScimGroupMember.delete().where(
            (ScimGroupMember.group == group_id) & ScimGroupMember.member.is_in(gone)
        )
    added = sorted(user_ids - before)
    if added:
        await ScimGroupMember.insert(
            *[ScimGroupMember(group=group_id, member=user_id) for user_id in added]
        )


async def delete_group(row: dict[str, Any]) -> None:
    """Remove a group and its memberships."""
    await ScimGroup.delete().where(ScimGroup.id == row["id"])


def render_group(row: dict[str, Any], members: list[dict[str, Any]], base: str) -> dict[str, Any]:
    """A group as SCIM shows it."""
    resource: dict[str, Any] = {
        "schemas": [CORE_GROUP],
        "id": row["scim_id"],
        "displayName": row["display_name"],
    }
    if row["external_id"] is not None:
        resource["externalId"] = row["external_id"]
    if members:
        resource["members"] = [
            {"value": m["scim_id"], "$ref": f"{base}/Users/{m['scim_id']}", "type": "User"}
            for m in members
        ]
    resource["meta"] = {
        "resourceType": "Group",
        "created": _when(row["created_at"]),
        "lastModified": _when(row["updated_at"]),
        "location": f"{base}/Groups/{row['scim_id']}",
        "version": etag(row["version"]),
    }
    return resource
