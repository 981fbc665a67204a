"""Post approval's queries and rules, one module per concern, all named here.

_approval   which accounts' posts need approval, and who approves them
_requests   who sees which post request, the list, one with photos and history, the SHA-256
_media      photos stripped before they are kept, sealed like evidence, opened, rewrapped
"""

from __future__ import annotations

from accounts.posts.services._approval import (
    accounts_approved_by,
    approval_of,
    approver_duties,
    approver_ids,
    possible_approvers,
    replace_approver,
    requires_approval,
    set_approval,
)
from accounts.posts.services._media import (
    MAX_MEDIA,
    check_count,
    media_contents,
    open_media,
    remove_media_row,
    rewrap_media,
    store_media,
    strip_upload,
)
from accounts.posts.services._requests import (
    POST_ANY,
    SEE_ALL,
    account_words,
    check_read,
    content_sha256,
    get_post_request,
    history_of,
    is_approver,
    is_submitter,
    list_post_requests,
    media_of,
    open_requests_of,
    post_name,
    post_request_exists,
    post_request_titles,
    request_out,
    request_row,
    submittable_accounts,
)

__all__ = [
    "MAX_MEDIA",
    "POST_ANY",
    "SEE_ALL",
    "account_words",
    "accounts_approved_by",
    "approval_of",
    "approver_duties",
    "approver_ids",
    "check_count",
    "check_read",
    "content_sha256",
    "get_post_request",
    "history_of",
    "is_approver",
    "is_submitter",
    "list_post_requests",
    "media_contents",
    "media_of",
    "open_media",
    "open_requests_of",
    "possible_approvers",
    "post_name",
    "post_request_exists",
    "post_request_titles",
    "remove_media_row",
    "replace_approver",
    "request_out",
    "request_row",
    "requires_approval",
    "rewrap_media",
    "set_approval",
    "store_media",
    "strip_upload",
    "submittable_accounts",
]
