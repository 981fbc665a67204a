"""The confidential report form: any member of staff, no account, no JavaScript, anonymous if they wish.

It needs no CSRF token, like the sign-in form: it is public, acts as nobody (the intake files the
report as an anonymous reporter whoever sends it), and a forged post could do no more than a
visitor sending it themselves, within the same hourly limit per address.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from incidents import flows
from incidents.enums import SEVERITIES, Category, Severity
from incidents.pages._common import CATEGORIES, duration
from register.access import PUBLIC
from register.errors import RegisterError, TooManyAttempts
from register.forms import FormState, flag, text
from register.i18n import N_
from register.openapi import ActorDep
from register.pages import Form, page, reader_of, render

REPORT_PATH = "/report"
MAX_LINKS = 20
# The intake's field names as the form shows them.
FIELDS = {"content_urls": "links", "reporter_contact": "reporter_contact"}


def _form(request: Request[Any, Any, Any]) -> FormState:
    return FormState(gettext=reader_of(request).gettext)


def _within(request: Request[Any, Any, Any]) -> dict[str, str]:
    """How soon the intake's severities must be taken up (urgent: SEV2, else SEV3), in words."""
    reader = reader_of(request)
    return {
        key: duration(reader, int(SEVERITIES[s].acknowledge.total_seconds() // 60))
        for key, s in (("urgent", Severity.SEV2), ("normal", Severity.SEV3))
    }


class ReportPages(Controller):
    """The public confidential report form and its receipt."""

    include_in_schema = False

    def _show(
        self,
        request: Request[Any, Any, Any],
        form: FormState,
        status: int = 200,
        limited: bool = False,
    ) -> Template:
        return render(
            request,
            "incidents/report.html",
            status=status,
            title=N_("Report a problem in confidence"),
            form=form,
            categories=CATEGORIES,
            per_hour=flows.INTAKE_PER_HOUR,
            limited=limited,
            max_links=MAX_LINKS,
            within=_within(request),
        )

    @get(REPORT_PATH, opt=page(PUBLIC))
    async def report_form(self, request: Request[Any, Any, Any]) -> Template:
        """The form: no sign-in, works without JavaScript."""
        form = _form(request)
        form.values["anonymous"] = "yes"
        return self._show(request, form)

    @post(REPORT_PATH, opt=page(PUBLIC), status_code=200)
    async def send_report(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Template:
        """The same intake as the API's; the receipt is shown here, not at an address to revisit."""
        form = _form(request)
        category = text(form, data, "category", max_length=40)
        title = text(form, data, "title", max_length=300)
        description = text(form, data, "description", max_length=20000)
        raw_links = text(form, data, "links", max_length=MAX_LINKS * 2100)
        urgent = flag(form, data, "urgent")
        anonymous = text(form, data, "anonymous", max_length=3) != "no"
        form.values["anonymous"] = "yes" if anonymous else "no"
        name = text(form, data, "reporter_name", max_length=200)
        contact = text(form, data, "reporter_contact", max_length=320)
        links = [line.strip() for line in raw_links.splitlines() if line.strip()]
        if category not in {c.value for c in Category}:
            form.errors["category"] = form.gettext(N_("Choose what it is about."))
        if not title and "title" not in form.errors:
            form.errors["title"] = form.gettext(N_("Say in a line what happened."))
        if len(links) > MAX_LINKS:
            form.errors["links"] = form.gettext(N_("At most %(count)s links.")) % {
                "count": MAX_LINKS
            }
        if not anonymous and not name and "reporter_name" not in form.errors:
            form.errors["reporter_name"] = form.gettext(
                N_("Give your name, or choose to stay anonymous.")
            )
        if form.invalid:
            return self._show(request, form, status=form.status)
        try:
            receipt = await flows.intake(
                actor=actor,
                data={
                    "category": category,
                    "title": title,
                    "description": description,
                    "content_urls": links,
                    "urgent": urgent,
                    "anonymous": anonymous,
                    "reporter_name": name,
                    "reporter_contact": contact,
                },
                secret=request.app.state.secrets.secret_key,
            )
        except TooManyAttempts:
            return self._show(request, form, status=429, limited=True)
        except RegisterError as exc:
            if str(exc.extra.get("field") or "").startswith("content_urls"):
                form.errors["links"] = form.gettext(
                    N_("Each link must start with http:// or https://, one link a line.")
                )
            else:
                form.fail(exc, FIELDS)
            return self._show(request, form, status=form.status)
        return render(
            request,
            "incidents/report_sent.html",
            title=N_("Your report is in"),
            receipt=receipt,
            urgent=urgent,
            within=_within(request),
        )
