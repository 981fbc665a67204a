"""E-mail through the outbox: one message per recipient per event, in the reader's language, over SMTP.

`publish_mail()` writes one outbox row per recipient, with no subscription and the recipient in
the event's `mail`, inside the caller's write transaction: the same guarantees as a webhook (a
crash loses none, a rolled-back change sends none, retries with backoff, dead letters, leases).
The worker renders and sends each with `send_mail()`. The Message-ID is made from the row (its
event id and its own id), so a resend after a cut carries the same one and the receiving side
de-duplicates on it.

An SMTP answer decides the outcome: 2xx delivered; 4xx, a refused or cut connection, a timeout
or a failed sign-in are retried with backoff; 5xx to the sender, a recipient or the content
is a permanent refusal, dead-lettered at once for that recipient.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from register.actor import Actor
from register.db import bulk_insert, get_engine, json_default, json_value
from register.db import now as utcnow
from register.enums import Role
from register.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, ROLE_WORDS, Reader, post_name
from register.notifications.enums import OPTIONAL_MAIL, MailKind, OutboxState
from register.notifications.flows._webhooks import MAX_ERROR, Outcome
from register.services import mail_readers
from register.settings import Settings, get_settings

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "notifications" / "mail"
MAIL_COLUMNS = (
    "event_id",
    "event_type",
    "subscription",
    "event",
    "state",
    "due_at",
    "attempts",
    "claimed_by",
    "last_error",
    "created_at",
)

# What a mail of each kind says: its subject, its first sentence, and its link's words.
WORDS: dict[MailKind, tuple[str, str, str]] = {
    MailKind.handover_item_assigned: (
        N_("Handover step for you: %(title)s"),
        N_("A step of %(employee)s's handover is yours: %(title)s."),
        N_("Open the handover"),
    ),
    MailKind.incident_task_assigned: (
        N_("Incident task for you: %(title)s (%(reference)s)"),
        N_("A task of incident %(reference)s, %(incident)s, is yours: %(title)s."),
        # Said to staff too, whose link is their home page (they may not open the incident).
        N_("Open it in the register"),
    ),
    MailKind.custody_transfer_waiting: (
        N_("Custody of %(account)s waits for your answer"),
        N_(
            "You are to become the %(slot)s of the account %(account)s. Accept or decline it "
            "in the register."
        ),
        N_("Open the account"),
    ),
    MailKind.step_past_due: (
        N_("Past due: %(title)s"),
        N_("A step that is yours is past its due date: %(title)s."),
        N_("Open it in the register"),
    ),
    MailKind.post_request_waiting: (
        N_("Waiting for your approval: %(post)s"),
        N_(
            "%(submitter)s asks to post from %(account)s. Approve it or send it back with a reason."
        ),
        N_("Open the post request"),
    ),
    MailKind.post_request_decided: (
        N_("Your post is %(decision)s: %(post)s"),
        N_("%(decider)s decided on your post to %(account)s: %(decision)s."),
        N_("Open the post request"),
    ),
    MailKind.policy_acknowledge: (
        N_("Please read and acknowledge: %(title)s"),
        N_("The policy %(title)s applies to you. Read it and acknowledge it in the register."),
        N_("Read the policy"),
    ),
    MailKind.policy_review_due: (
        N_("Review due by %(review_by)s: %(title)s"),
        N_("You own the policy %(title)s. Review it and publish a new version by %(review_by)s."),
        N_("Open the policy"),
    ),
    MailKind.digest_daily: (
        N_("Daily digest for %(role)s, %(date)s"),
        N_("What needs attention today, for the %(role)s team."),
        N_("Open the register"),
    ),
}
FACTS = {
    "handover_of": N_("Handover of"),
    "incident_ref": N_("Incident"),
    "due_date": N_("Due"),
    "due_at": N_("Due"),
    "assigned_by": N_("From"),
    "previous": N_("From"),
    "note": N_("Note"),
    "reason": N_("Reason"),
}
# Mails about a post request, which name it as its page does (register.i18n.post_name).
POST_MAILS = frozenset({MailKind.post_request_waiting, MailKind.post_request_decided})
# What a decision on a post request is called in its mail.
DECISIONS = {"approved": N_("approved"), "sent_back": N_("sent back")}
# Section titles as the digest's sources and the handovers write them, here for the catalogue.
SECTION_TITLES = (
    N_("Your steps"),
    N_("Handover items overdue"),
    N_("Handovers awaiting sign-off"),
    N_("Handovers started"),
    N_("Incident tasks past due"),
    N_("Incidents past their SLA"),
    N_("New risk findings"),
)
SLOTS = {"custodian": N_("custodian"), "backup": N_("backup custodian")}
WHY_ASSIGNED = N_("You get this e-mail because this is yours to do in the social asset register.")
WHY_OPTIONAL = N_("You can turn this kind of e-mail off in your settings: %(url)s")
# What the settings page offers to turn off, in this order.
MAIL_CHOICES = (
    (
        MailKind.step_past_due.value,
        N_("Reminders of steps past due"),
        N_("A handover item or incident task of yours that is past its due date."),
    ),
    (
        MailKind.digest_daily.value,
        N_("The daily digest of my role"),
        N_("Every morning, what needs attention for your team, when anything does."),
    ),
)

# The HTML part's look, in its head (mail clients drop linked style sheets).
MAIL_CSS = """\
body { font-family: system-ui, sans-serif; line-height: 1.5; color: #1a1a1a; max-width: 40em; }
th { text-align: left; padding-right: 1em; font-weight: 600; }
h2 { font-size: 1.05em; margin-bottom: 0.2em; }
ul { margin-top: 0; }
a.action { display: inline-block; padding: 0.5em 1em; background: #1d4ed8; color: #ffffff; text-decoration: none; border-radius: 4px; }
.small { font-size: 0.9em; }
.why { font-size: 0.85em; color: #555555; border-top: 1px solid #cccccc; padding-top: 0.5em; }
"""

# Set when the app or a worker is bound to its settings: whether mail is on, and its links.
# Until then (a CLI command that publishes), the process's settings from the environment decide.
_CONFIG: dict[str, Any] = {"on": None, "public_url": "", "domain": "localhost"}


def configure_mail(settings: Settings) -> None:
    """Turn e-mail on (REGISTER_SMTP_HOST set) or off for this process, with its links' address."""
    _CONFIG["on"] = bool(settings.smtp_host)
    _CONFIG["public_url"] = settings.public_url
    _CONFIG["domain"] = urlsplit(settings.public_url).hostname or "localhost"


def mail_on() -> bool:
    """Whether this process sends e-mail."""
    if _CONFIG["on"] is None:
        configure_mail(get_settings())
    return bool(_CONFIG["on"])


def message_id(event_id: str, row_id: int, domain: str | None = None) -> str:
    """The Message-ID of one outbox row: the same on every attempt, unique per recipient."""
    return f"<{event_id}.{row_id}@{domain or _CONFIG['domain']}>"


def _recipients(
    found: dict[str, dict[int, dict[str, Any]]], kind: MailKind, actor: Actor | None
) -> list[dict[str, Any]]:
    """Everyone found, once per address, less whoever turned the kind off and the actor."""
    out: dict[str, dict[str, Any]] = {}
    for group in ("users", "employees", "roles"):
        for reader in found[group].values():
            address = reader["email"].strip().lower()
            if not address or address in out:
                continue
            if kind in OPTIONAL_MAIL and kind.value in reader["mail_opt_out"]:
                continue
            if actor is not None and (
                (actor.user_id is not None and reader["user_id"] == actor.user_id)
                or address == (actor.email or "").lower()
            ):
                # What you did yourself needs no mail to tell you.
                continue
            out[address] = reader
    return list(out.values())


async def publish_mail(
    kind: MailKind,
    *,
    payload: dict[str, Any],
    path: str,
    summary: str,
    users: Iterable[int | None] = (),
    employees: Iterable[int | None] = (),
    roles: Iterable[Role] = (),
    actor: Actor | None = None,
) -> int:
    """Queue one e-mail per recipient in the caller's transaction; how many (0 with e-mail off).

    Recipients: users by id, people by employee id (their user, else their work e-mail), users by
    role; each address once. `path` is the page the mail links to.
    """
    kind = MailKind(kind)
    if not mail_on():
        return 0
    if get_engine().current_transaction.get() is None:
        raise RuntimeError("publish_mail() must be called inside register.db.write_transaction()")
    found = await mail_readers(user_ids=users, employee_ids=employees, roles=roles)
    recipients = _recipients(found, kind, actor)
    if not recipients:
        return 0
    now = utcnow()
    event_id = uuid.uuid4().hex
    rows = []
    for reader in recipients:
        event = {
            "id": event_id,
            "type": kind.value,
            "occurred_at": now.isoformat().replace("+00:00", "Z"),
            "summary": f"{summary} (to {reader['email']})",
            "audience": [],
            "payload": payload,
            "mail": {
                "to": reader["email"],
                "name": reader["name"],
                "user_id": reader["user_id"],
                "language": reader["language"] or DEFAULT_LANGUAGE,
                "time_zone": reader["time_zone"] or "UTC",
                "path": path,
            },
        }
        body = json.dumps(event, default=json_default, separators=(",", ":"))
        rows.append(
            (event_id, kind.value, None, body, OutboxState.pending.value, now, 0, "", "", now)
        )
    return await bulk_insert("outbox_message", MAIL_COLUMNS, rows)


# Rendering ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # The HTML part escapes what people typed (titles, names); the plain-text part is text.
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _fill(reader: Reader, message: str, params: dict[str, Any]) -> str:
    """A catalogue message in the reader's language, filled in (as text, escaped later)."""
    text = reader.gettext(message)
    try:
        return text % params
    except (KeyError, TypeError, ValueError):
        return text


def _when(reader: Reader, key: str, value: Any) -> str:
    try:
        if key == "due_date":
            return reader.date(dt.date.fromisoformat(str(value)[:10]))
        if key == "due_at":
            return reader.datetime(dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        pass
    return str(value)


def _post(reader: Reader, payload: dict[str, Any]) -> str:
    """A post request's name in the reader's words: its platform and handle, and its time."""
    account = str(payload.get("account") or "")
    if payload.get("platform_name"):
        account = f"{reader.gettext(str(payload['platform_name']))} {account}"

    def moment(key: str) -> dt.datetime | None:
        try:
            return dt.datetime.fromisoformat(str(payload[key]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return None

    return post_name(reader, account, moment("planned_at"), moment("submitted_at"))


def compose(event: dict[str, Any], public_url: str) -> dict[str, Any]:
    """Subject, both parts' values and the link of one mail, in its reader's language."""
    mail = event["mail"]
    kind = MailKind(event["type"])
    language = mail.get("language") if mail.get("language") in LANGUAGES else DEFAULT_LANGUAGE
    reader = Reader(language, mail.get("time_zone") or "UTC")
    payload = dict(event.get("payload") or {})
    params = {k: v for k, v in payload.items() if isinstance(v, str | int | float)}
    if "slot" in params:
        params["slot"] = reader.gettext(SLOTS.get(str(params["slot"]), str(params["slot"])))
    if "decision" in params:
        params["decision"] = reader.gettext(
            DECISIONS.get(str(params["decision"]), str(params["decision"]))
        )
    if "role" in params:
        params["role"] = reader.gettext(ROLE_WORDS.get(str(params["role"]), str(params["role"])))
    if kind in POST_MAILS:
        params["post"] = _post(reader, payload)
    subject, lead, action = WORDS[kind]
    facts = [
        (reader.gettext(label), _when(reader, key, payload[key]))
        for key, label in FACTS.items()
        if payload.get(key) not in (None, "")
    ]
    sections = [
        {
            "title": reader.gettext(str(s.get("title", ""))),
            "count": reader.number(int(s.get("count", 0))),
            "items": [str(i) for i in s.get("items", [])][:20],
        }
        for s in payload.get("sections") or []
        if s.get("count")
    ]
    url = public_url.rstrip("/") + mail.get("path", "/")
    why = (
        _fill(reader, WHY_OPTIONAL, {"url": public_url.rstrip("/") + "/settings"})
        if kind in OPTIONAL_MAIL and mail.get("user_id")
        else reader.gettext(WHY_ASSIGNED)
    )
    return {
        "language": language,
        "subject": _fill(reader, subject, params),
        "greeting": _fill(reader, N_("Hello %(name)s,"), {"name": mail.get("name") or ""}),
        "lead": _fill(reader, lead, params),
        "facts": facts,
        "sections": sections,
        "action": reader.gettext(action),
        "url": url,
        "why": why,
        "css": Markup(MAIL_CSS),  # noqa: S704 - the register's own constant
    }


def render_mail(
    event: dict[str, Any], *, row_id: int, settings: Settings, public_url: str | None = None
) -> EmailMessage:
    """The message of one outbox row: plain text and HTML, its Message-ID made from the row."""
    public = public_url if public_url is not None else settings.public_url
    values = compose(event, public)
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = formataddr((event["mail"].get("name") or "", event["mail"]["to"]))
    message["Subject"] = values["subject"]
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(
        event["id"], row_id, urlsplit(public).hostname or _CONFIG["domain"]
    )
    # RFC 3834: out-of-office replies are not sent back to an automatic message.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Register-Event-Id"] = event["id"]
    message.set_content(_environment().get_template("mail.txt").render(values))
    message.add_alternative(_environment().get_template("mail.html").render(values), subtype="html")
    # After the parts: setting content clears the Content-* headers.
    message["Content-Language"] = values["language"]
    return message


# Sending -----------------------------------------------------------------------------------------


def classify_smtp(exc: BaseException) -> Outcome:
    """An SMTP failure as an outcome: a permanent refusal (5xx) is final, anything else retried."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
    refusal = (
        aiosmtplib.SMTPRecipientRefused,
        aiosmtplib.SMTPSenderRefused,
        aiosmtplib.SMTPDataError,
    )
    if isinstance(exc, refusal):
        code = exc.code
        text = f"SMTP server answered {code}: {exc.message}"[:MAX_ERROR]
        return Outcome(ok=False, status=code, error=text, final=500 <= code < 600)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # A refused greeting, hello or sign-in is about the server or our settings, not the
        # recipient: retried, so mail waits while they are put right.
        return Outcome(ok=False, status=exc.code, error=error)
    return Outcome(ok=False, error=error)


async def send_mail(
    settings: Settings, message: dict[str, Any], slots: asyncio.Semaphore
) -> Outcome:
    """Send one claimed e-mail row; any failure becomes an Outcome, never an exception."""
    if not settings.smtp_host:
        return Outcome(ok=False, error="not sent: e-mail is off (REGISTER_SMTP_HOST is empty)")
    try:
        event = json_value(message["event"])
        mail = render_mail(event, row_id=message["id"], settings=settings)
    except Exception as exc:
        # A row that cannot be made into a mail will not become one by waiting.
        return Outcome(
            ok=False, error=f"not sent: {type(exc).__name__}: {exc}"[:MAX_ERROR], final=True
        )
    password = None
    try:
        if settings.smtp_password_file is not None:
            password = settings.smtp_password_file.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        # The settings' fault, not the mail's: it waits while the file is put back.
        return Outcome(ok=False, error=f"not sent: REGISTER_SMTP_PASSWORD_FILE: {exc}"[:MAX_ERROR])
    security = settings.smtp_security
    try:
        # The time limit starts once a connection slot is free: waiting for one is no failure.
        async with slots, asyncio.timeout(3 * settings.smtp_timeout):
            responses, _ = await aiosmtplib.send(
                mail,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username or None,
                password=password if settings.smtp_username else None,
                use_tls=security == "tls",
                start_tls=security == "starttls",
                timeout=settings.smtp_timeout,
            )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return classify_smtp(exc)
    refused = [r for r in responses.values() if r.code >= 400]
    if refused:
        code = refused[0].code
        return Outcome(
            ok=False,
            status=code,
            error=f"SMTP server answered {code}: {refused[0].message}"[:MAX_ERROR],
            final=code >= 500,
        )
    return Outcome(ok=True, status=250)
