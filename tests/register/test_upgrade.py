"""A database filled by the register before its parts became packages upgrades without loss.

tests/data/before_layout/rows.json is every row of such a database: `register demo`, then a
session of use that left a row in every table (a sign-in, a token, a subscription made with an
Idempotency-Key and its test message, a re-certification, an erasure, a completed handover with
its attestation PDF, risk notices), dumped at commit 46602f0 with the secrets beside it. The test
builds the schema those migrations made, loads the rows, runs today's migrations and reads
everything back: row for row, and through the API and services of today's code.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from piccolo.apps.migrations.commands.forwards import run_forwards

from accounts.services import reveal
from register.actor import Actor
from register.asgi import create_app
from register.auth import issue_token
from register.db import bind_engine, bulk_insert, fetch, is_postgres
from register.enums import Role
from register.keys import load_secrets
from register.migrate import _use_engine, expected_migration_ids, migrate
from register.services import list_users
from register.settings import Settings
from tests.register.conftest import FreshDatabase, started

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "before_layout"
# Parents before children, so every foreign key finds its row.
LOAD_ORDER = [
    "employee",
    "register_user",
    "api_token",
    "user_session",
    "audit_event",
    "audit_checkpoint",
    "idempotency_record",
    "subscription",
    "outbox_message",
    "social_account",
    "access_grant",
    "custody_transfer",
    "credential",
    "recertification",
    "risk_notice",
    "connection_import",
    "connection",
    "connection_suppression",
    "handover_template",
    "handover",
    "handover_item",
    "handover_sign_off",
    "handover_document",
    "playbook",
    "incident_counter",
    "incident",
    "incident_task",
    "timeline_entry",
    "evidence",
    "platform_report",
    "incident_review",
    "incident_intake_attempt",
]


def decode(value: Any) -> Any:
    """A dumped value as the driver takes it."""
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        if tag == "$datetime":
            return dt.datetime.fromisoformat(text)
        if tag == "$date":
            return dt.date.fromisoformat(text)
        if tag == "$bytes":
            return base64.b64decode(text)
        if tag == "$decimal":
            return decimal.Decimal(text)
    return value


def comparable(value: Any) -> Any:
    """A value as both engines give it back: JSON text parsed, times in UTC, buffers as bytes."""
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@pytest.fixture(scope="module")
def before() -> dict[str, Any]:
    """The dumped database."""
    return json.loads((FIXTURE / "rows.json").read_text())


async def build_old_schema(engine: Any, applied: list[list[str]]) -> None:
    """Apply, app by app, exactly the migrations the old database had."""
    _use_engine(engine)
    last: dict[str, str] = {}
    for app, migration in applied:
        last[app] = migration
    for app in ("register", "accounts", "incidents"):
        result = await run_forwards(app_name=app, migration_id=last[app])
        assert result.success, result.message


async def load_rows(tables: dict[str, Any]) -> None:
    """Insert every dumped row with its id, then move each id sequence past them."""
    assert set(tables) == set(LOAD_ORDER), set(tables) ^ set(LOAD_ORDER)
    for table in LOAD_ORDER:
        dumped = tables[table]
        if not dumped["rows"]:
            continue
        await bulk_insert(
            table, dumped["columns"], [[decode(v) for v in row] for row in dumped["rows"]]
        )
        if is_postgres():
            await fetch(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f'(SELECT MAX("id") FROM "{table}"))'
            )


def var_dir_with_old_secrets(tmp_path: Path) -> Path:
    """A var folder holding the secrets the old database was made with."""
    var = tmp_path / "var"
    var.mkdir(mode=0o700)
    for name in ("secret.key", "keyring.json", "audit_signing.pem"):
        shutil.copyfile(FIXTURE / name, var / name)
        (var / name).chmod(0o600)
    return var


async def test_a_database_made_before_the_layout_upgrades_without_loss(
    fresh_database: FreshDatabase, before: dict[str, Any], tmp_path: Path, settings: Settings
) -> None:
    """Old schema, old rows; migrate; every row reads back unchanged, and the code reads them."""
    async with fresh_database() as url:
        async with started(url) as engine:
            bind_engine(engine)
            await build_old_schema(engine, before["migrations"])
            await load_rows(before["tables"])
            applied = await migrate(engine, quiet=True)
            old_ids = {m for _, m in before["migrations"]}
            shipped = {m for ids in expected_migration_ids().values() for m in ids}
            assert set(applied) == shipped - old_ids, "not exactly the migrations added since ran"
            for table, dumped in before["tables"].items():
                now = {r["id"]: r for r in await fetch(f'SELECT * FROM "{table}"')}
                assert len(now) == len(dumped["rows"]), table
                for row in dumped["rows"]:
                    old = dict(zip(dumped["columns"], (decode(v) for v in row), strict=True))
                    new = now[old["id"]]
                    changed = {
                        column: (value, new[column])
                        for column, value in old.items()
                        if comparable(value) != comparable(new[column])
                    }
                    assert not changed, f"{table} {old['id']}: {changed}"

        var = var_dir_with_old_secrets(tmp_path)
        upgraded = Settings(
            database_url=url,
            var_dir=var,
            secret_key_file=var / "secret.key",
            keyring_file=var / "keyring.json",
            audit_signing_key_file=var / "audit_signing.pem",
            audit_witness_file=var / "audit_witness.jsonl",
            allowed_hosts=("testserver",),
            work_email_domains=("northwind-outdoor.example",),
            webhook_allowed_hosts=("127.0.0.1",),
        )
        await read_back_through_the_code(upgraded, before)


async def read_back_through_the_code(settings: Settings, before: dict[str, Any]) -> None:
    """Today's services and API read the upgraded data, decrypt its secrets and verify its trail."""
    from register import audit

    app = create_app(settings)
    await app.state.engine.start_connection_pool()
    try:
        secrets = load_secrets(settings, announce=False, create_missing=False)
        # The trail, chained and signed by the old code, still verifies with the old keys.
        verdict = await audit.verify(secrets.verify_key, mac_key=secrets.audit_mac_key)
        assert verdict.ok, verdict.reason
        assert verdict.events == len(before["tables"]["audit_event"]["rows"])

        admins, _ = await list_users(limit=10, offset=0, role=Role.admin)
        token = await issue_token(
            actor=Actor.system("test"), user_id=admins[0]["id"], name="upgrade", expires_in_days=1
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {token.token}"},
        ) as api:
            employees = (await api.get("/api/v1/employees", params={"include_total": True})).json()
            assert employees["total"] == len(before["tables"]["employee"]["rows"])
            accounts = (await api.get("/api/v1/accounts", params={"limit": 200})).json()
            assert len(accounts["items"]) == len(before["tables"]["social_account"]["rows"])
            handover = (await api.get("/api/v1/handovers/1")).json()
            assert handover["state"] == "completed"
            certificate = await api.get("/api/v1/handovers/1/certificate")
            assert certificate.status_code == 200
            assert handover["certificate_sha256"] == hashlib.sha256(certificate.content).hexdigest()
            incidents = (await api.get("/api/v1/incidents", params={"all": True})).json()
            assert {i["reference"] for i in incidents["items"]} >= {"INC-2026-0001"}
            evidence = (await api.get("/api/v1/incidents/1/evidence")).json()
            if evidence:
                opened = await api.get(
                    f"/api/v1/incidents/{evidence[0]['incident_id']}/evidence/{evidence[0]['id']}"
                )
                assert opened.status_code == 200, opened.text
            subscriptions = (await api.get("/api/v1/subscriptions")).json()
            assert len(subscriptions["items"]) == 1
            connections = (await api.get("/api/v1/connections/summary")).json()
            assert connections["items"], connections

        # A credential sealed under the old key ring opens with today's vault.
        it_users, _ = await list_users(limit=1, offset=0, role=Role.it)
        it = Actor(
            user_id=it_users[0]["id"], email=it_users[0]["email"], role=Role.it, employee_id=None
        )
        opened = await reveal(
            actor=it, keyring=app.state.keyring.get(), account_id=1, reason="upgrade check"
        )
        assert opened["password"], opened
    finally:
        await app.state.engine.close_connection_pool()
