"""Users and their API tokens: queries and single-record rules."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from msgspec import UNSET
from piccolo.query.functions.aggregate import Max

from register import audit
from register.actor import Actor
from register.checks import check_time_zone, normalise_email
from register.db import as_utc, json_value, now, write_transaction
from register.enums import Role
from register.errors import InvalidInput, NotFound, StaleVersion
from register.extensions import extensions
from register.i18n import LANGUAGES, N_
from register.passwords import check_policy, hash_password, one_time_password
from register.queries import page, page_bounds, search_condition, unique_or_409
from register.settings import Settings
from register.tables import ApiToken, User, UserSession

USER_FIELDS = ("name", "role", "active", "employee_id", "language", "time_zone")


def user_out(row: dict[str, Any]) -> dict[str, Any]:
    """A user row as the API shows it."""
    return {
        "id": row["id"],
        "email": row["email"],
        "name": row["name"],
        "role": row["role"],
        "active": row["active"],
        "employee_id": row["employee"],
        "must_change_password": row["must_change_password"],
        "language": row["language"],
        "time_zone": row["time_zone"],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


_USER_SELECT = [c for c in User.all_columns() if c._meta.name != "password_hash"]


async def get_user(*, user_id: int) -> dict[str, Any]:
    """One user, or NotFound."""
    row = await User.select(*_USER_SELECT).where(User.id == user_id).first()
    if not row:
        raise NotFound(N_("user %(user_id)s does not exist"), params={"user_id": user_id})
    return user_out(row)


async def user_by_email(*, email: str) -> dict[str, Any] | None:
    """The user who signs in with this e-mail, or None."""
    row = await User.select(*_USER_SELECT).where(User.email == email.strip().lower()).first()
    return user_out(row) if row else None


async def users_by_id(user_ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
    """Several users by id in one query (a page's owners); ids no user has are left out."""
    wanted = sorted({i for i in user_ids if i is not None})
    if not wanted:
        return {}
    rows = await User.select(*_USER_SELECT).where(User.id.is_in(wanted))
    return {row["id"]: user_out(row) for row in rows}


async def list_users(
    *,
    limit: int,
    offset: int,
    role: Role | None = None,
    active: bool | None = None,
    q: str | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Users, filtered and paginated."""
    limit, offset = page_bounds(limit, offset)
    query = User.select(*_USER_SELECT)
    if role is not None:
        query = query.where(User.role == role.value)
    if active is not None:
        query = query.where(User.active == active)
    if q and q.strip():
        query = query.where(search_condition(q.strip(), ("email", "name")))
    rows = await query.order_by(User.id).limit(limit + 1).offset(offset)
    items, next_offset = page(rows, limit, offset)
    return [user_out(r) for r in items], next_offset


async def _check_employee(employee_id: int | None, field: str = "employee_id") -> None:
    # The staff directory answers: it is a part, and the core does not read its table.
    if employee_id is not None and not await extensions.exists["employee"](employee_id):
        raise InvalidInput(
            N_("employee %(employee_id)s does not exist"),
            field=field,
            params={"employee_id": employee_id},
        )


async def create_user(
    *,
    actor: Actor,
    email: str,
    role: Role,
    name: str = "",
    password: str | None = None,
    employee_id: int | None = None,
    must_change_password: bool | None = None,
) -> tuple[dict[str, Any], str | None]:
    """Create a user; without a password, return a one-time one that must be changed."""
    email = normalise_email(email, "email")
    generated = None
    if password is None:
        generated = password = one_time_password()
    check_policy(password)
    await _check_employee(employee_id)
    hashed = await hash_password(password)
    stamp = now()
    async with write_transaction():
        async with unique_or_409(
            N_("a user with e-mail %(email)s already exists"), "email", {"email": email}
        ):
            rows = await User.insert(
                User(
                    email=email,
                    name=name.strip(),
                    role=role.value,
                    active=True,
                    employee=employee_id,
                    password_hash=hashed,
                    must_change_password=generated is not None
                    if must_change_password is None
                    else must_change_password,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
        user_id = rows[0]["id"]
        await audit.record(
            actor,
            "user.create",
            "user",
            user_id,
            audit.diff(
                None,
                {
                    "email": email,
                    "name": name,
                    "role": role.value,
                    "employee_id": employee_id,
                    "password": "set",
                },
                frozenset({"password"}),
            ),
        )
    return await get_user(user_id=user_id), generated


async def update_user(
    *, actor: Actor, user_id: int, version: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change a user's name, role, active flag, employee link, language or time zone (versioned)."""
    changes = {k: v for k, v in changes.items() if v is not UNSET and k in USER_FIELDS}
    if "employee_id" in changes:
        await _check_employee(changes["employee_id"])
    if "role" in changes:
        changes["role"] = Role(changes["role"]).value
    if "language" in changes and changes["language"] not in (None, *LANGUAGES):
        raise InvalidInput(
            N_(
                "'%(language)s' is not a language of the register (%(value)s; none: as the browser asks)"
            ),
            field="language",
            params={"language": changes["language"], "value": ", ".join(LANGUAGES)},
        )
    if "time_zone" in changes:
        changes["time_zone"] = check_time_zone(changes["time_zone"], "time_zone")
    async with write_transaction():
        before = await get_user(user_id=user_id)
        if user_id == actor.user_id and (
            changes.get("active") is False or changes.get("role", before["role"]) != before["role"]
        ):
            raise InvalidInput(
                N_("you cannot deactivate yourself or change your own role"),
                field="active" if "active" in changes else "role",
            )
        values = {("employee" if k == "employee_id" else k): v for k, v in changes.items()}
        updated = (
            await User.update({**values, "version": version + 1, "updated_at": now()})
            .where((User.id == user_id) & (User.version == version))
            .returning(User.id)
        )
        if not updated:
            raise StaleVersion(
                N_("user %(user_id)s has changed since version %(version)s; read it again"),
                current_version=before["version"],
                params={"user_id": user_id, "version": version},
            )
        if changes.get("active") is False:
            await end_sessions(user_id=user_id)
        await audit.record(actor, "user.update", "user", user_id, audit.diff(before, changes))
    return await get_user(user_id=user_id)


async def set_own_reading(
    *, actor: Actor, version: int, language: str | None, time_zone: str | None
) -> dict[str, Any]:
    """The caller's own language (None: the browser's) and time zone (None: UTC), audited."""
    if actor.user_id is None:
        raise NotFound(N_("the caller is not a user"))
    return await update_user(
        actor=actor,
        user_id=actor.user_id,
        version=version,
        changes={"language": language, "time_zone": time_zone},
    )


# E-mail readers and their choices ----------------------------------------------------------------


def _reader(row: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    return {
        "user_id": row["id"],
        "employee_id": row["employee"],
        "email": row["email"],
        "name": name or row["name"] or row["email"],
        "role": row["role"],
        "language": row["language"],
        "time_zone": row["time_zone"],
        "mail_opt_out": sorted(json_value(row["mail_opt_out"], [])),
    }


_READER_COLUMNS = (
    User.id,
    User.email,
    User.name,
    User.role,
    User.employee,
    User.language,
    User.time_zone,
    User.mail_opt_out,
)


async def mail_readers(
    *,
    user_ids: Iterable[int | None] = (),
    employee_ids: Iterable[int | None] = (),
    roles: Iterable[Role] = (),
) -> dict[str, dict[int, dict[str, Any]]]:
    """Who mail goes to: active users by id and by role, and people by employee id.

    A person is reached as their active register user when they have one (with its language and
    opt-outs), else at their work e-mail from the staff directory, in the default language.
    """
    users = sorted({i for i in user_ids if i is not None})
    people = sorted({i for i in employee_ids if i is not None})
    wanted = sorted({Role(r).value for r in roles})
    found: dict[str, dict[int, dict[str, Any]]] = {"users": {}, "employees": {}, "roles": {}}
    condition = None
    if users:
        condition = User.id.is_in(users)
    if people:
        condition = (
            User.employee.is_in(people) | condition if condition else User.employee.is_in(people)
        )
    if wanted:
        condition = User.role.is_in(wanted) | condition if condition else User.role.is_in(wanted)
    rows = (
        await User.select(*_READER_COLUMNS).where(condition & (User.active == True))  # noqa: E712
        if condition is not None
        else []
    )
    names = await employee_names(r["employee"] for r in rows)
    for row in rows:
        reader = _reader(row, names.get(row["employee"]))
        if row["id"] in users:
            found["users"][row["id"]] = reader
        if row["employee"] in people:
            found["employees"].setdefault(row["employee"], reader)
        if row["role"] in wanted:
            found["roles"][row["id"]] = reader
    missing = [e for e in people if e not in found["employees"]]
    source = extensions.names.get("employee_email")
    if missing and source:
        emails = await source(missing)
        staff_names = await employee_names(missing)
        for employee_id, email in emails.items():
            found["employees"][employee_id] = {
                "user_id": None,
                "employee_id": employee_id,
                "email": email,
                "name": staff_names.get(employee_id) or email,
                "role": None,
                "language": None,
                "time_zone": None,
                "mail_opt_out": [],
            }
    return found


async def set_own_mail_opt_out(
    *, actor: Actor, version: int, opt_out: Iterable[str], optional: Iterable[str]
) -> dict[str, Any]:
    """The kinds of optional e-mail the caller turned off (only kinds that may be), audited."""
    if actor.user_id is None:
        raise NotFound(N_("the caller is not a user"))
    allowed = set(optional)
    chosen = sorted(set(opt_out))
    unknown = [k for k in chosen if k not in allowed]
    if unknown:
        raise InvalidInput(
            N_("%(kinds)s cannot be turned off"),
            field="mail_opt_out",
            params={"kinds": ", ".join(unknown)},
        )
    async with write_transaction():
        row = (
            await User.select(User.mail_opt_out, User.version)
            .where(User.id == actor.user_id)
            .first()
        )
        if row is None:
            raise NotFound(N_("the caller is not a user"))
        before = sorted(json_value(row["mail_opt_out"], []))
        if before != chosen:
            updated = (
                await User.update(
                    {
                        User.mail_opt_out: json.dumps(chosen),
                        User.version: version + 1,
                        User.updated_at: now(),
                    }
                )
                .where((User.id == actor.user_id) & (User.version == version))
                .returning(User.id)
            )
            if not updated:
                raise StaleVersion(
                    N_("user %(user_id)s has changed since version %(version)s; read it again"),
                    current_version=row["version"],
                    params={"user_id": actor.user_id, "version": version},
                )
            await audit.record(
                actor, "user.update", "user", actor.user_id, {"mail_opt_out": [before, chosen]}
            )
    return await get_user(user_id=actor.user_id)


async def mail_opt_out_of(*, user_id: int) -> list[str]:
    """The kinds of optional e-mail a user turned off."""
    row = await User.select(User.mail_opt_out).where(User.id == user_id).first()
    return sorted(json_value(row["mail_opt_out"], [])) if row else []


async def end_sessions(*, user_id: int) -> None:
    """End every open session of a user (tokens stop because the user is inactive)."""
    await UserSession.update({UserSession.ended_at: now()}).where(
        (UserSession.user == user_id) & UserSession.ended_at.is_null()
    )


async def deactivate_user(*, actor: Actor, email: str) -> dict[str, Any]:
    """Deactivate a user by e-mail (CLI); their sessions and tokens stop at once."""
    row = (
        await User.select(User.id, User.version).where(User.email == email.strip().lower()).first()
    )
    if not row:
        raise NotFound(N_("no user with e-mail %(email)s"), params={"email": email})
    return await update_user(
        actor=actor, user_id=row["id"], version=row["version"], changes={"active": False}
    )


async def employee_names(employee_ids: Iterable[int | None]) -> dict[int, str]:
    """People's names by id, for the core's pages and answers that show who."""
    # The staff directory answers, as for _check_employee.
    extensions.load()
    source = extensions.names.get("employee")
    wanted = sorted({i for i in employee_ids if i is not None})
    return await source(wanted) if source and wanted else {}


async def people_of_users(user_ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
    """Users by id with their e-mail and the name they go by (their employee's, else their own)."""
    ids = sorted({i for i in user_ids if i is not None})
    if not ids:
        return {}
    rows = await User.select(User.id, User.email, User.name, User.employee).where(
        User.id.is_in(ids)
    )
    names = await employee_names(r["employee"] for r in rows)
    return {
        r["id"]: {
            "email": r["email"],
            "name": names.get(r["employee"]) or r["name"],
            "employee_id": r["employee"],
        }
        for r in rows
    }


async def user_ids_matching(text: str) -> list[int]:
    """Users whose e-mail, own name or employee's name holds the text, in any case."""
    wanted = text.strip().casefold()
    if not wanted:
        return []
    # Those who sign in to the register are a few hundred at most: matched here, the employee's
    # name included, which lives in the staff directory.
    rows = await User.select(User.id, User.email, User.name, User.employee)
    names = await employee_names(r["employee"] for r in rows)
    return [
        r["id"]
        for r in rows
        if any(
            wanted in (value or "").casefold()
            for value in (r["email"], r["name"], names.get(r["employee"]))
        )
    ]


async def user_ids_of_employee(employee_id: int) -> list[int]:
    """The register users who are this person."""
    return [r["id"] for r in await User.select(User.id).where(User.employee == employee_id)]


def token_out(row: dict[str, Any]) -> dict[str, Any]:
    """A token row as the API shows it."""
    return {
        "id": row["id"],
        "user_id": row["user"],
        "name": row["name"],
        "prefix": row["prefix"],
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "last_used_at": row["last_used_at"],
        "revoked_at": row["revoked_at"],
    }


async def list_tokens(
    *, user_id: int | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Tokens of one user (or all, for admins)."""
    limit, offset = page_bounds(limit, offset)
    columns = [c for c in ApiToken.all_columns() if c._meta.name != "token_hash"]
    query = ApiToken.select(*columns)
    if user_id is not None:
        query = query.where(ApiToken.user == user_id)
    rows = await query.order_by(ApiToken.id).limit(limit + 1).offset(offset)
    items, next_offset = page(rows, limit, offset)
    return [token_out(r) for r in items], next_offset


async def get_token(*, token_id: int) -> dict[str, Any]:
    """One token's record (never the token), or NotFound."""
    columns = [c for c in ApiToken.all_columns() if c._meta.name != "token_hash"]
    row = await ApiToken.select(*columns).where(ApiToken.id == token_id).first()
    if not row:
        raise NotFound(N_("token %(token_id)s does not exist"), params={"token_id": token_id})
    return token_out(row)


async def last_sign_ins(user_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """When each of these users last signed in (opened a session); users who never did are left out."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    rows = (
        await UserSession.select(UserSession.user, Max(UserSession.created_at, alias="last"))
        .where(UserSession.user.is_in(wanted))
        .group_by(UserSession.user)
    )
    # SQLite hands an aggregate back as the text it stores.
    return {
        r["user"]: as_utc(
            dt.datetime.fromisoformat(r["last"]) if isinstance(r["last"], str) else r["last"]
        )
        for r in rows
        if r["last"] is not None
    }


async def ensure_first_admin(settings: Settings) -> tuple[str, str] | None:
    """Create the first admin if there is no admin yet; returns (e-mail, one-time password) once."""
    if await User.exists().where(User.role == Role.admin.value):
        return None
    user, password = await create_user(
        actor=Actor.system("first-start"),
        email=settings.admin_email,
        role=Role.admin,
        name="Administrator",
    )
    assert password is not None
    return user["email"], password
