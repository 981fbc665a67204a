"""Checks every part applies to what people type: e-mail addresses, time zones."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

from register.errors import InvalidInput
from register.i18n import N_

EMAIL_RE = re.compile(
    r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$|^[^@\s]+@localhost$"
)


def normalise_email(value: str, field: str) -> str:
    """Trim and lower-case an e-mail; refuse what is not one."""
    email = value.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 320:
        raise InvalidInput(
            N_("'%(value)s' is not an e-mail address"), field=field, params={"value": value}
        )
    return email


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    """Every IANA time zone name this machine knows, sorted."""
    return tuple(sorted(zoneinfo.available_timezones()))


def check_time_zone(value: str | None, field: str) -> str | None:
    """An IANA time zone name (None, or empty: UTC); a city alone or another case is read as its zone."""
    name = (value or "").strip()
    if not name or name in time_zones():
        return name or None
    # "amsterdam" and "new york" are read as Europe/Amsterdam and America/New_York; a city that
    # ends more than one zone's name is refused rather than guessed.
    wanted = name.casefold().replace(" ", "_")
    # A whole name in another case ("utc", "europe/amsterdam") first: "utc" also ends "Etc/UTC".
    found = [zone for zone in time_zones() if zone.casefold() == wanted] or [
        zone for zone in time_zones() if zone.casefold().rsplit("/", 1)[-1] == wanted
    ]
    if len(found) != 1:
        raise InvalidInput(
            N_("'%(value)s' is not a time zone; write it as Europe/Amsterdam or America/New_York"),
            field=field,
            params={"value": value},
        )
    return found[0]
