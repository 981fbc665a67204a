"""The leaver's attestation without an account: a signed, single-use link that expires.

HR makes the link; the token is shown once and only its SHA-256 is kept. The token carries an
HMAC under a key derived from the register's secret, so a made-up token is refused before the
database is asked. Opening it and attesting through it act as the leaver (no user, no session),
and go through the same attestation as the API (`attest_item`). Creating, opening, using and
every refusal (unknown, expired, used, revoked) are audited. HR may revoke a link that was not
used; a revoked link is refused like an expired one.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from accounts.handovers.enums import HandoverItemKind, HandoverItemState, HandoverState
from accounts.handovers.flows._item_actions import attest_item
from accounts.handovers.services import (
    ATTESTATION,
    handover_items,
    handover_row,
    live_for_items,
    refuse_the_leaver,
    today,
)
from accounts.handovers.tables import AttestationLink
from register import audit
from register.actor import Actor
from register.db import as_utc, json_value, now, write_transaction
from register.errors import Conflict, InvalidInput, NotFound
from register.i18n import N_
from register.staff.services import get_employee

LINK_INFO = b"register: handover attestation link, v1"
DEFAULT_DAYS = 7
MAX_DAYS = 30
# Why a link opens nothing; the page says each in words.
UNKNOWN, EXPIRED, USED, REVOKED = "unknown", "expired", "used", "revoked"


def _key(secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LINK_INFO).derive(secret)


def _mac(secret: bytes, nonce: str) -> str:
    digest = hmac.new(_key(secret), nonce.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _signed(secret: bytes, token: str) -> bool:
    """Whether the token is one this register made (its HMAC holds)."""
    nonce, _, mac = token.partition(".")
    if not nonce or not mac or len(token) > 200:
        return False
    return hmac.compare_digest(mac.encode(), _mac(secret, nonce).encode())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(token: str, *, public_url: str, base_url: str = "") -> str:
    """The address the leaver opens: REGISTER_PUBLIC_URL if set, else the request's own address."""
    base = (public_url or base_url).rstrip("/")
    if not base:
        raise InvalidInput(
            N_(
                "set REGISTER_PUBLIC_URL to the register's address "
                "(https://register.example.com): the link is made from it"
            ),
            field="public_url",
        )
    return f"{base}/attest/{token}"


def link_actor(link: dict[str, Any], employee_id: int, actor: Actor) -> Actor:
    """Who acts through a link: the leaver, with no user and no role, from the request's address."""
    return Actor(
        user_id=None,
        email=f"the leaver (attestation link {link['id']})",
        role=None,
        employee_id=employee_id,
        request_id=actor.request_id,
        client_address=actor.client_address,
        via="attestation_link",
    )


async def _attestation_item(handover_id: int) -> dict[str, Any]:
    for item in await handover_items(handover_id):
        if item["kind"] == HandoverItemKind.attest_deletion.value:
            return item
    raise Conflict(
        N_("handover %(handover_id)s has no attestation item: the leaver holds no connections"),
        params={"handover_id": handover_id},
    )


async def create_attestation_link(
    *, actor: Actor, secret: bytes, handover_id: int, days: int = DEFAULT_DAYS
) -> dict[str, Any]:
    """A one-time link for the leaver's attestation, valid `days` days; the token is shown once."""
    await refuse_the_leaver(actor, handover_id, "handover.write")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(
            N_("a link is valid for 1 to %(MAX_DAYS)s days"),
            field="days",
            params={"MAX_DAYS": MAX_DAYS},
        )
    await live_for_items(handover_id)
    item = await _attestation_item(handover_id)
    if item["state"] != HandoverItemState.open.value:
        raise Conflict(N_("the attestation is already %(state)s"), params={"state": item["state"]})
    nonce = secrets.token_urlsafe(24)
    token = f"{nonce}.{_mac(secret, nonce)}"
    stamp = now()
    expires = stamp + dt.timedelta(days=days)
    async with write_transaction():
        rows = await AttestationLink.insert(
            AttestationLink(
                handover=handover_id,
                item=item["id"],
                token_sha256=_digest(token),
                expires_at=expires,
                created_by=actor.user_id,
                created_by_email=actor.email,
                created_at=stamp,
            )
        )
        await audit.record(
            actor,
            "handover.attestation_link.create",
            "handover",
            handover_id,
            {"link": [None, rows[0]["id"]], "expires_at": [None, expires], "days": [None, days]},
        )
    return {"id": rows[0]["id"], "token": token, "expires_at": expires, "item_id": item["id"]}


async def _refused(actor: Actor, token: str, reason: str, link: dict[str, Any] | None) -> NotFound:
    """Audit a link that opens nothing, and the error that says why (never which handover)."""
    async with write_transaction():
        await audit.record(
            actor,
            "handover.attestation_link.refused",
            "handover_attestation_link",
            link["id"] if link else _digest(token)[:16],
            {"reason": reason},
        )
    return NotFound(N_("this attestation link opens nothing"), reason=reason)


async def _link(actor: Actor, secret: bytes, token: str) -> dict[str, Any]:
    """The link a token names, refused (audited) unless it is signed, known, unused and in time."""
    row = None
    if _signed(secret, token):
        row = (
            await AttestationLink.select()
            .where(AttestationLink.token_sha256 == _digest(token))
            .first()
        )
    if row is None:
        raise await _refused(actor, token, UNKNOWN, None)
    if row["used_at"] is not None:
        raise await _refused(actor, token, USED, row)
    if row["revoked_at"] is not None:
        raise await _refused(actor, token, REVOKED, row)
    if as_utc(row["expires_at"]) <= now():
        raise await _refused(actor, token, EXPIRED, row)
    return dict(row)


async def open_attestation_link(*, actor: Actor, secret: bytes, token: str) -> dict[str, Any]:
    """What the leaver confirms through a link: their name, the statement, how many connections."""
    from accounts.connections.services import state_counts

    link = await _link(actor, secret, token)
    handover = await handover_row(link["handover"])
    leaver = await get_employee(employee_id=handover["employee"])
    item = next(i for i in await handover_items(link["handover"]) if i["id"] == link["item"])
    statement = json_value(item["detail"], {}).get("statement") or ATTESTATION.format(
        name=leaver["name"]
    )
    async with write_transaction():
        if link["opened_at"] is None:
            await AttestationLink.update({AttestationLink.opened_at: now()}).where(
                AttestationLink.id == link["id"]
            )
        await audit.record(
            link_actor(link, leaver["id"], actor),
            "handover.attestation_link.open",
            "handover",
            link["handover"],
            {"link": [None, link["id"]]},
        )
    return {
        "link_id": link["id"],
        "handover_id": link["handover"],
        "item_id": link["item"],
        "leaver": leaver["name"],
        "statement": statement,
        "connections": sum((await state_counts(leaver["id"])).values()),
        "expires_at": as_utc(link["expires_at"]),
        "open": item["state"] == HandoverItemState.open.value
        and handover["state"] == HandoverState.open.value,
        "recorded": item["state"] == HandoverItemState.done.value,
    }


async def attest_with_link(
    *,
    actor: Actor,
    secret: bytes,
    token: str,
    typed_name: str,
    pdf: bytes | None = None,
    filename: str = "",
) -> dict[str, Any]:
    """The leaver attests through the link, once: the same attestation as the API's, dated today."""
    link = await _link(actor, secret, token)
    handover = await handover_row(link["handover"])
    leaver = link_actor(link, handover["employee"], actor)
    async with write_transaction():
        await audit.lock_chain()
        # Taken first and undone with the attestation if that is refused: one use, one success.
        used = (
            await AttestationLink.update({AttestationLink.used_at: now()})
            .where(
                (AttestationLink.id == link["id"])
                & AttestationLink.used_at.is_null()
                & AttestationLink.revoked_at.is_null()
                & (AttestationLink.expires_at > now())
            )
            .returning(AttestationLink.id)
        )
        if not used:
            raise Conflict(N_("this attestation link was used at the same moment"))
        item = await attest_item(
            actor=leaver,
            handover_id=link["handover"],
            item_id=link["item"],
            typed_name=typed_name,
            signed_on=today(),
            pdf_base64=base64.b64encode(pdf).decode() if pdf else None,
            filename=filename,
        )
        await audit.record(
            leaver,
            "handover.attestation_link.use",
            "handover",
            link["handover"],
            {"link": [None, link["id"]], "item": [None, link["item"]]},
        )
    return item


async def revoke_attestation_link(
    *, actor: Actor, handover_id: int, link_id: int
) -> dict[str, Any]:
    """Withdraw a link not yet used: from now on it opens nothing, like an expired one."""
    await refuse_the_leaver(actor, handover_id, "handover.write")
    async with write_transaction():
        await audit.lock_chain()
        row = (
            await AttestationLink.select()
            .where((AttestationLink.id == link_id) & (AttestationLink.handover == handover_id))
            .first()
        )
        if row is None:
            raise NotFound(
                N_("handover %(handover_id)s has no attestation link %(link_id)s"),
                params={"handover_id": handover_id, "link_id": link_id},
            )
        if row["used_at"] is not None:
            raise Conflict(
                N_("the link was used: the attestation is recorded, there is nothing to revoke")
            )
        if row["revoked_at"] is not None:
            raise Conflict(N_("the link is already revoked"))
        stamp = now()
        await AttestationLink.update(
            {AttestationLink.revoked_at: stamp, AttestationLink.revoked_by_email: actor.email}
        ).where(AttestationLink.id == link_id)
        await audit.record(
            actor,
            "handover.attestation_link.revoke",
            "handover",
            handover_id,
            {"link": [None, link_id], "revoked_at": [None, stamp]},
        )
    return next(r for r in await attestation_links(handover_id=handover_id) if r["id"] == link_id)


async def attestation_links(*, handover_id: int) -> list[dict[str, Any]]:
    """The links made for a handover, newest first: who made them, until when, opened, used, revoked."""
    await handover_row(handover_id)
    rows = (
        await AttestationLink.select(
            AttestationLink.id,
            AttestationLink.created_by,
            AttestationLink.created_by_email,
            AttestationLink.created_at,
            AttestationLink.expires_at,
            AttestationLink.opened_at,
            AttestationLink.used_at,
            AttestationLink.revoked_at,
            AttestationLink.revoked_by_email,
        )
        .where(AttestationLink.handover == handover_id)
        .order_by(AttestationLink.id, ascending=False)
    )
    stamp = now()
    return [
        {
            **{k: as_utc(v) if isinstance(v, dt.datetime) else v for k, v in r.items()},
            "expired": _state(r, stamp) == EXPIRED,
            "state": _state(r, stamp),
        }
        for r in rows
    ]


def _state(row: dict[str, Any], stamp: dt.datetime) -> str:
    """What became of a link: used, revoked, expired, or still open."""
    if row["used_at"] is not None:
        return USED
    if row["revoked_at"] is not None:
        return REVOKED
    return EXPIRED if as_utc(row["expires_at"]) <= stamp else "open"
