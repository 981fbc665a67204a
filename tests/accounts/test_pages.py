"""The account register's pages: names not ids, risks in words, the same role table, answers by form."""

from __future__ import annotations

from typing import Any

import httpx

from accounts import flows
from accounts.enums import CustodyRole
from register.actor import Actor
from register.enums import Role
from tests.helpers import page_client


async def make_account(
    it: httpx.AsyncClient, people: dict[str, int], **fields: Any
) -> dict[str, Any]:
    """An account through the API."""
    body = {
        "platform": "instagram",
        "handle": "@northwind.careers",
        "custodian_id": people["ana"],
        "mfa_method": "sms",
        **fields,
    }
    resp = await it.post("/api/v1/accounts", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_the_list_names_people_and_says_the_risks_in_words(
    app: Any, it: httpx.AsyncClient, people: dict[str, int]
) -> None:
    """Custodians by name with a link to what they hold; every finding in words, not colour."""
    account = await make_account(it, people)
    c = await page_client(app, Role.hr)
    try:
        page = await c.get("/accounts")
        assert page.status_code == 200
        assert (
            "Ana Silva" in page.text
            and f'href="/accounts?custodian_id={people["ana"]}"' in page.text
        )
        assert "No backup custodian" in page.text and "High:" in page.text
        assert f'href="/accounts/{account["id"]}"' in page.text
        held = await c.get(f"/accounts?custodian_id={people['ana']}")
        assert "Accounts held or backed by Ana Silva." in held.text
        none = await c.get("/accounts?q=nothing-like-this&platform=&status=&risk=")
        assert "No account matches." in none.text
        wrong = await c.get("/accounts?platform=myspace")
        assert wrong.status_code == 422 and wrong.headers["content-type"].startswith("text/html")
        one = await c.get(f"/accounts/{account['id']}")
        assert one.status_code == 200 and "<h1>northwind.careers</h1>" in one.text
        assert "Name a backup custodian (edit the account)." in one.text
        dutch = await c.get(f"/accounts/{account['id']}", headers={"accept-language": "nl"})
        assert (
            "Wie het beheert" in dutch.text
            and "Wijs een reservebeheerder aan (bewerk het account)." in dutch.text
        )
    finally:
        await c.aclose()


async def test_the_list_escapes_what_people_typed_in_every_column(
    app: Any, it: httpx.AsyncClient, people: dict[str, int]
) -> None:
    """The list's rows are written in Python for speed: every value in them is still escaped."""
    await make_account(
        it,
        people,
        display_name='<img src=x onerror="alert(1)"> & Co',
        backup_custodian_id=people["ben"],
    )
    c = await page_client(app, Role.hr)
    try:
        page = await c.get("/accounts", headers={"accept-language": "nl"})
        assert page.status_code == 200
        assert "<img src=x" not in page.text
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; Co" in page.text
        assert "Ben Okoro" in page.text and f'custodian_id={people["ben"]}"' in page.text
        # The rows' words are the reader's: Dutch severities and findings.
        assert "Hoog:" in page.text
    finally:
        await c.aclose()


async def test_the_vault_shows_only_to_who_may_see_its_status(
    app: Any, it: httpx.AsyncClient, people: dict[str, int]
) -> None:
    """Comms reads the account but not whether a credential is stored (as the API's role table)."""
    account = await make_account(it, people)
    comms = await page_client(app, Role.comms)
    hr = await page_client(app, Role.hr)
    try:
        assert "The vault" not in (await comms.get(f"/accounts/{account['id']}")).text
        assert "No credential is stored." in (await hr.get(f"/accounts/{account['id']}")).text
    finally:
        await comms.aclose()
        await hr.aclose()


async def test_custody_offered_is_answered_from_home(
    app: Any, it: httpx.AsyncClient, people: dict[str, int]
) -> None:
    """The person named as new custodian sees the offer at home and accepts it with a form."""
    account = await make_account(it, people, backup_custodian_id=people["eve"])
    transfer = await flows.transfer_custody(
        actor=Actor.system("test"),
        account_id=account["id"],
        role=CustodyRole.custodian,
        to_employee_id=people["ben"],
        note="Ana moves to Lisbon",
    )
    ben = await page_client(app, Role.comms, employee_id=people["ben"])
    other = await page_client(app, Role.comms, employee_id=people["eve"])
    try:
        home = await ben.get("/")
        assert "Custody offered to you" in home.text and "Ana moves to Lisbon" in home.text
        assert "Custody offered to you" not in (await other.get("/")).text
        action = f"/accounts/{account['id']}/transfers/{transfer['id']}/answer"
        refused = await other.post(
            action, data={"answer": "accept", "csrf_token": other.cookies["register_csrf"]}
        )
        assert refused.status_code == 403
        answered = await ben.post(
            action, data={"answer": "accept", "csrf_token": ben.cookies["register_csrf"]}
        )
        assert answered.status_code == 303
        assert answered.headers["location"] == f"/accounts/{account['id']}?answered=accepted"
        after = (await it.get(f"/api/v1/accounts/{account['id']}")).json()
        assert after["custodian_id"] == people["ben"]
        again = await ben.post(
            action, data={"answer": "accept", "csrf_token": ben.cookies["register_csrf"]}
        )
        assert again.status_code == 409 and "text/html" in again.headers["content-type"]
    finally:
        await ben.aclose()
        await other.aclose()


async def test_its_home_lists_the_custody_work_due(
    app: Any, it: httpx.AsyncClient, people: dict[str, int], settings: Any
) -> None:
    """IT's home names the re-certifications overdue and due soon, and transfers unanswered."""
    import datetime as dt

    from accounts.tables import SocialAccount
    from register.staff.services import employee_names

    names = await employee_names(people.values())
    late = await make_account(it, people, handle="@northwind.late")
    soon = await make_account(it, people, handle="@northwind.soon", custodian_id=people["eve"])
    fine = await make_account(it, people, handle="@northwind.fine")
    now = dt.datetime.now(dt.UTC)
    days = settings.recertification_days
    for account, age in ((late, days + 3), (soon, days - 10)):
        await SocialAccount.update({SocialAccount.created_at: now - dt.timedelta(days=age)}).where(
            SocialAccount.id == account["id"]
        )
    await flows.transfer_custody(
        actor=Actor.system("test"),
        account_id=fine["id"],
        role=CustodyRole.custodian,
        to_employee_id=people["ben"],
    )
    c = await page_client(app, Role.it)
    try:
        home = (await c.get("/")).text
        section = home[home.index("Custody to look after") :]
        overdue = section[: section.index("Re-certification due within 30 days")]
        due = section[
            section.index("Re-certification due within 30 days") : section.index(
                "Custody offered, not yet answered"
            )
        ]
        waiting = section[section.index("Custody offered, not yet answered") :]
        assert "northwind.late" in overdue and names[people["ana"]] in overdue
        assert "northwind.soon" not in overdue and "northwind.fine" not in overdue
        assert "northwind.soon" in due and names[people["eve"]] in due
        assert "northwind.late" not in due and "northwind.fine" not in due
        assert (
            "northwind.fine" in waiting and f"custody offered to {names[people['ben']]}" in waiting
        )
    finally:
        await c.aclose()
    # Someone outside IT does not get IT's list.
    hr = await page_client(app, Role.hr)
    try:
        assert "Custody to look after" not in (await hr.get("/")).text
    finally:
        await hr.aclose()
