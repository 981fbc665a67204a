"""States and kinds of the account register."""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    """Where an account lives."""

    linkedin_page = "linkedin_page"
    linkedin_profile = "linkedin_profile"
    x = "x"
    facebook_page = "facebook_page"
    instagram = "instagram"
    youtube = "youtube"
    tiktok = "tiktok"
    threads = "threads"
    bluesky = "bluesky"
    mastodon = "mastodon"
    pinterest = "pinterest"
    other = "other"


class AccountStatus(StrEnum):
    """Where an account stands."""

    active = "active"
    dormant = "dormant"
    suspended = "suspended"
    compromised = "compromised"
    retired = "retired"


class MfaMethod(StrEnum):
    """How the second factor is done (none and SMS are risks)."""

    none = "none"
    sms = "sms"
    authenticator_app = "authenticator_app"
    hardware_key = "hardware_key"
    platform_app = "platform_app"


class AccessLevel(StrEnum):
    """How much a grant lets someone do, strongest first."""

    owner = "owner"
    admin = "admin"
    editor = "editor"
    analyst = "analyst"
    viewer = "viewer"


class CustodyRole(StrEnum):
    """Which custody a transfer moves."""

    custodian = "custodian"
    backup = "backup"


class TransferState(StrEnum):
    """Where a custody transfer stands."""

    pending = "pending"
    accepted = "accepted"
    declined = "declined"
    cancelled = "cancelled"
