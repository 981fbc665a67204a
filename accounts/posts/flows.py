"""A post request's steps: submit, edit, send back, resubmit, approve (locked), posted.

    submitted --send back (approver, reason)--> sent_back --resubmit (submitter)--> submitted
    submitted --approve (an approver who is not the submitter)--> approved --posted (URL)--> posted
    submitted, sent_back --withdraw (the submitter's handover, reason)--> withdrawn

Each step is one conditional update naming the version and the states it starts from, so two
approvers deciding at once give one success and one clean conflict. An account that needs no
approval takes a post as approved at once (locked, hashed), so posting is still recorded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from accounts.enums import PLATFORM_WORDS, AccountStatus
from accounts.posts import services
from accounts.posts.enums import PostState, PostStep
from accounts.posts.files import Stripped
from accounts.posts.tables import PostEvent, PostMedia, PostRequest
from accounts.services import account_handles, get_account
from register import audit
from register.access import refuse
from register.actor import Actor
from register.db import as_utc, now, rfc3339, write_transaction
from register.enums import Role
from register.errors import Conflict, InvalidInput, StaleVersion
from register.i18n import N_, Reader, Word
from register.keys import KeyRing

ENGLISH = Reader("en")

MAX_TEXT = 5000
EARLIEST, LATEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC), dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
# Words for a post request's state in refusals (a page says them in its reader's language).
STATE_WORDS = {
    PostState.submitted.value: N_("waiting for approval"),
    PostState.sent_back.value: N_("sent back"),
    PostState.approved.value: N_("approved"),
    PostState.posted.value: N_("posted"),
    PostState.withdrawn.value: N_("withdrawn"),
}


def clean_post_text(value: str) -> str:
    """The post's text: trimmed, not empty, at most 5000 characters, no control characters."""
    text = (value or "").strip()
    if not text:
        raise InvalidInput(N_("write the text of the post"), field="text")
    if len(text) > MAX_TEXT:
        raise InvalidInput(
            N_("the text is longer than %(count)s characters"),
            field="text",
            params={"count": MAX_TEXT},
        )
    if any(ord(c) < 32 and c not in "\n\r\t" for c in text) or "\x7f" in text:
        raise InvalidInput(N_("the text holds characters that cannot be kept"), field="text")
    return text


def clean_planned(value: dt.datetime | None) -> dt.datetime | None:
    """When it is to go out, in UTC, between 1990 and 2200."""
    moment = as_utc(value)
    if moment is not None and not EARLIEST <= moment < LATEST:
        raise InvalidInput(N_("planned_at must be between 1990 and 2200"), field="planned_at")
    return moment


def clean_post_url(value: str) -> str:
    """The live post's address: https only, with a host, no spaces, at most 2000 characters."""
    url = (value or "").strip()
    parts = urlsplit(url)
    if (
        parts.scheme != "https"
        or not parts.hostname
        or any(c.isspace() or ord(c) < 32 for c in url)
        or len(url) > 2000
    ):
        raise InvalidInput(N_("give the live post's address, starting with https://"), field="url")
    return url


async def _event(
    actor: Actor, row_id: int, step: PostStep, round_: int, note: str = "", sha256: str = ""
) -> None:
    await PostEvent.insert(
        PostEvent(
            post_request=row_id,
            step=step.value,
            round=round_,
            user_id=actor.user_id,
            user_email=actor.email,
            note=note,
            sha256=sha256,
            at=now(),
        )
    )


async def _move(
    row_id: int, version: int, starts: tuple[PostState, ...], values: dict[Any, Any]
) -> dict[str, Any]:
    """One conditional update from the given states at the given version; the row after it."""
    stamp = now()
    done = (
        await PostRequest.update(
            {**values, PostRequest.version: version + 1, PostRequest.updated_at: stamp}
        )
        .where(
            (PostRequest.id == row_id)
            & (PostRequest.version == version)
            & PostRequest.state.is_in([s.value for s in starts])
        )
        .returning(PostRequest.id)
    )
    if not done:
        current = await services.request_row(row_id)
        if current["state"] not in starts:
            raise _wrong_state(current)
        raise StaleVersion(
            N_("%(thing)s has changed since version %(sent)s; read it again"),
            current_version=current["version"],
            params={"thing": _this(row_id), "sent": version},
        )
    return await services.request_row(row_id)


def _this(row_id: int) -> Word:
    # The API names the post request by its id; its page, where a refusal is shown, says "this".
    return Word(f"post request {row_id}", N_("this post request"))


def _wrong_state(row: dict[str, Any]) -> Conflict:
    if row["state"] in (PostState.approved, PostState.posted):
        return Conflict(
            N_("%(post)s is %(state)s: the approved version is locked (SHA-256 %(sha256)s)"),
            params={
                "post": _this(row["id"]),
                "state": row["state"],
                "sha256": row["approved_sha256"],
            },
            state=row["state"],
        )
    return Conflict(
        N_("%(post)s is %(state)s"),
        params={"post": _this(row["id"]), "state": row["state"]},
        state=row["state"],
    )


async def _named(row: dict[str, Any]) -> dict[str, Any]:
    """What a notice of a post request names it by: its account and its time (never its id)."""
    account = (await account_handles([row["account"]])).get(row["account"], {})
    platform = str(account.get("platform", ""))
    post = {
        "account": {"platform": platform, "handle": account.get("handle", "")},
        "planned_at": row["planned_at"],
        "created_at": row["created_at"],
    }
    return {
        "account": account.get("handle", ""),
        "platform": platform,
        # The platform's catalogue words, said in each reader's language when the mail is made.
        "platform_name": PLATFORM_WORDS.get(platform, platform),  # type: ignore[call-overload]
        "planned_at": rfc3339(row["planned_at"]) if row["planned_at"] else "",
        "submitted_at": rfc3339(row["created_at"]),
        # Webhooks and the outbox are read in English.
        "name": services.post_name(ENGLISH, post),
    }


async def _notify_submitted(row: dict[str, Any], actor: Actor) -> None:
    from register.notifications.enums import EventType, MailKind
    from register.notifications.flows import publish, publish_mail

    named = await _named(row)
    payload = {
        "post_request_id": row["id"],
        **named,
        "submitter": actor.email,
        "round": row["round"],
    }
    await publish(
        EventType.post_request_submitted.value,
        payload,
        summary=f"{named['name']} waits for approval.",
        audience=[Role.comms],
    )
    await publish_mail(
        MailKind.post_request_waiting,
        payload=payload,
        path=f"/posts/{row['id']}",
        summary=f"{named['name']} waits for approval",
        users=await services.approver_ids(row["account"]),
        actor=actor,
    )


async def _notify_decided(row: dict[str, Any], actor: Actor, decision: PostState) -> None:
    from register.notifications.enums import EventType, MailKind
    from register.notifications.flows import publish, publish_mail

    named = await _named(row)
    payload = {
        "post_request_id": row["id"],
        **named,
        "decision": decision.value,
        "decider": actor.email,
        "reason": row["send_back_reason"] if decision == PostState.sent_back else "",
    }
    await publish(
        EventType.post_request_decided.value,
        payload,
        summary=f"{named['name']}: {decision.value} by {actor.email}.",
        audience=[Role.comms],
    )
    await publish_mail(
        MailKind.post_request_decided,
        payload=payload,
        path=f"/posts/{row['id']}",
        summary=f"{named['name']}: {decision.value}",
        users=[row["submitted_by"]],
        actor=actor,
    )


async def _stripped(files: list[tuple[str, bytes]], existing: int) -> list[tuple[str, Stripped]]:
    """Each uploaded file stripped of its metadata (or the whole upload refused, naming `file`)."""
    services.check_count(existing, len(files))
    return [(name, await services.strip_upload(content)) for name, content in files]


async def check_may_submit(actor: Actor, account_id: int) -> None:
    """Refuse (403, audited) anyone without an active grant on the account."""
    mine = {a["account_id"] for a in await services.submittable_accounts(actor)}
    if account_id not in mine:
        raise await refuse(
            actor,
            "post.submit",
            "social_account",
            account_id,
            N_("only someone with an active grant on an account submits posts for it"),
        )


async def submit(
    *,
    actor: Actor,
    keyring: KeyRing,
    account_id: int,
    text: str,
    planned_at: dt.datetime | None = None,
    files: list[tuple[str, bytes]] | None = None,
) -> dict[str, Any]:
    """Submit a post for an account one holds a grant on; approvers are told (or it is approved
    at once when the account needs no approval)."""
    text = clean_post_text(text)
    planned = clean_planned(planned_at)
    account = await get_account(account_id=account_id)
    await check_may_submit(actor, account_id)
    if account["status"] == AccountStatus.retired.value:
        raise Conflict(N_("account %(account_id)s is retired"), params={"account_id": account_id})
    photos = await _stripped(files or [], 0)
    stamp = now()
    async with write_transaction():
        needs = await services.requires_approval(account_id)
        rows = await PostRequest.insert(
            PostRequest(
                account=account_id,
                submitted_by=actor.user_id,
                submitted_by_email=actor.email,
                text=text,
                planned_at=planned,
                state=PostState.submitted.value,
                round=1,
                version=1,
                created_at=stamp,
                updated_at=stamp,
            )
        ).returning(PostRequest.id)
        row_id = rows[0]["id"]
        for position, (filename, photo) in enumerate(photos):
            await services.store_media(
                actor=actor,
                keyring=keyring,
                post_request_id=row_id,
                position=position,
                filename=filename,
                photo=photo,
            )
        await _event(actor, row_id, PostStep.submitted, 1)
        await audit.record(
            actor,
            "post_request.submit",
            "post_request",
            row_id,
            {
                "account_id": [None, account_id],
                "text": [None, text],
                "planned_at": [None, planned],
                "media": [None, [p.sha256 for _, p in photos]],
            },
        )
        if needs:
            await _notify_submitted(await services.request_row(row_id), actor)
        else:
            digest = services.content_sha256(text, [p.content for _, p in photos])
            await _move(
                row_id,
                1,
                (PostState.submitted,),
                {
                    PostRequest.state: PostState.approved.value,
                    PostRequest.approved_sha256: digest,
                    PostRequest.approved_at: stamp,
                },
            )
            await _event(actor, row_id, PostStep.approved_without_approval, 1, sha256=digest)
            await audit.record(
                actor,
                "post_request.approve",
                "post_request",
                row_id,
                {
                    "state": [PostState.submitted.value, PostState.approved.value],
                    "approved_sha256": [None, digest],
                    "approval_required": [None, False],
                },
            )
    return await services.get_post_request(actor=actor, post_request_id=row_id)


async def _own_editable(actor: Actor, post_request_id: int) -> dict[str, Any]:
    row = await services.request_row(post_request_id)
    if not services.is_submitter(actor, row):
        raise await refuse(
            actor,
            "post.submit",
            "post_request",
            post_request_id,
            N_("only the person who submitted a post request changes it"),
        )
    if row["state"] not in (PostState.submitted, PostState.sent_back):
        raise _wrong_state(row)
    return row


async def edit(
    *,
    actor: Actor,
    post_request_id: int,
    version: int,
    text: str | None = None,
    planned_at: dt.datetime | None = None,
    resubmit: bool = False,
) -> dict[str, Any]:
    """Change a post request's text or time (its submitter, before approval); `resubmit` sends a
    sent-back one to the approvers again. An approved one is locked."""
    before = await _own_editable(actor, post_request_id)
    values: dict[Any, Any] = {}
    changes: dict[str, Any] = {}
    if text is not None:
        cleaned = clean_post_text(text)
        if cleaned != before["text"]:
            values[PostRequest.text] = cleaned
            changes["text"] = [before["text"], cleaned]
    if planned_at is not None:
        planned = clean_planned(planned_at)
        values[PostRequest.planned_at] = planned
        changes["planned_at"] = [before["planned_at"], planned]
    if resubmit:
        if before["state"] != PostState.sent_back:
            raise _wrong_state(before)
        values[PostRequest.state] = PostState.submitted.value
        values[PostRequest.round] = before["round"] + 1
        changes["state"] = [before["state"], PostState.submitted.value]
    if not values:
        return await services.get_post_request(actor=actor, post_request_id=post_request_id)
    async with write_transaction():
        after = await _move(
            post_request_id, version, (PostState.submitted, PostState.sent_back), values
        )
        if "text" in changes or "planned_at" in changes:
            await _event(actor, post_request_id, PostStep.edited, after["round"])
        if resubmit:
            await _event(actor, post_request_id, PostStep.resubmitted, after["round"])
        await audit.record(
            actor,
            "post_request.resubmit" if resubmit else "post_request.edit",
            "post_request",
            post_request_id,
            changes,
        )
        if resubmit:
            await _notify_submitted(after, actor)
    return await services.get_post_request(actor=actor, post_request_id=post_request_id)


async def add_photos(
    *,
    actor: Actor,
    keyring: KeyRing,
    post_request_id: int,
    version: int,
    files: list[tuple[str, bytes]],
) -> dict[str, Any]:
    """Attach photos, stripped first, to one's own post request before it is approved."""
    await _own_editable(actor, post_request_id)
    if not files:
        raise InvalidInput(N_("send the photo as the 'file' field"), field="file")
    photos = await _stripped(
        files, await PostMedia.count().where(PostMedia.post_request == post_request_id)
    )
    async with write_transaction():
        existing = await PostMedia.count().where(PostMedia.post_request == post_request_id)
        services.check_count(existing, len(photos))
        after = await _move(
            post_request_id, version, (PostState.submitted, PostState.sent_back), {}
        )
        for n, (filename, photo) in enumerate(photos):
            await services.store_media(
                actor=actor,
                keyring=keyring,
                post_request_id=post_request_id,
                position=existing + n,
                filename=filename,
                photo=photo,
            )
            await _event(actor, post_request_id, PostStep.media_added, after["round"])
    return await services.get_post_request(actor=actor, post_request_id=post_request_id)


async def remove_photo(
    *, actor: Actor, post_request_id: int, media_id: int, version: int
) -> dict[str, Any]:
    """Take a photo off one's own post request before it is approved."""
    await _own_editable(actor, post_request_id)
    async with write_transaction():
        after = await _move(
            post_request_id, version, (PostState.submitted, PostState.sent_back), {}
        )
        gone = await services.remove_media_row(post_request_id, media_id)
        await _event(actor, post_request_id, PostStep.media_removed, after["round"])
        await audit.record(
            actor,
            "post_media.remove",
            "post_media",
            media_id,
            {"post_request_id": [post_request_id, None], "sha256": [gone["sha256"], None]},
        )
    return await services.get_post_request(actor=actor, post_request_id=post_request_id)


async def check_may_decide(*, actor: Actor, post_request_id: int) -> None:
    """Refuse (403, audited) anyone but the account's approvers, and its submitter always."""
    row = await services.request_row(post_request_id)
    if services.is_submitter(actor, row):
        raise await refuse(
            actor,
            "post.decide",
            "post_request",
            post_request_id,
            N_("you submitted this post request: another of the account's approvers decides on it"),
        )
    if not await services.is_approver(actor, row["account"]):
        raise await refuse(
            actor,
            "post.decide",
            "post_request",
            post_request_id,
            N_("only the account's named approvers approve or send back its posts"),
        )


async def approve(
    *, actor: Actor, keyring: KeyRing, post_request_id: int, version: int
) -> dict[str, Any]:
    """Approve the version one read: it is locked, and its SHA-256 recorded."""
    await check_may_decide(actor=actor, post_request_id=post_request_id)
    stamp = now()
    async with write_transaction():
        before = await services.request_row(post_request_id)
        digest = services.content_sha256(
            before["text"],
            await services.media_contents(keyring=keyring, post_request_id=post_request_id),
        )
        after = await _move(
            post_request_id,
            version,
            (PostState.submitted,),
            {
                PostRequest.state: PostState.approved.value,
                PostRequest.approved_sha256: digest,
                PostRequest.approved_at: stamp,
                PostRequest.decided_by: actor.user_id,
                PostRequest.decided_by_email: actor.email,
                PostRequest.decided_at: stamp,
            },
        )
        await _event(actor, post_request_id, PostStep.approved, after["round"], sha256=digest)
        await audit.record(
            actor,
            "post_request.approve",
            "post_request",
            post_request_id,
            {
                "state": [before["state"], PostState.approved.value],
                "approved_sha256": [None, digest],
            },
        )
        await _notify_decided(after, actor, PostState.approved)
    return await services.get_post_request(actor=actor, post_request_id=post_request_id)


async def send_back(
    *, actor: Actor, post_request_id: int, version: int, reason: str
) -> dict[str, Any]:
    """Send a post request back to its submitter with the reason."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(N_("say why it goes back"), field="reason")
    if len(reason) > 2000:
        raise InvalidInput(N_("the reason is longer than 2000 characters"), field="reason")
    if any(ord(c) < 32 and c not in "\n\r\t" for c in reason) or "\x7f" in reason:
        raise InvalidInput(N_("the reason holds characters that cannot be kept"), field="reason")
    await check_may_decide(actor=actor, post_request_id=post_request_id)
    stamp = now()
    async with write_transaction():
        after = await _move(
            post_request_id,
            version,
            (PostState.submitted,),
            {
                PostRequest.state: PostState.sent_back.value,
                PostRequest.send_back_reason: reason,
                PostRequest.decided_by: actor.user_id,
                PostRequest.decided_by_email: actor.email,
                PostRequest.decided_at: stamp,
            },
        )
        await _event(actor, post_request_id, PostStep.sent_back, after["round"], note=reason)
        await audit.record(
            actor,
            "post_request.send_back",
            "post_request",
            post_request_id,
            {
                "state": [PostState.submitted.value, PostState.sent_back.value],
                "reason": [None, reason],
            },
        )
        await _notify_decided(after, actor, PostState.sent_back)
    return await services.get_post_request(actor=actor, post_request_id=post_request_id)


async def mark_posted(
    *, actor: Actor, post_request_id: int, version: int, url: str
) -> dict[str, Any]:
    """Record that the approved post went out, at its live https address."""
    url = clean_post_url(url)
    row = await services.request_row(post_request_id)
    if not (
        services.is_submitter(actor, row)
        or actor.role in services.POST_ANY
        or await services.is_approver(actor, row["account"])
    ):
        raise await refuse(
            actor,
            "post.submit",
            "post_request",
            post_request_id,
            N_("only its submitter, the account's approvers or comms mark a post as posted"),
        )
    stamp = now()
    async with write_transaction():
        after = await _move(
            post_request_id,
            version,
            (PostState.approved,),
            {
                PostRequest.state: PostState.posted.value,
                PostRequest.posted_url: url,
                PostRequest.posted_by: actor.user_id,
                PostRequest.posted_by_email: actor.email,
                PostRequest.posted_at: stamp,
            },
        )
        await _event(actor, post_request_id, PostStep.posted, after["round"], note=url)
        await audit.record(
            actor,
            "post_request.posted",
            "post_request",
            post_request_id,
            {
                "state": [PostState.approved.value, PostState.posted.value],
                "posted_url": [None, url],
            },
        )
    return await services.get_post_request(actor=actor, post_request_id=post_request_id)


async def withdraw_open_of(*, actor: Actor, user_ids: list[int], reason: str) -> list[int]:
    """Withdraw every open post request these users (one leaving person) submitted; their ids.

    A post waiting in a leaver's name has nobody left to change or answer for it: it is taken
    back, with the reason in its history, and can be submitted anew by whoever takes it on.
    """
    reason = reason.strip()
    if not reason:
        raise InvalidInput(N_("say why the post requests are withdrawn"), field="reason")
    mine = (await services.open_requests_of(user_ids))["submitted"]
    done: list[int] = []
    async with write_transaction():
        for item in mine:
            row = await services.request_row(item["id"])
            after = await _move(
                row["id"],
                row["version"],
                (PostState.submitted, PostState.sent_back),
                {PostRequest.state: PostState.withdrawn.value},
            )
            await _event(actor, row["id"], PostStep.withdrawn, after["round"], note=reason)
            await audit.record(
                actor,
                "post_request.withdraw",
                "post_request",
                row["id"],
                {"state": [row["state"], PostState.withdrawn.value], "reason": [None, reason]},
            )
            done.append(row["id"])
    return done
