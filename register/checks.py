"""Checks every part applies to what people type: e-mail addresses."""

from __future__ import annotations

import re

from register.errors import InvalidInput

EMAIL_RE = re.compile(
    r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$|^[^@\s]+@localhost$"
)


def normalise_email(value: str, field: str) -> str:
    """Trim and lower-case an e-mail; refuse what is not one."""
    email = value.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 320:
        raise InvalidInput(f"'{value}' is not an e-mail address", field=field)
    return email
