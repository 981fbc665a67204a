"""Indexes of the incidents app that Piccolo columns cannot declare (applied by a migration)."""

from __future__ import annotations

INDEXES = [
    'CREATE UNIQUE INDEX IF NOT EXISTS playbook_category_version ON "playbook" ("category", "version")',
    'CREATE INDEX IF NOT EXISTS playbook_category_current ON "playbook" ("category", "current")',
    'CREATE INDEX IF NOT EXISTS incident_status_severity ON "incident" ("status", "severity", "id")',
    'CREATE INDEX IF NOT EXISTS incident_severity ON "incident" ("severity", "id")',
    'CREATE INDEX IF NOT EXISTS incident_category_status ON "incident" ("category", "status", "id")',
    'CREATE INDEX IF NOT EXISTS incident_platform ON "incident" ("platform", "id")',
    'CREATE INDEX IF NOT EXISTS incident_account ON "incident" ("account", "status")',
    'CREATE INDEX IF NOT EXISTS incident_employee ON "incident" ("employee")',
    'CREATE INDEX IF NOT EXISTS incident_commander ON "incident" ("commander_id", "status")',
    'CREATE INDEX IF NOT EXISTS incident_reported_at ON "incident" ("reported_at")',
    'CREATE INDEX IF NOT EXISTS incident_playbook ON "incident" ("playbook")',
    'CREATE UNIQUE INDEX IF NOT EXISTS incident_task_step ON "incident_task" ("incident", "step_key")',
    'CREATE INDEX IF NOT EXISTS incident_task_open_due ON "incident_task" ("state", "due_at")',
    'CREATE INDEX IF NOT EXISTS incident_task_assignee ON "incident_task" ("assignee_id", "state")',
    'CREATE INDEX IF NOT EXISTS timeline_entry_incident ON "timeline_entry" ("incident", "id")',
    'CREATE INDEX IF NOT EXISTS evidence_incident ON "evidence" ("incident")',
    'CREATE INDEX IF NOT EXISTS evidence_key_version ON "evidence" ("key_version")',
    'CREATE INDEX IF NOT EXISTS platform_report_incident ON "platform_report" ("incident")',
    'CREATE INDEX IF NOT EXISTS incident_intake_attempt_address ON "incident_intake_attempt" ("address_hash", "at")',
]


def statements(engine_type: str) -> list[str]:
    """The extra statements, the same on both engines."""
    return list(INDEXES)
