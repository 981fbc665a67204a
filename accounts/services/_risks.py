"""Risk findings: what could make the company lose an account, computed in SQL for the list and the report."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from accounts.tables import SocialAccount
from register import audit
from register.db import fetch, get_engine, now, write_transaction
from register.errors import InvalidInput
from register.i18n import N_
from register.policies.services import untrained_holder_sql
from register.queries import page_bounds
from register.settings import Settings, get_settings
from register.staff.enums import EmployeeStatus
from register.staff.services import ids_in_status_sql


@dataclass(frozen=True)
class RiskKind:
    """One kind of finding: its SQL condition on account `a`, severity and message."""

    name: str
    severity: str
    message: str
    condition: str
    # The same test for a page of accounts, with its subquery limited to the page's {ids}.
    on_page: str | None = None


LEAVING = ids_in_status_sql((EmployeeStatus.leaving, EmployeeStatus.left))
LEFT = ids_in_status_sql((EmployeeStatus.left,))
# Uncorrelated IN subqueries, not EXISTS per account: the engines evaluate each once for the whole
# scan (the report's totals went from 832 ms to 23 ms on PostgreSQL with 10,000 accounts).

KINDS: tuple[RiskKind, ...] = (
    RiskKind(
        "no_backup_custodian",
        "high",
        N_("No backup custodian: one absence and nobody can get in."),
        "a.backup_custodian IS NULL",
    ),
    RiskKind(
        "custodian_leaving",
        "high",
        N_("The custodian is leaving or has left."),
        f"a.custodian IN ({LEAVING})",
    ),
    RiskKind(
        "backup_leaving",
        "medium",
        N_("The backup custodian is leaving or has left."),
        f"a.backup_custodian IN ({LEAVING})",
    ),
    RiskKind(
        "mfa_holder_leaving",
        "high",
        N_("The person holding the second factor is leaving or has left."),
        f"a.mfa_holder IN ({LEAVING})",
    ),
    RiskKind(
        "recovery_email_not_company",
        "high",
        N_("The recovery e-mail is not a company-controlled mailbox."),
        "a.recovery_email <> '' AND a.recovery_email_company_controlled = {false}",
    ),
    RiskKind(
        "recovery_phone_not_company",
        "medium",
        N_("The recovery phone is not company-controlled."),
        "a.recovery_phone <> '' AND a.recovery_phone_company_controlled = {false}",
    ),
    RiskKind(
        "weak_mfa",
        "high",
        N_("No second factor, or SMS only (SIM swap)."),
        "a.mfa_method IN ('none', 'sms')",
    ),
    RiskKind(
        "rotation_due",
        "medium",
        N_("The credential is due for rotation."),
        "a.id IN (SELECT c.account FROM credential c WHERE c.rotation_due = {true} OR COALESCE(c.rotated_at, c.set_at) < {max_age})",
        "a.id IN (SELECT c.account FROM credential c WHERE c.account IN {ids} AND (c.rotation_due = {true} OR COALESCE(c.rotated_at, c.set_at) < {max_age}))",
    ),
    RiskKind(
        "grant_held_by_leaver",
        "high",
        N_("Someone who has left still has active access."),
        f"a.id IN (SELECT g.account FROM access_grant g WHERE g.revoked_at IS NULL AND g.employee IN ({LEFT}))",
        f"a.id IN (SELECT g.account FROM access_grant g WHERE g.account IN {{ids}} AND g.revoked_at IS NULL AND g.employee IN ({LEFT}))",
    ),
    RiskKind(
        "recertification_overdue",
        "medium",
        N_("Custody has not been re-certified within the interval."),
        "COALESCE(a.last_recertified_at, a.created_at) < {recert}",
    ),
)
# Training the account's platform requires (register/policies), judged per active grant holder.
_UNTRAINED = untrained_holder_sql('g."employee"', "a.platform")
KINDS += (
    RiskKind(
        "grant_holder_untrained",
        "medium",
        N_("Someone with access lacks current training that the platform requires."),
        f"a.id IN (SELECT g.account FROM access_grant g WHERE g.revoked_at IS NULL AND {_UNTRAINED})",
        f"a.id IN (SELECT g.account FROM access_grant g WHERE g.account IN {{ids}} AND g.revoked_at IS NULL AND {_UNTRAINED})",
    ),
)
BY_NAME = {k.name: k for k in KINDS}


def _params(settings: Settings, at: dt.datetime | None = None) -> dict[str, Any]:
    moment = at or now()
    return {
        "true": True,
        "false": False,
        "max_age": moment - dt.timedelta(days=settings.credential_max_age_days),
        "recert": moment - dt.timedelta(days=settings.recertification_days),
        "today": moment.date(),
    }


def _compile(condition: str, params: dict[str, Any], args: list[Any]) -> str:
    """Turn {name} markers into Piccolo's positional {} placeholders, collecting the values."""
    out = condition
    for name, value in params.items():
        marker = "{" + name + "}"
        while marker in out:
            before, _, after = out.partition(marker)
            args.append(value)
            out = before + "\x00" + after
    return out.replace("\x00", "{}")


def kind_names() -> list[str]:
    """Every risk kind's name."""
    return [k.name for k in KINDS]


def _kind(name: str) -> RiskKind:
    try:
        return BY_NAME[name]
    except KeyError as exc:
        raise InvalidInput(
            N_("unknown risk '%(name)s'; one of: %(value)s"),
            field="risk",
            params={"name": name, "value": ", ".join(kind_names())},
        ) from exc


async def account_ids_with_risk(name: str, settings: Settings | None = None) -> list[int]:
    """Ids of live accounts with one kind of finding."""
    args: list[Any] = []
    where = _compile(_kind(name).condition, _params(settings or get_settings()), args)
    rows = await SocialAccount.raw(
        f"SELECT a.id FROM social_account a WHERE a.status <> 'retired' AND ({where}) ORDER BY a.id",
        *args,
    )
    return [r["id"] for r in rows]


async def _judge(
    account_ids: list[int], settings: Settings, at: dt.datetime | None = None
) -> dict[int, list[dict[str, str]]]:
    """The findings of each given account, asked of the database (judged now, or at `at`)."""
    if not account_ids:
        return {}
    args: list[Any] = []
    params = _params(settings, at)
    # Integers only, so the page's ids can stand in the SQL text.
    ids = "(" + ", ".join(str(int(i)) for i in account_ids) + ")"
    flags = ", ".join(
        f"CASE WHEN ({_compile((k.on_page or k.condition).replace('{ids}', ids), params, args)}) "
        f"THEN 1 ELSE 0 END AS {k.name}"
        for k in KINDS
    )
    marks = ", ".join("{}" for _ in account_ids)
    rows = await SocialAccount.raw(
        f"SELECT a.id, a.status, {flags} FROM social_account a WHERE a.id IN ({marks})",
        *args,
        *account_ids,
    )
    result: dict[int, list[dict[str, str]]] = {}
    for row in rows:
        if row["status"] == "retired":
            result[row["id"]] = []
            continue
        result[row["id"]] = [
            {"kind": k.name, "severity": k.severity, "message": k.message}
            for k in KINDS
            if row[k.name]
        ]
    return result


# Findings of single accounts already judged, for the list and the detail view, with the audit
# trail's head and the minute they were judged at (as for _REPORTS below): a page of 50 accounts
# costs one statement with ten subqueries, planned afresh each time, which on PostgreSQL took
# longer than everything else the list does. Any change to the register moves the head and
# starts afresh; time-driven findings are at most a minute late, as in the report.
_FINDINGS: dict[int, list[dict[str, str]]] = {}
_FINDINGS_KEY: list[Any] = [None]
_FINDINGS_KEPT = 50_000


def forget_judged() -> None:
    """Forget remembered findings and reports (after changes made behind the register's back)."""
    _FINDINGS.clear()
    _FINDINGS_KEY[0] = None
    _REPORTS.clear()


async def findings_for(
    account_ids: list[int], settings: Settings, at: dt.datetime | None = None
) -> dict[int, list[dict[str, str]]]:
    """The findings of each given account (judged at the current minute, or at `at`)."""
    if not account_ids:
        return {}
    if at is not None or get_engine().current_transaction.get() is not None:
        # Inside a transaction the head may be an event that never commits: ask directly.
        return await _judge(account_ids, settings, at)
    minute = now().replace(second=0, microsecond=0)
    key = (
        await audit.head(),
        minute,
        settings.credential_max_age_days,
        settings.recertification_days,
    )
    if _FINDINGS_KEY[0] != key:
        _FINDINGS.clear()
        _FINDINGS_KEY[0] = key
    result = {i: _FINDINGS[i] for i in account_ids if i in _FINDINGS}
    missing = [i for i in account_ids if i not in result]
    if missing:
        found = await _judge(missing, settings, minute)
        # Judged after the head was read, so never older than the key; if another request has
        # moved the key on meanwhile, these are not kept under it.
        if _FINDINGS_KEY[0] == key and len(_FINDINGS) < _FINDINGS_KEPT:
            _FINDINGS.update(found)
        result.update(found)
    return result


# Reports already built, keyed by their request and the minute, each with the audit trail's head
# (seq, hash) it was built at. Every change to the register appends an audit event, so an unchanged
# head means unchanged data; the hash tells two databases (or a truncated one) apart at equal seq.
_REPORTS: dict[tuple[Any, ...], tuple[tuple[int, str], dict[str, Any]]] = {}
_REPORT_LOCKS: dict[tuple[Any, ...], asyncio.Lock] = {}
_REPORTS_KEPT = 256


async def risk_report(
    *, settings: Settings, kind: str | None, limit: int, offset: int
) -> dict[str, Any]:
    """The report, rebuilt only when the register changed or the minute turned (see _REPORTS)."""
    limit, offset = page_bounds(limit, offset)
    if kind:
        _kind(kind)
    # Findings that depend on time (credential age, re-certification) are judged at the minute, so
    # a report is at most a minute late on those; anything anyone changes shows at once.
    minute = now().replace(second=0, microsecond=0)
    key = (
        kind,
        limit,
        offset,
        minute,
        settings.credential_max_age_days,
        settings.recertification_days,
    )
    head = await audit.head()
    cached = _REPORTS.get(key)
    if cached and cached[0] == head:
        return dict(cached[1])
    # One build per key at a time: 64 requests arriving together wait for the first one's result.
    async with _REPORT_LOCKS.setdefault(key, asyncio.Lock()):
        head = await audit.head()
        cached = _REPORTS.get(key)
        if cached and cached[0] == head:
            return dict(cached[1])
        report = await _build_report(
            settings=settings, kind=kind, limit=limit, offset=offset, at=minute
        )
        if len(_REPORTS) >= _REPORTS_KEPT:
            for old in list(_REPORTS)[: _REPORTS_KEPT // 2]:
                _REPORTS.pop(old, None)
                _REPORT_LOCKS.pop(old, None)
        _REPORTS[key] = (head, report)
    return dict(report)


async def _build_report(
    *, settings: Settings, kind: str | None, limit: int, offset: int, at: dt.datetime
) -> dict[str, Any]:
    """Live accounts with findings (all kinds, or one), paginated, with totals per kind."""
    params = _params(settings, at)
    args: list[Any] = []
    sums = ", ".join(
        f"SUM(CASE WHEN ({_compile(k.condition, params, args)}) THEN 1 ELSE 0 END) AS {k.name}"
        for k in KINDS
    )
    totals_row = (
        await SocialAccount.raw(
            f"SELECT COUNT(*) AS accounts, {sums} FROM social_account a WHERE a.status <> 'retired'",
            *args,
        )
    )[0]
    totals = {k.name: int(totals_row[k.name] or 0) for k in KINDS}
    args = []
    if kind:
        where = _compile(_kind(kind).condition, params, args)
    else:
        where = " OR ".join(f"({_compile(k.condition, params, args)})" for k in KINDS)
    rows = await SocialAccount.raw(
        f"SELECT a.id, a.platform, a.handle, a.display_name, a.department FROM social_account a "
        f"WHERE a.status <> 'retired' AND ({where}) ORDER BY a.id LIMIT {int(limit) + 1} OFFSET {int(offset)}",
        *args,
    )
    next_offset = offset + limit if len(rows) > limit else None
    rows = rows[:limit]
    found = await findings_for([r["id"] for r in rows], settings, at=at)
    items = [
        {
            "account_id": r["id"],
            "platform": r["platform"],
            "handle": r["handle"],
            "display_name": r["display_name"],
            "department": r["department"],
            "findings": found.get(r["id"], []),
        }
        for r in rows
    ]
    return {
        "accounts": int(totals_row["accounts"] or 0),
        "totals": totals,
        "items": items,
        "limit": limit,
        "offset": offset,
        "next_offset": next_offset,
    }


# Notices: findings as they appear and clear, for notifications ---------------------------------

NOTICE_ITEMS = 50


async def _current_findings(settings: Settings, at: dt.datetime) -> set[tuple[int, str]]:
    """(account id, kind) of every finding on a live account now."""
    params = _params(settings, at)
    found: set[tuple[int, str]] = set()
    for k in KINDS:
        args: list[Any] = []
        rows = await SocialAccount.raw(
            "SELECT a.id FROM social_account a WHERE a.status <> 'retired' "
            f"AND ({_compile(k.condition, params, args)})",
            *args,
        )
        found |= {(r["id"], k.name) for r in rows}
    return found


async def risk_clock(
    *, settings: Settings | None = None, at: dt.datetime | None = None
) -> dict[str, int]:
    """Record findings as they appear and clear, and notify the new ones (the worker's clock).

    New findings go out as one `risk.new_finding` event per run; accounts newly overdue for
    re-certification also as `recertification.due`. Safe from several workers at once: a notice
    is inserted once (a partial unique index), and only the run that inserted it notifies.
    """
    from register.enums import Role
    from register.notifications.enums import EventType
    from register.notifications.flows import publish

    settings = settings or get_settings()
    moment = at or now()
    current = await _current_findings(settings, moment)
    async with write_transaction():
        open_rows = await fetch(
            'SELECT "id", "account", "kind" FROM "risk_notice" WHERE "cleared_at" IS NULL'
        )
        opened = {(r["account"], r["kind"]): r["id"] for r in open_rows}
        cleared = [notice for key, notice in opened.items() if key not in current]
        for notice in cleared:
            await fetch(
                'UPDATE "risk_notice" SET "cleared_at" = $1 WHERE "id" = $2 AND "cleared_at" IS NULL',
                moment,
                notice,
            )
        new: list[tuple[int, str]] = []
        for account_id, kind in sorted(current - set(opened)):
            rows = await fetch(
                'INSERT INTO "risk_notice" ("account", "kind", "first_seen_at") VALUES ($1, $2, $3) '
                'ON CONFLICT ("account", "kind") WHERE "cleared_at" IS NULL DO NOTHING '
                'RETURNING "account"',
                account_id,
                kind,
                moment,
            )
            if rows:
                new.append((account_id, kind))
        if new:
            items = await _notice_items(new)
            await publish(
                EventType.risk_new_finding.value,
                {"count": len(new), "findings": items[:NOTICE_ITEMS]},
                summary=f"{len(new)} new risk finding(s): "
                + "; ".join(f"{i['platform']} {i['handle']}: {i['message']}" for i in items[:3]),
                audience=[Role.it, Role.admin],
            )
            due = [i for i in items if i["kind"] == "recertification_overdue"]
            if due:
                await publish(
                    EventType.recertification_due.value,
                    {"count": len(due), "accounts": due[:NOTICE_ITEMS]},
                    summary=f"{len(due)} account(s) due for custody re-certification: "
                    + ", ".join(f"{i['platform']} {i['handle']}" for i in due[:5]),
                    audience=[Role.it],
                )
    return {"new": len(new), "cleared": len(cleared)}


async def _notice_items(found: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """What a notification says of each finding: the account, the kind and its message."""
    ids = sorted({a for a, _ in found})
    rows = {
        r["id"]: r
        for r in await SocialAccount.select(
            SocialAccount.id,
            SocialAccount.platform,
            SocialAccount.handle,
            SocialAccount.custodian.name.as_alias("custodian_name"),
        ).where(SocialAccount.id.is_in(ids))
    }
    return [
        {
            "account_id": account_id,
            "platform": rows[account_id]["platform"],
            "handle": rows[account_id]["handle"],
            "custodian": rows[account_id]["custodian_name"],
            "kind": kind,
            "severity": BY_NAME[kind].severity,
            "message": BY_NAME[kind].message,
        }
        for account_id, kind in found
        if account_id in rows
    ]


async def risk_digest(role: Any, since: dt.datetime) -> list[dict[str, Any]]:
    """The daily digest's risk section: findings first seen since the last digest, still open."""
    from register.enums import Role

    if role not in (Role.it, Role.admin, Role.auditor):
        return []
    rows = await fetch(
        'SELECT "account", "kind" FROM "risk_notice" WHERE "first_seen_at" >= $1 '
        'AND "cleared_at" IS NULL ORDER BY "id"',
        since,
    )
    if not rows:
        return []
    items = await _notice_items([(r["account"], r["kind"]) for r in rows])
    return [
        {
            "title": "New risk findings",
            "count": len(items),
            "items": [f"{i['platform']} {i['handle']}: {i['message']}" for i in items[:20]],
        }
    ]
