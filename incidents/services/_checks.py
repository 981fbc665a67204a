"""What an incident's fields must be: times, text, links, people and the account they name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from accounts.enums import Platform
from accounts.services import get_account_row
from incidents.enums import SIGN_OFF_ROLES
from incidents.services._records import stored_value
from register.db import (
    as_utc,
)
from register.enums import Role
from register.errors import (
    InvalidInput,
    NotFound,
)
from register.i18n import N_
from register.services import get_user
from register.staff.services import employee_exists

MAX_URLS = 20


EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)


LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


def given_time(value: dt.datetime | None, field: str) -> dt.datetime | None:
    """A time from the caller, in UTC, within a sane range (1990-2200), or 422 naming the field."""
    moment = as_utc(value)
    if moment is not None and not EARLIEST <= moment < LATEST:
        raise InvalidInput(
            N_("%(field)s must be between 1990 and 2200"), field=field, params={"field": field}
        )
    return moment


def clean_text(value: Any, field: str, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(N_("%(field)s must be text"), field=field, params={"field": field})
    value = value.strip()
    if required and not value:
        raise InvalidInput(N_("%(field)s must not be blank"), field=field, params={"field": field})
    if len(value) > limit:
        raise InvalidInput(
            N_("%(field)s is longer than %(limit)s characters"),
            field=field,
            params={"field": field, "limit": limit},
        )
    if "\x00" in value:
        raise InvalidInput(
            N_("%(field)s contains a NUL character"), field=field, params={"field": field}
        )
    return value


def clean_url(value: str, field: str) -> str:
    """An http(s) URL, trimmed."""
    url = clean_text(value, field, 2000, required=True)
    if not url.lower().startswith(("http://", "https://")) or " " in url or len(url) < 10:
        raise InvalidInput(
            N_("'%(url)s' is not an http(s) URL"), field=field, params={"url": url[:80]}
        )
    return url


def clean_urls(values: Iterable[str] | None) -> list[str]:
    urls = [clean_url(v, f"content_urls[{n}]") for n, v in enumerate(values or [])]
    if len(urls) > MAX_URLS:
        raise InvalidInput(
            N_("at most %(count)s content URLs"), field="content_urls", params={"count": MAX_URLS}
        )
    return list(dict.fromkeys(urls))


async def check_active_user(user_id: int | None, field: str) -> None:
    if user_id is None:
        return
    try:
        row: dict[str, Any] | None = await get_user(user_id=user_id)
    except NotFound:
        row = None
    if not row or not row["active"]:
        raise InvalidInput(
            N_("user %(id)s is not an active user"), field=field, params={"id": user_id}
        )


async def check_counsel(user_id: int | None, field: str) -> None:
    """Legal counsel named on an incident signs its legal steps, so must be able to: legal or admin."""
    await check_active_user(user_id, field)
    if user_id is None:
        return
    row = await get_user(user_id=user_id)
    if Role(row["role"]) not in SIGN_OFF_ROLES:
        raise InvalidInput(
            N_(
                "user %(id)s has role '%(role)s': legal counsel is a user with role 'legal' (or an admin)"
            ),
            field=field,
            params={"id": user_id, "role": row["role"]},
        )


async def check_employee(employee_id: int | None, field: str) -> None:
    if employee_id is None:
        return
    if not await employee_exists(employee_id):
        raise InvalidInput(
            N_("employee %(id)s does not exist"), field=field, params={"id": employee_id}
        )


async def check_account(account_id: int | None, field: str = "account_id") -> dict[str, Any] | None:
    if account_id is None:
        return None
    try:
        row: dict[str, Any] | None = await get_account_row(account_id)
    except NotFound:
        row = None
    if not row:
        raise InvalidInput(
            N_("account %(id)s does not exist"), field=field, params={"id": account_id}
        )
    return row


def platform_value(value: Any) -> str:
    if value in (None, ""):
        return ""
    try:
        return Platform(stored_value(value)).value
    except ValueError as exc:
        choices = ", ".join(p.value for p in Platform)
        raise InvalidInput(
            N_("'%(value)s' is not a platform; one of: %(choices)s"),
            field="platform",
            params={"value": value, "choices": choices},
        ) from exc
