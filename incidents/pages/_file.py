"""Filing an incident in under a minute, and what filing a compromise did at once."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Template

from accounts import services as accounts_services
from accounts.pages._common import PLATFORMS
from accounts.pages._common import STATUSES as ACCOUNT_STATUSES
from incidents import services
from incidents.enums import Category, Severity, TimelineKind
from incidents.pages._common import CATEGORIES, live_accounts, severity_options
from register.admin_pages import ROLES
from register.enums import Role
from register.errors import RegisterError
from register.forms import FormState, number, text
from register.i18n import N_
from register.openapi import ActorDep, Id
from register.pages import Form, page, reader_of, redirect, render
from register.staff.services import employee_names

# The service's fields as the form names them.
FIELDS = {"content_urls[0]": "link", "content_urls": "link", "account_id": "account_id"}


def _form(request: Request[Any, Any, Any]) -> FormState:
    return FormState(gettext=reader_of(request).gettext)


class FilePages(Controller):
    """The short filing form, and the page that says what filing a compromise did."""

    path = "/incidents"
    include_in_schema = False

    async def _show(
        self, request: Request[Any, Any, Any], form: FormState, status: int = 200
    ) -> Template:
        return render(
            request,
            "incidents/new.html",
            status=status,
            title=N_("Report an incident"),
            form=form,
            categories=CATEGORIES,
            severities=severity_options(reader_of(request)),
            accounts=await live_accounts(),
            platforms=PLATFORMS,
        )

    @get("/new", opt=page("incident.file"))
    async def new(self, request: Request[Any, Any, Any]) -> Template:
        """What happened, what kind, how bad, which account, one link: the rest comes later."""
        return await self._show(request, _form(request))

    @post("/new", opt=page("incident.file"), status_code=303)
    async def file(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Response[Any]:
        """File it through the same service as the API, then to the incident."""
        form = _form(request)
        title = text(form, data, "title", max_length=300)
        category = text(form, data, "category", max_length=40)
        severity = text(form, data, "severity", max_length=10)
        account_id = number(form, data, "account_id")
        link = text(form, data, "link", max_length=2000)
        if not title and "title" not in form.errors:
            form.errors["title"] = form.gettext(N_("Say in a line what happened."))
        if category not in {c.value for c in Category}:
            form.errors["category"] = form.gettext(N_("Choose what kind of incident it is."))
        if severity not in {s.value for s in Severity}:
            form.errors["severity"] = form.gettext(N_("Choose how bad it is."))
        if not form.invalid:
            try:
                incident = await services.file_incident(
                    actor=actor,
                    data={
                        "title": title,
                        "category": category,
                        "severity": severity,
                        "account_id": account_id,
                        "content_urls": [link] if link else [],
                    },
                )
            except RegisterError as exc:
                form.fail(exc, FIELDS)
            else:
                if category == Category.account_compromise.value and account_id is not None:
                    return redirect(f"/incidents/{incident['id']}/filed")
                return redirect(f"/incidents/{incident['id']}")
        return await self._show(request, form, status=form.status)

    @get("/{incident_id:int}/filed", opt=page("incident.read"))
    async def filed(
        self, request: Request[Any, Any, Any], incident_id: Id, actor: ActorDep
    ) -> Template:
        """A compromise just filed: the account is marked compromised, and who was told."""
        incident = await services.get_incident(actor=actor, incident_id=incident_id)
        account = (
            await accounts_services.get_account(account_id=incident["account_id"])
            if incident["account_id"]
            else None
        )
        entries, _ = await services.list_timeline(incident_id=incident_id, limit=200, offset=0)
        reader = reader_of(request)
        told = []
        for e in entries:
            if e["kind"] == TimelineKind.account.value:
                names = await employee_names(e["data"].get("custodians", []))
                people = ", ".join(names[i] for i in e["data"].get("custodians", []) if i in names)
                who = reader.gettext(N_("IT, to reach the account's custodians: %(names)s")) % {
                    "names": people or reader.gettext(N_("none on record"))
                }
            elif e["kind"] == TimelineKind.escalation.value:
                who = ", ".join(reader.gettext(ROLES[Role(r)]) for r in e["data"].get("roles", []))
            else:
                continue
            told.append({"who": who, "subscriptions": int(e["data"].get("subscriptions") or 0)})
        return render(
            request,
            "incidents/filed.html",
            title=N_("Incident filed"),
            incident=incident,
            account=account,
            told=told,
            platforms=PLATFORMS,
            account_statuses=ACCOUNT_STATUSES,
        )
