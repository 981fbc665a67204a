"""Incident metrics: how fast incidents were acknowledged and resolved, what kinds, which clocks missed."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from incidents import services
from incidents.enums import Category, Severity
from incidents.pages._common import CATEGORIES, SEVERITY_NAMES
from register.charts import bar_chart
from register.db import now
from register.i18n import N_
from register.pages import page, reader_of, render

Months = Annotated[int, QueryParameter(ge=1, le=24)]
# A month as the tables and charts name it.
MONTH_CHOICES = (3, 6, 12, 24)


def _month_start(label: str) -> dt.datetime:
    year, month = (int(x) for x in label.split("-"))
    return dt.datetime(year, month, 1, tzinfo=dt.UTC)


class MetricsPages(Controller):
    """The metrics page."""

    path = "/incidents"
    include_in_schema = False

    @get("/metrics", opt=page("incident.metrics", replica_reads=True))
    async def metrics(self, request: Request[Any, Any, Any], months: Months = 6) -> Template:
        """Charts drawn on the server, each with its numbers in a table."""
        at = now()
        trends = await services.trends(months=months, at=at)
        labels = trends["months"]
        overall = await services.metrics(since=_month_start(labels[0]), until=at)
        reader = reader_of(request)
        sev = [s.value for s in Severity]

        def minutes_chart(chart_id: str, title: str, measure: str) -> Any:
            return bar_chart(
                chart_id,
                reader.gettext(title),
                [
                    (
                        reader.gettext(SEVERITY_NAMES[Severity(s)]),
                        overall["by_severity"][s][measure]["median_minutes"] or 0,
                        None,
                        s.lower(),
                    )
                    for s in sev
                ],
            )

        filed_chart = bar_chart(
            "filed-chart",
            reader.gettext(N_("Incidents filed per month")),
            [(m, trends["filed"][m], None) for m in labels],
        )
        category_totals = {
            c.value: sum(trends["by_category"][m][c.value] for m in labels) for c in Category
        }
        category_chart = bar_chart(
            "category-chart",
            reader.gettext(N_("Incidents by kind over the period")),
            [
                (
                    reader.gettext(CATEGORIES[c]),
                    category_totals[c.value],
                    f"/incidents?category={c.value}",
                )
                for c in Category
            ],
        )
        missed_chart = bar_chart(
            "missed-chart",
            reader.gettext(N_("Clocks missed per month")),
            [
                (
                    reader.gettext(N_("%(month)s: %(what)s"))
                    % {"month": m, "what": reader.gettext(what)},
                    trends["missed"][m][key],
                    None,
                    "high",
                )
                for m in labels
                for key, what in (
                    ("acknowledge", N_("acknowledged late")),
                    ("resolve", N_("resolved late")),
                    ("tasks", N_("tasks past due")),
                )
            ],
        )
        return render(
            request,
            "incidents/metrics.html",
            title=N_("Incident metrics"),
            months=months,
            month_choices=MONTH_CHOICES,
            labels=labels,
            trends=trends,
            overall=overall,
            severities=sev,
            severity_names=SEVERITY_NAMES,
            categories=CATEGORIES,
            category_totals=category_totals,
            acknowledge_chart=minutes_chart(
                "acknowledge-chart",
                N_("Median minutes to acknowledge, by severity"),
                "acknowledge",
            ),
            resolve_chart=minutes_chart(
                "resolve-chart", N_("Median minutes to resolve, by severity"), "resolve"
            ),
            filed_chart=filed_chart,
            category_chart=category_chart,
            missed_chart=missed_chart,
        )
