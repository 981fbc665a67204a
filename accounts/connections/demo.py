"""The demo company's LinkedIn exports: three people's connections, and a second export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from typing import Any

from register.actor import Actor

# Whose LinkedIn connections the demo imports: (name, connections in the export).
CONNECTION_OWNERS = [("Oliver Hughes", 60), ("Priya Raman", 40), ("Grace Liu", 30)]


CONTACT_FIRST = [
    "Amelia",
    "Bastien",
    "Chiara",
    "Dorota",
    "Émile",
    "Farah",
    "Gustav",
    "Hana",
    "Idris",
    "Jiahui",
    "Katarzyna",
    "Luís",
    "Maëlle",
    "Niamh",
    "Oskar",
    "Pilar",
]


CONTACT_LAST = [
    "Ahmed",
    "Bergström",
    "Costa",
    "D'Angelo",
    "Eze",
    "Fischer",
    "Gallagher",
    "Hoang",
    "Iversen",
    "Jankowski",
    "Kaur",
    "Lefèvre",
    "Moreau",
    "Nowak",
]


CONTACT_COMPANIES = [
    "Summit Gear Co.",
    "Alpine Logistics, Ltd.",
    'The "Trail" Agency',
    "Fjällräven Partners",
    "Harbour & Pine",
    "Northwind Outdoor",
    "",
]


CONTACT_POSITIONS = [
    "Buyer",
    "Head of Talent",
    "Category Manager",
    "Journalist",
    "Procurement Lead",
    "Founder",
    "Recruiter",
    "",
]


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


EXPORT_PREAMBLE = (
    "Notes:\n"
    '"When exporting your connection data, you may notice that some of the email addresses are '
    "missing. You will only see email addresses for connections who have allowed their "
    'connections to see or download their email address."\n\n'
)


def demo_export(seed: int, count: int, since: dt.date, until: dt.date, skip: int = 0) -> bytes:
    """A LinkedIn-style Connections.csv; `skip` leaves out every skip-th row (gone since)."""
    rng = random.Random(seed)
    out = io.StringIO()
    out.write(EXPORT_PREAMBLE)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["First Name", "Last Name", "URL", "Email Address", "Company", "Position", "Connected On"]
    )
    span = max(1, (until - since).days)
    for i in range(count):
        first, last = rng.choice(CONTACT_FIRST), rng.choice(CONTACT_LAST)
        day = since + dt.timedelta(days=rng.randrange(span))
        slug = f"{first}-{last}-{seed}{i:03d}".lower().replace("'", "")
        email = f"{slug}@example.org" if rng.random() < 0.15 else ""
        company, position = rng.choice(CONTACT_COMPANIES), rng.choice(CONTACT_POSITIONS)
        if skip and i % skip == 0:
            continue
        # LinkedIn writes English month names whatever the locale.
        when = f"{day.day:02d} {MONTHS[day.month - 1]} {day.year}"
        writer.writerow(
            [first, last, f"https://www.linkedin.com/in/{slug}", email, company, position, when]
        )
    return out.getvalue().encode("utf-8")


async def demo_connections(actor: Actor, context: dict[str, Any]) -> list[str]:
    """Import a few employees' LinkedIn exports; the recruiter's second export shows some gone."""
    from accounts.connections.files import import_connections
    from accounts.connections.services import index_pending
    from register.staff.services import get_employee

    today: dt.date = context["today"]
    ids = context["employee_ids"]
    lines = []
    for n, (name, count) in enumerate(CONNECTION_OWNERS, start=1):
        person = await get_employee(employee_id=ids[name])
        # A fifth of the export predates the job: counted, not stored.
        since = person["start_date"] - dt.timedelta(days=365)
        export = demo_export(n, count, since, today)
        result = await import_connections(
            actor=actor,
            employee_id=ids[name],
            content=export,
            filename="Connections.csv",
            today=today,
        )
        summary = result["import"]
        lines.append(
            f"demo: {name}: {summary['added']} connections kept, "
            f"{summary['before_employment']} from before the job not stored"
        )
    # The recruiter exported again a week later, with some connections removed from the profile.
    name = CONNECTION_OWNERS[0][0]
    person = await get_employee(employee_id=ids[name])
    again = demo_export(
        1, CONNECTION_OWNERS[0][1], person["start_date"] - dt.timedelta(days=365), today, skip=7
    )
    result = await import_connections(
        actor=actor,
        employee_id=ids[name],
        content=again,
        filename="Connections (1).csv",
        today=today,
    )
    lines.append(f"demo: {name}'s second export: {result['import']['gone']} gone from the profile")
    await index_pending()
    return lines
