"""Subscriptions with sealed URLs and signing secrets, the webhook host allowlist, the outbox's messages."""

from __future__ import annotations

import datetime as dt
import json
import secrets as pysecrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from register import audit
from register.actor import Actor
from register.crypto import Envelope
from register.db import fetch, json_value, write_transaction
from register.db import now as utcnow
from register.enums import Role
from register.errors import Conflict, InvalidInput, InvalidValue, NotFound, StaleVersion
from register.i18n import N_
from register.keys import KeyRing
from register.notifications.enums import EventType, OutboxState, WebhookFormat
from register.notifications.tables import OutboxMessage, Subscription
from register.queries import expect_version
from register.settings import Settings

KIND = "subscription"
SECRET_PREFIX = "whsec_"
MAX_LIMIT = 200
SUBSCRIPTION_FIELDS = ("name", "url", "format", "event_types", "roles", "active")


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether a host is on the allowlist (`*.example.com` admits its subdomains)."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower().rstrip(".")
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and host != entry[2:]:
                return True
        elif host == entry:
            return True
    return False


def url_problem(url: str, allowed: tuple[str, ...]) -> InvalidValue | None:
    """Why a webhook URL may not be used ("url ..." as the API says it), or None when it may."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return InvalidValue(N_("url not a valid URL"))
    if parts.scheme not in ("https", "http") or not host:
        return InvalidValue(N_("url must be an https:// URL with a host"))
    if parts.username or parts.password:
        return InvalidValue(N_("url must not carry a user name or password"))
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        return InvalidValue(N_("url must use https (plain http only to this machine)"))
    if not host_allowed(host, allowed):
        return InvalidValue(
            N_("url host %(host)s is not in REGISTER_WEBHOOK_ALLOWED_HOSTS"), params={"host": host}
        )
    return None


def seal_box(keyring: KeyRing) -> Envelope:
    """The envelope that seals subscription URLs and secrets."""
    return Envelope(keyring=keyring, kind=KIND)


def new_secret() -> str:
    """A fresh signing secret (shown once)."""
    return SECRET_PREFIX + pysecrets.token_urlsafe(32)


def target_of(url: str) -> str:
    """What lists show of a URL: its scheme and host, never the path that holds the token."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


def subscription_out(row: dict[str, Any]) -> dict[str, Any]:
    """A subscription as the API shows it (no URL path, no secret)."""
    return {
        "id": row["id"],
        "name": row["name"],
        "target": row["target"],
        "format": row["format"],
        "event_types": sorted(json_value(row["event_types"])),
        "roles": sorted(json_value(row["roles"])),
        "active": bool(row["active"]),
        "deactivated_reason": row["deactivated_reason"],
        "key_version": row["key_version"],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _check(data: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Normalise and check subscription fields; 422 naming the field."""
    out = dict(data)
    if "name" in out:
        out["name"] = out["name"].strip()
        if not out["name"]:
            raise InvalidInput(N_("name must not be blank"), field="name")
    if "url" in out:
        out["url"] = out["url"].strip()
        problem = url_problem(out["url"], settings.webhook_allowed_hosts)
        if problem:
            raise problem.refusal("url")
    if "format" in out:
        out["format"] = WebhookFormat(out["format"]).value
    if "event_types" in out:
        kinds = sorted({EventType(e).value for e in out["event_types"]})
        if not kinds:
            raise InvalidInput(N_("choose at least one event type"), field="event_types")
        out["event_types"] = kinds
    if "roles" in out:
        out["roles"] = sorted({Role(r).value for r in out["roles"] or ()})
    return out


async def _row(subscription_id: int) -> dict[str, Any]:
    row = await Subscription.select().where(Subscription.id == subscription_id).first()
    if row is None:
        raise NotFound(
            N_("subscription %(subscription_id)s not found"),
            params={"subscription_id": subscription_id},
        )
    return row


async def get_subscription(*, subscription_id: int) -> dict[str, Any]:
    """One subscription."""
    return subscription_out(await _row(subscription_id))


async def list_subscriptions(
    *, limit: int = 50, offset: int = 0, active: bool | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """Subscriptions by id; the next offset when there are more."""
    query = Subscription.select().order_by(Subscription.id).limit(limit + 1).offset(offset)
    if active is not None:
        query = query.where(Subscription.active == active)
    rows = await query
    more = len(rows) > limit
    return [subscription_out(r) for r in rows[:limit]], (offset + limit if more else None)


def _sealed(keyring: KeyRing, subscription_id: int, url: str, secret: str) -> dict[Any, Any]:
    box = seal_box(keyring)
    key, wrapped, version = box.new_data_key(subscription_id)
    return {
        Subscription.wrapped_key: wrapped,
        Subscription.key_version: version,
        Subscription.url_sealed: box.seal(key, subscription_id, "url", url),
        Subscription.secret_sealed: box.seal(key, subscription_id, "secret", secret),
    }


def open_subscription(keyring: KeyRing, row: dict[str, Any]) -> tuple[str, str]:
    """The URL and signing secret of a subscription row."""
    box = seal_box(keyring)
    key = box.unwrap(row["wrapped_key"], row["id"])
    return (
        box.open(key, row["id"], "url", row["url_sealed"]),
        box.open(key, row["id"], "secret", row["secret_sealed"]),
    )


async def create_subscription(
    *, actor: Actor, keyring: KeyRing, settings: Settings, data: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """Add a subscription; returns it and its signing secret (shown this once)."""
    data = _check(data, settings)
    secret = new_secret()
    now = audit.now()
    async with write_transaction():
        inserted = await Subscription.insert(
            Subscription(
                name=data["name"],
                target=target_of(data["url"]),
                url_sealed="",
                format=data["format"],
                event_types=json.dumps(data["event_types"]),
                roles=json.dumps(data.get("roles", [])),
                active=data.get("active", True),
                wrapped_key="",
                key_version=keyring.current,
                secret_sealed="",
                created_at=now,
                updated_at=now,
            )
        ).returning(Subscription.id)
        sid = inserted[0]["id"]
        await Subscription.update(_sealed(keyring, sid, data["url"], secret)).where(
            Subscription.id == sid
        )
        shown = {k: v for k, v in data.items() if k != "url"}
        await audit.record(
            actor,
            "subscription.create",
            "subscription",
            sid,
            {**{k: [None, v] for k, v in shown.items()}, "target": [None, target_of(data["url"])]},
        )
    return await get_subscription(subscription_id=sid), secret


async def update_subscription(
    *,
    actor: Actor,
    keyring: KeyRing,
    settings: Settings,
    subscription_id: int,
    version: int,
    changes: dict[str, Any],
) -> dict[str, Any]:
    """Change a subscription, refusing a stale version with 409; a new URL is sealed again."""
    changes = _check({k: v for k, v in changes.items() if k in SUBSCRIPTION_FIELDS}, settings)
    async with write_transaction():
        row = await _row(subscription_id)
        before = subscription_out(row)
        expect_version(f"subscription {subscription_id}", row["version"], version)
        values: dict[Any, Any] = {}
        diff: dict[str, Any] = {}
        for field in ("name", "format", "event_types", "roles", "active"):
            if field in changes and changes[field] != before[field]:
                diff[field] = [before[field], changes[field]]
                value = changes[field]
                values[field] = json.dumps(value) if field in ("event_types", "roles") else value
        if changes.get("active") is True:
            values["deactivated_reason"] = ""
        if "url" in changes:
            _, secret = open_subscription(keyring, row)
            values.update(
                {
                    k._meta.name: v
                    for k, v in _sealed(keyring, subscription_id, changes["url"], secret).items()
                }
            )
            values["target"] = target_of(changes["url"])
            diff["url"] = [before["target"], f"{values['target']} (new URL)"]
        if not values:
            return before
        updated = (
            await Subscription.update({**values, "version": version + 1, "updated_at": audit.now()})
            .where((Subscription.id == subscription_id) & (Subscription.version == version))
            .returning(Subscription.id)
        )
        if not updated:
            raise StaleVersion(
                N_(
                    "subscription %(subscription_id)s has changed since version %(version)s; read it again"
                ),
                params={"subscription_id": subscription_id, "version": version},
            )
        await audit.record(actor, "subscription.update", "subscription", subscription_id, diff)
    return await get_subscription(subscription_id=subscription_id)


async def rotate_secret(
    *, actor: Actor, keyring: KeyRing, subscription_id: int, version: int
) -> tuple[dict[str, Any], str]:
    """Give a subscription a new signing secret (shown this once); the old one stops at once."""
    secret = new_secret()
    async with write_transaction():
        row = await _row(subscription_id)
        expect_version(f"subscription {subscription_id}", row["version"], version)
        url, _ = open_subscription(keyring, row)
        rotated = (
            await Subscription.update(
                {
                    **_sealed(keyring, subscription_id, url, secret),
                    Subscription.version: version + 1,
                    Subscription.updated_at: audit.now(),
                }
            )
            # Conditional: a change committed since the read must not be written over.
            .where((Subscription.id == subscription_id) & (Subscription.version == version))
            .returning(Subscription.id)
        )
        if not rotated:
            raise StaleVersion(
                N_("subscription %(subscription_id)s changed at the same moment; read it again"),
                params={"subscription_id": subscription_id},
            )
        await audit.record(
            actor,
            "subscription.rotate_secret",
            "subscription",
            subscription_id,
            {"secret": ["(old)", "(new, shown once)"]},
        )
    return await get_subscription(subscription_id=subscription_id), secret


async def delete_subscription(*, actor: Actor, subscription_id: int) -> None:
    """Remove a subscription and its queued messages."""
    async with write_transaction():
        before = subscription_out(await _row(subscription_id))
        await Subscription.delete().where(Subscription.id == subscription_id)
        await audit.record(
            actor,
            "subscription.delete",
            "subscription",
            subscription_id,
            {k: [before[k], None] for k in ("name", "target", "format", "event_types")},
        )


async def deactivate_gone(subscription_ids: Iterable[int], reason: str) -> None:
    """Turn off subscriptions whose receiver answered 410 Gone (audited as the system)."""
    ids = sorted(set(subscription_ids))
    if not ids:
        return
    async with write_transaction():
        for sid in ids:
            row = (
                await Subscription.select(Subscription.active, Subscription.version)
                .where(Subscription.id == sid)
                .first()
            )
            if row is None or not row["active"]:
                continue
            await Subscription.update(
                {
                    Subscription.active: False,
                    Subscription.deactivated_reason: reason[:300],
                    Subscription.version: row["version"] + 1,
                    Subscription.updated_at: audit.now(),
                }
            ).where(Subscription.id == sid)
            await audit.record(
                Actor.system("outbox worker"),
                "subscription.deactivate",
                "subscription",
                sid,
                {"active": [True, False], "reason": [None, reason[:300]]},
            )


# Outbox ------------------------------------------------------------------------------------------


def message_out(row: dict[str, Any]) -> dict[str, Any]:
    """An outbox message as the API shows it."""
    event = json_value(row["event"])
    mail = event.get("mail") if row["subscription"] is None else None
    return {
        "id": row["id"],
        "event_id": row["event_id"],
        "event_type": row["event_type"],
        "subscription_id": row["subscription"],
        "recipient": mail.get("to") if isinstance(mail, dict) else None,
        "summary": event.get("summary", ""),
        "state": row["state"],
        "attempts": row["attempts"],
        "last_status": row["last_status"],
        "last_error": row["last_error"],
        "next_attempt_at": row["due_at"] if row["state"] == OutboxState.pending else None,
        "created_at": row["created_at"],
        "delivered_at": row["delivered_at"],
        "dead_at": row["dead_at"],
    }


async def get_message(*, message_id: int) -> dict[str, Any]:
    """One outbox message."""
    row = await OutboxMessage.select().where(OutboxMessage.id == message_id).first()
    if row is None:
        raise NotFound(
            N_("outbox message %(message_id)s not found"), params={"message_id": message_id}
        )
    return message_out(row)


async def list_messages(
    *,
    limit: int = 50,
    offset: int = 0,
    state: OutboxState | None = None,
    subscription_id: int | None = None,
    event_id: str | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Outbox messages newest first, filtered by state, subscription or event."""
    query = (
        OutboxMessage.select()
        .order_by(OutboxMessage.id, ascending=False)
        .limit(limit + 1)
        .offset(offset)
    )
    if state is not None:
        query = query.where(OutboxMessage.state == state.value)
    if subscription_id is not None:
        query = query.where(OutboxMessage.subscription == subscription_id)
    if event_id is not None:
        query = query.where(OutboxMessage.event_id == event_id)
    rows = await query
    more = len(rows) > limit
    return [message_out(r) for r in rows[:limit]], (offset + limit if more else None)


async def outbox_counts() -> dict[str, int]:
    """How many messages are in each state."""
    rows = await fetch('SELECT state, COUNT(*) AS n FROM "outbox_message" GROUP BY state')
    counts = {s.value: 0 for s in OutboxState}
    counts.update({r["state"]: int(r["n"]) for r in rows})
    return counts


async def retry_message(*, actor: Actor, message_id: int) -> dict[str, Any]:
    """Send a dead letter again from its first attempt (a webhook's subscription must be active)."""
    async with write_transaction():
        row = await OutboxMessage.select().where(OutboxMessage.id == message_id).first()
        if row is None:
            raise NotFound(
                N_("outbox message %(message_id)s not found"), params={"message_id": message_id}
            )
        if row["state"] != OutboxState.dead:
            raise Conflict(
                N_("outbox message %(message_id)s is %(state)s; only dead letters are retried"),
                params={"message_id": message_id, "state": row["state"]},
            )
        # An e-mail has no subscription: it goes again to its recipient.
        sub = await _row(row["subscription"]) if row["subscription"] is not None else None
        if sub is not None and not sub["active"]:
            raise Conflict(
                N_("subscription %(id)s is inactive; activate it before retrying its messages"),
                params={"id": sub["id"]},
            )
        await OutboxMessage.update(
            {
                OutboxMessage.state: OutboxState.pending.value,
                OutboxMessage.due_at: utcnow(),
                OutboxMessage.attempts: 0,
                OutboxMessage.claimed_by: "",
                OutboxMessage.dead_at: None,
            }
        ).where((OutboxMessage.id == message_id) & (OutboxMessage.state == OutboxState.dead.value))
        await audit.record(
            actor,
            "outbox.retry",
            "outbox_message",
            message_id,
            {"state": [OutboxState.dead.value, OutboxState.pending.value]},
        )
    return await get_message(message_id=message_id)


async def purge_delivered(*, retention_days: int, batch: int = 5000) -> int:
    """Delete delivered messages older than the retention period; how many went."""
    cutoff = utcnow() - dt.timedelta(days=retention_days)
    total = 0
    while True:
        async with write_transaction():
            rows = await fetch(
                'DELETE FROM "outbox_message" WHERE id IN (SELECT id FROM "outbox_message" '
                "WHERE delivered_at < $1 LIMIT $2) RETURNING id",
                cutoff,
                batch,
            )
        total += len(rows)
        if len(rows) < batch:
            return total


async def rewrap_all(keyring: KeyRing) -> dict[str, int]:
    """Re-seal every subscription's data key under the current master key (`register keys rewrap`)."""
    box = seal_box(keyring)
    rewrapped = 0
    async with write_transaction():
        rows = await Subscription.select(
            Subscription.id, Subscription.wrapped_key, Subscription.key_version
        ).where(Subscription.key_version != keyring.current)
        for row in rows:
            await Subscription.update(
                {
                    Subscription.wrapped_key: box.rewrap(row["wrapped_key"], row["id"]),
                    Subscription.key_version: keyring.current,
                }
            ).where(Subscription.id == row["id"])
        rewrapped = len(rows)
        if rows:
            await audit.record(
                Actor.system("keys rewrap"),
                "subscription.rewrap",
                "subscription",
                "*",
                {"count": [None, rewrapped], "key_version": [None, keyring.current]},
            )
    total = await Subscription.count()
    remaining = await Subscription.count().where(Subscription.key_version != keyring.current)
    return {
        "rewrapped": rewrapped,
        "already_current": total - rewrapped - remaining,
        "remaining_on_old_versions": remaining,
    }
