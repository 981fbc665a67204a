"""A member of staff first acknowledges the job-use policy on their home page, then submits a post
with a photo from there; the approver approves it on a phone; both see the photo stripped of its
location. Every page shot at phone and laptop width and checked by axe."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from playwright.async_api import Page, expect

from accounts.posts.services import set_approval
from accounts.services import add_grant, create_account
from register.actor import Actor
from register.enums import Role
from register.policies import flows as policy_flows
from register.policies import services as policy_services
from register.policies.pages import template_text
from register.services import create_user
from register.settings import Settings
from register.staff.services import create_employee
from tests.accounts.posts.photos import jpeg_with_gps
from tests.browser.conftest import PHONE, shoot
from tests.browser.test_account_forms import PASSWORD, sign_in

STAFF = "lena@northwind.example"
APPROVER = "omar@northwind.example"


async def world(settings: Settings) -> dict[str, Any]:
    """@northwind_news needs approval; Lena (staff) holds a grant; Omar (comms) approves."""
    system = Actor.system("test")
    made: dict[str, int] = {}
    for key, name in (("lena", "Lena Vos"), ("omar", "Omar Haddad")):
        row = await create_employee(
            actor=system,
            data={"name": name, "work_email": f"{key}@northwind.example", "department": "Comms"},
        )
        made[key] = row["id"]
    account = await create_account(
        actor=system,
        settings=settings,
        data={"platform": "instagram", "handle": "northwind_news", "custodian_id": made["omar"]},
    )
    await add_grant(
        actor=system, account_id=account["id"], employee_id=made["lena"], level="editor"
    )
    users = {}
    for email, role, key in ((STAFF, Role.staff, "lena"), (APPROVER, Role.comms, "omar")):
        user, _ = await create_user(
            actor=system,
            email=email,
            role=role,
            password=PASSWORD,
            must_change_password=False,
            employee_id=made[key],
        )
        users[key] = user
    await set_approval(
        actor=system,
        account_id=account["id"],
        requires_approval=True,
        approvers=[users["omar"]["id"]],
        version=0,
    )
    # The policy on using social media for the job, published to the department.
    today = dt.date.today()
    policy = await policy_services.create_policy(
        actor=system,
        data={
            "title": "Using social media for Northwind",
            "kind": "job_use",
            "owner_id": users["omar"]["id"],
            "department": "Comms",
            "body": template_text("job_use"),
            "effective_on": today,
            "review_by": today + dt.timedelta(days=150),
        },
    )
    await policy_flows.publish_version(
        actor=system, version_id=policy["draft"]["id"], version=policy["draft"]["version"]
    )
    return {"account": account, "users": users}


async def test_staff_submit_a_post_with_a_photo_and_an_approver_approves_it_on_a_phone(
    server: str, page: Page, browser: Any, settings: Settings
) -> None:
    """From the staff member's home page to the approver's phone, and back to posted."""
    await world(settings)
    await sign_in(page, server, STAFF)
    # First the policy that asks for her acknowledgement, on her home page.
    policies = page.get_by_role("region", name="Policies to acknowledge")
    await expect(policies).to_contain_text("Using social media for Northwind")
    await shoot(page, "posts-staff-home-policy")
    await policies.get_by_role("link", name="Using social media for Northwind").click()
    await page.get_by_role("button", name="I have read it and acknowledge it").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Thank you: your acknowledgement is recorded."
    )
    await page.get_by_role("link", name="Home", exact=True).click()
    await expect(page.get_by_role("region", name="Policies to acknowledge")).to_have_count(0)
    mine = page.get_by_role("region", name="My post requests")
    await expect(mine).to_contain_text("You have not submitted a post yet.")
    await shoot(page, "posts-staff-home")
    await mine.get_by_role("link", name="Submit a post").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Submit a post")
    await page.get_by_label("Text of the post").fill("Our new harbour office opens on Monday!")
    await page.get_by_label("When it is to go out (optional)").fill("2027-03-01T10:00")
    # First a file that is no photo: refused next to the field, the text kept.
    await page.get_by_label("Photo (optional)").set_input_files(
        files=[{"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": b"%PDF-1.7 not a photo"}]
    )
    await page.get_by_role("button", name="Submit for approval").click()
    await expect(page.locator("#photo-error")).to_contain_text("not a photo the register takes")
    await expect(page.get_by_label("Text of the post")).to_have_value(
        "Our new harbour office opens on Monday!"
    )
    await shoot(page, "posts-submit-refused")
    await page.get_by_label("Photo (optional)").set_input_files(
        files=[{"name": "IMG_0042.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps()}]
    )
    await page.get_by_role("button", name="Submit for approval").click()

    await expect(page.get_by_role("status")).to_contain_text("Submitted.")
    # Named by its account and time, not by its number.
    name = "Post on Instagram northwind_news for Mar 1, 2027, 10:00\u202fAM"
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    figure = page.locator("figure.post-photo")
    await expect(figure).to_contain_text("Location data removed:")
    await expect(figure).to_contain_text("GPSLatitude")
    await expect(page.get_by_role("img", name="Photo 1 of the post, as it is kept")).to_be_visible()
    await expect(page.get_by_text("You cannot approve your own post.")).to_be_visible()
    await shoot(page, "posts-submitted")
    post_url = page.url.split("?")[0]
    # The photo the browser shows holds no location: read back through the page's own link.
    src = await page.get_by_role("img", name="Photo 1 of the post, as it is kept").get_attribute(
        "src"
    )
    shown = await page.request.get(server + str(src))
    import exifread

    assert exifread.process_file(io.BytesIO(await shown.body())) == {}

    # The approver, on a phone.
    phone = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    approver = await phone.new_page()
    await sign_in(approver, server, APPROVER)
    waiting = approver.get_by_role("region", name="Posts waiting for you")
    await expect(waiting).to_contain_text("Our new harbour office opens on Monday!")
    await approver.screenshot(path=_shot("posts-approver-home-phone"), full_page=True)
    await waiting.get_by_role("link", name=name).click()
    await expect(approver.get_by_role("heading", level=1)).to_have_text(name)
    await expect(approver.get_by_role("region", name="Your decision")).to_be_visible()
    await expect(approver.locator("figure.post-photo")).to_contain_text("Location data removed:")
    # Nothing runs off the side of a 320 px screen.
    width = await approver.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    await approver.screenshot(path=_shot("posts-approver-decide-phone"), full_page=True)
    await approver.get_by_role("button", name="Approve").click()
    await expect(approver.get_by_role("status")).to_contain_text("Approved.")
    await expect(approver.get_by_text("SHA-256 of the approved version")).to_be_visible()
    await approver.screenshot(path=_shot("posts-approved-phone"), full_page=True)
    from tests.browser.conftest import check_accessibility

    await check_accessibility(approver, "posts-approved-phone")
    await phone.close()

    # Back with the staff member: approved, so they post it and record where.
    await page.goto(post_url)
    await expect(page.get_by_role("region", name="Posted it?")).to_be_visible()
    await page.get_by_label("Address of the live post").fill(
        "https://www.instagram.com/p/northwind42/"
    )
    await page.get_by_role("button", name="Mark as posted").click()
    await expect(page.get_by_role("status")).to_contain_text("Recorded as posted.")
    await expect(page.get_by_role("region", name="History")).to_contain_text("Approved and locked")
    await shoot(page, "posts-posted")


def _shot(name: str) -> str:
    import os

    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(exist_ok=True)
    backend = os.environ.get("REGISTER_TEST_DATABASE", "sqlite")
    return str(SCREENSHOTS / f"{name}-{backend}.png")


async def test_comms_sees_every_post_and_sets_an_accounts_approvers(
    server: str, page: Page, settings: Settings
) -> None:
    """The list of every post request, the account's section and its approval form, by comms."""
    made = await world(settings)
    account_id = made["account"]["id"]
    # Lena submits one, so the list has a row to name.
    await sign_in(page, server, STAFF)
    await page.goto(server + "/posts/new")
    await page.get_by_label("Text of the post").fill("Meet us at the harbour fair, stand 12.")
    await page.get_by_label("When it is to go out (optional)").fill("2027-04-12T09:30")
    await page.get_by_role("button", name="Submit for approval").click()
    await expect(page.get_by_role("status")).to_contain_text("Submitted.")
    await page.get_by_role("button", name="Sign out").click()
    await sign_in(page, server, APPROVER)
    await page.goto(server + "/posts")
    every = page.get_by_role("region", name="Every post request").first
    await expect(every).to_be_visible()
    await expect(
        every.get_by_role(
            "link", name="Post on Instagram northwind_news for Apr 12, 2027, 9:30\u202fAM"
        )
    ).to_be_visible()
    await shoot(page, "posts-list")
    await page.goto(server + f"/accounts/{account_id}")
    section = page.get_by_role("region", name="Post approval")
    await expect(section).to_contain_text("need approval before they go out")
    await expect(section).to_contain_text("Omar Haddad")
    await section.get_by_role("link", name="Change the post approval").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Post approval")
    await page.get_by_label("Lena Vos").check()
    await shoot(page, "posts-approval-form")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("The post approval is saved.")
    await expect(page.get_by_role("region", name="Post approval")).to_contain_text("Lena Vos")
