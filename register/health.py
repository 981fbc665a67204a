"""Readiness: the database answers and every migration is applied; how the read replicas are."""

from __future__ import annotations

import logging
from math import inf
from typing import Any

from register.db import fetch, get_engine
from register.migrate import pending_migrations
from register.replicas import RoutedPostgresEngine
from register.schemas import ReplicaHealth

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
    return {"status": "ok", "database": "ok", "migrations": "applied", **replicas(engine)}


def replicas(engine: Any) -> dict[str, Any]:
    """Each read replica's state and reads, and in words which are skipped (nothing without any).

    A replica down or lagging never makes the register unready: the primary serves its reads,
    and a load balancer that took every server out for one replica would stop the service.
    """
    if not isinstance(engine, RoutedPostgresEngine) or not engine.replicas:
        return {}
    nodes = list(engine.replicas.values())
    out: dict[str, Any] = {
        "replicas": [
            ReplicaHealth(
                address=node.address,
                state=node.state,  # type: ignore[arg-type]
                reads=node.reads,
                lag_seconds=round(node.lag, 3)
                if node.lag is not None and node.lag != inf
                else None,
            )
            for node in nodes
        ],
        "primary_reads": engine.primary_reads,
    }
    skipped = [
        f"{node.address} {node.state}"
        + (
            f" ({node.lag:.1f} s behind, bound {engine.max_lag:g} s)"
            if node.state == "lagging" and node.lag is not None and node.lag != inf
            else ""
        )
        for node in nodes
        if not node.usable
    ]
    if skipped:
        out["detail"] = "read replica " + ", ".join(skipped) + ": its reads go to the primary"
    return out
