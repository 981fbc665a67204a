"""Readiness: the database answers and every migration is applied."""

from __future__ import annotations

import logging
from typing import Any

from register.db import fetch, get_engine
from register.migrate import pending_migrations

log = logging.getLogger("register.health")


async def readiness() -> dict[str, Any]:
    """A readiness report; status is 'ok' only when the database is usable."""
    engine = get_engine()
    try:
        await fetch("SELECT 1 AS one")
    except Exception as exc:
        log.warning("readiness: database unreachable: %s", exc)
        return {
            "status": "unavailable",
            "database": "unreachable",
            "detail": "the database does not answer",
        }
    pending = await pending_migrations(engine)
    if pending:
        return {
            "status": "unavailable",
            "database": "ok",
            "migrations": f"{len(pending)} pending",
            "detail": "run 'register migrate'",
        }
    return {"status": "ok", "database": "ok", "migrations": "applied"}
