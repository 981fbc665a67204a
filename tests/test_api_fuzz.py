"""Schemathesis over /schema, in-process: every operation, no 5xx, every answer as documented.

The fuzzed app is a fresh `create_app(settings)` that only schemathesis' ASGI client drives:
that client runs the app, lifespan included, on its own thread and event loop, so the app's
database pool lives there. Rows the run needs are seeded beforehand on this test's loop through
an engine of their own, closed before the app starts.

Schemathesis' pytest integration (`schema.parametrize()`) does not run under pytest 9.2 (it
renames `request.node._nodeid`), so the test builds each operation's Hypothesis test with the
builder that integration uses: coverage cases (boundaries, wrong types, unsupported methods)
and then `EXAMPLES` fuzzed cases, positive and negative.
"""

from __future__ import annotations

import collections
import os
import re
from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from litestar import Litestar
from litestar.routes import HTTPRoute
from schemathesis import checks
from schemathesis.core.result import Err
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.python import asgi as schemathesis_asgi

from register.access import PUBLIC, action_of
from register.actor import Actor
from register.asgi import create_app
from register.auth import issue_token
from register.db import bind_engine, make_engine
from register.enums import Role
from register.services import create_employee, create_user
from register.settings import Settings
from tests.helpers import assert_problem, employee_body

EXAMPLES = 50
PASSWORD = "correct horse battery"
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]
FUZZ_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
)
# One request per operation that random data rarely builds (a real e-mail, a CSV file, the right
# password), so every success answer is checked against its schema too.
KNOWN_GOOD: dict[str, dict[str, Any]] = {
    "POST /api/v1/auth/login": {"body": {"email": "seed0@example.com", "password": PASSWORD}},
    "POST /api/v1/auth/password": {
        "body": {"current_password": PASSWORD, "new_password": "a new horse battery"}
    },
    "POST /api/v1/users": {
        "body": {"email": "known-good@example.com", "role": "it", "name": "Known Good"}
    },
    "POST /api/v1/employees": {"body": employee_body("known-good")},
    "POST /api/v1/employees/imports": {
        "body": {
            "file": b"name,work_email,start date\nImported One,imported1@example.com,2024-02-01\n"
        },
        "media_type": "multipart/form-data",
    },
}
# The accounts app's seed (fuzz_seed): accounts 1-5 held by the admin's own employee (seed0), so
# the admin may use the vault as custodian; account 1 has a credential and grant 1; accounts 4
# and 5 have pending backup transfers 1 and 2 to seed2.
KNOWN_GOOD.update(
    {
        "POST /api/v1/accounts": {
            "body": {"platform": "x", "handle": "@known_good", "custodian_id": 1}
        },
        "PATCH /api/v1/accounts/{account_id}": {
            "path_parameters": {"account_id": 2},
            "body": {"version": 1, "notes": "checked"},
        },
        "POST /api/v1/accounts/{account_id}/retire": {
            "path_parameters": {"account_id": 3},
            "body": {"version": 1, "reason": "merged"},
        },
        "POST /api/v1/accounts/{account_id}/grants": {
            "path_parameters": {"account_id": 2},
            "body": {"employee_id": 3, "level": "viewer"},
        },
        "POST /api/v1/accounts/{account_id}/grants/{grant_id}/revoke": {
            "path_parameters": {"account_id": 1, "grant_id": 1},
            "body": {"reason": "done"},
        },
        "POST /api/v1/accounts/{account_id}/transfers": {
            "path_parameters": {"account_id": 2},
            "body": {"to_employee_id": 3},
        },
        "POST /api/v1/accounts/{account_id}/transfers/{transfer_id}/accept": {
            "path_parameters": {"account_id": 4, "transfer_id": 1},
            "body": {},
        },
        "POST /api/v1/accounts/{account_id}/transfers/{transfer_id}/decline": {
            "path_parameters": {"account_id": 5, "transfer_id": 2},
            "body": {},
        },
        "PUT /api/v1/accounts/{account_id}/credential": {
            "path_parameters": {"account_id": 1},
            "body": {"password": "fuzz-password"},
        },
        "POST /api/v1/accounts/{account_id}/credential/reveal": {
            "path_parameters": {"account_id": 1},
            "body": {"reason": "fuzz check"},
        },
        "GET /api/v1/accounts/{account_id}/credential/totp": {"path_parameters": {"account_id": 1}},
        "POST /api/v1/accounts/{account_id}/recertify": {
            "path_parameters": {"account_id": 5},
            "body": {"keep_grant_ids": [], "revoke_grant_ids": []},
        },
        "POST /api/v1/accounts/imports": {
            "body": {"file": b"platform,handle,custodian\nx,@imported_one,seed0@example.com\n"},
            "media_type": "multipart/form-data",
        },
    }
)
PROBLEM_REF = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


async def seed_accounts(settings: Settings, actor: Actor, employees: list[int]) -> None:
    """Accounts 1-5 with a credential, a grant and two pending transfers (see KNOWN_GOOD)."""
    from accounts.flows import transfer_custody
    from accounts.services import add_grant, create_account
    from accounts.vault import set_credential
    from register.keys import load_secrets

    keyring = load_secrets(settings, announce=False).keyring
    for n in range(1, 6):
        await create_account(
            actor=actor,
            settings=settings,
            data={
                "platform": "x",
                "handle": f"seed_account{n}",
                "custodian_id": employees[0],
                "backup_custodian_id": employees[1],
            },
        )
    await set_credential(
        actor=actor,
        keyring=keyring,
        settings=settings,
        account_id=1,
        password="seed-password",
        totp_seed="JBSWY3DPEHPK3PXPJBSWY3DP",
    )
    await add_grant(actor=actor, account_id=1, employee_id=employees[1], level="editor")
    for account_id in (4, 5):
        await transfer_custody(
            actor=actor, account_id=account_id, role="backup", to_employee_id=employees[2]
        )


@pytest.fixture
async def fuzz_seed(settings: Settings) -> dict[str, Any]:
    """An admin with a bearer token plus a few rows, written before the fuzzed app starts."""
    engine: Any = make_engine(settings.database_url)
    bind_engine(engine)
    await engine.start_connection_pool()
    system = Actor.system("fuzz")
    try:
        # Low ids exist, so hypothesis' favourite small integers reach the 200 and 204 answers.
        employees = [
            (
                await create_employee(
                    actor=system, data={"name": f"Seed {n}", "work_email": f"seed{n}@example.com"}
                )
            )["id"]
            for n in range(3)
        ]
        admin, _ = await create_user(
            actor=system,
            email="fuzz-admin@example.com",
            role=Role.admin,
            password=PASSWORD,
            must_change_password=False,
            employee_id=employees[0],
        )
        await seed_accounts(settings, system, employees)
        for n in range(3):
            other, _ = await create_user(
                actor=system,
                email=f"seed{n}@example.com",
                role=Role.hr,
                password=PASSWORD,
                must_change_password=False,
            )
            await issue_token(actor=system, user_id=other["id"], name="decoy", expires_in_days=30)
        token = await issue_token(actor=system, user_id=admin["id"], name="fuzz", expires_in_days=1)
    finally:
        await engine.close_connection_pool()
    return {
        "admin_id": admin["id"],
        "token_id": token.id,
        "headers": {"Authorization": f"Bearer {token.token}"},
    }


@pytest.fixture
def fuzz_schema(settings: Settings, fuzz_seed: dict[str, Any]) -> Iterator[Any]:
    """The document served at /schema by a fresh app that only schemathesis' client drives."""
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi(
        "/schema/openapi.json", app, headers=fuzz_seed["headers"]
    )
    yield schema
    # Runs the app's shutdown (final audit checkpoint) and closes its pool on schemathesis' loop.
    schemathesis_asgi.shutdown_lifespans()


def test_every_operation_answers_as_documented(fuzz_schema: Any, fuzz_seed: dict[str, Any]) -> None:
    """Each generated request gets a documented status, content type and body, never a 5xx."""
    failures: dict[str, str] = {}
    fuzzed: collections.Counter[str] = collections.Counter()
    succeeded: collections.Counter[str] = collections.Counter()
    # A copy per request: schemathesis adds its own headers to the dict it is given.
    headers = fuzz_seed["headers"]
    results = list(fuzz_schema.get_all_operations())
    assert [str(r.err()) for r in results if isinstance(r, Err)] == [], (
        "operations schemathesis cannot read"
    )
    operations = [r.ok() for r in results]
    # The core alone serves 20 operations; the domain apps add theirs.
    assert len(operations) >= 20, [op.label for op in operations]

    def fuzzer(label: str, method: str) -> Any:
        def fuzz(case: Any) -> None:
            if (
                case.path_parameters
                and case.path_parameters.get("token_id") == fuzz_seed["token_id"]
            ):
                # Revoking the token the run signs in with would turn every later case into a 401;
                # hypothesis draws another id instead, and the decoy tokens still get revoked.
                hypothesis.reject()
            response = case.call_and_validate(headers=dict(headers), checks=CHECKS)
            if case.meta is not None and case.meta.phase.name.value == "fuzzing":
                fuzzed[label] += 1
            if 200 <= response.status_code < 300 and case.method.upper() == method:
                succeeded[label] += 1

        return fuzz

    # Every known-good request first: fuzzed changes (a new custodian, a retired account) must not
    # turn them into refusals; the sign-in also comes before the fuzzer's failures throttle it.
    for operation in operations:
        label = operation.label
        if label in KNOWN_GOOD:
            try:
                response = operation.Case(**KNOWN_GOOD[label]).call_and_validate(
                    headers=dict(headers), checks=CHECKS
                )
                assert 200 <= response.status_code < 300, f"{response.status_code} {response.text}"
                succeeded[label] += 1
            except (Exception, BaseExceptionGroup) as exc:
                failures[label] = str(exc)

    for operation in operations:
        label = operation.label
        test = create_test(
            operation=operation,
            test_func=fuzzer(label, operation.method.upper()),
            config=HypothesisTestConfig(
                project=fuzz_schema.config,
                modes=[HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING],
                settings=FUZZ_SETTINGS,
                explicit_settings=FUZZ_SETTINGS,
            ),
        )
        try:
            test()
        except (Exception, BaseExceptionGroup) as exc:
            failures[label] = str(exc)

    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    assert {op.label: fuzzed[op.label] for op in operations if fuzzed[op.label] < EXAMPLES} == {}
    assert [op.label for op in operations if not succeeded[op.label]] == [], (
        "operations never answered 2xx"
    )
    with schemathesis_asgi.get_client(fuzz_schema.app) as client:
        # The admin the run signs in as is still active, and its token still valid.
        assert (
            client.get("/api/v1/auth/me", headers=dict(headers)).json()["id"]
            == fuzz_seed["admin_id"]
        )


def _documented_path(path: str) -> str:
    return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path.rstrip("/") or "/")


async def test_schema_documents_every_route(app: Litestar, client: httpx.AsyncClient) -> None:
    """Every route and method is in the document, with a 2xx answer and its problem answers."""
    resp = await client.get("/schema/openapi.json")
    assert resp.status_code == 200, resp.text
    document = resp.json()
    documented = {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "patch", "delete", "head"}
    }
    served: set[tuple[str, str]] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                # Litestar's own documentation pages and automatic OPTIONS answers.
                continue
            for method in handler.http_methods:
                key = (method, _documented_path(route.path))
                served.add(key)
                operation = documented.get(key)
                assert operation is not None, f"{key} is served but not documented"
                codes = {int(code) for code in operation["responses"]}
                assert any(200 <= code < 300 for code in codes), key
                wanted = {400}
                if action_of(handler) != PUBLIC:
                    wanted |= {401, 403, 422}
                if operation.get("parameters") or operation.get("requestBody"):
                    wanted.add(422)
                if "{" in key[1]:
                    wanted.add(404)
                assert wanted <= codes, f"{key} lacks {sorted(wanted - codes)}"
                for code in codes - set(range(200, 300)):
                    assert operation["responses"][str(code)].get("content") == PROBLEM_REF, (
                        key,
                        code,
                    )
    assert set(documented) == served, f"documented but not served: {set(documented) - served}"


async def test_values_the_database_cannot_hold_are_refused(admin: httpx.AsyncClient) -> None:
    """NUL in text and integers beyond a column are the caller's error (422), on both databases."""
    body = assert_problem(await admin.get("/api/v1/audit/events", params={"actor": "a\x00b"}), 422)
    assert body["field"] == "actor"
    assert_problem(
        await admin.get("/api/v1/employees", params={"department": "a\x00"}),
        422,
        field="department",
    )
    too_big = {"email": "big@example.com", "role": "it", "employee_id": 2**70}
    assert_problem(await admin.post("/api/v1/users", json=too_big), 422, "invalid-input")
    nul = employee_body("nul", department="Comms\x00")
    resp = await admin.post("/api/v1/employees", json=nul)
    # PostgreSQL text cannot hold NUL and says so as a 422 rather than a 500; SQLite can store
    # it, so there the answer is 201 unless the schema refuses NUL first.
    if os.environ.get("REGISTER_TEST_DATABASE", "sqlite") == "postgres":
        assert_problem(resp, 422, "invalid-input")
    else:
        assert resp.status_code in (201, 422), resp.text
