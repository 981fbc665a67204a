"""HTTP controllers for notifications: subscriptions (admin) and the outbox with its dead letters."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromQuery, JSONBody, QueryParameter
from msgspec import structs

from register.notifications import flows, services
from register.notifications.enums import OutboxState
from register.notifications.schemas import (
    OutboxCounts,
    OutboxMessageOut,
    OutboxPage,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionOut,
    SubscriptionPage,
    SubscriptionUpdate,
    VersionBody,
)
from register.openapi import (
    ActorDep,
    Id,
    Idempotent,
    Limit,
    Offset,
    QueryId,
    SettingsDep,
    changes_in,
    no_content,
    problems,
)


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
        items, next_offset = await services.list_subscriptions(
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
        sub, secret = await services.create_subscription(
            actor=actor, keyring=_keyring(request), settings=settings, data=structs.asdict(data)
        )
        return SubscriptionCreated(subscription=SubscriptionOut(**sub), signing_secret=secret)

    @get("/{subscription_id:int}", opt={"action": "subscription.read"}, responses=problems(404))
    async def get_subscription(self, subscription_id: Id) -> SubscriptionOut:
        """One subscription."""
        return SubscriptionOut(**await services.get_subscription(subscription_id=subscription_id))

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
        changes = changes_in(data)
        return SubscriptionOut(
            **await services.update_subscription(
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
        await services.delete_subscription(actor=actor, subscription_id=subscription_id)

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
        data: VersionBody,
        actor: ActorDep,
    ) -> SubscriptionCreated:
        """Replace the signing secret; the new one is shown this once and the old one stops now."""
        sub, secret = await services.rotate_secret(
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
        message = await flows.queue_test(actor=actor, subscription_id=subscription_id)
        await request.app.state.outbox_worker.deliver_now([message["id"]])
        return OutboxMessageOut(**await services.get_message(message_id=message["id"]))


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
        items, next_offset = await services.list_messages(
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
        return OutboxCounts(**await services.outbox_counts())

    @get("/{message_id:int}", opt={"action": "outbox.read"}, responses=problems(404))
    async def get_message(self, message_id: Id) -> OutboxMessageOut:
        """One message with its attempts and last error."""
        return OutboxMessageOut(**await services.get_message(message_id=message_id))

    @post(
        "/{message_id:int}/retry",
        opt={"action": "outbox.retry"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def retry(self, message_id: Id, actor: ActorDep) -> OutboxMessageOut:
        """Queue a dead letter again, from its first attempt (its subscription must be active)."""
        return OutboxMessageOut(**await services.retry_message(actor=actor, message_id=message_id))


NOTIFICATION_CONTROLLERS = [SubscriptionController, OutboxController]
