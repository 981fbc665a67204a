"""Which accounts' posts need approval, and who approves them."""

from __future__ import annotations

from typing import Any

from accounts.posts.tables import PostApprovalSetting, PostApprover
from accounts.services import get_account
from register import audit
from register.actor import Actor
from register.db import now, write_transaction
from register.errors import InvalidInput
from register.i18n import N_
from register.queries import expect_version
from register.services import people_of_users, users_by_id

MAX_APPROVERS = 20


async def approver_ids(account_id: int) -> list[int]:
    """The users named to approve an account's posts."""
    rows = await PostApprover.select(PostApprover.approver).where(
        PostApprover.account == account_id
    )
    return sorted(r["approver"] for r in rows)


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
