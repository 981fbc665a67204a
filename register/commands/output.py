"""What the CLI prints as JSON: the API's own forms, so a script reads both alike."""

from __future__ import annotations

from typing import Any

import msgspec


def print_json(value: Any) -> None:
    """Indented JSON on stdout; times as RFC 3339 in UTC with "Z", as the API writes them."""
    encoded = msgspec.json.encode(value, enc_hook=str)
    print(msgspec.json.format(encoded, indent=2).decode())
