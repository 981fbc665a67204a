"""The shipped policy texts: one line per paragraph and list item, the English ones rendering as
they did when they were hard-wrapped, a Dutch one of each with the same shape, and the new-policy
form starting from the writer's language."""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from register.enums import Role
from register.policies.services import render_markdown, template_text
from tests.helpers import page_client

KINDS = ("personal_use", "job_use")
# The HTML the English texts rendered to while they were wrapped at 70 characters.
BEFORE = Path(__file__).parent / "shipped"


def _spaced(html: str) -> str:
    """HTML with each run of white space as one space: a soft line break reads as a space."""
    return re.sub(r"\s+", " ", html).strip()


class _Shape(HTMLParser):
    """The tags of a document in order: its headings, lists, items and emphasis."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)


def _shape(html: str) -> list[str]:
    parser = _Shape()
    parser.feed(html)
    return parser.tags


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize("kind", KINDS)
def test_each_paragraph_and_list_item_is_one_line(kind: str, language: str) -> None:
    """No hard line break inside a paragraph or list item: two lines in a row are two blocks."""
    text = template_text(kind, language)
    assert text.endswith("\n") and "\r" not in text
    lines = text.splitlines()
    for before, line in itertools.pairwise(lines):
        if before.strip() and line.strip():
            assert line.startswith(("- ", "#")) and before.startswith("- "), (before, line)
    assert not any(line.startswith(" ") for line in lines), "no wrapped continuation lines"


@pytest.mark.parametrize("kind", KINDS)
def test_the_english_texts_render_as_they_did_when_wrapped(kind: str) -> None:
    """The same Markdown in meaning: the HTML is what the wrapped text gave, but for the breaks."""
    before = (BEFORE / f"{kind}.html").read_text(encoding="utf-8")
    after = render_markdown(template_text(kind))
    assert "\n" in before.split("<p>")[1].split("</p>")[0], "the wrapped text broke its lines"
    assert _spaced(after) == _spaced(before)
    assert template_text(kind, "en") == template_text(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_the_dutch_text_has_the_english_ones_shape(kind: str) -> None:
    """Dutch of each kind: as many headings, lists and items, in the same order."""
    english, dutch = template_text(kind, "en"), template_text(kind, "nl")
    assert dutch != english
    assert _shape(render_markdown(dutch)) == _shape(render_markdown(english))
    # A language without its own text gets the English one; a kind without one, nothing.
    assert template_text(kind, "de") == english
    assert template_text("platform_guideline", "nl") == ""
    assert template_text("../secret", "nl") == "" and template_text(kind, "../x") == ""


def test_the_dutch_personal_use_text_keeps_the_right_to_discuss_working_conditions() -> None:
    """No blanket ban on criticising the employer (DOMAIN.md): the caution is there in Dutch."""
    dutch = template_text("personal_use", "nl")
    rights = dutch.split("## ")[1]
    assert rights.startswith("Jouw rechten gaan voor")
    assert "arbeidsomstandigheden" in rights and "salaris" in rights
    assert "kritiek te hebben op het bedrijf" in rights
    assert "National Labor Relations Act" in rights and "nooit op toegepast" in rights


async def test_the_new_policy_form_starts_from_the_writers_language(app: Any) -> None:
    """The pages' language (the writer's setting, else the browser's) picks the template."""
    hr = await page_client(app, Role.hr, name="Hana HR")
    english = await hr.get("/policies/new?kind=personal_use")
    assert "Your rights come first" in english.text and "Jouw rechten" not in english.text
    dutch = await hr.get("/policies/new?kind=personal_use", headers={"Accept-Language": "nl"})
    assert "Jouw rechten gaan voor" in dutch.text and "Your rights come first" not in dutch.text
    job = await hr.get("/policies/new?kind=job_use", headers={"Accept-Language": "nl-NL,nl"})
    assert "Bedrijfsaccounts zijn van het bedrijf" in job.text
    # The text in the textarea keeps each paragraph on one line.
    body = job.text.split('name="body"')[1].split("</textarea>")[0]
    assert "en wie er toegang toe heeft. Vraag het eerst aan IT" in body
