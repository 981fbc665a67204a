"""Deprovisioning over real HTTP is an offboarding: sign-in and tokens stop, a draft handover starts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from register.actor import Actor
from register.auth import issue_token
from register.notifications.tables import OutboxMessage
from register.passwords import hash_password
from register.settings import Settings
from register.tables import User
from tests.cli import run_cli
from tests.helpers import subscribe
from tests.register.scim.conftest import SCIM_JSON, scim_error
from tests.register.scim.test_provisioning import ENTERPRISE, ops, person

PASSWORD = "a long enough password"


async def outbox(kind: str) -> list[dict[str, Any]]:
    """Events of one type waiting in the outbox."""
    rows = await OutboxMessage.select(OutboxMessage.event).where(OutboxMessage.event_type == kind)
    return [json.loads(r["event"]) if isinstance(r["event"], str) else r["event"] for r in rows]


@pytest.mark.parametrize("how", ["patch", "delete"])
async def test_deprovisioning_stops_sign_in_and_tokens_and_drafts_the_handover(
    app: Any, settings: Settings, live: str, scim_token: str, admin: httpx.AsyncClient, how: str
) -> None:
    await subscribe(
        app, settings, "http://127.0.0.1:9/hr", events=["handover.started"], roles=["hr"]
    )
    provider = httpx.AsyncClient(
        base_url=f"{live}/scim/v2",
        headers={"Authorization": f"Bearer {scim_token}", "Content-Type": SCIM_JSON},
    )
    browser = httpx.AsyncClient(base_url=live)
    async with provider, browser:
        mia = (await provider.post("/Users", json=person("mia.berg@example.com"))).json()
        made = await provider.post(
            "/Users",
            json=person("leo.kant@example.com", **{ENTERPRISE: {"manager": {"value": mia["id"]}}}),
        )
        leo = made.json()
        await provider.post(
            "/Groups", json={"displayName": "Register IT", "members": [{"value": leo["id"]}]}
        )
        user = await User.select().where(User.email == "leo.kant@example.com").first()
        assert user["role"] == "it" and user["active"]
        # What Leo holds: one X account in custody, admin access to another.
        leo_id = user["employee"]
        people = await admin.get("/api/v1/employees", params={"q": "mia.berg"})
        mia_id = people.json()["items"][0]["id"]
        x = await admin.post(
            "/api/v1/accounts", json={"platform": "x", "handle": "@acme", "custodian_id": leo_id}
        )
        page = await admin.post(
            "/api/v1/accounts",
            json={"platform": "x", "handle": "@acme_jobs", "custodian_id": mia_id},
        )
        grant = await admin.post(
            f"/api/v1/accounts/{page.json()['id']}/grants",
            json={"employee_id": leo_id, "level": "admin"},
        )
        assert (x.status_code, page.status_code, grant.status_code) == (201, 201, 201), grant.text
        # Leo signed in (a break-glass password for the test) and holds an API token.
        await User.update({User.password_hash: await hash_password(PASSWORD)}).where(
            User.id == user["id"]
        )
        login = await browser.post(
            "/api/v1/auth/login", json={"email": "leo.kant@example.com", "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        token = await issue_token(
            actor=Actor.system("test"), user_id=user["id"], name="script", expires_in_days=30
        )
        bearer = {"Authorization": f"Bearer {token.token}"}
        assert (await browser.get("/api/v1/auth/me")).status_code == 200
        assert (await browser.get("/api/v1/auth/me", headers=bearer)).status_code == 200

        if how == "patch":
            off = await provider.patch(
                f"/Users/{leo['id']}", json=ops({"op": "replace", "path": "active", "value": False})
            )
            assert off.status_code == 200 and off.json()["active"] is False, off.text
        else:
            assert (await provider.delete(f"/Users/{leo['id']}")).status_code == 204
            # Gone for the provider (RFC 7644 section 3.6), still a person for the register.
            scim_error(await provider.get(f"/Users/{leo['id']}"), 404)

        # At once: the session, the token and a new sign-in are all refused.
        assert (await browser.get("/api/v1/auth/me")).status_code == 401
        assert (await browser.get("/api/v1/auth/me", headers=bearer)).status_code == 401
        again = await browser.post(
            "/api/v1/auth/login", json={"email": "leo.kant@example.com", "password": PASSWORD}
        )
        assert again.status_code == 401

    person_now = (await admin.get(f"/api/v1/employees/{leo_id}")).json()
    assert (person_now["status"], person_now["leaving_date"]) == (
        "left",
        dt.date.today().isoformat(),
    )
    handovers = (await admin.get("/api/v1/handovers", params={"employee_id": leo_id})).json()
    assert [(h["state"], h["successor_id"]) for h in handovers["items"]] == [("draft", mia_id)]
    handover = (await admin.get(f"/api/v1/handovers/{handovers['items'][0]['id']}")).json()
    kinds = {(i["kind"], i["target_id"]) for i in handover["items"]}
    assert ("transfer_custody", x.json()["id"]) in kinds
    assert ("revoke_grant", grant.json()["id"]) in kinds
    # HR is told, and nothing Leo held is gone.
    [told] = await outbox("handover.started")
    assert told["audience"] == ["hr"] and told["payload"]["handover_id"] == handover["id"]
    assert (await admin.get(f"/api/v1/accounts/{x.json()['id']}")).json()["custodian_id"] == leo_id
    assert (await User.select().where(User.id == user["id"]).first())["active"] is False


async def test_register_scim_token_create_list_revoke(
    app: Any, settings: Settings, client: httpx.AsyncClient
) -> None:
    made = await run_cli(settings, "scim", "token", "create", "--name", "okta", "--quiet")
    assert made.code == 0, made.err
    token = made.out.strip()
    assert token.startswith("scim_")
    scim = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/scim/v2/Users", headers=scim)).status_code == 200
    listed = await run_cli(settings, "scim", "token", "list", "--json")
    [row] = json.loads(listed.out)
    assert row["name"] == "okta" and token not in listed.out and row["revoked_at"] is None
    twice = await run_cli(settings, "scim", "token", "create", "--name", "okta")
    assert twice.code != 0 and "okta" in twice.err
    revoked = await run_cli(settings, "scim", "token", "revoke", str(row["id"]))
    assert revoked.code == 0, revoked.err
    scim_error(await client.get("/scim/v2/Users", headers=scim), 401)
