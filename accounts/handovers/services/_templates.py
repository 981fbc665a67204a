"""Checklist templates: items every handover of a department gets, beyond the footprint's."""

from __future__ import annotations

from typing import Any

from accounts.handovers.enums import (
    HandoverTeam,
)
from accounts.handovers.tables import (
    HandoverTemplate,
)
from register import audit
from register.actor import Actor
from register.db import now, write_transaction
from register.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    StaleVersion,
)
from register.i18n import N_
from register.queries import expect_version


def template_out(row: dict[str, Any]) -> dict[str, Any]:
    """A checklist template as the API shows it."""
    return {
        k: row[k]
        for k in (
            "id",
            "department",
            "title",
            "description",
            "owner_role",
            "day_offset",
            "active",
            "position",
            "version",
            "created_at",
            "updated_at",
        )
    }


async def list_templates(*, department: str | None = None) -> list[dict[str, Any]]:
    """Checklist templates, by department, then in each department's order."""
    query = HandoverTemplate.select()
    if department is not None:
        query = query.where(HandoverTemplate.department == department.strip())
    rows = (
        await query.order_by(HandoverTemplate.department)
        .order_by(HandoverTemplate.position)
        .order_by(HandoverTemplate.id)
    )
    return [template_out(r) for r in rows]


async def template_row(template_id: int) -> dict[str, Any]:
    """One checklist template as stored (404 if there is none)."""
    row = await HandoverTemplate.select().where(HandoverTemplate.id == template_id).first()
    if not row:
        raise NotFound(
            N_("template %(template_id)s does not exist"), params={"template_id": template_id}
        )
    return row


def _clean_template(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key in ("department", "title", "description"):
        if key in out and isinstance(out[key], str):
            out[key] = out[key].strip()
            if "\x00" in out[key]:
                raise InvalidInput(
                    N_("%(key)s contains a NUL character"), field=key, params={"key": key}
                )
    if "title" in out and not out["title"]:
        raise InvalidInput(N_("title must not be blank"), field="title")
    if "owner_role" in out:
        out["owner_role"] = HandoverTeam(out["owner_role"]).value
    if "day_offset" in out and not -365 <= int(out["day_offset"]) <= 365:
        raise InvalidInput(
            N_("day_offset must be within a year of the leaving date"), field="day_offset"
        )
    if out.get("position") is not None and not 0 <= int(out["position"]) <= 100000:
        raise InvalidInput(N_("position must be from 0 to 100000"), field="position")
    return out


async def _after_the_rest(department: str) -> int:
    """The position after every item of a department: where a new one goes unless told."""
    last = (
        await HandoverTemplate.select(HandoverTemplate.position)
        .where(HandoverTemplate.department == department)
        .order_by(HandoverTemplate.position, ascending=False)
        .first()
    )
    return int(last["position"]) + 1 if last else 0


async def create_template(*, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Add a checklist item to every future handover of a department (blank: every department)."""
    values = _clean_template(data)
    stamp = now()
    async with write_transaction():
        if values.get("position") is None:
            values["position"] = await _after_the_rest(values.get("department", ""))
        rows = await HandoverTemplate.insert(
            HandoverTemplate(**values, version=1, created_at=stamp, updated_at=stamp)
        )
        template_id = rows[0]["id"]
        await audit.record(
            actor,
            "handover_template.create",
            "handover_template",
            template_id,
            audit.diff(None, values),
        )
    return template_out(await template_row(template_id))


async def update_template(
    *, actor: Actor, template_id: int, version: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change a template (handovers already started keep their items)."""
    async with write_transaction():
        before = template_out(await template_row(template_id))
        expect_version(f"template {template_id}", before["version"], version)
        cleaned = {k: v for k, v in _clean_template(changes).items() if before.get(k) != v}
        if not cleaned:
            return before
        updated = (
            await HandoverTemplate.update({**cleaned, "version": version + 1, "updated_at": now()})
            .where((HandoverTemplate.id == template_id) & (HandoverTemplate.version == version))
            .returning(HandoverTemplate.id)
        )
        if not updated:
            raise StaleVersion(
                N_("template %(template_id)s has changed; read it again"),
                params={"template_id": template_id},
            )
        await audit.record(
            actor,
            "handover_template.update",
            "handover_template",
            template_id,
            audit.diff(before, cleaned),
        )
    return template_out(await template_row(template_id))


async def move_template(
    *, actor: Actor, template_id: int, version: int, up: bool
) -> list[dict[str, Any]]:
    """Move an item one place up or down in its department's order (the department renumbered)."""
    async with write_transaction():
        before = template_out(await template_row(template_id))
        expect_version(f"template {template_id}", before["version"], version)
        items = await list_templates(department=before["department"])
        at = next(n for n, t in enumerate(items) if t["id"] == template_id)
        to = at - 1 if up else at + 1
        if not 0 <= to < len(items):
            raise Conflict(
                N_("template %(template_id)s is already the first")
                if up
                else N_("template %(template_id)s is already the last"),
                field="position",
                params={"template_id": template_id},
            )
        items[at], items[to] = items[to], items[at]
        for position, item in enumerate(items):
            if item["position"] == position:
                continue
            moved = (
                await HandoverTemplate.update(
                    {
                        HandoverTemplate.position: position,
                        HandoverTemplate.version: item["version"] + 1,
                        HandoverTemplate.updated_at: now(),
                    }
                )
                .where(
                    (HandoverTemplate.id == item["id"])
                    & (HandoverTemplate.version == item["version"])
                )
                .returning(HandoverTemplate.id)
            )
            if not moved:
                raise StaleVersion(
                    N_("template %(id)s has changed; read it again"), params={"id": item["id"]}
                )
            await audit.record(
                actor,
                "handover_template.update",
                "handover_template",
                item["id"],
                {"position": [item["position"], position]},
            )
    return await list_templates(department=before["department"])
