"""Who may do what: one table of actions to roles, and the guard that enforces it on every route.

Every route handler names its action in `opt={"action": ...}`. A route without an action, or with
an action missing from PERMISSIONS, is refused to everybody (deny by default), and the access
matrix test fails on it.
"""

from __future__ import annotations

import hmac
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from register import audit
from register.actor import Actor
from register.db import write_transaction
from register.enums import Role
from register.errors import NotAuthenticated, PasswordChangeRequired, PermissionDenied
from register.i18n import N_

PUBLIC = "public"
# SCIM provisioning (/scim/v2): no role reaches it; only a SCIM token does, which that part's own
# guard checks (an API token or a session is refused there, and a SCIM token everywhere else).
# The access matrix test holds every route of this action to 401 for every role.
SCIM = "scim"
# The ids a route's path accepts (register.controllers.Id): a larger one fits no column.
MAX_ID = 2**31 - 1
SIGNED_IN = "signed_in"

ALL_ROLES = frozenset(Role)
A, IT, HR, COMMS, AUD = Role.admin, Role.it, Role.hr, Role.comms, Role.auditor
LEGAL = Role.legal
# Any employee who signs in without a mapped group: their own things only (their home page and
# settings, their policies and acknowledgements, their training, the incident tasks assigned to
# them), never anyone else's.
STAFF = Role.staff

# action -> roles allowed. PUBLIC needs no sign-in; SIGNED_IN needs any active user.
# Signing in is PUBLIC: /sign-in, and the company's sign-in /sign-in/company and its /callback.
PERMISSIONS: dict[str, frozenset[Role]] = {
    PUBLIC: ALL_ROLES,
    SIGNED_IN: ALL_ROLES,
    "user.read": frozenset({A, AUD}),
    "user.write": frozenset({A}),
    "token.admin": frozenset({A}),
    "employee.read": frozenset({A, IT, HR, COMMS, AUD}),
    "employee.write": frozenset({A, HR}),
    "employee.import": frozenset({A, HR}),
    "audit.read": frozenset({A, AUD}),
    # accounts: IT keeps the register; everyone reads it; secrets are further limited to IT and
    # the account's custodians inside the vault service.
    "account.read": frozenset({A, IT, HR, COMMS, AUD}),
    "account.write": frozenset({A, IT}),
    "credential.status": frozenset({A, IT, HR, AUD}),
    "credential.use": frozenset({A, IT, HR, COMMS, AUD}),
    "custody.respond": frozenset({A, IT, HR, COMMS, AUD}),
    "custody.recertify": frozenset({A, IT, HR, COMMS, AUD}),
    "audit.verify": frozenset({A, AUD}),
    # connections (accounts app): third parties' personal data. HR and admin keep them; a user
    # reads their own employee's (checked in the service); auditors see counts and import
    # metadata only; IT and comms nothing.
    "connection.read": frozenset({A, HR}),
    "connection.write": frozenset({A, HR}),
    "connection.own": ALL_ROLES,
    "connection.meta": frozenset({A, HR, AUD}),
    "connection.privacy": frozenset({A, HR}),
    # handovers (accounts app): HR runs them, IT works its items and signs for IT, auditors read;
    # the leaver attests for themselves (checked in the service).
    "handover.read": frozenset({A, IT, HR, AUD}),
    "handover.write": frozenset({A, HR}),
    "handover.work": frozenset({A, IT, HR}),
    "handover.waive": frozenset({A, HR}),
    "handover.sign": frozenset({A, IT, HR}),
    "handover.export": frozenset({A, HR}),
    "handover.attest": ALL_ROLES,
    # Only an admin names what a leaver keeps after their handover (audited, on the certificate).
    "handover.except": frozenset({A}),
    # post approval (accounts app): whoever holds an active grant on an account submits its posts
    # and marks them posted (checked in the service); the account's named approvers decide, never
    # on their own (checked in the service); comms, admins and auditors see every post request,
    # anyone else their own and those they approve. IT and comms say which accounts need approval.
    "post.read": ALL_ROLES,
    "post.submit": frozenset({A, IT, HR, COMMS, LEGAL, STAFF}),
    "post.decide": frozenset({A, IT, HR, COMMS, LEGAL, STAFF}),
    "post.approval": frozenset({A, IT, COMMS}),
    # notifications (core): admins manage subscriptions and the outbox; auditors read them.
    "subscription.read": frozenset({A, AUD}),
    "subscription.write": frozenset({A}),
    "outbox.read": frozenset({A, AUD}),
    "outbox.retry": frozenset({A}),
    # incidents (incidents app): actions are added below this line by that app's work.
    # Comms files and works incidents; HR and IT work their own tasks (checked in the service);
    # staff list and complete the tasks assigned to them by name, never skip one, and read
    # nothing else of the incident (checked in the service);
    # everyone reads; only HR ever sees a named reporter (admins may correct it, never read it);
    # evidence contents are opened audited. Legal counsel reads incidents, their evidence (a legal
    # review weighs the post itself) and the playbooks, and signs the legal steps: only they or an
    # admin may finish those (checked in the service), and they may finish nothing else.
    "incident.read": frozenset({A, IT, HR, COMMS, LEGAL, AUD}),
    "incident.file": frozenset({A, COMMS}),
    "incident.write": frozenset({A, COMMS}),
    "incident.task": frozenset({A, IT, HR, COMMS, LEGAL, STAFF}),
    "incident.reporter": frozenset({A, HR}),
    "incident.evidence": frozenset({A, COMMS, LEGAL, AUD}),
    "incident.metrics": frozenset({A, IT, HR, COMMS, AUD}),
    "playbook.read": frozenset({A, IT, HR, COMMS, LEGAL, AUD}),
    "playbook.write": frozenset({A}),
    # policies (core part register/policies): everyone reads and acknowledges the versions that
    # apply to them (their own, checked in the service); admins and HR keep every policy, and a
    # policy's owner (any role but staff and auditors; admins and HR create them) edits and publishes their own (checked in
    # the service); HR and auditors see who has acknowledged.
    "policy.own": ALL_ROLES,
    "policy.read": frozenset({A, IT, HR, COMMS, LEGAL, AUD}),
    "policy.create": frozenset({A, HR}),
    "policy.write": frozenset({A, IT, HR, COMMS, LEGAL}),
    "policy.coverage": frozenset({A, HR, AUD}),
    # training (core part register/policies): HR keeps courses and completions; everyone sees
    # their own; IT and comms read who is due (they grant the accounts that need it).
    "training.own": ALL_ROLES,
    "training.read": frozenset({A, IT, HR, COMMS, AUD}),
    "training.write": frozenset({A, HR}),
    SCIM: frozenset(),
}

# Actions every signed-in user takes on their own account, whatever their role.
SELF_ACTIONS = frozenset({"auth.password", "auth.me", "auth.logout"})

# Actions a user with a one-time password may still take: see who they are, change it, sign out.
FIRST_SIGN_IN_ACTIONS = frozenset({PUBLIC, *SELF_ACTIONS})

# Handlers Litestar generates itself: the OpenAPI documentation and the automatic OPTIONS answer
# (which only lists the allowed methods). They cannot carry an action, and show nothing secret.
_FRAMEWORK_PUBLIC_MODULES = frozenset(
    {"litestar._openapi.plugin", "litestar.openapi.plugins", "litestar.routes.http"}
)


def declared(action: str | None) -> bool:
    """Whether an action is one the table knows (anything else is refused to everybody)."""
    return action is not None and (action in PERMISSIONS or action in SELF_ACTIONS)


def allowed(action: str, role: Role | None) -> bool:
    """Whether a role may take an action (None: not signed in)."""
    if action == PUBLIC:
        return True
    if role is None:
        return False
    if action in SELF_ACTIONS:
        return True
    return role in PERMISSIONS.get(action, frozenset())


def action_of(handler: BaseRouteHandler) -> str | None:
    """The action a route handler declared (Litestar's own docs and OPTIONS handlers are public)."""
    action = (handler.opt or {}).get("action")
    if action is None and getattr(handler.fn, "__module__", None) in _FRAMEWORK_PUBLIC_MODULES:
        return PUBLIC
    return action


def awaits_new_password(actor: Actor, action: str) -> bool:
    """Whether the caller must change a one-time password before taking this action."""
    # The one-time password gates what it signs in to: browser sessions. A bearer token is a
    # separate credential that only an admin or the CLI can issue while the password is unchanged.
    return (
        actor.via == "session"
        and actor.must_change_password
        and action not in FIRST_SIGN_IN_ACTIONS
    )


async def access_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Refuse the request unless the caller's role may take the route's action."""
    action = action_of(handler)
    actor: Actor = connection.scope.get("user") or Actor.anonymous()
    if action in (PUBLIC, SCIM):
        return
    if actor.role is None:
        raise NotAuthenticated(N_("sign in, or send 'Authorization: Bearer <token>'"))
    if action is None or not declared(action):
        await _denied(actor, action or "undeclared", connection, "route not in the table")
        raise PermissionDenied(N_("this route is not open to any role"))
    if not connection.scope.get("auth", {}).get("csrf_ok", True) and not await _form_csrf_ok(
        connection, handler
    ):
        await _denied(actor, action, connection, "missing or wrong CSRF token")
        raise PermissionDenied(
            N_("missing or wrong X-CSRF-Token header for a cookie-authenticated change")
        )
    if awaits_new_password(actor, action):
        await _denied(actor, action, connection, "one-time password not changed")
        raise PasswordChangeRequired(
            N_("change your one-time password first: POST /api/v1/auth/password")
        )
    if not allowed(action, actor.role):
        await _denied(actor, action, connection, "role")
        raise PermissionDenied(
            N_("role '%(value)s' may not %(action)s"),
            params={"value": actor.role.value, "action": action},
        )


def object_guard(check: Callable[..., Awaitable[None]]) -> Guard:
    """A route guard running a service's per-object rule (custodians only, the task's team) first.

    Litestar runs a route's guards, after the app's access_guard, before it reads, decodes or
    validates the body: a caller the rule refuses gets 403 whatever the body holds, not 422 for a
    field of a request that was never theirs to make. The check is called with `actor`, the path
    parameters it names, and `settings` if it names that; it raises (and audits) a refusal. The
    service calls the same check, so the rule lives in one place.
    """
    wanted = set(inspect.signature(check).parameters)

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        kwargs = {k: v for k, v in connection.path_params.items() if k in wanted}
        if any(isinstance(v, int) and not 1 <= v <= MAX_ID for v in kwargs.values()):
            # No row has such an id, so there is no rule to apply: the route's own parameter
            # check answers 422 naming it (a guard runs before that check, not after).
            return
        if "settings" in wanted:
            kwargs["settings"] = connection.app.state.settings
        await check(actor=connection.scope.get("user") or Actor.anonymous(), **kwargs)

    return guard


async def _form_csrf_ok(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> bool:
    """A page's form post carries the session's CSRF token in its `csrf_token` field."""
    # Forms cannot send headers; htmx sends the header like any script. Only page routes read
    # the field, and the form is parsed once (Litestar keeps it for the handler).
    expected = connection.scope.get("auth_session", {}).get("csrf_token")
    if not (handler.opt or {}).get("page") or not expected or not isinstance(connection, Request):
        return False
    if not connection.content_type[0].startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        return False
    sent = (await connection.form()).get("csrf_token")
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), str(expected).encode())


async def _denied(
    actor: Actor, action: str, connection: ASGIConnection[Any, Any, Any, Any], reason: str
) -> None:
    async with write_transaction():
        await audit.record(
            actor,
            "auth.denied",
            "route",
            f"{connection.scope.get('method', '')} {connection.url.path}"[:320],
            {"action": action, "reason": reason},
        )


async def refuse(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int,
    reason: str,
    params: Mapping[str, Any] | None = None,
) -> PermissionDenied:
    """Audit a refusal decided inside a service or handler, and return the error to raise."""
    refusal = PermissionDenied(reason, params=params)
    async with write_transaction():
        await audit.record(
            actor,
            "auth.denied",
            object_type,
            object_id,
            {"action": action, "reason": refusal.detail},
        )
    return refusal
