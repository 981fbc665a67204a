"""The demo company's social accounts, with grants and credentials."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from typing import Any

from accounts.enums import AccessLevel, MfaMethod, Platform
from accounts.services import add_grant, create_account, set_credential
from accounts.tables import AccessGrant
from register.actor import Actor
from register.db import now

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

    settings = context["settings"]
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
