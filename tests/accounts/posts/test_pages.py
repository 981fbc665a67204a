"""Post approval's pages over HTTP: submit with a photo, the proof shown, errors next to the field,
the approver's queue and decision, the account's setting, an incident's link."""

from __future__ import annotations

import io
import re
from typing import Any

import exifread
import httpx

from register.enums import Role
from tests.accounts.posts.conftest import World
from tests.accounts.posts.photos import jpeg_with_gps
from tests.helpers import form, page_client


async def browser_of(app: Any, world: World, user: dict[str, Any]) -> httpx.AsyncClient:
    """A signed-in page client for one of the world's users (their password is the fixtures')."""
    from tests.conftest import FIXTURE_PASSWORD

    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    signed = await c.post("/sign-in", data={"email": user["email"], "password": FIXTURE_PASSWORD})
    assert signed.status_code == 303, signed.text
    return c


async def submit_page(c: httpx.AsyncClient, world: World, **fields: Any) -> httpx.Response:
    photo = fields.pop("photo", ("IMG_0001.jpg", jpeg_with_gps(), "image/jpeg"))
    return await c.post(
        "/posts/new",
        data=form(
            c,
            account_id=str(world.account["id"]),
            text=fields.pop("text", "Our stand at the fair, hall 3."),
            planned_at=fields.pop("planned_at", "2027-03-01T10:00"),
        ),
        files={"photo": photo},
    )


async def test_submit_with_a_photo_then_approve_on_the_page(app: Any, world: World) -> None:
    """A member of staff submits with a photo; the page shows the stripped photo and its proof;
    the approver finds it on their home page and approves it; the submitter could not."""
    staff = await browser_of(app, world, world.submitter)
    home = await staff.get("/")
    assert "My post requests" in home.text and 'href="/posts/new"' in home.text
    new = await staff.get("/posts/new")
    assert new.status_code == 200 and world.account["handle"] in new.text

    sent = await submit_page(staff, world)
    assert sent.status_code == 303, sent.text
    where = sent.headers["location"]
    assert re.fullmatch(r"/posts/\d+\?done=submitted", where), where
    shown = await staff.get(where)
    assert shown.status_code == 200
    assert "Location data removed:" in shown.text and "GPSLatitude" in shown.text
    assert "BodySerialNumber" in shown.text
    # The photo the page shows is the stripped one.
    src = re.search(r'<img src="(/posts/\d+/photos/\d+)"', shown.text)
    assert src is not None
    photo = await staff.get(src.group(1))
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert exifread.process_file(io.BytesIO(photo.content)) == {}
    # The submitter may not decide: no decision form, and a forged post is refused.
    assert "Your decision" not in shown.text
    pr = int(where.split("/")[2].split("?")[0])
    own = await staff.post(f"/posts/{pr}/approve", data=form(staff, version="1"))
    assert own.status_code == 403 and "you submitted this post request" in own.text

    approver = await browser_of(app, world, world.approver)
    home = await approver.get("/")
    assert "Posts waiting for you" in home.text and f'href="/posts/{pr}"' in home.text
    page = await approver.get(f"/posts/{pr}")
    assert "Your decision" in page.text
    # Sending back needs a reason, said next to the field.
    back = await approver.post(
        f"/posts/{pr}/send-back", data=form(approver, version="1", reason="")
    )
    assert back.status_code == 422
    assert re.search(r'id="reason-error"[^>]*>Say why it goes back', back.text)
    done = await approver.post(f"/posts/{pr}/approve", data=form(approver, version="1"))
    assert done.status_code == 303 and done.headers["location"] == f"/posts/{pr}?done=approved"
    page = await approver.get(done.headers["location"])
    assert "SHA-256 of the approved version" in page.text and "Mark as posted" in page.text

    # Posted, with its address, from the submitter's page.
    posted = await staff.post(
        f"/posts/{pr}/posted",
        data=form(staff, version="2", url="https://x.com/acct1/status/99"),
    )
    assert posted.status_code == 303, posted.text
    page = await staff.get(posted.headers["location"])
    assert "https://x.com/acct1/status/99" in page.text and "Marked as posted" in page.text
    for c in (staff, approver):
        await c.aclose()


async def test_a_bad_photo_is_refused_next_to_the_field(app: Any, world: World) -> None:
    """Not an image: the form comes back with the error next to the photo and the text kept."""
    staff = await browser_of(app, world, world.submitter)
    sent = await submit_page(
        staff, world, text="Keep this text", photo=("photo.jpg", b"GIF89a not a jpeg", "image/jpeg")
    )
    assert sent.status_code == 422
    assert re.search(r'id="photo-error"[^>]*>this file is not a photo', sent.text), sent.text
    assert "Keep this text" in sent.text
    await staff.aclose()


async def test_the_account_page_sets_approval_and_approvers(app: Any, world: World) -> None:
    """The account page says who approves; IT changes it on its form (a stale version comes back)."""
    it = await page_client(app, Role.it)
    page = await it.get(f"/accounts/{world.account['id']}")
    assert "Post approval" in page.text and "need approval before they go out" in page.text
    assert "Ana Silva" in page.text
    settings = await it.get(f"/accounts/{world.account['id']}/post-approval")
    assert settings.status_code == 200
    saved = await it.post(
        f"/accounts/{world.account['id']}/post-approval",
        data=form(it, version="1", approver_ids=[str(world.approver["id"])]),
    )
    assert saved.status_code == 303, saved.text
    page = await it.get(saved.headers["location"])
    assert "need no approval" in page.text
    refused = await it.post(
        f"/accounts/{world.account['id']}/post-approval",
        data=form(it, version="2", requires_approval="on"),
    )
    assert refused.status_code == 422
    assert re.search(r'id="approver_ids-error"[^>]*>name at least one approver', refused.text)
    await it.aclose()


async def test_an_incident_names_the_post_it_concerns(
    app: Any, world: World, user_factory: Any
) -> None:
    """Comms links an incident to a post request: both pages show it."""
    pr = (
        await world.submitter_c.post(
            "/api/v1/post-requests", json={"account_id": world.account["id"], "text": "Oops"}
        )
    ).json()["id"]
    _, comms_api = await user_factory(Role.comms)
    filed = await comms_api.post(
        "/api/v1/incidents",
        json={"title": "Wrong post", "category": "erroneous_post", "severity": "SEV3"},
    )
    assert filed.status_code == 201, filed.text
    incident = filed.json()
    comms = await browser_of(app, world, world.approver)
    page = await comms.get(f"/posts/{pr}")
    assert "Incidents about this post" in page.text and incident["reference"] in page.text
    linked = await comms.post(
        "/incidents/post-links",
        data=form(comms, incident_id=str(incident["id"]), post_request_id=str(pr)),
    )
    assert linked.status_code == 303, linked.text
    page = await comms.get(linked.headers["location"])
    assert f'href="/incidents/{incident["id"]}"' in page.text
    shown = await comms.get(f"/incidents/{incident['id']}")
    assert "Post request it concerns" in shown.text and f'href="/posts/{pr}"' in shown.text
    api = await comms_api.get(f"/api/v1/incidents/{incident['id']}")
    assert api.json()["post_request_id"] == pr
    await comms.aclose()


async def test_a_dutch_reader_gets_the_refusal_and_the_page_in_dutch(
    app: Any, world: World
) -> None:
    """The photo's refusal and the post request's page in the reader's language."""
    staff = await browser_of(app, world, world.submitter)
    staff.headers["Accept-Language"] = "nl"
    sent = await submit_page(staff, world, photo=("foto.jpg", b"%PDF-1.7 geen foto", "image/jpeg"))
    assert sent.status_code == 422
    assert "dit bestand is geen foto die het register aanneemt" in sent.text
    assert "Een bericht indienen" in sent.text
    made = await submit_page(staff, world)
    assert made.status_code == 303, made.text
    page = await staff.get(made.headers["location"])
    assert "Locatiegegevens verwijderd:" in page.text and "Wacht op goedkeuring" in page.text
    await staff.aclose()


async def test_the_api_document_describes_post_approval(client: httpx.AsyncClient) -> None:
    """/schema lists every post approval operation, the photo upload as multipart, the proof."""
    doc = (await client.get("/schema/openapi.json")).json()
    paths = doc["paths"]
    base = "/api/v1/post-requests/{post_request_id}"
    assert {"get", "post"} <= set(paths["/api/v1/post-requests"])
    for tail, method in (
        ("", "patch"),
        ("/resubmit", "post"),
        ("/approve", "post"),
        ("/send-back", "post"),
        ("/posted", "post"),
        ("/media", "post"),
        ("/media/{media_id}", "get"),
        ("/media/{media_id}", "delete"),
    ):
        assert method in paths[base + tail], base + tail
    upload = paths[base + "/media"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    assert upload["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    schemas = doc["components"]["schemas"]
    out = next(v for k, v in schemas.items() if k.endswith("PostRequestOut"))
    assert "approved_sha256" in out["properties"] and "media" in out["properties"]
    assert "8 bytes big-endian" in out["properties"]["approved_sha256"]["description"]
    media = next(v for k, v in schemas.items() if k.endswith("MediaOut"))
    assert media["properties"]["removed"]["type"] == "array"
    assert "put" in paths["/api/v1/accounts/{account_id}/post-approval"]
    scope = next(
        p for p in paths["/api/v1/post-requests"]["get"]["parameters"] if p["name"] == "scope"
    )
    assert set(scope["schema"]["enum"]) == {"visible", "mine", "waiting"}


async def test_sent_back_then_changed_and_submitted_again_on_the_page(
    app: Any, world: World
) -> None:
    """The reason shows on the submitter's page; they change the text and submit it again."""
    staff = await browser_of(app, world, world.submitter)
    where = (await submit_page(staff, world, text="First try")).headers["location"]
    pr = int(where.split("/")[2].split("?")[0])
    back = await world.approver_c.post(
        f"/api/v1/post-requests/{pr}/send-back", json={"version": 1, "reason": "Name the hall."}
    )
    assert back.status_code == 200, back.text
    page = await staff.get(f"/posts/{pr}")
    assert "Sent back because" in page.text and "Name the hall." in page.text
    assert "Save and submit again" in page.text
    again = await staff.post(
        f"/posts/{pr}/edit",
        data=form(staff, version="2", text="Second try: hall 3", resubmit="1"),
        files={"photo": ("", b"", "application/octet-stream")},
    )
    assert again.status_code == 303, again.text
    page = await staff.get(again.headers["location"])
    assert "Submitted again to the approvers." in page.text and "Second try: hall 3" in page.text
    assert "Waiting for approval" in page.text
    await staff.aclose()
