"""Extension points: how the parts plug into the core without the core importing them."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

# The parts, imported by name when the app or the CLI is built, from the bottom up: each may use
# the ones before it, so `register` itself never imports any of them.
PARTS = (
    "register.staff.plugin",
    "register.notifications.plugin",
    "register.scim.plugin",
    "register.policies.plugin",
    "accounts.plugin",
    "accounts.connections.plugin",
    "accounts.handovers.plugin",
    "accounts.posts.plugin",
    "incidents.plugin",
)


@dataclass
class Extensions:
    """What the parts have registered."""

    # part -> its HTTP controllers, in the order the parts load.
    controllers: dict[str, list[Any]] = field(default_factory=dict)
    # part -> fns(subparsers) adding its CLI commands.
    cli_commands: dict[str, list[Callable[[Any], None]]] = field(default_factory=dict)
    # name -> async fn(employee_id) returning findings about that person (handover footprint).
    footprint_sources: dict[str, Callable[[int], Awaitable[list[dict[str, Any]]]]] = field(
        default_factory=dict
    )
    # kind -> async fn(keyring) -> counts: re-seal that kind's data keys under the current master key.
    rewrap_handlers: dict[str, Callable[[Any], Awaitable[dict[str, int]]]] = field(
        default_factory=dict
    )
    # async fn(actor, employee_ids): people who just left (status became "left").
    on_employees_left: list[Callable[[Any, list[int]], Awaitable[None]]] = field(
        default_factory=list
    )
    # async fn(actor, settings, employee_id): the identity provider deprovisioned this person
    # (SCIM active false or DELETE); what their offboarding needs is started (a draft handover).
    on_deprovisioned: list[Callable[[Any, Any, int], Awaitable[None]]] = field(default_factory=list)
    # async fn(actor, context) -> lines: each part's share of `register demo`, in load order.
    demo_steps: list[Callable[[Any, dict[str, Any]], Awaitable[list[str]]]] = field(
        default_factory=list
    )
    # async fn(role, since) -> [{"title", "count", "items"}]: the part's share of the daily digest.
    digest_sources: list[Callable[[Any, Any], Awaitable[list[dict[str, Any]]]]] = field(
        default_factory=list
    )
    # async fn() run by every delivery worker about once a minute: clocks that notify when
    # something is late. Each must be safe to run from several workers at once.
    periodic_tasks: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    # fn(app): a part's per-app state, set when the app is bound to its settings.
    on_bind: list[Callable[[Any], None]] = field(default_factory=list)
    # fn(app) -> async context manager held for as long as the app serves (background tasks).
    lifespans: list[Callable[[Any], AbstractAsyncContextManager[None]]] = field(
        default_factory=list
    )
    # kind -> async fn(id) -> bool: whether a record the core links to exists (a user's employee).
    exists: dict[str, Callable[[int], Awaitable[bool]]] = field(default_factory=dict)
    # kind -> async fn(ids) -> {id: name}: names of records the core links to (a user's employee),
    # so core pages show people by name; "employee_email": work e-mails, for mail to people.
    names: dict[str, Callable[[list[int]], Awaitable[dict[int, str]]]] = field(default_factory=dict)
    # kind -> async fn(e-mail) -> the record or None: the one a core page links to by e-mail (a new
    # user's person, by their work e-mail).
    by_email: dict[str, Callable[[str], Awaitable[dict[str, Any] | None]]] = field(
        default_factory=dict
    )
    # async fn(platforms) -> employee ids with active access to an account on one of those
    # platforms ('*': any account): whom the accounts' platforms require training of.
    grant_holders: list[Callable[[list[str]], Awaitable[set[int]]]] = field(default_factory=list)
    # async fn(employee_ids) -> the ones whose offboarding is complete (connections' retention).
    offboarded: list[Callable[[list[int]], Awaitable[set[int]]]] = field(default_factory=list)
    # async fn(entry): a newly signed audit checkpoint, to send to a witness outside the database.
    on_checkpoint: list[Callable[[dict[str, Any]], Awaitable[None]]] = field(default_factory=list)
    # name -> async fn() counting records that only an audited change makes: beside them, an
    # empty audit trail was wiped.
    audited_records: dict[str, Callable[[], Awaitable[int]]] = field(default_factory=dict)
    # Web pages: each part's templates folder, its menu entries (register.pages.NavLink), and
    # async fn(actor, settings) -> sections of the home page for that reader: {"title", and either
    # "items" [{"text", "link"}] or "template" (a partial the part renders) with its values}.
    template_dirs: list[Any] = field(default_factory=list)
    nav_links: list[Any] = field(default_factory=list)
    home_sections: list[Callable[[Any, Any], Awaitable[list[dict[str, Any]]]]] = field(
        default_factory=list
    )
    # async fn(actor, settings, employee_id) -> sections of a person's page for that reader, in
    # the home sections' shape: what the person holds in each part (their footprint), so the
    # staff directory shows it without importing the parts that know it.
    person_sections: list[Callable[[Any, Any, int], Awaitable[list[dict[str, Any]]]]] = field(
        default_factory=list
    )
    # kind -> async fns(actor, settings, record id) -> sections in the home sections' shape, that
    # a higher part adds to a lower part's page: "account" (an account's page: its posts'
    # approval), "post_request" (a post request's page: the incidents that concern it).
    page_sections: dict[str, list[Callable[[Any, Any, int], Awaitable[list[dict[str, Any]]]]]] = (
        field(default_factory=dict)
    )
    # (kind, label, hint) of each kind of e-mail a user may turn off on their settings page.
    mail_choices: list[tuple[str, str, str]] = field(default_factory=list)
    loaded: bool = False

    def add_controllers(self, part: str, controllers: list[Any]) -> None:
        """A part's HTTP controllers."""
        self.controllers.setdefault(part, []).extend(controllers)

    def add_commands(self, part: str, add: Callable[[Any], None]) -> None:
        """A part's CLI commands, added by add(subparsers)."""
        self.cli_commands.setdefault(part, []).append(add)

    def load(self) -> None:
        """Import each part's plugin module once; a missing one is simply not there yet."""
        if self.loaded:
            return
        self.loaded = True
        for name in PARTS:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name not in (name, name.rsplit(".", 1)[0], name.split(".")[0]):
                    raise
                continue
            module.register(self)


extensions = Extensions()
