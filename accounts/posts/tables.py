"""Tables of post approval: each account's approval setting and approvers, post requests, their
stripped media and their history."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    Bytea,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from accounts.posts.enums import PostState, PostStep
from accounts.tables import SocialAccount
from register.tables import User


class PostApprovalSetting(Table, tablename="post_approval_setting"):
    """Whether an account's posts need approval before they go out (no row: they do not)."""

    id = Serial(primary_key=True)
    account = ForeignKey(SocialAccount, null=False, unique=True, on_delete=OnDelete.restrict)
    requires_approval = Boolean(
        default=False, help_text="Posts wait for one of the named approvers before going out."
    )
    version = Integer(default=1)
    updated_by = Integer(null=True, default=None, help_text="User id who last changed it.")
    updated_at = Timestamptz()


class PostApprover(Table, tablename="post_approver"):
    """A user named to approve an account's posts (never their own)."""

    id = Serial(primary_key=True)
    account = ForeignKey(SocialAccount, null=False, on_delete=OnDelete.restrict)
    approver = ForeignKey(
        User, null=False, on_delete=OnDelete.restrict, help_text="The user who approves."
    )
    added_by = Integer(null=True, default=None, help_text="User id who named them.")
    added_at = Timestamptz()


class PostRequest(Table, tablename="post_request"):
    """A post someone wants to send from a company account, approved before it goes out."""

    id = Serial(primary_key=True)
    account = ForeignKey(
        SocialAccount, null=False, on_delete=OnDelete.restrict, help_text="Where it is to go out."
    )
    submitted_by = ForeignKey(
        User, null=False, on_delete=OnDelete.restrict, help_text="Who asks to post it."
    )
    submitted_by_email = Varchar(length=320, default="")
    text = Text(help_text="The post's text, exactly as it is to go out.")
    planned_at = Timestamptz(null=True, default=None, help_text="When it is meant to go out.")
    state = Varchar(length=16, choices=PostState, default=PostState.submitted.value)
    round = Integer(
        default=1, help_text="1 at submission; each resubmission after a send-back adds one."
    )
    send_back_reason = Text(default="", help_text="Why it was last sent back.")
    decided_by = Integer(null=True, default=None, help_text="User id of the last decision.")
    decided_by_email = Varchar(length=320, default="")
    decided_at = Timestamptz(null=True, default=None)
    approved_sha256 = Varchar(
        length=64,
        default="",
        help_text="SHA-256 of the approved text and media bytes (see services.content_sha256).",
    )
    approved_at = Timestamptz(null=True, default=None)
    posted_url = Varchar(length=2000, default="", help_text="The live post's https address.")
    posted_by = Integer(null=True, default=None)
    posted_by_email = Varchar(length=320, default="")
    posted_at = Timestamptz(null=True, default=None)
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class PostMedia(Table, tablename="post_media"):
    """A photo of a post request, stored stripped of location and other identifying metadata."""

    id = Serial(primary_key=True)
    post_request = ForeignKey(PostRequest, null=False, on_delete=OnDelete.restrict)
    position = Integer(default=0, help_text="Order in the post.")
    media_type = Varchar(length=40, help_text="Of the stored file: image/jpeg or image/png.")
    received_format = Varchar(length=16, help_text="What the upload was, read from its bytes.")
    width = Integer(default=0)
    height = Integer(default=0)
    size = Integer(default=0, help_text="Bytes of the stored (stripped) file.")
    sha256 = Varchar(length=64, help_text="SHA-256 of the stored (stripped) file.")
    removed = JSON(
        default="[]", help_text="Names (never values) of the metadata removed: the proof."
    )
    wrapped_key = Varchar(length=200, default="", secret=True)
    key_version = Integer(default=0)
    filename_ct = Text(null=True, default=None, secret=True, help_text="The sealed file name.")
    content_ct = Bytea(
        null=True,
        default=None,
        secret=True,
        help_text="The sealed stripped file; the original is never kept.",
    )
    uploaded_by = Integer(null=True, default=None)
    created_at = Timestamptz()


class PostEvent(Table, tablename="post_request_event"):
    """One step of a post request's history: who did what, when, and why."""

    id = Serial(primary_key=True)
    post_request = ForeignKey(PostRequest, null=False, on_delete=OnDelete.restrict)
    step = Varchar(length=32, choices=PostStep)
    round = Integer(default=1)
    user_id = Integer(null=True, default=None)
    user_email = Varchar(length=320, default="")
    note = Text(default="", help_text="The reason of a send-back, the address of a post.")
    sha256 = Varchar(length=64, default="", help_text="The approved SHA-256, on approval.")
    at = Timestamptz()


POST_INDEXES = [
    'CREATE UNIQUE INDEX IF NOT EXISTS post_approver_account_user ON "post_approver" ("account", "approver")',
    'CREATE INDEX IF NOT EXISTS post_approver_approver ON "post_approver" ("approver")',
    'CREATE INDEX IF NOT EXISTS post_request_account_state ON "post_request" ("account", "state", "id")',
    'CREATE INDEX IF NOT EXISTS post_request_submitted_by ON "post_request" ("submitted_by", "id")',
    'CREATE INDEX IF NOT EXISTS post_media_request ON "post_media" ("post_request", "position", "id")',
    'CREATE INDEX IF NOT EXISTS post_request_event_request ON "post_request_event" ("post_request", "id")',
]


def statements(engine_type: str) -> list[str]:
    """The posts' indexes (migration accounts_0013)."""
    return list(POST_INDEXES)
