"""The audit trail's pages (events, verify now, the public key) and the reader's own settings."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from register import audit
from register.actor import Actor
from register.enums import Role
from register.i18n import Reader
from register.keys import Secrets, public_key_pem
from register.services import create_user, get_user, update_user
from register.settings import Settings
from register.staff.services import create_employee
from register.tables import AuditEvent
from tests.cli import run_cli
from tests.helpers import assert_problem
from tests.register.conftest import attacker, trail

PASSWORD = "a phrase of my own"


async def sign_in(
    app: Any, role: Role, email: str, **kwargs: Any
) -> tuple[dict[str, Any], httpx.AsyncClient]:
    """A user of this role signed in through the sign-in page, as a browser is."""
    user, _ = await create_user(
        actor=Actor.system("test"),
        email=email,
        role=role,
        password=PASSWORD,
        must_change_password=False,
        **kwargs,
    )
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    resp = await c.post("/sign-in", data={"email": email, "password": PASSWORD})
    assert resp.status_code == 303, resp.text
    return user, c


def listed(html: str) -> list[int]:
    """The event numbers of the trail's table, top to bottom."""
    return [int(n) for n in re.findall(r'<tr id="event-(\d+)">', html)]


def verdict_of(html: str) -> str:
    """The verify result's block, as text without tags."""
    block = html.split('<div class="verdict', 1)[1].split("</dl>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", block).split())


def actor_of(user: dict[str, Any]) -> Actor:
    """The actor a user's own requests would carry."""
    return Actor(user["id"], user["email"], Role(user["role"]), employee_id=user["employee_id"])


@pytest.fixture
async def auditor(app: Any) -> Any:
    """An auditor who is in the staff directory, signed in by the sign-in page."""
    person = await create_employee(
        actor=Actor.system("test"),
        data={
            "name": "Alma Verhoeven",
            "work_email": "alma.verhoeven@example.com",
            "start_date": dt.date(2022, 1, 10),
        },
    )
    user, c = await sign_in(app, Role.auditor, "alma@example.com", employee_id=person["id"])
    yield user, c
    await c.aclose()


async def test_filters_narrow_the_trail_and_show_people_by_name(app: Any, auditor: Any) -> None:
    """Who (by a name or an e-mail), what, which object, and when: each narrows to its events."""
    _, c = auditor
    it_person = await create_employee(
        actor=Actor.system("test"),
        data={
            "name": "Ivo de Vries",
            "work_email": "ivo.devries@example.com",
            "start_date": dt.date(2021, 3, 1),
        },
    )
    it_user, _ = await create_user(
        actor=Actor.system("test"),
        email="ivo@example.com",
        role=Role.it,
        password=PASSWORD,
        employee_id=it_person["id"],
    )
    ivo = actor_of(it_user)
    first = await audit.record(ivo, "account.update", "social_account", 7, {"status": ["a", "b"]})
    second = await audit.record(ivo, "grant.create", "social_account", 8, {"level": [None, "x"]})
    third = await audit.record(
        Actor.system("leaver sweep"), "employee.left", "employee", 3, {"status": ["a", "left"]}
    )
    ivos = {first, second}

    page = await c.get("/audit")
    assert page.status_code == 200
    seqs = listed(page.text)
    assert seqs == sorted(seqs, reverse=True) and seqs[0] == third
    # The actor by their employee's name with the e-mail beside it; the system in words.
    assert "Ivo de Vries" in page.text and "ivo@example.com" in page.text
    row = page.text.split(f'<tr id="event-{third}">')[1].split("</tr>")[0]
    assert "the system" in row and "leaver sweep" in row and "Marked a person as left" in row
    assert "employee.left" in row

    by_name = await c.get("/audit", params={"who": "de vries"})
    assert set(listed(by_name.text)) == ivos
    assert third not in listed(by_name.text)
    by_mail = await c.get("/audit", params={"who": "Ivo <IVO@example.com>"})
    assert set(listed(by_mail.text)) == set(listed(by_name.text))
    by_label = await c.get("/audit", params={"who": "leaver sweep"})
    assert listed(by_label.text) == [third]
    # A label that is also part of a user's name or e-mail shows both.
    as_ivo = await audit.record(Actor.system("ivo"), "employee.import", "employee", "", {})
    both = await c.get("/audit", params={"who": "ivo"})
    assert set(listed(both.text)) == ivos | {as_ivo}
    nobody = await c.get("/audit", params={"who": "Nobody Atall"})
    assert listed(nobody.text) == [] and "No event matches these filters." in nobody.text

    by_action = await c.get("/audit", params={"action": "grant.create"})
    assert listed(by_action.text) == [second]
    assert '<option value="grant.create" selected>' in by_action.text
    by_object = await c.get("/audit", params={"object_type": "social_account", "object_id": "7"})
    assert listed(by_object.text) == [first]


async def test_from_and_to_are_the_readers_times(
    app: Any, auditor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From and to are typed in the reader's zone; 'to' takes in its whole minute, or whole day."""
    user, c = auditor
    seqs = {}
    for name, moment in (
        ("early", dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.UTC)),
        ("middle", dt.datetime(2026, 11, 15, 12, 30, 40, tzinfo=dt.UTC)),
        ("late", dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)),
    ):
        monkeypatch.setattr(audit, "now", lambda moment=moment: moment)
        seqs[name] = await audit.record(Actor.system("test"), "test.timed", "thing", name, {})
    monkeypatch.undo()

    async def shown(**params: str) -> set[int]:
        resp = await c.get("/audit", params={"action": "test.timed", **params})
        assert resp.status_code == 200, resp.text
        return set(listed(resp.text))

    assert await shown() == set(seqs.values())
    assert await shown(since="2026-11-10T00:00", until="2026-11-30T23:59") == {seqs["middle"]}
    assert await shown(until="2026-11-15T12:30") == {seqs["early"], seqs["middle"]}
    assert await shown(until="2026-11-15T12:29") == {seqs["early"]}
    assert await shown(until="2026-11-15") == {seqs["early"], seqs["middle"]}
    assert await shown(since="2026-11-15T12:31") == {seqs["late"]}
    # In Tokyo (UTC+9) the middle event happened at 21:30.
    await update_user(
        actor=Actor.system("test"),
        user_id=user["id"],
        version=user["version"],
        changes={"time_zone": "Asia/Tokyo"},
    )
    assert await shown(since="2026-11-15T21:30", until="2026-11-15T21:30") == {seqs["middle"]}
    assert await shown(since="2026-11-15T12:30", until="2026-11-15T12:30") == set()


async def test_a_bad_time_is_said_next_to_its_field(app: Any, auditor: Any) -> None:
    """A 'from' that is no time, or a 'to' before 'from': 422, the words next to that field."""
    _, c = auditor
    bad = await c.get("/audit", params={"since": "yesterday-ish"})
    assert bad.status_code == 422
    assert 'id="since-error"' in bad.text and 'aria-invalid="true"' in bad.text
    assert "Write a date and a time" in bad.text and 'value="yesterday-ish"' in bad.text
    assert listed(bad.text) == []
    crossed = await c.get(
        "/audit", params={"since": "2026-12-02T17:00", "until": "2026-12-02T09:00"}
    )
    assert crossed.status_code == 422 and 'id="until-error"' in crossed.text


async def test_pages_of_events_keep_the_filters(app: Any, auditor: Any) -> None:
    """Fifty a page, newest first; older and newer links keep the filters."""
    _, c = auditor
    for i in range(60):
        await audit.record(Actor.system("test"), "test.paging", "thing", i, {})
    await audit.record(Actor.system("test"), "test.other", "thing", 99, {})
    seqs = [e["seq"] for e in await trail() if e["action"] == "test.paging"]
    first = await c.get("/audit", params={"action": "test.paging"})
    assert listed(first.text) == sorted(seqs, reverse=True)[:50]
    older = re.search(r'<a href="(/audit\?[^"]+)" rel="next">Older events</a>', first.text)
    assert older and "Newer events" not in first.text
    href = older.group(1).replace("&amp;", "&")
    assert "action=test.paging" in href and "offset=50" in href
    second = await c.get(href)
    assert listed(second.text) == sorted(seqs, reverse=True)[50:]
    assert "Older events" not in second.text
    newer = re.search(r'<a href="(/audit\?[^"]+)" rel="prev">Newer events</a>', second.text)
    assert newer and "action=test.paging" in newer.group(1) and "offset=0" in newer.group(1)


async def test_verify_now_on_an_intact_trail(
    app: Any, auditor: Any, settings: Settings, secrets: Secrets
) -> None:
    """The same check as `register audit verify`: intact, with its counts, witness included."""
    _, c = auditor
    await audit.record(Actor.system("test"), "test.event", "thing", 1, {})
    await audit.checkpoint_now()
    await audit.record(Actor.system("test"), "test.event", "thing", 2, {})
    expected = await audit.verify(secrets.verify_key, mac_key=secrets.audit_mac_key)
    token = c.cookies["register_csrf"]
    swapped = await c.post(
        "/audit/verify", data={"csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert swapped.status_code == 200
    assert "<h1>" not in swapped.text, "htmx gets the result alone"
    text = verdict_of(swapped.text)
    assert "The trail is intact" in text
    assert f"Events checked {expected.events}" in text
    assert f"Signed checkpoints {expected.checkpoints}" in text
    assert f"1 witnessed checkpoint matches, in {settings.audit_witness_file}" in text
    assert 'hx-swap-oob="innerHTML:#announce"' in swapped.text
    assert "Verified: the trail is intact." in swapped.text
    cli = await run_cli(settings, "audit", "verify")
    assert cli.code == 0

    # Without JavaScript: a plain form post gets the whole page with the result in it.
    plain = await c.post("/audit/verify", data={"csrf_token": token})
    assert plain.status_code == 200 and "<h1>Audit trail</h1>" in plain.text
    assert "The trail is intact" in verdict_of(plain.text)
    assert "#announce" not in plain.text.split('id="verify-result"')[1].split("</section>")[0]
    # The form needs the session's token like every form.
    forged = await c.post("/audit/verify", data={"csrf_token": "forged"})
    assert forged.status_code == 403


async def test_verify_now_names_the_first_bad_event_after_tampering(
    app: Any, auditor: Any, settings: Settings, secrets: Secrets
) -> None:
    """An event edited in the database: the result says broken, at that event, in words."""
    _, c = auditor
    for i in range(5):
        await audit.record(Actor.system("test"), "test.event", "thing", i, {"n": [i, i + 1]})
    target = (await trail())[-3]["seq"]
    async with attacker(settings) as execute:
        await execute("UPDATE audit_event SET object_id = ? WHERE seq = ?", "tampered", target)
    resp = await c.post(
        "/audit/verify",
        data={"csrf_token": c.cookies["register_csrf"]},
        headers={"HX-Request": "true"},
    )
    text = verdict_of(resp.text)
    assert f"The trail is broken at event {target}" in text
    assert f"event {target} is the first that is not as it was written" in text
    assert f"event {target} was altered" in text
    assert f'href="/audit?upto={target}"' in resp.text
    assert f"Verified: the trail is broken at event {target}." in resp.text
    # The CLI says the same.
    cli = await run_cli(settings, "audit", "verify")
    assert cli.code == 1 and f"BROKEN at event {target}:" in cli.err
    # The link shows the trail from that event back.
    upto = await c.get(f"/audit?upto={target}")
    assert listed(upto.text)[0] == target and "Events up to number" in upto.text


async def test_the_public_key_downloads_and_verifies_the_trail_outside(
    app: Any, auditor: Any, settings: Settings, secrets: Secrets, tmp_path: Path
) -> None:
    """The page's key is the register's (as `register audit public-key` prints it) and checks the trail."""
    _, c = auditor
    page = await c.get("/audit")
    assert 'href="/audit/public-key.pem" download' in page.text
    assert secrets.signing_key_id in page.text
    resp = await c.get("/audit/public-key.pem")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/x-pem-file")
    assert resp.headers["content-disposition"].startswith("attachment;")
    assert resp.text == public_key_pem(secrets.verify_key)
    printed = await run_cli(settings, "audit", "public-key")
    assert printed.code == 0 and printed.out == resp.text
    await audit.record(Actor.system("test"), "test.event", "thing", 1, {})
    await audit.checkpoint_now()
    pem = tmp_path / "downloaded.pem"
    pem.write_text(resp.text)
    outside = await run_cli(settings, "audit", "verify", "--public-key", str(pem))
    assert outside.code == 0, outside


async def test_roles_that_may_not_read_the_trail_get_403_pages(app: Any) -> None:
    """IT, HR, comms and legal: the trail, verify and the key are 403 pages; the menu omits it."""
    for n, role in enumerate((Role.it, Role.hr, Role.comms, Role.legal)):
        _, c = await sign_in(app, role, f"reader{n}@example.com")
        try:
            for method, path in (
                ("GET", "/audit"),
                ("POST", "/audit/verify"),
                ("GET", "/audit/public-key.pem"),
            ):
                data = {"csrf_token": c.cookies["register_csrf"]} if method == "POST" else None
                resp = await c.request(method, path, data=data)
                assert resp.status_code == 403, (role, path)
                assert resp.headers["content-type"].startswith("text/html")
                assert "BEGIN PUBLIC KEY" not in resp.text
            home = await c.get("/")
            assert 'href="/audit"' not in home.text and 'href="/settings"' in home.text
        finally:
            await c.aclose()
    _, c = await sign_in(app, Role.admin, "root@example.com")
    try:
        home = await c.get("/")
        assert '<a href="/audit">Audit trail</a>' in home.text
        assert (await c.get("/audit")).status_code == 200
    finally:
        await c.aclose()


async def test_settings_change_the_language_and_the_time_zone(app: Any, auditor: Any) -> None:
    """Dutch and Tokyo saved (audited): the home page speaks Dutch, the trail shows Tokyo's time."""
    user, c = auditor
    form = await c.get("/settings")
    assert form.status_code == 200
    assert '<input type="radio" name="language" value="" checked>' in form.text
    assert '<option value="Europe/Amsterdam"></option>' in form.text
    saved = await c.post(
        "/settings",
        data={
            "csrf_token": c.cookies["register_csrf"],
            "version": str(user["version"]),
            "language": "nl",
            "time_zone": "Asia/Tokyo",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/settings?saved=1"
    stored = await get_user(user_id=user["id"])
    assert (stored["language"], stored["time_zone"]) == ("nl", "Asia/Tokyo")
    event = (
        await AuditEvent.select()
        .where(AuditEvent.action == "user.update")
        .order_by(AuditEvent.seq, ascending=False)
        .first()
    )
    assert event["actor_id"] == user["id"] and event["object_id"] == str(user["id"])
    assert "Asia/Tokyo" in str(event["changes"]) and '"nl"' in str(event["changes"])

    # The browser asks for English; the setting wins.
    home = await c.get("/", headers={"accept-language": "en"})
    assert '<html lang="nl">' in home.text and "Afmelden" in home.text
    back = await c.get("/settings?saved=1")
    assert 'value="nl" checked' in back.text and 'value="Asia/Tokyo"' in back.text
    assert 'role="status"' in back.text

    page = await c.get("/audit")
    newest = (await trail())[-1]
    tokyo = Reader(language="nl", time_zone="Asia/Tokyo").datetime(newest["at"])
    utc = Reader(language="nl", time_zone="UTC").datetime(newest["at"])
    assert tokyo != utc
    row = page.text.split(f'<tr id="event-{newest["seq"]}">')[1].split("</tr>")[0]
    assert tokyo in row and "(Asia/Tokyo)" in page.text

    # Back to the browser's language and UTC.
    again = await c.post(
        "/settings",
        data={
            "csrf_token": c.cookies["register_csrf"],
            "version": str(stored["version"]),
            "language": "",
            "time_zone": "",
        },
    )
    assert again.status_code == 303
    stored = await get_user(user_id=user["id"])
    assert (stored["language"], stored["time_zone"]) == (None, None)
    assert "Sign out" in (await c.get("/", headers={"accept-language": "en"})).text


async def test_a_bad_time_zone_is_an_error_next_to_its_field(app: Any, auditor: Any) -> None:
    """A zone the register does not know: 422, the words next to the field, the input kept, nothing stored."""
    user, c = auditor
    resp = await c.post(
        "/settings",
        data={
            "csrf_token": c.cookies["register_csrf"],
            "version": str(user["version"]),
            "language": "nl",
            "time_zone": "Mars/Olympus_Mons",
        },
    )
    assert resp.status_code == 422
    field = resp.text.split('<label for="time_zone">')[1].split("</div>")[0]
    assert 'aria-invalid="true"' in field and 'id="time_zone-error"' in field
    assert "not a time zone the register knows" in field
    assert 'value="Mars/Olympus_Mons"' in field
    assert 'value="nl" checked' in resp.text
    stored = await get_user(user_id=user["id"])
    assert (stored["language"], stored["time_zone"], stored["version"]) == (
        None,
        None,
        user["version"],
    )
    stale = await c.post(
        "/settings",
        data={
            "csrf_token": c.cookies["register_csrf"],
            "version": "99",
            "language": "en",
            "time_zone": "Europe/Lisbon",
        },
    )
    assert stale.status_code == 409 and "another window" in stale.text
    assert 'value="Europe/Lisbon"' in stale.text and f'value="{user["version"]}"' in stale.text


async def test_settings_for_every_role(app: Any) -> None:
    """Any signed-in user has the page (a city names its zone); signed out, it asks for sign-in."""
    anonymous = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    )
    async with anonymous:
        resp = await anonymous.get("/settings")
        assert resp.status_code == 303 and resp.headers["location"] == "/sign-in?next=/settings"
    user, c = await sign_in(app, Role.legal, "counsel@example.com")
    try:
        resp = await c.post(
            "/settings",
            data={
                "csrf_token": c.cookies["register_csrf"],
                "version": str(user["version"]),
                # A city alone, as people type it, is read as its zone.
                "time_zone": "amsterdam",
            },
        )
        assert resp.status_code == 303
        assert (await get_user(user_id=user["id"]))["time_zone"] == "Europe/Amsterdam"
    finally:
        await c.aclose()


async def test_the_api_shows_and_changes_language_and_time_zone(
    admin: httpx.AsyncClient, user_factory: Any
) -> None:
    """The user's API view has both; an admin's update may set them, a bad zone is 422 naming it."""
    user, mine = await user_factory(Role.hr)
    me = (await mine.get("/api/v1/auth/me")).json()
    assert (me["language"], me["time_zone"]) == (None, None)
    changed = await admin.patch(
        f"/api/v1/users/{user['id']}",
        json={"version": me["version"], "language": "nl", "time_zone": "Europe/Brussels"},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["language"], changed.json()["time_zone"]) == ("nl", "Europe/Brussels")
    bad = await admin.patch(
        f"/api/v1/users/{user['id']}",
        json={"version": changed.json()["version"], "time_zone": "Europe/Atlantis"},
    )
    assert_problem(bad, 422, "invalid-input", "time_zone")
    wrong_language = await admin.patch(
        f"/api/v1/users/{user['id']}",
        json={"version": changed.json()["version"], "language": "fr"},
    )
    assert wrong_language.status_code in (400, 422)
    schema = (await admin.get("/schema/openapi.json")).json()["components"]["schemas"]
    update = schema["UserUpdate"]["properties"]
    assert {"language", "time_zone"} <= set(update) and {"language", "time_zone"} <= set(
        schema["UserOut"]["properties"]
    )
    # The pages follow the API's change too.
    page = await mine.get("/", headers={"accept-language": "en"})
    assert '<html lang="nl">' in page.text
