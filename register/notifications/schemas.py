"""Request and response types of notifications."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar.enums import RequestEncodingType
from litestar.params import Body
from msgspec import UNSET, UnsetType

from register.enums import Role
from register.notifications.enums import EventType, OutboxState, WebhookFormat

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern="^[^\\x00]*$")]


Url = Annotated[
    str,
    msgspec.Meta(
        min_length=8,
        max_length=2000,
        pattern="^https?://[^\\x00\\s]+$",
        description="Webhook URL (https; its host must be in REGISTER_WEBHOOK_ALLOWED_HOSTS).",
    ),
]


EventTypes = Annotated[
    list[EventType],
    msgspec.Meta(min_length=1, max_length=len(EventType), description="Events to receive."),
]


Roles = Annotated[
    list[Role],
    msgspec.Meta(
        max_length=len(Role),
        description="Audience filter: empty receives every event; otherwise only events that "
        "concern one of these roles (or concern everyone). The digest comes once per role.",
    ),
]


Version = Annotated[
    int, msgspec.Meta(ge=1, description="The version you read; a stale one gets 409.")
]


class SubscriptionCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new receiver of notifications."""

    name: Name
    url: Url
    format: WebhookFormat
    event_types: EventTypes
    roles: Roles = msgspec.field(default_factory=list)
    active: bool = True


class SubscriptionUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change; omit what stays."""

    version: Version
    name: Name | UnsetType = UNSET
    url: Url | UnsetType = UNSET
    format: WebhookFormat | UnsetType = UNSET
    event_types: EventTypes | UnsetType = UNSET
    roles: Roles | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class VersionIn(msgspec.Struct, forbid_unknown_fields=True):
    """The version you read."""

    version: Version


class SubscriptionOut(msgspec.Struct):
    """A receiver of notifications; the URL shows its host only (Slack and Teams URLs are secrets)."""

    id: int
    name: str
    target: str
    format: WebhookFormat
    event_types: list[EventType]
    roles: list[Role]
    active: bool
    deactivated_reason: str
    key_version: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class SubscriptionCreated(msgspec.Struct):
    """The subscription and its signing secret, shown this once: store it in the receiver."""

    subscription: SubscriptionOut
    signing_secret: str


class SubscriptionPage(msgspec.Struct):
    """One page of subscriptions."""

    items: list[SubscriptionOut]
    limit: int
    offset: int
    next_offset: int | None


class OutboxMessageOut(msgspec.Struct):
    """One event on its way to one subscription, or one e-mail on its way to one person."""

    id: int
    event_id: str
    event_type: Annotated[
        str,
        msgspec.Meta(
            description="The event type; for an e-mail, its kind (mail.handover_item_assigned, "
            "mail.incident_task_assigned, mail.custody_transfer_waiting, mail.step_past_due, "
            "mail.digest_daily)."
        ),
    ]
    subscription_id: Annotated[
        int | None, msgspec.Meta(description="The webhook's subscription; null for an e-mail.")
    ]
    recipient: Annotated[
        str | None, msgspec.Meta(description="An e-mail's address; null for a webhook.")
    ]
    summary: str
    state: OutboxState
    attempts: int
    last_status: int | None
    last_error: str
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    dead_at: dt.datetime | None


class OutboxPage(msgspec.Struct):
    """One page of outbox messages, newest first."""

    items: list[OutboxMessageOut]
    limit: int
    offset: int
    next_offset: int | None


class OutboxCounts(msgspec.Struct):
    """Messages per state."""

    pending: int
    delivered: int
    dead: int


# Handovers have a VersionIn too, so /schema tells the two apart by module path; the body keeps
# the component name the document has always had, for clients generated from it.
VersionBody = Annotated[
    VersionIn,
    Body(
        media_type=RequestEncodingType.JSON,
        schema_component_key="register_notifications_controllers_VersionIn",
    ),
]
