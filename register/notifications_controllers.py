"""HTTP controllers for notifications: subscriptions (admin) and the outbox with its dead letters."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromQuery, JSONBody, QueryParameter
from msgspec import UNSET, UnsetType, structs

from register import notifications
from register.controllers import ActorDep, Id, Limit, Offset, QueryId, SettingsDep
from register.enums import EventType, OutboxState, Role, WebhookFormat
from register.openapi import Idempotent, no_content, problems

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
    """One event on its way to one subscription."""

    id: int
    event_id: str
    event_type: EventType
    subscription_id: int
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


def _keyring(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.keyring.get()


class SubscriptionController(Controller):
    """Who is told what: Slack, Teams and signed JSON webhooks."""

    path = "/api/v1/subscriptions"
    tags = ["notifications"]

    @get("/", opt={"action": "subscription.read"}, responses=problems())
    async def list_subscriptions(
        self,
        limit: Limit = 50,
        offset: Offset = 0,
        active: FromQuery[bool | None] = None,
    ) -> SubscriptionPage:
        """Subscriptions by id."""
        items, next_offset = await notifications.list_subscriptions(
            limit=limit, offset=offset, active=active
        )
        return SubscriptionPage(
            items=msgspec.convert(items, list[SubscriptionOut]),
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    @post(
        "/",
        # The signing secret never goes into the replay record (see IdempotencyMiddleware).
        opt={
            "action": "subscription.write",
            "idempotent": True,
            "shown_once": ("signing_secret",),
        },
        responses=problems(409),
        operation_class=Idempotent,
    )
    async def create_subscription(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SubscriptionCreate],
        actor: ActorDep,
        settings: SettingsDep,
    ) -> SubscriptionCreated:
        """Add a receiver; the answer holds its signing secret, shown this once."""
        sub, secret = await notifications.create_subscription(
            actor=actor, keyring=_keyring(request), settings=settings, data=structs.asdict(data)
        )
        return SubscriptionCreated(subscription=SubscriptionOut(**sub), signing_secret=secret)

    @get("/{subscription_id:int}", opt={"action": "subscription.read"}, responses=problems(404))
    async def get_subscription(self, subscription_id: Id) -> SubscriptionOut:
        """One subscription."""
        return SubscriptionOut(
            **await notifications.get_subscription(subscription_id=subscription_id)
        )

    @patch(
        "/{subscription_id:int}", opt={"action": "subscription.write"}, responses=problems(404, 409)
    )
    async def update_subscription(
        self,
        request: Request[Any, Any, Any],
        subscription_id: Id,
        data: JSONBody[SubscriptionUpdate],
        actor: ActorDep,
        settings: SettingsDep,
    ) -> SubscriptionOut:
        """Change a subscription (a new URL, other events, on or off); send the version you read."""
        changes = {
            k: v for k, v in structs.asdict(data).items() if v is not UNSET and k != "version"
        }
        return SubscriptionOut(
            **await notifications.update_subscription(
                actor=actor,
                keyring=_keyring(request),
                settings=settings,
                subscription_id=subscription_id,
                version=data.version,
                changes=changes,
            )
        )

    @delete(
        "/{subscription_id:int}",
        opt={"action": "subscription.write"},
        responses={**problems(404), **no_content("Deleted with its queued messages")},
    )
    async def delete_subscription(self, subscription_id: Id, actor: ActorDep) -> None:
        """Remove a subscription and the messages still queued for it."""
        await notifications.delete_subscription(actor=actor, subscription_id=subscription_id)

    @post(
        "/{subscription_id:int}/rotate-secret",
        opt={"action": "subscription.write"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def rotate_secret(
        self,
        request: Request[Any, Any, Any],
        subscription_id: Id,
        data: JSONBody[VersionIn],
        actor: ActorDep,
    ) -> SubscriptionCreated:
        """Replace the signing secret; the new one is shown this once and the old one stops now."""
        sub, secret = await notifications.rotate_secret(
            actor=actor,
            keyring=_keyring(request),
            subscription_id=subscription_id,
            version=data.version,
        )
        return SubscriptionCreated(subscription=SubscriptionOut(**sub), signing_secret=secret)

    @post(
        "/{subscription_id:int}/test",
        opt={"action": "subscription.write"},
        status_code=200,
        responses=problems(404),
    )
    async def send_test(
        self, request: Request[Any, Any, Any], subscription_id: Id, actor: ActorDep
    ) -> OutboxMessageOut:
        """Send a test event to this subscription now; the answer shows whether it arrived.

        A failed test stays in the outbox and is retried like any other message.
        """
        message = await notifications.queue_test(actor=actor, subscription_id=subscription_id)
        await request.app.state.outbox_worker.deliver_now([message["id"]])
        return OutboxMessageOut(**await notifications.get_message(message_id=message["id"]))


class OutboxController(Controller):
    """Messages on their way, delivered ones, and dead letters with their last error."""

    path = "/api/v1/outbox"
    tags = ["notifications"]

    @get("/", opt={"action": "outbox.read"}, responses=problems())
    async def list_messages(
        self,
        limit: Limit = 50,
        offset: Offset = 0,
        message_state: Annotated[
            OutboxState | None,
            QueryParameter(name="state", description="pending, delivered or dead."),
        ] = None,
        subscription_id: QueryId = None,
        event_id: Annotated[
            str | None, QueryParameter(max_length=32, pattern="^[0-9a-f]{1,32}$")
        ] = None,
    ) -> OutboxPage:
        """Messages newest first; `state=dead` lists the dead letters."""
        items, next_offset = await notifications.list_messages(
            limit=limit,
            offset=offset,
            state=message_state,
            subscription_id=subscription_id,
            event_id=event_id,
        )
        return OutboxPage(
            items=[OutboxMessageOut(**m) for m in items],
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    @get("/counts", opt={"action": "outbox.read"}, responses=problems())
    async def counts(self) -> OutboxCounts:
        """How many messages are pending, delivered (within retention) and dead."""
        return OutboxCounts(**await notifications.outbox_counts())

    @get("/{message_id:int}", opt={"action": "outbox.read"}, responses=problems(404))
    async def get_message(self, message_id: Id) -> OutboxMessageOut:
        """One message with its attempts and last error."""
        return OutboxMessageOut(**await notifications.get_message(message_id=message_id))

    @post(
        "/{message_id:int}/retry",
        opt={"action": "outbox.retry"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def retry(self, message_id: Id, actor: ActorDep) -> OutboxMessageOut:
        """Queue a dead letter again, from its first attempt (its subscription must be active)."""
        return OutboxMessageOut(
            **await notifications.retry_message(actor=actor, message_id=message_id)
        )


NOTIFICATION_CONTROLLERS = [SubscriptionController, OutboxController]
