"""Request and response types of the handover API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec
from litestar.enums import RequestEncodingType
from litestar.params import Body
from msgspec import UNSET, UnsetType

from accounts.handovers.enums import (
    HandoverHolding,
    HandoverItemKind,
    HandoverItemState,
    HandoverState,
    HandoverTeam,
)

EmployeeId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
Version = Annotated[
    int, msgspec.Meta(ge=1, le=2**31 - 1, description="The version you read; a stale one gets 409.")
]
Note = Annotated[str, msgspec.Meta(max_length=2000)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Email = Annotated[str, msgspec.Meta(max_length=320)]
Phone = Annotated[str, msgspec.Meta(max_length=40)]


class FootprintEmployee(msgspec.Struct):
    """The person the footprint is about."""

    id: int
    name: str
    work_email: str
    department: str
    status: str
    leaving_date: dt.date | None


class FootprintAccount(msgspec.Struct):
    """A live account the person holds, backs, holds the second factor of, or could recover."""

    account_id: int
    platform: str
    handle: str
    display_name: str
    department: str
    status: str
    roles: list[str] = msgspec.field(
        default_factory=list
    )  # custodian, backup, mfa_holder, recovery_email, recovery_phone
    recovery_email: str = ""
    recovery_phone: str = ""


class FootprintGrant(msgspec.Struct):
    """An active grant of the person's."""

    grant_id: int
    account_id: int
    platform: str
    handle: str
    level: str
    platform_role: str
    granted_at: dt.datetime


class FootprintCredential(msgspec.Struct):
    """A stored credential the person held or revealed: it is rotated."""

    account_id: int
    held: bool
    revealed: bool


class FootprintReveal(msgspec.Struct):
    """A credential the person revealed recently (from the audit trail)."""

    account_id: int
    platform: str
    handle: str
    times: int
    last_revealed_at: dt.datetime


class FootprintConnections(msgspec.Struct):
    """Connections recorded for the person, by state."""

    held: int
    total: int
    by_state: dict[str, int]


class FootprintApprover(msgspec.Struct):
    """A user who approves an account's posts."""

    user_id: int
    name: str
    email: str


class FootprintPostApproval(msgspec.Struct):
    """An account whose posts the person is named to approve."""

    account_id: int
    platform: str
    handle: str
    requires_approval: bool
    user_ids: list[int]
    other_approvers: list[FootprintApprover]
    only_approver: bool
    # The account's posts need approval and nobody else approves them: posts would stall.
    blocker: bool


class FootprintPostRequest(msgspec.Struct):
    """A post request still open: submitted by the person, or waiting on them."""

    id: int
    account_id: int
    platform: str
    handle: str
    state: str
    excerpt: str
    submitted_by_name: str
    planned_at: dt.datetime | None = None


class FootprintPostRequests(msgspec.Struct):
    """The person's open post requests, and others' waiting for their decision."""

    submitted: list[FootprintPostRequest]
    waiting_on: list[FootprintPostRequest]


class Footprint(msgspec.Struct):
    """Everything a leaver holds, could get into or could recover."""

    employee: FootprintEmployee
    matched_emails: list[str]
    matched_phones: list[str]
    accounts: list[FootprintAccount]
    grants: list[FootprintGrant]
    credentials: list[FootprintCredential]
    revealed: list[FootprintReveal]
    reveal_days: int
    connections: FootprintConnections
    post_approvals: list[FootprintPostApproval]
    post_requests: FootprintPostRequests
    other: dict[str, list[dict[str, Any]]]


class HandoverStart(msgspec.Struct, forbid_unknown_fields=True):
    """A handover to start for a leaver."""

    employee_id: EmployeeId
    successor_id: Annotated[
        int,
        msgspec.Meta(
            ge=1, le=2**31 - 1, description="Default successor: receives custody and connections."
        ),
    ]
    leaving_date: dt.date | None = msgspec.field(default=None)
    emails: Annotated[list[Email], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    phones: Annotated[list[Phone], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    notes: Note = ""
    open: bool = False


class VersionIn(msgspec.Struct, forbid_unknown_fields=True):
    """The version of the handover you read."""

    version: Version


# Notifications have a VersionIn too, so /schema tells the two apart by module path; the body
# keeps the component name the document has always had, for clients generated from it.
VersionBody = Annotated[
    VersionIn,
    Body(
        media_type=RequestEncodingType.JSON,
        schema_component_key="accounts_handover_schemas_VersionIn",
    ),
]


class CancelIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why the handover is cancelled."""

    version: Version
    reason: Reason
    person_stays: bool = True


class CompleteIn(msgspec.Struct, forbid_unknown_fields=True):
    """Evidence that an item is done."""

    note: Note = ""
    reference: Annotated[str, msgspec.Meta(max_length=500)] = ""


class WaiveIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why an item is waived."""

    reason: Reason


class ReassignIn(msgspec.Struct, forbid_unknown_fields=True):
    """Who takes the item over."""

    version: Version
    assignee_id: EmployeeId


class TransferIn(msgspec.Struct, forbid_unknown_fields=True):
    """A note for the custody transfer."""

    note: Note = ""


class AnswerIn(msgspec.Struct, forbid_unknown_fields=True):
    """The successor's answer to a custody transfer."""

    accept: bool = True
    note: Note = ""


class RevokeIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why the grant is revoked."""

    reason: Note = ""


class ApproverIn(msgspec.Struct, forbid_unknown_fields=True):
    """Who approves the account's posts in the leaver's place (null: nobody, others do)."""

    replacement_user_id: (
        Annotated[
            int,
            msgspec.Meta(ge=1, le=2**31 - 1, description="The register user who takes over."),
        ]
        | None
    ) = None
    note: Note = ""


class WithdrawPostsIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why the leaver's open post requests are withdrawn (kept in their history)."""

    reason: Note = ""


class AttestIn(msgspec.Struct, forbid_unknown_fields=True):
    """The leaver's attestation that the connections were deleted from their personal profile."""

    typed_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    signed_on: dt.date
    signed_pdf_base64: Annotated[str, msgspec.Meta(max_length=14_000_000)] | None = None
    filename: Annotated[str, msgspec.Meta(max_length=255)] = ""


class SignOffIn(msgspec.Struct, forbid_unknown_fields=True):
    """A team's sign-off."""

    team: HandoverTeam
    note: Note = ""


class ExceptionIn(msgspec.Struct, forbid_unknown_fields=True):
    """Something the leaver keeps after the handover (an admin names it, with a reason)."""

    holding: HandoverHolding
    reason: Reason
    account_id: (
        Annotated[
            int,
            msgspec.Meta(ge=1, le=2**31 - 1, description="The account (every holding but grant)."),
        ]
        | None
    ) = None
    grant_id: (
        Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1, description="The grant (holding grant).")]
        | None
    ) = None


class HoldingOut(msgspec.Struct):
    """Something the leaver still holds on a live account, which stops completion."""

    holding: HandoverHolding
    account_id: int
    platform: str
    handle: str
    grant_id: int | None
    level: str


class HandoverExceptionOut(msgspec.Struct):
    """Something the leaver keeps after completion, as an admin named it."""

    id: int
    holding: HandoverHolding
    account_id: int
    platform: str
    handle: str
    grant_id: int | None
    reason: str
    recorded_by: int | None
    recorded_by_email: str
    recorded_at: dt.datetime


class HandoverItemOut(msgspec.Struct):
    """One checklist item."""

    id: int
    handover_id: int
    position: int
    kind: HandoverItemKind
    title: str
    target_type: str
    target_id: int | None
    detail: dict[str, Any]
    owner_role: HandoverTeam
    assignee_id: int | None
    due_date: dt.date
    evidence_needed: str
    state: HandoverItemState
    evidence: dict[str, Any]
    resolved_by: int | None
    resolved_by_email: str
    resolved_at: dt.datetime | None
    auto_completed: bool
    waive_reason: str
    overdue: bool
    version: int


class SignOffOut(msgspec.Struct):
    """One team's sign-off."""

    team: HandoverTeam
    user_id: int
    user_email: str
    note: str
    signed_at: dt.datetime


class HandoverSummary(msgspec.Struct):
    """A handover without its checklist."""

    id: int
    employee_id: int
    employee_name: str
    successor_id: int
    successor_name: str
    leaving_date: dt.date
    state: HandoverState
    notes: str
    leaver_emails: list[str]
    leaver_phones: list[str]
    started_by: int | None
    started_at: dt.datetime
    opened_at: dt.datetime | None
    completed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    cancel_reason: str
    items_open: int
    items_done: int
    items_waived: int
    overdue: bool
    certificate_sha256: str
    version: int


class HandoverOut(HandoverSummary):
    """A handover with its checklist and sign-offs."""

    items: list[HandoverItemOut] = msgspec.field(default_factory=list)
    sign_offs: list[SignOffOut] = msgspec.field(default_factory=list)
    # While live: what the leaver still holds that no exception names (completion waits for it).
    remaining: list[HoldingOut] = msgspec.field(default_factory=list)
    exceptions: list[HandoverExceptionOut] = msgspec.field(default_factory=list)
    # Findings of the other parts about the leaver, as the footprint's `other` (open incidents on
    # their accounts); once completed, as the certificate states them.
    other: dict[str, list[dict[str, Any]]] = msgspec.field(default_factory=dict)


class HandoverPage(msgspec.Struct):
    """A page of handovers."""

    items: list[HandoverSummary]
    limit: int
    offset: int
    next_offset: int | None


class OverdueItem(HandoverItemOut):
    """An overdue item, with the leaver's name."""

    employee_name: str = ""
    notified: bool = False


class OverdueReport(msgspec.Struct):
    """Overdue handovers and items."""

    handovers: list[HandoverSummary]
    items: list[OverdueItem]


class TemplateCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A checklist item for every handover of a department."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    department: Annotated[str, msgspec.Meta(max_length=120)] = ""
    description: Note = ""
    owner_role: HandoverTeam = HandoverTeam.hr
    day_offset: Annotated[int, msgspec.Meta(ge=-365, le=365)] = 0
    active: bool = True
    position: (
        Annotated[
            int,
            msgspec.Meta(
                ge=0, le=100000, description="Order in the department; omitted: after the rest."
            ),
        ]
        | None
    ) = None


class TemplateUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Fields of a template to change."""

    version: Version
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | UnsetType = UNSET
    department: Annotated[str, msgspec.Meta(max_length=120)] | UnsetType = UNSET
    description: Note | UnsetType = UNSET
    owner_role: HandoverTeam | UnsetType = UNSET
    day_offset: Annotated[int, msgspec.Meta(ge=-365, le=365)] | UnsetType = UNSET
    active: bool | UnsetType = UNSET
    position: Annotated[int, msgspec.Meta(ge=0, le=100000)] | UnsetType = UNSET


class TemplateOut(msgspec.Struct):
    """A checklist template."""

    id: int
    department: str
    title: str
    description: str
    owner_role: HandoverTeam
    day_offset: int
    active: bool
    position: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class BulkResult(msgspec.Struct):
    """Handovers started from one CSV."""

    started: int
    handover_ids: list[int]
    opened: bool


class AttestationLinkIn(msgspec.Struct, forbid_unknown_fields=True):
    """How long the leaver's one-time attestation link stays valid."""

    days: Annotated[
        int, msgspec.Meta(ge=1, le=30, description="Days the link is valid, 1 to 30.")
    ] = 7


class AttestationLinkOut(msgspec.Struct):
    """A one-time attestation link as HR sees it afterwards: never its token."""

    id: int
    state: Annotated[
        Literal["open", "used", "expired", "revoked"],
        msgspec.Meta(description="open: the leaver can still use it; the others open nothing."),
    ]
    created_by: int | None
    created_by_email: str
    created_at: dt.datetime
    expires_at: dt.datetime
    opened_at: dt.datetime | None
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoked_by_email: str


class AttestationLinkCreated(msgspec.Struct):
    """The new link, with its address and token shown this once: send the address to the leaver."""

    link: AttestationLinkOut
    url: Annotated[
        str,
        msgspec.Meta(
            description="What the leaver opens, without signing in: REGISTER_PUBLIC_URL (or the "
            "request's address) + /attest/ + token. Shown once; a replay does not repeat it."
        ),
    ]
    token: Annotated[str, msgspec.Meta(description="The link's token; only its hash is kept.")]
