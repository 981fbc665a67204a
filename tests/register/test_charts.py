"""Bar charts drawn on the server: placed from a series, valid SVG, named, links where given."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from jinja2 import Environment, FileSystemLoader

from register.charts import LONGEST, bar_chart
from register.i18n import Reader
from register.pages import CORE_TEMPLATES

SVG = "{http://www.w3.org/2000/svg}"


def draw(chart: object, language: str = "en") -> ET.Element:
    """The chart through the `_chart.html` macro, parsed as XML (fails on anything not well formed)."""
    environment = Environment(
        loader=FileSystemLoader(CORE_TEMPLATES), autoescape=True, extensions=["jinja2.ext.i18n"]
    )
    template = environment.from_string(
        '{% from "_chart.html" import bar_chart with context %}{{ bar_chart(chart) }}'
    )
    text = template.render(chart=chart, **Reader(language=language).context())
    return ET.fromstring(text.strip())  # noqa: S314 - our own template's output


def test_bars_are_scaled_to_the_largest_and_zeros_are_left_out() -> None:
    """The largest value is the longest bar; each other is in proportion; a zero draws nothing."""
    chart = bar_chart("c1", "By month", [("Jan", 10, None), ("Feb", 0, None), ("Mar", 5, "/m")])
    assert [b.label for b in chart.bars] == ["Jan", "Mar"]
    assert [b.percent for b in chart.bars] == [LONGEST, LONGEST / 2]
    assert chart.bars[1].top > chart.bars[0].top and chart.height > chart.bars[1].value_y
    tiny = bar_chart("c2", "Tiny", [("big", 10_000, None), ("one", 1, None)])
    assert tiny.bars[1].percent > 0, "a count above zero is never drawn as nothing"
    kept = bar_chart("c3", "All", [("a", 0, None)], skip_zero=False)
    assert [b.percent for b in kept.bars] == [0.0]
    with pytest.raises(ValueError):
        bar_chart("c4", "Debts", [("a", -1, None)])
    with pytest.raises(ValueError):
        bar_chart('x" onload="alert(1)', "Bad id", [])


def test_the_svg_is_well_formed_named_and_escapes_its_words() -> None:
    """role=img named by its title, its numbers in its desc, labels escaped (valid XML)."""
    chart = bar_chart(
        "incidents-by-month",
        "Incidents <by> month & more",
        [("Jan & Feb", 1234, None), ('Mar "quoted" <b>', 70, None)],
    )
    svg = draw(chart, "nl")
    assert svg.tag == f"{SVG}svg" and svg.get("role") == "img"
    title = svg.find(f"{SVG}title")
    desc = svg.find(f"{SVG}desc")
    assert title is not None and title.text == "Incidents <by> month & more"
    assert svg.get("aria-labelledby") == title.get("id") == "incidents-by-month-title"
    assert desc is not None and svg.get("aria-describedby") == desc.get("id")
    # Numbers in the reader's language (Dutch groups thousands with a dot).
    assert desc.text == 'Jan & Feb: 1.234; Mar "quoted" <b>: 70'
    rows = svg.findall(f"{SVG}g")
    assert len(rows) == 2 and not svg.findall(f"{SVG}a")
    labels = [
        "".join(t.itertext()) for t in svg.iter(f"{SVG}text") if t.get("class") == "chart-label"
    ]
    assert labels == ["Jan & Feb", 'Mar "quoted" <b>']
    widths = [r.get("width") for r in svg.iter(f"{SVG}rect")]
    assert widths == [f"{LONGEST}%", f"{round(LONGEST * 70 / 1234, 2)}%"]


def test_a_long_label_is_broken_into_lines_that_fit_a_phone() -> None:
    """SVG text does not wrap: a long label is drawn on lines, its row taller, nothing cut."""
    label = "High: Recovery e-mail not the company's, a very long label indeed"
    chart = bar_chart("long", "Long", [(label, 2, None), ("Short", 1, None)])
    first, second = chart.bars
    assert len(first.lines) == 3 and " ".join(first.lines) == label
    assert all(len(line) <= 30 for line in first.lines)
    assert first.height > second.height and second.top == first.height
    assert first.bar_y > first.label_y + 2 * 19 - 1
    svg = draw(chart)
    spans = [t.text for t in svg.iter(f"{SVG}tspan")]
    assert spans == [*first.lines, "Short"]
    # Read as one label (the lines are joined by a space), the whole label is the accessible text.
    (text, *_) = [t for t in svg.iter(f"{SVG}text") if t.get("class") == "chart-label"]
    assert "".join(text.itertext()) == label


def test_bars_with_a_link_are_links_in_a_named_group() -> None:
    """A bar that links to its list is a link around its label, bar and value; the chart a group."""
    chart = bar_chart(
        "risk-chart", "Findings", [("High: weak", 3, "/accounts?risk=weak_mfa&x=1", "high")]
    )
    svg = draw(chart)
    # An image may hold no links (axe: nested-interactive), so a chart of links is a group.
    assert svg.get("role") == "group" and svg.get("aria-labelledby") == "risk-chart-title"
    (link,) = svg.findall(f"{SVG}a")
    assert link.get("href") == "/accounts?risk=weak_mfa&x=1"
    (row,) = link.findall(f"{SVG}g")
    assert row.get("class") == "chart-row chart-high"
    # The whole row is the link's to click, not only the label's letters and the bar.
    hit, bar = row.findall(f"{SVG}rect")
    height = str(chart.bars[0].height)
    assert (hit.get("class"), hit.get("width"), hit.get("height")) == ("chart-hit", "100%", height)
    assert bar.get("class") == "chart-bar"
    assert ["".join(t.itertext()) for t in row.iter(f"{SVG}text")] == ["High: weak", "3"]


def test_a_chart_of_shares_is_drawn_on_its_fixed_scale_with_its_words() -> None:
    """On a 0-100 scale a half is half the width (not the longest bar), each bar on a track of
    the whole scale, its words under its label, the scale's ends written, the words in desc."""
    chart = bar_chart(
        "share-chart",
        "Acknowledged, in per cent",
        [
            ("Personal use", 50, "/policies/1", "", "50%: 10 of 20 acknowledged"),
            ("Job use", 0, "/policies/2", "", "0%: 0 of 4 acknowledged"),
            ("Everyone", 100, None, "", "100%: 3 of 3 acknowledged"),
        ],
        skip_zero=False,
        scale=100,
        ends=("0%", "100%"),
    )
    assert [b.percent for b in chart.bars] == [50.0, 0.0, 100.0]
    first = chart.bars[0]
    assert first.text_lines == ("50%: 10 of 20 acknowledged",)
    assert first.text_y > first.label_y and first.bar_y > first.text_y
    svg = draw(chart)
    rows = [g for g in svg.iter(f"{SVG}g") if "chart-row" in (g.get("class") or "")]
    assert len(rows) == 3
    for row, width in zip(rows, ("50", "0", "100"), strict=True):
        track, bar = [r for r in row.findall(f"{SVG}rect") if r.get("class") != "chart-hit"]
        assert (track.get("class"), track.get("width")) == ("chart-track", "100%")
        assert (bar.get("class"), bar.get("width")) == ("chart-bar", f"{width}.0%")
    # A linked bar's accessible name holds its label and its words.
    link = svg.findall(f"{SVG}a")[0]
    assert "".join(link.itertext()).split() == "Personal use 50%: 10 of 20 acknowledged".split()
    desc = svg.find(f"{SVG}desc")
    assert desc is not None and desc.text == (
        "Personal use: 50%: 10 of 20 acknowledged; Job use: 0%: 0 of 4 acknowledged; "
        "Everyone: 100%: 3 of 3 acknowledged"
    )
    ends = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "chart-end"]
    assert ends == ["0%", "100%"]
    assert chart.height > chart.ends_y > chart.bars[-1].bar_y
    # Without words, a bar on the scale says its number on its line.
    bare = draw(bar_chart("bare", "Bare", [("a", 1234, None)], scale=10_000), "nl")
    values = [
        "".join(t.itertext()) for t in bare.iter(f"{SVG}text") if t.get("class") == "chart-value"
    ]
    assert values == ["1.234"]
    # Beyond the scale is drawn as the whole scale, never wider.
    assert bar_chart("over", "Over", [("a", 150, None)], scale=100).bars[0].percent == 100.0
    with pytest.raises(ValueError):
        bar_chart("zero", "Zero", [("a", 1, None)], scale=0)
