"""States and kinds of handovers and their checklist items."""

from __future__ import annotations

from enum import StrEnum


class HandoverState(StrEnum):
    """Where an offboarding handover stands."""

    draft = "draft"
    open = "open"
    awaiting_sign_off = "awaiting_sign_off"
    completed = "completed"
    cancelled = "cancelled"


class HandoverItemKind(StrEnum):
    """What one checklist item of a handover asks for."""

    transfer_custody = "transfer_custody"
    rotate_credential = "rotate_credential"
    revoke_grant = "revoke_grant"
    replace_mfa_holder = "replace_mfa_holder"
    replace_recovery_contact = "replace_recovery_contact"
    export_connections = "export_connections"
    attest_deletion = "attest_deletion"
    replace_post_approver = "replace_post_approver"
    withdraw_post_requests = "withdraw_post_requests"
    template = "template"


class HandoverItemState(StrEnum):
    """Where a checklist item stands: open, done (with evidence) or waived (with a reason)."""

    open = "open"
    done = "done"
    waived = "waived"


class HandoverTeam(StrEnum):
    """Which team owns an item and signs off: HR or IT."""

    hr = "hr"
    it = "it"


class HandoverHolding(StrEnum):
    """What a leaver can still hold on a live account: each blocks completion unless excepted."""

    custodian = "custodian"
    backup = "backup"
    mfa_holder = "mfa_holder"
    recovery_email = "recovery_email"
    recovery_phone = "recovery_phone"
    grant = "grant"
    # Named to approve an account's posts (through a register user who is the leaver).
    post_approver = "post_approver"
