"""What post approval's pages share: the words for states and steps, the menu entry, times typed."""

from __future__ import annotations

import datetime as dt

from accounts.pages._common import PLATFORMS
from accounts.posts.services import account_words, post_name
from register.i18n import N_, zone
from register.pages import NavLink

NAV = NavLink(N_("Posts"), "/posts", "post.read", order=30)
PAGE_SIZE = 50
STATES = {
    "submitted": N_("Waiting for approval"),
    "sent_back": N_("Sent back"),
    "approved": N_("Approved: ready to post"),
    "posted": N_("Posted"),
    "withdrawn": N_("Withdrawn"),
}
STEPS = {
    "submitted": N_("Submitted"),
    "edited": N_("Edited"),
    "media_added": N_("Photo added"),
    "media_removed": N_("Photo removed"),
    "sent_back": N_("Sent back"),
    "resubmitted": N_("Submitted again"),
    "approved": N_("Approved and locked"),
    "approved_without_approval": N_("Locked (this account needs no approval)"),
    "posted": N_("Marked as posted"),
    "withdrawn": N_("Withdrawn"),
}
# Refusals name a state by its API word; pages say it with these.
STATE_WORDS = {"state": STATES}

__all__ = [
    "NAV",
    "PAGE_SIZE",
    "PLATFORMS",
    "STATES",
    "STATE_WORDS",
    "STEPS",
    "account_words",
    "local_moment",
    "post_name",
]


def local_moment(text: str, time_zone: str) -> dt.datetime | None:
    """A datetime-local field's value, read in the reader's time zone, in UTC (None if blank).

    Raises ValueError when it is not a date and time.
    """
    text = text.strip()
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(time_zone))
    return moment.astimezone(dt.UTC)
