# ruff: noqa: F401, F811 - the browser fixture is imported, and named by the tests that use it
"""A Dutch reader reads a service's refusal in Dutch on the page; the API keeps its English words."""

from __future__ import annotations

import re
from typing import Any

import httpx

from register.enums import Role
from tests.accounts.test_edit_pages import Browser, browser, csrf, error_of

DUTCH = {"accept-language": "nl"}


async def test_a_refused_custody_transfer_is_said_in_dutch(
    browser: Browser, it: httpx.AsyncClient, make_account: Any, people: dict[str, int]
) -> None:
    """Naming the custodian again, and a second offer while one waits: both refusals in Dutch."""
    account = await make_account(backup_custodian_id=None)
    c = await browser(Role.it)
    c.headers.update(DUTCH)
    path = f"/accounts/{account['id']}/transfer"
    same = await c.post(path, data=csrf(c, role="custodian", to_employee="Ana Silva"))
    assert same.status_code == 422
    # The service names the person by id; the page by name, in the reader's words.
    assert error_of(same.text, "to_employee") == "Ana Silva is al de beheerder"
    offered = await c.post(path, data=csrf(c, role="custodian", to_employee="Ben Okoro"))
    assert offered.status_code == 303
    twice = await c.post(path, data=csrf(c, role="custodian", to_employee="Eve Active"))
    assert twice.status_code == 409
    assert (
        f"een overdracht van de beheerder van account {account['id']} wacht al op antwoord"
        in twice.text
    )
    assert "already awaiting an answer" not in twice.text
    # The API says the same refusal in its English words, as before.
    api = await it.post(
        f"/api/v1/accounts/{account['id']}/transfers",
        json={"role": "custodian", "to_employee_id": people["eve"]},
        headers=DUTCH,
    )
    assert api.status_code == 409
    assert api.json()["detail"] == (
        f"a custodian transfer of account {account['id']} is already awaiting an answer"
    )


async def test_the_vaults_refusal_is_said_in_dutch_in_the_redrawn_section(
    browser: Browser, make_account: Any
) -> None:
    """Revealing what is not stored: the section comes back (htmx swaps it) saying why, in Dutch."""
    account = await make_account()
    c = await browser(Role.it)
    c.headers.update(DUTCH)
    reveal = f"/accounts/{account['id']}/vault/reveal"
    answer = await c.post(
        reveal,
        data=csrf(c, reveal_reason="De voorjaarscampagne plaatsen"),
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 404
    assert answer.headers["x-form-refused"] == "true"
    assert answer.text.lstrip().startswith('<section id="vault"')
    assert re.search(
        rf'<p class="alert" role="alert"[^>]*>account {account["id"]} heeft geen opgeslagen '
        r"inloggegevens</p>",
        answer.text,
    )
    # Without script: the vault page, with the same words.
    page = await c.post(reveal, data=csrf(c, reveal_reason="De voorjaarscampagne plaatsen"))
    assert page.status_code == 404 and "<h1>" in page.text
    assert f"account {account['id']} heeft geen opgeslagen inloggegevens" in page.text


async def test_the_imports_line_errors_are_said_in_dutch(
    browser: Browser, make_account: Any
) -> None:
    """Each bad line's problem in Dutch, with the parts the file gave (platform, e-mail) as typed."""
    await make_account(handle="known_one")
    sheet = (
        "platform,handle,custodian,mfa\n"
        "x,@good_one,ana@example.com,app\n"
        "myspace,@old,ana@example.com,app\n"
        "x,@third,nobody@example.com,app\n"
        "x,@good_one,ana@example.com,app\n"
    )
    c = await browser(Role.it)
    c.headers.update(DUTCH)
    page = await c.post(
        "/accounts/inventory/preview",
        data=csrf(c),
        files={"file": ("inventory.csv", sheet.encode(), "text/csv")},
    )
    assert page.status_code == 422
    rows = dict(
        re.findall(r'<tr><th scope="row">(\d+)</th><td>[^<]*</td><td>([^<]*)</td>', page.text)
    )
    assert rows == {
        "3": "onbekend platform &#39;myspace&#39;",
        "4": "geen medewerker met werk-e-mailadres nobody@example.com",
        "5": "x &#39;good_one&#39; komt nogmaals voor (eerst op regel 2)",
    }
    # A file that is no CSV at all: said next to the file field, in Dutch.
    zipped = await c.post(
        "/accounts/inventory/preview",
        data=csrf(c),
        files={"file": ("inventory.xlsx", b"PK\x03\x04rest", "application/zip")},
    )
    assert zipped.status_code == 422
    assert error_of(zipped.text, "file") == (
        "dit is een ZIP-archief of een Excel-werkmap (.xlsx); sla het blad op als CSV en upload dat"
    )
