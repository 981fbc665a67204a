"""Company sign-in through OpenID Connect: the provider's discovery document and keys, the
authorization code flow with PKCE (S256), state and nonce, the ID token checked, the user found by
(issuer, subject) or made from their groups, and the provider's sign-out.

The flow's pending values (state, nonce, PKCE verifier, where to go back to) travel in a cookie
signed with a key derived from the register's secret key, bound to the browser that started the
flow, ten minutes long, and cleared by the callback, which refuses a state that does not match it.
The authorization code itself is single-use at the provider.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oidc.core import CodeIDToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from register import audit
from register.actor import Actor
from register.auth import NewSession, open_session, sha256_hex
from register.db import now, write_transaction
from register.enums import Role
from register.errors import NotAuthenticated, NotReady, PermissionDenied, RegisterError
from register.extensions import extensions
from register.i18n import N_
from register.queries import unique_or_409
from register.settings import Settings
from register.tables import User, UserSession

with warnings.catch_warnings():
    # authlib 1.7+ prefers the httpx2 package and warns when it falls back to httpx, the client
    # the register uses everywhere; the fallback is the same API.
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

PENDING_COOKIE = "register_oidc"
PENDING_SECONDS = 600
# The discovery document and the key set are read again after this, so a key the provider has
# withdrawn (compromised) stops being trusted within the hour by every server, each of which keeps
# its own copy; the key set also when a token names a key it does not hold (the provider rotated
# its keys), but not more often than the floor, so a stream of forged tokens with made-up key ids
# cannot make the register hammer the provider.
METADATA_SECONDS = 3600
JWKS_REFETCH_FLOOR_SECONDS = 60
# Clock difference tolerated between the provider and the register when checking exp and iat.
LEEWAY_SECONDS = 60
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
PROVIDER = Actor.system("identity provider")


@dataclass
class _Provider:
    """What the register knows of one issuer, per process."""

    metadata: dict[str, Any] = field(default_factory=dict)
    metadata_at: float = 0.0
    jwks: dict[str, Any] = field(default_factory=dict)
    jwks_at: float = 0.0
    # When a token's unknown key id last made the register fetch the keys again.
    refetched_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_providers: dict[str, _Provider] = {}


@dataclass(frozen=True)
class Started:
    """Where to send the browser, and the signed pending cookie's value."""

    url: str
    pending: str


@dataclass(frozen=True)
class SignedIn:
    """A company sign-in that opened a session, and where to go next."""

    session: NewSession
    next: str


def _provider(settings: Settings) -> _Provider:
    return _providers.setdefault(settings.oidc_issuer, _Provider())


async def _get_json(url: str) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
            response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise NotReady(
            N_("the company's sign-in cannot be reached now; try again in a minute")
        ) from exc
    if not isinstance(body, dict):
        raise NotReady(N_("the company's sign-in cannot be reached now; try again in a minute"))
    return body


async def provider_metadata(*, settings: Settings) -> dict[str, Any]:
    """The provider's discovery document (cached), checked to name the configured issuer."""
    provider = _provider(settings)
    async with provider.lock:
        if provider.metadata and time.monotonic() - provider.metadata_at < METADATA_SECONDS:
            return provider.metadata
        url = settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
        metadata = await _get_json(url)
        # OpenID Connect Discovery 1.0, section 4.3: the issuer must be exactly the one asked.
        if metadata.get("issuer") != settings.oidc_issuer:
            raise NotReady(
                N_("the company's sign-in names another issuer than the register expects")
            )
        provider.metadata, provider.metadata_at = metadata, time.monotonic()
        return metadata


async def _key_set(settings: Settings, *, refresh: bool) -> KeySet:
    provider = _provider(settings)
    metadata = await provider_metadata(settings=settings)
    async with provider.lock:
        allowed = time.monotonic() - provider.refetched_at >= JWKS_REFETCH_FLOOR_SECONDS
        stale = time.monotonic() - provider.jwks_at >= METADATA_SECONDS
        if not provider.jwks or stale or (refresh and allowed):
            if provider.jwks and not stale:
                provider.refetched_at = time.monotonic()
            provider.jwks = await _get_json(str(metadata["jwks_uri"]))
            provider.jwks_at = time.monotonic()
        return KeySet.import_key_set(provider.jwks)  # type: ignore[arg-type]


def _client_secret(settings: Settings) -> str:
    path = settings.oidc_client_secret_file
    if path is None:
        raise NotReady(N_("the company's sign-in is not fully configured"))
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise NotReady(N_("the company's sign-in is not fully configured")) from exc


def _pending_key(secret_key: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"register oidc pending"
    ).derive(secret_key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_pending(secret_key: bytes, values: dict[str, Any]) -> str:
    """The pending values as a cookie: base64 JSON and its HMAC-SHA-256."""
    body = _b64(json.dumps(values, separators=(",", ":")).encode())
    mac = hmac.new(_pending_key(secret_key), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def read_pending(secret_key: bytes, cookie: str | None) -> dict[str, Any] | None:
    """The pending values of a cookie this register signed and that has not expired, else None."""
    body, _, mac = (cookie or "").partition(".")
    try:
        expected = hmac.new(_pending_key(secret_key), body.encode(), hashlib.sha256).digest()
        if not body or not hmac.compare_digest(_unb64(mac), expected):
            return None
        values = json.loads(_unb64(body))
    except (ValueError, UnicodeError):
        return None
    if not isinstance(values, dict) or float(values.get("exp", 0)) < time.time():
        return None
    return values


def _oauth_client(settings: Settings, redirect_uri: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=_client_secret(settings),
        scope=settings.oidc_scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        # The method every provider named in README supports; "S106" mistakes its name for a secret.
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106
        timeout=TIMEOUT,
        follow_redirects=False,
    )


async def start(
    *, settings: Settings, secret_key: bytes, redirect_uri: str, next_path: str
) -> Started:
    """The provider's authorization URL for a new flow, and its pending values signed."""
    metadata = await provider_metadata(settings=settings)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    async with _oauth_client(settings, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            metadata["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
        )
    pending = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "redirect_uri": redirect_uri,
        "next": next_path,
        "exp": time.time() + PENDING_SECONDS,
    }
    return Started(url=url, pending=sign_pending(secret_key, pending))


async def _refuse(actor: Actor, subject: str, reason: str, error: RegisterError) -> RegisterError:
    """Audit a refused company sign-in, and return the error to raise."""
    async with write_transaction():
        await audit.record(actor, "auth.oidc_refused", "user", subject[:320], {"reason": reason})
    return error


def _not_completed() -> NotAuthenticated:
    return NotAuthenticated(
        N_("the sign-in with your company account could not be completed; start it again")
    )


async def verify_id_token(
    *, settings: Settings, id_token: str, nonce: str, access_token: str | None
) -> dict[str, Any]:
    """The ID token's claims once its signature, iss, aud, exp, iat, nonce, azp and at_hash hold."""
    metadata = await provider_metadata(settings=settings)
    algorithms = [
        alg
        for alg in metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        # Never unsigned, and never a MAC keyed with the client secret: a key of the provider's.
        if alg != "none" and not str(alg).startswith("HS")
    ]
    try:
        keys = await _key_set(settings, refresh=False)
        try:
            token = jwt.decode(id_token, keys, algorithms=algorithms)
        except InvalidKeyIdError:
            keys = await _key_set(settings, refresh=True)
            token = jwt.decode(id_token, keys, algorithms=algorithms)
        params: dict[str, Any] = {"nonce": nonce, "client_id": settings.oidc_client_id}
        if access_token:
            params["access_token"] = access_token
        claims = CodeIDToken(
            token.claims,
            token.header,
            {
                "iss": {"essential": True, "value": settings.oidc_issuer},
                "aud": {"essential": True, "value": settings.oidc_client_id},
                "exp": {"essential": True},
                "nonce": {"essential": True},
            },
            params,
        )
        claims.validate(leeway=LEEWAY_SECONDS)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc
    return dict(claims)


async def finish(
    *,
    settings: Settings,
    secret_key: bytes,
    actor: Actor,
    pending_cookie: str | None,
    state: str,
    code: str,
    error: str,
    issuer: str = "",
) -> SignedIn:
    """The callback: check state, trade the code, check the ID token, sign the person in."""
    pending = read_pending(secret_key, pending_cookie)
    if pending is None:
        raise await _refuse(
            actor, "", "no pending sign-in (expired, or another browser)", _not_completed()
        )
    if not state or not hmac.compare_digest(state.encode(), str(pending["state"]).encode()):
        raise await _refuse(actor, "", "state does not match", _not_completed())
    if issuer and issuer != settings.oidc_issuer:
        # RFC 9207: an answer naming another issuer is a mix-up, whatever else it carries.
        raise await _refuse(actor, "", "another issuer answered", _not_completed())
    if error:
        raise await _refuse(
            actor,
            "",
            f"provider answered {error[:80]}",
            PermissionDenied(N_("your company's sign-in did not let you in")),
        )
    metadata = await provider_metadata(settings=settings)
    try:
        async with _oauth_client(settings, str(pending["redirect_uri"])) as client:
            token = await client.fetch_token(
                metadata["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=pending["verifier"],
                redirect_uri=pending["redirect_uri"],
            )
    except (OAuthError, httpx.HTTPError, ValueError) as exc:
        raise await _refuse(
            actor, "", f"token request refused: {exc}"[:200], _not_completed()
        ) from exc
    id_token = str(token.get("id_token") or "")
    try:
        claims = await verify_id_token(
            settings=settings,
            id_token=id_token,
            nonce=str(pending["nonce"]),
            access_token=token.get("access_token"),
        )
    except ValueError as exc:
        raise await _refuse(actor, "", f"ID token refused: {exc}"[:200], _not_completed()) from exc
    if settings.oidc_groups_claim not in claims and metadata.get("userinfo_endpoint"):
        claims = {**(await _userinfo(metadata, token, str(claims["sub"]))), **claims}
    session = await sign_in_identity(
        settings=settings, actor=actor, claims=claims, id_token=id_token
    )
    return SignedIn(session=session, next=str(pending.get("next") or "/"))


async def _userinfo(
    metadata: dict[str, Any], token: dict[str, Any], subject: str
) -> dict[str, Any]:
    """Claims the ID token left to the userinfo endpoint (some providers send groups only there)."""
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
            response = await client.get(
                metadata["userinfo_endpoint"],
                headers={"Authorization": f"Bearer {token.get('access_token', '')}"},
            )
            response.raise_for_status()
            info = response.json()
    except (httpx.HTTPError, ValueError):
        return {}
    # OpenID Connect Core 5.3.2: userinfo about anyone else is not this person's.
    return info if isinstance(info, dict) and info.get("sub") == subject else {}


def _groups(settings: Settings, claims: dict[str, Any]) -> list[str]:
    value = claims.get(settings.oidc_groups_claim) or []
    if isinstance(value, str):
        value = [value]
    return [str(group) for group in value if isinstance(group, str | int)]


def _owns_email(settings: Settings, claims: dict[str, Any], email: str) -> bool:
    """Whether the provider vouches that this person holds the e-mail an existing user has."""
    verified = claims.get("email_verified")
    if verified is not None:
        # Some providers send the string "true".
        return verified is True or verified == "true"
    # Entra ID sends no email_verified; the company's own tenant (its issuer is checked) is the
    # authority for the company's own domains, and only its administrators set those addresses.
    return email.rpartition("@")[2] in settings.work_email_domains


async def sign_in_identity(
    *, settings: Settings, actor: Actor, claims: dict[str, Any], id_token: str
) -> NewSession:
    """Find or make the user of checked claims, follow their groups' role, and open a session."""
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    email = str(claims.get("email") or "").strip().lower()
    who = email or subject
    # Someone in no mapped group is an employee like any other: the staff role, their own things.
    role = settings.role_for_groups(_groups(settings, claims)) or Role.staff.value
    user = (
        await User.select(User.all_columns())
        .where((User.oidc_issuer == issuer) & (User.oidc_subject == subject))
        .first()
    )
    if user is None and email:
        local = await User.select(User.all_columns()).where(User.email == email).first()
        if local is not None and local["oidc_subject"] is not None:
            raise await _refuse(
                actor,
                who,
                "e-mail already linked to another identity",
                PermissionDenied(
                    N_("a user with your e-mail address signs in through another company account")
                ),
            )
        if local is not None and not _owns_email(settings, claims, email):
            raise await _refuse(
                actor,
                who,
                "existing user, e-mail not verified by the provider",
                PermissionDenied(
                    N_(
                        "a user with your e-mail address exists, but your company's sign-in has "
                        "not confirmed that the address is yours; ask an administrator"
                    )
                ),
            )
        user = local
    if user is not None and not user["active"]:
        raise await _refuse(
            actor,
            who,
            "inactive",
            PermissionDenied(N_("your user in the register has been deactivated")),
        )
    if not email and user is None:
        raise await _refuse(
            actor,
            who,
            "no e-mail claim",
            PermissionDenied(N_("your company's sign-in did not tell the register your e-mail")),
        )
    async with write_transaction():
        if user is None:
            user = await _create(settings, claims, email, role)
        else:
            user = await _follow(user, issuer, subject, role)
        return await open_session(
            settings=settings, actor=actor, user=user, via="oidc", id_token=id_token
        )


async def _create(
    settings: Settings, claims: dict[str, Any], email: str, role: str
) -> dict[str, Any]:
    """A new user from the provider's claims, linked to the person with that work e-mail."""
    extensions.load()
    finder = extensions.by_email.get("employee")
    person = await finder(email) if finder else None
    stamp = now()
    name = str(claims.get("name") or "").strip()[:200]
    # Two first sign-ins of one person at once: the second finds the e-mail taken (409, and
    # trying again signs them in as the user the first made).
    async with unique_or_409(
        N_("a user with e-mail %(email)s already exists"), "email", {"email": email}
    ):
        rows = await User.insert(
            User(
                email=email,
                name=name,
                role=role,
                active=True,
                employee=person["id"] if person else None,
                password_hash=None,
                must_change_password=False,
                created_at=stamp,
                updated_at=stamp,
                oidc_issuer=str(claims["iss"]),
                oidc_subject=str(claims["sub"]),
            )
        )
    user_id = rows[0]["id"]
    await audit.record(
        PROVIDER,
        "user.create",
        "user",
        user_id,
        audit.diff(
            None,
            {
                "email": email,
                "name": name,
                "role": role,
                "employee_id": person["id"] if person else None,
                "identity": f"{claims['iss']} {claims['sub']}",
            },
        ),
    )
    return await User.select(User.all_columns()).where(User.id == user_id).first()


async def _follow(user: dict[str, Any], issuer: str, subject: str, role: str) -> dict[str, Any]:
    """Link a user to their identity and give them the role their groups say, both audited."""
    changes: dict[str, Any] = {}
    if user["oidc_subject"] is None:
        changes.update({User.oidc_issuer: issuer, User.oidc_subject: subject})
        # A one-time password nobody will change any more is only a way in: it goes.
        if user["must_change_password"]:
            changes.update({User.password_hash: None, User.must_change_password: False})
    if user["role"] != role:
        changes[User.role] = Role(role).value
    if not changes:
        return user
    await User.update({**changes, User.version: User.version + 1, User.updated_at: now()}).where(
        User.id == user["id"]
    )
    if User.oidc_subject in changes:
        await audit.record(
            PROVIDER,
            "user.link_identity",
            "user",
            user["id"],
            {"identity": [None, f"{issuer} {subject}"]},
        )
    if User.role in changes:
        await audit.record(
            PROVIDER, "user.update", "user", user["id"], {"role": [user["role"], role]}
        )
    return await User.select(User.all_columns()).where(User.id == user["id"]).first()


async def end_session_url(
    *, settings: Settings, session_id: str | None, post_logout_redirect_uri: str
) -> str | None:
    """Where the browser ends its session at the provider too, or None (no company sign-in)."""
    if not settings.oidc_enabled or not session_id:
        return None
    row = (
        await UserSession.select(UserSession.id_token)
        .where(UserSession.session_hash == sha256_hex(session_id))
        .first()
    )
    if not row or not row["id_token"]:
        return None
    try:
        metadata = await provider_metadata(settings=settings)
    except NotReady:
        return None
    endpoint = metadata.get("end_session_endpoint")
    if not endpoint:
        return None
    return str(
        add_params_to_uri(
            endpoint,
            {
                "id_token_hint": row["id_token"],
                "post_logout_redirect_uri": post_logout_redirect_uri,
                "client_id": settings.oidc_client_id,
            },
        )
    )


def form_action_origin(settings: Settings) -> str:
    """The provider's origin, where the sign-out form's redirect may go under the page CSP."""
    url = urlsplit(settings.oidc_issuer)
    return f"{url.scheme}://{url.netloc}" if settings.oidc_enabled else ""
