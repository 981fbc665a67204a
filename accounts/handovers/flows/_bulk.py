"""A restructuring: one handover per row of a CSV file, all or nothing; or a dry run that says what."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from accounts.handovers.flows._start import _start
from accounts.handovers.services import LIVE, as_date, check_successor, handover_items
from accounts.handovers.tables import (
    Handover,
)
from register.actor import Actor
from register.db import write_transaction
from register.errors import (
    Conflict,
    InvalidInput,
    InvalidValue,
)
from register.i18n import N_
from register.settings import Settings
from register.staff.services import employees_by_email

# Header (as register.csvfiles.normalise_header folds it) -> field.
BULK_FIELDS = {
    "workemail": "work_email",
    "email": "work_email",
    "employeeid": "employee_id",
    "leavingdate": "leaving_date",
    "successoremail": "successor_email",
    "successor": "successor_email",
    "successorid": "successor_id",
    "personalemail": "personal_email",
    "phone": "phone",
    "notes": "notes",
}


class _Previewed(Exception):
    """Leaves the dry run's transaction, so every handover it started is undone."""

    def __init__(self, summary: dict[str, Any]) -> None:
        super().__init__("dry run")
        self.summary = summary


def plan_digest(plans: list[dict[str, Any]], open_now: bool) -> str:
    """What a file would start, as one digest: an apply goes ahead only if it still says this."""
    shown = [
        {k: str(p[k]) for k in ("employee_id", "successor_id", "leaving_date", "emails", "phones")}
        for p in plans
    ]
    return hashlib.sha256(json.dumps([shown, open_now], sort_keys=True).encode()).hexdigest()


def _whole(value: str, field: str) -> int:
    try:
        return int(value.strip())
    except ValueError as exc:
        raise InvalidInput(
            N_("%(field)s must be a whole number, not '%(value)s'"),
            field=field,
            params={"field": field, "value": value[:40]},
        ) from exc


async def bulk_start(
    *,
    actor: Actor,
    settings: Settings,
    content: bytes,
    default_successor_email: str = "",
    leaving_date: dt.date | None = None,
    open_now: bool = True,
    date_order: str | None = None,
    dry_run: bool = False,
    expect_plan: str | None = None,
) -> dict[str, Any]:
    """Start one handover per CSV row (a restructuring), all or nothing; errors name their line.

    `dry_run` starts every handover the file names, says what each would hold and which lines are
    refused and why, and undoes it all; `expect_plan` (a dry run's `plan`) starts the file only if
    it would still start exactly that.
    """
    try:
        return await _bulk(
            actor=actor,
            settings=settings,
            content=content,
            default_successor_email=default_successor_email,
            leaving_date=leaving_date,
            open_now=open_now,
            date_order=date_order,
            dry_run=dry_run,
            expect_plan=expect_plan,
        )
    except _Previewed as previewed:
        return previewed.summary


async def _bulk(
    *,
    actor: Actor,
    settings: Settings,
    content: bytes,
    default_successor_email: str,
    leaving_date: dt.date | None,
    open_now: bool,
    date_order: str | None,
    dry_run: bool,
    expect_plan: str | None,
) -> dict[str, Any]:
    from register.csvfiles import (
        decode,
        line_error,
        normalise_header,
        parse_date,
        rows_with_lines,
        slashed_order_hint,
    )

    order = (date_order or "").strip().upper() or None
    if order not in (None, "DMY", "MDY"):
        raise InvalidInput(N_("date_order must be DMY or MDY"), field="date_order")

    text = decode(content)
    rows = list(rows_with_lines(text))
    if not rows:
        raise InvalidInput(N_("the file is empty"), field="file")
    header = [BULK_FIELDS.get(normalise_header(h), normalise_header(h)) for h in rows[0][1]]
    if "work_email" not in header and "employee_id" not in header:
        raise InvalidInput(
            N_("the CSV needs a work_email (or employee_id) column for the leaver"), field="file"
        )
    if order is None and "leaving_date" in header:
        # One unambiguous date in the file (13/04/2027) tells how all of them are written.
        column = header.index("leaving_date")
        hints = {slashed_order_hint(v[column]) for _, v in rows[1:] if column < len(v)} - {None}
        order = hints.pop() if len(hints) == 1 else None
    people = await employees_by_email()
    # Listed with the other line errors rather than as one 409 once the rest of the file is valid.
    live = {
        r["employee"]: r["id"]
        for r in await Handover.select(Handover.id, Handover.employee).where(
            Handover.state.is_in(list(LIVE))
        )
    }
    by_id = {r["id"]: r for r in people.values()}
    errors: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    seen: set[int] = set()
    default_successor = default_successor_email.strip().lower()
    for line, values in rows[1:]:
        row = dict(zip(header, values, strict=False))
        if not any(v.strip() for v in values):
            continue
        try:
            if row.get("employee_id", "").strip():
                leaver = by_id.get(_whole(row["employee_id"], "employee_id"))
            else:
                leaver = people.get(row.get("work_email", "").strip().lower())
            if leaver is None:
                raise InvalidInput(N_("no such employee"), field="work_email")
            if leaver["id"] in seen:
                raise InvalidInput(N_("this leaver is listed twice"), field="work_email")
            seen.add(leaver["id"])
            if leaver["id"] in live:
                raise InvalidInput(
                    N_("this leaver already has handover %(value)s in progress"),
                    field="work_email",
                    params={"value": live[leaver["id"]]},
                )
            if row.get("successor_id", "").strip():
                successor = by_id.get(_whole(row["successor_id"], "successor_id"))
            else:
                successor = people.get(
                    (row.get("successor_email", "").strip() or default_successor).lower()
                )
            if successor is None:
                raise InvalidInput(
                    N_("no successor: name one in successor_email or send default_successor_email"),
                    field="successor_email",
                )
            date = (
                parse_date(row["leaving_date"], order)
                if row.get("leaving_date", "").strip()
                else leaving_date or leaver["leaving_date"]
            )
            if date is None:
                raise InvalidInput(N_("no leaving date for this leaver"), field="leaving_date")
            await check_successor(successor["id"], leaver["id"], "successor_email")
            plans.append(
                {
                    "employee_id": leaver["id"],
                    "successor_id": successor["id"],
                    "leaving_date": as_date(date),
                    "emails": [row["personal_email"]] if row.get("personal_email") else [],
                    "phones": [row["phone"]] if row.get("phone") else [],
                    "notes": row.get("notes", ""),
                    "line": line,
                }
            )
        except (InvalidInput, ValueError) as exc:
            errors.append(line_error(line, getattr(exc, "extra", {}).get("field"), exc))
    digest = plan_digest(plans, open_now)
    if dry_run and not plans:
        return {"rows": [], "errors": errors, "plan": digest, "opened": open_now}
    if errors and not dry_run:
        raise InvalidInput(
            N_("%(errors)s row(s) have errors; nothing was started"),
            field="file",
            errors=[
                {"field": e["field"] or "file", "message": f"line {e['line']}: {e['message']}"}
                for e in errors[:100]
            ],
            parts={
                i: InvalidValue(
                    N_("line %(line)s: %(detail)s"), params={"line": e["line"], "detail": e["said"]}
                )
                for i, e in enumerate(errors[:100])
                if callable(getattr(e["said"], "said", None))
            },
            params={"errors": len(errors)},
        )
    if not plans:
        raise InvalidInput(N_("the file lists no leavers"), field="file")
    if expect_plan is not None and expect_plan != digest:
        raise Conflict(
            N_("the register or the file changed since the preview; preview the file again"),
            field="file",
        )
    ids: list[int] = []
    shown: list[dict[str, Any]] = []
    templates: dict[str, list[dict[str, Any]]] = {}
    async with write_transaction():
        for plan in plans:
            try:
                ids.append(
                    await _start(
                        actor=actor,
                        settings=settings,
                        employee_id=plan["employee_id"],
                        successor_id=plan["successor_id"],
                        leaving_date=plan["leaving_date"],
                        emails=plan["emails"],
                        phones=plan["phones"],
                        notes=plan["notes"],
                        open_now=open_now,
                        templates=templates,
                    )
                )
            except InvalidInput as exc:
                raise InvalidInput(
                    N_("line %(line)s: %(detail)s"),
                    field="file",
                    params={"line": plan["line"], "detail": exc},
                ) from exc
            except Conflict as exc:
                raise Conflict(
                    N_("line %(line)s: %(detail)s"),
                    field="file",
                    params={"line": plan["line"], "detail": exc},
                ) from exc
            if dry_run:
                items = await handover_items(ids[-1])
                shown.append(
                    {
                        **{k: plan[k] for k in ("line", "employee_id", "successor_id")},
                        "leaving_date": plan["leaving_date"],
                        "items": [{"title": i["title"], "team": i["owner_role"]} for i in items],
                    }
                )
        if dry_run:
            raise _Previewed({"rows": shown, "errors": errors, "plan": digest, "opened": open_now})
    return {"started": len(ids), "handover_ids": ids, "opened": open_now}
