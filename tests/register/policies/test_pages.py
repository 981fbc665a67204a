"""The policy and training pages: a member of staff acknowledges, HR creates, publishes and
sees coverage, the import says each bad line."""

from __future__ import annotations

import datetime as dt
from typing import Any

from register.enums import Role
from register.policies.tables import PolicyAcknowledgement, PolicyVersion
from tests.conftest import UserFactory
from tests.helpers import form, page_client


async def test_hr_writes_and_publishes_a_policy_and_staff_acknowledge_it(
    app: Any, staff: dict[str, int], user_factory: UserFactory
) -> None:
    hr = await page_client(app, Role.hr, name="Hana HR")
    new = await hr.get("/policies/new?kind=personal_use")
    assert new.status_code == 200, new.text
    # The personal-use template keeps employees' right to discuss their working conditions.
    assert "National Labor Relations Act" in new.text
    assert "criticising the" in new.text and "will never be applied to it" in new.text
    today = dt.date.today()
    owner_id = next(
        line.split('value="')[1].split('"')[0]
        for line in new.text.splitlines()
        if "<option" in line and "Hana HR" in line
    )
    too_late = await hr.post(
        "/policies/new",
        data=form(
            hr,
            title="Personal use",
            kind="personal_use",
            owner_id=owner_id,
            department="Sales",
            body="# Personal use\n\n<b>bold?</b> Talk about your pay freely.",
            effective_on=today.isoformat(),
            review_by=(today + dt.timedelta(days=200)).isoformat(),
        ),
    )
    assert too_late.status_code == 422
    assert 'id="review_by-error"' in too_late.text and "six months" in too_late.text
    made = await hr.post(
        "/policies/new",
        data=form(
            hr,
            title="Personal use",
            kind="personal_use",
            owner_id=owner_id,
            department="Sales",
            body="# Personal use\n\n<b>bold?</b> Talk about your pay freely.",
            effective_on=today.isoformat(),
            review_by=(today + dt.timedelta(days=100)).isoformat(),
        ),
    )
    assert made.status_code == 303, made.text
    policy_page = await hr.get(made.headers["location"])
    assert "Publish this version" in policy_page.text
    version = await PolicyVersion.select().first()
    published = await hr.post(
        f"/policies/versions/{version['id']}/publish",
        data=form(hr, version=str(version["version"])),
    )
    assert published.status_code == 303
    assert "everyone it applies to is asked" in (await hr.get(published.headers["location"])).text

    sam = await page_client(app, Role.staff, employee_id=staff["sam"], name="Sam")
    home = await sam.get("/")
    assert "Policies to acknowledge" in home.text and "Personal use" in home.text
    # A Dutch reader reads the same pages in Dutch.
    dutch = await sam.get("/", headers={"Accept-Language": "nl"})
    assert "Beleid om te bevestigen" in dutch.text
    read = await sam.get(f"/policies/versions/{version['id']}", headers={"Accept-Language": "nl"})
    assert "Ik heb het gelezen en bevestig het" in read.text
    page = await sam.get(f"/policies/versions/{version['id']}")
    assert page.status_code == 200
    # Raw HTML in the text is shown as text, never as markup.
    assert "&lt;b&gt;bold?&lt;/b&gt;" in page.text and "<b>bold?</b>" not in page.text
    done = await sam.post(f"/policies/versions/{version['id']}/acknowledge", data=form(sam))
    assert done.status_code == 303
    assert "your acknowledgement is recorded" in (await sam.get(done.headers["location"])).text
    assert "Policies to acknowledge" not in (await sam.get("/")).text
    assert (
        await PolicyAcknowledgement.count().where(
            PolicyAcknowledgement.acknowledged_at.is_not_null()
        )
        == 1
    )
    # Mia (Marketing) is not asked, and may not open it.
    mia = await page_client(app, Role.staff, employee_id=staff["mia"], name="Mia")
    assert "Policies to acknowledge" not in (await mia.get("/")).text
    assert (await mia.get(f"/policies/versions/{version['id']}")).status_code == 403
    assert (await mia.get("/policies/coverage")).status_code == 403

    coverage = await hr.get("/policies/coverage")
    assert coverage.status_code == 200
    assert 'id="acknowledged-chart"' in coverage.text and "Personal use" in coverage.text
    # One of the three asked: a third of a fixed 0-100% scale, with the share and the counts in
    # words (the bar, its desc and the table), not the only bar drawn at full width.
    chart = coverage.text.split('id="acknowledged-chart"')[1].split("</svg>")[0]
    assert 'width="33.0%" height="18" rx="2" class="chart-bar"' in chart
    assert chart.count("33%: 1 of 3 acknowledged") == 2 and ">100%</text>" in chart
    assert '<td class="num">33%</td>' in coverage.text
    dutch = await hr.get("/policies/coverage", headers={"Accept-Language": "nl"})
    assert "33%: 1 van de 3 bevestigd" in dutch.text
    who = await hr.get(f"/policies/versions/{version['id']}/acknowledgements")
    assert "Sam Person" in who.text and "Sue Person" in who.text


async def test_training_pages_and_the_import_saying_each_bad_line(
    app: Any, staff: dict[str, int]
) -> None:
    hr = await page_client(app, Role.hr, name="Hana HR")
    made = await hr.post(
        "/training/courses/new",
        data=form(
            hr,
            title="Posting for the company",
            required_roles="comms",
            required_platforms="x, linkedin",
            renewal_months="12",
        ),
    )
    assert made.status_code == 303, made.text
    course = await hr.get(made.headers["location"])
    assert "Posting for the company" in course.text and "linkedin" in course.text
    bad = b"email,course,completed_on\nnobody@example.com,Posting for the company,2024-01-02\n"
    refused = await hr.post(
        "/training/import",
        data={"csrf_token": hr.cookies["register_csrf"]},
        files={"file": ("done.csv", bad, "text/csv")},
    )
    assert refused.status_code == 422
    assert "Line 2, email" in refused.text and "nobody@example.com" in refused.text
    good = b"email,course,completed_on\nsam@example.com,Posting for the company,2024-01-02\n"
    imported = await hr.post(
        "/training/import",
        data={"csrf_token": hr.cookies["register_csrf"]},
        files={"file": ("done.csv", good, "text/csv")},
    )
    assert imported.status_code == 303, imported.text
    sam = await page_client(app, Role.staff, employee_id=staff["sam"], name="Sam")
    mine = await sam.get("/training")
    assert "Posting for the company" in mine.text and "Overdue" in mine.text
    assert "Add a course" not in mine.text
