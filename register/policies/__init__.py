"""Policies staff acknowledge (with versions, reminders and review dates) and training records."""
