"""Password hashing: PBKDF2-SHA256 at 600,000 iterations, computed off the event loop."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from register.errors import InvalidInput
from register.i18n import N_

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 600_000
MIN_LENGTH = 8
MAX_LENGTH = 128


def check_policy(password: str, field: str = "password") -> None:
    """Refuse passwords outside 8-128 characters."""
    if not isinstance(password, str) or not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidInput(
            N_("a password must be %(MIN_LENGTH)s to %(MAX_LENGTH)s characters long"),
            field=field,
            params={"MIN_LENGTH": MIN_LENGTH, "MAX_LENGTH": MAX_LENGTH},
        )


def _hash(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)


def hash_password_sync(password: str) -> str:
    """Hash a password in the calling thread (CLI use)."""
    salt = secrets.token_bytes(16)
    digest = _hash(password, salt, ITERATIONS)
    return f"{ALGORITHM}${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


async def hash_password(password: str) -> str:
    """Hash a password in a worker thread so the event loop keeps serving."""
    return await asyncio.to_thread(hash_password_sync, password)


def _verify(password: str, stored: str) -> bool:
    # A malformed stored hash means "no password sign-in", never a 500.
    try:
        algorithm, iterations, salt, digest = stored.split("$")
        rounds = int(iterations)
        expected = base64.b64decode(digest, validate=True)
        salt_bytes = base64.b64decode(salt, validate=True)
    except ValueError:
        return False
    if algorithm != ALGORITHM or rounds < 1:
        return False
    return hmac.compare_digest(_hash(password, salt_bytes, rounds), expected)


@lru_cache(maxsize=1)
def _dummy() -> str:
    # Verified against when the account does not exist, so both paths cost the same time.
    return hash_password_sync(secrets.token_urlsafe(12))


async def verify_password(password: str, stored: str | None) -> bool:
    """Check a password against its stored hash, in a worker thread, in constant time."""
    if len(password) > MAX_LENGTH:
        return False
    return await asyncio.to_thread(_verify, password, stored or _dummy()) and stored is not None


def one_time_password() -> str:
    """A readable random password for first sign-in (must be changed)."""
    return secrets.token_urlsafe(12)
