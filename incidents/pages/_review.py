"""The post-incident review on the incident page: written, its follow-up actions, signed off."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, Response, post

from incidents import services
from incidents.enums import OwnerRole
from incidents.pages._incident import OWNERS, incident_page
from register.errors import RegisterError, StaleVersion
from register.forms import FormState, number, text
from register.i18n import N_
from register.openapi import ActorDep, Id
from register.pages import Form, page, reader_of, redirect


def _back(incident_id: int, done: str) -> Response[Any]:
    return redirect(f"/incidents/{incident_id}?done={done}#review-heading")


class ReviewPages(Controller):
    """The review's text, its follow-up actions and its sign-off."""

    path = "/incidents"
    include_in_schema = False

    @post("/{incident_id:int}/review", opt=page("incident.write"), status_code=303)
    async def save(
        self, request: Request[Any, Any, Any], incident_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Write the review, or change it with the version read."""
        form = FormState(gettext=reader_of(request).gettext)
        body = {k: text(form, data, k, max_length=20000) for k in services.REVIEW_FIELDS}
        version = number(form, data, "version")
        if not form.invalid:
            try:
                await services.save_review(
                    actor=actor, incident_id=incident_id, version=version or 0, data=body
                )
            except StaleVersion:
                saved = await services.review_out(incident_id)
                form.mark_stale(
                    current={k: saved[k] for k in services.REVIEW_FIELDS},
                    version=saved["version"],
                )
            except RegisterError as exc:
                form.fail(exc)
            else:
                return _back(incident_id, "review")
        return await incident_page(request, actor, incident_id, form.status, {"review": form})

    @post("/{incident_id:int}/review/actions", opt=page("incident.write"), status_code=303)
    async def action(
        self, request: Request[Any, Any, Any], incident_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """A follow-up action: what, whose, by when."""
        form = FormState(gettext=reader_of(request).gettext)
        title = text(form, data, "title", max_length=300)
        owner = text(form, data, "owner_role", max_length=20)
        due = text(form, data, "due_at", max_length=10)
        due_at = None
        if not title:
            form.errors["title"] = form.gettext(N_("Say what is to be done."))
        if owner not in OWNERS:
            form.errors["owner_role"] = form.gettext(N_("Choose who does it."))
        try:
            day = dt.date.fromisoformat(due)
            due_at = dt.datetime.combine(day, dt.time(17, 0), tzinfo=dt.UTC)
        except ValueError:
            form.errors["due_at"] = form.gettext(N_("Give the date it is due, as 2026-12-31."))
        if not form.invalid:
            try:
                await services.add_action(
                    actor=actor,
                    incident_id=incident_id,
                    data={"title": title, "owner_role": OwnerRole(owner), "due_at": due_at},
                )
            except RegisterError as exc:
                form.fail(exc)
            else:
                return _back(incident_id, "action")
        return await incident_page(request, actor, incident_id, form.status, {"action": form})

    @post("/{incident_id:int}/review/sign-off", opt=page("incident.write"), status_code=303)
    async def sign_off(
        self, request: Request[Any, Any, Any], incident_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Sign the review off: it is final, and a SEV1 or SEV2 incident may close."""
        form = FormState(gettext=reader_of(request).gettext)
        version = number(form, data, "version")
        try:
            await services.sign_off_review(
                actor=actor, incident_id=incident_id, version=version or 0
            )
        except RegisterError as exc:
            saved = await services.review_out(incident_id)
            form.values = {
                "version": saved["version"],
                **{k: saved[k] or "" for k in services.REVIEW_FIELDS},
            }
            form.fail(exc)
            return await incident_page(request, actor, incident_id, form.status, {"review": form})
        return _back(incident_id, "signed")
