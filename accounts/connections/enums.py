"""States of connections and the kinds of export they come from."""

from __future__ import annotations

from enum import StrEnum


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
