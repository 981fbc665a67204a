"""What the connections register's pages share: the words for states, the menu entry, the summary's lines."""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter

from accounts.connections.enums import ConnectionState
from register.i18n import N_
from register.pages import NavLink

PAGE_SIZE = 50
NAV = NavLink(N_("Connections"), "/connections", "connection.read", order=30)
Id = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
# A state filter's value: empty when every state is shown.
StateChoice = Annotated[
    str,
    QueryParameter(
        name="state", pattern="^(|held|exported_to_successor|deletion_attested|erased)$"
    ),
]
STATES = {
    ConnectionState.held: N_("Held as the employer's"),
    ConnectionState.exported_to_successor: N_("Exported to the successor"),
    ConnectionState.deletion_attested: N_("Deletion from the profile attested"),
    ConnectionState.erased: N_("Erased on request"),
}
# The import's counts as its summary page says them, in order: (count, words, what it means).
SUMMARY_LINES = (
    (
        "added",
        N_("New, kept as the employer's"),
        N_("Made during the employment, not held before."),
    ),
    ("unchanged", N_("Already held, still on the profile"), N_("Kept from an earlier export.")),
    ("returned", N_("Returned"), N_("Gone from an earlier export, back on the profile now.")),
    ("gone", N_("Gone"), N_("Held before, no longer in the export: removed from the profile.")),
    (
        "before_employment",
        N_("Before the employment"),
        N_("Connected before the person started: theirs, not kept."),
    ),
    (
        "after_employment",
        N_("After the employment"),
        N_("Connected after the leaving date (or a date still to come): not kept."),
    ),
    (
        "suppressed",
        N_("Erased on request"),
        N_("Someone who asked to be erased: not brought back."),
    ),
    (
        "duplicates_in_file",
        N_("Duplicates in the file"),
        N_("The same person listed again: counted once."),
    ),
    ("rejected_lines", N_("Lines that could not be read"), N_("Listed below with the reason.")),
)


def state_of(value: str) -> ConnectionState | None:
    """The chosen state filter, None for every state (the parameter's pattern checked the value)."""
    return ConnectionState(value) if value else None
