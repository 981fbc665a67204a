"""What the incident pages share: the words for categories, severities and statuses, clocks in words."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from litestar.params import QueryParameter

from accounts import services as accounts_services
from accounts.enums import AccountStatus
from incidents.enums import SEVERITIES, Category, Severity, Status
from register.errors import NotFound
from register.i18n import N_, Reader
from register.pages import NavLink
from register.services import get_user

PAGE_SIZE = 50
NAV = NavLink(N_("Incidents"), "/incidents/board", "incident.read", order=30)

# What went wrong, in the words of whoever reports it.
CATEGORIES = {
    Category.account_compromise: N_("Our account is hacked or taken over"),
    Category.confidential_info: N_("Confidential information was posted"),
    Category.privacy_breach: N_("Someone's personal data was exposed"),
    Category.impersonation: N_("Someone is pretending to be us"),
    Category.employee_post: N_("A post by an employee is causing trouble"),
    Category.press_inquiry: N_("A journalist or the press is asking questions"),
    Category.location_reveal: N_("A post shows where someone is"),
    Category.erroneous_post: N_("We posted something wrong"),
    Category.spam_unauthorised: N_("Spam, or a post nobody approved"),
    Category.harassment: N_("Harassment or abuse"),
}
# A severity in a line: how bad, and how fast (its clocks come from incidents.enums.SEVERITIES).
SEVERITY_NAMES = {
    Severity.SEV1: N_("SEV1 critical"),
    Severity.SEV2: N_("SEV2 high"),
    Severity.SEV3: N_("SEV3 moderate"),
    Severity.SEV4: N_("SEV4 low"),
}
SEVERITY_MEANINGS = {
    Severity.SEV1: N_(
        "An account is in someone else's hands, confidential or personal data is public, or a "
        "story is spreading fast with press or legal attention."
    ),
    Severity.SEV2: N_(
        "Real harm to people, customers or the brand is likely within a day: a damaging post "
        "gaining traction, an impersonator contacting customers, a press deadline."
    ),
    Severity.SEV3: N_(
        "Limited reach or harm, contained in normal working hours: an off-brand post, a "
        "geotagged photo, spam noticed early."
    ),
    Severity.SEV4: N_(
        "Little or no public exposure: a policy or training matter to handle and record."
    ),
}
STATUSES = {
    Status.reported: N_("Reported"),
    Status.triaged: N_("Triaged"),
    Status.contained: N_("Contained"),
    Status.resolved: N_("Resolved"),
    Status.closed: N_("Closed"),
}

Choice = Annotated[str, QueryParameter(max_length=60, pattern="^[A-Za-z0-9_]*$")]
Search = Annotated[str | None, QueryParameter(max_length=200, pattern="^[^\\x00-\\x1f]*$")]
Offset = Annotated[int, QueryParameter(ge=0, le=10**9)]


def duration(reader: Reader, minutes: int) -> str:
    """A span of minutes as a person says it: 12 min, 3 h 5 min, 2 d 4 h."""
    minutes = abs(int(minutes))
    if minutes < 60:
        return reader.gettext(N_("%(m)s min")) % {"m": minutes}
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        if not rest:
            return reader.gettext(N_("%(h)s h")) % {"h": hours}
        return reader.gettext(N_("%(h)s h %(m)s min")) % {"h": hours, "m": rest}
    days, hours = divmod(hours, 24)
    if not hours:
        return reader.gettext(N_("%(d)s d")) % {"d": days}
    return reader.gettext(N_("%(d)s d %(h)s h")) % {"d": days, "h": hours}


def severity_options(reader: Reader) -> list[tuple[str, str, str]]:
    """The severities as radio choices: name, meaning and the time to acknowledge."""
    return [
        (
            s.value,
            reader.gettext(SEVERITY_NAMES[s]),
            reader.gettext(SEVERITY_MEANINGS[s])
            + " "
            + reader.gettext(N_("Acknowledge within %(time)s."))
            % {"time": duration(reader, int(c.acknowledge.total_seconds() // 60))},
        )
        for s, c in SEVERITIES.items()
    ]


async def live_accounts() -> list[dict[str, Any]]:
    """Accounts an incident may name (not retired), by platform then handle, for a select."""
    found: list[dict[str, Any]] = []
    offset: int | None = 0
    # The register holds hundreds of accounts at most; a few pages of the list read them all.
    while offset is not None and offset < 2000:
        items, offset = await accounts_services.list_accounts(limit=200, offset=offset)
        found.extend(a for a in items if a["status"] != AccountStatus.retired.value)
    return sorted(found, key=lambda a: (a["platform"], a["handle"].lower()))


async def user_names(user_ids: Iterable[int | None]) -> dict[int, str]:
    """Users by name (their e-mail when they have none), for the people an incident names."""
    names: dict[int, str] = {}
    for user_id in sorted({i for i in user_ids if i is not None}):
        try:
            user = await get_user(user_id=user_id)
        except NotFound:
            continue
        names[user_id] = user["name"] or user["email"]
    return names
