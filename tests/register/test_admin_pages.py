"""The admins' pages: users with a one-time password shown once, role changes, deactivation, tokens."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from register.actor import Actor
from register.enums import Role
from register.staff.services import create_employee
from register.tables import ApiToken, AuditEvent, User
from tests.conftest import FIXTURE_PASSWORD, UserFactory

SECRET = re.compile(r'<code id="secret" class="secret">([^<]+)</code>')


async def browser(app: Any, email: str, password: str = FIXTURE_PASSWORD) -> httpx.AsyncClient:
    """A browser-like client signed in through the sign-in page."""
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    resp = await c.post("/sign-in", data={"email": email, "password": password})
    assert resp.status_code == 303, resp.text
    return c


async def signed_in(app: Any, user_factory: UserFactory, role: Role) -> tuple[dict[str, Any], Any]:
    """A user of this role and a browser signed in as them."""
    user, _ = await user_factory(role)
    return user, await browser(app, user["email"])


def csrf(c: httpx.AsyncClient) -> str:
    """The session's CSRF token, as the page's forms carry it."""
    return c.cookies["register_csrf"]


async def changes_of(action: str, object_id: int) -> list[dict[str, Any]]:
    """The changes recorded for an object by one action, oldest first."""
    rows = await (
        AuditEvent.select(AuditEvent.changes)
        .where((AuditEvent.action == action) & (AuditEvent.object_id == str(object_id)))
        .order_by(AuditEvent.seq)
    )
    return [
        json.loads(r["changes"]) if isinstance(r["changes"], str) else r["changes"] for r in rows
    ]


async def test_a_new_user_gets_a_one_time_password_shown_once_and_signs_in_with_it(
    app: Any, user_factory: UserFactory
) -> None:
    """The answer to the form shows the password once, uncached; the list never shows it again;
    a second post of the same form is refused by the e-mail's uniqueness; the password signs in
    and must be changed first."""
    person = await create_employee(
        actor=Actor.system("test"),
        data={"name": "Ada Lovelace", "work_email": "ada@example.com", "department": "IT"},
    )
    _, admin = await signed_in(app, user_factory, Role.admin)
    try:
        form = await admin.get("/admin/users/new")
        assert form.status_code == 200 and 'name="person_email"' in form.text
        preview = await admin.get("/admin/users/link", params={"email": "Ada@Example.com"})
        assert "Linked to: Ada Lovelace, IT" in preview.text
        body = {"email": "ada@example.com", "role": "it", "name": "", "csrf_token": csrf(admin)}
        created = await admin.post("/admin/users", data=body)
        assert created.status_code == 200, created.text
        assert created.headers["cache-control"] == "no-store"
        assert "Linked to: Ada Lovelace, IT" in created.text
        assert "will not be shown again" in created.text and "must change it" in created.text
        assert 'data-shown-once="/admin/users"' in created.text
        assert '<script src="/static/shown-once.js" defer></script>' in created.text
        [password] = SECRET.findall(created.text)
        assert password not in json.dumps(dict(created.headers))
        listed = await admin.get("/admin/users")
        assert password not in listed.text
        assert "ada@example.com" in listed.text and "Ada Lovelace" in listed.text
        assert "Has not yet changed the one-time password" in listed.text
        again = await admin.post("/admin/users", data=body)
        assert again.status_code == 409 and password not in again.text
        assert 'id="email-error"' in again.text and "already exists" in again.text
        assert await User.count().where(User.email == "ada@example.com") == 1
        [row] = await User.select(User.employee).where(User.email == "ada@example.com")
        assert row["employee"] == person["id"]
        [record] = await changes_of("user.create", await _id_of("ada@example.com"))
        assert record["role"] == [None, "it"] and record["employee_id"] == [None, person["id"]]
    finally:
        await admin.aclose()
    ada = await browser(app, "ada@example.com", password)
    try:
        assert (await ada.get("/")).headers["location"] == "/password?next=/"
        changed = await ada.post(
            "/password",
            data={
                "current_password": password,
                "new_password": "a phrase of my own",
                "repeat_password": "a phrase of my own",
                "csrf_token": csrf(ada),
                "next": "/",
            },
        )
        assert changed.status_code == 303 and changed.headers["location"] == "/"
        assert (await ada.get("/")).status_code == 200
    finally:
        await ada.aclose()


async def _id_of(email: str) -> int:
    row = await User.select(User.id).where(User.email == email).first()
    assert row is not None
    return int(row["id"])


async def test_a_link_is_chosen_by_work_email_or_left_out_and_bad_input_is_said_at_its_field(
    app: Any, user_factory: UserFactory
) -> None:
    """A typed work e-mail that matches nobody is refused next to its field (nothing written);
    without a match the user is made unlinked and the page says so; a bad e-mail or no role is
    said at that field, the input kept."""
    grace = await create_employee(
        actor=Actor.system("test"),
        data={"name": "Grace Hopper", "work_email": "grace.hopper@example.com"},
    )
    _, admin = await signed_in(app, user_factory, Role.admin)
    try:
        token = csrf(admin)
        before = await User.count()
        nobody = await admin.post(
            "/admin/users",
            data={"email": "g@example.com", "role": "hr", "person_email": "nobody@example.com"}
            | {"csrf_token": token},
        )
        assert nobody.status_code == 422 and 'id="person_email-error"' in nobody.text
        assert "No person in the staff directory has this work e-mail" in nobody.text
        assert 'value="g@example.com"' in nobody.text and await User.count() == before
        chosen = await admin.post(
            "/admin/users",
            data={
                "email": "g@example.com",
                "role": "hr",
                "person_email": "Grace.Hopper@example.com",
                "csrf_token": token,
            },
        )
        assert chosen.status_code == 200 and "Linked to: Grace Hopper" in chosen.text
        row = await User.select(User.employee, User.name).where(User.email == "g@example.com")
        assert row == [{"employee": grace["id"], "name": "Grace Hopper"}]
        unlinked = await admin.post(
            "/admin/users",
            data={"email": "temp@example.com", "role": "comms", "csrf_token": token},
        )
        assert unlinked.status_code == 200
        assert "Not linked: no person in the staff directory has this e-mail." in unlinked.text
        bad = await admin.post(
            "/admin/users", data={"email": "not an address", "role": "it", "csrf_token": token}
        )
        assert bad.status_code == 422 and 'id="email-error"' in bad.text
        assert 'value="not an address"' in bad.text
        no_role = await admin.post(
            "/admin/users", data={"email": "x@example.com", "csrf_token": token}
        )
        assert no_role.status_code == 422 and 'id="role-error"' in no_role.text
        assert "Choose a role." in no_role.text
        dutch = await admin.post(
            "/admin/users",
            data={"email": "x@example.com", "csrf_token": token},
            headers={"accept-language": "nl"},
        )
        assert "Kies een rol." in dutch.text
    finally:
        await admin.aclose()


async def test_a_role_change_and_a_deactivation_are_audited_and_take_effect(
    app: Any, user_factory: UserFactory
) -> None:
    """The new role counts at once; a stale page says so; deactivation (behind a page naming the
    user) ends their session and their token; reactivation lets them in again."""
    admin_user, admin = await signed_in(app, user_factory, Role.admin)
    it_user, it_token = await user_factory(Role.it)
    it_browser = await browser(app, it_user["email"])
    uid = it_user["id"]
    try:
        token = csrf(admin)
        page = await admin.get(f"/admin/users/{uid}")
        assert page.status_code == 200 and 'name="version" value="1"' in page.text
        changed = await admin.post(
            f"/admin/users/{uid}/role", data={"role": "hr", "version": "1", "csrf_token": token}
        )
        assert changed.status_code == 303
        assert changed.headers["location"] == f"/admin/users/{uid}?done=role"
        assert "The role is now HR." in (await admin.get(changed.headers["location"])).text
        assert (await it_browser.get("/api/v1/auth/me")).json()["role"] == "hr"
        assert (await changes_of("user.update", uid))[-1]["role"] == ["it", "hr"]
        stale = await admin.post(
            f"/admin/users/{uid}/role", data={"role": "comms", "version": "1", "csrf_token": token}
        )
        assert stale.status_code == 409 and "Someone changed this user" in stale.text
        assert '<option value="comms" selected>' in stale.text
        assert (await it_browser.get("/api/v1/auth/me")).json()["role"] == "hr"
        own = await admin.post(
            f"/admin/users/{admin_user['id']}/role",
            data={"role": "it", "version": "1", "csrf_token": token},
        )
        assert (
            own.status_code == 422
            and "cannot deactivate yourself or change your own role" in own.text
        )

        confirm = await admin.get(f"/admin/users/{uid}/deactivate")
        assert confirm.status_code == 200
        assert f"Deactivate {it_user['email']} (HR)?" in confirm.text
        assert "Their 1 API token stops working at once." in confirm.text
        late = await admin.post(
            f"/admin/users/{uid}/deactivate", data={"version": "1", "csrf_token": token}
        )
        assert late.status_code == 409 and "Someone changed this user" in late.text
        assert 'name="version" value="2"' in late.text
        assert (await it_token.get("/api/v1/auth/me")).status_code == 200
        gone = await admin.post(
            f"/admin/users/{uid}/deactivate", data={"version": "2", "csrf_token": token}
        )
        assert gone.status_code == 303
        assert "is deactivated" in (await admin.get(gone.headers["location"])).text
        assert (await changes_of("user.update", uid))[-1]["active"] == [True, False]
        refused = await it_browser.get("/")
        assert refused.status_code == 303 and refused.headers["location"].startswith("/sign-in")
        assert (await it_token.get("/api/v1/auth/me")).status_code == 401
        listed = await admin.get("/admin/users", params={"active": "no"})
        assert f'href="/admin/users/{uid}"' in listed.text
        assert f'href="/admin/users/{admin_user["id"]}"' not in listed.text

        back = await admin.post(
            f"/admin/users/{uid}/reactivate", data={"version": "3", "csrf_token": token}
        )
        assert back.status_code == 303
        assert (await it_token.get("/api/v1/auth/me")).status_code == 200
        assert (await changes_of("user.update", uid))[-1]["active"] == [False, True]
    finally:
        await admin.aclose()
        await it_browser.aclose()


async def test_a_token_is_shown_once_works_and_stops_when_revoked(
    app: Any, user_factory: UserFactory
) -> None:
    """Made on the page for another user, shown once, used by a script, revoked behind a page
    that names it: then refused. Bad input is said at its field."""
    _, admin = await signed_in(app, user_factory, Role.admin)
    owner, _ = await user_factory(Role.it)
    try:
        token = csrf(admin)
        page = await admin.get("/admin/tokens", params={"user_id": owner["id"]})
        assert page.status_code == 200 and f"Tokens of {owner['email']}." in page.text
        assert f'<option value="{owner["id"]}" selected>' in page.text
        made = await admin.post(
            "/admin/tokens",
            data={
                "user_id": str(owner["id"]),
                "name": "nightly export",
                "expires_in_days": "30",
                "csrf_token": token,
            },
        )
        assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
        [secret] = SECRET.findall(made.text)
        assert secret.startswith("sar_") and "will not be shown again" in made.text
        listed = await admin.get("/admin/tokens")
        assert secret not in listed.text and "nightly export" in listed.text
        script = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {secret}"},
        )
        try:
            assert (await script.get("/api/v1/auth/me")).json()["email"] == owner["email"]
            [issued] = [
                r
                for r in await AuditEvent.select(AuditEvent.object_id, AuditEvent.changes).where(
                    AuditEvent.action == "token.issue"
                )
                if "nightly export" in str(r["changes"])
            ]
            token_id = int(issued["object_id"])
            confirm = await admin.get(f"/admin/tokens/{token_id}/revoke")
            assert "Revoke the token “nightly export”" in confirm.text
            assert owner["email"] in confirm.text
            revoked = await admin.post(
                f"/admin/tokens/{token_id}/revoke", data={"csrf_token": token}
            )
            assert revoked.status_code == 303
            after = await admin.get(revoked.headers["location"])
            assert "The token “nightly export” of" in after.text and "is revoked" in after.text
            assert (await script.get("/api/v1/auth/me")).status_code == 401
            assert await AuditEvent.count().where(
                (AuditEvent.action == "token.revoke") & (AuditEvent.object_id == str(token_id))
            )
        finally:
            await script.aclose()
        for fields, field in (
            ({"name": "", "expires_in_days": "30"}, "name"),
            ({"name": "x", "expires_in_days": "0"}, "expires_in_days"),
            ({"name": "x", "expires_in_days": "soon"}, "expires_in_days"),
            ({"name": "x", "expires_in_days": "30", "user_id": ""}, "user_id"),
        ):
            bad = await admin.post(
                "/admin/tokens",
                data={"user_id": str(owner["id"]), **fields, "csrf_token": token},
            )
            assert bad.status_code == 422, fields
            assert f'id="{field}-error"' in bad.text and "will not be shown" not in bad.text, fields
        assert await ApiToken.count().where(ApiToken.name == "x") == 0
    finally:
        await admin.aclose()


async def test_who_may_see_the_admin_pages(app: Any, user_factory: UserFactory) -> None:
    """Admins see both in the menu; auditors read the users without forms; others get 403 pages."""
    _, admin = await signed_in(app, user_factory, Role.admin)
    _, auditor = await signed_in(app, user_factory, Role.auditor)
    _, it = await signed_in(app, user_factory, Role.it)
    try:
        home = await admin.get("/")
        assert 'href="/admin/users"' in home.text and 'href="/admin/tokens"' in home.text
        users = await auditor.get("/admin/users")
        assert users.status_code == 200 and "Create a user" not in users.text
        assert 'href="/admin/tokens"' not in users.text
        for path in ("/admin/tokens", "/admin/users/new"):
            refused = await auditor.get(path)
            assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
        post = await auditor.post(
            "/admin/users",
            data={"email": "a@example.com", "role": "admin"} | {"csrf_token": csrf(auditor)},
        )
        assert (
            post.status_code == 403 and await User.count().where(User.email == "a@example.com") == 0
        )
        for path in ("/admin/users", "/admin/tokens"):
            assert (await it.get(path)).status_code == 403
        assert 'href="/admin/users"' not in (await it.get("/")).text
        dutch = await admin.get("/admin/users", headers={"accept-language": "nl"})
        assert "<h1>Gebruikers</h1>" in dutch.text
    finally:
        for c in (admin, auditor, it):
            await c.aclose()


async def test_an_auditor_reads_a_user_but_not_their_token_records(
    app: Any, user_factory: UserFactory
) -> None:
    """Token names are for who administers tokens; the API shows others' only to admins too."""
    owner, admin = await signed_in(app, user_factory, Role.admin)
    _, auditor = await signed_in(app, user_factory, Role.auditor)
    try:
        made = await admin.post(
            "/api/v1/tokens",
            json={"name": "nightly-export-job", "expires_in_days": 30},
            headers={"x-csrf-token": csrf(admin)},
        )
        assert made.status_code == 201, made.text
        assert "nightly-export-job" in (await admin.get(f"/admin/users/{owner['id']}")).text
        seen = await auditor.get(f"/admin/users/{owner['id']}")
        assert seen.status_code == 200 and owner["email"] in seen.text
        assert "nightly-export-job" not in seen.text
    finally:
        await admin.aclose()
        await auditor.aclose()


async def test_filters_left_at_any_and_their_pager_links_are_answered(
    app: Any, user_factory: UserFactory
) -> None:
    """A select's "any" sends an empty id: the list answers instead of refusing it."""
    _, admin = await signed_in(app, user_factory, Role.admin)
    try:
        for path in (
            "/outbox?state=&subscription_id=",
            "/accounts?q=&platform=&status=&risk=&custodian_id=",
            "/accounts?custodian_id=&offset=50",
        ):
            resp = await admin.get(path)
            assert resp.status_code == 200, (path, resp.text[:300])
        assert (await admin.get("/outbox?subscription_id=x1")).status_code == 422
    finally:
        await admin.aclose()


async def test_a_refused_user_form_keeps_what_was_typed_with_the_error_at_its_field(
    app: Any, user_factory: UserFactory
) -> None:
    """Every field comes back as typed, the error next to the one that is wrong (said in Dutch
    for a Dutch reader); a taken e-mail is said at the e-mail, and nothing is created."""
    _, admin = await signed_in(app, user_factory, Role.admin)
    taken, _ = await user_factory(Role.it)
    try:
        token = csrf(admin)
        bad = await admin.post(
            "/admin/users",
            data={
                "email": "not an address",
                "role": "hr",
                "name": "Ana Silva",
                "person_email": "",
                "csrf_token": token,
            },
        )
        assert bad.status_code == 422
        assert re.search(r'<p class="error" id="email-error">[^<]+</p>', bad.text)
        assert 'id="email" name="email" type="email" value="not an address"' in bad.text
        assert 'id="name" name="name" type="text" value="Ana Silva"' in bad.text
        assert re.search(r'name="role" value="hr"\s+checked', bad.text)
        again = await admin.post(
            "/admin/users",
            data={"email": taken["email"], "role": "hr", "name": "Ana", "csrf_token": token},
            headers={"accept-language": "nl"},
        )
        assert again.status_code == 409
        assert re.search(r'<p class="error" id="email-error">[^<]*bestaat al[^<]*</p>', again.text)
        assert f'value="{taken["email"]}"' in again.text
        assert await User.count().where(User.name == "Ana Silva") == 0
    finally:
        await admin.aclose()


async def test_a_stale_role_change_shows_the_saved_role_and_keeps_the_choice(
    app: Any, user_factory: UserFactory
) -> None:
    """Changed meanwhile: the saved role next to the field, the choice kept, the new version
    carried, so a second send goes through; one's own role is refused in the reader's words."""
    admin_user, admin = await signed_in(app, user_factory, Role.admin)
    it_user, _ = await user_factory(Role.it)
    uid = it_user["id"]
    try:
        token = csrf(admin)
        first = await admin.post(
            f"/admin/users/{uid}/role", data={"role": "hr", "version": "1", "csrf_token": token}
        )
        assert first.status_code == 303
        stale = await admin.post(
            f"/admin/users/{uid}/role", data={"role": "legal", "version": "1", "csrf_token": token}
        )
        assert stale.status_code == 409
        assert '<option value="legal" selected>' in stale.text
        assert re.search(r'<p class="now">Saved meanwhile: <strong>HR</strong></p>', stale.text)
        assert 'name="version" value="2"' in stale.text
        second = await admin.post(
            f"/admin/users/{uid}/role", data={"role": "legal", "version": "2", "csrf_token": token}
        )
        assert second.status_code == 303
        assert (await changes_of("user.update", uid))[-1]["role"] == ["hr", "legal"]
        own = await admin.post(
            f"/admin/users/{admin_user['id']}/role",
            data={"role": "it", "version": "1", "csrf_token": token},
            headers={"accept-language": "nl"},
        )
        assert own.status_code == 422
        assert "u kunt uzelf niet deactiveren en uw eigen rol niet wijzigen" in own.text
    finally:
        await admin.aclose()


async def test_a_refused_token_keeps_its_fields_and_the_list_reads_the_owners_once(
    app: Any, user_factory: UserFactory, monkeypatch: Any
) -> None:
    """A wrong expiry is said next to it with the name and owner kept; the list of tokens of
    several owners names each owner, read in one query rather than one per token."""
    from register import services

    _, admin = await signed_in(app, user_factory, Role.admin)
    owners = [(await user_factory(Role.it))[0] for _ in range(3)]
    try:
        token = csrf(admin)
        bad = await admin.post(
            "/admin/tokens",
            data={
                "user_id": str(owners[1]["id"]),
                "name": "nightly export",
                "expires_in_days": "soon",
                "csrf_token": token,
            },
        )
        assert bad.status_code == 422
        assert '<p class="error" id="expires_in_days-error">' in bad.text
        assert 'id="name" name="name" type="text" value="nightly export"' in bad.text
        assert 'value="soon"' in bad.text
        assert f'<option value="{owners[1]["id"]}" selected>' in bad.text
        for owner in owners:
            made = await admin.post(
                "/admin/tokens",
                data={
                    "user_id": str(owner["id"]),
                    "name": f"for {owner['email']}",
                    "csrf_token": token,
                },
            )
            assert made.status_code == 200
        one_by_one: list[int] = []
        get_user = services.get_user

        async def counted(*, user_id: int) -> dict[str, Any]:
            one_by_one.append(user_id)
            return await get_user(user_id=user_id)

        monkeypatch.setattr(services, "get_user", counted)
        listed = await admin.get("/admin/tokens")
        assert listed.status_code == 200
        for owner in owners:
            assert f'href="/admin/users/{owner["id"]}"' in listed.text
        assert one_by_one == []
    finally:
        await admin.aclose()
