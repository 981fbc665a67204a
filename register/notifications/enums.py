"""Kinds of events, webhook formats and delivery states."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """What a notification is about; subscriptions choose which of these they receive."""

    incident_filed = "incident.filed"
    incident_escalated = "incident.escalated"
    incident_past_sla = "incident.past_sla"
    incident_closed = "incident.closed"
    handover_started = "handover.started"
    handover_item_overdue = "handover.item_overdue"
    handover_completed = "handover.completed"
    risk_new_finding = "risk.new_finding"
    recertification_due = "recertification.due"
    # A post from a company account waits for approval; an approver approved it or sent it back.
    post_request_submitted = "post_request.submitted"
    post_request_decided = "post_request.decided"
    digest_daily = "digest.daily"
    # A new signed checkpoint of the audit trail, for a witness outside the database (a SIEM).
    audit_checkpoint = "audit.checkpoint"
    test = "test"


class WebhookFormat(StrEnum):
    """How a subscription's messages are shaped for its receiver."""

    slack = "slack"
    teams = "teams"
    json = "json"


class OutboxState(StrEnum):
    """Where one delivery stands: waiting (or being sent), delivered, or given up on."""

    pending = "pending"
    delivered = "delivered"
    dead = "dead"


class MailKind(StrEnum):
    """What an e-mail to one person is about: something that is theirs to do, or their digest."""

    handover_item_assigned = "mail.handover_item_assigned"
    incident_task_assigned = "mail.incident_task_assigned"
    custody_transfer_waiting = "mail.custody_transfer_waiting"
    step_past_due = "mail.step_past_due"
    post_request_waiting = "mail.post_request_waiting"
    post_request_decided = "mail.post_request_decided"
    digest_daily = "mail.digest_daily"
    # Policies: a version to acknowledge (when published, then reminders), and an owner's review.
    policy_acknowledge = "mail.policy_acknowledge"
    policy_review_due = "mail.policy_review_due"


# The kinds a user may turn off on their settings page; an assignment or a transfer waiting for
# them always comes, since nobody else will tell them.
OPTIONAL_MAIL = (MailKind.step_past_due, MailKind.digest_daily)
