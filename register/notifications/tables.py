"""Tables of notifications: subscriptions and the outbox, and the outbox's extra index."""

from __future__ import annotations

from piccolo.columns import JSON, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from register.notifications.enums import OutboxState, WebhookFormat


class Subscription(Table, tablename="subscription"):
    """A receiver of notifications: which events, where, in which format."""

    id = Serial(primary_key=True)
    name = Varchar(length=120, help_text="What the receiver is, e.g. '#it-oncall in Slack'.")
    target = Varchar(
        length=300, help_text="Scheme and host of the webhook URL, shown in lists in its stead."
    )
    url_sealed = Text(
        secret=True,
        help_text="The webhook URL, sealed: Slack and Teams URLs carry their own access token.",
    )
    format = Varchar(length=16, choices=WebhookFormat, help_text="slack, teams or json.")
    event_types = JSON(default="[]", help_text="Event types delivered to this receiver.")
    roles = JSON(
        default="[]",
        help_text="Audience filter: empty receives every event; else events concerning these roles.",
    )
    active = Boolean(default=True, index=True)
    wrapped_key = Text(
        secret=True, help_text="Data key of the signing secret, sealed by a master key."
    )
    key_version = Integer(help_text="Master key version that wraps the data key.")
    secret_sealed = Text(secret=True, help_text="The HMAC signing secret, sealed by the data key.")
    deactivated_reason = Varchar(
        length=300, default="", help_text="Why the register turned it off (e.g. 410 Gone)."
    )
    version = Integer(default=1, help_text="Bumped on every update; a stale update gets 409.")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class OutboxMessage(Table, tablename="outbox_message"):
    """One event for one subscription, written with the change that caused it, until delivered."""

    id = Serial(primary_key=True)
    event_id = Varchar(
        length=32, index=True, help_text="uuid4 hex shared by every target of one event."
    )
    event_type = Varchar(length=40)
    subscription = ForeignKey(
        Subscription,
        null=True,
        default=None,
        on_delete=OnDelete.cascade,
        index=True,
        help_text="Where it goes; deleting the subscription drops its queue. "
        "Null for an e-mail: its recipient is in the event's `mail`.",
    )
    event = JSON(default="{}", help_text="The event envelope: id, type, time, summary, payload.")
    state = Varchar(length=16, choices=OutboxState, default=OutboxState.pending.value, index=True)
    due_at = Timestamptz(
        null=True,
        default=None,
        index=True,
        help_text="When a worker may claim it next (a claim pushes it out by the lease); null once final.",
    )
    attempts = Integer(default=0, help_text="Delivery attempts started so far.")
    claimed_by = Varchar(length=80, default="", help_text="The worker that holds the lease.")
    last_error = Text(default="", help_text="Why the last attempt failed.")
    last_status = Integer(
        null=True,
        default=None,
        help_text="HTTP status of the last attempt (an e-mail's: the SMTP server's reply code).",
    )
    created_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None, index=True)
    dead_at = Timestamptz(null=True, default=None)


# The daily digest looks for today's digest every minute.
NOTIFICATION_INDEXES = [
    'CREATE INDEX IF NOT EXISTS outbox_message_type_created ON "outbox_message" ("event_type", "created_at")',
]


def statements(engine_type: str) -> list[str]:
    """Indexes of the outbox (migration register_0004)."""
    return list(NOTIFICATION_INDEXES)
