"""Logging: every record is written as one line with its control characters escaped."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from litestar.logging.config import LoggingConfig

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# C0 and C1 controls (CR, LF and NUL among them), the Unicode line and paragraph separators, and
# the bidirectional overrides, which reorder what a reader of the log sees.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape_controls(text: str) -> str:
    """The text with every control character written as a visible escape (\\n, \\x00, \\u2028)."""
    return _CONTROL.sub(_escaped, text)


class EscapingFormatter(logging.Formatter):
    """A formatter whose every record is one line: control characters, a traceback's breaks too, escaped."""

    # A request path, a header or an exception message can carry CR, LF or NUL (percent-encoded
    # in a URL, they arrive decoded); written raw they would start a line that looks like the
    # server's own. One record, one line, is what a line-based collector can trust.
    def format(self, record: logging.LogRecord) -> str:
        """The record formatted as usual, then escaped."""
        return escape_controls(super().format(record))


def configure(level: str) -> None:
    """Log at this level through the escaping formatter, unless logging is already set up."""
    handler = logging.StreamHandler()
    handler.setFormatter(EscapingFormatter(FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def app_logging_config() -> LoggingConfig:
    """Litestar's logging setup (the root and `litestar` loggers) with the escaping formatter."""
    return LoggingConfig(formatters={"standard": {"()": EscapingFormatter, "fmt": FORMAT}})


def granian_logging_config() -> dict[str, Any]:
    """granian's own logging setup (server and access log) with every formatter escaping."""
    from granian.log import LOGGING_CONFIG

    # granian decodes the path before its access log writes it; its formats stay as they are.
    config = copy.deepcopy(LOGGING_CONFIG)
    for formatter in config["formatters"].values():
        formatter["()"] = f"{__name__}.EscapingFormatter"
    return config
