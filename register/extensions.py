"""Extension points: how the domain apps plug into the core without the core importing them."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

# The domain packages, imported by name when the app is built, so `register` never imports them.
DOMAIN_MODULES = ("accounts.plugin", "incidents.plugin")


@dataclass
class Extensions:
    """What the domain apps have registered."""

    controllers: list[Any] = field(default_factory=list)
    # name -> async fn(employee_id) returning findings about that person (handover footprint).
    footprint_sources: dict[str, Callable[[int], Awaitable[list[dict[str, Any]]]]] = field(
        default_factory=dict
    )
    # fn(subparsers) adding the domain's CLI commands.
    cli_commands: list[Callable[[Any], None]] = field(default_factory=list)
    # kind -> async fn(keyring) -> counts: re-seal that kind's data keys under the current master key.
    rewrap_handlers: dict[str, Callable[[Any], Awaitable[dict[str, int]]]] = field(
        default_factory=dict
    )
    # async fn(actor, employee_ids): people who just left (status became "left").
    on_employees_left: list[Callable[[Any, list[int]], Awaitable[None]]] = field(
        default_factory=list
    )
    # async fn(actor, context) -> lines: the domain's part of `register demo`.
    demo_steps: list[Callable[[Any, dict[str, Any]], Awaitable[list[str]]]] = field(
        default_factory=list
    )
    # async fn(role, since) -> [{"title", "count", "items"}]: the domain's part of the daily digest.
    digest_sources: list[Callable[[Any, Any], Awaitable[list[dict[str, Any]]]]] = field(
        default_factory=list
    )
    # async fn() run by every delivery worker about once a minute: clocks that notify when
    # something is late. Each must be safe to run from several workers at once.
    periodic_tasks: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    loaded: bool = False

    def load(self) -> None:
        """Import each domain's plugin module once; a missing one is simply not there yet."""
        if self.loaded:
            return
        self.loaded = True
        for name in DOMAIN_MODULES:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name not in (name, name.split(".")[0]):
                    raise
                continue
            module.register(self)


extensions = Extensions()
