"""States of a post request and the steps its history records."""

from __future__ import annotations

from enum import StrEnum


class PostState(StrEnum):
    """Where a post request stands."""

    # Waiting for one of the account's approvers.
    submitted = "submitted"
    # An approver sent it back with a reason; the submitter edits and resubmits it.
    sent_back = "sent_back"
    # Approved (or the account needs no approval): locked, its SHA-256 recorded.
    approved = "approved"
    # Someone posted it on the platform and recorded the live address.
    posted = "posted"
    # Taken back before it went out: its submitter left (their handover withdrew it).
    withdrawn = "withdrawn"


class PostStep(StrEnum):
    """What one line of a post request's history records."""

    submitted = "submitted"
    edited = "edited"
    media_added = "media_added"
    media_removed = "media_removed"
    sent_back = "sent_back"
    resubmitted = "resubmitted"
    approved = "approved"
    approved_without_approval = "approved_without_approval"
    posted = "posted"
    withdrawn = "withdrawn"
