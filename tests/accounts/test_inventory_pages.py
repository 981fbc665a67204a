"""The inventory page: the export, and an import previewed (nothing written) before it is applied."""

from __future__ import annotations

import base64
import html
import re
import zlib
from typing import Any

import httpx

from register.audit import head
from register.enums import Role
from tests.helpers import assert_problem, page_client

SHEET = (
    "Network,Account URL,Owner,Backup,2FA,Notes\r\n"
    "X,@known_one,ana@example.com,ben@example.com,authenticator,changed notes\r\n"
    "Instagram,@fresh.one,ana@example.com,,sms,\r\n"
    "X,@same_one,ana@example.com,ben@example.com,authenticator,\r\n"
    "TikTok,@brand.new,eve@example.com,ana@example.com,yubikey,launch\r\n"
)


def hidden_fields(page: str) -> dict[str, str]:
    """The apply form's hidden fields, as a browser would send them back."""
    form = page[page.index('action="/accounts/inventory/apply"') :]
    return {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', form
        )
    }


async def state(it: httpx.AsyncClient) -> tuple[Any, Any]:
    """Everything an import could change: the accounts as the API shows them, the trail's head."""
    return (await it.get("/api/v1/accounts?limit=200")).json()["items"], await head()


async def setup(make_account: Any) -> dict[str, Any]:
    """Two accounts the sheet names: one it changes, one it leaves as it is."""
    known = await make_account(handle="known_one", recovery_email="", notes="old notes")
    same = await make_account(handle="same_one", recovery_email="")
    return {"known": known, "same": same}


async def preview(c: httpx.AsyncClient, sheet: str, **fields: str) -> httpx.Response:
    """Upload a sheet to the preview, as the page's form does."""
    return await c.post(
        "/accounts/inventory/preview",
        data={"csrf_token": c.cookies["register_csrf"], **fields},
        files={"file": ("inventory.csv", sheet.encode(), "text/csv")},
    )


async def test_a_preview_writes_nothing_and_the_apply_writes_what_it_said(
    app: Any, it: httpx.AsyncClient, make_account: Any, people: dict[str, int]
) -> None:
    """New accounts and changed fields by line in words; nothing written; then exactly that."""
    made = await setup(make_account)
    c = await page_client(app, Role.it)
    before = await state(it)
    try:
        page = await c.get("/accounts/inventory")
        assert 'href="/api/v1/accounts/export.csv"' in page.text
        assert 'enctype="multipart/form-data"' in page.text and 'type="file"' in page.text
        shown = await preview(c, SHEET)
        assert shown.status_code == 200, shown.text
        assert await state(it) == before, "the preview wrote something"
        text = " ".join(shown.text.split())
        assert "The file has 4 accounts. 2 would be added, 1 changed, 1 stays as it is." in text
        assert "Nothing has been written yet." in text
        # New accounts with what they would hold, people by name.
        new = text[text.index("New accounts") : text.index("Changed accounts")]
        assert "fresh.one" in new and "brand.new" in new and "line 3" in new and "line 5" in new
        assert "Eve Active" in new and "Hardware key" in new and "TikTok" in new
        # The changed account, field by field: now and after.
        changed = text[text.index("Changed accounts") :]
        assert f'<a href="/accounts/{made["known"]["id"]}">known_one</a>' in changed
        assert (
            '<tr><th scope="row">Notes</th><td>old notes</td><td>changed notes</td></tr>' in changed
        )
        assert "same_one" not in text[text.index("What the import would change") :]

        fields = hidden_fields(text)
        assert set(fields) == {
            "csrf_token",
            "content",
            "mapping",
            "plan",
            "issued",
            "signature",
        }
        assert zlib.decompress(base64.b64decode(fields["content"])) == SHEET.encode()
        applied = await c.post("/accounts/inventory/apply", data=fields)
        assert applied.status_code == 303
        assert applied.headers["location"] == (
            "/accounts/inventory?imported=1&rows=4&created=2&updated=1&unchanged=1"
        )
        result = await c.get(applied.headers["location"])
        assert "The import is done.</strong> 2 accounts added, 1 changed, 1 unchanged." in " ".join(
            result.text.split()
        )
        after = {a["handle"]: a for a in (await state(it))[0]}
        assert set(after) == {"known_one", "same_one", "fresh.one", "brand.new"}
        assert after["known_one"]["notes"] == "changed notes"
        assert after["known_one"]["version"] == made["known"]["version"] + 1
        assert after["same_one"] == next(a for a in before[0] if a["handle"] == "same_one")
        assert after["brand.new"]["custodian_id"] == people["eve"]
        assert after["brand.new"]["mfa_method"] == "hardware_key"
        assert after["fresh.one"]["mfa_method"] == "sms"
        # The same form again: the register has changed (it is applied), so nothing more is.
        again = await c.post("/accounts/inventory/apply", data=fields)
        assert again.status_code == 409 and "The register changed since your preview" in again.text
        assert "Nothing would change" in again.text
    finally:
        await c.aclose()


async def test_the_apply_takes_back_only_the_file_this_person_previewed(
    app: Any, it: httpx.AsyncClient, make_account: Any
) -> None:
    """An altered file, a changed plan, or another user's preview is refused; nothing written."""
    await setup(make_account)
    c = await page_client(app, Role.it)
    other = await page_client(app, Role.admin)
    try:
        fields = hidden_fields((await preview(c, SHEET)).text)
        before = await state(it)
        evil = SHEET.replace("@fresh.one", "@taken.over")
        for changed in (
            {"content": base64.b64encode(zlib.compress(evil.encode())).decode()},
            {"plan": "0" * 64},
            {"issued": str(int(fields["issued"]) + 1)},
            {"content": "not base64 at all"},
        ):
            refused = await c.post("/accounts/inventory/apply", data={**fields, **changed})
            assert refused.status_code == 422, changed
            assert "This preview cannot be applied" in refused.text
            assert 'aria-describedby="file-error file-hint"' in refused.text
        theirs = await other.post(
            "/accounts/inventory/apply",
            data={**fields, "csrf_token": other.cookies["register_csrf"]},
        )
        assert theirs.status_code == 422 and "This preview cannot be applied" in theirs.text
        assert await state(it) == before
    finally:
        await c.aclose()
        await other.aclose()


async def test_a_change_since_the_preview_is_shown_and_nothing_is_imported(
    app: Any, it: httpx.AsyncClient, make_account: Any
) -> None:
    """Someone changes an account between preview and apply: a new preview, not a surprise."""
    made = await setup(make_account)
    c = await page_client(app, Role.it)
    try:
        fields = hidden_fields((await preview(c, SHEET)).text)
        moved = await it.patch(
            f"/api/v1/accounts/{made['same']['id']}",
            json={"version": made["same"]["version"], "notes": "set by hand meanwhile"},
        )
        assert moved.status_code == 200
        before = await state(it)
        late = await c.post("/accounts/inventory/apply", data=fields)
        assert late.status_code == 409
        assert "The register changed since your preview, so nothing was imported." in late.text
        assert "set by hand meanwhile" in late.text and "2 changed," in " ".join(late.text.split())
        assert await state(it) == before
        # The new preview's own form applies.
        done = await c.post("/accounts/inventory/apply", data=hidden_fields(late.text))
        assert done.status_code == 303 and "updated=2" in done.headers["location"]
    finally:
        await c.aclose()


async def test_line_errors_are_shown_by_line_and_column_and_nothing_is_written(
    app: Any, it: httpx.AsyncClient, make_account: Any
) -> None:
    """Every bad line with its number, its column in words and the problem; no apply button."""
    await setup(make_account)
    bad = (
        "platform,handle,custodian,mfa\n"
        "x,@good_one,ana@example.com,app\n"
        "myspace,@old,ana@example.com,app\n"
        "x,@third,nobody@example.com,app\n"
    )
    c = await page_client(app, Role.it)
    before = await state(it)
    try:
        page = await preview(c, bad)
        assert page.status_code == 422
        assert "2 problems in the file" in page.text and "Nothing was imported." in page.text
        assert '<tr><th scope="row">3</th><td>Platform</td><td>unknown platform' in page.text
        assert (
            '<tr><th scope="row">4</th><td>Custodian\'s e-mail</td>'
            "<td>no employee with work e-mail nobody@example.com</td></tr>"
        ) in page.text
        assert "/accounts/inventory/apply" not in page.text
        nofile = await c.post(
            "/accounts/inventory/preview",
            data={"csrf_token": c.cookies["register_csrf"]},
            files={"other": ("x.txt", b"", "text/plain")},
        )
        assert nofile.status_code == 422
        assert '<p class="error" id="file-error">Choose the CSV file to import.</p>' in nofile.text
        mapping = await preview(c, SHEET, mapping="{not json")
        assert mapping.status_code == 422 and 'id="mapping-error"' in mapping.text
        assert 'value="{not json"' in mapping.text
        assert await state(it) == before
    finally:
        await c.aclose()


async def test_readers_download_the_export_but_only_it_imports(app: Any, make_account: Any) -> None:
    """HR reads the inventory and its export; the import's form is not theirs, nor its routes."""
    await setup(make_account)
    hr = await page_client(app, Role.hr)
    try:
        page = await hr.get("/accounts/inventory")
        assert page.status_code == 200 and 'href="/api/v1/accounts/export.csv"' in page.text
        assert "/accounts/inventory/preview" not in page.text
        exported = await hr.get("/api/v1/accounts/export.csv")
        assert exported.status_code == 200 and "known_one" in exported.text
        assert (await preview(hr, SHEET)).status_code == 403
    finally:
        await hr.aclose()


async def test_the_api_previews_and_applies_a_plan_the_same_way(
    it: httpx.AsyncClient, make_account: Any
) -> None:
    """dry_run says what it would change and writes nothing; expect_plan applies only that."""
    await setup(make_account)
    before = await state(it)
    upload = {"file": ("inventory.csv", SHEET.encode(), "text/csv")}
    dry = await it.post("/api/v1/accounts/imports", data={"dry_run": "true"}, files=upload)
    assert dry.status_code == 200, dry.text
    plan = dry.json()
    assert plan["dry_run"] is True and (plan["created"], plan["updated"]) == (2, 1)
    assert [(c["line"], c["action"]) for c in plan["changes"]] == [
        (2, "update"),
        (3, "create"),
        (5, "create"),
    ]
    assert plan["changes"][0]["fields"] == [
        {"field": "notes", "old": "old notes", "new": "changed notes"}
    ]
    assert plan["changes"][1]["account_id"] is None
    assert await state(it) == before
    stale = await it.post("/api/v1/accounts/imports", data={"expect_plan": "0" * 64}, files=upload)
    assert_problem(stale, 409, "conflict", field="file")
    assert await state(it) == before
    done = await it.post(
        "/api/v1/accounts/imports", data={"expect_plan": plan["plan"]}, files=upload
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["dry_run"] is False and body["plan"] == plan["plan"]
    created = {c["handle"]: c["account_id"] for c in body["changes"] if c["action"] == "create"}
    for handle, account_id in created.items():
        account = (await it.get(f"/api/v1/accounts/{account_id}")).json()
        assert account["handle"] == handle
        previewed = next(c for c in plan["changes"] if c["handle"] == handle)
        assert {f["field"]: f["new"] for f in previewed["fields"]} == {
            f["field"]: account[f["field"]] for f in previewed["fields"]
        }
