"""Bar charts drawn on the server as SVG (no chart library, no script), for any page to show.

A page builds a `BarChart` from a title and a series of (label, value, link[, tone]) and renders
it with the `bar_chart` macro of `_chart.html`. The SVG has no viewBox: its text keeps the page's
size at any width (320 px included) and its bars are lengths in per cent of the chart's width.
It is one image to assistive technology (role="img", named by its <title>, its numbers in its
<desc>); the page shows the same numbers, with the same links, in a table next to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

# Each bar is one row: its label on a line of its own (labels are words, not ticks), the bar
# under it, and its value at the bar's end.
ROW = 52
LABEL_Y = 18
BAR_Y = 25
BAR_HEIGHT = 18
VALUE_Y = 39
# The longest bar leaves this much of the width for its value written after it.
LONGEST = 80.0
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class Point(NamedTuple):
    """One value of a series: what it counts, how many, where its list is, and how it is drawn."""

    label: str
    value: float
    link: str | None = None
    # A class suffix for the bar (e.g. a severity); never the only way the meaning is given.
    tone: str = ""


@dataclass(frozen=True)
class Bar:
    """A point placed in the chart."""

    label: str
    value: float
    link: str | None
    tone: str
    top: int
    percent: float

    @property
    def label_y(self) -> int:
        """Where the label's baseline is."""
        return self.top + LABEL_Y

    @property
    def bar_y(self) -> int:
        """Where the bar's top edge is."""
        return self.top + BAR_Y

    @property
    def value_y(self) -> int:
        """Where the value's baseline is."""
        return self.top + VALUE_Y


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart ready to draw: its id (for aria ids), title, bars and height."""

    id: str
    title: str
    bars: tuple[Bar, ...]
    height: int
    bar_height: int = BAR_HEIGHT


def bar_chart(
    chart_id: str,
    title: str,
    series: Iterable[Sequence[object]],
    *,
    skip_zero: bool = True,
) -> BarChart:
    """Place a series as horizontal bars scaled to its largest value (zeros left out if asked)."""
    if not _ID.match(chart_id):
        raise ValueError(f"chart id {chart_id!r} must be a plain HTML id")
    points = [Point(*item) for item in series]  # type: ignore[arg-type]
    if skip_zero:
        points = [p for p in points if p.value]
    if any(p.value < 0 for p in points):
        raise ValueError("a bar chart draws counts and amounts, not negative values")
    largest = max((p.value for p in points), default=0)
    bars = tuple(
        Bar(
            label=p.label,
            value=p.value,
            link=p.link,
            tone=p.tone,
            top=n * ROW,
            # A value above zero always shows a sliver, so a small count is not read as none.
            percent=round(max(LONGEST * p.value / largest, 0.5), 2) if largest else 0.0,
        )
        for n, p in enumerate(points)
    )
    return BarChart(id=chart_id, title=title, bars=bars, height=max(len(bars), 1) * ROW + 4)
