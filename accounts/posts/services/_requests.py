"""Post requests as their readers see them: who may see which, the list, one with its photos
and history, and the SHA-256 that locks an approved version."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping
from typing import Any

from accounts.enums import PLATFORM_WORDS
from accounts.posts.enums import PostState
from accounts.posts.services._approval import accounts_approved_by, approver_ids
from accounts.posts.tables import PostEvent, PostMedia, PostRequest
from accounts.services import account_handles, active_grants_of
from register import i18n
from register.access import refuse
from register.actor import Actor
from register.db import json_value
from register.enums import Role
from register.errors import NotFound
from register.i18n import N_, Reader
from register.queries import page, page_bounds
from register.services import people_of_users

# Roles that see every post request: comms runs the accounts' voice, admins everything, auditors
# read everything.
SEE_ALL = frozenset({Role.admin, Role.comms, Role.auditor})
# Roles that may mark any approved post as posted (besides its submitter and approvers).
POST_ANY = frozenset({Role.admin, Role.comms})
HASH_LABEL = b"social-asset-register/post-request/v1"


def content_sha256(text: str, media: Iterable[bytes]) -> str:
    """SHA-256 of a post's text and its stored photos, each length-prefixed, in order.

    The bytes hashed are: the label `social-asset-register/post-request/v1`, then for the text
    (UTF-8) and each stored (stripped) photo in position order, its length as 8 bytes big-endian
    followed by its bytes. The lengths keep one split of text and photos from hashing like another.
    """
    digest = hashlib.sha256(HASH_LABEL)
    for part in (text.encode("utf-8"), *media):
        digest.update(struct.pack(">Q", len(part)))
        digest.update(part)
    return digest.hexdigest()


def request_out(row: dict[str, Any]) -> dict[str, Any]:
    """A post request row as the API shows it."""
    return {
        "id": row["id"],
        "account_id": row["account"],
        "submitted_by": row["submitted_by"],
        "submitted_by_email": row["submitted_by_email"],
        "text": row["text"],
        "planned_at": row["planned_at"],
        "state": row["state"],
        "round": row["round"],
        "send_back_reason": row["send_back_reason"],
        "decided_by": row["decided_by"],
        "decided_by_email": row["decided_by_email"],
        "decided_at": row["decided_at"],
        "approved_sha256": row["approved_sha256"],
        "approved_at": row["approved_at"],
        "posted_url": row["posted_url"],
        "posted_by_email": row["posted_by_email"],
        "posted_at": row["posted_at"],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


async def request_row(post_request_id: int) -> dict[str, Any]:
    """One post request's row, or NotFound."""
    row = await PostRequest.select().where(PostRequest.id == post_request_id).first()
    if not row:
        raise NotFound(N_("post request %(id)s does not exist"), params={"id": post_request_id})
    return row


def is_submitter(actor: Actor, row: dict[str, Any]) -> bool:
    """Whether the actor submitted this post request."""
    return actor.user_id is not None and row["submitted_by"] == actor.user_id


async def is_approver(actor: Actor, account_id: int) -> bool:
    """Whether the actor is named to approve this account's posts."""
    return actor.user_id is not None and actor.user_id in await approver_ids(account_id)


async def check_read(*, actor: Actor, post_request_id: int) -> None:
    """Refuse (403, audited) anyone but its submitter, the account's approvers, comms, admins, auditors."""
    row = await request_row(post_request_id)
    if (
        actor.role in SEE_ALL
        or is_submitter(actor, row)
        or await is_approver(actor, row["account"])
    ):
        return
    raise await refuse(
        actor,
        "post.read",
        "post_request",
        post_request_id,
        N_("only its submitter, the account's approvers, comms and auditors see a post request"),
    )


async def media_of(post_request_id: int) -> list[dict[str, Any]]:
    """A post request's photos (metadata and proof; the bytes through open_media)."""
    rows = (
        await PostMedia.select(
            PostMedia.id,
            PostMedia.position,
            PostMedia.media_type,
            PostMedia.received_format,
            PostMedia.width,
            PostMedia.height,
            PostMedia.size,
            PostMedia.sha256,
            PostMedia.removed,
            PostMedia.created_at,
        )
        .where(PostMedia.post_request == post_request_id)
        .order_by(PostMedia.position)
        .order_by(PostMedia.id)
    )
    return [{**r, "removed": json_value(r["removed"], [])} for r in rows]


async def history_of(post_request_id: int) -> list[dict[str, Any]]:
    """A post request's steps, oldest first."""
    rows = (
        await PostEvent.select()
        .where(PostEvent.post_request == post_request_id)
        .order_by(PostEvent.id)
    )
    return [
        {
            "step": r["step"],
            "round": r["round"],
            "user_id": r["user_id"],
            "user_email": r["user_email"],
            "note": r["note"],
            "sha256": r["sha256"],
            "at": r["at"],
        }
        for r in rows
    ]


async def get_post_request(*, actor: Actor, post_request_id: int) -> dict[str, Any]:
    """One post request with its account, photos, history, approvers and what the reader may do."""
    await check_read(actor=actor, post_request_id=post_request_id)
    row = await request_row(post_request_id)
    out = request_out(row)
    approvers = await approver_ids(row["account"])
    handles = await account_handles([row["account"]])
    out["account"] = handles.get(row["account"], {"platform": "", "handle": ""})
    out["media"] = await media_of(post_request_id)
    out["history"] = await history_of(post_request_id)
    people = await people_of_users(
        [
            row["submitted_by"],
            row["decided_by"],
            *approvers,
            *(h["user_id"] for h in out["history"]),
        ]
    )
    out["submitted_by_name"] = people.get(row["submitted_by"], {}).get("name", "")
    out["decided_by_name"] = people.get(row["decided_by"], {}).get("name", "")
    for h in out["history"]:
        h["user_name"] = people.get(h["user_id"], {}).get("name", "") or h["user_email"]
    out["approvers"] = [
        {"user_id": i, "name": people[i]["name"], "email": people[i]["email"]}
        for i in approvers
        if i in people
    ]
    mine = is_submitter(actor, row)
    approver = actor.user_id in approvers
    state = row["state"]
    out["may"] = {
        "edit": mine and state in (PostState.submitted, PostState.sent_back),
        "resubmit": mine and state == PostState.sent_back,
        "decide": approver and not mine and state == PostState.submitted,
        "mark_posted": state == PostState.approved and (mine or approver or actor.role in POST_ANY),
    }
    return out


async def list_post_requests(
    *,
    actor: Actor,
    scope: str = "visible",
    state: PostState | None = None,
    account_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int | None]:
    """Post requests this reader may see, newest first: `mine`, `waiting` (for me), or all visible."""
    limit, offset = page_bounds(limit, offset)
    query = PostRequest.select()
    approves = await accounts_approved_by(actor.user_id) if actor.user_id is not None else []
    if scope == "mine":
        query = query.where(PostRequest.submitted_by == (actor.user_id or 0))
    elif scope == "waiting":
        query = query.where(
            PostRequest.account.is_in(approves or [0])
            & (PostRequest.state == PostState.submitted.value)
            & (PostRequest.submitted_by != (actor.user_id or 0))
        )
    elif actor.role not in SEE_ALL:
        query = query.where(
            (PostRequest.submitted_by == (actor.user_id or 0))
            | PostRequest.account.is_in(approves or [0])
        )
    if state is not None:
        query = query.where(PostRequest.state == state.value)
    if account_id is not None:
        query = query.where(PostRequest.account == account_id)
    rows = await query.order_by(PostRequest.id, ascending=False).limit(limit + 1).offset(offset)
    items, next_offset = page(rows, limit, offset)
    handles = await account_handles(sorted({r["account"] for r in items}))
    people = await people_of_users(r["submitted_by"] for r in items)
    out = []
    for r in items:
        item = request_out(r)
        item["account"] = handles.get(r["account"], {"platform": "", "handle": ""})
        item["submitted_by_name"] = people.get(r["submitted_by"], {}).get("name", "")
        out.append(item)
    return out, next_offset


async def submittable_accounts(actor: Actor) -> list[dict[str, Any]]:
    """The accounts the actor holds an active grant on (where they may submit posts)."""
    if actor.employee_id is None:
        return []
    seen: dict[int, dict[str, Any]] = {}
    for grant in await active_grants_of(actor.employee_id):
        seen.setdefault(
            grant["account_id"],
            {
                "account_id": grant["account_id"],
                "platform": grant["platform"],
                "handle": grant["handle"],
            },
        )
    return sorted(seen.values(), key=lambda a: (a["platform"], a["handle"]))


async def post_request_exists(post_request_id: int) -> bool:
    """Whether a post request has this id (an incident's link)."""
    return await PostRequest.exists().where(PostRequest.id == post_request_id)


async def post_request_titles(ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
    """Short facts of post requests by id, for pages that link to them (an incident's)."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = await PostRequest.select(
        PostRequest.id,
        PostRequest.account,
        PostRequest.text,
        PostRequest.state,
        PostRequest.planned_at,
        PostRequest.created_at,
    ).where(PostRequest.id.is_in(wanted))
    handles = await account_handles(sorted({r["account"] for r in rows}))
    return {
        r["id"]: {
            "id": r["id"],
            "state": r["state"],
            "excerpt": r["text"][:80],
            "handle": handles.get(r["account"], {}).get("handle", ""),
            "platform": handles.get(r["account"], {}).get("platform", ""),
            "account": handles.get(r["account"], {"platform": "", "handle": ""}),
            "planned_at": r["planned_at"],
            "created_at": r["created_at"],
        }
        for r in rows
    }


OPEN = (PostState.submitted.value, PostState.sent_back.value)


async def open_requests_of(user_ids: list[int]) -> dict[str, list[dict[str, Any]]]:
    """One person's post requests still open: `submitted` by them (waiting for a decision or sent
    back to them), and `waiting_on` them (others' posts on accounts they approve)."""
    if not user_ids:
        return {"submitted": [], "waiting_on": []}
    mine = (
        await PostRequest.select()
        .where(PostRequest.submitted_by.is_in(list(user_ids)) & PostRequest.state.is_in(OPEN))
        .order_by(PostRequest.id)
    )
    approves = sorted({a for u in user_ids for a in await accounts_approved_by(u)})
    theirs = (
        await PostRequest.select()
        .where(
            PostRequest.account.is_in(approves or [0])
            & (PostRequest.state == PostState.submitted.value)
            & PostRequest.submitted_by.not_in(list(user_ids))
        )
        .order_by(PostRequest.id)
    )
    handles = await account_handles(sorted({r["account"] for r in [*mine, *theirs]}))
    people = await people_of_users(r["submitted_by"] for r in [*mine, *theirs])

    def short(r: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": r["id"],
            "account_id": r["account"],
            "platform": handles.get(r["account"], {}).get("platform", ""),
            "handle": handles.get(r["account"], {}).get("handle", ""),
            "state": r["state"],
            "excerpt": r["text"][:80],
            "submitted_by_name": people.get(r["submitted_by"], {}).get("name", "")
            or r["submitted_by_email"],
            "planned_at": r["planned_at"],
        }

    return {"submitted": [short(r) for r in mine], "waiting_on": [short(r) for r in theirs]}


def account_words(reader: Reader, platform: str, handle: str) -> str:
    """An account as pages name it: its platform in the reader's words and its handle."""
    return f"{reader.gettext(PLATFORM_WORDS.get(platform, platform))} {handle}".strip()  # type: ignore[call-overload]


def post_name(reader: Reader, post: Mapping[str, Any]) -> str:
    """A post request's name for a reader: its account and when it is to go out (never its id)."""
    account = post.get("account") or {}
    return i18n.post_name(
        reader,
        account_words(reader, account.get("platform", ""), account.get("handle", "")),
        post.get("planned_at"),
        post.get("created_at"),
    )
