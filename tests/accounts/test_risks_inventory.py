"""Risk findings, re-certification, and the inventory CSV in and out."""

from __future__ import annotations

import csv
import datetime as dt
import io

from accounts.services import _risks as risks
from accounts.services import forget_judged
from accounts.tables import AccessGrant, Credential, SocialAccount
from register.actor import Actor
from register.enums import Role
from register.staff.services import sweep_leavers
from tests.helpers import assert_problem


async def _kinds(client, account_id):
    return {r["kind"] for r in (await client.get(f"/api/v1/accounts/{account_id}")).json()["risks"]}


async def test_each_risk_kind_is_found(it, people, make_account, settings):
    clean = await make_account()
    assert await _kinds(it, clean["id"]) == set()
    assert "no_backup_custodian" in await _kinds(
        it, (await make_account(backup_custodian_id=None))["id"]
    )
    assert "custodian_leaving" in await _kinds(
        it, (await make_account(custodian_id=people["cy"]))["id"]
    )
    assert "backup_leaving" in await _kinds(
        it, (await make_account(backup_custodian_id=people["cy"]))["id"]
    )
    assert "mfa_holder_leaving" in await _kinds(
        it, (await make_account(mfa_holder_id=people["cy"]))["id"]
    )
    assert "recovery_email_not_company" in await _kinds(
        it, (await make_account(recovery_email="ana.personal@gmail.com"))["id"]
    )
    assert "recovery_phone_not_company" in await _kinds(
        it, (await make_account(recovery_phone="+44 7700 900123"))["id"]
    )
    assert "weak_mfa" in await _kinds(it, (await make_account(mfa_method="sms"))["id"])
    assert "weak_mfa" in await _kinds(it, (await make_account(mfa_method="none"))["id"])
    aged = await make_account()
    await it.put(f"/api/v1/accounts/{aged['id']}/credential", json={"password": "old one"})
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=settings.credential_max_age_days + 1)
    await Credential.update({Credential.set_at: old}).where(Credential.account == aged["id"])
    # The writes below go around the register (no audit event), so its memory is dropped by hand.
    forget_judged()
    assert "rotation_due" in await _kinds(it, aged["id"])
    leaver = await make_account()
    await AccessGrant.insert(
        AccessGrant(account=leaver["id"], employee=people["dee"], level="editor", granted_at=old)
    )
    forget_judged()
    assert "grant_held_by_leaver" in await _kinds(it, leaver["id"])
    stale = await make_account()
    await SocialAccount.update(
        {
            SocialAccount.created_at: dt.datetime.now(dt.UTC)
            - dt.timedelta(days=settings.recertification_days + 5)
        }
    ).where(SocialAccount.id == stale["id"])
    forget_judged()
    assert "recertification_overdue" in await _kinds(it, stale["id"])


async def test_findings_are_remembered_until_the_register_changes(
    it, people, make_account, monkeypatch
):
    """A page's findings are judged once, and judged again as soon as anything is changed."""
    account = await make_account(backup_custodian_id=None)
    judged: list[list[int]] = []
    judge = risks._judge

    async def counting(account_ids, settings, at=None):
        judged.append(list(account_ids))
        return await judge(account_ids, settings, at)

    monkeypatch.setattr(risks, "_judge", counting)
    url = "/api/v1/accounts?status=active"
    first = (await it.get(url)).json()["items"]
    assert [r["kind"] for r in first[0]["risks"]] == ["no_backup_custodian"]
    assert (await it.get(url)).json()["items"] == first
    assert len(judged) <= 1  # none if creating it had already judged it
    judged.clear()
    changed = await it.patch(
        f"/api/v1/accounts/{account['id']}",
        json={"version": account["version"], "backup_custodian_id": people["ben"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["risks"] == []
    assert (await it.get(url)).json()["items"][0]["risks"] == []
    # Judged once after the change: for the answer to the change, reused by the list.
    assert judged == [[account["id"]]]


async def test_risk_report_totals_and_paging(it, people, make_account, user_factory):
    await make_account()
    for n in range(3):
        await make_account(
            backup_custodian_id=None, mfa_method="sms" if n == 0 else "authenticator_app"
        )
    report = (await it.get("/api/v1/accounts/risks")).json()
    assert report["accounts"] == 4
    assert report["totals"]["no_backup_custodian"] == 3 and report["totals"]["weak_mfa"] == 1
    assert len(report["items"]) == 3
    one = (await it.get("/api/v1/accounts/risks?kind=weak_mfa")).json()
    assert [i["findings"][0]["kind"] for i in one["items"]].count(
        "no_backup_custodian"
    ) == 1 and len(one["items"]) == 1
    paged = (await it.get("/api/v1/accounts/risks?limit=2")).json()
    assert len(paged["items"]) == 2 and paged["next_offset"] == 2
    assert_problem(await it.get("/api/v1/accounts/risks?kind=bogus"), 422, field="risk")
    _, auditor = await user_factory(Role.auditor)
    assert (await auditor.get("/api/v1/accounts/risks")).status_code == 200


async def test_recertification(it, people, make_account, user_factory, settings):
    acct = await make_account()
    own = (
        await it.post(
            f"/api/v1/accounts/{acct['id']}/grants",
            json={"employee_id": people["ana"], "level": "owner"},
        )
    ).json()
    eve = (
        await it.post(
            f"/api/v1/accounts/{acct['id']}/grants",
            json={"employee_id": people["eve"], "level": "editor"},
        )
    ).json()
    await SocialAccount.update(
        {
            SocialAccount.created_at: dt.datetime.now(dt.UTC)
            - dt.timedelta(days=settings.recertification_days + 1)
        }
    ).where(SocialAccount.id == acct["id"])
    overdue = (await it.get("/api/v1/accounts/recertifications?state=overdue")).json()["items"]
    assert [i["account_id"] for i in overdue] == [acct["id"]]
    _, ana = await user_factory(Role.comms, employee_id=people["ana"])
    _, ben = await user_factory(Role.comms, employee_id=people["ben"])
    assert_problem(
        await ben.post(
            f"/api/v1/accounts/{acct['id']}/recertify",
            json={"keep_grant_ids": [own["id"], eve["id"]]},
        ),
        403,
    )
    assert_problem(
        await ana.post(
            f"/api/v1/accounts/{acct['id']}/recertify", json={"keep_grant_ids": [own["id"]]}
        ),
        422,
        field="keep_grant_ids",
    )
    assert_problem(
        await ana.post(
            f"/api/v1/accounts/{acct['id']}/recertify",
            json={"keep_grant_ids": [eve["id"]], "revoke_grant_ids": [own["id"]]},
        ),
        409,
    )
    done = await ana.post(
        f"/api/v1/accounts/{acct['id']}/recertify",
        json={
            "keep_grant_ids": [own["id"]],
            "revoke_grant_ids": [eve["id"]],
            "notes": "Eve moved to sales",
        },
    )
    assert done.status_code == 200, done.text
    assert done.json()["revoked_grant_ids"] == [eve["id"]]
    account = (await it.get(f"/api/v1/accounts/{acct['id']}")).json()
    assert account["last_recertified_at"] is not None and "recertification_overdue" not in {
        r["kind"] for r in account["risks"]
    }
    assert (await it.get("/api/v1/accounts/recertifications?state=overdue")).json()["items"] == []
    active = (await it.get(f"/api/v1/accounts/{acct['id']}/grants?active=true")).json()
    assert [g["id"] for g in active] == [own["id"]]


SPREADSHEET = (
    "\ufeffNetwork;Account URL;Owner;Backup;2FA;Recovery email;Notes\r\n"
    'Twitter;https://twitter.com/Northwind_Out_?s=20;ana@example.com;ben@example.com;Authenticator;social@example.com;"Brand; main"\r\n'
    "Instagram;@Northwind.Outdoor;ana@example.com;;SMS;ana.personal@gmail.com;\r\n"
    "\r\n"
    ";https://www.linkedin.com/company/northwind-outdoor/;eve@example.com;ana@example.com;yubikey;;LinkedIn Page\r\n"
)


async def test_inventory_import_then_export_round_trip(it, people):
    resp = await it.post(
        "/api/v1/accounts/imports",
        files={"file": ("inventory.csv", SPREADSHEET.encode(), "text/csv")},
    )
    assert resp.status_code == 200, resp.text
    summary = resp.json()
    assert (summary["rows"], summary["created"], summary["updated"]) == (3, 3, 0)
    assert (
        summary["mapping"]["Owner"] == "custodian_email"
        and summary["mapping"]["2FA"] == "mfa_method"
    )
    accounts = {a["platform"]: a for a in (await it.get("/api/v1/accounts")).json()["items"]}
    assert accounts["x"]["handle"] == "northwind_out_" and accounts["x"]["notes"] == "Brand; main"
    assert (
        accounts["instagram"]["mfa_method"] == "sms"
        and accounts["instagram"]["recovery_email_company_controlled"] is False
    )
    assert (
        accounts["linkedin_page"]["mfa_method"] == "hardware_key"
        and accounts["linkedin_page"]["custodian_id"] == people["eve"]
    )
    again = (
        await it.post(
            "/api/v1/accounts/imports",
            files={"file": ("inventory.csv", SPREADSHEET.encode(), "text/csv")},
        )
    ).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    exported = await it.get("/api/v1/accounts/export.csv")
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["handle"] for r in rows} == {
        "northwind_out_",
        "northwind.outdoor",
        "northwind-outdoor",
    }
    x = next(r for r in rows if r["platform"] == "x")
    assert (
        x["custodian_email"] == "ana@example.com"
        and x["backup_custodian_email"] == "ben@example.com"
    )
    # The export imports back unchanged.
    back = (
        await it.post(
            "/api/v1/accounts/imports", files={"file": ("export.csv", exported.content, "text/csv")}
        )
    ).json()
    assert back["unchanged"] == 3


async def test_the_export_writes_times_as_the_api_does(it, make_account):
    """last_recertified_at in the CSV is spelt like the API's times (RFC 3339 with Z)."""
    acct = await make_account()
    when = dt.datetime(2026, 12, 2, 15, 11, 16, 494841, tzinfo=dt.UTC)
    await SocialAccount.update({SocialAccount.last_recertified_at: when}).where(
        SocialAccount.id == acct["id"]
    )
    api = (await it.get(f"/api/v1/accounts/{acct['id']}")).json()["last_recertified_at"]
    rows = list(csv.DictReader(io.StringIO((await it.get("/api/v1/accounts/export.csv")).text)))
    assert rows[0]["last_recertified_at"] == api == "2026-12-02T15:11:16.494841Z"


async def test_the_export_imports_back_after_a_custodian_has_left(it, people, make_account):
    """An unchanged row is unchanged whoever holds it; a row that names someone who left anew
    is refused, and a row that changes other fields of their account is not."""
    held = await make_account(custodian_id=people["cy"], mfa_holder_id=people["cy"])
    other = await make_account()
    left = await sweep_leavers(
        actor=Actor.system("test"), today=dt.date.today() + dt.timedelta(days=30)
    )
    assert left == [people["cy"]]
    exported = (await it.get("/api/v1/accounts/export.csv")).text
    back = await it.post(
        "/api/v1/accounts/imports", files={"file": ("export.csv", exported.encode(), "text/csv")}
    )
    assert back.status_code == 200, back.text
    assert (back.json()["updated"], back.json()["unchanged"]) == (0, 2)

    rows = list(csv.DictReader(io.StringIO(exported)))
    by_handle = {r["handle"]: r for r in rows}
    by_handle[other["handle"]]["mfa_holder_email"] = "cy@example.com"
    by_handle[held["handle"]]["notes"] = "custody moves with Cy's handover"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    changed = await it.post(
        "/api/v1/accounts/imports", files={"file": ("e.csv", out.getvalue().encode(), "text/csv")}
    )
    body = assert_problem(changed, 422, field="file")
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(3, "mfa_holder_email")]
    assert "not an active employee" in body["errors"][0]["message"]

    by_handle[other["handle"]]["mfa_holder_email"] = ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    fixed = await it.post(
        "/api/v1/accounts/imports", files={"file": ("e.csv", out.getvalue().encode(), "text/csv")}
    )
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["updated"], fixed.json()["unchanged"]) == (1, 1)
    now = (await it.get(f"/api/v1/accounts/{held['id']}")).json()
    assert now["notes"] == "custody moves with Cy's handover"
    assert now["custodian_id"] == now["mfa_holder_id"] == people["cy"]


async def test_an_older_sheet_cannot_undo_custody_or_flags_set_since(it, people):
    """Re-importing last month's spreadsheet must not move custody back nor reset what IT set by
    hand: custody moves by transfer, and a flag absent from the sheet is kept."""
    post = it.post(
        "/api/v1/accounts/imports",
        files={"file": ("inventory.csv", SPREADSHEET.encode(), "text/csv")},
    )
    assert (await post).status_code == 200
    accounts = {a["platform"]: a for a in (await it.get("/api/v1/accounts")).json()["items"]}
    x, insta = accounts["x"], accounts["instagram"]
    moved = await it.patch(
        f"/api/v1/accounts/{x['id']}",
        json={"version": x["version"], "custodian_id": people["eve"]},
    )
    assert moved.status_code == 200, moved.text
    flagged = await it.patch(
        f"/api/v1/accounts/{insta['id']}",
        json={"version": insta["version"], "recovery_email_company_controlled": True},
    )
    assert flagged.status_code == 200, flagged.text
    before = (await it.get("/api/v1/accounts")).json()["items"]

    old = await it.post(
        "/api/v1/accounts/imports",
        files={"file": ("inventory.csv", SPREADSHEET.encode(), "text/csv")},
    )
    body = assert_problem(old, 422, field="file")
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(2, "custodian_email")]
    assert "eve@example.com" in body["errors"][0]["message"]
    assert (await it.get("/api/v1/accounts")).json()["items"] == before

    # Without the moved row, the rest of the old sheet changes nothing, the flag included.
    rows = SPREADSHEET.split("\r\n")
    rest = "\r\n".join([rows[0], *rows[2:]])
    again = await it.post(
        "/api/v1/accounts/imports", files={"file": ("rest.csv", rest.encode(), "text/csv")}
    )
    assert again.status_code == 200, again.text
    assert (again.json()["updated"], again.json()["unchanged"]) == (0, 2)
    kept = (await it.get(f"/api/v1/accounts/{insta['id']}")).json()
    assert kept["recovery_email_company_controlled"] is True


async def test_inventory_import_is_all_or_nothing(it, people):
    bad = (
        "platform,handle,custodian,mfa\n"
        "x,@good_one,ana@example.com,app\n"
        "myspace,@old,ana@example.com,app\n"
        "x,@third,nobody@example.com,app\n"
        "x,@GOOD_ONE,ben@example.com,sms\n"
        "instagram,@fine,ana@example.com,carrier pigeon\n"
    )
    resp = await it.post(
        "/api/v1/accounts/imports", files={"file": ("bad.csv", bad.encode(), "text/csv")}
    )
    body = assert_problem(resp, 422, field="file")
    found = {(e["line"], e["field"]) for e in body["errors"]}
    assert found == {(3, "platform"), (4, "custodian_email"), (5, "handle"), (6, "mfa_method")}
    assert (await it.get("/api/v1/accounts")).json()["items"] == []
    assert_problem(
        await it.post(
            "/api/v1/accounts/imports",
            files={"file": ("x.csv", b"just,some,columns\n1,2,3\n", "text/csv")},
        ),
        422,
        field="file",
    )
