"""Running register code outside the web app (CLI, workers, benchmarks): engine, secrets, audit key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from register import audit
from register.db import bind_engine, make_engine
from register.keys import Secrets, load_secrets
from register.settings import Settings


@asynccontextmanager
async def runtime(
    settings: Settings, *, announce: bool = True, create_missing: bool = True
) -> AsyncIterator[Secrets]:
    """Bind the database and load the secrets for the duration of a command."""
    secrets = load_secrets(settings, announce=announce, create_missing=create_missing)
    engine: Any = make_engine(settings.database_url, sqlite_pool_size=settings.sqlite_pool_size)
    bind_engine(engine)
    audit.configure(secrets.signing_key, secrets.audit_mac_key, settings.audit_witness_file)
    if settings.is_sqlite:
        await engine.start_connection_pool()
    else:
        await engine.start_connection_pool(max_size=4, min_size=1)
    try:
        yield secrets
    finally:
        await engine.close_connection_pool()


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[None]:
    """Bind the database only, for read-only commands that need no secrets (audit verify with a public key)."""
    engine: Any = make_engine(settings.database_url, sqlite_pool_size=settings.sqlite_pool_size)
    bind_engine(engine)
    if settings.is_sqlite:
        await engine.start_connection_pool()
    else:
        await engine.start_connection_pool(max_size=2, min_size=1)
    try:
        yield
    finally:
        await engine.close_connection_pool()
