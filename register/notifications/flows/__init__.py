"""Multi-step processes of notifications: publishing an event, delivering it, the webhook send.

_publish   an event becomes outbox rows in the publisher's transaction; the daily digest
_delivery  the worker claims due rows under a lease, sends them, records the outcome
_mail      e-mail: one row per recipient, rendered in the reader's language, sent over SMTP
_webhooks  message formats (Slack, Teams, signed JSON), signing, the guarded HTTP client
"""

from __future__ import annotations

from register.notifications.flows._delivery import BatchResult, Worker, backoff, run_periodic_tasks
from register.notifications.flows._mail import (
    MAIL_CHOICES,
    classify_smtp,
    compose,
    configure_mail,
    mail_on,
    message_id,
    publish_mail,
    render_mail,
    send_mail,
)
from register.notifications.flows._publish import (
    OUTBOX_COLUMNS,
    Published,
    digest_sections,
    digest_summary,
    envelope,
    publish,
    publish_digest,
    publish_event,
    queue,
    queue_test,
    wants,
)
from register.notifications.flows._webhooks import (
    ATTEMPT_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    Outcome,
    classify,
    headers_for,
    make_client,
    render,
    send,
    sign,
    slack_message,
    teams_message,
    verify,
)

__all__ = [
    "ATTEMPT_HEADER",
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "MAIL_CHOICES",
    "OUTBOX_COLUMNS",
    "SIGNATURE_HEADER",
    "BatchResult",
    "Outcome",
    "Published",
    "Worker",
    "backoff",
    "classify",
    "classify_smtp",
    "compose",
    "configure_mail",
    "digest_sections",
    "digest_summary",
    "envelope",
    "headers_for",
    "mail_on",
    "make_client",
    "message_id",
    "publish",
    "publish_digest",
    "publish_event",
    "publish_mail",
    "queue",
    "queue_test",
    "render",
    "render_mail",
    "run_periodic_tasks",
    "send",
    "send_mail",
    "sign",
    "slack_message",
    "teams_message",
    "verify",
    "wants",
]
