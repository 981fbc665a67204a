"""The vault on the account page: store and replace, reveal with a reason, the TOTP code, who may."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import httpx

from accounts.services import code_at
from register.audit import list_events
from register.enums import Role
from tests.helpers import form, page_client

CANARY = "Canary-Pa55word-7f3a9c2e41"
SEED = base64.b32encode(b"canary-seed-20-bytes").decode()


async def events(action: str, account_id: int) -> list[dict[str, Any]]:
    """The audit trail's events of one action on one account, newest first."""
    found, _ = await list_events(limit=50, offset=0, action=action, object_id=str(account_id))
    return found


async def test_it_stores_then_replaces_the_credential_and_nothing_typed_comes_back(
    app: Any, it: httpx.AsyncClient, make_account: Any
) -> None:
    """Stored, then replaced (a rotation), both audited; a refused form keeps nothing typed."""
    account = await make_account()
    vault = f"/accounts/{account['id']}/vault"
    c = await page_client(app, Role.it)
    try:
        page = (await c.get(f"/accounts/{account['id']}")).text
        assert "No credential is stored." in page and "Store a credential" in page
        assert f'action="{vault}/credential"' in page and 'autocomplete="new-password"' in page
        stored = await c.post(f"{vault}/credential", data=form(c, vault_password=CANARY))
        assert stored.status_code == 303 and stored.headers["location"] == f"{vault}?saved=set"
        after = await c.get(stored.headers["location"])
        assert "The credential is stored." in after.text and CANARY not in after.text
        assert after.headers["cache-control"] == "no-store"
        status = (await it.get(f"/api/v1/accounts/{account['id']}/credential")).json()
        assert status["has_password"] and not status["has_totp_seed"]
        assert len(await events("credential.set", account["id"])) == 1

        # Nothing to store: said next to the password field; nothing is written.
        empty = await c.post(f"{vault}/credential", data=form(c, vault_password=""))
        assert empty.status_code == 422
        assert 'id="vault_password" name="vault_password" type="password"' in empty.text
        assert 'aria-invalid="true" aria-describedby="vault_password-error' in empty.text
        assert "Enter a new password, TOTP seed or recovery codes." in empty.text
        # A wrong seed is refused with what was typed, the password included, gone from the page.
        wrong = await c.post(
            f"{vault}/credential", data=form(c, vault_password="Another-9x", vault_totp_seed="ABC")
        )
        assert wrong.status_code == 422 and "Another-9x" not in wrong.text
        assert 'aria-invalid="true" aria-describedby="vault_totp_seed-error' in wrong.text
        assert "A TOTP seed is at least 16 characters long." in wrong.text
        unchanged = (await it.get(f"/api/v1/accounts/{account['id']}/credential")).json()
        assert unchanged["version"] == status["version"] and not unchanged["has_totp_seed"]

        # Replaced through htmx: the section comes back in place, saying so.
        swapped = await c.post(
            f"{vault}/credential",
            data=form(c, vault_password="Second-Pa55", vault_totp_seed=SEED.lower()),
            headers={"HX-Request": "true"},
        )
        assert swapped.status_code == 200 and "<html" not in swapped.text
        assert swapped.text.lstrip().startswith('<section id="vault"')
        assert "The credential is replaced." in swapped.text
        assert "Second-Pa55" not in swapped.text and SEED not in swapped.text.upper()
        rotated = (await it.get(f"/api/v1/accounts/{account['id']}/credential")).json()
        assert rotated["has_totp_seed"] and rotated["rotated_at"] is not None
        assert [e["changes"] for e in await events("credential.rotate", account["id"])] == [
            {"password": ["***", "***"], "totp_seed": ["***", "***"]}
        ]
    finally:
        await c.aclose()


async def test_a_reveal_needs_a_reason_and_is_answered_in_the_body_never_stored(
    app: Any, it: httpx.AsyncClient, make_account: Any
) -> None:
    """No reason: said next to the field, nothing revealed. With one: the page, no-store, audited."""
    account = await make_account()
    await it.put(f"/api/v1/accounts/{account['id']}/credential", json={"password": CANARY})
    reveal = f"/accounts/{account['id']}/vault/reveal"
    c = await page_client(app, Role.it)
    try:
        page = (await c.get(f"/accounts/{account['id']}")).text
        assert f'action="{reveal}"' in page and f'hx-post="{reveal}"' in page
        assert 'id="reveal_reason" name="reveal_reason" type="text" value="" required' in page

        missing = await c.post(reveal, data=form(c, reveal_reason=""))
        assert missing.status_code == 422 and CANARY not in missing.text
        assert 'aria-invalid="true" aria-describedby="reveal_reason-error' in missing.text
        assert (
            '<p class="error" id="reveal_reason-error">Say why you need the credential, in at '
            "least 5 characters.</p>"
        ) in missing.text
        assert await events("credential.reveal", account["id"]) == []

        shown = await c.post(reveal, data=form(c, reveal_reason="posting the spring launch"))
        assert shown.status_code == 200 and "location" not in shown.headers
        assert shown.headers["cache-control"] == "no-store"
        assert CANARY in shown.text and CANARY not in str(shown.url)
        # Without script, the browser is sent on to a page that says it was hidden.
        assert shown.headers["refresh"] == f"30; url=/accounts/{account['id']}/vault?hidden=1"
        assert "data-vault-revealed" in shown.text and 'data-hide-after="30"' in shown.text
        assert "posting the spring launch" in shown.text
        assert [e["changes"] for e in await events("credential.reveal", account["id"])] == [
            {"reason": [None, "posting the spring launch"]}
        ]
        hidden = await c.get(f"/accounts/{account['id']}/vault?hidden=1")
        assert CANARY not in hidden.text
        assert re.search(
            r'<p class="notice" role="status" tabindex="-1" data-vault-gone>The credential was '
            r"hidden again after 30 seconds",
            hidden.text,
        )

        # Through htmx: the section alone, still no-store, and no Refresh (vault.js hides it).
        swapped = await c.post(
            reveal,
            data=form(c, reveal_reason="checking the recovery set-up"),
            headers={"HX-Request": "true"},
        )
        assert swapped.status_code == 200 and "<html" not in swapped.text
        assert swapped.headers["cache-control"] == "no-store" and "refresh" not in swapped.headers
        assert CANARY in swapped.text and "data-secret-show" in swapped.text
        assert len(await events("credential.reveal", account["id"])) == 2
        # An htmx reveal with too short a reason gets the section back with the error and what
        # was typed, as a 422 that says it is the form again (failed.js swaps it in).
        again = await c.post(
            reveal, data=form(c, reveal_reason="why"), headers={"HX-Request": "true"}
        )
        assert again.status_code == 422 and again.headers["x-form-refused"] == "true"
        assert again.text.lstrip().startswith('<section id="vault"')
        assert "reveal_reason-error" in again.text
        assert 'id="reveal_reason" name="reveal_reason" type="text" value="why"' in again.text
    finally:
        await c.aclose()


async def test_a_custodian_gets_the_totp_code_without_the_seed(
    app: Any, it: httpx.AsyncClient, make_account: Any, people: dict[str, int]
) -> None:
    """The account's custodian (comms) sees the current code and its seconds, never the seed."""
    account = await make_account()
    await it.put(
        f"/api/v1/accounts/{account['id']}/credential", json={"password": CANARY, "totp_seed": SEED}
    )
    ana = await page_client(app, Role.comms, employee_id=people["ana"])
    try:
        page = await ana.get(f"/accounts/{account['id']}")
        assert "Show the current code" in page.text and "Reveal the credential" in page.text
        before = time.time()
        answer = await ana.post(f"/accounts/{account['id']}/vault/totp", data=form(ana))
        after = time.time()
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
        code = re.search(r'<strong class="totp-code">(\d{6})</strong>', answer.text)
        assert code and code.group(1) in {code_at(SEED, before)[0], code_at(SEED, after)[0]}
        seconds = re.search(r"<span data-totp-seconds>(\d+)</span>", answer.text)
        assert seconds and 1 <= int(seconds.group(1)) <= 30
        for text in (answer.text, page.text):
            assert SEED not in text and SEED.lower() not in text and CANARY not in text
        assert len(await events("credential.totp_code", account["id"])) == 1
        swapped = await ana.post(
            f"/accounts/{account['id']}/vault/totp", data=form(ana), headers={"HX-Request": "true"}
        )
        assert "data-totp" in swapped.text and SEED not in swapped.text
    finally:
        await ana.aclose()


async def test_who_may_not_use_the_credential_sees_no_form_and_gets_403_pages(
    app: Any, it: httpx.AsyncClient, make_account: Any, people: dict[str, int]
) -> None:
    """HR, auditors and admins see whether one is stored; reveal, set and codes are refused."""
    account = await make_account()
    await it.put(
        f"/api/v1/accounts/{account['id']}/credential", json={"password": CANARY, "totp_seed": SEED}
    )
    vault = f"/accounts/{account['id']}/vault"
    for role in (Role.hr, Role.auditor, Role.admin):
        c = await page_client(app, role)
        try:
            page = (await c.get(f"/accounts/{account['id']}")).text
            assert "A credential is stored" in page
            assert "Only IT and this account's custodian and backup may" in page
            assert "/vault/reveal" not in page and "/vault/credential" not in page
            assert "/vault/totp" not in page
            for path, fields in (
                (f"{vault}/reveal", {"reveal_reason": "just curious, honestly"}),
                (f"{vault}/credential", {"vault_password": "Taken-Over-1"}),
                (f"{vault}/totp", {}),
            ):
                refused = await c.post(path, data=form(c, **fields))
                assert refused.status_code == 403, (role, path)
                assert refused.headers["content-type"].startswith("text/html")
                assert CANARY not in refused.text
            assert (await c.get(vault)).status_code == 403
        finally:
            await c.aclose()
    denied = await events("credential.reveal_denied", account["id"])
    assert len(denied) == 3 and await events("credential.reveal", account["id"]) == []
    status = (await it.get(f"/api/v1/accounts/{account['id']}/credential")).json()
    assert status["version"] == 1
    # Comms who hold nothing of the account see nothing of the vault (the role table's status).
    other = await page_client(app, Role.comms, employee_id=people["eve"])
    try:
        assert "The vault" not in (await other.get(f"/accounts/{account['id']}")).text
    finally:
        await other.aclose()
