"""Request and response types of post approval."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from accounts.posts.enums import PostState, PostStep

Id = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
Version = Annotated[
    int, msgspec.Meta(ge=1, le=2**31 - 1, description="The version you read; a stale one gets 409.")
]
PostText = Annotated[
    str,
    msgspec.Meta(
        max_length=5000, description="The post's text, exactly as it is to go out (1-5000)."
    ),
]


class AccountRef(msgspec.Struct):
    """The account a post is for."""

    platform: str
    handle: str


class Person(msgspec.Struct):
    """A user by name and e-mail."""

    user_id: int
    name: str
    email: str


class PostRequestCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A post to submit for an account you hold an active grant on (photos: POST .../media)."""

    account_id: Id
    text: PostText
    planned_at: dt.datetime | None = msgspec.field(default=None)


class PostRequestEdit(msgspec.Struct, forbid_unknown_fields=True):
    """A change to your post request before it is approved (omitted fields stay)."""

    version: Version
    text: PostText | None = None
    planned_at: dt.datetime | None = None


class Resubmit(msgspec.Struct, forbid_unknown_fields=True):
    """Send a sent-back post request to the approvers again, optionally with a new text."""

    version: Version
    text: PostText | None = None
    planned_at: dt.datetime | None = None


class Decide(msgspec.Struct, forbid_unknown_fields=True):
    """Approve the version you read."""

    version: Version


class SendBack(msgspec.Struct, forbid_unknown_fields=True):
    """Send it back with the reason the submitter reads."""

    version: Version
    reason: Annotated[str, msgspec.Meta(max_length=2000, description="Why it goes back.")]


class MarkPosted(msgspec.Struct, forbid_unknown_fields=True):
    """The approved post went out: its live address."""

    version: Version
    url: Annotated[
        str, msgspec.Meta(max_length=2000, description="https address of the live post.")
    ]


class MediaOut(msgspec.Struct):
    """A stored photo: stripped of location and identifying metadata, with what was removed."""

    id: int
    position: int
    media_type: str
    received_format: str
    width: int
    height: int
    size: int
    sha256: Annotated[str, msgspec.Meta(description="SHA-256 of the stored (stripped) file.")]
    removed: Annotated[
        list[str],
        msgspec.Meta(description="Names (never values) of the metadata removed: the proof."),
    ]
    created_at: dt.datetime


class HistoryOut(msgspec.Struct):
    """One step of a post request."""

    step: PostStep
    round: int
    user_id: int | None
    user_email: str
    user_name: str
    note: str
    sha256: str
    at: dt.datetime


class MayDo(msgspec.Struct):
    """What the caller may do with it now."""

    edit: bool
    resubmit: bool
    decide: bool
    mark_posted: bool


class PostRequestSummary(msgspec.Struct):
    """A post request in a list."""

    id: int
    account_id: int
    account: AccountRef
    submitted_by: int
    submitted_by_name: str
    submitted_by_email: str
    text: str
    planned_at: dt.datetime | None
    state: PostState
    round: int
    send_back_reason: str
    decided_by: int | None
    decided_by_email: str
    decided_at: dt.datetime | None
    approved_sha256: Annotated[
        str,
        msgspec.Meta(
            description="Set on approval: SHA-256 over the bytes "
            "`social-asset-register/post-request/v1`, then the text as UTF-8 and each stored "
            "photo in position order, each preceded by its length as 8 bytes big-endian."
        ),
    ]
    approved_at: dt.datetime | None
    posted_url: str
    posted_by_email: str
    posted_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class PostRequestOut(PostRequestSummary):
    """A post request with its photos, history, approvers and what you may do."""

    decided_by_name: str
    media: list[MediaOut]
    history: list[HistoryOut]
    approvers: list[Person]
    may: MayDo


class PostRequestPage(msgspec.Struct):
    """A page of post requests."""

    items: list[PostRequestSummary]
    limit: int
    offset: int
    next_offset: int | None


class ApprovalOut(msgspec.Struct):
    """Whether an account's posts need approval, and who approves them."""

    account_id: int
    handle: str
    platform: str
    requires_approval: bool
    approvers: list[Person]
    version: Annotated[int, msgspec.Meta(description="0 until it is first set.")]
    updated_at: dt.datetime | None


class ApprovalIn(msgspec.Struct, forbid_unknown_fields=True):
    """Set whether an account's posts need approval, and its approvers (user ids)."""

    requires_approval: bool
    approver_ids: Annotated[list[Id], msgspec.Meta(max_length=20)]
    version: Annotated[
        int, msgspec.Meta(ge=0, le=2**31 - 1, description="The version you read (0: never set).")
    ]
