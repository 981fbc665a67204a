"""Markdown rendered safely, the shipped texts of policies, and dates a number of months on."""

from __future__ import annotations

import calendar
import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt

from register.i18n import DEFAULT_LANGUAGE

# The shipped texts, one file per kind and language: `job_use.md` (English), `job_use.nl.md`.
# A paragraph or list item is one line, so a textarea wraps it to its own width.
TEXTS = Path(__file__).resolve().parents[1] / "templates" / "policies" / "texts"

# Links may go to web pages, mail addresses and the register's own pages; nothing else (no
# javascript:, data: or file: URLs, which a policy's author could use against its readers).
SAFE_SCHEMES = frozenset({"http", "https", "mailto", ""})


def _safe_link(url: str) -> bool:
    text = url.strip()
    if text.startswith("//"):
        # Protocol-relative: another host without saying so.
        return False
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return False
    return scheme in SAFE_SCHEMES


def _below_the_page_title(state: Any) -> None:
    # The page's own h1 is the policy's title: the text's headings start one level below it.
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # CommonMark with tables; raw HTML in the text is shown as text, never passed through.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.validateLink = _safe_link  # type: ignore[method-assign]
    md.core.ruler.push("below_the_page_title", _below_the_page_title)
    return md


def render_markdown(text: str) -> str:
    """A policy's Markdown as HTML: raw HTML escaped, only http(s), mailto and relative links,
    headings one level below the page's title."""
    return _markdown().render(text or "")


def template_text(kind: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The shipped text of a kind of policy in a language (else English; '' where none ships)."""
    if not kind.isidentifier() or not language.isalpha():
        return ""
    for name in (f"{kind}.{language}.md", f"{kind}.md"):
        path = TEXTS / name
        if path.exists():
            return path.read_text(encoding="utf-8")
    return ""


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (the month's last day where it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    if year > dt.MAXYEAR:
        # Past the calendar's end: the last day there is (an effective date in 9999 stays valid).
        return dt.date.max
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
