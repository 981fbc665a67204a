"""Query helpers every part shares: paging, text search patterns, unique-value clashes."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from piccolo.columns.combination import WhereRaw

from register.db import is_postgres, write_transaction
from register.errors import AlreadyExists, InvalidInput, StaleVersion
from register.i18n import N_

MAX_LIMIT = 200


def page_bounds(limit: int, offset: int) -> tuple[int, int]:
    """Clamp pagination parameters."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            N_("limit must be between 1 and %(MAX_LIMIT)s"),
            field="limit",
            params={"MAX_LIMIT": MAX_LIMIT},
        )
    if offset < 0:
        raise InvalidInput(N_("offset must not be negative"), field="offset")
    return limit, offset


def page(
    rows: list[dict[str, Any]], limit: int, offset: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Split a limit+1 fetch into the page and the next offset."""
    if len(rows) > limit:
        return rows[:limit], offset + limit
    return rows, None


def is_unique_violation(exc: BaseException) -> bool:
    """Whether a driver error is a unique-constraint violation (SQLite or PostgreSQL)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE" in str(exc)
    return getattr(exc, "sqlstate", None) == "23505"


@asynccontextmanager
async def unique_or_409(
    detail: str, field: str, params: Mapping[str, Any] | None = None
) -> AsyncIterator[None]:
    """Run a write whose unique value a concurrent writer may take first; that clash becomes 409."""
    # The caller checked first, but another transaction can commit the same value in between;
    # on PostgreSQL that aborts the transaction, so the write runs in a savepoint.
    try:
        async with write_transaction():
            yield
    except Exception as exc:
        if is_unique_violation(exc):
            raise AlreadyExists(detail, field=field, params=params) from exc
        raise


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


def like_pattern(text: str) -> str:
    """An ILIKE pattern matching text anywhere, with %, _ and \\ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_pattern(text: str) -> str:
    """A case-insensitive substring pattern: ILIKE's on PostgreSQL, GLOB's on SQLite."""
    return like_pattern(text) if is_postgres() else glob_pattern(text)


def search_condition(text: str, columns: tuple[str, ...]) -> WhereRaw:
    """Case-insensitive substring search over columns, with %, _ and * taken literally."""
    if is_postgres():
        pattern = like_pattern(text)
        sql = " OR ".join(f'"{c}" ILIKE {{}}' for c in columns)
    else:
        # SQLite's LIKE folds only ASCII letters ("ångström" would miss "Ångström"); GLOB with
        # a [xX] class per letter folds every alphabet without a custom SQL function.
        pattern = glob_pattern(text)
        sql = " OR ".join(f'"{c}" GLOB {{}}' for c in columns)
    return WhereRaw(f"({sql})", *([pattern] * len(columns)))


def expect_version(thing: str, current: int, sent: int) -> None:
    """Refuse (409, with the current version) a change made to a version that is no longer current."""
    if current != sent:
        raise StaleVersion(
            N_("%(thing)s has changed since version %(sent)s; read it again"),
            current_version=current,
            params={"thing": thing, "sent": sent},
        )
