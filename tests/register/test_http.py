"""HTTP conventions: problem+json errors, idempotency keys, security headers, hosts, health, request ids."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
from hypothesis import strategies as st
from litestar import get, post
from litestar.params import JSONBody

from register.actor import Actor
from register.asgi import create_app
from register.auth import issue_token
from register.enums import Role
from register.http import RequestDigest, request_digest
from register.services import create_user
from register.settings import Settings
from register.staff.tables import Employee
from register.tables import AuditEvent, IdempotencyRecord
from tests.helpers import PROBLEM, assert_problem, employee_body

URL = "/api/v1/employees"
SECRET_MARKER = "s3cr3t-internal-detail"


def assert_clean_problem(
    resp: httpx.Response, status: int, kind: str | None = None, field: str | None = None
) -> dict[str, Any]:
    """A problem document with every RFC 9457 member and nothing internal in it."""
    body = assert_problem(resp, status, kind, field)
    for member in ("type", "title", "status", "detail"):
        assert body.get(member) not in (None, ""), f"{member} missing in {body}"
    assert body["type"].startswith("https://")
    lowered = resp.text.lower()
    for leak in (
        "traceback",
        'file "',
        "sqlite3",
        "asyncpg",
        "insert into",
        "litestar.",
        ".py",
        SECRET_MARKER,
    ):
        assert leak not in lowered, f"{leak!r} leaked in {resp.text}"
    return body


# ---------------------------------------------------------------- errors are problem+json


async def test_unknown_route_is_404_problem(
    admin: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    assert_clean_problem(await admin.get("/api/v1/nothing-here"), 404, "not-found")
    assert_clean_problem(await client.get("/no/such/page"), 404, "not-found")


async def test_wrong_method_is_405_problem(admin: httpx.AsyncClient) -> None:
    resp = await admin.delete(URL)
    body = assert_clean_problem(resp, 405, "method-not-allowed")
    assert body["status"] == 405
    assert set(re.split(r",\s*", resp.headers["allow"])) >= {"GET", "POST"}


@pytest.mark.parametrize(
    "content", [b"{not json", b'{"name": "A", ', b"\xff\xfe\x00", b"[1, 2]", b"null", b""]
)
async def test_malformed_json_is_a_4xx_problem(hr: httpx.AsyncClient, content: bytes) -> None:
    resp = await hr.post(URL, content=content, headers={"content-type": "application/json"})
    assert resp.status_code in (400, 422), resp.text
    assert_clean_problem(resp, resp.status_code)
    assert await Employee.count() == 0


DEEP_BODIES = {
    "arrays": b"[" * 1000 + b"]" * 1000,
    "objects": b'{"a":' * 1000 + b"1" + b"}" * 1000,
    "unclosed": b"[" * 100_000,
}


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/incidents/intake"])
@pytest.mark.parametrize("shape", sorted(DEEP_BODIES))
async def test_deeply_nested_json_is_a_400_problem_without_a_traceback(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, path: str, shape: str
) -> None:
    """Nesting is bounded before decoding: no RecursionError, no traceback, no sign-in needed."""
    with caplog.at_level(logging.DEBUG):
        resp = await client.post(
            path, content=DEEP_BODIES[shape], headers={"content-type": "application/json"}
        )
    body = assert_clean_problem(resp, 400, "bad-request")
    assert "64 levels" in body["detail"]
    logged = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert len(logged) <= 1 and not any(r.exc_info for r in logged), caplog.text


async def test_brackets_inside_strings_do_not_count_as_nesting(client: httpx.AsyncClient) -> None:
    login = {"email": "a@example.com", "password": "[" * 500 + "{" * 500}
    assert_clean_problem(await client.post("/api/v1/auth/login", json=login), 401)
    shallow = {"email": "a@example.com", "password": "x", "extra": json.loads("[" * 60 + "]" * 60)}
    assert_clean_problem(await client.post("/api/v1/auth/login", json=shallow), 422, field="extra")


async def test_a_deeply_nested_import_mapping_is_422_naming_it(hr: httpx.AsyncClient) -> None:
    files = {"file": ("staff.csv", b"Name,Work Email\r\nKim Park,kim@example.com\r\n", "text/csv")}
    resp = await hr.post(
        f"{URL}/imports", files=files, data={"mapping": "[" * 100_000 + "]" * 100_000}
    )
    assert_clean_problem(resp, 422, field="mapping")
    assert await Employee.count() == 0


async def test_wrong_type_is_422_naming_the_field(hr: httpx.AsyncClient) -> None:
    assert_clean_problem(
        await hr.post(URL, json=employee_body(1, name=42)), 422, "invalid-input", field="name"
    )
    assert_clean_problem(
        await hr.post(URL, json=employee_body(1, start_date="yesterday")), 422, field="start_date"
    )
    assert_clean_problem(
        await hr.post(URL, json=employee_body(1, manager_id="boss")), 422, field="manager_id"
    )
    assert await Employee.count() == 0


async def test_unknown_field_is_422_naming_it(hr: httpx.AsyncClient) -> None:
    resp = await hr.post(URL, json=employee_body(1, salary=100000))
    body = assert_clean_problem(resp, 422, "invalid-input", field="salary")
    assert "salary" in body["detail"]
    assert await Employee.count() == 0


async def test_missing_field_is_422_naming_it(hr: httpx.AsyncClient) -> None:
    body = employee_body(1)
    del body["work_email"]
    assert_clean_problem(await hr.post(URL, json=body), 422, "invalid-input", field="work_email")
    assert await Employee.count() == 0


async def test_bad_path_parameter_is_a_problem(hr: httpx.AsyncClient) -> None:
    resp = await hr.get(f"{URL}/abc")
    assert resp.status_code in (400, 404, 422), resp.text
    assert_clean_problem(resp, resp.status_code)
    assert_clean_problem(await hr.get(f"{URL}/0"), 422, field="employee_id")
    assert_clean_problem(await hr.get(f"{URL}/99999999999999999999"), 422, field="employee_id")


def test_no_response_names_a_charset_litestar_adds_again() -> None:
    """Litestar appends `; charset=utf-8` to every text/* media type: one written into a
    media_type too ends up twice in Content-Type (text/csv; charset=utf-8; charset=utf-8)."""
    root = Path(__file__).resolve().parents[2]
    doubled = re.compile(r"""media_type\s*=\s*["']text/[^"']*charset""", re.IGNORECASE)
    found = [
        f"{path.relative_to(root)}:{n}"
        for part in ("register", "accounts", "incidents")
        for path in sorted((root / part).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if doubled.search(line)
    ]
    assert not found, found


async def test_unsupported_media_type_is_a_problem(hr: httpx.AsyncClient) -> None:
    resp = await hr.post(
        URL, content=b"name=x", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert resp.status_code in (400, 415, 422), resp.text
    assert_clean_problem(resp, resp.status_code)
    assert await Employee.count() == 0


async def test_anonymous_and_forbidden_are_problems(
    client: httpx.AsyncClient, user_factory: Any
) -> None:
    resp = await client.post(URL, json=employee_body())
    assert_clean_problem(resp, 401, "not-authenticated")
    assert resp.headers["www-authenticate"].lower().startswith("bearer")
    bad = httpx.AsyncClient(
        transport=client._transport,
        base_url="http://testserver",
        headers={"Authorization": "Bearer sar_not-a-token"},
    )
    async with bad:
        assert_clean_problem(await bad.get(URL), 401, "not-authenticated")
    _, comms = await user_factory("comms")
    assert_clean_problem(await comms.post(URL, json=employee_body()), 403, "forbidden")


# ---------------------------------------------------------------- 500s


@pytest.fixture
def boom(app: Any) -> Any:
    """Two extra routes on this test's app that fail in ways nobody planned for."""

    @get("/api/v1/test-boom", opt={"action": "public"}, sync_to_thread=False)
    def explode() -> dict[str, str]:
        raise RuntimeError(f"{SECRET_MARKER}: SELECT * FROM register_user")

    @post("/api/v1/test-boom-db", opt={"action": "employee.write"})
    async def explode_in_db() -> dict[str, str]:
        # A real driver error: the column does not exist.
        await Employee.raw("SELECT no_such_column FROM employee")
        return {}

    app.register(explode)
    app.register(explode_in_db)
    return app


async def test_an_unexpected_exception_is_a_500_problem_and_logged(
    boom: Any, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="register"):
        resp = await client.get("/api/v1/test-boom", headers={"X-Request-ID": "req-boom-1"})
    body = assert_clean_problem(resp, 500, "internal")
    assert "SELECT" not in resp.text and "RuntimeError" not in resp.text
    assert set(body) <= {"type", "title", "status", "detail", "instance"}
    assert resp.headers["x-request-id"] == "req-boom-1"
    assert resp.headers["x-content-type-options"] == "nosniff"
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert logged, caplog.text
    assert any(SECRET_MARKER in str(r.exc_info[1]) for r in logged)


async def test_a_database_error_is_a_500_problem_without_sql(
    boom: Any, hr: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="register"):
        resp = await hr.post("/api/v1/test-boom-db")
    assert_clean_problem(resp, 500, "internal")
    assert "no_such_column" not in resp.text
    assert any(r.exc_info for r in caplog.records if r.levelno >= logging.ERROR)
    # The app still serves afterwards (the connection went back to the pool clean).
    assert (await hr.post(URL, json=employee_body())).status_code == 201


# ---------------------------------------------------------------- idempotency


async def test_same_key_and_body_replays_the_first_answer(hr: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "create-person-1"}
    first = await hr.post(URL, json=employee_body(1), headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    events = await AuditEvent.count()
    again = await hr.post(URL, json=employee_body(1), headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["content-type"].startswith("application/json")
    assert again.headers["x-content-type-options"] == "nosniff"
    assert await Employee.count() == 1
    assert await AuditEvent.count() == events


async def test_a_token_of_a_user_with_a_one_time_password_gets_replays_too(app: Any) -> None:
    """Such a token may do all its role may (only sessions wait for the new password), so a
    retried request must not make a second row."""
    user, _ = await create_user(
        actor=Actor.system("test"),
        email="fresh-hr@example.com",
        role=Role.hr,
        password="a one-time password",
        must_change_password=True,
    )
    token = await issue_token(
        actor=Actor.system("test"), user_id=user["id"], name="script", expires_in_days=1
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token.token}", "Idempotency-Key": "fresh-1"},
    ) as fresh:
        first = await fresh.post(URL, json=employee_body(1))
        assert first.status_code == 201, first.text
        again = await fresh.post(URL, json=employee_body(1))
        assert again.status_code == 201, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        other = await fresh.post(URL, json=employee_body(2))
        assert_problem(other, 422, "idempotency-key-reused")
    assert await Employee.count() == 1


async def test_concurrent_requests_with_one_key_create_once(hr: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "double-click"}
    results = await asyncio.gather(
        *(hr.post(URL, json=employee_body(1), headers=headers) for _ in range(3))
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses[0] == 201 and set(statuses) <= {201, 409}, [r.text for r in results]
    assert len({r.json()["id"] for r in results if r.status_code == 201}) == 1
    assert await Employee.count() == 1


async def test_same_key_with_another_body_is_422(hr: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "create-person-2"}
    assert (await hr.post(URL, json=employee_body(1), headers=headers)).status_code == 201
    resp = await hr.post(URL, json=employee_body(2), headers=headers)
    assert_clean_problem(resp, 422, "idempotency-key-reused")
    assert await Employee.count() == 1


async def test_a_replayed_error_is_the_same_error(hr: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "bad-email"}
    first = await hr.post(URL, json=employee_body(1, work_email="nope"), headers=headers)
    again = await hr.post(URL, json=employee_body(1, work_email="nope"), headers=headers)
    assert_clean_problem(again, 422, field="work_email")
    assert again.json() == first.json()
    assert again.headers["content-type"].startswith(PROBLEM)


async def test_keys_belong_to_their_user(user_factory: Any) -> None:
    _, one = await user_factory("hr")
    _, two = await user_factory("hr")
    headers = {"Idempotency-Key": "shared-key"}
    a = await one.post(URL, json=employee_body(1), headers=headers)
    b = await two.post(URL, json=employee_body(2), headers=headers)
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers


async def test_without_a_key_each_post_is_new(hr: httpx.AsyncClient) -> None:
    assert (await hr.post(URL, json=employee_body(1))).status_code == 201
    assert_clean_problem(await hr.post(URL, json=employee_body(1)), 409, "already-exists")
    assert await IdempotencyRecord.count() == 0


async def test_an_overlong_key_is_422(hr: httpx.AsyncClient) -> None:
    assert_clean_problem(
        await hr.post(URL, json=employee_body(1), headers={"Idempotency-Key": "k" * 201}), 422
    )
    assert await Employee.count() == 0


async def test_an_import_with_a_key_is_replayed(hr: httpx.AsyncClient) -> None:
    files = {"file": ("staff.csv", b"Name,Work Email\r\nKim Park,kim@example.com\r\n", "text/csv")}
    headers = {"Idempotency-Key": "import-1"}
    first = await hr.post(f"{URL}/imports", files=files, headers=headers)
    assert first.status_code == 200, first.text
    # httpx picks a new multipart boundary per request, as browsers and curl do; the retry of the
    # same upload must still count as the same request.
    again = await hr.post(f"{URL}/imports", files=files, headers=headers)
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and first.json()["created"] == 1
    other = {"file": ("staff.csv", b"Name,Work Email\r\nLee Chan,lee@example.com\r\n", "text/csv")}
    assert_clean_problem(
        await hr.post(f"{URL}/imports", files=other, headers=headers), 422, "idempotency-key-reused"
    )
    assert await Employee.count() == 1


@hypothesis.settings(max_examples=300, deadline=None, database=None, derandomize=True)
@hypothesis.given(
    body=st.lists(
        st.sampled_from([b"a", b"-", b"\r\n", b"--", b"xyz", b"--xyz", b"xy"]), max_size=40
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=120), max_size=8),
    boundary=st.sampled_from([b"xyz", b"-", b"--xyz-", b"x"]),
)
def test_the_digest_of_a_body_in_chunks_is_the_digest_of_the_whole(
    body: list[bytes], cuts: list[int], boundary: bytes
) -> None:
    """The key's digest is taken as the body arrives: any chunking hashes the same as the whole,
    the multipart boundary replaced wherever it falls, across chunk edges too."""
    whole = b"".join(body)
    scope = {
        "path": URL,
        "query_string": b"a=1",
        "headers": [(b"content-type", b"multipart/form-data; boundary=" + boundary)],
    }
    digest = RequestDigest(scope)
    start = 0
    for cut in [*sorted(c for c in cuts if c <= len(whole)), len(whole)]:
        digest.update(whole[start:cut])
        start = cut
    replaced = whole.replace(boundary, b"BOUNDARY")
    expected = hashlib.sha256(b"\n".join([URL.encode(), b"a=1", replaced])).hexdigest()
    assert digest.hexdigest() == expected == request_digest(scope, whole)


async def test_a_key_still_in_progress_is_409_with_retry_after(user_factory: Any) -> None:
    user, hr = await user_factory("hr")
    body = json.dumps(employee_body(1)).encode()
    digest = request_digest({"path": URL, "query_string": b"", "headers": []}, body)
    await IdempotencyRecord.insert(
        IdempotencyRecord(
            scope=str(user["id"]),
            key="busy",
            request_hash=digest,
            status_code=0,
            body="",
            created_at=dt.datetime.now(dt.UTC),
        )
    )
    headers = {"Idempotency-Key": "busy", "content-type": "application/json"}
    resp = await hr.post(URL, content=body, headers=headers)
    assert_clean_problem(resp, 409, "conflict")
    assert resp.headers["retry-after"] == "1"
    assert await Employee.count() == 0


async def test_an_abandoned_or_expired_key_is_taken_over(user_factory: Any) -> None:
    user, hr = await user_factory("hr")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    await IdempotencyRecord.insert(
        IdempotencyRecord(
            scope=str(user["id"]),
            key="crashed",
            request_hash="x" * 64,
            status_code=0,
            body="",
            created_at=long_ago,
        ),
        IdempotencyRecord(
            scope=str(user["id"]),
            key="old",
            request_hash="x" * 64,
            status_code=201,
            body="{}",
            created_at=long_ago - dt.timedelta(days=2),
        ),
    )
    for n, key in enumerate(("crashed", "old")):
        resp = await hr.post(URL, json=employee_body(n), headers={"Idempotency-Key": key})
        assert resp.status_code == 201, resp.text
        assert "idempotent-replayed" not in resp.headers
    assert await Employee.count() == 2
    assert await IdempotencyRecord.count() == 2


async def test_an_answer_is_kept_for_the_retention_days(hr: httpx.AsyncClient) -> None:
    """REGISTER_IDEMPOTENCY_RETENTION_DAYS (2 by default): an answer 30 hours old still replays."""
    headers = {"Idempotency-Key": "yesterday"}
    first = await hr.post(URL, json=employee_body(0), headers=headers)
    assert first.status_code == 201, first.text
    await IdempotencyRecord.update(
        {IdempotencyRecord.created_at: dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)}
    ).where(IdempotencyRecord.key == "yesterday")
    again = await hr.post(URL, json=employee_body(0), headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await Employee.count() == 1


async def test_a_failed_request_frees_its_key(boom: Any, hr: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "will-fail"}
    assert (await hr.post("/api/v1/test-boom-db", headers=headers)).status_code == 500
    assert await IdempotencyRecord.count() == 0
    # A retry with the same key runs again: it is neither replayed nor held as in progress.
    retry = await hr.post("/api/v1/test-boom-db", headers=headers)
    assert retry.status_code == 500 and "idempotent-replayed" not in retry.headers


SUBSCRIPTION = {
    "name": "#it-oncall",
    "url": "http://127.0.0.1:9/hook",
    "format": "json",
    "event_types": ["incident.filed"],
}


async def test_a_secret_shown_once_is_not_kept_for_replay(admin: httpx.AsyncClient) -> None:
    """A subscription's signing secret is shown in the first answer only: its replay record holds
    the answer without it, and a retry gets 409 with that answer instead of the secret."""
    headers = {"Idempotency-Key": "new-hook"}
    first = await admin.post("/api/v1/subscriptions", json=SUBSCRIPTION, headers=headers)
    assert first.status_code == 201, first.text
    secret = first.json()["signing_secret"]
    assert secret.startswith("whsec_")
    records = await IdempotencyRecord.select()
    assert len(records) == 1 and records[0]["status_code"] == 201
    assert secret not in json.dumps(records, default=str)
    again = await admin.post("/api/v1/subscriptions", json=SUBSCRIPTION, headers=headers)
    body = assert_clean_problem(again, 409, "secret-shown-once")
    assert secret not in again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert body["answer"] == {"subscription": first.json()["subscription"]}
    listing = (await admin.get("/api/v1/subscriptions")).json()["items"]
    assert [s["id"] for s in listing] == [first.json()["subscription"]["id"]]
    # Another body under the same key is still refused as a reused key.
    other = await admin.post(
        "/api/v1/subscriptions", json={**SUBSCRIPTION, "name": "other"}, headers=headers
    )
    assert_clean_problem(other, 422, "idempotency-key-reused")


SECRET_NAME = re.compile(r"secret|token|password|one_time|seed|recovery_code|private", re.I)


def _field_names(schema: dict[str, Any], defs: dict[str, Any], path: str = "") -> list[str]:
    """Every property path of a JSON schema, following $refs (each definition once)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        target = defs.pop(name, None)
        return _field_names(target, defs, path) if target else []
    found = []
    for key, sub in (schema.get("properties") or {}).items():
        found.append(path + key)
        found += _field_names(sub, defs, path + key + ".")
    for sub in [
        *(schema.get("anyOf") or []),
        *(schema.get("oneOf") or []),
        *([schema["items"]] if isinstance(schema.get("items"), dict) else []),
    ]:
        found += _field_names(sub, defs, path)
    return found


def test_no_idempotent_route_keeps_a_secret_for_replay(app: Any) -> None:
    """Every route that stores its answer for replay names each secret field of it as shown once."""
    import msgspec

    checked = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            opt = handler.opt or {}
            if not opt.get("idempotent"):
                continue
            returned = handler.parsed_fn_signature.return_type
            if returned.origin is not None and returned.inner_types:
                returned = returned.inner_types[0]  # Response[T]
            schema = msgspec.json.schema(returned.annotation)
            names = _field_names(schema, dict(schema.get("$defs", {})))
            secrets = {n for n in names if SECRET_NAME.search(n.rsplit(".", 1)[-1])}
            assert secrets <= set(opt.get("shown_once", ())), (
                f"{route.path}: {sorted(secrets)} would be kept in the replay record"
            )
            checked.append(route.path)
    assert "/api/v1/subscriptions" in checked and "/api/v1/employees" in checked
    # The leaver's attestation link: its token and the address holding it are shown once.
    assert "/api/v1/handovers/{handover_id:int}/attestation-links" in checked


# ---------------------------------------------------------------- headers, hosts, health, request ids


@pytest.mark.parametrize("path", ["/health", "/api/v1/employees", "/api/v1/nothing-here"])
async def test_security_headers_on_every_answer(admin: httpx.AsyncClient, path: str) -> None:
    resp = await admin.get(path)
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["referrer-policy"] == "no-referrer"
    if path.startswith("/api/"):
        assert resp.headers["cache-control"] == "no-store"


async def test_hsts_only_over_https(app: Any, client: httpx.AsyncClient) -> None:
    assert "strict-transport-security" not in (await client.get("/health")).headers
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as secure:
        assert "max-age=" in (await secure.get("/health")).headers["strict-transport-security"]


@pytest.mark.parametrize("host", ["evil.example", "testserver.evil.example", "", "127.0.0.2:8000"])
async def test_a_host_not_allowed_is_400_problem(client: httpx.AsyncClient, host: str) -> None:
    for path in ("/health", URL):
        resp = await client.get(path, headers={"Host": host})
        assert_clean_problem(resp, 400, "host-not-allowed")
        assert resp.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("host", ["testserver", "TestServer", "localhost:8000", "127.0.0.1:8000"])
async def test_allowed_hosts_are_served(client: httpx.AsyncClient, host: str) -> None:
    assert (await client.get("/health", headers={"Host": host})).status_code == 200


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    health = await client.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "database": "ok", "migrations": "applied"}


async def test_request_id_is_echoed_or_generated(
    client: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    assert (await client.get("/health", headers={"X-Request-ID": "abc-123_DEF"})).headers[
        "x-request-id"
    ] == "abc-123_DEF"
    generated = {(await client.get("/health")).headers["x-request-id"] for _ in range(2)}
    assert len(generated) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", g) for g in generated)
    # A header that could smuggle text into logs is replaced, not echoed.
    replaced = (await client.get("/health", headers={"X-Request-ID": "x" * 65})).headers[
        "x-request-id"
    ]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    resp = await admin.post(URL, json=employee_body(), headers={"X-Request-ID": "trace-me-42"})
    assert resp.headers["x-request-id"] == "trace-me-42"
    event = await AuditEvent.select().where(AuditEvent.action == "employee.create").first()
    assert event["request_id"] == "trace-me-42"
    assert_clean_problem(await admin.get(f"{URL}/999", headers={"X-Request-ID": "trace-404"}), 404)
    assert (await admin.get(f"{URL}/999", headers={"X-Request-ID": "trace-404"})).headers[
        "x-request-id"
    ] == "trace-404"


async def test_a_host_not_allowed_is_refused_before_routing(client: httpx.AsyncClient) -> None:
    assert_clean_problem(
        await client.get("/no/such/page", headers={"Host": "evil.example"}), 400, "host-not-allowed"
    )


async def test_an_unrouted_answer_carries_the_request_id(client: httpx.AsyncClient) -> None:
    resp = await client.get("/no/such/page", headers={"X-Request-ID": "lost-1"})
    assert resp.headers.get("x-request-id") == "lost-1"
    resp = await client.delete("/health", headers={"X-Request-ID": "lost-2"})
    assert (resp.status_code, resp.headers.get("x-request-id")) == (405, "lost-2")
    assert re.fullmatch(
        r"[0-9a-f]{32}", (await client.get("/no/such/page")).headers["x-request-id"]
    )


async def test_a_body_over_the_limit_is_413_with_or_without_a_key(
    app: Any, hr: httpx.AsyncClient
) -> None:
    @post("/api/v1/test-small", opt={"action": "employee.write"}, request_max_body_size=100)
    async def small(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        return data

    app.register(small)
    big = {"x": "y" * 200}
    assert (await hr.post("/api/v1/test-small", json={"x": "y"})).status_code == 201
    assert_clean_problem(await hr.post("/api/v1/test-small", json=big), 413, "too-large")
    resp = await hr.post("/api/v1/test-small", json=big, headers={"Idempotency-Key": "big-1"})
    assert_clean_problem(resp, 413, "too-large")
    assert await IdempotencyRecord.count() == 0


# ---------------------------------------------------------------- trusted proxies


async def _failed_sign_in_from(application: Any, peer: str, headers: dict[str, str]) -> str:
    """Fail one sign-in through `peer` with these headers; the client address the trail recorded."""
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    transport = httpx.ASGITransport(app=application, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        resp = await c.post(
            "/api/v1/auth/login",
            json={"email": email, "password": "wrong password"},
            headers=headers,
        )
    assert resp.status_code == 401, resp.text
    row = (
        await AuditEvent.select(AuditEvent.client_address)
        .where((AuditEvent.action == "auth.login_failed") & (AuditEvent.object_id == email))
        .first()
    )
    return row["client_address"]


async def test_forwarded_headers_count_only_from_trusted_proxies(settings: Any) -> None:
    """A trusted proxy's X-Forwarded-For names the client; anyone else's is ignored."""
    application = create_app(
        dataclasses.replace(settings, forwarded_allow_ips=("127.0.0.1", "10.0.0.0/8"))
    )
    await application.state.engine.start_connection_pool()
    try:
        # Chain: client, then an inner proxy (trusted) that the edge proxy (the peer) reached.
        chain = {"X-Forwarded-For": "203.0.113.5, 10.1.2.3"}
        assert await _failed_sign_in_from(application, "127.0.0.1", chain) == "203.0.113.5"
        assert await _failed_sign_in_from(application, "10.9.9.9", chain) == "203.0.113.5"
        # A client that is not a proxy cannot pick its own address.
        assert await _failed_sign_in_from(application, "198.51.100.20", chain) == "198.51.100.20"
        # A spoofed entry left of the real client is not believed either.
        spoofed = {"X-Forwarded-For": "1.1.1.1, 203.0.113.77"}
        assert await _failed_sign_in_from(application, "127.0.0.1", spoofed) == "203.0.113.77"
    finally:
        await application.state.engine.close_connection_pool()


async def test_forwarded_proto_makes_https_only_from_a_trusted_proxy(
    app: Any, client: httpx.AsyncClient
) -> None:
    """X-Forwarded-Proto: https from the proxy turns on HSTS; from an outsider it does nothing."""
    proxied = await client.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" in proxied.headers
    transport = httpx.ASGITransport(app=app, client=("198.51.100.20", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as outsider:
        direct = await outsider.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert direct.status_code == 200
    assert "strict-transport-security" not in direct.headers


def test_a_bad_trusted_proxy_setting_stops_the_start() -> None:
    """REGISTER_FORWARDED_ALLOW_IPS must hold addresses or networks."""
    with pytest.raises(SystemExit, match="FORWARDED_ALLOW_IPS"):
        Settings.from_env({"REGISTER_FORWARDED_ALLOW_IPS": "127.0.0.1, proxy.example.com"})
    ok = Settings.from_env({"REGISTER_FORWARDED_ALLOW_IPS": "10.0.0.0/8, ::1, *"})
    assert ok.forwarded_allow_ips == ("10.0.0.0/8", "::1", "*")


def test_idempotency_retention_outside_its_range_stops_the_start() -> None:
    """0 days would let a retry make its change again; a huge number would overflow per request."""
    for bad in ("0", "-1", "1000000000"):
        with pytest.raises(
            SystemExit, match="IDEMPOTENCY_RETENTION_DAYS must be between 1 and 365"
        ):
            Settings.from_env({"REGISTER_IDEMPOTENCY_RETENTION_DAYS": bad})
    assert (
        Settings.from_env({"REGISTER_IDEMPOTENCY_RETENTION_DAYS": "7"}).idempotency_retention_days
        == 7
    )


def test_provider_groups_map_to_roles_in_the_order_given() -> None:
    """REGISTER_GROUP_ROLES: the first listed group a person is in decides; unknown roles stop."""
    settings = Settings.from_env(
        {"REGISTER_GROUP_ROLES": "Register Admins=admin, register-it=it,Comms Team=comms"}
    )
    assert settings.role_for_groups(["Comms Team", "REGISTER-IT"]) == "it"
    assert settings.role_for_groups(["comms team"]) == "comms"
    assert settings.role_for_groups(["Everyone"]) is None
    assert Settings.from_env({}).role_for_groups(["register-it"]) is None
    with pytest.raises(SystemExit, match="GROUP_ROLES"):
        Settings.from_env({"REGISTER_GROUP_ROLES": "register-it=superuser"})
    with pytest.raises(SystemExit, match="GROUP_ROLES"):
        Settings.from_env({"REGISTER_GROUP_ROLES": "register-it"})
