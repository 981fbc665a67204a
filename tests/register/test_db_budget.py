"""A slow read on the event loop is interrupted and finished on the connection's thread."""

from __future__ import annotations

import pytest

from register.db import PooledSQLiteEngine, fetch, get_engine


async def test_a_slow_inline_read_finishes_on_the_thread(app):
    if not isinstance(get_engine(), PooledSQLiteEngine):
        pytest.skip("SQLite only")
    # A recursive count to two million takes far longer than the inline budget.
    rows = await fetch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) "
        "SELECT COUNT(*) AS c FROM n"
    )
    assert rows == [{"c": 2000000}]
    # The connection is usable afterwards, with no handler left behind.
    assert (await fetch("SELECT 1 AS one")) == [{"one": 1}]
