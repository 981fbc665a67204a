"""Signing in: password sign-in with throttling, browser sessions, bearer tokens, and the middleware."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import random
import secrets
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from register import audit
from register.actor import Actor
from register.db import as_utc, fetch, write_transaction
from register.db import now as utcnow
from register.enums import Role
from register.errors import InvalidInput, NotAuthenticated, NotFound, TooManyAttempts
from register.i18n import N_
from register.passwords import check_policy, hash_password, verify_password
from register.settings import Settings
from register.tables import ApiToken, AuditEvent, User, UserSession

SESSION_COOKIE = "register_session"
CSRF_COOKIE = "register_csrf"
CSRF_HEADER = "x-csrf-token"
TOKEN_PREFIX = "sar_"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_GRANULARITY = dt.timedelta(minutes=5)


def sha256_hex(value: str) -> str:
    """SHA-256 hex of a string (tokens and session ids are stored this way)."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class NewSession:
    """A session just opened: the cookie value and CSRF token are shown to the client once."""

    session_id: str
    csrf_token: str
    expires_at: dt.datetime
    user: dict[str, Any]


@dataclass(frozen=True)
class NewToken:
    """A token just issued; `token` is never retrievable again."""

    id: int
    token: str
    prefix: str
    name: str
    expires_at: dt.datetime | None
    user_id: int


async def _throttle(settings: Settings, email: str, client: str) -> None:
    since = utcnow() - dt.timedelta(seconds=settings.login_window_seconds)
    for column, value, limit in (
        (AuditEvent.object_id, email, settings.login_max_failures),
        (AuditEvent.client_address, client, settings.login_max_failures_per_client),
    ):
        if not value:
            continue
        rows = await (
            AuditEvent.select(AuditEvent.at)
            .where(AuditEvent.action == "auth.login_failed", column == value, AuditEvent.at > since)
            .order_by(AuditEvent.at)
        )
        if len(rows) >= limit:
            oldest = as_utc(rows[-limit]["at"])
            until = oldest + dt.timedelta(seconds=settings.login_window_seconds)
            wait = int((until - utcnow()).total_seconds()) + 1
            raise TooManyAttempts(
                N_("too many failed sign-ins; wait before trying again"), retry_after=max(wait, 1)
            )


# Sign-in attempts for one e-mail, and from one address, take turns within a process, so guesses
# sent all at once are hashed one after another rather than all together. Across processes (several
# servers) the count is kept by the throttle's second look in the transaction that records the
# outcome (see _attempt). Weak values, so idle locks go away.
_turns: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def _turn(key: str) -> asyncio.Lock:
    lock = _turns.get(key)
    if lock is None:
        lock = _turns[key] = asyncio.Lock()
    return lock


async def sign_in(*, settings: Settings, actor: Actor, email: str, password: str) -> NewSession:
    """Check e-mail and password and open a browser session; failures are audited and throttled."""
    email = email.strip().lower()
    # Always the e-mail's turn before the address's, so two attempts never wait on each other.
    async with _turn("email:" + email), _turn("client:" + actor.client_address):
        return await _sign_in(settings=settings, actor=actor, email=email, password=password)


@asynccontextmanager
async def _attempt(settings: Settings, email: str, client: str) -> AsyncIterator[None]:
    """The write transaction that records a sign-in's outcome, after the throttle's second look.

    The first look (before the password is hashed) reads failures committed so far; attempts in
    flight on other servers are not among them. Here the look is taken again under the audit
    chain's lock (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers across processes), which
    every recorded failure takes too: attempts from any number of servers are counted one after
    another, and no more than the limit of failures is ever recorded in a window.
    """
    async with write_transaction():
        await audit.lock_chain()
        await _throttle(settings, email, client)
        yield


async def _sign_in(*, settings: Settings, actor: Actor, email: str, password: str) -> NewSession:
    await _throttle(settings, email, actor.client_address)
    client = actor.client_address
    if not settings.password_allowed(email):
        # Refused before the password is weighed: the answer says nothing about it.
        async with _attempt(settings, email, client):
            await audit.record(
                actor, "auth.login_failed", "user", email, {"reason": "passwords are off"}
            )
        raise NotAuthenticated(N_("passwords are off; sign in with your company account"))
    user = await User.select(User.all_columns()).where(User.email == email).first()
    ok = await verify_password(password, user["password_hash"] if user else None)
    if not ok or not user or not user["active"]:
        async with _attempt(settings, email, client):
            reason = "inactive" if (ok and user) else "bad credentials"
            await audit.record(actor, "auth.login_failed", "user", email, {"reason": reason})
        raise NotAuthenticated(N_("wrong e-mail or password, or the account is inactive"))
    async with _attempt(settings, email, client):
        return await open_session(settings=settings, actor=actor, user=user)


async def open_session(
    *,
    settings: Settings,
    actor: Actor,
    user: dict[str, Any],
    via: str = "password",
    id_token: str | None = None,
) -> NewSession:
    """Open a browser session for a user who proved who they are, audited as their sign-in."""
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    expires = utcnow() + dt.timedelta(hours=settings.session_hours)
    async with write_transaction():
        await UserSession.insert(
            UserSession(
                user=user["id"],
                session_hash=sha256_hex(session_id),
                csrf_token=csrf,
                created_at=utcnow(),
                expires_at=expires,
                client_address=actor.client_address[:64],
                # Kept only for the provider's sign-out, which asks for it as a hint.
                id_token=id_token,
            )
        )
        who = Actor(
            user["id"],
            user["email"],
            Role(user["role"]),
            request_id=actor.request_id,
            client_address=actor.client_address,
        )
        await audit.record(
            who, "auth.login", "user", user["id"], {} if via == "password" else {"via": via}
        )
    public = {k: user[k] for k in ("id", "email", "name", "role", "must_change_password")}
    return NewSession(session_id=session_id, csrf_token=csrf, expires_at=expires, user=public)


async def sign_out(*, actor: Actor, session_id: str | None) -> None:
    """End the caller's browser session."""
    if not session_id:
        return
    async with write_transaction():
        await UserSession.update({UserSession.ended_at: utcnow()}).where(
            UserSession.session_hash == sha256_hex(session_id), UserSession.ended_at.is_null()
        )
        await audit.record(actor, "auth.logout", "user", actor.user_id or "", {})


async def change_password(
    *, actor: Actor, current: str, new: str, session_id: str | None = None
) -> None:
    """Change the caller's own password; ends their sessions other than `session_id` (the caller's)."""
    check_policy(new, "new_password")
    if current == new:
        raise InvalidInput(
            N_("the new password must differ from the current one"), field="new_password"
        )
    user = await User.select(User.password_hash).where(User.id == actor.user_id).first()
    if not user or not await verify_password(current, user["password_hash"]):
        raise InvalidInput(N_("the current password is wrong"), field="current_password")
    hashed = await hash_password(new)
    async with write_transaction():
        await User.update(
            {
                User.password_hash: hashed,
                User.must_change_password: False,
                User.updated_at: utcnow(),
                User.version: User.version + 1,
            }
        ).where(User.id == actor.user_id)
        # Whoever knew the old password may hold a session: only the caller's own survives. A
        # session caller who does not name their session keeps them all rather than lose their own.
        if session_id or actor.via != "session":
            others = (UserSession.user == actor.user_id) & UserSession.ended_at.is_null()
            if session_id:
                others &= UserSession.session_hash != sha256_hex(session_id)
            await UserSession.update({UserSession.ended_at: utcnow()}).where(others)
        await audit.record(
            actor, "user.password_change", "user", actor.user_id or "", {"password": ["***", "***"]}
        )


async def issue_token(
    *, actor: Actor, user_id: int, name: str, expires_in_days: int | None
) -> NewToken:
    """Create a bearer token for a user; only its hash is stored."""
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise InvalidInput(
            N_("expires_in_days must be between 1 and 3650"), field="expires_in_days"
        )
    user = await User.select(User.id, User.active).where(User.id == user_id).first()
    if not user:
        raise NotFound(N_("user %(user_id)s does not exist"), params={"user_id": user_id})
    if not user["active"]:
        raise InvalidInput(N_("tokens cannot be issued to an inactive user"), field="user_id")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    async with write_transaction():
        rows = await ApiToken.insert(
            ApiToken(
                user=user_id,
                name=name[:120],
                token_hash=sha256_hex(token),
                prefix=token[:12],
                created_at=utcnow(),
                expires_at=expires,
            )
        )
        token_id = rows[0]["id"]
        await audit.record(
            actor,
            "token.issue",
            "api_token",
            token_id,
            {"user_id": [None, user_id], "name": [None, name], "expires_at": [None, expires]},
        )
    return NewToken(
        id=token_id, token=token, prefix=token[:12], name=name, expires_at=expires, user_id=user_id
    )


async def revoke_token(*, actor: Actor, token_id: int, own_only: bool) -> dict[str, Any]:
    """Revoke a token; a non-admin may revoke only their own."""
    row = await ApiToken.select().where(ApiToken.id == token_id).first()
    if not row or (own_only and row["user"] != actor.user_id):
        raise NotFound(N_("token %(token_id)s does not exist"), params={"token_id": token_id})
    if row["revoked_at"] is None:
        async with write_transaction():
            row["revoked_at"] = utcnow()
            await ApiToken.update({ApiToken.revoked_at: row["revoked_at"]}).where(
                ApiToken.id == token_id
            )
            await audit.record(
                actor,
                "token.revoke",
                "api_token",
                token_id,
                {"revoked_at": [None, row["revoked_at"]]},
            )
    return row


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


_USER_COLUMNS = (
    'u."id", u."email", u."role", u."active", u."employee", u."must_change_password", '
    'u."language", u."time_zone"'
)
_TOKEN_SQL = (
    f'SELECT t."id" AS token_id, t."expires_at", t."revoked_at", t."last_used_at", {_USER_COLUMNS} '
    'FROM "api_token" t JOIN "register_user" u ON u."id" = t."user" WHERE t."token_hash" = $1'
)
_SESSION_SQL = (
    f'SELECT s."id" AS session_id, s."expires_at", s."ended_at", s."csrf_token", {_USER_COLUMNS} '
    'FROM "user_session" s JOIN "register_user" u ON u."id" = s."user" WHERE s."session_hash" = $1'
)


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return as_utc(value)


async def authenticate(scope: Scope, request_id: str, client: str) -> tuple[Actor, bool]:
    """Resolve the caller from a bearer token or session cookie; (actor, csrf_ok)."""
    authorization = _header(scope, b"authorization")
    now = utcnow()
    if authorization and authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
        rows = await fetch(_TOKEN_SQL, sha256_hex(token)) if token else []
        row = rows[0] if rows else None
        expires = _aware(row["expires_at"]) if row else None
        if (
            not row
            or not row["active"]
            or row["revoked_at"] is not None
            or (expires and expires <= now)
        ):
            return Actor.anonymous(request_id, client), True
        last_used = _aware(row["last_used_at"])
        if last_used is None or now - last_used > LAST_USED_GRANULARITY:
            await ApiToken.update({ApiToken.last_used_at: now}).where(
                ApiToken.id == row["token_id"]
            )
        _reader(scope, row)
        return _actor(row, request_id, client, "token"), True
    session_id = _cookie(scope, SESSION_COOKIE)
    if session_id:
        rows = await fetch(_SESSION_SQL, sha256_hex(session_id))
        row = rows[0] if rows else None
        expires = _aware(row["expires_at"]) if row else None
        if (
            not row
            or not row["active"]
            or row["ended_at"] is not None
            or (expires and expires <= now)
        ):
            return Actor.anonymous(request_id, client), True
        _reader(scope, row)
        # Kept for a page's form post, whose token comes in the body the guard reads later.
        scope.setdefault("auth_session", {})["csrf_token"] = str(row["csrf_token"])
        sent = _header(scope, CSRF_HEADER.encode()) or ""
        # Compared as bytes: compare_digest refuses str with non-ASCII characters (a 500, not a 403).
        csrf_ok = scope.get("method", "GET") in SAFE_METHODS or hmac.compare_digest(
            sent.encode("latin-1"), str(row["csrf_token"]).encode()
        )
        return _actor(row, request_id, client, "session"), csrf_ok
    return Actor.anonymous(request_id, client), True


def _reader(scope: Scope, row: dict[str, Any]) -> None:
    # The pages' language and time zone (register.pages.reader_of), read with the user at no cost.
    scope["page_user"] = {"language": row["language"], "time_zone": row["time_zone"]}


def _actor(row: dict[str, Any], request_id: str, client: str, via: str) -> Actor:
    return Actor(
        user_id=row["id"],
        email=row["email"],
        role=Role(row["role"]),
        employee_id=row["employee"],
        request_id=request_id,
        client_address=client,
        must_change_password=bool(row["must_change_password"]),
        via=via,
    )


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def _request_id(scope: Scope) -> str:
    given = _header(scope, b"x-request-id")
    if (
        given
        and len(given) <= 64
        and given.isascii()
        and given.replace("-", "").replace("_", "").isalnum()
    ):
        return given
    # A correlation id, not a secret: 128 bits from the process PRNG, without uuid4's system call.
    return f"{random.getrandbits(128):032x}"


class AuthMiddleware(ASGIMiddleware):
    """Attach the caller (possibly anonymous) and request id to every HTTP request; never rejects."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request_id = _request_id(scope)
        actor, csrf_ok = await authenticate(scope, request_id, _client(scope))
        scope["user"] = actor
        scope["auth"] = {"csrf_ok": csrf_ok, "session_id": _cookie(scope, SESSION_COOKIE)}
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        await next_app(scope, receive, send_with_id)


def session_cookies(session: NewSession, *, secure: bool, max_age: int) -> list[Cookie]:
    """The cookies that carry a new browser session: the HttpOnly session id, the CSRF token."""
    return [
        Cookie(
            key=SESSION_COOKIE,
            value=session.session_id,
            httponly=True,
            samesite="lax",
            secure=secure,
            max_age=max_age,
            path="/",
        ),
        Cookie(
            key=CSRF_COOKIE,
            value=session.csrf_token,
            httponly=False,
            samesite="strict",
            secure=secure,
            max_age=max_age,
            path="/",
        ),
    ]


def cleared_cookies() -> list[Cookie]:
    """The session's cookies, expired."""
    return [
        Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/"),
        Cookie(key=CSRF_COOKIE, value="", max_age=0, path="/"),
    ]
