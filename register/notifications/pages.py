"""The notifications' pages: subscriptions (create, send a test, rotate the secret, turn off, delete)
and the outbox with its dead letters, for admins; auditors read both.

A signing secret is shown once, as the answer to the form post that made it (never kept, never in
a URL), like a new user's one-time password. A test is sent at once, and the page it leads to shows
what the receiver answered, in plain words.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Template
from msgspec import structs

from register.access import allowed
from register.actor import Actor
from register.admin_pages import ROLES, checked, form_of
from register.errors import Conflict, InvalidInput, NotFound, StaleVersion
from register.forms import FormState, number, text
from register.i18n import N_
from register.notifications import flows, services
from register.notifications.enums import EventType, MailKind, OutboxState, WebhookFormat
from register.notifications.schemas import SubscriptionCreate, SubscriptionUpdate
from register.openapi import ActorDep, Id, QueryId, SettingsDep
from register.pages import FilterId, Form, NavLink, chosen_id, page, redirect, render
from register.settings import Settings

SUBSCRIPTIONS = "/admin/subscriptions"
OUTBOX = "/outbox"
PAGE_SIZE = 50
# Subscriptions are few (a channel per team): the outbox's filter lists them all.
MAX_SUBSCRIPTIONS = 200
NAV = [
    NavLink(N_("Notifications"), SUBSCRIPTIONS, "subscription.read", order=82),
    NavLink(N_("Outbox"), OUTBOX, "outbox.read", order=75),
]
EVENTS = {
    EventType.incident_filed: N_("An incident is filed"),
    EventType.incident_escalated: N_("An incident is escalated"),
    EventType.incident_past_sla: N_("An incident is past its deadline"),
    EventType.incident_closed: N_("An incident is closed"),
    EventType.handover_started: N_("A handover starts"),
    EventType.handover_item_overdue: N_("A handover item is overdue"),
    EventType.handover_completed: N_("A handover is complete"),
    EventType.risk_new_finding: N_("New risks are found on accounts"),
    EventType.recertification_due: N_("Custody of an account is due for re-certification"),
    EventType.post_request_submitted: N_("A post from a company account waits for approval"),
    EventType.post_request_decided: N_("A post request is approved or sent back"),
    EventType.digest_daily: N_("The daily digest of what needs attention"),
    EventType.audit_checkpoint: N_(
        "The audit trail is signed (for a witness outside the register)"
    ),
    EventType.test: N_("A test message"),
}
# E-mails in the outbox, by kind.
MAIL_EVENTS = {
    MailKind.handover_item_assigned: N_("E-mail: a handover step is theirs"),
    MailKind.incident_task_assigned: N_("E-mail: an incident task is theirs"),
    MailKind.custody_transfer_waiting: N_("E-mail: custody of an account waits for their answer"),
    MailKind.step_past_due: N_("E-mail: a step of theirs is past due"),
    MailKind.post_request_waiting: N_("E-mail: a post waits for their approval"),
    MailKind.post_request_decided: N_("E-mail: their post request is approved or sent back"),
    MailKind.digest_daily: N_("E-mail: the daily digest of their role"),
}
# A test goes to the one subscription it is sent for, whatever events it takes.
CHOOSABLE_EVENTS = [e for e in EventType if e is not EventType.test]
FORMATS = {
    WebhookFormat.slack: N_("Slack"),
    WebhookFormat.teams: N_("Microsoft Teams"),
    WebhookFormat.json: N_("Signed JSON"),
}
FORMAT_HINTS = {
    WebhookFormat.slack: N_("An incoming webhook of a Slack channel (hooks.slack.com/services/…)."),
    WebhookFormat.teams: N_(
        "A Teams workflow “Post to a channel when a webhook request is received”."
    ),
    WebhookFormat.json: N_("Your own https endpoint; every message is signed with the secret."),
}
STATES = {
    OutboxState.pending: N_("Waiting"),
    OutboxState.delivered: N_("Delivered"),
    OutboxState.dead: N_("Dead letter"),
}
MESSAGES = {
    "name": N_("Give it a name of at most 120 characters, such as the channel's."),
    "url": N_("Enter the receiver's address, starting with https://."),
    "format": N_("Choose the kind of receiver."),
    "event_types": N_("Choose at least one event."),
    "roles": N_("Choose roles from the list."),
}

Choice = Annotated[str, QueryParameter(max_length=20, pattern="^[a-z_]*$")]
Offset = Annotated[int, QueryParameter(ge=0, le=10**9)]
# `state` is a name Litestar keeps for the app's state.
StateQuery = Annotated[str, QueryParameter(name="state", max_length=20, pattern="^[a-z_]*$")]
_GAVE_UP = re.compile(r"^gave up after (\d+) attempts: ", re.DOTALL)


def plain_error(
    last_error: str, status: int | None, *, mail: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """A delivery's last error in plain words: sentences (message, values) to translate."""
    if not last_error:
        return []
    said: list[tuple[str, dict[str, Any]]] = []
    gave_up = _GAVE_UP.match(last_error)
    if gave_up:
        said.append((N_("Given up after %(num)s attempts."), {"num": int(gave_up.group(1))}))
        last_error = last_error[gave_up.end() :]
    said.append(_mail_cause(last_error, status) if mail else _cause(last_error, status))
    return said


def _mail_cause(error: str, status: int | None) -> tuple[str, dict[str, Any]]:
    if "REGISTER_SMTP_HOST" in error:
        return N_("Not sent: e-mail is off (REGISTER_SMTP_HOST is empty)."), {}
    if "REGISTER_SMTP_PASSWORD_FILE" in error:
        return N_("Not sent: the file REGISTER_SMTP_PASSWORD_FILE names cannot be read."), {}
    if status is not None and status >= 500:
        return N_("The mail server refused this mail for good (%(status)s): check the address."), {
            "status": status
        }
    if status is not None and status >= 400:
        return N_("The mail server asked to try again later (%(status)s)."), {"status": status}
    return N_("The mail server could not be reached."), {}


def _cause(error: str, status: int | None) -> tuple[str, dict[str, Any]]:
    if error.startswith("not sent: the subscription is inactive"):
        return N_("Not sent: the subscription is turned off."), {}
    if error.startswith("not sent: the receiver answered 410"):
        return N_("Not sent: the receiver is gone, and the subscription was turned off."), {}
    if "REGISTER_WEBHOOK_ALLOWED_HOSTS" in error:
        return N_(
            "Not sent: the receiver's host is not on the register's list of allowed hosts "
            "(REGISTER_WEBHOOK_ALLOWED_HOSTS)."
        ), {}
    if "cannot be decrypted" in error:
        return N_("Not sent: the register's keys cannot open this subscription's address."), {}
    if error.startswith("not sent: URL"):
        return N_("Not sent: the receiver's address cannot be used. Check the URL."), {}
    if status is not None and 300 <= status < 400:
        return N_(
            "The receiver answered with a redirect (%(status)s), which is never followed. "
            "Check the URL."
        ), {"status": status}
    if status in (401, 403):
        return N_(
            "The receiver refused the message (%(status)s): check the signing secret it holds, "
            "or its own settings."
        ), {"status": status}
    if status == 404:
        return N_("The receiver says this address does not exist (404). Check the URL."), {}
    if status == 410:
        return N_("The receiver is gone (410), so the subscription was turned off."), {}
    if status in (408, 425, 429):
        return N_("The receiver was too busy to take it (%(status)s)."), {"status": status}
    if status is not None and status >= 500:
        return N_("The receiver had a problem of its own (%(status)s)."), {"status": status}
    if status is not None and status >= 400:
        return N_("The receiver refused the message (%(status)s)."), {"status": status}
    if error.startswith("timed out"):
        return N_("The receiver did not answer in time."), {}
    if "Connect" in error or "connect" in error:
        return N_("The receiver could not be reached."), {}
    return N_("The message could not be sent."), {}


def may(actor: Actor, action: str) -> bool:
    """Whether this reader may take an action (forms are shown only to who may send them)."""
    return actor.role is not None and allowed(action, actor.role)


def _keyring(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.keyring.get()


def _choices(form: FormState, data: Any, name: str) -> list[str]:
    """A group of checkboxes: every value sent under one name, kept in the form."""
    value = data.get(name)
    if isinstance(value, list):
        chosen = [v for v in value if isinstance(v, str)]
    else:
        chosen = [value] if isinstance(value, str) and value else []
    # Sorted as the service keeps them, so that a stale form compares like with like.
    form.values[name] = sorted(set(chosen))
    return form.values[name]


def _subscription_fields(form: FormState, data: Any) -> dict[str, Any]:
    """The subscription form's fields as the API names them, kept in the form as typed."""
    return {
        "name": text(form, data, "name", max_length=1000),
        "url": text(form, data, "url", max_length=4000),
        "format": text(form, data, "format", max_length=20),
        "event_types": _choices(form, data, "event_types"),
        "roles": _choices(form, data, "roles"),
    }


class NotificationPages(Controller):
    """Subscriptions and the outbox in the browser."""

    include_in_schema = False

    @get(SUBSCRIPTIONS, opt=page("subscription.read"))
    async def subscriptions(
        self,
        request: Request[Any, Any, Any],
        actor: ActorDep,
        settings: SettingsDep,
        tested: QueryId = None,
        done: Choice = "",
        offset: Offset = 0,
    ) -> Template:
        """Every subscription in words, with a test's result when one was just sent."""
        return await _subscriptions_page(
            request, actor, settings, tested=tested, done=done, offset=offset
        )

    @get(SUBSCRIPTIONS + "/new", opt=page("subscription.write"))
    async def new_subscription(
        self, request: Request[Any, Any, Any], settings: SettingsDep
    ) -> Template:
        """The form for a new receiver."""
        return _subscription_form(request, settings, form_of(request))

    @post(SUBSCRIPTIONS, opt=page("subscription.write"), status_code=200)
    async def create_subscription(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep, settings: SettingsDep
    ) -> Template:
        """Add a receiver with the same service as the API; the answer shows its secret once."""
        form = form_of(request)
        wanted = checked(form, SubscriptionCreate, _subscription_fields(form, data), MESSAGES)
        if wanted is None:
            return _subscription_form(request, settings, form)
        try:
            sub, secret = await services.create_subscription(
                actor=actor,
                keyring=_keyring(request),
                settings=settings,
                data=structs.asdict(wanted),
            )
        except (InvalidInput, Conflict) as exc:
            form.fail(exc)
            return _subscription_form(request, settings, form)
        return render(
            request,
            "notifications/secret.html",
            title=N_("Subscription created"),
            sub=sub,
            secret=secret,
            rotated=False,
            formats=FORMATS,
        )

    @get(SUBSCRIPTIONS + "/{subscription_id:int}/edit", opt=page("subscription.write"))
    async def edit_subscription(
        self, request: Request[Any, Any, Any], subscription_id: Id, settings: SettingsDep
    ) -> Template:
        """The form to change a receiver: its name, kind, events and audience; a new URL if given."""
        sub = await services.get_subscription(subscription_id=subscription_id)
        form = form_of(request, **_saved(sub), url="", version=sub["version"])
        return _subscription_form(request, settings, form, sub)

    @post(SUBSCRIPTIONS + "/{subscription_id:int}/edit", opt=page("subscription.write"))
    async def update_subscription(
        self,
        request: Request[Any, Any, Any],
        subscription_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Change it with the same service as the API (audited there); an empty URL keeps the old."""
        sub = await services.get_subscription(subscription_id=subscription_id)
        form = form_of(request)
        fields = _subscription_fields(form, data)
        version = number(form, data, "version")
        # The URL is never shown again (its path is the receiver's secret): empty keeps it.
        changes = {k: v for k, v in fields.items() if k != "url" or v}
        if version is None:
            # A form without its version cannot say what it changes from: as if it went stale.
            form.mark_stale(current=_saved(sub), version=sub["version"])
            return _subscription_form(request, settings, form, sub)
        wanted = checked(form, SubscriptionUpdate, {**changes, "version": version}, MESSAGES)
        if wanted is None:
            return _subscription_form(request, settings, form, sub)
        try:
            await services.update_subscription(
                actor=actor,
                keyring=_keyring(request),
                settings=settings,
                subscription_id=subscription_id,
                version=wanted.version,
                changes={k: v for k, v in structs.asdict(wanted).items() if k in changes},
            )
        except StaleVersion:
            sub = await services.get_subscription(subscription_id=subscription_id)
            form.mark_stale(current=_saved(sub), version=sub["version"])
            return _subscription_form(request, settings, form, sub)
        except (InvalidInput, Conflict) as exc:
            form.fail(exc)
            return _subscription_form(request, settings, form, sub)
        return redirect(f"{SUBSCRIPTIONS}?done=changed#subscription-{subscription_id}")

    @post(SUBSCRIPTIONS + "/{subscription_id:int}/test", opt=page("subscription.write"))
    async def send_test(
        self, request: Request[Any, Any, Any], subscription_id: Id, actor: ActorDep
    ) -> Response[Any]:
        """Send a test now, as the API does; the page it leads to says what the receiver answered."""
        message = await flows.queue_test(actor=actor, subscription_id=subscription_id)
        await request.app.state.outbox_worker.deliver_now([message["id"]])
        return redirect(f"{SUBSCRIPTIONS}?tested={message['id']}#subscription-{subscription_id}")

    @post(SUBSCRIPTIONS + "/{subscription_id:int}/active", opt=page("subscription.write"))
    async def switch(
        self,
        request: Request[Any, Any, Any],
        subscription_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Turn a subscription off (nothing is queued for it) or on again."""
        form = form_of(request)
        on = text(form, data, "active", max_length=3) == "yes"
        try:
            await services.update_subscription(
                actor=actor,
                keyring=_keyring(request),
                settings=settings,
                subscription_id=subscription_id,
                version=number(form, data, "version") or 0,
                changes={"active": on},
            )
        except StaleVersion:
            return await _subscriptions_page(
                request, actor, settings, stale=subscription_id, status=409
            )
        return redirect(
            f"{SUBSCRIPTIONS}?done={'on' if on else 'off'}#subscription-{subscription_id}"
        )

    @get(SUBSCRIPTIONS + "/{subscription_id:int}/rotate-secret", opt=page("subscription.write"))
    async def confirm_rotate(
        self, request: Request[Any, Any, Any], subscription_id: Id
    ) -> Template:
        """Are you sure? The old secret stops at once."""
        return await _confirm(request, subscription_id, "rotate")

    @post(
        SUBSCRIPTIONS + "/{subscription_id:int}/rotate-secret",
        opt=page("subscription.write"),
        status_code=200,
    )
    async def rotate_secret(
        self, request: Request[Any, Any, Any], subscription_id: Id, data: Form, actor: ActorDep
    ) -> Template:
        """A new signing secret, shown once in the answer."""
        try:
            sub, secret = await services.rotate_secret(
                actor=actor,
                keyring=_keyring(request),
                subscription_id=subscription_id,
                version=number(form_of(request), data, "version") or 0,
            )
        except StaleVersion:
            return await _confirm(request, subscription_id, "rotate", stale=True)
        return render(
            request,
            "notifications/secret.html",
            status=200,
            title=N_("New signing secret"),
            sub=sub,
            secret=secret,
            rotated=True,
            formats=FORMATS,
        )

    @get(SUBSCRIPTIONS + "/{subscription_id:int}/delete", opt=page("subscription.write"))
    async def confirm_delete(
        self, request: Request[Any, Any, Any], subscription_id: Id
    ) -> Template:
        """Are you sure? Its queued messages go with it."""
        return await _confirm(request, subscription_id, "delete")

    @post(SUBSCRIPTIONS + "/{subscription_id:int}/delete", opt=page("subscription.write"))
    async def delete(self, subscription_id: Id, actor: ActorDep) -> Response[Any]:
        """Delete it with the same service as the API."""
        await services.delete_subscription(actor=actor, subscription_id=subscription_id)
        return redirect(f"{SUBSCRIPTIONS}?done=deleted")

    @get(OUTBOX, opt=page("outbox.read"))
    async def outbox(
        self,
        request: Request[Any, Any, Any],
        actor: ActorDep,
        message_state: StateQuery = "",
        subscription_id: FilterId = "",
        retried: QueryId = None,
        offset: Offset = 0,
    ) -> Template:
        """Messages on their way, delivered and dead, newest first, with their last error in words."""
        return await _outbox_page(
            request,
            actor,
            state=message_state,
            subscription_id=chosen_id(subscription_id),
            retried=retried,
            offset=offset,
        )

    @post(OUTBOX + "/{message_id:int}/retry", opt=page("outbox.retry"))
    async def retry(
        self, request: Request[Any, Any, Any], message_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Send a dead letter again from its first attempt; back to the list as it was filtered."""
        form = form_of(request)
        sent = text(form, data, "state", max_length=20)
        state = sent if sent in set(OutboxState) else ""
        subscription_id = number(form, data, "subscription_id")
        try:
            await services.retry_message(actor=actor, message_id=message_id)
        except Conflict as exc:
            return await _outbox_page(
                request,
                actor,
                state=state,
                subscription_id=subscription_id,
                refused={"id": message_id, "message": exc.said(form.gettext)},
                status=409,
            )
        query = f"state={state}&" if state else ""
        query += f"subscription_id={subscription_id}&" if subscription_id else ""
        return redirect(f"{OUTBOX}?{query}retried={message_id}")


def _saved(sub: dict[str, Any]) -> dict[str, Any]:
    """What the edit form shows of a saved subscription (never its URL)."""
    return {k: sub[k] for k in ("name", "format", "event_types", "roles")}


def _subscription_form(
    request: Request[Any, Any, Any],
    settings: Settings,
    form: FormState,
    sub: dict[str, Any] | None = None,
) -> Template:
    """The new receiver's form, or (given `sub`) the form that changes one."""
    return render(
        request,
        "notifications/subscription_form.html",
        status=form.status if form.invalid else 200,
        title=N_("Change a subscription") if sub else N_("New subscription"),
        form=form,
        sub=sub,
        event_words=EVENTS,
        format_words=FORMATS,
        events=[(e.value, EVENTS[e]) for e in CHOOSABLE_EVENTS],
        formats=[(f.value, FORMATS[f], FORMAT_HINTS[f]) for f in WebhookFormat],
        roles=ROLES,
        allowed_hosts=settings.webhook_allowed_hosts,
    )


async def _subscriptions_page(
    request: Request[Any, Any, Any],
    actor: Actor,
    settings: Settings,
    *,
    tested: int | None = None,
    done: str = "",
    offset: int = 0,
    stale: int | None = None,
    status: int = 200,
) -> Template:
    subs, next_offset = await services.list_subscriptions(limit=PAGE_SIZE, offset=offset)
    test = None
    if tested is not None:
        try:
            test = await services.get_message(message_id=tested)
        except NotFound:
            test = None
    if test is not None:
        test["plain_error"] = plain_error(test["last_error"], test["last_status"])
    return render(
        request,
        "notifications/subscriptions.html",
        status=status,
        title=N_("Notifications"),
        subs=subs,
        test=test if test and test["event_type"] == EventType.test else None,
        done=done if done in ("on", "off", "deleted", "changed") else "",
        stale=stale,
        offset=offset,
        next_offset=next_offset,
        page_size=PAGE_SIZE,
        events=EVENTS,
        formats=FORMATS,
        states=STATES,
        roles=ROLES,
        may_write=may(actor, "subscription.write"),
        may_outbox=may(actor, "outbox.read"),
        allowed_hosts=settings.webhook_allowed_hosts,
    )


async def _confirm(
    request: Request[Any, Any, Any], subscription_id: int, what: str, *, stale: bool = False
) -> Template:
    sub = await services.get_subscription(subscription_id=subscription_id)
    return render(
        request,
        "notifications/confirm.html",
        status=409 if stale else 200,
        title=N_("Rotate the signing secret") if what == "rotate" else N_("Delete a subscription"),
        sub=sub,
        what=what,
        stale=stale,
        formats=FORMATS,
    )


async def _outbox_page(
    request: Request[Any, Any, Any],
    actor: Actor,
    *,
    state: str,
    subscription_id: int | None,
    retried: int | None = None,
    offset: int = 0,
    refused: dict[str, Any] | None = None,
    status: int = 200,
) -> Template:
    try:
        chosen = OutboxState(state) if state else None
    except ValueError as exc:
        raise InvalidInput(
            N_("'%(state)s' is not a state of the outbox"), field="state", params={"state": state}
        ) from exc
    messages, next_offset = await services.list_messages(
        limit=PAGE_SIZE, offset=offset, state=chosen, subscription_id=subscription_id
    )
    for message in messages:
        message["plain_error"] = plain_error(
            message["last_error"], message["last_status"], mail=message["recipient"] is not None
        )
    subs, _ = await services.list_subscriptions(limit=MAX_SUBSCRIPTIONS, offset=0)
    filters = {"state": state, "subscription_id": subscription_id or ""}
    return render(
        request,
        "notifications/outbox.html",
        status=status,
        title=N_("Outbox"),
        messages=messages,
        counts=await services.outbox_counts(),
        subscriptions={s["id"]: s["name"] for s in subs},
        filters=filters,
        retried=retried,
        refused=refused,
        offset=offset,
        next_offset=next_offset,
        page_size=PAGE_SIZE,
        events={**EVENTS, **MAIL_EVENTS},
        states=STATES,
        may_retry=may(actor, "outbox.retry"),
        may_subscriptions=may(actor, "subscription.read"),
    )


async def home_sections(actor: Actor, settings: Settings) -> list[dict[str, Any]]:
    """For who may retry them: dead letters waiting, when there are any."""
    if not may(actor, "outbox.retry"):
        return []
    dead = (await services.outbox_counts())["dead"]
    if not dead:
        return []
    return [
        {
            "title": N_("Notifications not delivered"),
            "template": "notifications/_dead_letters_home.html",
            "dead": dead,
        }
    ]


def register_pages(ext: Any) -> None:
    """The notifications' pages, menu entries, templates and home section."""
    ext.add_controllers("notifications", [NotificationPages])
    ext.nav_links.extend(NAV)
    ext.template_dirs.append(Path(__file__).parent / "templates")
    ext.home_sections.append(home_sections)
