"""The accounts part of `register demo`: accounts with grants, credentials and some risks; LinkedIn imports."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import random
import secrets
from typing import Any

from accounts.enums import AccessLevel, MfaMethod, Platform
from accounts.services import add_grant, create_account, now
from accounts.tables import AccessGrant
from accounts.vault import set_credential
from register.actor import Actor
from register.settings import get_settings

ACCOUNTS = [
    # platform, handle as people paste it, display, department, custodian, backup, mfa, mfa holder, recovery e-mail, purpose
    (
        Platform.linkedin_page,
        "https://www.linkedin.com/company/northwind-outdoor/",
        "Northwind Outdoor",
        "Communications",
        "Priya Raman",
        "Marcus Lindqvist",
        MfaMethod.authenticator_app,
        "Priya Raman",
        "social@{domain}",
        "Company page: news, hiring, events",
    ),
    (
        Platform.x,
        "@Northwind_Out",
        "Northwind Outdoor",
        "Communications",
        "Priya Raman",
        "Aoife Brennan",
        MfaMethod.hardware_key,
        "Priya Raman",
        "social@{domain}",
        "Brand voice, customer replies",
    ),
    (
        Platform.instagram,
        "instagram.com/northwind.outdoor/?hl=en",
        "Northwind Outdoor",
        "Marketing",
        "Sofia Marchetti",
        "Kwame Mensah",
        MfaMethod.sms,
        "Sofia Marchetti",
        "sofia.marchetti.photos@gmail.com",
        "Product photography and stories",
    ),
    (
        Platform.youtube,
        "https://www.youtube.com/@NorthwindOutdoor",
        "Northwind Outdoor",
        "Marketing",
        "Daniel Kowalski",
        None,
        MfaMethod.platform_app,
        "Daniel Kowalski",
        "marketing@{domain}",
        "Gear reviews and trail films",
    ),
    (
        Platform.tiktok,
        "@northwind.outdoor",
        "Northwind Outdoor",
        "Marketing",
        "Kwame Mensah",
        "Sofia Marchetti",
        MfaMethod.none,
        None,
        "",
        "Short-form campaigns",
    ),
    (
        Platform.facebook_page,
        "fb.com/NorthwindOutdoor",
        "Northwind Outdoor",
        "Communications",
        "Tom Ellery",
        "Priya Raman",
        MfaMethod.authenticator_app,
        "Tom Ellery",
        "social@{domain}",
        "Community and events",
    ),
    (
        Platform.linkedin_profile,
        "linkedin.com/in/northwind-talent",
        "Northwind Talent Team",
        "Sales",
        "Oliver Hughes",
        None,
        MfaMethod.sms,
        "Oliver Hughes",
        "oliver.hughes@{domain}",
        "Recruiting profile held for the company",
    ),
    (
        Platform.bluesky,
        "@northwind",
        "Northwind Outdoor",
        "Communications",
        "Aoife Brennan",
        "Priya Raman",
        MfaMethod.authenticator_app,
        "Aoife Brennan",
        "press@{domain}",
        "Press and announcements",
    ),
]


async def demo_accounts(actor: Actor, context: dict[str, Any]) -> list[str]:
    """Create the demo accounts, grants and credentials."""
    from register.keys import load_secrets

    settings = get_settings()
    keyring = load_secrets(settings, announce=False).keyring
    ids = context["employee_ids"]
    domain = context["domain"]
    made = []
    for (
        platform,
        handle,
        display,
        dept,
        custodian,
        backup,
        mfa,
        holder,
        recovery,
        purpose,
    ) in ACCOUNTS:
        account = await create_account(
            actor=actor,
            settings=settings,
            data={
                "platform": platform,
                "handle": handle,
                "display_name": display,
                "department": dept,
                "custodian_id": ids[custodian],
                "backup_custodian_id": ids.get(backup) if backup else None,
                "mfa_method": mfa,
                "mfa_holder_id": ids.get(holder) if holder else None,
                "recovery_email": recovery.format(domain=domain),
                "recovery_email_company_controlled": recovery.endswith("{domain}"),
                "login_identifier": f"social@{domain}",
                "purpose": purpose,
            },
        )
        await add_grant(
            actor=actor,
            account_id=account["id"],
            employee_id=ids[custodian],
            level=AccessLevel.owner,
            platform_role="Super admin",
            reason="custodian",
        )
        if backup:
            await add_grant(
                actor=actor,
                account_id=account["id"],
                employee_id=ids[backup],
                level=AccessLevel.admin,
                platform_role="Admin",
                reason="backup custodian",
            )
        if platform in (Platform.linkedin_page, Platform.instagram):
            await add_grant(
                actor=actor,
                account_id=account["id"],
                employee_id=ids["Lucas Ferreira"],
                level=AccessLevel.editor,
                reason="campaign support",
            )
        if platform == Platform.x:
            # Ethan left a month ago and his access was never removed: the kind of finding the register exists for.
            await AccessGrant.insert(
                AccessGrant(
                    account=account["id"],
                    employee=ids["Ethan Brooks"],
                    level=AccessLevel.editor.value,
                    reason="legal review of replies",
                    granted_at=now() - dt.timedelta(days=400),
                )
            )
        seed = (
            base64.b32encode(secrets.token_bytes(20)).decode()
            if mfa == MfaMethod.authenticator_app
            else None
        )
        await set_credential(
            actor=actor,
            keyring=keyring,
            settings=settings,
            account_id=account["id"],
            password=secrets.token_urlsafe(18),
            totp_seed=seed,
            recovery_codes=[secrets.token_hex(4) for _ in range(8)] if seed else None,
        )
        made.append(account["handle"])
    return [
        f"demo: {len(made)} social accounts with grants and credentials (try GET /api/v1/accounts/risks)"
    ]


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
    from accounts.connection_import import import_connections
    from accounts.connections import index_pending
    from register.staff.tables import Employee

    today: dt.date = context["today"]
    ids = context["employee_ids"]
    lines = []
    for n, (name, count) in enumerate(CONNECTION_OWNERS, start=1):
        person = await Employee.select(Employee.start_date).where(Employee.id == ids[name]).first()
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
    person = await Employee.select(Employee.start_date).where(Employee.id == ids[name]).first()
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
