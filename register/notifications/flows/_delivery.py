"""The delivery worker: claims due outbox messages under a lease, sends them, records the outcome.

Claiming pushes a message's `due_at` out by the lease and counts the attempt, in one statement:
on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so workers running side by side take disjoint
batches; on SQLite inside a write transaction, which admits one claimer at a time. A worker
killed mid-batch leaves its messages with `due_at` at the end of the lease, when any worker
claims them again (at-least-once: a receiver de-duplicates on the event id).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import random
import secrets as pysecrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from register import audit
from register.db import fetch, is_postgres, write_transaction
from register.db import now as utcnow
from register.extensions import extensions
from register.keys import KeyRing
from register.notifications.enums import OutboxState
from register.notifications.flows import _webhooks as webhooks
from register.notifications.flows._mail import configure_mail, send_mail
from register.notifications.flows._publish import publish_digest
from register.notifications.services import deactivate_gone, open_subscription, purge_delivered
from register.settings import Settings

log = logging.getLogger("register.worker")

HOUSEKEEPING_SECONDS = 60.0

CLAIM_POSTGRES = """
UPDATE "outbox_message" AS m
SET due_at = $1, attempts = m.attempts + 1, claimed_by = $2
FROM (
    SELECT id FROM "outbox_message"
    WHERE due_at <= $3 AND state = 'pending'
    ORDER BY due_at
    LIMIT $4
    FOR UPDATE SKIP LOCKED
) AS c
WHERE m.id = c.id
RETURNING m.id, m.subscription, m.event, m.attempts
"""

CLAIM_SQLITE = """
UPDATE "outbox_message"
SET due_at = $1, attempts = attempts + 1, claimed_by = $2
WHERE id IN (
    SELECT id FROM "outbox_message"
    WHERE due_at <= $3 AND state = 'pending'
    ORDER BY due_at
    LIMIT $4
)
RETURNING id, subscription, event, attempts
"""


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds before the next attempt: base doubled per attempt, capped, with equal jitter."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay / 2 + random.uniform(0, delay / 2)


@dataclass
class BatchResult:
    """What one batch came to."""

    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    gone_subscriptions: set[int] = field(default_factory=set)

    @property
    def claimed(self) -> int:
        """Messages the batch claimed."""
        return self.delivered + self.retrying + self.dead


def _ids_clause(ids: list[int], start: int) -> tuple[str, list[Any]]:
    """`IN ($n, ...)` on SQLite, `= ANY($n)` on PostgreSQL, for an id list."""
    if is_postgres():
        return f"= ANY(${start}::int[])", [ids]
    return "IN (" + ", ".join(f"${start + i}" for i in range(len(ids))) + ")", list(ids)


class Worker:
    """Delivers outbox messages with one shared HTTP client."""

    def __init__(
        self,
        settings: Settings,
        keyring: Callable[[], KeyRing],
        *,
        name: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.keyring = keyring
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{pysecrets.token_hex(3)}"
        self._client = client
        self._own_client = client is None
        # (subscription id, version, wrapped key) -> (url, secret): open each once, not per message.
        self._opened: dict[tuple[int, int, str], tuple[str, str]] = {}
        self._last_housekeeping = 0.0
        self._last_audit_tick = 0.0
        # SMTP connections at once: a batch of mail does not open a hundred to one server.
        self._mail_slots = asyncio.Semaphore(4)
        configure_mail(settings)

    @property
    def client(self) -> httpx.AsyncClient:
        """The process's delivery client, made on first use."""
        if self._client is None:
            self._client = webhooks.make_client(self.settings)
        return self._client

    async def close(self) -> None:
        """Close the client if this worker made it."""
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def claim(self, limit: int, only_ids: list[int] | None = None) -> list[dict[str, Any]]:
        """Take up to `limit` due messages under a lease; returns them with the attempt number."""
        now = utcnow()
        lease_end = now + dt.timedelta(seconds=self.settings.outbox_lease_seconds)
        async with write_transaction():
            if only_ids is not None:
                # Only if still due: a message another worker holds under its lease is left to it.
                clause, args = _ids_clause(only_ids, 5)
                return await fetch(
                    f'UPDATE "outbox_message" SET due_at = $1, attempts = attempts + 1, '
                    f"claimed_by = $2 WHERE state = $3 AND due_at <= $4 AND id {clause} "
                    "RETURNING id, subscription, event, attempts",
                    lease_end,
                    self.name,
                    OutboxState.pending.value,
                    now,
                    *args,
                )
            sql = CLAIM_POSTGRES if is_postgres() else CLAIM_SQLITE
            return await fetch(sql, lease_end, self.name, now, limit)

    async def _subscriptions(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        if not ids:
            return {}
        clause, args = _ids_clause(ids, 1)
        rows = await fetch(
            "SELECT id, active, format, wrapped_key, url_sealed, secret_sealed, version "
            f'FROM "subscription" WHERE id {clause}',
            *args,
        )
        out = {}
        ring = self.keyring()
        for row in rows:
            key = (row["id"], row["version"], row["wrapped_key"])
            if key not in self._opened:
                try:
                    self._opened[key] = open_subscription(ring, row)
                except Exception:
                    # A damaged row or a retired key version: its messages dead-letter with a
                    # clear error instead of stopping the batch they share with others.
                    log.exception("subscription %s cannot be opened", row["id"])
                    out[row["id"]] = {**row, "url": None, "secret": None}
                    continue
            url, secret = self._opened[key]
            out[row["id"]] = {**row, "url": url, "secret": secret}
        return out

    async def _attempt(
        self, message: dict[str, Any], subscription: dict[str, Any] | None
    ) -> webhooks.Outcome:
        if message["subscription"] is None:
            return await send_mail(self.settings, message, self._mail_slots)
        if subscription is None or not subscription["active"]:
            return webhooks.Outcome(
                ok=False, error="not sent: the subscription is inactive", final=True
            )
        if subscription["url"] is None:
            return webhooks.Outcome(
                ok=False,
                error="not sent: the subscription's URL and secret cannot be decrypted "
                "(a key version missing from the key ring?)",
                final=True,
            )
        try:
            event = (
                json.loads(message["event"])
                if isinstance(message["event"], str)
                else message["event"]
            )
            body = webhooks.render(subscription["format"], event)
            headers = webhooks.headers_for(event, subscription["secret"], body, message["attempts"])
            return await webhooks.send(
                self.client, self.settings, subscription["url"], body, headers
            )
        except Exception as exc:
            # Whatever goes wrong with one message is recorded on it; the batch goes on.
            log.exception("outbox message %s could not be sent", message["id"])
            return webhooks.Outcome(ok=False, error=f"not sent: {type(exc).__name__}: {exc}"[:500])

    async def deliver(self, messages: list[dict[str, Any]]) -> BatchResult:
        """Send claimed messages at once and record every outcome."""
        result = BatchResult()
        if not messages:
            return result
        subscriptions = await self._subscriptions(
            sorted({m["subscription"] for m in messages if m["subscription"] is not None})
        )
        outcomes = await asyncio.gather(
            *(self._attempt(m, subscriptions.get(m["subscription"] or 0)) for m in messages)
        )
        await self._record(messages, outcomes, result)
        if result.gone_subscriptions:
            await deactivate_gone(
                result.gone_subscriptions,
                "the receiver answered 410 Gone; turned off by the register",
            )
        return result

    async def _record(
        self, messages: list[dict[str, Any]], outcomes: list[webhooks.Outcome], result: BatchResult
    ) -> None:
        now = utcnow()
        delivered: dict[int | None, list[int]] = {}
        later: list[tuple[dict[str, Any], webhooks.Outcome]] = []
        for message, outcome in zip(messages, outcomes, strict=True):
            if outcome.ok:
                delivered.setdefault(outcome.status, []).append(message["id"])
            else:
                later.append((message, outcome))
        s = self.settings
        async with write_transaction():
            for status, ids in delivered.items():
                clause, args = _ids_clause(ids, 3)
                # Not conditional on the lease: a message that reached its receiver is delivered.
                await fetch(
                    "UPDATE \"outbox_message\" SET state = 'delivered', due_at = NULL, "
                    "delivered_at = $1, last_status = $2, last_error = '' "
                    f"WHERE state = 'pending' AND id {clause} RETURNING id",
                    now,
                    status,
                    *args,
                )
                result.delivered += len(ids)
            for message, outcome in later:
                error = outcome.error[: webhooks.MAX_ERROR]
                if outcome.gone and message["subscription"] is not None:
                    result.gone_subscriptions.add(message["subscription"])
                if outcome.final or message["attempts"] >= s.outbox_max_attempts:
                    if not outcome.final:
                        error = f"gave up after {message['attempts']} attempts: {error}"
                    state, due, dead_at = OutboxState.dead.value, None, now
                    result.dead += 1
                else:
                    wait = backoff(
                        message["attempts"], s.outbox_backoff_seconds, s.outbox_backoff_max_seconds
                    )
                    if outcome.retry_after is not None:
                        wait = max(wait, min(outcome.retry_after, s.outbox_backoff_max_seconds))
                    state, due, dead_at = (
                        OutboxState.pending.value,
                        now + dt.timedelta(seconds=wait),
                        None,
                    )
                    result.retrying += 1
                # Only while this worker still holds the lease for this attempt.
                await fetch(
                    'UPDATE "outbox_message" SET state = $1, due_at = $2, dead_at = $3, '
                    "last_error = $4, last_status = $5 "
                    "WHERE id = $6 AND attempts = $7 AND claimed_by = $8 AND state = 'pending' "
                    "RETURNING id",
                    state,
                    due,
                    dead_at,
                    error,
                    outcome.status,
                    message["id"],
                    message["attempts"],
                    self.name,
                )
            if result.gone_subscriptions:
                clause, args = _ids_clause(sorted(result.gone_subscriptions), 3)
                await fetch(
                    "UPDATE \"outbox_message\" SET state = 'dead', due_at = NULL, dead_at = $1, "
                    "last_error = $2 "
                    f"WHERE state = 'pending' AND subscription {clause} RETURNING id",
                    now,
                    "not sent: the receiver answered 410 Gone and the subscription was turned off",
                    *args,
                )

    async def run_once(self, limit: int | None = None) -> BatchResult:
        """Claim one batch and deliver it."""
        return await self.deliver(await self.claim(limit or self.settings.outbox_batch_size))

    async def deliver_now(self, message_ids: list[int]) -> BatchResult:
        """Claim and send particular pending messages at once (the "send test" action)."""
        return await self.deliver(await self.claim(len(message_ids), only_ids=message_ids))

    async def housekeeping(self, force: bool = False) -> None:
        """Purge old delivered messages and publish the daily digest when due (once a minute)."""
        if not force and time.monotonic() - self._last_housekeeping < HOUSEKEEPING_SECONDS:
            return
        self._last_housekeeping = time.monotonic()
        try:
            purged = await purge_delivered(retention_days=self.settings.outbox_retention_days)
            if purged:
                log.info("outbox: purged %d delivered message(s)", purged)
            ids = await publish_digest(hour=self.settings.digest_hour_utc)
            if ids:
                log.info("daily digest published: %d role(s)", len(ids))
        except Exception:
            log.exception("outbox housekeeping failed; trying again in a minute")
        await run_periodic_tasks()

    async def sign_audit_trail(self, force: bool = False) -> None:
        """Sign the end of the audit trail every CHECKPOINT_SECONDS if events are unsigned."""
        if not force and time.monotonic() - self._last_audit_tick < audit.CHECKPOINT_SECONDS:
            return
        self._last_audit_tick = time.monotonic()
        try:
            seq = await audit.checkpoint_if_unsigned()
            if seq:
                log.debug("audit trail signed up to event %d", seq)
        except Exception:
            log.exception("could not sign an audit checkpoint; trying again at the next tick")

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; an idle worker polls every few seconds."""
        log.info("outbox worker %s started", self.name)
        # Counted from the start: what was left unsigned while no worker ran waits one interval.
        self._last_audit_tick = time.monotonic()
        try:
            while not stop.is_set():
                await self.housekeeping()
                await self.sign_audit_trail()
                try:
                    result = await self.run_once()
                except Exception:
                    log.exception("outbox batch failed; retrying after the poll interval")
                    result = BatchResult()
                if result.claimed:
                    log.debug(
                        "outbox: %d delivered, %d retrying, %d dead",
                        result.delivered,
                        result.retrying,
                        result.dead,
                    )
                    continue
                try:
                    await asyncio.wait_for(stop.wait(), self.settings.outbox_poll_seconds)
                except TimeoutError:
                    pass
        finally:
            await self.close()
            log.info("outbox worker %s stopped", self.name)


async def run_periodic_tasks() -> None:
    """The parts' clocks (escalations, overdue items); one failing does not stop the rest."""
    for task in extensions.periodic_tasks:
        try:
            await task()
        except Exception:
            log.exception("periodic task %s failed; trying again in a minute", task.__qualname__)
