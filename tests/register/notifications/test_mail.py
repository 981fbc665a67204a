"""E-mail through the outbox, against a real SMTP server (aiosmtpd) on loopback.

Who gets what, once; 4xx retried, 5xx dead-lettered, a server that is down loses nothing, a
resend keeps its Message-ID; the settings page turns the optional kinds off.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from register.actor import Actor
from register.db import write_transaction
from register.enums import Role
from register.extensions import extensions
from register.notifications.enums import MailKind, OutboxState
from register.notifications.flows import Worker, message_id, publish_digest, publish_mail
from register.notifications.tables import OutboxMessage
from register.services import update_user
from register.settings import Settings
from register.staff.services import create_employee
from register.tables import AuditEvent
from tests.helpers import form, page_client
from tests.register.notifications.conftest import SmtpServer, make_due, with_mail

PUBLIC = "https://register.example.com"


@pytest.fixture
def settings(settings: Settings, smtp: SmtpServer) -> Settings:
    """The test settings, sending e-mail to the test's SMTP server."""
    return with_mail(settings, smtp)


@pytest.fixture
async def worker(app: Any, settings: Settings) -> Any:
    """A delivery worker run by hand, as the outbox tests do."""
    w = Worker(settings, app.state.keyring.get)
    yield w
    await w.close()


async def person(key: str, name: str, **extra: Any) -> int:
    """An employee in the staff directory."""
    row = await create_employee(
        actor=Actor.system("test"),
        data={
            "name": name,
            "work_email": f"{key}@example.com",
            "department": "Communications",
            "start_date": dt.date.today() - dt.timedelta(days=900),
            **extra,
        },
    )
    return row["id"]


async def mail_rows(state: str | None = None) -> list[dict[str, Any]]:
    """The e-mail rows of the outbox, oldest first."""
    query = OutboxMessage.select().where(OutboxMessage.subscription.is_null())
    if state:
        query = query.where(OutboxMessage.state == state)
    return list(await query.order_by(OutboxMessage.id))


def subject(message: EmailMessage) -> str:
    """The subject as a reader sees it (a long one may be folded right after "Subject:")."""
    return str(message["Subject"]).strip()


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML parts of a mail."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


async def file_incident(client: httpx.AsyncClient, title: str) -> dict[str, Any]:
    resp = await client.post(
        "/api/v1/incidents",
        json={"title": title, "category": "erroneous_post", "severity": "SEV3"},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


async def a_task(client: httpx.AsyncClient, incident_id: int, n: int = 0) -> dict[str, Any]:
    """The n-th open task of an incident, as it is now."""
    resp = await client.get(f"/api/v1/incidents/{incident_id}/tasks")
    return [t for t in resp.json() if t["state"] == "open"][n]


async def assign(
    client: httpx.AsyncClient, incident_id: int, task: dict[str, Any], user_id: int, **extra: Any
) -> httpx.Response:
    resp = await client.post(
        f"/api/v1/incidents/{incident_id}/tasks/{task['id']}/assign",
        json={"version": task["version"], "assignee_id": user_id, **extra},
    )
    assert resp.status_code == 200, resp.text
    return resp


async def test_incident_task_assigned_mails_the_assignee_once(
    app, user_factory, worker, smtp: SmtpServer
):
    """The assignee gets one mail: subject, both parts, the link, a Message-ID from the row."""
    lead, lead_client = await user_factory(Role.comms, email="lead@example.com")
    helper, _ = await user_factory(Role.comms, email="helper@example.com", name="Hana Helper")
    incident = await file_incident(lead_client, "Confidential <slide> & posted")
    task = await a_task(lead_client, incident["id"])
    await assign(lead_client, incident["id"], task, helper["id"])
    # Given to yourself: no mail tells you what you just did.
    other = await a_task(lead_client, incident["id"], 1)
    await assign(lead_client, incident["id"], other, lead["id"])
    [row] = await mail_rows()
    assert row["event_type"] == MailKind.incident_task_assigned.value
    result = await worker.run_once()
    assert result.delivered == 1
    [mail] = smtp.mailbox.messages
    assert mail["To"] == "Hana Helper <helper@example.com>"
    assert mail["From"] == "Social asset register <register@example.com>"
    assert subject(mail) == f"Incident task for you: {task['title']} ({incident['reference']})"
    event = json.loads(row["event"])
    assert mail["Message-ID"] == message_id(event["id"], row["id"], "register.example.com")
    assert mail["Auto-Submitted"] == "auto-generated"
    text, html = parts(mail)
    link = f"{PUBLIC}/incidents/{incident['id']}"
    assert "Hello Hana Helper," in text and link in text
    assert "Confidential <slide> & posted" in text
    # The HTML part escapes what people typed.
    assert "Confidential &lt;slide&gt; &amp; posted" in html and "<slide>" not in html
    assert f'href="{link}"' in html
    assert (await mail_rows())[0]["state"] == "delivered"
    # Nothing more to send: delivered once.
    assert (await worker.run_once()).claimed == 0
    assert len(smtp.mailbox.messages) == 1


async def test_a_task_given_to_staff_mails_a_link_to_their_home_page(
    app, user_factory, worker, smtp: SmtpServer
):
    """Staff may not open the incident: their mail links to the task on their home page."""
    _, lead_client = await user_factory(Role.comms, email="lead3@example.com")
    sam, _ = await user_factory(Role.staff, email="sam@example.com", name="Sam Berg")
    incident = await file_incident(lead_client, "Repost of a wrong price")
    task = await a_task(lead_client, incident["id"], 1)
    await assign(lead_client, incident["id"], task, sam["id"])
    await worker.run_once()
    [mail] = smtp.mailbox.to("sam@example.com")
    text, html = parts(mail)
    link = f"{PUBLIC}/#my-task-{task['id']}"
    assert link in text and f'href="{link}"' in html
    assert "Open it in the register" in text
    assert f"{PUBLIC}/incidents/" not in text


async def test_filing_mails_each_named_person_their_steps_once(
    app, user_factory, worker, smtp: SmtpServer
):
    """Named on filing (HR, IT): one mail each, listing their steps; the filer gets none."""
    _, lead_client = await user_factory(Role.comms, email="filer@example.com")
    hr_user, _ = await user_factory(Role.hr, email="hr1@example.com")
    it_user, _ = await user_factory(Role.it, email="it1@example.com")
    resp = await lead_client.post(
        "/api/v1/incidents",
        json={
            "title": "Employee post upsets a partner",
            "category": "employee_post",
            "severity": "SEV2",
            "hr_assignee_id": hr_user["id"],
            "it_assignee_id": it_user["id"],
        },
    )
    assert resp.status_code == 201, resp.text
    incident = resp.json()
    tasks = (await lead_client.get(f"/api/v1/incidents/{incident['id']}/tasks")).json()
    await worker.run_once()
    assert smtp.mailbox.to("filer@example.com") == []
    named = [u for u in (hr_user, it_user) if any(t["assignee_id"] == u["id"] for t in tasks)]
    assert named
    for user in named:
        theirs = [t["title"] for t in tasks if t["assignee_id"] == user["id"]]
        [mail] = smtp.mailbox.to(user["email"])
        text, _ = parts(mail)
        assert f"Your steps: {len(theirs)}" in text
        assert all(title in text for title in theirs)
        assert f"{PUBLIC}/incidents/{incident['id']}" in text


async def test_naming_a_spokesperson_mails_them_the_steps_they_take_over(
    app, user_factory, worker, smtp: SmtpServer
):
    """Steps that move to a person named after filing reach them in one mail."""
    _, lead_client = await user_factory(Role.comms, email="lead2@example.com")
    spokes, _ = await user_factory(Role.comms, email="spokes@example.com")
    incident = await file_incident(lead_client, "Wrong price posted")
    await worker.run_once()
    assert smtp.mailbox.messages == []
    resp = await lead_client.patch(
        f"/api/v1/incidents/{incident['id']}",
        json={"version": incident["version"], "spokesperson_id": spokes["id"]},
    )
    assert resp.status_code == 200, resp.text
    moved = [
        t["title"]
        for t in (await lead_client.get(f"/api/v1/incidents/{incident['id']}/tasks")).json()
        if t["assignee_id"] == spokes["id"]
    ]
    assert moved
    await worker.run_once()
    [mail] = smtp.mailbox.to("spokes@example.com")
    text, _ = parts(mail)
    assert f"Your steps: {len(moved)}" in text and all(t in text for t in moved)


async def test_custody_transfer_mails_in_the_readers_language(
    app, user_factory, worker, smtp: SmtpServer
):
    """A person with a user reads it in their language; one without, at their work e-mail."""
    ana = await person("ana", "Ana Silva")
    ben = await person("ben", "Ben Okoro")
    cy = await person("cy", "Cy Nieuw")
    cy_user, _ = await user_factory(Role.auditor, email="cy.user@example.com", employee_id=cy)
    await update_user(
        actor=Actor.system("test"), user_id=cy_user["id"], version=1, changes={"language": "nl"}
    )
    _, it = await user_factory(Role.it)
    resp = await it.post(
        "/api/v1/accounts",
        json={
            "platform": "x",
            "handle": "@northwind",
            "custodian_id": ana,
            "mfa_method": "authenticator_app",
        },
    )
    assert resp.status_code == 201, resp.text
    account = resp.json()
    for to, role in ((ben, "custodian"), (cy, "backup")):
        resp = await it.post(
            f"/api/v1/accounts/{account['id']}/transfers",
            json={"role": role, "to_employee_id": to, "note": "new team"},
        )
        assert resp.status_code in (200, 201), resp.text
    assert (await worker.run_once()).delivered == 2
    [to_ben] = smtp.mailbox.to("ben@example.com")
    assert subject(to_ben) == "Custody of northwind (x) waits for your answer"
    text, _ = parts(to_ben)
    assert "custodian of the account northwind (x)" in text
    assert f"{PUBLIC}/accounts/{account['id']}" in text and "Ana Silva" in text
    [to_cy] = smtp.mailbox.to("cy.user@example.com")
    assert to_cy["Content-Language"] == "nl"
    assert subject(to_cy) == "Beheer van northwind (x) wacht op uw antwoord"
    text, html = parts(to_cy)
    assert "Beste Cy Nieuw," in text and 'lang="nl"' in html


async def test_handover_item_reassigned_mails_the_new_assignee(
    app, user_factory, worker, smtp: SmtpServer
):
    """A handover step given to someone reaches them, with the leaver's name and its due date."""
    leaving = dt.date.today() + dt.timedelta(days=20)
    leaver = await person("lee", "Lee Leaving", leaving_date=leaving)
    successor = await person("sam", "Sam Successor")
    other = await person("olu", "Olu Other")
    _, it = await user_factory(Role.it)
    _, hr = await user_factory(Role.hr)
    resp = await it.post(
        "/api/v1/accounts",
        json={
            "platform": "linkedin_page",
            "handle": "acme-page",
            "custodian_id": leaver,
            "mfa_method": "authenticator_app",
        },
    )
    assert resp.status_code == 201, resp.text
    resp = await hr.post(
        "/api/v1/handovers", json={"employee_id": leaver, "successor_id": successor}
    )
    assert resp.status_code == 201, resp.text
    draft = resp.json()
    resp = await hr.post(
        f"/api/v1/handovers/{draft['id']}/open", json={"version": draft["version"]}
    )
    assert resp.status_code == 200, resp.text
    handover = resp.json()
    # Opened: the successor hears of every step that is theirs, in one mail.
    await worker.run_once()
    theirs = [i for i in handover["items"] if i["assignee_id"] == successor]
    assert theirs
    [opened] = smtp.mailbox.to("sam@example.com")
    text, _ = parts(opened)
    assert "Your steps: " + str(len(theirs)) in text
    assert all(i["title"] in text for i in theirs)
    item = next(i for i in handover["items"] if i["kind"] == "transfer_custody")
    resp = await hr.post(
        f"/api/v1/handovers/{handover['id']}/items/{item['id']}/reassign",
        json={"version": item["version"], "assignee_id": other},
    )
    assert resp.status_code == 200, resp.text
    await worker.run_once()
    [mail] = smtp.mailbox.to("olu@example.com")
    assert subject(mail) == f"Handover step for you: {item['title']}"
    text, html = parts(mail)
    assert "Lee Leaving" in text and f"{PUBLIC}/handovers/{handover['id']}" in text
    assert "Due" in text and "Lee Leaving" in html
    assert len(smtp.mailbox.to("sam@example.com")) == 1
    # Weeks later the steps are late: each assignee is reminded once, of their own.
    from accounts.handovers.flows import notify_overdue

    later = leaving + dt.timedelta(days=60)
    assert await notify_overdue(actor=Actor.system("test"), on=later)
    assert await notify_overdue(actor=Actor.system("test"), on=later) == 0
    await worker.run_once()
    late = [m for m in smtp.mailbox.to("olu@example.com") if subject(m).startswith("Past due")]
    assert [subject(m) for m in late] == [f"Past due: {item['title']}"]
    text, _ = parts(late[0])
    assert "Handover of: Lee Leaving" in text and f"{PUBLIC}/settings" not in text


async def queue_one(kind: MailKind = MailKind.incident_task_assigned, **extra: Any) -> None:
    async with write_transaction():
        queued = await publish_mail(
            kind,
            payload={"title": "Post the holding statement", "reference": "INC-1", "incident": "x"},
            path="/incidents/1",
            summary="test",
            **extra,
        )
    assert queued >= 1


async def test_4xx_is_retried_then_delivered(app, user_factory, worker, smtp: SmtpServer):
    """451 twice: the mail waits with backoff, and the third attempt delivers it, once."""
    user, _ = await user_factory(Role.comms)
    smtp.mailbox.script = ["451 4.3.0 mailbox busy, try later", "421 4.7.0 too many connections"]
    await queue_one(users=[user["id"]])
    first = await worker.run_once()
    assert first.retrying == 1
    [row] = await mail_rows()
    assert row["state"] == "pending" and row["last_status"] == 451
    assert row["due_at"] > row["created_at"]
    # Not due yet: the backoff holds it.
    assert (await worker.run_once()).claimed == 0
    await make_due()
    assert (await worker.run_once()).retrying == 1
    await make_due()
    assert (await worker.run_once()).delivered == 1
    [row] = await mail_rows()
    assert row["state"] == "delivered" and row["attempts"] == 3 and row["last_status"] == 250
    assert len(smtp.mailbox.to(user["email"])) == 1


async def test_5xx_is_a_dead_letter_shown_and_retried_on_the_outbox_page(
    app, user_factory, worker, smtp: SmtpServer
):
    """550 for one recipient: dead at once, not retried; others still get theirs; retry sends it."""
    gone, _ = await user_factory(Role.comms, email="gone@example.com")
    here, _ = await user_factory(Role.comms, email="here@example.com")
    smtp.mailbox.refuse["gone@example.com"] = "550 5.1.1 no such user"
    await queue_one(users=[gone["id"], here["id"]])
    result = await worker.run_once()
    assert (result.delivered, result.dead) == (1, 1)
    [dead] = await mail_rows(OutboxState.dead.value)
    assert dead["attempts"] == 1 and dead["last_status"] == 550
    assert "550" in dead["last_error"]
    admin = await page_client(app, Role.admin)
    page = await admin.get("/outbox", params={"state": "dead"})
    assert page.status_code == 200
    assert "gone@example.com" in page.text
    assert "The mail server refused this mail for good (550)" in page.text
    api = (await admin.get(f"/api/v1/outbox/{dead['id']}")).json()
    assert api["recipient"] == "gone@example.com" and api["subscription_id"] is None
    # The address is put right at the mail server; the admin retries from the page.
    del smtp.mailbox.refuse["gone@example.com"]
    resp = await admin.post(f"/outbox/{dead['id']}/retry", data=form(admin, state="dead"))
    assert resp.status_code == 303, resp.text
    assert (await worker.run_once()).delivered == 1
    assert len(smtp.mailbox.to("gone@example.com")) == 1
    assert len(smtp.mailbox.to("here@example.com")) == 1
    assert await AuditEvent.count().where(AuditEvent.action == "outbox.retry") == 1
    await admin.aclose()


async def test_server_down_then_back_loses_nothing(app, user_factory, worker, smtp: SmtpServer):
    """With the SMTP server stopped, mail waits; when it is back, each goes once."""
    users = [(await user_factory(Role.hr))[0] for _ in range(3)]
    smtp.stop()
    await queue_one(users=[u["id"] for u in users])
    for _ in range(3):
        result = await worker.run_once()
        assert result.retrying == 3 and result.delivered == 0
        await make_due()
    rows = await mail_rows()
    assert {r["state"] for r in rows} == {"pending"}
    assert all(
        "refused" in r["last_error"].lower() or "connect" in r["last_error"].lower() for r in rows
    )
    smtp.start()
    assert (await worker.run_once()).delivered == 3
    assert sorted(str(m["To"]).split("<")[-1].rstrip(">") for m in smtp.mailbox.messages) == sorted(
        u["email"] for u in users
    )
    assert (await worker.run_once()).claimed == 0 and len(smtp.mailbox.messages) == 3


async def test_a_resend_after_a_cut_keeps_the_message_id(
    app, settings, user_factory, worker, smtp: SmtpServer
):
    """A worker cut off after sending: the next one sends again, with the same Message-ID."""
    user, _ = await user_factory(Role.it)
    await queue_one(users=[user["id"]])
    cut = Worker(settings, app.state.keyring.get, name="cut")
    [claimed] = await cut.claim(10)
    # It sends, then dies before it records the outcome.
    outcome = await cut._attempt(claimed, None)
    assert outcome.ok
    await make_due()  # the lease ends
    assert (await worker.run_once()).delivered == 1
    first, second = smtp.mailbox.messages
    assert first["Message-ID"] == second["Message-ID"]
    [row] = await mail_rows()
    assert first["Message-ID"] == message_id(
        json.loads(row["event"])["id"], row["id"], "register.example.com"
    )


async def test_settings_page_turns_off_optional_mail(app, user_factory, worker, smtp: SmtpServer):
    """Unticked on /settings (with CSRF, audited): past-due reminders stop, assignments do not."""
    reader = await page_client(app, Role.comms, name="Pat Page")
    page = await reader.get("/settings")
    assert page.status_code == 200
    assert "Reminders of steps past due" in page.text and "The daily digest of my role" in page.text
    assert page.text.count('name="mail"') == 2 and page.text.count(" checked") >= 2
    # Keep the digest, turn off the reminders.
    resp = await reader.post(
        "/settings/mail",
        data=form(reader, mail=[MailKind.digest_daily.value], version="1"),
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/settings?saved=mail"
    page = await reader.get("/settings?saved=mail")
    assert "Your e-mail follows your choices" in page.text
    assert f'value="{MailKind.step_past_due.value}" aria-describedby="mail-1-hint">' in page.text
    [event] = await AuditEvent.select().where(AuditEvent.action == "user.update")
    assert "mail_opt_out" in event["changes"] and MailKind.step_past_due.value in event["changes"]
    # Without the CSRF token the form is refused.
    refused = await reader.post("/settings/mail", data={"mail": "x"})
    assert refused.status_code == 403
    user_id = event["object_id"]
    async with write_transaction():
        assert (
            await publish_mail(
                MailKind.step_past_due,
                payload={"title": "late"},
                path="/",
                summary="late",
                users=[int(user_id)],
            )
            == 0
        )
    await queue_one(users=[int(user_id)])
    await worker.run_once()
    [mail] = smtp.mailbox.messages
    assert subject(mail).startswith("Incident task for you")
    await reader.aclose()


async def test_incident_task_past_due_reminds_its_assignee(
    app, user_factory, worker, smtp: SmtpServer
):
    """The incident clock's past-due reminder reaches the assignee, with the register's link to the settings."""
    from incidents.flows import check_clocks

    _, lead_client = await user_factory(Role.comms)
    helper, _ = await user_factory(Role.comms, email="late@example.com")
    incident = await file_incident(lead_client, "Hijacked account")
    task = await a_task(lead_client, incident["id"])
    due = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    await assign(lead_client, incident["id"], task, helper["id"], due_at=due.isoformat())
    await check_clocks(at=due + dt.timedelta(minutes=1))
    await worker.run_once()
    subjects = sorted(subject(m) for m in smtp.mailbox.to("late@example.com"))
    assert subjects == [
        f"Incident task for you: {task['title']} ({incident['reference']})",
        f"Past due: {task['title']}",
    ]
    late = next(m for m in smtp.mailbox.messages if subject(m).startswith("Past due"))
    text, _ = parts(late)
    assert f"{PUBLIC}/settings" in text and incident["reference"] in text


async def test_daily_digest_by_mail_per_role_once(app, user_factory, worker, smtp: SmtpServer):
    """Each user gets their role's digest once a day; one who turned it off does not."""

    async def source(role: Role, since: dt.datetime) -> list[dict[str, Any]]:
        if role != Role.it:
            return []
        return [{"title": "Incidents past their SLA", "count": 2, "items": ["INC-1", "INC-2"]}]

    await user_factory(Role.it, email="it1@example.com")
    quiet, _ = await user_factory(Role.it, email="quiet@example.com")
    await user_factory(Role.auditor, email="auditor@example.com")
    from register.services import set_own_mail_opt_out

    await set_own_mail_opt_out(
        actor=Actor(user_id=quiet["id"], email=quiet["email"], role=Role.it),
        version=quiet["version"],
        opt_out=[MailKind.digest_daily.value],
        optional=[MailKind.digest_daily.value, MailKind.step_past_due.value],
    )
    extensions.load()
    extensions.digest_sources.append(source)
    try:
        now = dt.datetime.now(dt.UTC).replace(hour=9, minute=30)
        await publish_digest(now=now, hour=7)
        await publish_digest(now=now, hour=7)
    finally:
        extensions.digest_sources.remove(source)
    await worker.run_once()
    [mail] = smtp.mailbox.to("it1@example.com")
    assert subject(mail) == f"Daily digest for IT, {now.date().isoformat()}"
    text, html = parts(mail)
    assert "Incidents past their SLA: 2" in text and "INC-2" in html
    assert smtp.mailbox.to("quiet@example.com") == []
    assert smtp.mailbox.to("auditor@example.com") == []


async def test_with_e_mail_off_nothing_is_queued(app, settings, user_factory):
    """REGISTER_SMTP_HOST empty: publishing mail queues nothing."""
    import dataclasses

    from register.notifications.flows import configure_mail

    user, _ = await user_factory(Role.it)
    configure_mail(dataclasses.replace(settings, smtp_host=""))
    try:
        async with write_transaction():
            assert (
                await publish_mail(
                    MailKind.incident_task_assigned,
                    payload={"title": "t"},
                    path="/",
                    summary="t",
                    users=[user["id"]],
                )
                == 0
            )
    finally:
        configure_mail(settings)
    assert await mail_rows() == []


def _certificates(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A test CA's certificate file, and a server context with a certificate it signed for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("test mail CA"))
        .issuer_name(name("test mail CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    return ca_file, context


@pytest.mark.parametrize("security", ["starttls", "tls"])
# aiosmtpd warns of AUTH without STARTTLS, which is what implicit TLS is to it.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_starttls_or_tls_with_a_password_from_a_file(
    app, settings, user_factory, tmp_path, monkeypatch, security
):
    """The server's certificate is verified, and the password comes from its file."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ca_file, server_context = _certificates(tmp_path)
    # The test's CA, trusted the way OpenSSL finds trusted certificates.
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    signed_in: list[str] = []

    def authenticator(server, session, envelope, mechanism, data) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"register",
            b"s3cret from a file",
        )
        if ok:
            signed_in.append(data.login.decode())
        return AuthResult(success=ok)

    server = SmtpServer()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        server.port = s.getsockname()[1]
    if security == "tls":
        # aiosmtpd counts only STARTTLS as TLS for offering AUTH; this connection is TLS throughout.
        tls: dict[str, Any] = {"ssl_context": server_context, "auth_require_tls": False}
    else:
        tls = {"tls_context": server_context, "require_starttls": True}
    server.controller = Controller(
        server.mailbox,
        hostname="127.0.0.1",
        port=server.port,
        authenticator=authenticator,
        auth_required=True,
        **tls,
    )
    server.controller.start()
    try:
        password = tmp_path / "smtp_password"
        password.write_text("s3cret from a file\n")
        mailing = with_mail(
            settings,
            server,
            smtp_security=security,
            smtp_username="register",
            smtp_password_file=password,
        )
        user, _ = await user_factory(Role.it)
        await queue_one(users=[user["id"]])
        worker = Worker(mailing, app.state.keyring.get)
        try:
            result = await worker.run_once()
            assert result.delivered == 1, (await mail_rows())[0]["last_error"]
        finally:
            await worker.close()
    finally:
        server.stop()
    # Signed in once; the server speaks only TLS (tls) or refuses mail before STARTTLS (starttls).
    assert signed_in == ["register"]
    assert len(server.mailbox.to(user["email"])) == 1


async def test_a_missing_password_file_keeps_mail_waiting(
    app, settings, user_factory, tmp_path, smtp: SmtpServer
):
    """The password file gone (a secret being rotated): mail is retried, not dead-lettered."""
    user, _ = await user_factory(Role.it)
    await queue_one(users=[user["id"]])
    broken = with_mail(
        settings, smtp, smtp_username="register", smtp_password_file=tmp_path / "gone"
    )
    worker = Worker(broken, app.state.keyring.get)
    try:
        assert (await worker.run_once()).retrying == 1
    finally:
        await worker.close()
    [row] = await mail_rows()
    assert row["state"] == "pending" and "REGISTER_SMTP_PASSWORD_FILE" in row["last_error"]
    assert smtp.mailbox.rcpts == 0
    admin = await page_client(app, Role.admin)
    page = await admin.get("/outbox")
    assert "names cannot be read" in page.text
    await admin.aclose()


def test_mail_settings_from_the_environment(tmp_path) -> None:
    """Ports follow the security; a host needs a sender and the public address; bad values stop."""
    base = {"REGISTER_MAIL_FROM": "register@example.com", "REGISTER_PUBLIC_URL": PUBLIC}
    nowhere = tmp_path / "no.env"
    off = Settings.from_env({}, dotenv=nowhere)
    assert (off.smtp_host, off.smtp_port, off.smtp_security) == ("", 587, "starttls")
    tls = Settings.from_env(
        {**base, "REGISTER_SMTP_HOST": "smtp.example.com", "REGISTER_SMTP_SECURITY": "tls"},
        dotenv=nowhere,
    )
    assert (tls.smtp_port, tls.smtp_security) == (465, "tls")
    for env, said in (
        ({"REGISTER_SMTP_HOST": "smtp.example.com"}, "REGISTER_MAIL_FROM"),
        (
            {"REGISTER_SMTP_HOST": "h", "REGISTER_MAIL_FROM": "a@example.com"},
            "REGISTER_PUBLIC_URL",
        ),
        ({"REGISTER_SMTP_SECURITY": "ssl"}, "starttls, tls or none"),
        ({**base, "REGISTER_SMTP_HOST": "h", "REGISTER_SMTP_TIMEOUT": "50"}, "LEASE"),
        (
            {**base, "REGISTER_SMTP_HOST": "h", "REGISTER_SMTP_PASSWORD_FILE": "/no/such"},
            "not found",
        ),
    ):
        with pytest.raises(SystemExit, match=said):
            Settings.from_env(env, dotenv=nowhere)
