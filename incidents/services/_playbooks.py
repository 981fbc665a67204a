"""Playbooks: the shipped TOML files, their validation, and versions in the database."""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from incidents.enums import Category, OwnerRole, Phase, Severity, TaskKind, parse_offset
from incidents.tables import Playbook
from register import audit
from register.actor import Actor
from register.db import fetch, write_transaction
from register.enums import Role
from register.errors import AlreadyExists, InvalidInput, InvalidValue, NotFound, StaleVersion
from register.i18n import N_, labelled
from register.queries import unique_or_409

PLAYBOOK_DIR = Path(__file__).parent.parent / "playbooks"
MAX_STEPS = 40
E = TypeVar("E", bound=StrEnum)
STEP_KEYS = {"key", "title", "guidance", "owner", "phase", "mandatory", "requires", "kind", "due"}
PLAYBOOK_COLUMNS = (
    '"id", "category", "version", "title", "summary", "escalate_to", "needs_account", "steps", '
    '"current", "source", "created_by", "created_at"'
)


def _text(value: Any, field: str, limit: int, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(
            N_("%(field)s must be non-blank text") if required else N_("%(field)s must be text"),
            field=field,
            params={"field": field},
        )
    if len(value) > limit or "\x00" in value:
        raise InvalidInput(
            N_("%(field)s is longer than %(limit)s characters or holds NUL"),
            field=field,
            params={"field": field, "limit": limit},
        )
    return value.strip()


def _choice(kind: type[E], value: Any, where: str) -> E:
    """A value of one of the playbook's enums, or 422 saying which step holds the unknown value."""
    try:
        return kind(value)
    except ValueError as exc:
        # The words of Python's own refusal ("'x' is not a valid OwnerRole"), kept for the API;
        # one message per kind, so a page can say what the value should have been.
        message = (
            N_("%(where)s: %(value)r is not a valid OwnerRole")
            if kind is OwnerRole
            else N_("%(where)s: %(value)r is not a valid Phase")
            if kind is Phase
            else N_("%(where)s: %(value)r is not a valid TaskKind")
            if kind is TaskKind
            else N_("%(where)s: %(value)r is not a valid Role")
        )
        raise InvalidInput(message, field=where, params={"where": where, "value": value}) from exc


def validate_playbook(category: Category, data: dict[str, Any]) -> dict[str, Any]:
    """A playbook as stored: every step checked, prerequisites known and acyclic."""
    steps_in = data.get("steps")
    if not isinstance(steps_in, list) or not steps_in:
        raise InvalidInput(N_("a playbook needs at least one step"), field="steps")
    if len(steps_in) > MAX_STEPS:
        raise InvalidInput(
            N_("a playbook has at most %(count)s steps"), field="steps", params={"count": MAX_STEPS}
        )
    steps: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, raw in enumerate(steps_in):
        where = f"steps[{n}]"
        if not isinstance(raw, dict):
            raise InvalidInput(
                N_("%(where)s must be an object"), field=where, params={"where": where}
            )
        unknown = set(raw) - STEP_KEYS
        if unknown:
            raise InvalidInput(
                N_("%(where)s has unknown fields: %(fields)s"),
                field=where,
                params={"where": where, "fields": ", ".join(sorted(unknown))},
            )
        key = _text(raw.get("key"), f"{where}.key", 60)
        if not key.replace("_", "").isalnum() or not key.isascii():
            raise InvalidInput(
                N_("%(where)s.key: letters, digits and _ only"),
                field=f"{where}.key",
                params={"where": where},
            )
        if key in seen:
            raise InvalidInput(
                N_("%(where)s.key '%(key)s' is used twice"),
                field=f"{where}.key",
                params={"where": where, "key": key},
            )
        owner = _choice(OwnerRole, raw.get("owner"), where)
        phase = _choice(Phase, raw.get("phase"), where)
        kind = _choice(TaskKind, raw.get("kind", TaskKind.step.value), where)
        requires = raw.get("requires", [])
        if not isinstance(requires, list) or any(r not in seen for r in requires):
            raise InvalidInput(
                N_("%(where)s.requires must name earlier steps"),
                field=f"{where}.requires",
                params={"where": where},
            )
        mandatory = raw.get("mandatory", False)
        if not isinstance(mandatory, bool):
            raise InvalidInput(
                N_("%(where)s.mandatory must be true or false"),
                field=f"{where}.mandatory",
                params={"where": where},
            )
        due_in = raw.get("due") or {}
        if not isinstance(due_in, dict) or set(due_in) - set(Severity):
            raise InvalidInput(
                N_("%(where)s.due maps SEV1..SEV4 to a duration"),
                field=f"{where}.due",
                params={"where": where},
            )
        due: dict[str, str] = {}
        for severity, text in due_in.items():
            try:
                parse_offset(str(text))
            except InvalidValue as exc:
                raise InvalidInput(
                    N_("%(where)s.due.%(severity)s: '%(value)s' is out of range")
                    if "out of range" in exc.message
                    else N_(
                        "%(where)s.due.%(severity)s: '%(value)s' is not a duration such as 15m, 4h or 3d"
                    ),
                    field=f"{where}.due",
                    params={"where": where, "severity": severity, **exc.params},
                ) from exc
            due[severity] = str(text).strip().lower()
        steps.append(
            {
                "key": key,
                "title": _text(raw.get("title"), f"{where}.title", 300),
                "guidance": _text(raw.get("guidance", ""), f"{where}.guidance", 5000, False),
                "owner": owner.value,
                "phase": phase.value,
                "mandatory": mandatory,
                "kind": kind.value,
                "requires": list(requires),
                "due": due,
            }
        )
        seen.add(key)
    kinds = {s["kind"] for s in steps}
    if TaskKind.disciplinary.value in kinds and TaskKind.legal_review.value not in kinds:
        raise InvalidInput(
            N_("a playbook with a disciplinary step needs a legal_review step before it"),
            field="steps",
        )
    escalate = data.get("escalate_to", [])
    if not isinstance(escalate, list | tuple | set):
        raise InvalidInput(N_("escalate_to must be a list of roles"), field="escalate_to")
    escalate = sorted({_choice(Role, r, "escalate_to").value for r in escalate})
    return {
        "category": category.value,
        "title": _text(data.get("title"), "title", 200),
        "summary": _text(data.get("summary", ""), "summary", 5000, False),
        "escalate_to": escalate,
        "needs_account": bool(data.get("needs_account", False)),
        "steps": steps,
    }


@cache
def shipped_playbook(category: Category) -> dict[str, Any]:
    """The category's playbook as shipped in incidents/playbooks/<category>.toml."""
    with open(PLAYBOOK_DIR / f"{category.value}.toml", "rb") as fh:
        data = tomllib.load(fh)
    if data.get("category") != category.value:
        raise ValueError(f"{category.value}.toml names category {data.get('category')!r}")
    return validate_playbook(category, data)


def _decode(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def playbook_out(row: dict[str, Any]) -> dict[str, Any]:
    """A playbook version as the API shows it."""
    return {
        "id": row["id"],
        "category": row["category"],
        "version": row["version"],
        "title": row["title"],
        "summary": row["summary"],
        "escalate_to": _decode(row["escalate_to"]),
        "needs_account": bool(row["needs_account"]),
        "steps": _decode(row["steps"]),
        "current": bool(row["current"]),
        "source": row["source"],
        "created_by": row["created_by"],
        "created_at": row["created_at"],
    }


async def _insert(
    category: Category, body: dict[str, Any], version: int, source: str, actor: Actor
) -> None:
    await Playbook.insert(
        Playbook(
            category=category.value,
            version=version,
            title=body["title"],
            summary=body["summary"],
            escalate_to=body["escalate_to"],
            needs_account=body["needs_account"],
            steps=body["steps"],
            current=True,
            source=source,
            created_by=actor.user_id,
            created_at=dt.datetime.now(dt.UTC),
        )
    )


async def current_playbook(category: Category) -> dict[str, Any]:
    """The version new incidents of a category get; the shipped file is loaded on first use."""
    rows = await fetch(
        f'SELECT {PLAYBOOK_COLUMNS} FROM "playbook" WHERE "category" = $1 AND "current" = $2',
        category.value,
        True,
    )
    if rows:
        return playbook_out(rows[0])
    await load_shipped(category)
    return await current_playbook(category)


async def load_shipped(category: Category, actor: Actor | None = None) -> bool:
    """Load the shipped file as version 1 if the category has none yet; whether it did."""
    actor = actor or Actor.system("playbooks")
    body = shipped_playbook(category)
    try:
        async with write_transaction():
            if await Playbook.exists().where(Playbook.category == category.value):
                return False
            async with unique_or_409(N_("loaded at the same moment"), "category"):
                await _insert(category, body, 1, "file", actor)
            await audit.record(
                actor, "playbook.load", "playbook", f"{category.value}/1", {"version": [None, 1]}
            )
    except AlreadyExists:
        # Another process loaded it first: the unique (category, version) index said so.
        return False
    return True


async def load_all(actor: Actor | None = None) -> list[str]:
    """Load every category's shipped playbook that is not in the database yet."""
    return [c.value for c in Category if await load_shipped(c, actor)]


async def list_playbooks() -> list[dict[str, Any]]:
    """The current version of every category."""
    return [await current_playbook(c) for c in Category]


async def get_playbook(*, category: Category, version: int | None = None) -> dict[str, Any]:
    """One version of a category's playbook (the current one by default)."""
    if version is None:
        return await current_playbook(category)
    await current_playbook(category)
    rows = await fetch(
        f'SELECT {PLAYBOOK_COLUMNS} FROM "playbook" WHERE "category" = $1 AND "version" = $2',
        category.value,
        version,
    )
    if not rows:
        raise NotFound(
            N_("playbook %(category)s has no version %(version)s"),
            params={"category": category.value, "version": version},
        )
    return playbook_out(rows[0])


async def playbook_by_id(playbook_id: int) -> dict[str, Any]:
    """A playbook version by its row id."""
    rows = await fetch(f'SELECT {PLAYBOOK_COLUMNS} FROM "playbook" WHERE "id" = $1', playbook_id)
    if not rows:
        raise NotFound(N_("playbook %(id)s does not exist"), params={"id": playbook_id})
    return playbook_out(rows[0])


async def edit_playbook(
    *, actor: Actor, category: Category, version: int, data: dict[str, Any]
) -> dict[str, Any]:
    """An admin's edit: a new version becomes current; incidents keep the version they started with."""
    body = validate_playbook(category, {**data, "category": category.value})
    current = await current_playbook(category)
    async with write_transaction():
        if current["version"] != version:
            raise StaleVersion(
                N_("playbook %(category)s is at version %(current)s, not %(version)s"),
                current_version=current["version"],
                params={
                    "category": category.value,
                    "current": current["version"],
                    "version": version,
                },
            )
        retired = (
            await Playbook.update({Playbook.current: False})
            .where(
                (Playbook.category == category.value)
                & (Playbook.version == version)
                & (Playbook.current == True)  # noqa: E712
            )
            .returning(Playbook.id)
        )
        if not retired:
            raise StaleVersion(
                N_("playbook %(category)s changed at the same moment; read it again"),
                params={"category": category.value},
            )
        async with unique_or_409(
            N_("playbook %(category)s changed at the same moment"),
            "version",
            params={"category": category.value},
        ):
            await _insert(category, body, version + 1, "edit", actor)
        await audit.record(
            actor,
            "playbook.edit",
            "playbook",
            f"{category.value}/{version + 1}",
            {
                "version": [version, version + 1],
                "steps": [len(current["steps"]), len(body["steps"])],
            },
        )
    return await current_playbook(category)


# The playbook as TOML text, for admins who edit it as the shipped files are written.

_STEP_ITEM = re.compile(r"^steps\[(\d+)\](?:\.(\w+))?")
_TOML_LINE = re.compile(r"at line (\d+)")
# tomllib says what is wrong in English only: its reasons (the start of each), in words a page
# can translate. One it does not list is shown as tomllib said it.
TOML_REASONS = (
    ("Cannot declare", N_("a key or table is written twice")),
    ("Cannot mutate", N_("a table is changed after it was written whole")),
    ("Cannot overwrite", N_("a value is written twice")),
    ("Cannot redefine", N_("a table is written twice")),
    ("Duplicate inline table key", N_("a key is written twice in one inline table")),
    ("Escaped character", N_("an escaped character is not a valid character")),
    ("Expected '=' after a key", N_("a key must be followed by '='")),
    ("Expected ']' at the end", N_("a table's name must end with ']'")),
    ("Expected ']]' at the end", N_("an array of tables must end with ']]'")),
    ("Expected", N_("something is missing here")),
    ("Found invalid character", N_("a character is not allowed here")),
    ("Illegal character", N_("a character is not allowed here")),
    ("Invalid date or datetime", N_("a date or time is not valid")),
    ("Invalid hex value", N_("an escaped character is not valid hexadecimal")),
    ("Invalid initial character for a key", N_("a key starts with a character not allowed there")),
    ("Invalid statement", N_("this line is not a key = value, a [table] or a comment")),
    ("Invalid value", N_("a value is not valid: text needs quotes, lists need [ ]")),
    ("Unclosed array", N_("a list is not closed with ']'")),
    ("Unclosed inline table", N_("an inline table is not closed with '}'")),
    ("Unescaped '\\'", N_("a backslash must be written as \\\\ in text")),
    ("Unterminated string", N_("a text is not closed with its quote")),
)


def toml_reason(exc: Exception) -> Any:
    """tomllib's reason as it said it (the API), labelled for a page to say it translated."""
    return labelled(str(exc), TOML_REASONS)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    # A JSON string is a TOML basic string (both escape quotes, backslashes and controls).
    return json.dumps(str(value), ensure_ascii=False)


def playbook_toml(playbook: dict[str, Any]) -> str:
    """A playbook version written as TOML, in the shipped files' layout."""
    lines = [f"{k} = {_toml_value(playbook[k])}" for k in ("category", "title", "summary")]
    lines += [
        f"escalate_to = {_toml_value(playbook['escalate_to'])}",
        f"needs_account = {_toml_value(playbook['needs_account'])}",
    ]
    for step in playbook["steps"]:
        lines += ["", "[[steps]]"]
        for key in ("key", "title", "guidance", "owner", "phase", "mandatory"):
            lines.append(f"{key} = {_toml_value(step[key])}")
        if step.get("requires"):
            lines.append(f"requires = {_toml_value(step['requires'])}")
        if step.get("kind", TaskKind.step.value) != TaskKind.step.value:
            lines.append(f"kind = {_toml_value(step['kind'])}")
        if step.get("due"):
            lines.append(f"due = {_toml_value(step['due'])}")
    return "\n".join(lines) + "\n"


def _line_of(text: str, field: str) -> int | None:
    """The line of the TOML text a validation error's field names (1-based), if it can be found."""
    lines = text.splitlines()
    match = _STEP_ITEM.match(field)
    if match:
        wanted, key = int(match.group(1)), match.group(2)
        seen = -1
        for n, line in enumerate(lines):
            if line.strip() == "[[steps]]":
                seen += 1
                if seen == wanted:
                    if key:
                        for m, inner in enumerate(lines[n + 1 :], start=n + 1):
                            if inner.strip().startswith("[["):
                                break
                            if inner.split("=", 1)[0].strip() == key:
                                return m + 1
                    return n + 1
        return None
    top = field.split(".", 1)[0]
    for n, line in enumerate(lines):
        if line.strip().startswith("[["):
            break
        if line.split("=", 1)[0].strip() == top:
            return n + 1
    return None


def _line_with(text: str, start: int, value: str) -> int | None:
    """The first line of a step (from its [[steps]] line) that holds a value."""
    lines = text.splitlines()
    for n in range(start, len(lines)):
        if lines[n].strip().startswith("[["):
            break
        if value in lines[n]:
            return n + 1
    return None


def parse_playbook_toml(category: Category, text: str) -> dict[str, Any]:
    """A playbook's TOML text read and validated; errors say the line they are on."""
    if len(text) > 200_000 or "\x00" in text:
        raise InvalidInput(N_("the playbook text is too long or holds NUL"), field="toml")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        raise InvalidInput(
            N_("the text is not valid TOML: %(reason)s"),
            field="toml",
            # tomllib says what is wrong only in English; the page shows the line in its own words.
            params={"reason": toml_reason(exc)},
            line=int(found.group(1)) if found else None,
        ) from exc
    if data.get("category", category.value) != category.value:
        raise InvalidInput(
            N_("this is the %(category)s playbook, not %(other)s"),
            field="toml",
            params={"category": category.value, "other": data.get("category")},
            line=_line_of(text, "category"),
        )
    data.pop("category", None)
    try:
        return validate_playbook(category, data)
    except InvalidInput as exc:
        field = str(exc.extra.get("field") or "")
        line = _line_of(text, field)
        named = re.search(r"'([^']*)'", exc.detail)
        if line and named and _STEP_ITEM.fullmatch(field):
            # "steps[1]: 'x' is not a valid OwnerRole": the line in that step that says x.
            line = _line_with(text, line, f'"{named.group(1)}"') or line
        # The same refusal (its catalogue message and params, for a page to say it in the
        # reader's language), now of the text field, with the line it is on.
        exc.extra.update(
            field="toml",
            errors=[{"field": "toml", "message": exc.detail}],
            line=line,
            item=field or None,
        )
        raise


async def edit_playbook_toml(
    *, actor: Actor, category: Category, version: int, text: str
) -> dict[str, Any]:
    """An admin's edit written as TOML: validated with its lines, then stored as a new version."""
    body = parse_playbook_toml(category, text)
    return await edit_playbook(actor=actor, category=category, version=version, data=body)


async def playbook_versions(category: Category) -> list[dict[str, Any]]:
    """Every stored version of a category's playbook, newest first."""
    await current_playbook(category)
    rows = await fetch(
        f'SELECT {PLAYBOOK_COLUMNS} FROM "playbook" WHERE "category" = $1 ORDER BY "version" DESC',
        category.value,
    )
    return [playbook_out(r) for r in rows]


def playbook_changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed from one version to another: fields of the playbook, steps added, removed or changed."""
    changes: list[dict[str, Any]] = []
    for key in ("title", "summary", "escalate_to", "needs_account"):
        if old[key] != new[key]:
            changes.append({"what": "playbook", "key": key, "old": old[key], "new": new[key]})
    before = {s["key"]: s for s in old["steps"]}
    after = {s["key"]: s for s in new["steps"]}
    for key, step in after.items():
        if key not in before:
            changes.append({"what": "added", "key": key, "title": step["title"]})
            continue
        for field in sorted(STEP_KEYS - {"key"}):
            if before[key].get(field) != step.get(field):
                changes.append(
                    {
                        "what": "changed",
                        "key": key,
                        "title": step["title"],
                        "field": field,
                        "old": before[key].get(field),
                        "new": step.get(field),
                    }
                )
    for key, step in before.items():
        if key not in after:
            changes.append({"what": "removed", "key": key, "title": step["title"]})
    if [k for k in before if k in after] != [k for k in after if k in before]:
        changes.append({"what": "order"})
    return changes
