"""The application factory: all wiring of the register in one place."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from itertools import chain
from typing import Any

from litestar import Litestar, Request
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from register import admin_pages, audit, logs, oidc_pages, pages
from register.access import access_guard
from register.actor import Actor
from register.api import AUDIT_CONTROLLERS, SIGN_IN_CONTROLLERS
from register.audit_pages import PAGES as AUDIT_PAGES
from register.auth import AuthMiddleware
from register.db import bind_engine, make_engine
from register.errors import EXCEPTION_HANDLERS
from register.extensions import extensions
from register.http import (
    AllowedHosts,
    BoundedRequest,
    IdempotencyMiddleware,
    ProxyHeaders,
    ReplicaReads,
    security_headers,
)
from register.keys import KeyRingSource, load_secrets
from register.openapi import DOCS_PATH, LocalRedoc, LocalSwagger, docs_assets_router
from register.pages import CorePages, static_router, template_config
from register.settings import Settings, get_settings

log = logging.getLogger("register")

MAX_BODY_BYTES = 64 * 1024 * 1024


async def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    """The caller, as resolved by the auth middleware."""
    return request.scope.get("user") or Actor.anonymous()


async def keep_session(connection: Any) -> None:
    """asyncpg pool reset: nothing to undo (no session settings, only transaction-scoped locks).

    asyncpg still rolls back an open transaction on release; skipping its default reset saves
    two round trips per request.
    """


async def _lifespan(app: Litestar) -> AsyncIterator[None]:
    """The pool, and each part's background work, for as long as the app serves."""
    settings: Settings = app.state.settings
    engine = app.state.engine
    if settings.is_sqlite:
        await engine.start_connection_pool()
    else:
        await engine.start_connection_pool(
            max_size=settings.pg_pool_max, min_size=1, reset=keep_session
        )
    # Everything loaded so far lives as long as the process: keep the collector off it, or
    # a full collection under load stalls every request in flight (seen as 50-100 ms p99).
    gc.collect()
    gc.freeze()
    try:
        async with AsyncExitStack() as parts:
            # The leaver sweep, in-process delivery: stopped in reverse order before the pool.
            for lifespan in extensions.lifespans:
                await parts.enter_async_context(lifespan(app))
            yield
    finally:
        try:
            await audit.checkpoint_now()
        except Exception:
            log.exception("could not sign the shutdown checkpoint")
        await engine.close_connection_pool()


def provide_settings(request: Request[Any, Any, Any]) -> Settings:
    """The settings the app was bound to."""
    return request.app.state.settings


def build_app(cors_origins: tuple[str, ...] = ()) -> Litestar:
    """The register's routes, middleware and documentation, not yet bound to settings (see bind_app)."""
    extensions.load()
    parts = dict(extensions.controllers)
    # /schema lists operations in route order: signing in, the staff directory, the audit trail,
    # then the other parts from the bottom up, as it did before the directory became a part.
    controllers = [
        *SIGN_IN_CONTROLLERS,
        *parts.pop("staff", []),
        *AUDIT_CONTROLLERS,
        *chain.from_iterable(parts.values()),
    ]
    application = Litestar(
        route_handlers=[
            *controllers,
            docs_assets_router(),
            CorePages,
            *admin_pages.install(extensions),
            *oidc_pages.install(extensions),
            *AUDIT_PAGES,
            static_router(),
        ],
        lifespan=[asynccontextmanager(_lifespan)],
        dependencies={
            "actor": Provide(provide_actor),
            "settings": Provide(provide_settings, sync_to_thread=False),
        },
        guards=[access_guard],
        # Innermost: sign-in and idempotency records read and write the primary; only the
        # handler's own reads may go to a replica.
        middleware=[AuthMiddleware(), IdempotencyMiddleware(), ReplicaReads()],
        request_class=BoundedRequest,
        logging_config=logs.app_logging_config(),
        before_send=[security_headers],
        exception_handlers=EXCEPTION_HANDLERS,
        cors_config=CORSConfig(allow_origins=list(cors_origins), allow_credentials=True)
        if cors_origins
        else None,
        openapi_config=OpenAPIConfig(
            title="Social asset register",
            version="1.0.0",
            description="Corporate social accounts and LinkedIn connections as employer assets; offboarding handover; incident response.",
            path=DOCS_PATH,
            # Every script and style of the documentation is served by the register itself, so
            # the pages work offline and under a strict CSP.
            render_plugins=[LocalSwagger(), LocalRedoc()],
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="API token from POST /api/v1/tokens or 'register token create'.",
                    ),
                    "scim": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="SCIM token from 'register scim token create'; opens /scim/v2 only.",
                    ),
                    "session": SecurityScheme(
                        type="apiKey",
                        name="register_session",
                        security_scheme_in="cookie",
                        description="Browser session from POST /api/v1/auth/login; changes also need X-CSRF-Token.",
                    ),
                }
            ),
            security=[{"bearer": []}, {"session": []}],
        ),
        template_config=template_config(extensions.template_dirs),
        request_max_body_size=MAX_BODY_BYTES,
        debug=False,
    )
    pages.install()
    application.state.router = application.asgi_handler
    return application


def bind_app(application: Litestar, settings: Settings) -> Litestar:
    """Give a built app its settings, secrets, database engine and delivery worker."""
    # Everything that depends on settings but CORS lives here, so an app built once can be bound
    # again to other settings (the test suite does, one database per test): building the routes
    # is most of the cost of an app.
    logs.configure(settings.log_level)
    secrets = load_secrets(settings)
    engine = make_engine(
        settings.database_url,
        sqlite_pool_size=settings.sqlite_pool_size,
        replica_urls=settings.database_replica_urls,
        replica_max_lag=settings.replica_max_lag_seconds,
        replica_check_seconds=settings.replica_check_seconds,
    )
    bind_engine(engine)
    audit.configure(secrets.signing_key, secrets.audit_mac_key, settings.audit_witness_file)
    keyring_source = KeyRingSource(settings.keyring_file, secrets.keyring)
    application.state.update(
        {
            "settings": settings,
            "secrets": secrets,
            "engine": engine,
            "keyring": keyring_source,
        }
    )
    for bind in extensions.on_bind:
        bind(application)
    # Host checking wraps the whole handler so that unrouted paths are checked too; the proxy's
    # word on the client address and scheme is taken before anything reads them.
    application.asgi_handler = ProxyHeaders(
        AllowedHosts(application.state.router, settings.allowed_hosts),
        settings.forwarded_allow_ips,
    )
    return application


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the register's Litestar application."""
    settings = settings or get_settings()
    return bind_app(build_app(settings.cors_origins), settings)


_app: Litestar | None = None


def __getattr__(name: str) -> Any:
    # `register.asgi:app` is built on first access, so importing create_app has no side effects.
    global _app
    if name == "app":
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(name)
