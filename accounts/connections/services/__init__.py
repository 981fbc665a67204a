"""The connections register's queries and rules, one module per concern, all named here.

_connections  a person's connections, the successor's export, states, imports, the summary
_search       searching the whole register, and its trigram index on both engines
_privacy      subject access, erasure everywhere, the retention purge
"""

from __future__ import annotations

from accounts.connections.services._connections import (
    CONNECTION_COLUMNS,
    LINKEDIN_HEADER,
    MONTH_NAMES,
    PERSONAL_FIELDS,
    SEARCH_TEXT,
    STATE_FROM,
    check_reader,
    export_csv,
    get_import,
    import_problems,
    linkedin_date,
    list_for_employee,
    list_imports,
    rejected_lines_csv,
    set_state,
    state_counts,
    summary,
)
from accounts.connections.services._privacy import (
    erase,
    erasure_preview,
    leavers_due_for_connection_purge,
    purge,
    subject_access,
)
from accounts.connections.services._search import (
    ANALYZE_AFTER,
    INDEX_BATCH,
    MAX_SEARCH_OFFSET,
    RECENT_WINDOW,
    index_pending,
    search,
)

__all__ = [
    "ANALYZE_AFTER",
    "CONNECTION_COLUMNS",
    "INDEX_BATCH",
    "LINKEDIN_HEADER",
    "MAX_SEARCH_OFFSET",
    "MONTH_NAMES",
    "PERSONAL_FIELDS",
    "RECENT_WINDOW",
    "SEARCH_TEXT",
    "STATE_FROM",
    "check_reader",
    "erase",
    "erasure_preview",
    "export_csv",
    "get_import",
    "import_problems",
    "index_pending",
    "leavers_due_for_connection_purge",
    "linkedin_date",
    "list_for_employee",
    "list_imports",
    "purge",
    "rejected_lines_csv",
    "search",
    "set_state",
    "state_counts",
    "subject_access",
    "summary",
]
