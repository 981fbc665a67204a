"""Handles as people paste them (`@Acme`, `acme`, a profile URL) turned into each platform's canonical form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from accounts.enums import Platform
from register.errors import InvalidInput
from register.i18n import N_


@dataclass(frozen=True)
class Handle:
    """A canonical handle and the profile URL it implies."""

    handle: str
    profile_url: str


DOMAINS: dict[Platform, tuple[str, ...]] = {
    Platform.x: ("x.com", "twitter.com"),
    Platform.instagram: ("instagram.com", "instagr.am"),
    Platform.threads: ("threads.net", "threads.com"),
    Platform.tiktok: ("tiktok.com",),
    Platform.youtube: ("youtube.com", "youtu.be"),
    Platform.facebook_page: ("facebook.com", "fb.com", "fb.me"),
    Platform.linkedin_page: ("linkedin.com",),
    Platform.linkedin_profile: ("linkedin.com",),
    Platform.bluesky: ("bsky.app",),
    Platform.pinterest: (
        "pinterest.com",
        "pinterest.co.uk",
        "pinterest.de",
        "pinterest.fr",
        "pinterest.ca",
        "pinterest.com.au",
        "pin.it",
    ),
}

PATTERNS: dict[Platform, re.Pattern[str]] = {
    Platform.x: re.compile(r"^[a-z0-9_]{1,15}$"),
    Platform.instagram: re.compile(r"^[a-z0-9._]{1,30}$"),
    Platform.threads: re.compile(r"^[a-z0-9._]{1,30}$"),
    Platform.tiktok: re.compile(r"^[a-z0-9._]{2,24}$"),
    Platform.youtube: re.compile(r"^([a-z0-9._\-]{3,30}|channel/UC[A-Za-z0-9_\-]{22})$"),
    Platform.facebook_page: re.compile(r"^([a-z0-9.\-]{2,50}|id:\d{5,20})$"),
    Platform.linkedin_page: re.compile(r"^[\w\-.%&']{2,100}$"),
    Platform.linkedin_profile: re.compile(r"^[\w\-.%]{3,100}$"),
    Platform.bluesky: re.compile(r"^([a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$"),
    Platform.mastodon: re.compile(r"^[a-z0-9_]{1,30}@([a-z0-9\-]+\.)+[a-z]{2,}$"),
    Platform.pinterest: re.compile(r"^[a-z0-9_]{3,30}$"),
}

URLS: dict[Platform, str] = {
    Platform.x: "https://x.com/{}",
    Platform.instagram: "https://www.instagram.com/{}/",
    Platform.threads: "https://www.threads.net/@{}",
    Platform.tiktok: "https://www.tiktok.com/@{}",
    Platform.linkedin_page: "https://www.linkedin.com/company/{}/",
    Platform.linkedin_profile: "https://www.linkedin.com/in/{}/",
    Platform.bluesky: "https://bsky.app/profile/{}",
    Platform.pinterest: "https://www.pinterest.com/{}/",
}


# A YouTube channel id: UC and 22 more, case and all. It names one channel for good, so it is kept
# as "channel/<id>", which no @handle can spell: lower-cased as a handle it would be another name,
# perhaps someone else's channel.
YOUTUBE_CHANNEL = re.compile(r"^(?:channel/)?(UC[A-Za-z0-9_\-]{22})$")

# Hosts whose links are short redirects: the account behind one cannot be told without following it.
SHORT_LINK_HOSTS = frozenset(
    {"vm.tiktok.com", "vt.tiktok.com", "pin.it", "youtu.be", "t.co", "bit.ly", "lnkd.in"}
)
# First path segments that are the platform's own pages (posts, search, sharing), not accounts:
# taking them for a handle would register "p" or "groups" as an account.
NOT_ACCOUNTS: dict[Platform, frozenset[str]] = {
    Platform.x: frozenset(
        "home explore search hashtag i intent share settings messages notifications compose "
        "login signup logout tos privacy download".split()
    ),
    Platform.instagram: frozenset(
        "p reel reels tv explore accounts direct about legal developer web".split()
    ),
    Platform.threads: frozenset("t search login settings".split()),
    Platform.tiktok: frozenset(
        "t video tag discover music foryou explore live search login upload".split()
    ),
    Platform.facebook_page: frozenset(
        "groups share sharer sharer.php watch events marketplace photo photo.php photos "
        "story.php permalink.php login home.php hashtag gaming reel reels stories notes help "
        "policies search friends messages settings".split()
    ),
    Platform.pinterest: frozenset("pin search ideas today categories business settings".split()),
}


def _fail(message: str, **params: Any) -> InvalidInput:
    # Marked for the catalogue (N_) with its parts as params, so a page can say it in Dutch.
    return InvalidInput(message, field="handle", params=params)


def _looks_like_url(text: str) -> bool:
    return (
        "/" in text
        or text.startswith(("http:", "https:"))
        or (bool(re.match(r"^(www\.)?[\w\-]+\.[a-z]{2,}(/|$)", text, re.I)) and "/" in text)
    )


def _split_url(text: str) -> tuple[str, list[str], dict[str, list[str]]]:
    if not re.match(r"^[a-z][a-z0-9+.\-]*://", text, re.I):
        text = "https://" + text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    for prefix in ("www.", "m.", "mobile.", "web.", "business.", "uk.", "de."):
        host = host.removeprefix(prefix)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    return host, segments, parse_qs(parts.query)


def _from_url(
    platform: Platform, host: str, segments: list[str], query: dict[str, list[str]]
) -> str:
    allowed = DOMAINS.get(platform)
    if allowed is not None and not any(host == d or host.endswith("." + d) for d in allowed):
        raise _fail(
            N_("that URL is on %(host)s, not a %(platform)s address"),
            host=host or "no host",
            platform=platform.value,
        )
    if host in SHORT_LINK_HOSTS:
        raise _fail(
            N_("%(host)s links are short links: open it and paste the profile address it leads to"),
            host=host,
        )
    first = segments[0].lower() if segments else ""
    # The few non-profile links that still name the account.
    if platform == Platform.x and first == "intent" and query.get("screen_name"):
        return query["screen_name"][0]
    if platform == Platform.instagram and first == "stories" and len(segments) >= 2:
        return segments[1]
    if platform == Platform.facebook_page and first == "pg" and len(segments) >= 2:
        return segments[1]
    if first in NOT_ACCOUNTS.get(platform, ()):
        raise _fail(
            N_(
                "that is a link to a %(platform)s post or page, not to an account: "
                "paste the account's profile address or its handle"
            ),
            platform=platform.value,
        )
    if platform == Platform.mastodon:
        if not segments or not segments[0].startswith("@"):
            raise _fail(N_("a Mastodon profile URL looks like https://server/@name"))
        return f"{segments[0][1:]}@{host}"
    if platform == Platform.bluesky:
        if len(segments) < 2 or segments[0] != "profile":
            raise _fail(
                N_("a Bluesky profile URL looks like https://bsky.app/profile/name.bsky.social")
            )
        return segments[1]
    if platform == Platform.linkedin_page:
        if len(segments) < 2 or segments[0] not in ("company", "showcase", "school"):
            raise _fail(N_("a LinkedIn Page URL looks like https://www.linkedin.com/company/name/"))
        return segments[1]
    if platform == Platform.linkedin_profile:
        if len(segments) < 2 or segments[0] != "in":
            raise _fail(N_("a LinkedIn profile URL looks like https://www.linkedin.com/in/name/"))
        return segments[1]
    if platform == Platform.youtube:
        if segments and segments[0].startswith("@"):
            return segments[0][1:]
        if len(segments) >= 2 and segments[0] == "channel":
            if not YOUTUBE_CHANNEL.match(segments[1]):
                raise _fail(
                    N_("'%(id)s' is not a YouTube channel id (UC and 22 letters, digits, - or _)"),
                    id=segments[1],
                )
            return "channel/" + segments[1]
        # A legacy /c/ or /user/ name need not be the channel's @handle: storing it as one
        # could point the register at someone else's channel.
        raise _fail(
            N_(
                "a YouTube channel address looks like https://www.youtube.com/@name or "
                "/channel/UC... (open a /c/, /user/ or video link and copy the channel's address)"
            )
        )
    if platform == Platform.facebook_page:
        if segments and segments[0] == "profile.php" and query.get("id"):
            return "id:" + query["id"][0]
        if len(segments) >= 3 and segments[0] == "pages" and segments[-1].isdigit():
            return "id:" + segments[-1]
        if segments and segments[0] == "people" and len(segments) >= 3:
            return "id:" + segments[2]
    if not segments:
        raise _fail(N_("the URL has no account name in it"))
    return segments[0]


def normalise_handle(platform: Platform, raw: str) -> Handle:
    """The canonical handle and profile URL for what someone pasted; 422 naming `handle` if unusable."""
    text = (raw or "").strip()
    if not text:
        raise _fail(N_("handle must not be blank"))
    if platform == Platform.other:
        if len(text) > 200:
            raise _fail(N_("handle is longer than 200 characters"))
        url = text if text.lower().startswith(("http://", "https://")) else ""
        return Handle(handle=text, profile_url=url)
    if platform == Platform.youtube and (channel := YOUTUBE_CHANNEL.match(text)):
        # A bare id, or the stored form as the inventory export writes it; "@UC..." is a handle.
        name = "channel/" + channel.group(1)
    elif platform == Platform.mastodon and re.match(r"^@?[\w.]+@[\w.\-]+$", text):
        name = text.lstrip("@").lower()
    elif _looks_like_url(text):
        name = _from_url(platform, *_split_url(text))
    else:
        name = text
    name = name.strip().lstrip("@").strip()
    if platform == Platform.bluesky and "." not in name and name:
        name = f"{name}.bsky.social"
    if platform == Platform.mastodon and "@" not in name:
        raise _fail(N_("a Mastodon handle needs its server, e.g. @name@mastodon.social"))
    if platform != Platform.youtube or not name.startswith("channel/"):
        name = name.lower()
    if not PATTERNS[platform].match(name):
        raise _fail(
            N_("'%(handle)s' is not a valid %(platform)s handle"),
            handle=raw,
            platform=platform.value,
        )
    if platform == Platform.youtube:
        url = (
            f"https://www.youtube.com/{name}"
            if name.startswith("channel/")
            else f"https://www.youtube.com/@{name}"
        )
    elif platform == Platform.facebook_page:
        url = (
            f"https://www.facebook.com/profile.php?id={name[3:]}"
            if name.startswith("id:")
            else f"https://www.facebook.com/{name}"
        )
    elif platform == Platform.mastodon:
        user, server = name.split("@", 1)
        url = f"https://{server}/@{user}"
    else:
        url = URLS[platform].format(name)
    return Handle(handle=name, profile_url=url)
