"""LinkedIn exports in: read a line at a time, then imported in batches in one transaction.

_export  the layouts LinkedIn has written, the dates, the checks of a line
_import  merging a person's rows, keeping unreadable lines, writing, counting
"""

from __future__ import annotations

from accounts.connections.files._export import (
    CELL_LIMIT,
    COLUMN_NAMES,
    COLUMNS,
    DATE_FORMATS,
    FIELDS,
    HEADER_SEARCH_LINES,
    INSERT_COLUMNS,
    LENGTHS,
    LINE_PROBLEMS,
    OTHER_EXPORTS,
    PROFILE_PREFIX,
    REQUIRED,
    ExportStream,
    ReadExport,
    RejectedLine,
    normalise_profile_url,
    parse_connected_on,
    read_export,
    row_key,
    subject_digests,
)
from accounts.connections.files._import import (
    BATCH_ROWS,
    KEYS_IN_MEMORY,
    REJECTED_COLUMNS,
    Tally,
    import_connections,
    import_out,
    rejected_row,
)

__all__ = [
    "BATCH_ROWS",
    "CELL_LIMIT",
    "COLUMNS",
    "COLUMN_NAMES",
    "DATE_FORMATS",
    "FIELDS",
    "HEADER_SEARCH_LINES",
    "INSERT_COLUMNS",
    "KEYS_IN_MEMORY",
    "LENGTHS",
    "LINE_PROBLEMS",
    "OTHER_EXPORTS",
    "PROFILE_PREFIX",
    "REJECTED_COLUMNS",
    "REQUIRED",
    "ExportStream",
    "ReadExport",
    "RejectedLine",
    "Tally",
    "import_connections",
    "import_out",
    "normalise_profile_url",
    "parse_connected_on",
    "read_export",
    "rejected_row",
    "row_key",
    "subject_digests",
]
