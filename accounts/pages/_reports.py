"""The risk report: findings by kind as a chart drawn on the server, a table, and the list behind it."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from accounts import services
from accounts.pages._common import ADVICE, PAGE_SIZE, PLATFORMS, Choice
from register.charts import bar_chart
from register.i18n import N_
from register.openapi import SettingsDep
from register.pages import page, reader_of, render

# Each kind of finding in a few words, for the chart's labels and the table.
KIND_LABELS = {
    "no_backup_custodian": N_("No backup custodian"),
    "custodian_leaving": N_("Custodian leaving"),
    "backup_leaving": N_("Backup custodian leaving"),
    "mfa_holder_leaving": N_("Second-factor holder leaving"),
    "recovery_email_not_company": N_("Recovery e-mail not the company's"),
    "recovery_phone_not_company": N_("Recovery phone not the company's"),
    "weak_mfa": N_("Weak or no second factor"),
    "rotation_due": N_("Credential due for rotation"),
    "grant_held_by_leaver": N_("Access held by a leaver"),
    "grant_holder_untrained": N_("Access without required training"),
    "recertification_overdue": N_("Re-certification overdue"),
}
SEVERITIES = {"high": N_("High"), "medium": N_("Medium")}


def kinds_by_weight(totals: dict[str, int]) -> list[services.RiskKind]:
    """Kinds with the most accounts first, high before medium at equal counts, then as defined."""
    order = {k.name: n for n, k in enumerate(services.KINDS)}
    return sorted(
        services.KINDS,
        key=lambda k: (-totals.get(k.name, 0), k.severity != "high", order[k.name]),
    )


class ReportPages(Controller):
    """Reports on the account register."""

    path = "/accounts"
    include_in_schema = False

    @get("/risks", opt=page("account.read", replica_reads=True))
    async def risks(
        self,
        request: Request[Any, Any, Any],
        settings: SettingsDep,
        kind: Choice = "",
        offset: Annotated[int, QueryParameter(ge=0, le=10**9)] = 0,
    ) -> Template:
        """Findings across the register (the API's report): by kind, then the accounts behind them."""
        report = await services.risk_report(
            settings=settings, kind=kind or None, limit=PAGE_SIZE, offset=offset
        )
        reader = reader_of(request)
        ordered = kinds_by_weight(report["totals"])
        rows = [
            {
                "kind": k.name,
                "label": KIND_LABELS[k.name],
                "severity": k.severity,
                "message": k.message,
                "count": report["totals"][k.name],
                "link": f"/accounts/risks?kind={k.name}#findings",
            }
            for k in ordered
        ]
        chart = bar_chart(
            "risk-chart",
            reader.gettext(N_("Accounts by kind of finding")),
            [
                (
                    reader.gettext(N_("%(severity)s: %(kind)s"))
                    % {
                        "severity": reader.gettext(SEVERITIES[r["severity"]]),
                        "kind": reader.gettext(r["label"]),
                    },
                    r["count"],
                    r["link"],
                    r["severity"],
                )
                for r in rows
            ],
        )
        return render(
            request,
            "accounts/risks.html",
            title=N_("Risk report"),
            report=report,
            rows=rows,
            chart=chart,
            kind=kind,
            kind_label=KIND_LABELS.get(kind, ""),
            severities=SEVERITIES,
            platforms=PLATFORMS,
            advice=ADVICE,
            offset=offset,
            page_size=PAGE_SIZE,
        )
