"""States and kinds of the account register."""

from __future__ import annotations

from enum import StrEnum

from register.i18n import N_


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


# Each platform as people name it (catalogue words): pages and the notices of other parts.
PLATFORM_WORDS = {
    Platform.linkedin_page: N_("LinkedIn page"),
    Platform.linkedin_profile: N_("LinkedIn profile"),
    Platform.x: N_("X"),
    Platform.facebook_page: N_("Facebook page"),
    Platform.instagram: N_("Instagram"),
    Platform.youtube: N_("YouTube"),
    Platform.tiktok: N_("TikTok"),
    Platform.threads: N_("Threads"),
    Platform.bluesky: N_("Bluesky"),
    Platform.mastodon: N_("Mastodon"),
    Platform.pinterest: N_("Pinterest"),
    Platform.other: N_("Other"),
}


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
