"""The audit trail in the browser (events, "verify now", the public key) and the reader's settings.

The trail page reads the same service as the API's event list (`register.audit.list_events`) and
verifies with the same function as `register audit verify`; the settings page changes the user
through the users' service, so the change is audited like any other.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Template

from register import audit, services
from register.access import SIGNED_IN
from register.checks import time_zones
from register.db import now
from register.errors import InvalidInput, NotFound, StaleVersion
from register.i18n import LANGUAGES, N_, zone
from register.keys import public_key_pem
from register.openapi import NO_CONTROL, ActorDep, Offset, SettingsDep
from register.pages import Form, is_htmx, page, reader_of, redirect, render
from register.settings import Settings

PAGE_SIZE = 50
# A value in the changes column is cut here; the API (and a filter on the object) has it whole.
SHORT = 80
SETTINGS = "/settings"
Filter = Annotated[str | None, QueryParameter(max_length=320, pattern=NO_CONTROL)]
EventNumber = Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)]
NOT_A_TIME = N_("Write a date and a time, such as 2026-12-02 17:00.")
UNTIL_FIRST = N_("This is before the time in From: nothing can match both.")
# "Name <e-mail>" as a datalist or a mail client writes it.
ANGLED = re.compile(r"<([^<>\s]+@[^<>\s]+)>")

# What happened, in words; the raw action is shown beside it, and an action not here shows alone.
ACTIONS = {
    "auth.login": N_("Signed in"),
    "auth.login_failed": N_("Failed to sign in"),
    "auth.logout": N_("Signed out"),
    "auth.denied": N_("Was refused"),
    "auth.oidc_refused": N_("Was refused sign-in with a company account"),
    "user.link_identity": N_("Linked a user to their company account"),
    "user.create": N_("Created a user"),
    "user.update": N_("Changed a user"),
    "user.password_change": N_("Changed their password"),
    "token.issue": N_("Issued an API token"),
    "token.revoke": N_("Revoked an API token"),
    "employee.create": N_("Added a person to the staff directory"),
    "employee.update": N_("Changed a person in the staff directory"),
    "employee.import": N_("Imported the staff directory"),
    "employee.left": N_("Marked a person as left"),
    "account.create": N_("Registered an account"),
    "account.update": N_("Changed an account"),
    "account.retire": N_("Retired an account"),
    "account.import": N_("Imported accounts"),
    "account.recertify": N_("Re-certified custody of an account"),
    "account.compromised": N_("Marked an account as compromised"),
    "account.recovered": N_("Marked an account as recovered"),
    "grant.create": N_("Granted access to an account"),
    "grant.revoke": N_("Revoked access to an account"),
    "custody.transfer": N_("Offered custody of an account"),
    "custody.accepted": N_("Accepted custody of an account"),
    "custody.declined": N_("Declined custody of an account"),
    "custody.cancelled": N_("Cancelled a custody transfer"),
    "credential.set": N_("Stored a credential"),
    "credential.rotate": N_("Replaced a credential"),
    "credential.reveal": N_("Revealed a credential"),
    "credential.reveal_denied": N_("Was refused a credential"),
    "credential.totp_code": N_("Read a sign-in code"),
    "credential.rotation_due": N_("Marked a credential for rotation"),
    "credential.decrypt_failed": N_("A credential failed to decrypt"),
    "connection.import": N_("Imported LinkedIn connections"),
    "connection.export": N_("Exported LinkedIn connections"),
    "connection.erase": N_("Erased a person's connections"),
    "connection.purge": N_("Deleted connections past their retention"),
    "connection.subject_access": N_("Answered a subject access request"),
    "handover.start": N_("Started a handover"),
    "handover.sign_off": N_("Signed off a handover"),
    "handover.complete": N_("Completed a handover"),
    "handover.cancel": N_("Cancelled a handover"),
    "handover.exception": N_("Named an exception to a handover"),
    "incident.file": N_("Filed an incident"),
    "incident.update": N_("Changed an incident"),
    "incident.escalate": N_("Escalated an incident"),
    "incident.acknowledge": N_("Acknowledged an incident"),
    "evidence.add": N_("Added evidence"),
    "evidence.view": N_("Opened evidence"),
    "evidence.download": N_("Downloaded evidence"),
    "subscription.create": N_("Created a notification subscription"),
    "subscription.update": N_("Changed a notification subscription"),
    "subscription.rotate_secret": N_("Rotated a subscription's signing secret"),
    "outbox.retry": N_("Retried a notification"),
}
OBJECT_TYPES = {
    "user": N_("User"),
    "api_token": N_("API token"),
    "employee": N_("Person"),
    "social_account": N_("Account"),
    "custody_transfer": N_("Custody transfer"),
    "access_grant": N_("Access grant"),
    "handover": N_("Handover"),
    "incident": N_("Incident"),
    "subscription": N_("Subscription"),
    "route": N_("Page or API route"),
}


def _when(value: str | None, reader_zone: str, field: str, *, end: bool) -> dt.datetime | None:
    """A moment typed in the reader's time zone, in UTC; `end` takes in the whole minute or day."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(NOT_A_TIME, field=field) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(reader_zone))
    if end:
        # "To 17:00" means up to and including that minute; "to 2 December" the whole day.
        moment += dt.timedelta(days=1) if len(text) <= 10 else dt.timedelta(minutes=1)
    return moment.astimezone(dt.UTC)


async def _who(text: str) -> dict[str, Any]:
    """The list's actor filter for what was typed: an e-mail, a name, or a system label."""
    angled = ANGLED.search(text)
    if angled or "@" in text:
        return {"actor": angled.group(1) if angled else text}
    # The users of that name, and the register itself if it acted under that label (demo, leaver
    # sweep): a label that is also part of someone's name must not hide the label's events.
    return {"actor_ids": await services.user_ids_matching(text), "actor": text}


def _short(value: Any) -> str:
    """A changed value as one short line."""
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    text = " ".join(text.split())
    return text if len(text) <= SHORT else text[: SHORT - 1] + "…"


def changes_of(changes: dict[str, Any]) -> list[dict[str, Any]]:
    """An event's changes as lines: a field with its old and new value, or a field and a value."""
    lines = []
    for field, value in changes.items():
        if isinstance(value, list) and len(value) == 2:
            old, new = value
            secret = old == "***" and new == "***"
            lines.append(
                {
                    "field": field,
                    "secret": secret,
                    "old": None if old is None else _short(old),
                    "new": None if new is None else _short(new),
                    "pair": True,
                }
            )
        else:
            lines.append(
                {"field": field, "secret": False, "old": None, "new": _short(value), "pair": False}
            )
    return lines


async def run_verification(
    settings: Settings, secrets: Any, gettext: Callable[[str], str] = lambda message: message
) -> dict[str, Any]:
    """`register audit verify` with the register's keys and, when there is one, its witness file."""
    path = settings.audit_witness_file
    witness: dict[str, Any] = {"path": str(path), "state": "absent", "detail": ""}
    try:
        witnessed = audit.witness_of(path)
    except InvalidInput as exc:
        witnessed, witness["state"], witness["detail"] = None, "unreadable", exc.said(gettext)
    if witnessed is not None:
        witness["state"] = "checked"
    verdict = await audit.verify(
        secrets.verify_key, mac_key=secrets.audit_mac_key, witness=witnessed or ()
    )
    return {**verdict.as_dict(), "witness": witness, "at": now()}


class AuditPages(Controller):
    """The audit trail for auditors and admins: read it, verify it, take the key that checks it."""

    path = "/audit"
    include_in_schema = False

    @get("/", opt=page("audit.read"))
    async def trail(
        self,
        request: Request[Any, Any, Any],
        who: Filter = None,
        action: Filter = None,
        object_type: Filter = None,
        object_id: Filter = None,
        since: Filter = None,
        until: Filter = None,
        upto: EventNumber = None,
        offset: Offset = 0,
    ) -> Template:
        """Events newest first, filtered by who, what, which object and when, in pages."""
        filters = {
            "who": who or "",
            "action": action or "",
            "object_type": object_type or "",
            "object_id": object_id or "",
            "since": since or "",
            "until": until or "",
            "upto": upto or "",
        }
        return await self._page(request, filters, offset, verdict=None)

    @post("/verify", opt=page("audit.verify"), status_code=200)
    async def verify(
        self,
        request: Request[Any, Any, Any],
        settings: SettingsDep,
        data: Form,
    ) -> Template:
        """Verify the whole trail now; htmx swaps the result in, a plain post gets the page with it."""
        verdict = await run_verification(
            settings, request.app.state.secrets, reader_of(request).gettext
        )
        if is_htmx(request):
            return render(
                request,
                "audit/_verdict.html",
                title=N_("Audit trail"),
                verdict=verdict,
                announce=True,
            )
        return await self._page(request, dict.fromkeys(FILTERS, ""), 0, verdict=verdict)

    @get("/public-key.pem", opt=page("audit.read"))
    async def public_key(self, request: Request[Any, Any, Any]) -> Response[str]:
        """The Ed25519 public key that verifies the signed checkpoints, as a PEM file."""
        return Response(
            public_key_pem(request.app.state.secrets.verify_key),
            media_type="application/x-pem-file",
            headers={"Content-Disposition": 'attachment; filename="register-audit-public-key.pem"'},
        )

    async def _page(
        self,
        request: Request[Any, Any, Any],
        filters: dict[str, Any],
        offset: int,
        verdict: dict[str, Any] | None,
    ) -> Template:
        reader = reader_of(request)
        error = None
        query: dict[str, Any] = {
            "action": filters["action"] or None,
            "object_type": filters["object_type"] or None,
            "object_id": filters["object_id"] or None,
            "upto_seq": filters["upto"] or None,
        }
        try:
            query["since"] = _when(filters["since"], reader.time_zone, "since", end=False)
            query["until"] = _when(filters["until"], reader.time_zone, "until", end=True)
        except InvalidInput as exc:
            error = {"field": exc.extra["field"], "message": reader.gettext(NOT_A_TIME)}
        else:
            if query["since"] and query["until"] and query["until"] <= query["since"]:
                error = {"field": "until", "message": reader.gettext(UNTIL_FIRST)}
        if filters["who"].strip():
            query.update(await _who(filters["who"].strip()))
        events: list[dict[str, Any]] = []
        next_offset = None
        if error is None:
            events, next_offset = await audit.list_events(limit=PAGE_SIZE, offset=offset, **query)
        people = await services.people_of_users(e["actor_id"] for e in events)
        kept = {k: v for k, v in filters.items() if v}
        secrets = request.app.state.secrets
        return render(
            request,
            "audit/trail.html",
            status=422 if error else 200,
            title=N_("Audit trail"),
            events=events,
            people=people,
            changes_of=changes_of,
            filters=filters,
            error=error,
            actions=await audit.recorded("action"),
            object_types=await audit.recorded("object_type"),
            action_words=ACTIONS,
            object_words=OBJECT_TYPES,
            time_zone=reader.time_zone,
            query=urlencode(kept),
            offset=offset,
            previous_offset=max(offset - PAGE_SIZE, 0) if offset else None,
            next_offset=next_offset,
            verdict=verdict,
            announce=False,
            key_id=secrets.signing_key_id,
        )


FILTERS = ("who", "action", "object_type", "object_id", "since", "until", "upto")


class SettingsPages(Controller):
    """The reader's own settings: the language and time zone of the pages."""

    path = SETTINGS
    include_in_schema = False

    @get("/", opt=page(SIGNED_IN))
    async def settings_form(self, request: Request[Any, Any, Any], actor: ActorDep) -> Template:
        """Your language and time zone, as stored."""
        user = await _own(actor)
        return _settings_page(
            request,
            user,
            language=user["language"] or "",
            time_zone=user["time_zone"] or "",
            saved=request.query_params.get("saved") == "1",
        )

    @post("/", opt=page(SIGNED_IN), status_code=303)
    async def save_settings(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Store them on your user (audited); a time zone the register does not know is refused."""
        language = str(data.get("language") or "")
        time_zone = str(data.get("time_zone") or "").strip()
        user = await _own(actor)
        try:
            version = int(str(data.get("version") or user["version"]))
        except ValueError:
            version = user["version"]
        try:
            await services.set_own_reading(
                actor=actor,
                version=version,
                language=language or None,
                time_zone=time_zone or None,
            )
        except StaleVersion:
            return _settings_page(
                request,
                user,
                language=language,
                time_zone=time_zone,
                status=409,
                stale=True,
            )
        except InvalidInput as exc:
            field = exc.extra.get("field") or "time_zone"
            return _settings_page(
                request,
                user,
                language=language,
                time_zone=time_zone,
                status=422,
                error={"field": field, "message": reader_of(request).gettext(ERRORS[field])},
            )
        return redirect(f"{SETTINGS}?saved=1")


ERRORS = {
    "time_zone": N_(
        "This is not a time zone the register knows. Write it as Europe/Amsterdam or "
        "America/New_York, or leave it empty for UTC."
    ),
    "language": N_("Choose one of the languages listed."),
}


async def _own(actor: Any) -> dict[str, Any]:
    if actor.user_id is None:
        raise NotFound(N_("the caller is not a user"))
    return await services.get_user(user_id=actor.user_id)


def _settings_page(
    request: Request[Any, Any, Any],
    user: dict[str, Any],
    *,
    language: str,
    time_zone: str,
    status: int = 200,
    saved: bool = False,
    stale: bool = False,
    error: dict[str, str] | None = None,
) -> Template:
    return render(
        request,
        "settings.html",
        status=status,
        title=N_("Your settings"),
        user=user,
        chosen_language=language,
        chosen_time_zone=time_zone,
        languages=LANGUAGES,
        zones=time_zones(),
        saved=saved,
        stale=stale,
        error=error,
    )


PAGES = [AuditPages, SettingsPages]
