"""Bar charts drawn on the server as SVG (no chart library, no script), for any page to show.

A page builds a `BarChart` from a title and a series of (label, value, link[, tone]) and renders
it with the `bar_chart` macro of `_chart.html`. The SVG has no viewBox: its text keeps the page's
size at any width and its bars are lengths in per cent of the chart's width; SVG text does not
wrap, so a long label is broken into lines here, short enough for a phone (320 px). It is one
image to assistive technology (role="img", named by its <title>, its numbers in its <desc>), or,
when its bars link to their lists, a named group of those links; the page shows the same numbers
in a table next to it.

A chart of shares (`scale=100` for per cents) is drawn on that fixed scale instead: a full bar is
the whole scale, each bar lies on a pale track of the whole width with the scale's ends written
under the chart, and each bar's value is written as its `text` (such as "60%: 12 of 20
acknowledged", else its number) on a line of its own under its label, where a long one has room
on a phone.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

# Each bar is one row: its label on lines of their own (labels are words, not ticks), the bar
# under them, and its value at the bar's end. Sizes in CSS pixels for text of about 15 px.
LINE = 19
FIRST_BASELINE = 16
GAP = 7
BAR_HEIGHT = 18
VALUE_BELOW_BAR_TOP = 14
ROW_END = 10
# Characters of a label's line: about 250 px of text, what a phone leaves inside a card.
LABEL_CHARACTERS = 30
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
    # The value as the reader reads it ("60%: 12 of 20 acknowledged"), where a number is not enough.
    text: str = ""


@dataclass(frozen=True)
class Bar:
    """A point placed in the chart: its label's lines, where its row starts, its length."""

    label: str
    lines: tuple[str, ...]
    value: float
    link: str | None
    tone: str
    top: int
    percent: float
    text: str = ""
    # The value's own lines under the label (a chart on a fixed scale), else none.
    text_lines: tuple[str, ...] = ()

    @property
    def label_y(self) -> int:
        """Where the label's first baseline is."""
        return self.top + FIRST_BASELINE

    @property
    def text_y(self) -> int:
        """Where the value's first line under the label is."""
        return self.label_y + len(self.lines) * LINE

    @property
    def bar_y(self) -> int:
        """Where the bar's top edge is."""
        return self.label_y + (len(self.lines) + len(self.text_lines) - 1) * LINE + GAP

    @property
    def value_y(self) -> int:
        """Where the value's baseline is."""
        return self.bar_y + VALUE_BELOW_BAR_TOP

    @property
    def height(self) -> int:
        """The height of the bar's whole row."""
        return self.bar_y + BAR_HEIGHT + ROW_END - self.top


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart ready to draw: its id (for aria ids), title, bars and height."""

    id: str
    title: str
    bars: tuple[Bar, ...]
    height: int
    bar_height: int = BAR_HEIGHT
    line: int = LINE
    # A chart on a fixed scale: the words of its two ends ("0%", "100%") and their baseline.
    scale: float | None = None
    ends: tuple[str, str] = ("", "")
    ends_y: int = 0


def bar_chart(
    chart_id: str,
    title: str,
    series: Iterable[Sequence[object]],
    *,
    skip_zero: bool = True,
    label_characters: int = LABEL_CHARACTERS,
    scale: float | None = None,
    ends: tuple[str, str] = ("", ""),
) -> BarChart:
    """Place a series as horizontal bars scaled to its largest value (zeros left out if asked),
    or, given a `scale`, on that fixed scale (a value of `scale` is a bar of the whole width)."""
    if not _ID.match(chart_id):
        raise ValueError(f"chart id {chart_id!r} must be a plain HTML id")
    if scale is not None and scale <= 0:
        raise ValueError("a fixed scale must be above zero")
    points = [Point(*item) for item in series]  # type: ignore[arg-type]
    if skip_zero:
        points = [p for p in points if p.value]
    if any(p.value < 0 for p in points):
        raise ValueError("a bar chart draws counts and amounts, not negative values")
    largest = max((p.value for p in points), default=0)
    bars: list[Bar] = []
    top = 0
    for p in points:
        bar = Bar(
            label=p.label,
            lines=tuple(textwrap.wrap(p.label, label_characters)) or ("",),
            value=p.value,
            link=p.link,
            tone=p.tone,
            top=top,
            percent=_length(p.value, largest, scale),
            text=p.text,
            text_lines=(tuple(textwrap.wrap(p.text, label_characters)) or ("",)) if scale else (),
        )
        bars.append(bar)
        top += bar.height
    if scale is None:
        return BarChart(id=chart_id, title=title, bars=tuple(bars), height=max(top, LINE) + 4)
    # The scale's ends under the last bar, so "full" reads as the whole scale, not the largest.
    ends_y = top + FIRST_BASELINE
    return BarChart(
        id=chart_id,
        title=title,
        bars=tuple(bars),
        height=ends_y + 8,
        scale=scale,
        ends=ends,
        ends_y=ends_y,
    )


def _length(value: float, largest: float, scale: float | None) -> float:
    """A bar's length in per cent of the chart's width."""
    if scale is not None:
        share = 100 * min(value, scale) / scale
    elif largest:
        share = LONGEST * value / largest
    else:
        return 0.0
    # A value above zero always shows a sliver, so a small count is not read as none.
    return round(max(share, 0.5), 2) if value else 0.0
