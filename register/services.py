"""Users and employees: queries and single-record rules."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from msgspec import UNSET
from piccolo.columns.combination import WhereRaw

from register import audit
from register.actor import Actor
from register.db import enum_literal, fetch, is_postgres, now, offloaded, write_transaction
from register.enums import EmployeeStatus, Role
from register.errors import AlreadyExists, InvalidInput, NotFound, StaleVersion
from register.passwords import check_policy, hash_password, one_time_password
from register.tables import ApiToken, Employee, User, UserSession

EMAIL_RE = re.compile(
    r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$|^[^@\s]+@localhost$"
)
MAX_LIMIT = 200

EMPLOYEE_FIELDS = (
    "name",
    "work_email",
    "department",
    "job_title",
    "manager_id",
    "start_date",
    "leaving_date",
    "status",
)
USER_FIELDS = ("name", "role", "active", "employee_id")


def normalise_email(value: str, field: str) -> str:
    """Trim and lower-case an e-mail; refuse what is not one."""
    email = value.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 320:
        raise InvalidInput(f"'{value}' is not an e-mail address", field=field)
    return email


def page_bounds(limit: int, offset: int) -> tuple[int, int]:
    """Clamp pagination parameters."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if offset < 0:
        raise InvalidInput("offset must not be negative", field="offset")
    return limit, offset


def page(
    rows: list[dict[str, Any]], limit: int, offset: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Split a limit+1 fetch into the page and the next offset."""
    if len(rows) > limit:
        return rows[:limit], offset + limit
    return rows, None


# ---------------------------------------------------------------- users


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
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


_USER_SELECT = [c for c in User.all_columns() if c._meta.name != "password_hash"]


async def get_user(*, user_id: int) -> dict[str, Any]:
    """One user, or NotFound."""
    row = await User.select(*_USER_SELECT).where(User.id == user_id).first()
    if not row:
        raise NotFound(f"user {user_id} does not exist")
    return user_out(row)


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
    if employee_id is not None and not await Employee.exists().where(Employee.id == employee_id):
        raise InvalidInput(f"employee {employee_id} does not exist", field=field)


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
        async with unique_or_409(f"a user with e-mail {email} already exists", "email"):
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
    """Change a user's name, role, active flag or employee link, with a version check."""
    changes = {k: v for k, v in changes.items() if v is not UNSET and k in USER_FIELDS}
    if "employee_id" in changes:
        await _check_employee(changes["employee_id"])
    if "role" in changes:
        changes["role"] = Role(changes["role"]).value
    async with write_transaction():
        before = await get_user(user_id=user_id)
        if user_id == actor.user_id and (
            changes.get("active") is False or changes.get("role", before["role"]) != before["role"]
        ):
            raise InvalidInput(
                "you cannot deactivate yourself or change your own role",
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
                f"user {user_id} has changed since version {version}; read it again",
                current_version=before["version"],
            )
        if changes.get("active") is False:
            await end_sessions(user_id=user_id)
        await audit.record(actor, "user.update", "user", user_id, audit.diff(before, changes))
    return await get_user(user_id=user_id)


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
        raise NotFound(f"no user with e-mail {email}")
    return await update_user(
        actor=actor, user_id=row["id"], version=row["version"], changes={"active": False}
    )


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


# ---------------------------------------------------------------- employees


def employee_out(row: dict[str, Any]) -> dict[str, Any]:
    """An employee row as the API shows it."""
    out = {
        k: row[k]
        for k in (
            "id",
            "name",
            "work_email",
            "department",
            "job_title",
            "start_date",
            "leaving_date",
            "status",
            "version",
            "created_at",
            "updated_at",
        )
    }
    out["manager_id"] = row["manager"]
    return out


# Named as the API names them, so fetched rows need no reshaping.
EMPLOYEE_COLUMNS = (
    '"id", "name", "work_email", "department", "job_title", "manager" AS "manager_id", '
    '"start_date", "leaving_date", "status", "version", "created_at", "updated_at"'
)
_GET_EMPLOYEE = f'SELECT {EMPLOYEE_COLUMNS} FROM "employee" WHERE "id" = $1'


async def get_employee(*, employee_id: int) -> dict[str, Any]:
    """One employee, or NotFound."""
    # The hottest read of the API: precompiled SQL, not a query built per request.
    rows = await fetch(_GET_EMPLOYEE, employee_id)
    if not rows:
        raise NotFound(f"employee {employee_id} does not exist")
    return rows[0]


def derive_status(
    leaving_date: dt.date | None, status: str | None, today: dt.date | None = None
) -> str:
    """Status from the leaving date unless given: leaving before it, left after it."""
    today = today or dt.date.today()
    if status is None:
        if leaving_date is None:
            return EmployeeStatus.active.value
        return EmployeeStatus.left.value if leaving_date < today else EmployeeStatus.leaving.value
    status = EmployeeStatus(status).value
    if status != EmployeeStatus.active.value and leaving_date is None:
        raise InvalidInput(f"status '{status}' needs a leaving_date", field="leaving_date")
    return status


EMPLOYEE_LENGTHS = {"name": 200, "department": 120, "job_title": 200}


def check_text(values: dict[str, Any]) -> None:
    """Text fields fit their columns and hold no NUL (PostgreSQL refuses both; SQLite keeps them)."""
    for field, limit in EMPLOYEE_LENGTHS.items():
        text = values.get(field) or ""
        if len(text) > limit:
            raise InvalidInput(f"{field} is longer than {limit} characters", field=field)
        if "\x00" in text:
            raise InvalidInput(f"{field} contains a NUL character", field=field)


def check_dates(start: dt.date | None, leaving: dt.date | None) -> None:
    """A leaving date cannot come before the start date."""
    if start and leaving and leaving < start:
        raise InvalidInput("leaving_date is before start_date", field="leaving_date")


async def _check_manager(employee_id: int | None, manager_id: int | None) -> None:
    if manager_id is None:
        return
    if manager_id == employee_id:
        raise InvalidInput("an employee cannot be their own manager", field="manager_id")
    seen = {employee_id}
    current: int | None = manager_id
    while current is not None:
        row = (
            await Employee.select(Employee.id, Employee.manager)
            .where(Employee.id == current)
            .first()
        )
        if not row:
            raise InvalidInput(f"manager {manager_id} does not exist", field="manager_id")
        if row["id"] in seen:
            raise InvalidInput("this manager would create a reporting cycle", field="manager_id")
        seen.add(row["id"])
        current = row["manager"]


def is_unique_violation(exc: BaseException) -> bool:
    """Whether a driver error is a unique-constraint violation (SQLite or PostgreSQL)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE" in str(exc)
    return getattr(exc, "sqlstate", None) == "23505"


@asynccontextmanager
async def unique_or_409(detail: str, field: str) -> AsyncIterator[None]:
    """Run a write whose unique value a concurrent writer may take first; that clash becomes 409."""
    # The caller checked first, but another transaction can commit the same value in between;
    # on PostgreSQL that aborts the transaction, so the write runs in a savepoint.
    try:
        async with write_transaction():
            yield
    except Exception as exc:
        if is_unique_violation(exc):
            raise AlreadyExists(detail, field=field) from exc
        raise


async def create_employee(*, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Add a person to the staff directory."""
    email = normalise_email(data["work_email"], "work_email")
    check_dates(data.get("start_date"), data.get("leaving_date"))
    status = derive_status(data.get("leaving_date"), data.get("status"))
    await _check_manager(None, data.get("manager_id"))
    stamp = now()
    values = {
        "name": data["name"].strip(),
        "work_email": email,
        "department": (data.get("department") or "").strip(),
        "job_title": (data.get("job_title") or "").strip(),
        "manager_id": data.get("manager_id"),
        "start_date": data.get("start_date"),
        "leaving_date": data.get("leaving_date"),
        "status": status,
    }
    if not values["name"]:
        raise InvalidInput("name must not be blank", field="name")
    check_text(values)
    async with write_transaction():
        row = {k: v for k, v in values.items() if k != "manager_id"}
        async with unique_or_409(
            f"an employee with work e-mail {email} already exists", "work_email"
        ):
            rows = await Employee.insert(
                Employee(
                    **row,
                    manager=values["manager_id"],
                    version=1,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
        employee_id = rows[0]["id"]
        await audit.record(
            actor, "employee.create", "employee", employee_id, audit.diff(None, values)
        )
    return await get_employee(employee_id=employee_id)


async def update_employee(
    *, actor: Actor, employee_id: int, version: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change an employee, refusing a stale version with 409."""
    changes = {k: v for k, v in changes.items() if v is not UNSET and k in EMPLOYEE_FIELDS}
    async with write_transaction():
        before = await get_employee(employee_id=employee_id)
        if before["version"] != version:
            raise StaleVersion(
                f"employee {employee_id} has changed since version {version}; read it again",
                current_version=before["version"],
            )
        if "work_email" in changes:
            changes["work_email"] = normalise_email(changes["work_email"], "work_email")
        if "name" in changes:
            changes["name"] = changes["name"].strip()
            if not changes["name"]:
                raise InvalidInput("name must not be blank", field="name")
        for field in ("department", "job_title"):
            if field in changes:
                changes[field] = (changes[field] or "").strip()
        check_text(changes)
        merged = {**before, **changes}
        check_dates(merged["start_date"], merged["leaving_date"])
        if "status" in changes or "leaving_date" in changes:
            changes["status"] = derive_status(merged["leaving_date"], changes.get("status"))
        if "manager_id" in changes:
            await _check_manager(employee_id, changes["manager_id"])
        changes = {k: v for k, v in changes.items() if before.get(k) != v}
        if not changes:
            return before
        values = {("manager" if k == "manager_id" else k): v for k, v in changes.items()}
        async with unique_or_409(
            f"an employee with work e-mail {changes.get('work_email')} already exists", "work_email"
        ):
            updated = (
                await Employee.update({**values, "version": version + 1, "updated_at": now()})
                .where((Employee.id == employee_id) & (Employee.version == version))
                .returning(Employee.id)
            )
        if not updated:
            raise StaleVersion(
                f"employee {employee_id} has changed since version {version}; read it again"
            )
        await audit.record(
            actor, "employee.update", "employee", employee_id, audit.diff(before, changes)
        )
        if changes.get("status") == EmployeeStatus.left.value:
            await employees_left(actor=actor, employee_ids=[employee_id])
    return await get_employee(employee_id=employee_id)


def glob_pattern(text: str) -> str:
    """A SQLite GLOB pattern matching text anywhere, ignoring case in every alphabet."""
    parts = []
    for ch in text:
        variants = sorted({v for v in (ch, ch.lower(), ch.upper()) if len(v) == 1})
        if len(variants) > 1:
            parts.append("[" + "".join(variants) + "]")
        elif ch in "*?[":
            parts.append(f"[{ch}]")
        else:
            parts.append(ch)
    return "*" + "".join(parts) + "*"


def search_condition(text: str, columns: tuple[str, ...]) -> WhereRaw:
    """Case-insensitive substring search over columns, with %, _ and * taken literally."""
    if is_postgres():
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql = " OR ".join(f'"{c}" ILIKE {{}}' for c in columns)
    else:
        # SQLite's LIKE folds only ASCII letters ("ångström" would miss "Ångström"); GLOB with
        # a [xX] class per letter folds every alphabet without a custom SQL function.
        pattern = glob_pattern(text)
        sql = " OR ".join(f'"{c}" GLOB {{}}' for c in columns)
    return WhereRaw(f"({sql})", *([pattern] * len(columns)))


async def list_employees(
    *,
    limit: int,
    offset: int,
    q: str | None = None,
    department: str | None = None,
    status: EmployeeStatus | None = None,
    manager_id: int | None = None,
    leaving_before: dt.date | None = None,
    leaving_after: dt.date | None = None,
    with_total: bool = False,
) -> tuple[list[dict[str, Any]], int | None, int | None]:
    """Employees filtered, searched and paginated, ordered by name."""
    limit, offset = page_bounds(limit, offset)
    where: list[str] = []
    args: list[Any] = []

    def add(fragment: str, *values: Any) -> None:
        # Each "?" in the fragment becomes the next $n placeholder.
        for value in values:
            args.append(value)
            fragment = fragment.replace("?", f"${len(args)}", 1)
        where.append(fragment)

    if department:
        add('"department" = ?', department)
    if status is not None:
        add(f'"status" = {enum_literal(status)}')
    if manager_id is not None:
        add('"manager" = ?', manager_id)
    if leaving_before is not None:
        add('"leaving_date" < ?', leaving_before)
    if leaving_after is not None:
        add('"leaving_date" > ?', leaving_after)
    searching = bool(q and q.strip())
    if searching:
        columns = ("name", "work_email", "job_title")
        if is_postgres():
            op, pattern = (
                "ILIKE",
                "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
            )
        else:
            op, pattern = "GLOB", glob_pattern(q.strip())
        add("(" + " OR ".join(f'"{c}" {op} ?' for c in columns) + ")", *([pattern] * len(columns)))
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    sql = (
        f'SELECT {EMPLOYEE_COLUMNS} FROM "employee"{clause} ORDER BY "name", "id" '
        f"LIMIT {int(limit) + 1} OFFSET {int(offset)}"
    )
    # A text search scans the table: on SQLite it runs off the event loop.
    with offloaded() if searching else nullcontext():
        rows = await fetch(sql, *args)
        total = None
        if with_total:
            total = (await fetch(f'SELECT COUNT(*) AS n FROM "employee"{clause}', *args))[0]["n"]
    items, next_offset = page(rows, limit, offset)
    return items, next_offset, total


async def employees_left(*, actor: Actor, employee_ids: list[int]) -> None:
    """Tell the domain apps that these people have left (their accounts' credentials, for one)."""
    from register.extensions import extensions

    if employee_ids:
        for hook in extensions.on_employees_left:
            await hook(actor, employee_ids)


async def sweep_leavers(*, actor: Actor, today: dt.date | None = None) -> list[int]:
    """Mark everyone whose leaving date has passed as left, audited, and tell the domain apps."""
    today = today or dt.date.today()
    async with write_transaction():
        await audit.lock_chain()
        rows = await fetch(
            'SELECT "id", "status", "version" FROM "employee" '
            """WHERE "status" <> 'left' AND "leaving_date" IS NOT NULL AND "leaving_date" < $1""",
            today,
        )
        stamp = now()
        swept: list[int] = []
        for row in rows:
            # Conditional, so two sweepers (several workers) record each leaver once.
            changed = (
                await Employee.update(
                    {
                        Employee.status: EmployeeStatus.left.value,
                        Employee.version: row["version"] + 1,
                        Employee.updated_at: stamp,
                    }
                )
                .where((Employee.id == row["id"]) & (Employee.version == row["version"]))
                .returning(Employee.id)
            )
            if not changed:
                continue
            swept.append(row["id"])
            await audit.record(
                actor, "employee.left", "employee", row["id"], {"status": [row["status"], "left"]}
            )
        await employees_left(actor=actor, employee_ids=swept)
    return swept
