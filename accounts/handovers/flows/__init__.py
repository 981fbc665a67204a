"""A handover's life, stage by stage: started, worked, signed off; the clock; a bulk start.

    _start         the checklist written from the leaver's footprint; opened; cancelled
    _items         items closed with evidence, auto-completed when the register sees them done
    _item_actions  items done by their own step: custody, grants, connections, attestation,
                   post approvers replaced, open post requests withdrawn
    _sign_off      HR's and IT's sign-offs, and the signed certificate
    _exceptions    what the leaver keeps after completion, named by an admin with a reason
    _clock         grants revoked on the leaving date; overdue items notified once
    _bulk          one handover per row of a CSV file (a restructuring), all or nothing
    _links         the leaver's one-time attestation link, for a leaver without an account
    _deprovisioned a draft from the footprint when the identity provider deprovisions someone

States: draft -> open -> awaiting_sign_off -> completed, and cancelled from any live state.

    draft              the checklist is written; HR reviews it, reassigns, then opens it
    open               items are done with evidence or waived; the register completes items
                       itself when it sees their evidence (custody moved and accepted, credential
                       rotated after the start, grant revoked, MFA holder or recovery replaced)
    awaiting_sign_off  every item is done or waived, and the leaver holds nothing on a live
                       account (custody, second factor, recovery, a grant) that an admin has not
                       named as an exception; HR and IT each sign, as different people
    completed          both signed: the certificate is issued and kept byte for byte
    cancelled          the person stays (or the handover was started by mistake)

Every change takes the audit chain's lock first, which on PostgreSQL also serialises the
handover's own steps, so two people acting on one item get one success and one 409.
"""

from __future__ import annotations

from accounts.handovers.flows._bulk import bulk_start
from accounts.handovers.flows._clock import notify_overdue, revoke_due_grants
from accounts.handovers.flows._deprovisioned import start_for_deprovisioned
from accounts.handovers.flows._exceptions import record_exception
from accounts.handovers.flows._item_actions import (
    MAX_PDF_BYTES,
    accept_item,
    approver_item,
    attest_item,
    export_item,
    revoke_item,
    transfer_item,
    withdraw_posts_item,
)
from accounts.handovers.flows._items import (
    complete_item,
    get_handover,
    reassign_item,
    sync_handover,
    sync_open_handovers,
    waive_item,
)
from accounts.handovers.flows._links import (
    DEFAULT_DAYS,
    MAX_DAYS,
    UNKNOWN,
    attest_with_link,
    attestation_links,
    create_attestation_link,
    link_url,
    open_attestation_link,
    revoke_attestation_link,
)
from accounts.handovers.flows._sign_off import certificate, certificate_body, sign_off
from accounts.handovers.flows._start import (
    cancel_handover,
    checklist,
    open_handover,
    start_handover,
)

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "MAX_PDF_BYTES",
    "UNKNOWN",
    "accept_item",
    "approver_item",
    "attest_item",
    "attest_with_link",
    "attestation_links",
    "bulk_start",
    "cancel_handover",
    "certificate",
    "certificate_body",
    "checklist",
    "complete_item",
    "create_attestation_link",
    "export_item",
    "get_handover",
    "link_url",
    "notify_overdue",
    "open_attestation_link",
    "open_handover",
    "reassign_item",
    "record_exception",
    "revoke_attestation_link",
    "revoke_due_grants",
    "revoke_item",
    "sign_off",
    "start_for_deprovisioned",
    "start_handover",
    "sync_handover",
    "sync_open_handovers",
    "transfer_item",
    "waive_item",
    "withdraw_posts_item",
]
