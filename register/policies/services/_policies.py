"""Policies and their versions: drafts, publishing, acknowledgements, coverage and review."""

from __future__ import annotations

import datetime as dt
from typing import Any

from msgspec import UNSET

from register import audit
from register.access import allowed, refuse
from register.actor import Actor
from register.db import now, write_transaction
from register.enums import Role
from register.errors import Conflict, InvalidInput, NotFound
from register.i18n import N_
from register.policies.enums import PolicyKind, VersionState
from register.policies.services._text import add_months
from register.policies.tables import Policy, PolicyAcknowledgement, PolicyVersion
from register.queries import MAX_LIMIT, expect_version, unique_or_409
from register.services import users_by_id
from register.staff.enums import EmployeeStatus
from register.staff.services import employee_names, get_employee, list_employees

# DOMAIN.md: review the policies at least every six months.
REVIEW_MONTHS = 6
# The owner is reminded this many days before the review date.
REVIEW_NOTICE_DAYS = 14
# Someone who has not acknowledged is reminded this often.
REMIND_EVERY_DAYS = 7
KEEPERS = frozenset({Role.admin, Role.hr})
# Who asks a late joiner to acknowledge: the worker's clock, not a person.
CLOCK = Actor.system("policy clock")
POLICY_FIELDS = ("title", "kind", "owner_id", "department")
LENGTHS = {"title": 200, "department": 120}
MAX_BODY = 100_000


def _text(values: dict[str, Any]) -> None:
    for field, limit in LENGTHS.items():
        if field in values:
            values[field] = (values[field] or "").strip()
            if len(values[field]) > limit or "\x00" in values[field]:
                raise InvalidInput(
                    N_("%(field)s must be at most %(limit)s characters of text"),
                    field=field,
                    params={"field": field, "limit": limit},
                )
    if "title" in values and not values["title"]:
        raise InvalidInput(N_("title must not be blank"), field="title")
    if "kind" in values:
        try:
            values["kind"] = PolicyKind(values["kind"]).value
        except ValueError as exc:
            raise InvalidInput(
                N_("kind must be one of: %(value)s"),
                field="kind",
                params={"value": ", ".join(PolicyKind)},
            ) from exc


def check_dates(effective_on: dt.date, review_by: dt.date) -> None:
    """The next review falls on or after the effective date, and at most six months on."""
    if review_by < effective_on:
        raise InvalidInput(N_("review_by is before effective_on"), field="review_by")
    latest = add_months(effective_on, REVIEW_MONTHS)
    if review_by > latest:
        raise InvalidInput(
            N_("review_by must be at most six months after effective_on (by %(latest)s)"),
            field="review_by",
            params={"latest": latest.isoformat()},
        )


def _body(body: str) -> str:
    if not body or not body.strip():
        raise InvalidInput(N_("body must not be blank"), field="body")
    if len(body) > MAX_BODY or "\x00" in body:
        raise InvalidInput(
            N_("body must be at most %(limit)s characters of text"),
            field="body",
            params={"limit": MAX_BODY},
        )
    return body


async def _check_owner(owner_id: int | None) -> None:
    if owner_id is None:
        raise InvalidInput(N_("a policy needs an owner"), field="owner_id")
    owner = (await users_by_id([owner_id])).get(owner_id)
    if owner is None or not owner["active"]:
        raise InvalidInput(
            N_("user %(user_id)s does not exist or is not active"),
            field="owner_id",
            params={"user_id": owner_id},
        )
    if owner["role"] in (Role.staff.value, Role.auditor.value):
        # Auditors change nothing, and staff keep no policy: the owner must be able to publish.
        raise InvalidInput(
            N_("the owner must be a user who may publish policies (not staff or an auditor)"),
            field="owner_id",
        )


def policy_out(row: dict[str, Any]) -> dict[str, Any]:
    """A policy row as the API shows it."""
    return {
        "id": row["id"],
        "title": row["title"],
        "kind": row["kind"],
        "owner_id": row["owner"],
        "department": row["department"],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def version_out(row: dict[str, Any]) -> dict[str, Any]:
    """A policy version row as the API shows it."""
    return {
        "id": row["id"],
        "policy_id": row["policy"],
        "number": row["number"],
        "body": row["body"],
        "state": row["state"],
        "effective_on": row["effective_on"],
        "review_by": row["review_by"],
        "published_at": row["published_at"],
        "department": row["department"],
        "version": row["version"],
    }


async def _policy_row(policy_id: int) -> dict[str, Any]:
    row = await Policy.select().where(Policy.id == policy_id).first()
    if row is None:
        raise NotFound(N_("policy %(policy_id)s does not exist"), params={"policy_id": policy_id})
    return row


async def get_policy(*, policy_id: int) -> dict[str, Any]:
    """One policy with its versions (newest first) and its current published one."""
    row = policy_out(await _policy_row(policy_id))
    versions = (
        await PolicyVersion.select()
        .where(PolicyVersion.policy == policy_id)
        .order_by(PolicyVersion.number, ascending=False)
    )
    row["versions"] = [version_out(v) for v in versions]
    row["current"] = next((v for v in row["versions"] if v["state"] == "published"), None)
    row["draft"] = next((v for v in row["versions"] if v["state"] == "draft"), None)
    return row


async def get_version(*, version_id: int) -> dict[str, Any]:
    """One version of a policy, or NotFound."""
    row = await PolicyVersion.select().where(PolicyVersion.id == version_id).first()
    if row is None:
        raise NotFound(
            N_("policy version %(version_id)s does not exist"), params={"version_id": version_id}
        )
    return version_out(row)


async def list_policies() -> list[dict[str, Any]]:
    """Every policy by title, each with its current and draft version."""
    rows = await Policy.select().order_by(Policy.title).order_by(Policy.id)
    versions = await PolicyVersion.select().where(
        PolicyVersion.state.is_in([VersionState.published.value, VersionState.draft.value])
    )
    by_policy: dict[int, dict[str, Any]] = {}
    for v in versions:
        by_policy.setdefault(v["policy"], {})[v["state"]] = version_out(v)
    out = []
    for r in rows:
        item = policy_out(r)
        item["current"] = by_policy.get(r["id"], {}).get("published")
        item["draft"] = by_policy.get(r["id"], {}).get("draft")
        out.append(item)
    return out


def keeps(actor: Actor, policy: dict[str, Any]) -> bool:
    """Whether this reader may edit and publish the policy: admins, HR, and its owner."""
    return actor.role in KEEPERS or (
        actor.user_id is not None and actor.user_id == policy.get("owner_id", policy.get("owner"))
    )


async def check_keeper(*, actor: Actor, policy_id: int) -> None:
    """Refuse (audited) anyone but admins, HR and the policy's owner."""
    row = await _policy_row(policy_id)
    if not keeps(actor, row):
        raise await refuse(
            actor,
            "policy.write",
            "policy",
            policy_id,
            N_("only admins, HR and the policy's owner may change it"),
        )


async def create_policy(*, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """A new policy with its first draft; admins and HR create policies."""
    if actor.role not in KEEPERS:
        raise await refuse(
            actor, "policy.write", "policy", "", N_("only admins and HR create policies")
        )
    values = {k: data.get(k) for k in POLICY_FIELDS}
    values["department"] = values["department"] or ""
    _text(values)
    await _check_owner(values["owner_id"])
    body = _body(data["body"])
    check_dates(data["effective_on"], data["review_by"])
    stamp = now()
    async with write_transaction():
        rows = await Policy.insert(
            Policy(
                title=values["title"],
                kind=values["kind"],
                owner=values["owner_id"],
                department=values["department"],
                version=1,
                created_at=stamp,
                updated_at=stamp,
            )
        )
        policy_id = rows[0]["id"]
        await PolicyVersion.insert(
            PolicyVersion(
                policy=policy_id,
                number=1,
                body=body,
                state=VersionState.draft.value,
                effective_on=data["effective_on"],
                review_by=data["review_by"],
                version=1,
                created_at=stamp,
                updated_at=stamp,
            )
        )
        await audit.record(
            actor,
            "policy.create",
            "policy",
            policy_id,
            audit.diff(
                None,
                {
                    **values,
                    "effective_on": data["effective_on"].isoformat(),
                    "review_by": data["review_by"].isoformat(),
                },
            ),
        )
    return await get_policy(policy_id=policy_id)


async def update_policy(
    *, actor: Actor, policy_id: int, version: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change a policy's title, kind, owner or department, refusing a stale version."""
    await check_keeper(actor=actor, policy_id=policy_id)
    changes = {k: v for k, v in changes.items() if v is not UNSET and k in POLICY_FIELDS}
    if "department" in changes:
        changes["department"] = changes["department"] or ""
    _text(changes)
    if "owner_id" in changes:
        await _check_owner(changes["owner_id"])
    async with write_transaction():
        before = policy_out(await _policy_row(policy_id))
        expect_version(f"policy {policy_id}", before["version"], version)
        changed = {k: v for k, v in changes.items() if before[k] != v}
        if changed:
            columns = {("owner" if k == "owner_id" else k): v for k, v in changed.items()}
            await Policy.update(
                {**columns, "version": version + 1, "updated_at": now()}  # type: ignore[dict-item]
            ).where(Policy.id == policy_id)
            await audit.record(
                actor, "policy.update", "policy", policy_id, audit.diff(before, changed)
            )
    return await get_policy(policy_id=policy_id)


async def save_draft(
    *, actor: Actor, policy_id: int, data: dict[str, Any], version: int | None = None
) -> dict[str, Any]:
    """Write the policy's draft: a new one after the last version, or the open draft changed."""
    await check_keeper(actor=actor, policy_id=policy_id)
    body = _body(data["body"])
    check_dates(data["effective_on"], data["review_by"])
    stamp = now()
    async with write_transaction():
        current = await get_policy(policy_id=policy_id)
        draft = current["draft"]
        values = {
            "body": body,
            "effective_on": data["effective_on"],
            "review_by": data["review_by"],
        }
        if draft is None:
            number = max((v["number"] for v in current["versions"]), default=0) + 1
            async with unique_or_409(
                N_("another draft of this policy was started at the same time"), "policy"
            ):
                rows = await PolicyVersion.insert(
                    PolicyVersion(
                        policy=policy_id,
                        number=number,
                        state=VersionState.draft.value,
                        version=1,
                        created_at=stamp,
                        updated_at=stamp,
                        **values,
                    )
                )
            version_id = rows[0]["id"]
            before: dict[str, Any] | None = None
        else:
            version_id = draft["id"]
            expect_version(
                f"draft {draft['number']}",
                draft["version"],
                draft["version"] if version is None else version,
            )
            await PolicyVersion.update(
                {**values, "version": draft["version"] + 1, "updated_at": stamp}  # type: ignore[dict-item]
            ).where(PolicyVersion.id == version_id)
            before = draft
        await audit.record(
            actor,
            "policy.draft",
            "policy_version",
            version_id,
            audit.diff(
                {
                    k: (v.isoformat() if isinstance(v, dt.date) else v)
                    for k, v in (before or {}).items()
                }
                if before
                else None,
                {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in values.items()},
            ),
        )
    return await get_version(version_id=version_id)


async def audience(department: str) -> list[int]:
    """Ids of the people a policy for this department ('' everyone) applies to: not leavers gone."""
    ids: list[int] = []
    for status in (EmployeeStatus.active, EmployeeStatus.leaving):
        offset: int | None = 0
        while offset is not None:
            rows, offset, _ = await list_employees(
                limit=MAX_LIMIT, offset=offset, department=department or None, status=status
            )
            ids += [r["id"] for r in rows]
    return sorted(set(ids))


async def mark_published(
    *, actor: Actor, version_id: int, version: int, at: dt.datetime
) -> tuple[dict[str, Any], dict[str, Any], list[int]]:
    """A draft becomes the policy's published version (the last one superseded); who is asked."""
    draft = await get_version(version_id=version_id)
    await check_keeper(actor=actor, policy_id=draft["policy_id"])
    policy = policy_out(await _policy_row(draft["policy_id"]))
    expect_version(f"policy version {version_id}", draft["version"], version)
    done = (
        await PolicyVersion.update(
            {
                PolicyVersion.state: VersionState.published.value,
                PolicyVersion.published_at: at,
                PolicyVersion.department: policy["department"],
                PolicyVersion.version: version + 1,
                PolicyVersion.updated_at: at,
            }
        )
        .where(
            (PolicyVersion.id == version_id)
            & (PolicyVersion.state == VersionState.draft.value)
            & (PolicyVersion.version == version)
        )
        .returning(PolicyVersion.id)
    )
    if not done:
        # Two people publishing at once: one wins, the other is told plainly.
        raise Conflict(N_("this version has already been published"), field="version")
    await PolicyVersion.update(
        {PolicyVersion.state: VersionState.superseded.value, PolicyVersion.updated_at: at}
    ).where(
        (PolicyVersion.policy == draft["policy_id"])
        & (PolicyVersion.state == VersionState.published.value)
        & (PolicyVersion.id != version_id)
    )
    people = await audience(policy["department"])
    if people:
        await PolicyAcknowledgement.insert(
            *[
                PolicyAcknowledgement(policy_version=version_id, employee=e, asked_at=at)
                for e in people
            ]
        )
    await audit.record(
        actor,
        "policy.publish",
        "policy_version",
        version_id,
        {
            "state": [VersionState.draft.value, VersionState.published.value],
            "asked": [None, len(people)],
            "department": [None, policy["department"] or None],
        },
    )
    return policy, await get_version(version_id=version_id), people


async def late_joiners() -> list[tuple[dict[str, Any], list[int]]]:
    """Current versions whose audience now holds people never asked (they joined its department,
    or the company, after it was published), each with those people's ids.

    The audience is read live, so a person created or moved by any path (the staff API or CSV
    import, SCIM, company sign-in) is found. Only reads: the clock writes when someone is found.
    """
    versions = await PolicyVersion.select(
        PolicyVersion.id, PolicyVersion.department, PolicyVersion.policy.title
    ).where(PolicyVersion.state == VersionState.published.value)
    audiences: dict[str, set[int]] = {}
    found: list[tuple[dict[str, Any], list[int]]] = []
    for v in sorted(versions, key=lambda v: v["id"]):
        if v["department"] not in audiences:
            audiences[v["department"]] = set(await audience(v["department"]))
        known = await PolicyAcknowledgement.select(PolicyAcknowledgement.employee).where(
            PolicyAcknowledgement.policy_version == v["id"]
        )
        missing = sorted(audiences[v["department"]] - {r["employee"] for r in known})
        if missing:
            found.append((v, missing))
    return found


async def ask_late_joiners(
    *, version_id: int, employee_ids: list[int], at: dt.datetime
) -> list[int]:
    """Ask these people to acknowledge a version still current; the ids this call asked.

    Each person is asked once: the unique index on (version, person) lets only the first of
    several workers insert the row, and only the rows this call inserted are returned (and
    mailed). Audited as the clock's.
    """
    current = await PolicyVersion.exists().where(
        (PolicyVersion.id == version_id) & (PolicyVersion.state == VersionState.published.value)
    )
    if not current or not employee_ids:
        return []
    inserted = (
        await PolicyAcknowledgement.insert(
            *[
                PolicyAcknowledgement(policy_version=version_id, employee=e, asked_at=at)
                for e in employee_ids
            ]
        )
        .on_conflict(action="DO NOTHING")
        .returning(PolicyAcknowledgement.employee)
    )
    people = sorted(r["employee"] for r in inserted)
    if people:
        await audit.record(
            CLOCK,
            "policy.ask",
            "policy_version",
            version_id,
            {"employee_ids": [None, people], "asked": [None, len(people)]},
        )
    return people


def applies_to(version: dict[str, Any], department: str) -> bool:
    """Whether a published version's audience holds someone of this department."""
    return not version["department"] or version["department"] == department


async def my_policies(*, actor: Actor) -> list[dict[str, Any]]:
    """The published policies that apply to the reader, each with when they acknowledged it."""
    if actor.employee_id is None:
        return []
    person = await get_employee(employee_id=actor.employee_id)
    rows = await PolicyVersion.select(
        PolicyVersion.all_columns(), PolicyVersion.policy.title, PolicyVersion.policy.kind
    ).where(PolicyVersion.state == VersionState.published.value)
    mine = [r for r in rows if applies_to(r, person["department"])]
    acks = {
        a["policy_version"]: a
        for a in await PolicyAcknowledgement.select().where(
            (PolicyAcknowledgement.employee == actor.employee_id)
            & PolicyAcknowledgement.policy_version.is_in([r["id"] for r in mine] or [0])
        )
    }
    out = []
    for r in sorted(mine, key=lambda r: (r["policy.title"], r["id"])):
        item = version_out(r)
        item["title"] = r["policy.title"]
        item["kind"] = r["policy.kind"]
        ack = acks.get(r["id"])
        item["acknowledged_at"] = ack["acknowledged_at"] if ack else None
        out.append(item)
    return out


async def check_reader(*, actor: Actor, version_id: int) -> dict[str, Any]:
    """A version the reader may read: any for those who read policies, else one that is theirs."""
    version = await get_version(version_id=version_id)
    if actor.role is not None and allowed("policy.read", actor.role):
        return version
    if version["state"] != VersionState.draft.value and actor.employee_id is not None:
        person = await get_employee(employee_id=actor.employee_id)
        asked = await PolicyAcknowledgement.exists().where(
            (PolicyAcknowledgement.policy_version == version_id)
            & (PolicyAcknowledgement.employee == actor.employee_id)
        )
        if asked or (
            version["state"] == VersionState.published.value
            and applies_to(version, person["department"])
        ):
            return version
    raise await refuse(
        actor,
        "policy.own",
        "policy_version",
        version_id,
        N_("this policy does not apply to you"),
    )


async def acknowledge(
    *, actor: Actor, version_id: int, at: dt.datetime | None = None
) -> dict[str, Any]:
    """Record that the reader read and accepts a published version: once, the first time kept."""
    moment = at or now()
    if actor.employee_id is None:
        raise InvalidInput(
            N_("your user is not linked to a person in the staff directory; ask HR"),
            field="employee_id",
        )
    version = await check_reader(actor=actor, version_id=version_id)
    if version["state"] != VersionState.published.value:
        raise Conflict(
            N_("only the current published version of a policy can be acknowledged"),
            field="version_id",
        )
    async with write_transaction():
        done = (
            await PolicyAcknowledgement.update(
                {
                    PolicyAcknowledgement.acknowledged_at: moment,
                    PolicyAcknowledgement.acknowledged_by: actor.user_id,
                }
            )
            .where(
                (PolicyAcknowledgement.policy_version == version_id)
                & (PolicyAcknowledgement.employee == actor.employee_id)
                & PolicyAcknowledgement.acknowledged_at.is_null()
            )
            .returning(PolicyAcknowledgement.id)
        )
        if not done:
            kept = (
                await PolicyAcknowledgement.select()
                .where(
                    (PolicyAcknowledgement.policy_version == version_id)
                    & (PolicyAcknowledgement.employee == actor.employee_id)
                )
                .first()
            )
            if kept is not None:
                # A second acknowledgement changes nothing: the first time is the record.
                return {
                    "version_id": version_id,
                    "acknowledged_at": kept["acknowledged_at"],
                    "new": False,
                }
            # Someone who joined the department after publishing: asked by their own reading.
            async with unique_or_409(
                N_("your acknowledgement was being recorded at the same time; reload"), "version_id"
            ):
                await PolicyAcknowledgement.insert(
                    PolicyAcknowledgement(
                        policy_version=version_id,
                        employee=actor.employee_id,
                        asked_at=moment,
                        acknowledged_at=moment,
                        acknowledged_by=actor.user_id,
                    )
                )
        await audit.record(
            actor,
            "policy.acknowledge",
            "policy_version",
            version_id,
            {
                "employee_id": [None, actor.employee_id],
                "acknowledged_at": [None, moment.isoformat()],
            },
        )
    return {"version_id": version_id, "acknowledged_at": moment, "new": True}


async def acknowledgements(*, version_id: int) -> list[dict[str, Any]]:
    """Who was asked to acknowledge a version, and when each did, by name."""
    await get_version(version_id=version_id)
    rows = await PolicyAcknowledgement.select().where(
        PolicyAcknowledgement.policy_version == version_id
    )
    names = await employee_names(r["employee"] for r in rows)
    out = [
        {
            "employee_id": r["employee"],
            "name": names.get(r["employee"], ""),
            "asked_at": r["asked_at"],
            "acknowledged_at": r["acknowledged_at"],
        }
        for r in rows
    ]
    return sorted(
        out, key=lambda r: (r["acknowledged_at"] is not None, r["name"], r["employee_id"])
    )


async def coverage() -> list[dict[str, Any]]:
    """Each published version: how many were asked and how many have acknowledged."""
    versions = await PolicyVersion.select(
        PolicyVersion.id, PolicyVersion.number, PolicyVersion.policy, PolicyVersion.policy.title
    ).where(PolicyVersion.state == VersionState.published.value)
    acks = await PolicyAcknowledgement.select(
        PolicyAcknowledgement.policy_version, PolicyAcknowledgement.acknowledged_at
    ).where(PolicyAcknowledgement.policy_version.is_in([v["id"] for v in versions] or [0]))
    asked: dict[int, int] = {}
    done: dict[int, int] = {}
    for a in acks:
        asked[a["policy_version"]] = asked.get(a["policy_version"], 0) + 1
        if a["acknowledged_at"] is not None:
            done[a["policy_version"]] = done.get(a["policy_version"], 0) + 1
    out = [
        {
            "policy_id": v["policy"],
            "version_id": v["id"],
            "number": v["number"],
            "title": v["policy.title"],
            "asked": asked.get(v["id"], 0),
            "acknowledged": done.get(v["id"], 0),
        }
        for v in versions
    ]
    return sorted(out, key=lambda r: (r["title"], r["policy_id"]))


async def review_findings(*, at: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Policies whose current version's review date has passed (judged at `at`, default now)."""
    today = (at or now()).date()
    rows = await PolicyVersion.select(
        PolicyVersion.all_columns(), PolicyVersion.policy.title, PolicyVersion.policy.owner
    ).where(
        (PolicyVersion.state == VersionState.published.value) & (PolicyVersion.review_by < today)
    )
    return [
        {
            "kind": "policy_review_overdue",
            "severity": "medium",
            "message": N_(
                "The policy's review date has passed: review it and publish a new version."
            ),
            "policy_id": r["policy"],
            "version_id": r["id"],
            "title": r["policy.title"],
            "owner_id": r["policy.owner"],
            "review_by": r["review_by"],
            "days_over": (today - r["review_by"]).days,
        }
        for r in sorted(rows, key=lambda r: (r["review_by"], r["id"]))
    ]


async def reviews_coming(*, at: dt.datetime) -> list[dict[str, Any]]:
    """Current versions within the notice before their review date whose owner was not told."""
    today = at.date()
    rows = await PolicyVersion.select(
        PolicyVersion.all_columns(), PolicyVersion.policy.title, PolicyVersion.policy.owner
    ).where(
        (PolicyVersion.state == VersionState.published.value)
        & (PolicyVersion.review_by >= today)
        & (PolicyVersion.review_by <= today + dt.timedelta(days=REVIEW_NOTICE_DAYS))
        & PolicyVersion.review_reminded_at.is_null()
    )
    return rows


async def mark_review_reminded(*, version_id: int, at: dt.datetime) -> bool:
    """Note the owner's reminder; False when another worker noted it first."""
    done = (
        await PolicyVersion.update({PolicyVersion.review_reminded_at: at})
        .where((PolicyVersion.id == version_id) & PolicyVersion.review_reminded_at.is_null())
        .returning(PolicyVersion.id)
    )
    return bool(done)


async def unacknowledged_due(*, at: dt.datetime) -> list[dict[str, Any]]:
    """People asked for a current version, not acknowledged, not reminded for a week."""
    cutoff = at - dt.timedelta(days=REMIND_EVERY_DAYS)
    rows = await PolicyAcknowledgement.select(
        PolicyAcknowledgement.all_columns(),
        PolicyAcknowledgement.policy_version.policy.title,
        PolicyAcknowledgement.policy_version.state,
    ).where(
        PolicyAcknowledgement.acknowledged_at.is_null()
        & (PolicyAcknowledgement.policy_version.state == VersionState.published.value)
        & (PolicyAcknowledgement.asked_at <= cutoff)
    )
    return [r for r in rows if r["reminded_at"] is None or r["reminded_at"] <= cutoff]


async def mark_reminded(*, ack_ids: list[int], at: dt.datetime) -> None:
    """Note that these people were reminded now."""
    if ack_ids:
        await PolicyAcknowledgement.update({PolicyAcknowledgement.reminded_at: at}).where(
            PolicyAcknowledgement.id.is_in(ack_ids)
        )


async def policies_owned(*, user_id: int) -> list[int]:
    """Ids of the policies a user owns."""
    rows = await Policy.select(Policy.id).where(Policy.owner == user_id)
    return [r["id"] for r in rows]
