"""Kinds and states of corporate social accounts."""

from __future__ import annotations

from enum import Enum


class Platform(str, Enum):
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


class AccountStatus(str, Enum):
    """Where an account stands."""

    active = "active"
    dormant = "dormant"
    suspended = "suspended"
    compromised = "compromised"
    retired = "retired"


class MfaMethod(str, Enum):
    """How the second factor is done (none and SMS are risks)."""

    none = "none"
    sms = "sms"
    authenticator_app = "authenticator_app"
    hardware_key = "hardware_key"
    platform_app = "platform_app"


class AccessLevel(str, Enum):
    """How much a grant lets someone do, strongest first."""

    owner = "owner"
    admin = "admin"
    editor = "editor"
    analyst = "analyst"
    viewer = "viewer"


class CustodyRole(str, Enum):
    """Which custody a transfer moves."""

    custodian = "custodian"
    backup = "backup"


class TransferState(str, Enum):
    """Where a custody transfer stands."""

    pending = "pending"
    accepted = "accepted"
    declined = "declined"
    cancelled = "cancelled"
