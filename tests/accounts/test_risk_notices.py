"""Risk findings notified as they appear: the worker's risk clock, re-certification due, digest."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from accounts.services import risk_clock, risk_digest
from accounts.tables import SocialAccount
from register.enums import Role
from register.notifications.tables import OutboxMessage
from tests.helpers import subscribe


async def _events(kind: str) -> list[dict[str, Any]]:
    import json

    rows = await OutboxMessage.select().where(OutboxMessage.event_type == kind)
    return [json.loads(r["event"]) if isinstance(r["event"], str) else r["event"] for r in rows]


async def test_new_findings_are_notified_once_and_again_only_after_clearing(
    app, settings, it, people, make_account
):
    await subscribe(
        app,
        settings,
        "http://127.0.0.1:9/hook",
        events=["risk.new_finding", "recertification.due"],
    )
    safe = await make_account()  # custodian ana, backup ben, authenticator app: no findings
    assert await risk_clock(settings=settings) == {"new": 0, "cleared": 0}
    lonely = await make_account(backup_custodian_id=None)
    first = await risk_clock(settings=settings)
    assert first == {"new": 1, "cleared": 0}
    [event] = await _events("risk.new_finding")
    [item] = event["payload"]["findings"]
    assert (item["account_id"], item["kind"]) == (lonely["id"], "no_backup_custodian")
    assert set(event["audience"]) == {"admin", "it"} and "no backup" in event["summary"].lower()
    # Nothing new, nothing sent; the digest lists it as new since yesterday.
    assert await risk_clock(settings=settings) == {"new": 0, "cleared": 0}
    assert len(await _events("risk.new_finding")) == 1
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    [section] = await risk_digest(Role.it, since)
    assert section["count"] == 1 and lonely["handle"] in section["items"][0]
    assert await risk_digest(Role.comms, since) == []
    # Fixed: cleared. Broken again: new again.
    fixed = await it.patch(
        f"/api/v1/accounts/{lonely['id']}",
        json={"version": lonely["version"], "backup_custodian_id": people["eve"]},
    )
    assert fixed.status_code == 200, fixed.text
    assert await risk_clock(settings=settings) == {"new": 0, "cleared": 1}
    broken = await it.patch(
        f"/api/v1/accounts/{lonely['id']}",
        json={"version": fixed.json()["version"], "backup_custodian_id": None},
    )
    assert broken.status_code == 200, broken.text
    assert await risk_clock(settings=settings) == {"new": 1, "cleared": 0}
    assert len(await _events("risk.new_finding")) == 2
    assert safe["id"] not in {
        f["account_id"] for e in await _events("risk.new_finding") for f in e["payload"]["findings"]
    }


async def test_recertification_due_is_notified_when_the_interval_runs_out(
    app, settings, make_account
):
    await subscribe(app, settings, "http://127.0.0.1:9/hook", events=["recertification.due"])
    acct = await make_account()
    await risk_clock(settings=settings)
    assert await _events("recertification.due") == []
    await SocialAccount.update(
        {
            SocialAccount.created_at: dt.datetime.now(dt.UTC)
            - dt.timedelta(days=settings.recertification_days + 1)
        }
    ).where(SocialAccount.id == acct["id"])
    await risk_clock(settings=settings)
    [event] = await _events("recertification.due")
    assert [a["account_id"] for a in event["payload"]["accounts"]] == [acct["id"]]
    assert event["audience"] == ["it"]


async def test_risk_clocks_of_several_workers_notify_once(app, settings, make_account):
    await subscribe(app, settings, "http://127.0.0.1:9/hook", events=["risk.new_finding"])
    for _ in range(3):
        await make_account(backup_custodian_id=None)
    results = await asyncio.gather(*(risk_clock(settings=settings) for _ in range(3)))
    assert sum(r["new"] for r in results) == 3
    events = await _events("risk.new_finding")
    assert sum(e["payload"]["count"] for e in events) == 3
