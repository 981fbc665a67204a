"""The account register's forms: register by pasting, edit with a stale version, grants, custody, retire."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from accounts.tables import SocialAccount
from register.enums import Role
from register.tables import AuditEvent
from tests.conftest import FIXTURE_PASSWORD, UserFactory

Browser = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def browser(app: Any, user_factory: UserFactory) -> AsyncIterator[Browser]:
    """open(role, employee_id=None) -> a client signed in through the sign-in page (cookie + CSRF)."""
    clients: list[httpx.AsyncClient] = []

    async def open_as(role: Role, employee_id: int | None = None) -> httpx.AsyncClient:
        user, _ = await user_factory(role, employee_id=employee_id)
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(c)
        signed = await c.post(
            "/sign-in", data={"email": user["email"], "password": FIXTURE_PASSWORD}
        )
        assert signed.status_code == 303, signed.text
        return c

    yield open_as
    for c in clients:
        await c.aclose()


def csrf(c: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """A form body with the session's CSRF token, as the page's hidden field sends it."""
    return {"csrf_token": c.cookies["register_csrf"], **fields}


async def post_pairs(
    c: httpx.AsyncClient, path: str, pairs: list[tuple[str, Any]]
) -> httpx.Response:
    """A form post with repeated fields, in the order a browser sends them."""
    return await c.post(
        path,
        content=urlencode([("csrf_token", c.cookies["register_csrf"]), *pairs]),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def hidden(page: str, name: str) -> str:
    """The value of a hidden field of a page."""
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden {name} field"
    return match.group(1)


def error_of(page: str, field: str) -> str:
    """The error message shown next to a field."""
    match = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', page)
    assert match, f"no error next to {field}"
    return match.group(1)


ACCOUNT_FORM = {
    "platform": "instagram",
    "handle": "",
    "display_name": "",
    "purpose": "",
    "department": "Communications",
    "custodian": "",
    "custodian_id": "",
    "backup_custodian": "",
    "backup_custodian_id": "",
    "login_identifier": "social@example.com",
    "mfa_method": "authenticator_app",
    "mfa_holder": "",
    "mfa_holder_id": "",
    "recovery_email": "",
    "recovery_phone": "",
    "notes": "",
}


async def test_it_registers_an_account_by_pasting_its_profile_address(
    browser: Browser, it: httpx.AsyncClient, people: dict[str, int]
) -> None:
    """A profile URL in any form, the custodian typed by name without JavaScript; then what it was read as."""
    c = await browser(Role.it)
    form = await c.get("/accounts/new")
    assert form.status_code == 200 and "<h1>Register an account</h1>" in form.text
    assert 'for="custodian"' in form.text and 'hx-get="/staff/picker"' in form.text
    sent = await c.post(
        "/accounts/new",
        data=csrf(
            c,
            **{
                **ACCOUNT_FORM,
                "handle": "https://www.instagram.com/Northwind.Careers/?hl=en",
                "custodian": "ana silva",
                "backup_custodian": "ben@example.com",
                "recovery_email": "social@example.com",
                "recovery_phone": "+31 20 123 4567",
                "recovery_phone_company_controlled": "on",
            },
        ),
    )
    assert sent.status_code == 303, sent.text
    assert re.fullmatch(r"/accounts/\d+\?done=created", sent.headers["location"])
    shown = await c.get(sent.headers["location"])
    assert "The account is registered." in shown.text
    assert "<dd>Instagram</dd>" in shown.text and "<dd>northwind.careers</dd>" in shown.text
    assert "<dd>https://www.instagram.com/northwind.careers/</dd>" in shown.text
    account = (
        await it.get(f"/api/v1/accounts/{sent.headers['location'].split('/')[2].split('?')[0]}")
    ).json()
    assert account["custodian_id"] == people["ana"]
    assert account["backup_custodian_id"] == people["ben"]
    # Unticked, an address on the company's domain counts as the company's; the phone was ticked.
    assert account["recovery_email_company_controlled"] is True
    assert account["recovery_phone_company_controlled"] is True
    created = await AuditEvent.select().where(AuditEvent.action == "account.create")
    assert [e["object_id"] for e in created] == [str(account["id"])]


async def test_a_bad_handle_is_said_next_to_the_handle_and_nothing_is_written(
    browser: Browser, people: dict[str, int]
) -> None:
    """A link to a post is not an account: the error sits by the field, the input stays, no row."""
    c = await browser(Role.it)
    pasted = "https://www.instagram.com/p/C0ffee123/"
    sent = await c.post(
        "/accounts/new",
        data=csrf(c, **{**ACCOUNT_FORM, "handle": pasted, "custodian": "Ana"}),
    )
    assert sent.status_code == 422
    assert "not to an account" in error_of(sent.text, "handle")
    assert re.search(
        r'id="handle"[^>]*aria-describedby="[^"]*handle-error"[^>]*aria-invalid="true"', sent.text
    )
    assert f'value="{pasted}"' in sent.text and 'value="Ana Silva"' in sent.text
    assert hidden(sent.text, "custodian_id") == str(people["ana"])
    assert await SocialAccount.count() == 0
    # The same reading while typing (htmx): what it is read as, or why not.
    good = await c.get("/accounts/handle-check", params={"platform": "x", "handle": "@Northwind"})
    assert "Read as:" in good.text and "X · northwind" in good.text
    bad = await c.get("/accounts/handle-check", params={"platform": "x", "handle": pasted})
    assert "Not readable yet:" in bad.text and "not a x address" in bad.text


async def test_namesakes_are_chosen_between_without_javascript(
    browser: Browser, hr: httpx.AsyncClient, people: dict[str, int]
) -> None:
    """Two people match the typed name: the form comes back with both to choose from, then goes through."""
    other = await hr.post(
        "/api/v1/employees",
        json={"name": "Ana Silva", "work_email": "ana.silva@example.com", "department": "Sales"},
    )
    assert other.status_code == 201, other.text
    c = await browser(Role.it)
    body = {**ACCOUNT_FORM, "platform": "x", "handle": "@northwind", "custodian": "Ana Silva"}
    first = await c.post("/accounts/new", data=csrf(c, **body))
    assert first.status_code == 422
    assert "Several people match “Ana Silva”" in error_of(first.text, "custodian")
    assert "Who do you mean?" in first.text
    assert "Communications · ana@example.com" in first.text
    assert "Sales · ana.silva@example.com" in first.text
    assert await SocialAccount.count() == 0
    chosen = other.json()["id"]
    # The radio is sent after the (empty) hidden id, as the browser sends the form.
    second = await post_pairs(c, "/accounts/new", [*body.items(), ("custodian_id", str(chosen))])
    assert second.status_code == 303, second.text
    account = await SocialAccount.select().first()
    assert account["custodian"] == chosen


async def test_a_stale_version_shows_what_is_saved_and_keeps_the_input(
    browser: Browser, it: httpx.AsyncClient, make_account: Any, people: dict[str, int]
) -> None:
    """Someone saved meanwhile: both are shown, the input is kept, and the second send goes through."""
    account = await make_account(display_name="Northwind", purpose="Hiring posts")
    c = await browser(Role.it)
    opened = await c.get(f"/accounts/{account['id']}/edit")
    assert opened.status_code == 200 and hidden(opened.text, "version") == "1"
    assert 'value="Ana Silva"' in opened.text and hidden(opened.text, "custodian_id") == str(
        people["ana"]
    )
    meanwhile = await it.patch(
        f"/api/v1/accounts/{account['id']}",
        json={"version": 1, "display_name": "Northwind Careers", "department": "HR"},
    )
    assert meanwhile.status_code == 200
    mine = {
        **ACCOUNT_FORM,
        "platform": "x",
        "handle": account["handle"],
        "status": "active",
        "version": "1",
        "display_name": "Northwind Jobs",
        "department": "Communications",
        "purpose": "Hiring posts",
        "custodian": "Ana Silva",
        "custodian_id": str(people["ana"]),
        "backup_custodian": "Ben Okoro",
        "backup_custodian_id": str(people["ben"]),
        "recovery_email": "social@example.com",
        "recovery_email_company_controlled": "on",
    }
    stale = await c.post(f"/accounts/{account['id']}/edit", data=csrf(c, **mine))
    assert stale.status_code == 409
    assert "This changed since you opened it." in stale.text
    assert 'value="Northwind Jobs"' in stale.text
    assert re.search(
        r'id="display_name-now">Saved meanwhile: <strong>Northwind Careers</strong>', stale.text
    )
    assert re.search(r'id="department-now">Saved meanwhile: <strong>HR</strong>', stale.text)
    assert 'id="purpose-now"' not in stale.text
    assert hidden(stale.text, "version") == "2"
    again = await c.post(
        f"/accounts/{account['id']}/edit",
        data=csrf(c, **{**mine, "version": hidden(stale.text, "version")}),
    )
    assert again.status_code == 303 and again.headers["location"].endswith("?done=saved")
    now = (await it.get(f"/api/v1/accounts/{account['id']}")).json()
    assert now["display_name"] == "Northwind Jobs" and now["department"] == "Communications"
    assert now["version"] == 3
    assert "Your changes are saved." in (await c.get(again.headers["location"])).text


async def test_grants_are_added_by_name_and_revoked_with_a_reason(
    browser: Browser, it: httpx.AsyncClient, make_account: Any, people: dict[str, int]
) -> None:
    """Access recorded for a person picked by name; a second one refused by the field; revoked with why."""
    account = await make_account()
    c = await browser(Role.it)
    page = await c.get(f"/accounts/{account['id']}")
    assert f'href="/accounts/{account["id"]}/grants/new"' in page.text
    form = await c.get(f"/accounts/{account['id']}/grants/new")
    assert form.status_code == 200 and 'name="employee_id"' in form.text
    added = await c.post(
        f"/accounts/{account['id']}/grants/new",
        data=csrf(
            c,
            employee="Eve",
            employee_id="",
            level="editor",
            platform_role="Content creator",
            reason="Runs the campaign",
        ),
    )
    assert added.status_code == 303, added.text
    assert added.headers["location"] == f"/accounts/{account['id']}?done=grant-added#grants-heading"
    shown = await c.get(f"/accounts/{account['id']}?done=grant-added")
    assert "The access is recorded." in shown.text
    assert (
        '<th scope="row">Eve Active</th>' in shown.text and "Editor (Content creator)" in shown.text
    )
    twice = await c.post(
        f"/accounts/{account['id']}/grants/new",
        data=csrf(c, employee="Eve Active", employee_id=str(people["eve"]), level="viewer"),
    )
    assert twice.status_code == 422
    assert (
        error_of(twice.text, "employee")
        == "Eve Active already has access: revoke that grant first to record another."
    )
    left = await c.post(
        f"/accounts/{account['id']}/grants/new", data=csrf(c, employee="Dee Gone", level="viewer")
    )
    assert left.status_code == 422
    assert (
        error_of(left.text, "employee")
        == "Dee Gone has left the company: choose someone who works here."
    )
    grant = (await it.get(f"/api/v1/accounts/{account['id']}/grants")).json()[0]
    revoke_page = await c.get(f"/accounts/{account['id']}/grants/{grant['id']}/revoke")
    assert "<h1>Revoke Eve Active&#39;s access</h1>" in revoke_page.text
    assert "due for rotation" in revoke_page.text
    revoked = await c.post(
        f"/accounts/{account['id']}/grants/{grant['id']}/revoke",
        data=csrf(c, reason="Campaign over"),
    )
    assert revoked.status_code == 303
    after = (await it.get(f"/api/v1/accounts/{account['id']}/grants")).json()[0]
    assert after["active"] is False and after["revoke_reason"] == "Campaign over"
    assert "Campaign over" in (await c.get(f"/accounts/{account['id']}")).text


async def test_custody_offered_by_name_waits_for_the_new_holders_answer(
    browser: Browser, it: httpx.AsyncClient, make_account: Any, people: dict[str, int]
) -> None:
    """The transfer goes to someone who stays; the account shows it waiting; they see it at home."""
    account = await make_account(backup_custodian_id=None)
    c = await browser(Role.it)
    leaving = await c.post(
        f"/accounts/{account['id']}/transfer",
        data=csrf(c, role="custodian", to_employee="Cy Leaving", note=""),
    )
    assert leaving.status_code == 422
    assert (
        error_of(leaving.text, "to_employee")
        == "Cy Leaving is leaving the company: choose someone who stays."
    )
    offered = await c.post(
        f"/accounts/{account['id']}/transfer",
        data=csrf(c, role="custodian", to_employee="ben@example.com", note="Ana moves to Lisbon"),
    )
    assert offered.status_code == 303, offered.text
    page = await c.get(offered.headers["location"].split("#")[0])
    assert "Custody is offered." in page.text
    assert re.search(
        r"from Ana Silva to Ben Okoro:\s*<strong>waiting for an answer</strong>", page.text
    )
    again = await c.get(f"/accounts/{account['id']}/transfer")
    assert "Custody is waiting for Ben Okoro's answer." in again.text
    twice = await c.post(
        f"/accounts/{account['id']}/transfer",
        data=csrf(c, role="custodian", to_employee="Eve Active"),
    )
    assert twice.status_code == 409 and "already awaiting an answer" in twice.text
    ben = await browser(Role.comms, employee_id=people["ben"])
    home = await ben.get("/")
    assert "Custody offered to you" in home.text and "Ana moves to Lisbon" in home.text
    transfers = (await it.get(f"/api/v1/accounts/{account['id']}/transfers")).json()
    assert [(t["to_employee_id"], t["state"]) for t in transfers] == [(people["ben"], "pending")]


async def test_recertification_keeps_one_grant_and_revokes_another(
    browser: Browser, it: httpx.AsyncClient, make_account: Any, people: dict[str, int]
) -> None:
    """Each active grant is a box to keep by name; unticked is revoked; one added meanwhile is never."""
    account = await make_account()
    grants = {}
    for who in ("ana", "eve", "ben"):
        made = await it.post(
            f"/api/v1/accounts/{account['id']}/grants",
            json={"employee_id": people[who], "level": "editor"},
        )
        grants[who] = made.json()["id"]
    ana = await browser(Role.comms, employee_id=people["ana"])
    form = await ana.get(f"/accounts/{account['id']}/recertify")
    assert form.status_code == 200
    assert (
        "<strong>Eve Active</strong>" in form.text
        and "Communications · eve@example.com" in form.text
    )
    assert re.search(r"<strong>Ana Silva</strong>\s*\(the custodian: kept\)", form.text)
    assert f'name="keep" value="{grants["eve"]}" checked' in form.text
    # Someone adds a grant while the form is open: it is not revoked unseen.
    late = await it.post(
        f"/api/v1/accounts/{account['id']}/grants",
        json={"employee_id": people["cy"], "level": "viewer"},
    )
    body: list[tuple[str, Any]] = [("notes", "Ben moved to sales")]
    body += [("shown", str(g)) for g in grants.values()]
    body += [("keep", str(grants["ana"])), ("keep", str(grants["eve"]))]
    stale = await post_pairs(ana, f"/accounts/{account['id']}/recertify", body)
    assert stale.status_code == 409 and "This changed since you opened it." in stale.text
    assert "added since you opened this form" in stale.text
    assert f'name="keep" value="{late.json()["id"]}" checked' in stale.text
    assert f'name="keep" value="{grants["ben"]}" checked' not in stale.text
    assert all(
        g["active"] for g in (await it.get(f"/api/v1/accounts/{account['id']}/grants")).json()
    )
    body += [("shown", str(late.json()["id"])), ("keep", str(late.json()["id"]))]
    done = await post_pairs(ana, f"/accounts/{account['id']}/recertify", body)
    assert done.status_code == 303 and done.headers["location"].endswith("?done=recertified")
    after = {g["id"]: g for g in (await it.get(f"/api/v1/accounts/{account['id']}/grants")).json()}
    assert after[grants["eve"]]["active"] and after[grants["ana"]]["active"]
    assert after[late.json()["id"]]["active"]
    assert not after[grants["ben"]]["active"]
    assert after[grants["ben"]]["revoke_reason"] == "not needed (re-certification)"
    assert (await it.get(f"/api/v1/accounts/{account['id']}")).json()["last_recertified_at"]


async def test_retiring_says_what_it_does_and_revokes_every_grant(
    browser: Browser, it: httpx.AsyncClient, make_account: Any, people: dict[str, int]
) -> None:
    """The confirmation names who loses access; a stale version asks again; then retired, kept."""
    account = await make_account()
    await it.post(
        f"/api/v1/accounts/{account['id']}/grants",
        json={"employee_id": people["eve"], "level": "viewer"},
    )
    c = await browser(Role.it)
    confirm = await c.get(f"/accounts/{account['id']}/retire")
    assert (
        "What retiring does" in confirm.text
        and "Every active grant is revoked: Eve Active." in confirm.text
    )
    assert hidden(confirm.text, "version") == "1"
    await it.patch(
        f"/api/v1/accounts/{account['id']}", json={"version": 1, "notes": "closing soon"}
    )
    stale = await c.post(
        f"/accounts/{account['id']}/retire", data=csrf(c, version="1", reason="Closed")
    )
    assert stale.status_code == 409 and "This changed since you opened it." in stale.text
    assert hidden(stale.text, "version") == "2" and 'value="Closed"' in stale.text
    assert (await it.get(f"/api/v1/accounts/{account['id']}")).json()["status"] == "active"
    done = await c.post(
        f"/accounts/{account['id']}/retire", data=csrf(c, version="2", reason="Closed")
    )
    assert done.status_code == 303
    after = (await it.get(f"/api/v1/accounts/{account['id']}")).json()
    assert after["status"] == "retired"
    assert not any(
        g["active"] for g in (await it.get(f"/api/v1/accounts/{account['id']}/grants")).json()
    )
    page = await c.get(f"/accounts/{account['id']}?done=retired")
    assert (
        "The account is retired" in page.text
        and f'/accounts/{account["id"]}/edit"' not in page.text
    )


async def test_roles_that_may_not_change_accounts_get_a_403_page_and_no_buttons(
    browser: Browser, make_account: Any, people: dict[str, int]
) -> None:
    """HR reads but does not edit; a custodian re-certifies their own account and nothing else."""
    account = await make_account()
    hr = await browser(Role.hr)
    page = await hr.get(f"/accounts/{account['id']}")
    assert (
        page.status_code == 200
        and "/edit" not in page.text
        and "Give someone access" not in page.text
    )
    for path in (
        "/accounts/new",
        f"/accounts/{account['id']}/edit",
        f"/accounts/{account['id']}/retire",
    ):
        refused = await hr.get(path)
        assert refused.status_code == 403 and "text/html" in refused.headers["content-type"], path
    posted = await hr.post(
        f"/accounts/{account['id']}/grants/new", data=csrf(hr, employee="Eve", level="viewer")
    )
    assert posted.status_code == 403 and "text/html" in posted.headers["content-type"]
    assert (await hr.get(f"/accounts/{account['id']}/recertify")).status_code == 403
    ana = await browser(Role.comms, employee_id=people["ana"])
    own = await ana.get(f"/accounts/{account['id']}")
    assert f'href="/accounts/{account["id"]}/recertify"' in own.text and "/edit" not in own.text
    assert (await ana.get(f"/accounts/{account['id']}/recertify")).status_code == 200
    assert (await ana.get(f"/accounts/{account['id']}/transfer")).status_code == 403


async def test_a_custodian_who_left_since_does_not_block_another_change(
    browser: Browser,
    it: httpx.AsyncClient,
    hr: httpx.AsyncClient,
    make_account: Any,
    people: dict[str, int],
) -> None:
    """The person already named may stay named after leaving; naming someone who left is refused."""
    account = await make_account(backup_custodian_id=None)
    ana = (await hr.get(f"/api/v1/employees/{people['ana']}")).json()
    gone = await hr.patch(
        f"/api/v1/employees/{people['ana']}",
        json={
            "version": ana["version"],
            "leaving_date": (dt.date.today() - dt.timedelta(days=1)).isoformat(),
            "status": "left",
        },
    )
    assert gone.status_code == 200, gone.text
    c = await browser(Role.it)
    opened = await c.get(f"/accounts/{account['id']}/edit")
    mine = {
        **ACCOUNT_FORM,
        "platform": "x",
        "handle": account["handle"],
        "status": "active",
        "version": hidden(opened.text, "version"),
        "custodian": "Ana Silva",
        "custodian_id": hidden(opened.text, "custodian_id"),
        "backup_custodian": "Dee",
        "recovery_email": "social@example.com",
        "recovery_email_company_controlled": "on",
        "recovery_phone": "+31 20 765 4321",
    }
    refused = await c.post(f"/accounts/{account['id']}/edit", data=csrf(c, **mine))
    assert refused.status_code == 422
    assert error_of(refused.text, "backup_custodian") == (
        "Dee Gone has left the company: choose someone who works here."
    )
    assert 'id="custodian-error"' not in refused.text
    saved = await c.post(
        f"/accounts/{account['id']}/edit", data=csrf(c, **{**mine, "backup_custodian": ""})
    )
    assert saved.status_code == 303, saved.text
    after = (await it.get(f"/api/v1/accounts/{account['id']}")).json()
    assert after["recovery_phone"] == "+31 20 765 4321" and after["custodian_id"] == people["ana"]


async def test_the_form_speaks_the_readers_language(
    browser: Browser, people: dict[str, int]
) -> None:
    """Labels, hints and the form's own messages in Dutch for a Dutch browser."""
    c = await browser(Role.it)
    dutch = {"accept-language": "nl"}
    form = await c.get("/accounts/new", headers=dutch)
    assert (
        "<h1>Een account registreren</h1>" in form.text
        and "Accountnaam of profieladres" in form.text
    )
    sent = await c.post(
        "/accounts/new", data=csrf(c, **{**ACCOUNT_FORM, "custodian": "zzz"}), headers=dutch
    )
    assert sent.status_code == 422
    assert error_of(sent.text, "handle") == "Plak de accountnaam of het profieladres."
    assert error_of(sent.text, "custodian") == (
        "Niemand in het personeelsbestand past bij “zzz”. "
        "Controleer de spelling of typ het werk-e-mailadres."
    )


async def test_a_services_refusal_is_said_in_the_readers_language(
    browser: Browser, it: httpx.AsyncClient, people: dict[str, int]
) -> None:
    """The handle's reading error in Dutch on the page; the API keeps its English words."""
    c = await browser(Role.it)
    dutch = {"accept-language": "nl"}
    pasted = "https://www.instagram.com/p/C0ffee123/"
    sent = await c.post(
        "/accounts/new",
        data=csrf(c, **{**ACCOUNT_FORM, "handle": pasted, "custodian": "Ana"}),
        headers=dutch,
    )
    assert sent.status_code == 422
    assert error_of(sent.text, "handle") == (
        "dat is een link naar een instagram-bericht of -pagina, niet naar een account: "
        "plak het profieladres of de naam van het account"
    )
    check = await c.get(
        "/accounts/handle-check",
        params={"platform": "x", "handle": "https://instagram.com/northwind"},
        headers=dutch,
    )
    assert "dat adres staat op instagram.com, het is geen x-adres" in check.text
    api = await it.post(
        "/api/v1/accounts",
        json={"platform": "instagram", "handle": pasted, "custodian_id": people["ana"]},
        headers=dutch,
    )
    assert api.status_code == 422
    assert api.json()["detail"] == (
        "that is a link to a instagram post or page, not to an account: "
        "paste the account's profile address or its handle"
    )
    assert api.json()["errors"] == [{"field": "handle", "message": api.json()["detail"]}]
