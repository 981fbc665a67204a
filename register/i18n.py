"""The reader's language: gettext catalogues, the language of a request, dates and numbers in it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import (
    format_date,
    get_date_format,
    get_datetime_format,
    get_time_format,
    parse_pattern,
)
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations
from jinja2.ext import _make_new_ngettext
from markupsafe import Markup

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
LANGUAGES = ("en", "nl")
DEFAULT_LANGUAGE = "en"
K = TypeVar("K", bound=Hashable)
# Translated messages kept per language for templates: more than the catalogue holds.
KEPT_MESSAGES = 5000


def N_(message: str) -> str:
    """Mark text for the catalogue where it is defined; it is translated where it is shown."""
    return message


# The roles as a sentence names them ("Omar Haddad, comms, omar@..."), by the API's role value.
ROLE_WORDS = {
    "admin": N_("admin"),
    "it": N_("IT"),
    "hr": N_("HR"),
    "comms": N_("comms"),
    "legal": N_("legal"),
    "auditor": N_("auditor"),
    "staff": N_("staff"),
}


# How a post request is named (its page's title, lists, e-mails): its account and when it is to go
# out, else when it was submitted; never its number. (Old mail rows may know the account only.)
POST_PLANNED = N_("Post on %(account)s for %(when)s")
POST_UNPLANNED = N_("Post on %(account)s, submitted %(when)s")
POST_ACCOUNT = N_("Post on %(account)s")


def post_name(
    reader: Reader,
    account: str,
    planned_at: dt.datetime | None,
    submitted_at: dt.datetime | None = None,
) -> str:
    """A post request's name for a reader: "Post on X @acme for 12 Dec 2026, 09:00"."""
    if planned_at is not None:
        return reader.gettext(POST_PLANNED) % {
            "account": account,
            "when": reader.minute(planned_at),
        }
    if submitted_at is not None:
        return reader.gettext(POST_UNPLANNED) % {
            "account": account,
            "when": reader.minute(submitted_at),
        }
    return reader.gettext(POST_ACCOUNT) % {"account": account}


class Word(str):
    """An identifier that the API shows as it is and a page shows as its label, translated."""

    label: str

    def __new__(cls, value: str, label: str) -> Word:
        word = super().__new__(cls, value)
        word.label = label
        return word

    def said(self, gettext: Callable[[str], str]) -> str:
        """The label in a reader's language."""
        return gettext(self.label)


def labelled(said: str, reasons: tuple[tuple[str, str], ...]) -> Any:
    """A library's English reason as a Word labelled by the first (start, label) it begins with;
    a reason the table does not know, as it is."""
    for start, label in reasons:
        if said.startswith(start):
            return Word(said, label)
    return said


def word(value: Any, labels: Mapping[Any, str]) -> Any:
    """The value as a Word when the table labels it (status "contained" -> "Contained")."""
    key = getattr(value, "value", value)
    return Word(str(key), labels[key]) if key in labels else value


def said_params(
    params: Mapping[str, Any],
    gettext: Callable[[str], str],
    words: Mapping[str, Mapping[Any, str]] | None = None,
) -> dict[str, Any]:
    """A message's params in a reader's language: words, nested messages and labelled values."""
    said: dict[str, Any] = {}
    for key, value in params.items():
        labels = (words or {}).get(key, {})
        if callable(getattr(value, "said", None)):
            said[key] = value.said(gettext)
        elif isinstance(value, str | int) and value in labels:
            said[key] = gettext(labels[value])
        else:
            said[key] = value
    return said


def extract_toml(fileobj: Any, keywords: Any, comment_tags: Any, options: Mapping[str, str]) -> Any:
    """Babel's extractor for the text of shipped TOML files (the playbooks' titles and guidance):
    the values of the keys named in the mapping's `keys` option."""
    import tomllib

    text = fileobj.read().decode("utf-8")
    keys = {k.strip() for k in options.get("keys", "title").split(",")}
    lines = text.splitlines()

    def line_of(value: str) -> int:
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        return next((n for n, line in enumerate(lines, 1) if quoted in line), 0)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in keys and isinstance(value, str) and value.strip():
                    yield line_of(value), None, value, []
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    yield from walk(tomllib.loads(text))


@lru_cache(maxsize=64)
def _patterns(messages: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Each catalogue message as a pattern that reads its params back out of the English."""
    compiled = []
    for message in messages:
        parts = re.split(r"%\((\w+)\)s", message)
        body = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
        )
        compiled.append((message, re.compile(body + r"(?=; |$)", re.DOTALL)))
    return tuple(compiled)


def reread(
    text: str,
    messages: tuple[str, ...],
    gettext: Callable[[str], str],
    convert: Mapping[str, Callable[[str], str]] | None = None,
) -> str:
    """English that a service stored from catalogue messages ("; " between them), said in a
    reader's language; text that is not made of them stays as it is."""
    said: list[str] = []
    pos = 0
    while pos < len(text):
        for message, pattern in _patterns(messages):
            found = pattern.match(text, pos)
            if found:
                params = {
                    k: convert[k](v) if convert and k in convert else v
                    for k, v in found.groupdict().items()
                }
                said.append(gettext(message) % params if params else gettext(message))
                pos = found.end() + 2
                break
        else:
            return text
    return "; ".join(said)


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of a language (English reads the source text)."""
    if language == DEFAULT_LANGUAGE:
        return NullTranslations()
    found = Translations.load(str(LOCALE_DIR), [language], DOMAIN)
    if not isinstance(found, Translations):
        # The catalogues are compiled by `make install`; without them every page reads English.
        raise RuntimeError(
            f"no compiled catalogue for '{language}' under {LOCALE_DIR}: run `make install` "
            "(pybabel compile -d register/locale)"
        )
    return found


def negotiate(setting: str | None, accept_language: str | None) -> str:
    """The user's own setting if they chose one, else the browser's best match, else English."""
    if setting in LANGUAGES:
        return setting
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((-quality, n, tag.strip().lower().split("-")[0]))
    for _, _, tag in sorted(ranked):
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


def zone(name: str | None) -> ZoneInfo:
    """A time zone by name, UTC when unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Reader:
    """Who reads a page: their language and time zone, with gettext and formatters bound to them."""

    language: str
    time_zone: str = "UTC"

    @property
    def locale(self) -> Locale:
        """The Babel locale."""
        return Locale.parse(self.language)

    def gettext(self, message: str) -> str:
        """A message in the reader's language."""
        return translations(self.language).gettext(message)

    def labels(self, mapping: Mapping[K, str]) -> Mapping[K, str]:
        """A closed set's words in the reader's language, translated once, not once per row."""
        return _labels(self.language, tuple(mapping.items()))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """A message with a count in the reader's language."""
        return translations(self.language).ngettext(singular, plural, n)

    def date(self, value: dt.date | None) -> str:
        """A date as the reader writes it."""
        return "" if value is None else format_date(value, "medium", locale=self.locale)

    def datetime(self, value: dt.datetime | None) -> str:
        """A moment in the reader's time zone and language."""
        if value is None:
            return ""
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return _moment(self.language, self.time_zone, value)

    def minute(self, value: dt.datetime) -> str:
        """A moment to the minute, as a name says it ("12 dec 2026, 09:00")."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return _moment(self.language, self.time_zone, value, "short")

    def number(self, value: float | int) -> str:
        """A number as the reader writes it."""
        return format_decimal(value, locale=self.locale)

    def percent(self, share: float) -> str:
        """A share (0.6) as the reader writes a percentage ("60%"), in whole per cents."""
        return format_percent(share, locale=self.locale)

    def context(self) -> dict[str, Any]:
        """What templates use: gettext for `_()` and `{% trans %}`, and the formatters."""
        # The new-style callables escape what they are given and format %(name)s themselves, so
        # autoescaping holds inside translated text.
        page_gettext = template_gettext(self.language)
        return {
            # `_` given here, not the i18n extension's alias: the alias reaches the same gettext
            # through three context calls, a third of an account page's rendering.
            "_": page_gettext,
            "gettext": page_gettext,
            "ngettext": _make_new_ngettext(self.ngettext),
            "language": self.language,
            "format_date": self.date,
            "format_datetime": self.datetime,
            "format_number": self.number,
            # The reader itself, for a part's own naming functions (a post request's name).
            "reader": self,
            "shipped": self.shipped,
        }

    def shipped(self, text: Any) -> Any:
        """Text the register shipped (a playbook's title, a step's guidance) in the reader's
        language where the catalogue has it; text someone wrote or edited, as it is."""
        return self.gettext(text) if isinstance(text, str) and text else text


class TemplateGettext(Protocol):
    """`_()` in a template: a message, with %(name)s filled in from escaped keywords."""

    def __call__(self, message: str, /, **params: Any) -> Markup: ...


@lru_cache(maxsize=len(LANGUAGES))
def template_gettext(language: str) -> TemplateGettext:
    """A language's `_()` for templates, as Jinja's new-style gettext answers, each message kept.

    The translation is trusted markup and what fills it in is escaped (Markup's %), so
    autoescaping holds inside translated text; `%` is applied even without keywords, as Jinja's
    does, so "%%" reads "%" either way.
    """
    found = translations(language)
    kept: dict[str, Markup] = {}
    # Markup of the message as Jinja's own new-style gettext makes it: templates translate the
    # register's own text (the catalogue), never what a user typed.

    def gettext(message: str, /, **params: Any) -> Markup:
        if params:
            return Markup(found.gettext(message)) % params  # noqa: S704
        answer = kept.get(message)
        if answer is None:
            answer = Markup(found.gettext(message)) % {}  # noqa: S704
            # The catalogue is finite; a template translating text from elsewhere is not kept.
            if len(kept) < KEPT_MESSAGES:
                kept[message] = answer
        return answer

    return gettext


@lru_cache(maxsize=256)
def _labels(language: str, items: tuple[tuple[Any, str], ...]) -> Mapping[Any, str]:
    """The translated words of a closed set (shared: never change the answer)."""
    found = translations(language)
    return MappingProxyType({key: found.gettext(label) for key, label in items})


@lru_cache(maxsize=4096)
def _moment(language: str, time_zone: str, value: dt.datetime, time: str = "medium") -> str:
    """A moment as format_datetime writes it in medium length (its time short, if asked)."""
    # Its own steps with the patterns parsed once per language, and the answer kept: a page
    # with a table of times spent a quarter of its rendering on them.
    date_pattern, time_pattern, joined, locale = _medium(language, time)
    here = value.astimezone(zone(time_zone))
    return joined.replace("{0}", time_pattern.apply(here, locale)).replace(
        "{1}", date_pattern.apply(here, locale)
    )


@lru_cache(maxsize=2 * len(LANGUAGES))
def _medium(language: str, time: str = "medium") -> tuple[Any, Any, str, Locale]:
    """A language's medium date and time (or short time) patterns, parsed, and how it joins them."""
    locale = Locale.parse(language)
    return (
        parse_pattern(get_date_format("medium", locale=locale)),
        parse_pattern(get_time_format(time, locale=locale)),
        str(get_datetime_format("medium", locale=locale)).replace("'", ""),
        locale,
    )
