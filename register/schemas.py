"""Request and response types of the core API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from register.enums import Role

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320, description="An e-mail address.")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Short = Annotated[str, msgspec.Meta(max_length=200)]
Version = Annotated[
    int, msgspec.Meta(ge=1, description="The version you read; a stale one gets 409.")
]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
Language = Literal["en", "nl"]
TimeZone = Annotated[
    str, msgspec.Meta(max_length=64, description="IANA time zone name, e.g. Europe/Amsterdam.")
]


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    """E-mail and password."""

    email: Email
    password: Password


class UserOut(msgspec.Struct):
    """A user of the register (never their password)."""

    id: int
    email: str
    name: str
    role: Role
    active: bool
    employee_id: int | None
    must_change_password: bool
    # The pages' language (null: as the browser asks) and time zone (null: UTC).
    language: Language | None
    time_zone: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class LoginOut(msgspec.Struct):
    """A new session; send csrf_token back as X-CSRF-Token on changes."""

    user: UserOut
    csrf_token: str
    expires_at: dt.datetime


class PasswordChangeIn(msgspec.Struct, forbid_unknown_fields=True):
    """The current and the new password (8-128 characters)."""

    current_password: Password
    new_password: Password


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new user; without a password, a one-time password is generated and returned once."""

    email: Email
    role: Role
    name: Short = ""
    password: Password | None = None
    employee_id: int | None = None


class UserCreated(msgspec.Struct):
    """The user created, with the one-time password if one was generated."""

    user: UserOut
    one_time_password: str | None = None


class UserUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change; omit what stays."""

    version: Version
    name: Short | UnsetType = UNSET
    role: Role | UnsetType = UNSET
    active: bool | UnsetType = UNSET
    employee_id: int | UnsetType | None = UNSET
    language: Language | UnsetType | None = UNSET
    time_zone: TimeZone | UnsetType | None = UNSET


class UserPage(msgspec.Struct):
    """A page of users."""

    items: list[UserOut]
    limit: int
    offset: int
    next_offset: int | None
    total: int | None = None


class TokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new API token, for yourself or (admin) for another user."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = 90
    user_id: int | None = None


class TokenOut(msgspec.Struct):
    """A token's record (never the token itself)."""

    id: int
    user_id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenIssued(msgspec.Struct):
    """A token just created; `token` is shown this once only."""

    id: int
    user_id: int
    name: str
    prefix: str
    token: str
    expires_at: dt.datetime | None


class TokenPage(msgspec.Struct):
    """A page of tokens."""

    items: list[TokenOut]
    limit: int
    offset: int
    next_offset: int | None
    total: int | None = None


class AuditEventOut(msgspec.Struct):
    """One event of the trail."""

    seq: int
    at: dt.datetime
    actor_id: int | None
    actor: str
    action: str
    object_type: str
    object_id: str
    changes: dict[str, Any]
    request_id: str
    client_address: str
    hash: str


class AuditPage(msgspec.Struct):
    """A page of audit events."""

    items: list[AuditEventOut]
    limit: int
    offset: int
    next_offset: int | None
    total: int | None = None


class AuditVerdict(msgspec.Struct):
    """The result of verifying the trail."""

    ok: bool
    events: int
    checkpoints: int
    first_bad_seq: int | None
    reason: str
    macs_checked: bool
    # Checkpoints matched in a witness file (`register audit verify --witness`); the API reads none.
    witnessed: int


class ReplicaHealth(msgspec.Struct, omit_defaults=True):
    """One read replica as this process found it at its last check."""

    address: Annotated[
        str, msgspec.Meta(description="host:port (never the URL, which may hold a password).")
    ]
    state: Annotated[
        Literal["ok", "lagging", "down", "unknown"],
        msgspec.Meta(
            description="ok: serves reads; lagging: further behind than "
            "REGISTER_REPLICA_MAX_LAG_SECONDS, skipped; down: does not answer or is no longer a "
            "standby, skipped; unknown: not checked yet."
        ),
    ]
    reads: Annotated[int, msgspec.Meta(description="Plain reads it served in this process.")]
    lag_seconds: (
        Annotated[
            float, msgspec.Meta(ge=0, description="Seconds behind the primary at the last check.")
        ]
        | None
    ) = None


class Health(msgspec.Struct, omit_defaults=True):
    """Liveness or readiness."""

    status: str
    database: str | None = None
    migrations: str | None = None
    detail: str | None = None
    # A replica skipped leaves status ok (its reads fall back to the primary); detail says so.
    replicas: (
        Annotated[
            list[ReplicaHealth],
            msgspec.Meta(description="With read replicas: each one's state (see README)."),
        ]
        | None
    ) = None
    primary_reads: (
        Annotated[
            int,
            msgspec.Meta(
                description="With read replicas: plain reads the primary served in this process."
            ),
        ]
        | None
    ) = None
