"""Notifications: subscriptions (Slack, Teams, signed JSON webhooks), the outbox and its worker.

Every part publishes events here inside its own write transaction; workers deliver them later.
"""
