"""Every route x every role (and anonymous) against the PERMISSIONS table of register/access.py."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, get
from litestar.handlers.base import BaseRouteHandler
from litestar.routes import ASGIRoute, HTTPRoute

from register.access import (
    PERMISSIONS,
    PUBLIC,
    SCIM,
    SELF_ACTIONS,
    SIGNED_IN,
    action_of,
    allowed,
)
from register.enums import Role
from register.tables import AuditEvent
from tests.conftest import UserFactory
from tests.helpers import assert_problem

# Ids no row has: a request that is let through must not change what the next one sees (an
# admin's DELETE /api/v1/tokens/1 would revoke the matrix's own first token).
PATH_VALUES: dict[type, Any] = {
    int: 987_654,
    str: "no-such-thing",
    Path: "no-such-thing",
    uuid.UUID: "00000000-0000-4000-8000-000000000000",
    float: 1.5,
    dt.date: "2024-01-31",
    dt.datetime: "2024-01-31T12:00:00Z",
}
BODY_METHODS = frozenset({"POST", "PATCH", "PUT"})


@dataclass(frozen=True)
class Endpoint:
    """One method of one route, with the action its handler declared."""

    method: str
    route: str
    path: str
    action: str | None
    page: bool = False

    @property
    def name(self) -> str:
        """How the failure message names it."""
        return f"{self.method} {self.route}"


def docs_prefix(app: Litestar) -> str:
    """Where the OpenAPI documentation lives."""
    return (app.openapi_config.path if app.openapi_config else None) or "/schema"


def is_docs(app: Litestar, route_path: str) -> bool:
    """Whether a route serves the OpenAPI documentation."""
    prefix = docs_prefix(app)
    return route_path == prefix or route_path.startswith(prefix + "/")


def endpoints(app: Litestar) -> list[Endpoint]:
    """Every method of every HTTP and ASGI route of the app, outside the documentation."""
    found = []
    for route in app.routes:
        if is_docs(app, route.path):
            continue
        handlers: list[tuple[str, BaseRouteHandler]]
        if isinstance(route, HTTPRoute):
            handlers = [(m, h) for h in route.route_handlers for m in sorted(h.http_methods)]
        elif isinstance(route, ASGIRoute):
            handlers = [("GET", route.route_handler)]
        else:
            # A websocket route cannot be walked over HTTP; table_gaps still checks its action.
            continue
        params = {name: PATH_VALUES.get(p.type, "1") for name, p in route.path_parameters.items()}
        path = route.path_format.format(**params)
        found += [
            Endpoint(method, route.path, path, action_of(h), bool((h.opt or {}).get("page")))
            for method, h in handlers
        ]
    return found


def table_gaps(app: Litestar) -> list[str]:
    """Route handlers whose action is missing, or not one PERMISSIONS (or the self actions) knows."""
    gaps = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", None) or [route.route_handler]:  # type: ignore[attr-defined]
            action = action_of(handler)
            methods = ",".join(sorted(getattr(handler, "http_methods", None) or ["WS"]))
            if action is None:
                gaps.append(f"{methods} {route.path} ({handler.handler_name}): no opt['action']")
            elif action not in PERMISSIONS and action not in SELF_ACTIONS:
                gaps.append(
                    f"{methods} {route.path} ({handler.handler_name}): action {action!r} is not in PERMISSIONS"
                )
    return gaps


async def send(c: httpx.AsyncClient, endpoint: Endpoint) -> httpx.Response:
    """One request to an endpoint; bodies are empty JSON objects, so validation may answer 422."""
    if endpoint.page:
        # A page's form post: the fields a browser would send (empty), no CSRF header.
        body: dict[str, Any] = {"data": {}} if endpoint.method in BODY_METHODS else {}
    else:
        body = {"json": {}} if endpoint.method in BODY_METHODS else {}
    return await c.request(endpoint.method, endpoint.path, **body)


def verdict(endpoint: Endpoint, role: Role | None, resp: httpx.Response) -> str | None:
    """What is wrong with one answer, or None."""
    who = role.value if role else "anonymous"
    got = resp.status_code
    if endpoint.page:
        return page_verdict(endpoint, role, resp)
    if endpoint.action == PUBLIC:
        ok = got not in (401, 403)
        want = "not 401/403 (public)"
    elif endpoint.action == SCIM:
        # Only a SCIM token opens SCIM: a role's token or session is no credential there, and
        # the refusal is SCIM's own error document.
        ok = got == 401 and resp.headers["content-type"].startswith("application/scim+json")
        return (
            None
            if ok
            else f"{endpoint.name} as {who}: got {got}, want SCIM's 401: {resp.text[:200]}"
        )
    elif role is None:
        ok = got == 401
        want = "401"
    elif endpoint.action is None or not allowed(endpoint.action, role):
        ok = got == 403
        want = "403"
    else:
        ok = got not in (401, 403)
        want = "not 401/403"
    if got >= 500:
        # A status the table allows, but a server error is never a fine answer.
        ok, want = False, want + ", and no server error"
    if ok and got in (401, 403):
        assert_problem(resp, got)
    return (
        None
        if ok
        else f"{endpoint.name} as {who}: got {got}, want {want} (action {endpoint.action!r}): {resp.text[:200]}"
    )


def page_verdict(endpoint: Endpoint, role: Role | None, resp: httpx.Response) -> str | None:
    """A page answers like the API but as a page: sign-in (303) where the API says 401."""
    who = role.value if role else "anonymous"
    got = resp.status_code
    to_sign_in = got == 303 and resp.headers["location"].startswith("/sign-in?next=")
    if endpoint.action == PUBLIC:
        ok, want = got != 403 and not to_sign_in and got < 500, "no refusal (public)"
    elif role is None:
        ok, want = to_sign_in, "303 to /sign-in"
    elif endpoint.action is None or not allowed(endpoint.action, role):
        ok, want = got == 403 and "text/html" in resp.headers["content-type"], "a 403 page"
    else:
        ok, want = got != 403 and not to_sign_in and got < 500, "not refused"
    if ok:
        return None
    return f"{endpoint.name} (page) as {who}: got {got}, want {want}: {resp.text[:200]}"


async def walk(
    app: Litestar, client: httpx.AsyncClient, user_factory: UserFactory
) -> tuple[list[str], list[Endpoint], dict[Role, dict[str, Any]]]:
    """Send every endpoint as every role and anonymously; (problems, endpoints, users)."""
    users: dict[Role, dict[str, Any]] = {}
    callers: list[tuple[Role | None, httpx.AsyncClient]] = [(None, client)]
    for role in Role:
        users[role], c = await user_factory(role)
        callers.append((role, c))
    problems = list(table_gaps(app))
    walked = endpoints(app)
    for endpoint in walked:
        for role, c in callers:
            problem = verdict(endpoint, role, await send(c, endpoint))
            if problem:
                problems.append(problem)
    return problems, walked, users


async def test_every_route_against_every_role(
    app: Litestar, client: httpx.AsyncClient, user_factory: UserFactory
) -> None:
    problems, walked, users = await walk(app, client, user_factory)
    assert not problems, "access matrix broken:\n" + "\n".join(problems)
    # The walk really covered the app (a walk over nothing would pass).
    names = {e.name for e in walked}
    assert {
        "GET /api/v1/employees",
        "POST /api/v1/employees",
        "PATCH /api/v1/users/{user_id:int}",
        "DELETE /api/v1/tokens/{token_id:int}",
        "POST /api/v1/auth/login",
        # Pages are walked like the API: every page route is in the role table too.
        "GET /accounts",
        "GET /accounts/{account_id:int}",
        "POST /accounts/{account_id:int}/transfers/{transfer_id:int}/answer",
        "GET /",
    } <= names
    assert sum(e.page for e in walked) >= 6, "the walk saw hardly any page"
    # Each denial by role is in the audit trail, naming the caller and the route.
    expected = Counter(
        (users[role]["id"], f"{e.method} {e.path}")
        for e in walked
        for role in Role
        if e.action not in (PUBLIC, SCIM) and not allowed(e.action or "", role)
    )
    assert expected, "no role is denied anything: the matrix checks nothing"
    rows = await AuditEvent.select(
        AuditEvent.actor_id, AuditEvent.object_id, AuditEvent.changes
    ).where(AuditEvent.action == "auth.denied")
    assert Counter((r["actor_id"], r["object_id"]) for r in rows) == expected
    reasons = {
        json.loads(r["changes"])["reason"]
        if isinstance(r["changes"], str)
        else r["changes"]["reason"]
        for r in rows
    }
    assert reasons == {"role"}


def test_the_legal_role_reads_incidents_and_signs_legal_steps_only() -> None:
    """Legal counsel reads incidents (with evidence and playbooks) and works tasks, which the
    incidents service narrows to the legal steps; its own things aside, nothing else."""
    granted = {action for action in PERMISSIONS if allowed(action, Role.legal)}
    # Their own policies and training; their own post requests, and those of accounts they are
    # named to approve (the service narrows both to the person).
    own = {
        PUBLIC,
        SIGNED_IN,
        "connection.own",
        "handover.attest",
        "policy.own",
        "training.own",
        "post.read",
        "post.submit",
        "post.decide",
    }
    # Policies: legal counsel reads them, and keeps the ones they own (checked in the service).
    assert granted - own == {
        "incident.read",
        "incident.evidence",
        "incident.task",
        "playbook.read",
        "policy.read",
        "policy.write",
    }
    assert all(allowed(action, Role.legal) for action in SELF_ACTIONS)


def test_the_staff_role_reaches_its_own_things_only() -> None:
    """Any employee (the staff role): their home page, settings and tokens, their own policies,
    acknowledgements, training, connections and leaver's attestation, the post requests they
    submit (on accounts they hold a grant on) or approve (when named), the incident tasks
    assigned to them (listed and completed, the incidents service narrows them to their own),
    and nothing else."""
    granted = {action for action in PERMISSIONS if allowed(action, Role.staff)}
    own = {
        PUBLIC,
        SIGNED_IN,
        "connection.own",
        "handover.attest",
        "policy.own",
        "training.own",
        "post.read",
        "post.submit",
        "post.decide",
        "incident.task",
    }
    assert granted == own
    assert all(allowed(action, Role.staff) for action in SELF_ACTIONS)
    # Everything a role may do beyond its own things is refused to staff.
    assert not allowed("employee.read", Role.staff)
    assert not allowed("account.read", Role.staff)
    assert not allowed("incident.read", Role.staff)


def test_the_routes_of_staffs_incident_tasks_are_these_only(app: Litestar) -> None:
    """incident.task opens to staff exactly their task list and finishing a task (the complete
    and skip routes and the pages' form, each refusing any task not assigned to them by name, and
    skip refused to staff; legal's queue refuses them outright): a new route with that action
    must be thought through for staff."""
    assert {e.name for e in endpoints(app) if e.action == "incident.task"} == {
        "GET /api/v1/incidents/tasks/mine",
        "POST /api/v1/incidents/{incident_id:int}/tasks/{task_id:int}/complete",
        "POST /api/v1/incidents/{incident_id:int}/tasks/{task_id:int}/skip",
        "POST /incidents/{incident_id:int}/tasks/{task_id:int}/finish",
        "POST /incidents/legal/{incident_id:int}/tasks/{task_id:int}",
    }


# Bodies that are wrong in every way a parser or a validator could notice first.
INVALID_BODIES: list[dict[str, Any]] = [
    {"content": b"{not json", "headers": {"content-type": "application/json"}},
    {"json": []},
    {"json": {"unknown_field": "x" * 5000, "version": "not a number"}},
    {"content": b"[" * 1000, "headers": {"content-type": "application/json"}},
    {"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=x"}},
    {"content": b"\xff\xfe\x00", "headers": {"content-type": "text/plain"}},
]


async def test_a_role_that_may_not_call_a_route_gets_403_whatever_the_body(
    app: Litestar, user_factory: UserFactory
) -> None:
    """Access is decided before the body is read: every route that takes a body (page forms
    included), sent a broken one by each role that may not call it, answers 403 (never 400, 413,
    415 or 422)."""
    callers = {role: (await user_factory(role))[1] for role in Role}
    problems, sent = [], 0
    for endpoint in endpoints(app):
        if endpoint.method not in BODY_METHODS or endpoint.action in (PUBLIC, SCIM):
            # SCIM refuses every role alike, with 401 (tests/register/scim).
            continue
        for role, c in callers.items():
            if endpoint.action is not None and allowed(endpoint.action, role):
                continue
            body = INVALID_BODIES[sent % len(INVALID_BODIES)]
            sent += 1
            resp = await c.request(endpoint.method, endpoint.path, **body)
            if resp.status_code != 403:
                problems.append(
                    f"{endpoint.name} as {role.value}: {resp.status_code} {resp.text[:120]}"
                )
            elif endpoint.page:
                # A form post answers as a page: the 403 page, not a problem document.
                assert "text/html" in resp.headers["content-type"], endpoint.name
            else:
                assert_problem(resp, 403, "forbidden")
    assert not problems, "\n".join(problems)
    assert sent >= 5 * len(INVALID_BODIES), sent


async def test_documentation_is_public(app: Litestar, client: httpx.AsyncClient) -> None:
    prefix = docs_prefix(app)
    docs = [r for r in app.routes if is_docs(app, r.path)]
    assert len(docs) >= 2
    for route in docs:
        path = route.path_format.format(**dict.fromkeys(route.path_parameters, "nothing-here"))
        resp = await client.get(path)
        assert resp.status_code not in (401, 403), f"GET {route.path}: {resp.status_code}"
    schema = await client.get(f"{prefix}/openapi.json")
    assert schema.status_code == 200, schema.text
    assert "/api/v1/employees" in schema.json()["paths"]


async def test_a_route_missing_from_the_table_fails_the_matrix(
    app: Litestar, client: httpx.AsyncClient, user_factory: UserFactory
) -> None:
    @get("/api/v1/zz-undeclared", sync_to_thread=False)
    def undeclared() -> dict[str, str]:
        return {"leak": "yes"}

    @get("/api/v1/zz-unknown", opt={"action": "nope.read"}, sync_to_thread=False)
    def unknown() -> dict[str, str]:
        return {"leak": "yes"}

    @get("/api/v1/zz-self", opt={"action": "auth.whatever"}, sync_to_thread=False)
    def made_up_self_action() -> dict[str, str]:
        return {"leak": "yes"}

    @get("/zz-page", opt={"page": True}, sync_to_thread=False)
    def undeclared_page() -> str:
        return "leak"

    for handler in (undeclared, unknown, made_up_self_action, undeclared_page):
        app.register(handler)
    # walk() starts from these gaps, so the matrix test fails naming each route.
    gaps = table_gaps(app)
    named = sorted(p.split(" (")[0] for p in gaps)
    assert named == [
        "GET /api/v1/zz-self",
        "GET /api/v1/zz-undeclared",
        "GET /api/v1/zz-unknown",
        "GET /zz-page",
    ], "\n".join(gaps)
    # Deny by default: nobody reaches them, and the refusal is audited.
    admin = (await user_factory(Role.admin))[1]
    for route in ("/api/v1/zz-undeclared", "/api/v1/zz-unknown", "/api/v1/zz-self"):
        denied = await admin.get(route)
        assert_problem(denied, 403, "forbidden")
        assert "leak" not in denied.text
        assert_problem(await client.get(route), 401, "not-authenticated")
    rows = await AuditEvent.select(AuditEvent.object_id).where(AuditEvent.action == "auth.denied")
    assert "GET /api/v1/zz-undeclared" in {r["object_id"] for r in rows}
