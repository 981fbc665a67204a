"""How rows.json was made: run against commit 46602f0 (see README.md here); kept for the record."""
"""Fill the tables the demo leaves empty, through the API of the code before the layout change."""
import asyncio, base64, datetime as dt, os
import httpx
os.environ.setdefault("PICCOLO_CONF", "register.piccolo_conf")
from register.asgi import create_app
from register.actor import Actor
from register.auth import issue_token
from register.enums import Role
from register.services import create_user

async def main():
    app = create_app()
    await app.state.engine.start_connection_pool()
    sys_ = Actor.system("fixture")
    admin, _ = await create_user(actor=sys_, email="admin@northwind-outdoor.example", role=Role.admin, password="correct horse battery", must_change_password=False)
    it, _ = await create_user(actor=sys_, email="it2@northwind-outdoor.example", role=Role.it, password="correct horse battery", must_change_password=False)
    ta = (await issue_token(actor=sys_, user_id=admin["id"], name="fixture", expires_in_days=3650)).token
    ti = (await issue_token(actor=sys_, user_id=it["id"], name="fixture", expires_in_days=3650)).token
    t = httpx.ASGITransport(app=app)
    A = httpx.AsyncClient(transport=t, base_url="http://localhost", headers={"Authorization": f"Bearer {ta}"})
    I = httpx.AsyncClient(transport=t, base_url="http://localhost", headers={"Authorization": f"Bearer {ti}"})
    anon = httpx.AsyncClient(transport=t, base_url="http://localhost")
    def ok(r):
        assert r.status_code < 300, (r.request.url, r.status_code, r.text)
        return r.json() if r.headers.get("content-type","").startswith("application/json") else r
    # a browser session
    ok(await anon.post("/api/v1/auth/login", json={"email": "it2@northwind-outdoor.example", "password": "correct horse battery"}))
    # subscription with Idempotency-Key, then a test message to the outbox
    sub = ok(await A.post("/api/v1/subscriptions", headers={"Idempotency-Key": "fixture-sub-1"}, json={"name": "SIEM", "url": "http://127.0.0.1:9/hook", "format": "json", "event_types": ["incident.filed", "handover.completed"], "roles": []}))
    ok(await A.post(f"/api/v1/subscriptions/{sub['subscription']['id']}/test"))
    # re-certify an account
    acc = ok(await A.get("/api/v1/accounts"))["items"][0]
    grants = ok(await A.get(f"/api/v1/accounts/{acc['id']}/grants"))
    gl = grants["items"] if isinstance(grants, dict) else grants
    ok(await A.post(f"/api/v1/accounts/{acc['id']}/recertify", json={"keep_grant_ids": [g["id"] for g in gl if not g.get("revoked_at")], "notes": "checked"}))
    # erase one connection's subject (suppression)
    con = ok(await A.get("/api/v1/connections", params={"q": "a"}))["items"][0]
    ok(await A.post("/api/v1/connections/erasure", json={"profile_url": con["profile_url"], "email": con.get("email") or ""}))
    # finish handover 1: attestation with a PDF, waive the rest, sign off by two people
    h = ok(await A.get("/api/v1/handovers/1"))
    pdf = base64.b64encode(b"%PDF-1.4\n% fixture\n").decode()
    for item in h["items"]:
        if item["state"] != "open":
            continue
        if item["kind"] == "attest_deletion":
            ok(await A.post(f"/api/v1/handovers/1/items/{item['id']}/attest", json={"typed_name": h["employee_name"], "signed_on": dt.date.today().isoformat(), "signed_pdf_base64": pdf, "filename": "attestation.pdf"}))
        else:
            ok(await A.post(f"/api/v1/handovers/1/items/{item['id']}/waive", json={"reason": "fixture"}))
    ok(await A.post("/api/v1/handovers/1/sign-off", json={"team": "hr", "note": "ok"}))
    ok(await I.post("/api/v1/handovers/1/sign-off", json={"team": "it", "note": "ok"}))
    for c in (A, I, anon):
        await c.aclose()
    # risk notices come from the worker's clock
    from accounts.risks import risk_clock
    await risk_clock()
    await app.state.engine.close_connection_pool()
asyncio.run(main())
