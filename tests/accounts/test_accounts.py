"""The account register: handles, custodians, versions, retirement, filters, grants, custody transfer."""

from __future__ import annotations

import pytest

from accounts.enums import Platform
from accounts.services import normalise_handle
from register.enums import Role
from register.errors import InvalidInput
from tests.helpers import assert_problem


@pytest.mark.parametrize(
    ("platform", "raw", "handle", "url"),
    [
        (Platform.x, "@Acme", "acme", "https://x.com/acme"),
        (Platform.x, "acme", "acme", "https://x.com/acme"),
        (Platform.x, "https://twitter.com/Acme?s=20&t=abc", "acme", "https://x.com/acme"),
        (Platform.x, "www.x.com/acme/", "acme", "https://x.com/acme"),
        (
            Platform.instagram,
            "https://www.instagram.com/Acme.Co/?hl=en",
            "acme.co",
            "https://www.instagram.com/acme.co/",
        ),
        (
            Platform.linkedin_page,
            "linkedin.com/company/acme-ltd/posts/?feedView=all",
            "acme-ltd",
            "https://www.linkedin.com/company/acme-ltd/",
        ),
        (
            Platform.linkedin_profile,
            "https://uk.linkedin.com/in/jane-doe-123/",
            "jane-doe-123",
            "https://www.linkedin.com/in/jane-doe-123/",
        ),
        (
            Platform.youtube,
            "https://youtube.com/@AcmeTV/videos",
            "acmetv",
            "https://www.youtube.com/@acmetv",
        ),
        (
            Platform.facebook_page,
            "https://m.facebook.com/profile.php?id=100064123456789",
            "id:100064123456789",
            "https://www.facebook.com/profile.php?id=100064123456789",
        ),
        (Platform.tiktok, "@acme.co", "acme.co", "https://www.tiktok.com/@acme.co"),
        (
            Platform.bluesky,
            "@acme",
            "acme.bsky.social",
            "https://bsky.app/profile/acme.bsky.social",
        ),
        (
            Platform.mastodon,
            "https://mastodon.social/@Acme",
            "acme@mastodon.social",
            "https://mastodon.social/@acme",
        ),
        (
            Platform.threads,
            "https://www.threads.net/@acme",
            "acme",
            "https://www.threads.net/@acme",
        ),
        (
            Platform.pinterest,
            "https://uk.pinterest.com/acme/",
            "acme",
            "https://www.pinterest.com/acme/",
        ),
        (
            Platform.x,
            "https://twitter.com/intent/user?screen_name=Beta",
            "beta",
            "https://x.com/beta",
        ),
        (
            Platform.instagram,
            "https://www.instagram.com/stories/acme.co/3141592653/",
            "acme.co",
            "https://www.instagram.com/acme.co/",
        ),
        (
            Platform.facebook_page,
            "https://www.facebook.com/pg/AcmeCo/about/",
            "acmeco",
            "https://www.facebook.com/acmeco",
        ),
        (Platform.x, "https://x.com/acme/status/1234567890", "acme", "https://x.com/acme"),
    ],
)
def test_handles_in_any_pasted_form(platform, raw, handle, url):
    got = normalise_handle(platform, raw)
    assert (got.handle, got.profile_url) == (handle, url)


@pytest.mark.parametrize(
    ("platform", "raw"),
    [
        (Platform.x, "https://instagram.com/acme"),
        (Platform.x, "far too long a handle"),
        (Platform.mastodon, "acme"),
        (Platform.x, "  "),
    ],
)
def test_bad_handles_name_the_field(platform, raw):
    with pytest.raises(InvalidInput) as err:
        normalise_handle(platform, raw)
    assert err.value.extra["field"] == "handle"


@pytest.mark.parametrize(
    ("platform", "raw"),
    [
        (Platform.x, "https://x.com/home"),
        (Platform.x, "https://twitter.com/intent/tweet?text=hi"),
        (Platform.x, "https://x.com/i/web/status/123"),
        (Platform.instagram, "https://www.instagram.com/p/CxYz123/"),
        (Platform.instagram, "https://www.instagram.com/reel/CxYz123/"),
        (Platform.facebook_page, "https://www.facebook.com/groups/acmefans"),
        (Platform.facebook_page, "https://www.facebook.com/share/1AbCdEf/"),
        (Platform.tiktok, "https://vm.tiktok.com/ZMabc123/"),
        (Platform.tiktok, "https://www.tiktok.com/t/ZTabc123/"),
        (Platform.pinterest, "https://pin.it/abc123"),
        (Platform.pinterest, "https://www.pinterest.com/pin/123456/"),
        (Platform.youtube, "https://www.youtube.com/c/AcmeCo"),
        (Platform.youtube, "https://www.youtube.com/watch?v=abc"),
        (Platform.youtube, "https://youtu.be/abc"),
        (Platform.threads, "https://www.threads.net/t/CxYz123"),
    ],
)
def test_links_to_posts_and_short_links_are_not_taken_for_accounts(platform, raw):
    """A post, a group or a short link names no account: storing "p" or "groups" as a handle
    would register a wrong account and block the next such paste with a 409."""
    with pytest.raises(InvalidInput) as err:
        normalise_handle(platform, raw)
    assert err.value.extra["field"] == "handle"
    assert (
        "not to an account" in str(err.value)
        or "short link" in str(err.value)
        or ("channel address" in str(err.value))
    )


CHANNEL_ID = "UC_x5XG1OV2P6uZZ5FSM9Ttw"


@pytest.mark.parametrize(
    "raw",
    [
        f"youtube.com/channel/{CHANNEL_ID}",
        f"https://www.youtube.com/channel/{CHANNEL_ID}/videos?si=abc",
        f"https://m.youtube.com/channel/{CHANNEL_ID}",
        CHANNEL_ID,
        f"channel/{CHANNEL_ID}",
    ],
)
def test_youtube_channel_ids_from_urls_and_bare(raw):
    """A channel id names one channel for good; it is kept as channel/<id>, case and all."""
    got = normalise_handle(Platform.youtube, raw)
    assert (got.handle, got.profile_url) == (
        f"channel/{CHANNEL_ID}",
        f"https://www.youtube.com/channel/{CHANNEL_ID}",
    )


@pytest.mark.parametrize(
    "raw",
    [
        "https://www.youtube.com/channel/UCtooShort",
        f"https://www.youtube.com/channel/{CHANNEL_ID.lower()}",
        f"https://www.youtube.com/user/{CHANNEL_ID}",
        "https://www.youtube.com/user/AcmeCo",
        f"channel/{CHANNEL_ID}x",
    ],
)
def test_youtube_wrong_channel_ids_and_legacy_names_are_refused(raw):
    with pytest.raises(InvalidInput) as err:
        normalise_handle(Platform.youtube, raw)
    assert err.value.extra["field"] == "handle"


async def test_a_youtube_handle_and_a_channel_id_are_not_confused(it, people):
    """The same letters as an @handle and as a channel id are two identities, and the channel
    row of the inventory export imports back unchanged."""
    made = {}
    for raw in (f"@{CHANNEL_ID}", CHANNEL_ID):
        resp = await it.post(
            "/api/v1/accounts",
            json={"platform": "youtube", "handle": raw, "custodian_id": people["ana"]},
        )
        assert resp.status_code == 201, resp.text
        made[raw] = resp.json()
    assert made[f"@{CHANNEL_ID}"]["handle"] == CHANNEL_ID.lower()
    assert made[f"@{CHANNEL_ID}"]["profile_url"].endswith(f"/@{CHANNEL_ID.lower()}")
    assert made[CHANNEL_ID]["handle"] == f"channel/{CHANNEL_ID}"
    again = await it.post(
        "/api/v1/accounts",
        json={
            "platform": "youtube",
            "handle": f"https://www.youtube.com/channel/{CHANNEL_ID}",
            "custodian_id": people["ana"],
        },
    )
    assert_problem(again, 409, "already-exists", "handle")
    exported = await it.get("/api/v1/accounts/export.csv")
    assert f"youtube,channel/{CHANNEL_ID}," in exported.text
    back = await it.post(
        "/api/v1/accounts/imports", files={"file": ("export.csv", exported.content, "text/csv")}
    )
    assert back.status_code == 200, back.text
    assert (back.json()["created"], back.json()["unchanged"]) == (0, 2)


async def test_create_read_and_unique_per_platform(it, people, make_account):
    acct = await make_account(handle="https://x.com/Northwind?lang=en")
    assert acct["handle"] == "northwind" and acct["profile_url"] == "https://x.com/northwind"
    assert (
        acct["recovery_email_company_controlled"] is True
    )  # example.com is a work domain in test settings
    again = await it.post(
        "/api/v1/accounts",
        json={"platform": "x", "handle": "@NORTHWIND", "custodian_id": people["ana"]},
    )
    assert_problem(again, 409, "already-exists", "handle")
    other = await it.post(
        "/api/v1/accounts",
        json={"platform": "instagram", "handle": "@northwind", "custodian_id": people["ana"]},
    )
    assert other.status_code == 201
    got = await it.get(f"/api/v1/accounts/{acct['id']}")
    assert got.json()["handle"] == "northwind"
    assert {r["kind"] for r in got.json()["risks"]} == set()


async def test_custodian_rules(it, people):
    base = {"platform": "x", "handle": "rules"}
    assert_problem(
        await it.post(
            "/api/v1/accounts",
            json={**base, "custodian_id": people["ana"], "backup_custodian_id": people["ana"]},
        ),
        422,
        field="backup_custodian_id",
    )
    assert_problem(
        await it.post("/api/v1/accounts", json={**base, "custodian_id": people["dee"]}),
        422,
        field="custodian_id",
    )
    assert_problem(
        await it.post("/api/v1/accounts", json={**base, "custodian_id": 999999}),
        422,
        field="custodian_id",
    )
    assert_problem(await it.post("/api/v1/accounts", json=base), 422, field="custodian_id")


async def test_update_with_version_and_last_custodian(it, people, make_account):
    acct = await make_account()
    ok = await it.patch(
        f"/api/v1/accounts/{acct['id']}",
        json={"version": 1, "display_name": "Brand", "recovery_email": "someone@gmail.com"},
    )
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["version"] == 2 and body["recovery_email_company_controlled"] is False
    assert "recovery_email_not_company" in {r["kind"] for r in body["risks"]}
    stale = await it.patch(
        f"/api/v1/accounts/{acct['id']}", json={"version": 1, "display_name": "Other"}
    )
    assert_problem(stale, 409, "stale-version")
    gone = await it.patch(
        f"/api/v1/accounts/{acct['id']}", json={"version": 2, "custodian_id": None}
    )
    assert_problem(gone, 409, field="custodian_id")
    assert (await it.get(f"/api/v1/accounts/{acct['id']}")).json()["display_name"] == "Brand"


async def test_retire_keeps_the_row_and_revokes_grants(it, people, make_account):
    acct = await make_account()
    grant = (
        await it.post(
            f"/api/v1/accounts/{acct['id']}/grants",
            json={"employee_id": people["eve"], "level": "editor"},
        )
    ).json()
    resp = await it.post(
        f"/api/v1/accounts/{acct['id']}/retire", json={"version": 1, "reason": "brand merged"}
    )
    assert (
        resp.status_code == 200 and resp.json()["status"] == "retired" and resp.json()["retired_at"]
    )
    grants = (await it.get(f"/api/v1/accounts/{acct['id']}/grants")).json()
    assert [g["active"] for g in grants if g["id"] == grant["id"]] == [False]
    assert_problem(
        await it.patch(f"/api/v1/accounts/{acct['id']}", json={"version": 2, "notes": "x"}), 409
    )
    assert (await it.get(f"/api/v1/accounts/{acct['id']}")).status_code == 200


async def test_list_filters_search_and_pagination(it, people, make_account):
    await make_account(
        platform="x", handle="alpha", department="Marketing", display_name="Alpha Brand"
    )
    await make_account(
        platform="instagram", handle="beta", department="Sales", backup_custodian_id=None
    )
    await make_account(
        platform="x",
        handle="gamma",
        department="Sales",
        custodian_id=people["cy"],
        mfa_method="sms",
    )

    def handles(resp):
        assert resp.status_code == 200, resp.text
        return sorted(a["handle"] for a in resp.json()["items"])

    assert handles(await it.get("/api/v1/accounts?platform=x")) == ["alpha", "gamma"]
    assert handles(await it.get("/api/v1/accounts?department=Sales")) == ["beta", "gamma"]
    assert handles(await it.get(f"/api/v1/accounts?custodian_id={people['cy']}")) == ["gamma"]
    assert handles(await it.get("/api/v1/accounts?risk=no_backup_custodian")) == ["beta"]
    assert handles(await it.get("/api/v1/accounts?risk=custodian_leaving")) == ["gamma"]
    assert handles(await it.get("/api/v1/accounts?risk=weak_mfa")) == ["gamma"]
    assert handles(await it.get("/api/v1/accounts?q=alpha%20brand")) == ["alpha"]
    assert_problem(await it.get("/api/v1/accounts?risk=nonsense"), 422, field="risk")
    first = (await it.get("/api/v1/accounts?limit=2")).json()
    assert len(first["items"]) == 2 and first["next_offset"] == 2
    second = (await it.get("/api/v1/accounts?limit=2&offset=2")).json()
    assert len(second["items"]) == 1 and second["next_offset"] is None


async def test_grants_history_and_custodian_protection(it, people, make_account):
    acct = await make_account()
    own = (
        await it.post(
            f"/api/v1/accounts/{acct['id']}/grants",
            json={"employee_id": people["ana"], "level": "owner", "platform_role": "Super admin"},
        )
    ).json()
    eve = (
        await it.post(
            f"/api/v1/accounts/{acct['id']}/grants",
            json={"employee_id": people["eve"], "level": "editor"},
        )
    ).json()
    dup = await it.post(
        f"/api/v1/accounts/{acct['id']}/grants",
        json={"employee_id": people["eve"], "level": "viewer"},
    )
    assert_problem(dup, 409, field="employee_id")
    assert_problem(
        await it.post(
            f"/api/v1/accounts/{acct['id']}/grants/{own['id']}/revoke", json={"reason": "tidy"}
        ),
        409,
    )
    revoked = await it.post(
        f"/api/v1/accounts/{acct['id']}/grants/{eve['id']}/revoke", json={"reason": "moved team"}
    )
    assert (
        revoked.status_code == 200
        and revoked.json()["active"] is False
        and revoked.json()["revoke_reason"] == "moved team"
    )
    history = (await it.get(f"/api/v1/accounts/{acct['id']}/grants")).json()
    assert len(history) == 2
    assert [
        g["id"] for g in (await it.get(f"/api/v1/accounts/{acct['id']}/grants?active=true")).json()
    ] == [own["id"]]


async def test_custody_transfer_accept_and_decline(it, people, make_account, user_factory):
    acct = await make_account()
    await it.put(f"/api/v1/accounts/{acct['id']}/credential", json={"password": "initial secret"})
    old_grant = (
        await it.post(
            f"/api/v1/accounts/{acct['id']}/grants",
            json={"employee_id": people["ana"], "level": "owner"},
        )
    ).json()
    moved = await it.post(
        f"/api/v1/accounts/{acct['id']}/transfers",
        json={"to_employee_id": people["eve"], "revoke_old_grants": True},
    )
    assert moved.status_code == 201, moved.text
    transfer = moved.json()
    assert transfer["state"] == "pending" and transfer["from_employee_id"] == people["ana"]
    account = (await it.get(f"/api/v1/accounts/{acct['id']}")).json()
    assert account["custodian_id"] == people["eve"]
    assert "rotation_due" in {r["kind"] for r in account["risks"]}
    grants = {g["id"]: g for g in (await it.get(f"/api/v1/accounts/{acct['id']}/grants")).json()}
    assert grants[old_grant["id"]]["active"] is False
    assert_problem(
        await it.post(
            f"/api/v1/accounts/{acct['id']}/transfers",
            json={"to_employee_id": people["ben"], "role": "custodian"},
        ),
        409,
    )
    # Someone else cannot answer for the new custodian.
    _, stranger = await user_factory(Role.comms)
    assert_problem(
        await stranger.post(
            f"/api/v1/accounts/{acct['id']}/transfers/{transfer['id']}/accept", json={}
        ),
        403,
    )
    _, eve = await user_factory(Role.comms, employee_id=people["eve"])
    accepted = await eve.post(
        f"/api/v1/accounts/{acct['id']}/transfers/{transfer['id']}/accept", json={"note": "got it"}
    )
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    assert_problem(
        await eve.post(
            f"/api/v1/accounts/{acct['id']}/transfers/{transfer['id']}/decline", json={}
        ),
        409,
    )
    # A backup transfer that is declined goes back.
    back = (
        await it.post(
            f"/api/v1/accounts/{acct['id']}/transfers",
            json={"to_employee_id": people["ana"], "role": "backup"},
        )
    ).json()
    declined = await it.post(
        f"/api/v1/accounts/{acct['id']}/transfers/{back['id']}/decline", json={"note": "on leave"}
    )
    assert declined.json()["state"] == "declined"
    assert (await it.get(f"/api/v1/accounts/{acct['id']}")).json()["backup_custodian_id"] == people[
        "ben"
    ]


async def test_roles_on_accounts(user_factory, make_account):
    acct = await make_account()
    for role in (Role.hr, Role.comms, Role.auditor):
        _, c = await user_factory(role)
        assert (await c.get(f"/api/v1/accounts/{acct['id']}")).status_code == 200
        assert_problem(
            await c.patch(f"/api/v1/accounts/{acct['id']}", json={"version": 1, "notes": "x"}), 403
        )
        assert_problem(
            await c.post(
                "/api/v1/accounts", json={"platform": "x", "handle": "nope", "custodian_id": 1}
            ),
            403,
        )


async def test_changes_are_audited(it, make_account, admin):
    acct = await make_account()
    await it.patch(f"/api/v1/accounts/{acct['id']}", json={"version": 1, "notes": "checked"})
    events = (
        await admin.get(f"/api/v1/audit/events?object_type=social_account&object_id={acct['id']}")
    ).json()["items"]
    actions = [e["action"] for e in events]
    assert actions[:2] == ["account.update", "account.create"]
    assert events[0]["changes"]["notes"] == ["", "checked"]
