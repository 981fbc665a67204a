"""Log lines: every record one line, control characters escaped, for the app's loggers too."""

from __future__ import annotations

import io
import logging
import logging.config
from typing import Any

from register.logs import EscapingFormatter, escape_controls


def test_control_characters_are_escaped() -> None:
    assert escape_controls("a\r\nb\x00c\td\x1b[31m\x85\u2028\u202e") == (
        "a\\r\\nb\\x00c\\td\\x1b[31m\\x85\\u2028\\u202e"
    )
    assert escape_controls("plain text, ünïcode, 日本") == "plain text, ünïcode, 日本"


def test_a_record_with_a_traceback_is_one_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EscapingFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("register.test-one-line")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("bad value\nERROR forged line")
        except ValueError:
            logger.exception("failed on %s", "/api/v1/x\r\nINFO forged\x00")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ERROR failed on /api/v1/x\\r\\nINFO forged\\x00\\nTraceback")
    assert "ValueError: bad value\\nERROR forged line" in lines[0]


async def test_the_apps_log_handlers_escape(app: Any) -> None:
    """The handlers the app installs for the root and `litestar` loggers format with escapes."""
    installed = [
        handler
        for name in ("", "litestar")
        for handler in logging.getLogger(name).handlers
        if not type(handler).__module__.startswith("_pytest")
    ]
    assert installed
    record = logging.LogRecord("register", logging.WARNING, __file__, 1, "on %s", ("a\nb",), None)
    for handler in installed:
        assert isinstance(handler.formatter, EscapingFormatter), handler
        assert handler.format(record).endswith("on a\\nb")
