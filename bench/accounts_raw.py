"""Raw-driver baseline of the account list: GET /api/v1/accounts?platform=X&status=active&limit=50.

Asks the database exactly what the register asks (the filtered page, then the risk findings of
its accounts with the SQL of the account register's risk findings) and answers with the same JSON shape, but with no
auth, no ORM, no middleware and no schema conversion. GET /floor/{id} reads one account by
primary key: the cheapest request that touches the database. Served by granian as a factory
(`bench.accounts_raw:create_app`), like bench/apps.py.

BENCH_RAW_DATABASE_URL selects the driver (sqlite:///path or postgresql://...);
BENCH_SQLITE_MODE (`sync` | `thread`) and BENCH_PG_POOL_MAX as in bench/apps.py.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any

# Importing Piccolo's SQLite engine registers its sqlite3 adapters (aware datetimes -> UTC text),
# so the risk conditions compare timestamps exactly as the register's queries do.
import piccolo.engine.sqlite  # noqa: F401
from litestar import Litestar, get

from accounts.services import KINDS
from bench.apps import health, pg_pool, postgres_floor, raw_app, sqlite_floor, sqlite_rows

COLUMNS = (
    "id",
    "platform",
    "handle",
    "profile_url",
    "display_name",
    "purpose",
    "department",
    "status",
    "custodian",
    "backup_custodian",
    "login_identifier",
    "mfa_method",
    "mfa_holder",
    "recovery_email",
    "recovery_email_company_controlled",
    "recovery_phone",
    "recovery_phone_company_controlled",
    "post_approvers",
    "notes",
    "last_recertified_at",
    "version",
    "created_at",
    "updated_at",
    "retired_at",
)
# The API names the employee references *_id, as accounts.services.account_out does.
SELECT_LIST = ", ".join(
    f'"social_account"."{c}" AS "{c}_id"'
    if c in ("custodian", "backup_custodian", "mfa_holder")
    else f'"social_account"."{c}" AS "{c}"'
    for c in COLUMNS
)
LIST_SQL = (
    f'SELECT {SELECT_LIST} FROM "social_account" WHERE "social_account"."platform" = {{p}} '
    f'AND "social_account"."status" = {{p}} ORDER BY "social_account"."id" ASC LIMIT {{limit}} OFFSET {{offset}}'
)
FLOOR_SQL = 'SELECT "id", "platform", "handle", "status" FROM "social_account" WHERE "id" = {}'
# Settings defaults the benchmark runs with (credential_max_age_days, recertification_days).
MAX_AGE_DAYS = int(os.environ.get("REGISTER_CREDENTIAL_MAX_AGE_DAYS", "180"))
RECERT_DAYS = int(os.environ.get("REGISTER_RECERTIFICATION_DAYS", "180"))
BOOLEANS = ("recovery_email_company_controlled", "recovery_phone_company_controlled")


def _params() -> dict[str, Any]:
    moment = dt.datetime.now(dt.UTC)
    return {
        "true": True,
        "false": False,
        "max_age": moment - dt.timedelta(days=MAX_AGE_DAYS),
        "recert": moment - dt.timedelta(days=RECERT_DAYS),
    }


def findings_sql(ids: list[int], mark: Callable[[int], str]) -> tuple[str, list[str]]:
    """accounts.services.findings_for's statement for these ids, and the order of its named values."""
    count = len(ids)
    page = "(" + ", ".join(str(int(i)) for i in ids) + ")"
    names: list[str] = []

    def compile_condition(condition: str) -> str:
        out = condition
        for name in ("true", "false", "max_age", "recert"):
            marker = "{" + name + "}"
            while marker in out:
                before, _, after = out.partition(marker)
                names.append(name)
                out = before + mark(len(names)) + after
        return out

    flags = ", ".join(
        f"CASE WHEN ({compile_condition((k.on_page or k.condition).replace('{ids}', page))}) "
        f"THEN 1 ELSE 0 END AS {k.name}"
        for k in KINDS
    )
    marks = ", ".join(mark(len(names) + i + 1) for i in range(count))
    return f"SELECT a.id, a.status, {flags} FROM social_account a WHERE a.id IN ({marks})", names


def _findings(rows: list[dict[str, Any]]) -> dict[int, list[dict[str, str]]]:
    out: dict[int, list[dict[str, str]]] = {}
    for row in rows:
        out[row["id"]] = (
            []
            if row["status"] == "retired"
            else [
                {"kind": k.name, "severity": k.severity, "message": k.message}
                for k in KINDS
                if row[k.name]
            ]
        )
    return out


def _page(
    items: list[dict[str, Any]],
    found: dict[int, list[dict[str, str]]],
    limit: int,
    offset: int,
    more: bool,
) -> dict[str, Any]:
    for item in items:
        item["risks"] = found.get(item["id"], [])
    return {
        "items": items,
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if more else None,
    }


def _sqlite_app(path: str, mode: str) -> Litestar:
    list_sql = LIST_SQL.format(p="?", limit="?", offset="?")
    rows = sqlite_rows(path)

    def page(platform: str, status: str, limit: int, offset: int) -> dict[str, Any]:
        found_rows = rows(list_sql, (platform, status, limit + 1, offset))
        items = found_rows[:limit]
        for item in items:
            for key in BOOLEANS:
                item[key] = bool(item[key])
        found: dict[int, list[dict[str, str]]] = {}
        if items:
            # Built per page, as the register builds it: the page's ids stand in the subqueries.
            sql, names = findings_sql([i["id"] for i in items], lambda _: "?")
            params = _params()
            found = _findings(rows(sql, [params[n] for n in names] + [i["id"] for i in items]))
        return _page(items, found, limit, offset, len(found_rows) > limit)

    @get("/api/v1/accounts", sync_to_thread=mode == "thread")
    def list_accounts(
        platform: str, status: str = "active", limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        """A page of accounts of one platform and status, by id, with their findings."""
        return page(platform, status, limit, offset)

    return Litestar(
        route_handlers=[
            list_accounts,
            sqlite_floor(FLOOR_SQL.format("?"), rows, mode == "thread"),
            health,
        ],
        debug=False,
    )


def _postgres_app(dsn: str, pool_max: int) -> Litestar:
    list_sql = LIST_SQL.format(p="{}", limit="$3", offset="$4").format("$1", "$2")
    state: dict[str, Any] = {}

    @get("/api/v1/accounts")
    async def list_accounts(
        platform: str, status: str = "active", limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        """A page of accounts of one platform and status, by id, with their findings."""
        pool = state["pool"]
        found_rows = await pool.fetch(list_sql, platform, status, limit + 1, offset)
        items = [dict(r) for r in found_rows[:limit]]
        found: dict[int, list[dict[str, str]]] = {}
        if items:
            sql, names = findings_sql([i["id"] for i in items], lambda n: f"${n}")
            params = _params()
            found = _findings(
                [
                    dict(r)
                    for r in await pool.fetch(
                        sql, *[params[n] for n in names], *[i["id"] for i in items]
                    )
                ]
            )
        return _page(items, found, limit, offset, len(found_rows) > limit)

    return Litestar(
        route_handlers=[list_accounts, postgres_floor(FLOOR_SQL.format("$1"), state), health],
        lifespan=[pg_pool(dsn, pool_max, state)],
        debug=False,
    )


def create_app() -> Litestar:
    """The raw-driver baseline of the account list (a server factory)."""
    return raw_app(_sqlite_app, _postgres_app)
