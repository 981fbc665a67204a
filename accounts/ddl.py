"""Indexes of the accounts app that Piccolo columns cannot declare (applied by a migration)."""

from __future__ import annotations

INDEXES = [
    'CREATE UNIQUE INDEX IF NOT EXISTS social_account_platform_handle ON "social_account" ("platform", "handle")',
    'CREATE INDEX IF NOT EXISTS social_account_status_platform ON "social_account" ("status", "platform", "id")',
    'CREATE INDEX IF NOT EXISTS social_account_department ON "social_account" ("department", "id")',
    'CREATE INDEX IF NOT EXISTS social_account_custodian ON "social_account" ("custodian")',
    'CREATE INDEX IF NOT EXISTS social_account_backup ON "social_account" ("backup_custodian")',
    'CREATE INDEX IF NOT EXISTS social_account_mfa_holder ON "social_account" ("mfa_holder")',
    'CREATE INDEX IF NOT EXISTS access_grant_account_active ON "access_grant" ("account", "revoked_at")',
    'CREATE INDEX IF NOT EXISTS access_grant_employee_active ON "access_grant" ("employee", "revoked_at")',
    'CREATE INDEX IF NOT EXISTS custody_transfer_account_state ON "custody_transfer" ("account", "state")',
    'CREATE INDEX IF NOT EXISTS credential_key_version ON "credential" ("key_version")',
    'CREATE INDEX IF NOT EXISTS recertification_account ON "recertification" ("account", "confirmed_at")',
]


def statements(engine_type: str) -> list[str]:
    """The extra statements, the same on both engines."""
    return list(INDEXES)
