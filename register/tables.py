"""Tables of the core: people, sign-in, the audit trail, idempotency, notifications."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from register.enums import EmployeeStatus, OutboxState, Role, WebhookFormat


class Employee(Table, tablename="employee"):
    """A person in the staff directory; may hold accounts and connections."""

    id = Serial(primary_key=True)
    name = Varchar(length=200, help_text="Full name as HR records it.")
    work_email = Varchar(
        length=320, unique=True, help_text="Lower-cased work e-mail; identifies the person."
    )
    department = Varchar(length=120, default="", index=True)
    job_title = Varchar(length=200, default="")
    manager = ForeignKey(
        "self",
        null=True,
        default=None,
        on_delete=OnDelete.set_null,
        help_text="Line manager, another employee.",
    )
    start_date = Date(
        null=True, default=None, help_text="First day of employment; opens the connections window."
    )
    leaving_date = Date(
        null=True, default=None, index=True, help_text="Last day of employment, if known."
    )
    status = Varchar(
        length=16, default=EmployeeStatus.active.value, choices=EmployeeStatus, index=True
    )
    version = Integer(default=1, help_text="Bumped on every update; a stale update gets 409.")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class User(Table, tablename="register_user"):
    """Someone who signs in to the register, with one role."""

    id = Serial(primary_key=True)
    email = Varchar(length=320, unique=True, help_text="Lower-cased sign-in e-mail.")
    name = Varchar(length=200, default="")
    role = Varchar(
        length=16, choices=Role, help_text="Decides what the user may do; see register/access.py."
    )
    active = Boolean(
        default=True,
        help_text="Inactive users cannot sign in; their sessions and tokens stop at once.",
    )
    employee = ForeignKey(
        Employee,
        null=True,
        default=None,
        on_delete=OnDelete.set_null,
        help_text="The staff record of this user, if any.",
    )
    password_hash = Varchar(
        length=200,
        null=True,
        default=None,
        secret=True,
        help_text="PBKDF2-SHA256; null: no password sign-in.",
    )
    must_change_password = Boolean(
        default=False,
        help_text="Set for one-time passwords; only a password change is allowed until cleared.",
    )
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class ApiToken(Table, tablename="api_token"):
    """A bearer token for scripts; only its SHA-256 is kept."""

    id = Serial(primary_key=True)
    user = ForeignKey(
        User, null=False, on_delete=OnDelete.restrict, help_text="Whose rights the token carries."
    )
    name = Varchar(
        length=120, default="", help_text="What the token is for, to recognise it later."
    )
    token_hash = Varchar(
        length=64,
        unique=True,
        secret=True,
        help_text="SHA-256 hex of the token; the token itself is shown once.",
    )
    prefix = Varchar(length=16, help_text="First characters of the token, to tell tokens apart.")
    created_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class UserSession(Table, tablename="user_session"):
    """A browser session; the cookie holds a random id whose SHA-256 is kept here."""

    id = Serial(primary_key=True)
    user = ForeignKey(User, null=False, on_delete=OnDelete.restrict)
    session_hash = Varchar(length=64, unique=True, secret=True)
    csrf_token = Varchar(
        length=64,
        secret=True,
        help_text="Must come back in X-CSRF-Token on state-changing requests.",
    )
    created_at = Timestamptz()
    expires_at = Timestamptz()
    ended_at = Timestamptz(null=True, default=None)
    client_address = Varchar(length=64, default="")


class AuditEvent(Table, tablename="audit_event"):
    """One entry of the append-only audit trail, hash-chained to the one before."""

    id = Serial(primary_key=True)
    seq = Integer(
        unique=True,
        help_text="Position in the chain, contiguous from 1; a gap means a deleted event.",
    )
    at = Timestamptz(help_text="UTC time of the event.")
    actor_id = Integer(
        null=True, default=None, help_text="User id, or null for the system and anonymous callers."
    )
    actor = Varchar(length=320, default="", help_text="E-mail or label of the actor at the time.")
    action = Varchar(
        length=80, help_text="What happened, e.g. employee.update or auth.login_failed."
    )
    object_type = Varchar(length=80, default="")
    object_id = Varchar(length=320, default="")
    changes = JSON(
        default="{}", help_text="Changed fields as {field: [old, new]}; secret values never appear."
    )
    request_id = Varchar(length=64, default="")
    client_address = Varchar(length=64, default="")
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64, help_text="SHA-256 over prev_hash and this event's canonical JSON.")
    mac = Varchar(
        length=64,
        null=True,
        default=None,
        help_text="HMAC-SHA-256 of `hash` under a key kept outside the database (derived from "
        "the secret key file); null only on events written before the trail was keyed.",
    )


class AuditCheckpoint(Table, tablename="audit_checkpoint"):
    """A signed statement that the chain up to `seq` ends in `hash`."""

    id = Serial(primary_key=True)
    seq = Integer(help_text="The last event covered.")
    hash = Varchar(length=64)
    signed_at = Timestamptz()
    key_id = Varchar(length=64, help_text="Fingerprint of the Ed25519 public key that signed.")
    signature = Text(help_text="Base64 Ed25519 signature over the checkpoint's canonical JSON.")


class IdempotencyRecord(Table, tablename="idempotency_record"):
    """The first answer to a creating POST with an Idempotency-Key, replayed on retry."""

    id = Serial(primary_key=True)
    scope = Varchar(
        length=64, help_text="Who sent it (user id), so keys of different users never collide."
    )
    key = Varchar(length=200)
    request_hash = Varchar(length=64, help_text="SHA-256 of method, path and body.")
    status_code = Integer()
    content_type = Varchar(length=120, default="application/json")
    body = Text(default="")
    created_at = Timestamptz()


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
        null=False,
        on_delete=OnDelete.cascade,
        index=True,
        help_text="Where it goes; deleting the subscription drops its queue.",
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
    last_status = Integer(null=True, default=None, help_text="HTTP status of the last attempt.")
    created_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None, index=True)
    dead_at = Timestamptz(null=True, default=None)


__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEvent",
    "Employee",
    "IdempotencyRecord",
    "OutboxMessage",
    "Subscription",
    "User",
    "UserSession",
]
