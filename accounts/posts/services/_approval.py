"""Which accounts' posts need approval, and who approves them."""

from __future__ import annotations

from typing import Any

from accounts.posts.tables import PostApprovalSetting, PostApprover
from accounts.services import account_handles, get_account
from register import audit
from register.actor import Actor
from register.db import now, write_transaction
from register.errors import Conflict, InvalidInput, StaleVersion
from register.i18n import N_
from register.queries import expect_version
from register.services import list_users, people_of_users, users_by_id
from register.staff.enums import EmployeeStatus
from register.staff.services import employees_by_id

MAX_APPROVERS = 20


async def approver_ids(account_id: int) -> list[int]:
    """The users named to approve an account's posts."""
    rows = await PostApprover.select(PostApprover.approver).where(
        PostApprover.account == account_id
    )
    return sorted(r["approver"] for r in rows)


async def possible_approvers() -> list[dict[str, Any]]:
    """Active users who may be named approvers (not auditors, who change nothing), by name."""
    users, _ = await list_users(limit=200, offset=0, active=True)
    people = await people_of_users(u["id"] for u in users)
    found = [
        {
            "id": u["id"],
            "name": people.get(u["id"], {}).get("name") or u["email"],
            "email": u["email"],
            "role": u["role"],
            "employee_id": u["employee_id"],
        }
        for u in users
        if u["role"] != "auditor"
    ]
    return sorted(found, key=lambda u: u["name"].casefold())


async def approval_of(*, account_id: int) -> dict[str, Any]:
    """An account's approval setting with its approvers by name (version 0: never set)."""
    account = await get_account(account_id=account_id)
    row = (
        await PostApprovalSetting.select().where(PostApprovalSetting.account == account_id).first()
    )
    ids = await approver_ids(account_id)
    people = await people_of_users(ids)
    return {
        "account_id": account_id,
        "handle": account["handle"],
        "platform": account["platform"],
        "requires_approval": bool(row and row["requires_approval"]),
        "approvers": [
            {"user_id": i, "name": people[i]["name"], "email": people[i]["email"]}
            for i in ids
            if i in people
        ],
        "version": row["version"] if row else 0,
        "updated_at": row["updated_at"] if row else None,
    }


async def requires_approval(account_id: int) -> bool:
    """Whether posts to this account wait for an approver."""
    row = (
        await PostApprovalSetting.select(PostApprovalSetting.requires_approval)
        .where(PostApprovalSetting.account == account_id)
        .first()
    )
    return bool(row and row["requires_approval"])


async def accounts_approved_by(user_id: int) -> list[int]:
    """The accounts whose posts this user approves."""
    rows = await PostApprover.select(PostApprover.account).where(PostApprover.approver == user_id)
    return sorted(r["account"] for r in rows)


async def set_approval(
    *,
    actor: Actor,
    account_id: int,
    requires_approval: bool,
    approvers: list[int],
    version: int,
) -> dict[str, Any]:
    """Say whether an account's posts need approval and who approves them (audited)."""
    wanted = sorted(set(approvers))
    if len(wanted) > MAX_APPROVERS:
        raise InvalidInput(
            N_("at most %(count)s approvers"), field="approver_ids", params={"count": MAX_APPROVERS}
        )
    users = await users_by_id(wanted)
    for user_id in wanted:
        if user_id not in users or not users[user_id]["active"]:
            raise InvalidInput(
                N_("user %(id)s is not an active user"),
                field="approver_ids",
                params={"id": user_id},
            )
    if requires_approval and not wanted:
        raise InvalidInput(
            N_("name at least one approver when posts need approval"), field="approver_ids"
        )
    stamp = now()
    async with write_transaction():
        before = await approval_of(account_id=account_id)
        expect_version(f"the approval setting of {before['handle']}", before["version"], version)
        if before["version"] == 0:
            await PostApprovalSetting.insert(
                PostApprovalSetting(
                    account=account_id,
                    requires_approval=requires_approval,
                    version=1,
                    updated_by=actor.user_id,
                    updated_at=stamp,
                )
            )
        else:
            await PostApprovalSetting.update(
                {
                    PostApprovalSetting.requires_approval: requires_approval,
                    PostApprovalSetting.version: PostApprovalSetting.version + 1,
                    PostApprovalSetting.updated_by: actor.user_id,
                    PostApprovalSetting.updated_at: stamp,
                }
            ).where(PostApprovalSetting.account == account_id)
        old = [a["user_id"] for a in before["approvers"]]
        gone = [i for i in old if i not in wanted]
        if gone:
            await PostApprover.delete().where(
                (PostApprover.account == account_id) & PostApprover.approver.is_in(gone)
            )
        for user_id in (i for i in wanted if i not in old):
            await PostApprover.insert(
                PostApprover(
                    account=account_id, approver=user_id, added_by=actor.user_id, added_at=stamp
                )
            )
        await audit.record(
            actor,
            "post_approval.update",
            "social_account",
            account_id,
            {
                "requires_approval": [before["requires_approval"], requires_approval],
                "approvers": [
                    sorted(a["email"] for a in before["approvers"]),
                    sorted(users[i]["email"] for i in wanted),
                ],
            },
        )
    return await approval_of(account_id=account_id)


def _person(user_id: int, people: dict[int, dict[str, Any]]) -> dict[str, Any]:
    found = people.get(user_id, {})
    return {"user_id": user_id, "name": found.get("name", ""), "email": found.get("email", "")}


async def approver_duties(user_ids: list[int]) -> list[dict[str, Any]]:
    """Accounts one person (through any of their users) approves posts of, and who else approves.

    `only_approver`: no other active user approves that account; with `requires_approval` that is
    a blocker, since nobody could approve its posts once the person has gone.
    """
    if not user_ids:
        return []
    rows = await PostApprover.select(PostApprover.account).where(
        PostApprover.approver.is_in(list(user_ids))
    )
    account_ids = sorted({r["account"] for r in rows})
    handles = await account_handles(account_ids)
    out = []
    for account_id in account_ids:
        ids = await approver_ids(account_id)
        users = await users_by_id(ids)
        people = await people_of_users(ids)
        others = [i for i in ids if i not in user_ids and users.get(i, {}).get("active")]
        needs = await requires_approval(account_id)
        out.append(
            {
                "account_id": account_id,
                "platform": handles.get(account_id, {}).get("platform", ""),
                "handle": handles.get(account_id, {}).get("handle", ""),
                "requires_approval": needs,
                "user_ids": [i for i in ids if i in user_ids],
                "other_approvers": [_person(i, people) for i in others],
                "only_approver": not others,
                "blocker": needs and not others,
            }
        )
    return out


async def replace_approver(
    *,
    actor: Actor,
    account_id: int,
    leaving: list[int],
    replacement: int | None,
    reason: str,
) -> dict[str, Any]:
    """Take a leaving person's users off an account's approvers, naming a replacement or none.

    Refused (naming `replacement_user_id`) when that would leave an account whose posts need
    approval without an active approver. Audited as `post_approval.update`, with the reason.
    """
    async with write_transaction():
        before = await approval_of(account_id=account_id)
        ids = await approver_ids(account_id)
        gone = [i for i in ids if i in leaving]
        if not gone:
            raise Conflict(
                N_("the leaver no longer approves the posts of %(handle)s"),
                params={"handle": before["handle"]},
            )
        added: list[int] = []
        if replacement is not None:
            if replacement in leaving:
                raise InvalidInput(
                    N_("the replacement must be someone other than the leaver"),
                    field="replacement_user_id",
                )
            user = (await users_by_id([replacement])).get(replacement)
            if not user or not user["active"] or user["role"] == "auditor":
                raise InvalidInput(
                    N_("user %(id)s is not an active user who may approve posts"),
                    field="replacement_user_id",
                    params={"id": replacement},
                )
            person = (await employees_by_id([user["employee_id"]])).get(user["employee_id"])
            if person and person["status"] != EmployeeStatus.active.value:
                # Someone on their way out too would leave the account in the same place.
                raise InvalidInput(
                    N_("%(name)s is leaving too: choose someone who stays"),
                    field="replacement_user_id",
                    params={"name": person["name"]},
                )
            if replacement not in ids:
                added = [replacement]
        after = [i for i in ids if i not in gone] + added
        users = await users_by_id(after)
        if before["requires_approval"] and not any(users.get(i, {}).get("active") for i in after):
            raise InvalidInput(
                N_(
                    "the posts of %(handle)s need approval and nobody else approves them: "
                    "name a replacement"
                ),
                field="replacement_user_id",
                params={"handle": before["handle"]},
            )
        stamp = now()
        # The version moves on, so a form that showed the old approvers gets a clean 409.
        moved = (
            await PostApprovalSetting.update(
                {
                    PostApprovalSetting.version: before["version"] + 1,
                    PostApprovalSetting.updated_by: actor.user_id,
                    PostApprovalSetting.updated_at: stamp,
                }
            )
            .where(
                (PostApprovalSetting.account == account_id)
                & (PostApprovalSetting.version == before["version"])
            )
            .returning(PostApprovalSetting.id)
        )
        if not moved and before["version"]:
            raise StaleVersion(
                N_("the approval setting of %(handle)s has changed; read it again"),
                params={"handle": before["handle"]},
            )
        await PostApprover.delete().where(
            (PostApprover.account == account_id) & PostApprover.approver.is_in(gone)
        )
        for user_id in added:
            await PostApprover.insert(
                PostApprover(
                    account=account_id, approver=user_id, added_by=actor.user_id, added_at=stamp
                )
            )
        people = await people_of_users([*ids, *added])
        await audit.record(
            actor,
            "post_approval.update",
            "social_account",
            account_id,
            {
                "approvers": [
                    sorted(people[i]["email"] for i in ids if i in people),
                    sorted(people[i]["email"] for i in after if i in people),
                ],
                "reason": [None, reason],
            },
        )
    return {
        "account_id": account_id,
        "platform": before["platform"],
        "handle": before["handle"],
        "requires_approval": before["requires_approval"],
        "removed": [_person(i, people) for i in gone],
        "replacement": _person(replacement, people) if replacement is not None else None,
        "approvers": [_person(i, people) for i in after],
    }
