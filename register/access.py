"""Who may do what: one table of actions to roles, and the guard that enforces it on every route.

Every route handler names its action in `opt={"action": ...}`. A route without an action, or with
an action missing from PERMISSIONS, is refused to everybody (deny by default), and the access
matrix test fails on it.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from register import audit
from register.actor import Actor
from register.db import write_transaction
from register.enums import Role
from register.errors import NotAuthenticated, PermissionDenied

PUBLIC = "public"
SIGNED_IN = "signed_in"

ALL_ROLES = frozenset(Role)
A, IT, HR, COMMS, AUD = Role.admin, Role.it, Role.hr, Role.comms, Role.auditor

# action -> roles allowed. PUBLIC needs no sign-in; SIGNED_IN needs any active user.
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
}

# Actions a user with a one-time password may still take: see who they are, change it, sign out.
FIRST_SIGN_IN_ACTIONS = frozenset({PUBLIC, "auth.password", "auth.me", "auth.logout"})


def allowed(action: str, role: Role | None) -> bool:
    """Whether a role may take an action (None: not signed in)."""
    if action == PUBLIC:
        return True
    if role is None:
        return False
    if action in ("auth.password", "auth.me", "auth.logout"):
        return True
    return role in PERMISSIONS.get(action, frozenset())


def action_of(handler: BaseRouteHandler) -> str | None:
    """The action a route handler declared."""
    return (handler.opt or {}).get("action")


async def access_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Refuse the request unless the caller's role may take the route's action."""
    action = action_of(handler)
    actor: Actor = connection.scope.get("user") or Actor.anonymous()
    if action == PUBLIC:
        return
    if actor.role is None:
        raise NotAuthenticated("sign in, or send 'Authorization: Bearer <token>'")
    if action is None or not (action in PERMISSIONS or action.startswith("auth.")):
        await _denied(actor, action or "undeclared", connection)
        raise PermissionDenied("this route is not open to any role")
    if not connection.scope.get("auth", {}).get("csrf_ok", True):
        await _denied(actor, action, connection)
        raise PermissionDenied("missing or wrong X-CSRF-Token header for a cookie-authenticated change")
    if actor.must_change_password and action not in FIRST_SIGN_IN_ACTIONS:
        raise PermissionDenied("change your one-time password first: POST /api/v1/auth/password")
    if not allowed(action, actor.role):
        await _denied(actor, action, connection)
        raise PermissionDenied(f"role '{actor.role.value}' may not {action}")


async def _denied(actor: Actor, action: str, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    async with write_transaction():
        await audit.record(
            actor,
            "auth.denied",
            "route",
            f"{connection.scope.get('method', '')} {connection.url.path}"[:320],
            {"action": action},
        )
