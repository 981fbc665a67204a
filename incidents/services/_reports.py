"""Reports made to platforms (takedowns, impersonation): submitted, answered, outcome."""

from __future__ import annotations

from typing import Any

from accounts.enums import Platform
from incidents.enums import ReportOutcome, TimelineKind
from incidents.services._checks import clean_text, given_time, platform_value
from incidents.services._records import incident_row, stored_value
from incidents.services._timeline import say, timeline
from incidents.tables import PlatformReport
from register import audit
from register.actor import Actor
from register.db import fetch, now, write_transaction
from register.errors import NotFound, StaleVersion
from register.i18n import N_
from register.queries import expect_version

REPORT_COLUMNS = (
    '"id", "incident" AS "incident_id", "platform", "report_ref", "submitted_at", "answer", '
    '"answered_at", "outcome", "created_by", "version", "created_at", "updated_at"'
)


async def list_reports(*, incident_id: int) -> list[dict[str, Any]]:
    """Reports made to platforms for an incident."""
    await incident_row(incident_id)
    return await fetch(
        f'SELECT {REPORT_COLUMNS} FROM "platform_report" WHERE "incident" = $1 ORDER BY "id"',
        incident_id,
    )


async def report_row(incident_id: int, report_id: int) -> dict[str, Any]:
    """One platform report, or NotFound."""
    rows = await fetch(
        f'SELECT {REPORT_COLUMNS} FROM "platform_report" WHERE "id" = $1 AND "incident" = $2',
        report_id,
        incident_id,
    )
    if not rows:
        raise NotFound(
            N_("platform report %(report)s does not exist on incident %(incident)s"),
            params={"report": report_id, "incident": incident_id},
        )
    return rows[0]


async def add_report(*, actor: Actor, incident_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Record a report made to a platform."""
    platform = platform_value(data.get("platform")) or Platform.other.value
    ref = clean_text(data.get("report_ref"), "report_ref", 200)
    answer = clean_text(data.get("answer"), "answer", 5000)
    outcome = ReportOutcome(stored_value(data.get("outcome") or ReportOutcome.pending.value))
    stamp = now()
    submitted = given_time(data.get("submitted_at"), "submitted_at") or stamp
    async with write_transaction():
        await incident_row(incident_id)
        rows = await PlatformReport.insert(
            PlatformReport(
                incident=incident_id,
                platform=platform,
                report_ref=ref,
                submitted_at=submitted,
                answer=answer,
                answered_at=stamp if answer else None,
                outcome=outcome.value,
                created_by=actor.user_id,
                version=1,
                created_at=stamp,
                updated_at=stamp,
            )
        ).returning(PlatformReport.id)
        report_id = rows[0]["id"]
        await timeline(
            actor,
            incident_id,
            TimelineKind.platform_report,
            f"reported to {platform}" + (f" (report {ref})" if ref else ""),
            {"report_id": report_id, "outcome": outcome.value},
            at=stamp,
            said=say(N_("reported to %(platform)s (report %(ref)s)"), platform=platform, ref=ref)
            if ref
            else say(N_("reported to %(platform)s"), platform=platform),
        )
        await audit.record(
            actor,
            "platform_report.add",
            "platform_report",
            report_id,
            {
                "platform": [None, platform],
                "report_ref": [None, ref],
                "outcome": [None, outcome.value],
            },
        )
    return await report_row(incident_id, report_id)


async def update_report(
    *, actor: Actor, incident_id: int, report_id: int, version: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Record the platform's answer and the outcome, with a version check."""
    clean: dict[str, Any] = {}
    if "report_ref" in changes:
        clean["report_ref"] = clean_text(changes["report_ref"], "report_ref", 200)
    if "answer" in changes:
        clean["answer"] = clean_text(changes["answer"], "answer", 5000)
    if "outcome" in changes:
        clean["outcome"] = ReportOutcome(stored_value(changes["outcome"])).value
    stamp = now()
    async with write_transaction():
        before = await report_row(incident_id, report_id)
        expect_version(f"platform report {report_id}", before["version"], version)
        clean = {k: v for k, v in clean.items() if before[k] != v}
        if not clean:
            return before
        values = dict(clean)
        if "answer" in clean:
            values["answered_at"] = stamp
        updated = (
            await PlatformReport.update({**values, "version": version + 1, "updated_at": stamp})
            .where((PlatformReport.id == report_id) & (PlatformReport.version == version))
            .returning(PlatformReport.id)
        )
        if not updated:
            raise StaleVersion(
                N_("platform report %(report)s has changed; read it again"),
                params={"report": report_id},
            )
        await timeline(
            actor,
            incident_id,
            TimelineKind.platform_report,
            f"{before['platform']} report updated: "
            + ", ".join(f"{k} {v}" for k, v in clean.items() if k != "answer")
            + (" (answer recorded)" if "answer" in clean else ""),
            {"report_id": report_id},
            said=say(N_("%(platform)s report updated"), platform=before["platform"]),
            at=stamp,
        )
        await audit.record(
            actor, "platform_report.update", "platform_report", report_id, audit.diff(before, clean)
        )
    return await report_row(incident_id, report_id)
