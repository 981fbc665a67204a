"""The confidential intake: any member of staff reports without an account, anonymous if they wish."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from incidents.enums import Severity
from incidents.services import file_incident, now
from incidents.tables import IntakeAttempt
from register.actor import Actor
from register.db import write_transaction
from register.errors import TooManyAttempts

INTAKE_PER_HOUR = 5


async def intake(*, actor: Actor, data: dict[str, Any], secret: bytes) -> dict[str, Any]:
    """A report from anyone, without an account; rate-limited per address; lands in triage."""
    address = actor.client_address or "unknown"
    # Keyed with the server's secret: a plain hash of an IPv4 address is reversed by trying
    # all of them, and the attempt's time would then tie an anonymous report to its sender.
    address_hash = hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()
    # Minutes are enough for an hourly limit, and do not line up with the report's own time.
    stamp = now().replace(second=0, microsecond=0)
    window = stamp - dt.timedelta(hours=1)
    body = {
        "title": data.get("title"),
        "description": data.get("description"),
        "category": data.get("category"),
        "severity": Severity.SEV2.value if data.get("urgent") else Severity.SEV3.value,
        "platform": data.get("platform"),
        "content_urls": data.get("content_urls") or [],
        "reporter_name": "" if data.get("anonymous", True) else data.get("reporter_name"),
        "reporter_contact": "" if data.get("anonymous", True) else data.get("reporter_contact"),
    }
    # The reporter's address stays out of the incident's audit event and timeline.
    reporter = Actor.anonymous(request_id=actor.request_id)
    # One transaction: a report refused as invalid takes its attempt back with it, so it does
    # not use up the sender's hour.
    async with write_transaction():
        recent = await IntakeAttempt.count().where(
            (IntakeAttempt.address_hash == address_hash) & (IntakeAttempt.at > window)
        )
        if recent >= INTAKE_PER_HOUR:
            raise TooManyAttempts(
                f"at most {INTAKE_PER_HOUR} reports an hour from one address; try again later",
                retry_after=3600,
            )
        await IntakeAttempt.delete().where(IntakeAttempt.at < stamp - dt.timedelta(days=1))
        await IntakeAttempt.insert(IntakeAttempt(address_hash=address_hash, at=stamp))
        incident = await file_incident(actor=reporter, data=body, via_intake=True)
    return {
        "reference": incident["reference"],
        "received_at": incident["reported_at"],
        "anonymous": not (body["reporter_name"] or body["reporter_contact"]),
    }
