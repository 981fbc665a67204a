"""Kinds and states of corporate social accounts."""

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


class ConnectionState(StrEnum):
    """Where a LinkedIn connection recorded as the employer's stands."""

    held = "held"
    exported_to_successor = "exported_to_successor"
    deletion_attested = "deletion_attested"
    erased = "erased"


class ExportLayout(StrEnum):
    """Which column layout of LinkedIn's Connections.csv an import had."""

    with_url = "with_url"
    without_url = "without_url"


class HandoverState(StrEnum):
    """Where an offboarding handover stands."""

    draft = "draft"
    open = "open"
    awaiting_sign_off = "awaiting_sign_off"
    completed = "completed"
    cancelled = "cancelled"


class HandoverItemKind(StrEnum):
    """What one checklist item of a handover asks for."""

    transfer_custody = "transfer_custody"
    rotate_credential = "rotate_credential"
    revoke_grant = "revoke_grant"
    replace_mfa_holder = "replace_mfa_holder"
    replace_recovery_contact = "replace_recovery_contact"
    export_connections = "export_connections"
    attest_deletion = "attest_deletion"
    template = "template"


class HandoverItemState(StrEnum):
    """Where a checklist item stands: open, done (with evidence) or waived (with a reason)."""

    open = "open"
    done = "done"
    waived = "waived"


class HandoverTeam(StrEnum):
    """Which team owns an item and signs off: HR or IT."""

    hr = "hr"
    it = "it"
