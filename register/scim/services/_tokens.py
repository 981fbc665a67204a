"""SCIM tokens: issued once to the identity provider, kept as a hash, listed and revoked."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from register import audit
from register.actor import Actor
from register.db import as_utc, fetch, now, write_transaction
from register.enums import Role
from register.errors import InvalidInput, NotFound
from register.i18n import N_
from register.queries import unique_or_409
from register.scim.tables import ScimToken

# Its own prefix, so a SCIM token pasted where an API token goes is recognised in logs.
TOKEN_PREFIX = "scim_"
LAST_USED_GRANULARITY = dt.timedelta(minutes=5)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(*, actor: Actor, name: str) -> tuple[dict[str, Any], str]:
    """Issue a SCIM token named for its provider; the token is returned once, only its hash kept."""
    name = name.strip()
    if not name or len(name) > 120 or "\x00" in name:
        raise InvalidInput(N_("name must be 1 to 120 characters"), field="name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    stamp = now()
    async with write_transaction():
        async with unique_or_409(
            N_("a SCIM token named %(name)s already exists"), "name", {"name": name}
        ):
            rows = await ScimToken.insert(
                ScimToken(
                    name=name,
                    token_hash=_hash(token),
                    prefix=token[:12],
                    created_at=stamp,
                )
            )
        token_id = rows[0]["id"]
        await audit.record(
            actor, "scim_token.create", "scim_token", token_id, {"name": [None, name]}
        )
    return await get_token(token_id=token_id), token


async def get_token(*, token_id: int) -> dict[str, Any]:
    """One SCIM token (never the token itself)."""
    rows = await fetch(
        'SELECT "id", "name", "prefix", "created_at", "last_used_at", "revoked_at" '
        'FROM "scim_token" WHERE "id" = $1',
        token_id,
    )
    if not rows:
        raise NotFound(N_("SCIM token %(token_id)s does not exist"), params={"token_id": token_id})
    return rows[0]


async def list_tokens() -> list[dict[str, Any]]:
    """Every SCIM token, newest first, revoked ones included."""
    return await fetch(
        'SELECT "id", "name", "prefix", "created_at", "last_used_at", "revoked_at" '
        'FROM "scim_token" ORDER BY "id" DESC'
    )


async def revoke_token(*, actor: Actor, token_id: int) -> dict[str, Any]:
    """Revoke a SCIM token: the provider's next request is refused."""
    row = await get_token(token_id=token_id)
    if row["revoked_at"] is None:
        async with write_transaction():
            stamp = now()
            await ScimToken.update({ScimToken.revoked_at: stamp}).where(ScimToken.id == token_id)
            await audit.record(
                actor, "scim_token.revoke", "scim_token", token_id, {"revoked_at": [None, stamp]}
            )
    return await get_token(token_id=token_id)


async def provider_actor(token: str, request_id: str = "", client: str = "") -> Actor | None:
    """The actor a SCIM token stands for (audited by the token's name), or None if not valid."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    rows = await fetch(
        'SELECT "id", "name", "last_used_at", "revoked_at" FROM "scim_token" '
        'WHERE "token_hash" = $1',
        _hash(token),
    )
    if not rows or rows[0]["revoked_at"] is not None:
        return None
    row = rows[0]
    stamp = now()
    last = row["last_used_at"]
    if isinstance(last, str):
        last = dt.datetime.fromisoformat(last)
    if last is None or stamp - as_utc(last) > LAST_USED_GRANULARITY:
        await ScimToken.update({ScimToken.last_used_at: stamp}).where(ScimToken.id == row["id"])
    # The provider acts like the system: the directory and users it changes carry its name.
    return Actor(
        user_id=None,
        email=f"scim:{row['name']}",
        role=Role.admin,
        request_id=request_id,
        client_address=client,
        via="scim",
    )
