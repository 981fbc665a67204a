"""Every incident (filters, search, pages), the reviews searched, and legal counsel's queue."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Template

from accounts import services as accounts_services
from accounts.pages._common import PLATFORMS
from incidents import services
from incidents.enums import SIGN_OFF_ROLES, Category, Severity, Status, TaskState
from incidents.pages._common import (
    CATEGORIES,
    PAGE_SIZE,
    SEVERITY_NAMES,
    STATUSES,
    Choice,
    Offset,
    Search,
    live_accounts,
    user_names,
)
from register.access import allowed, object_guard, refuse
from register.errors import InvalidInput, RegisterError
from register.forms import FormState, text
from register.i18n import N_
from register.openapi import ActorDep, Id
from register.pages import FilterId, Form, chosen_id, page, reader_of, redirect, render


def _chosen(value: str, kind: type[Any], field: str) -> Any:
    """A select's value as a member of its closed set, None for "any"; 422 naming it else."""
    if not value:
        return None
    try:
        return kind(value)
    except ValueError as exc:
        message = (
            N_("'%(value)s' is not a status")
            if field == "status"
            else N_("'%(value)s' is not a severity")
            if field == "severity"
            else N_("'%(value)s' is not a category")
        )
        raise InvalidInput(message, field=field, params={"value": value}) from exc


class ListPages(Controller):
    """The incidents list, reviews search, and legal's view."""

    path = "/incidents"
    include_in_schema = False

    @get("/", opt=page("incident.read", replica_reads=True))
    async def list_incidents(
        self,
        request: Request[Any, Any, Any],
        actor: ActorDep,
        status: Choice = "",
        severity: Choice = "",
        category: Choice = "",
        account_id: FilterId = "",
        q: Search = None,
        offset: Offset = 0,
    ) -> Template:
        """Incidents newest first, filtered by status, severity, category and account, searched."""
        account = chosen_id(account_id)
        items, next_offset = await services.list_incidents(
            actor=actor,
            limit=PAGE_SIZE,
            offset=offset,
            status=_chosen(status, Status, "status"),
            severity=_chosen(severity, Severity, "severity"),
            category=_chosen(category, Category, "category"),
            account_id=account,
            q=q,
        )
        handles = await accounts_services.account_handles(
            sorted({i["account_id"] for i in items if i["account_id"]})
        )
        filters = {
            "status": status,
            "severity": severity,
            "category": category,
            "account_id": account or "",
            "q": q or "",
        }
        return render(
            request,
            "incidents/list.html",
            title=N_("Incidents"),
            items=items,
            handles=handles,
            filters=filters,
            filtered=any(filters.values()),
            offset=offset,
            next_offset=next_offset,
            page_size=PAGE_SIZE,
            accounts=await live_accounts(),
            categories=CATEGORIES,
            severity_names=SEVERITY_NAMES,
            statuses=STATUSES,
            platforms=PLATFORMS,
        )

    @get("/reviews", opt=page("incident.read", replica_reads=True))
    async def reviews(
        self,
        request: Request[Any, Any, Any],
        q: Search = None,
        category: Choice = "",
        offset: Offset = 0,
    ) -> Template:
        """Post-incident reviews whose text matches, with their incidents."""
        items, next_offset = await services.search_reviews(
            q=q,
            limit=PAGE_SIZE,
            offset=offset,
            category=_chosen(category, Category, "category"),
        )
        return render(
            request,
            "incidents/reviews.html",
            title=N_("Post-incident reviews"),
            items=items,
            filters={"q": q or "", "category": category},
            offset=offset,
            next_offset=next_offset,
            page_size=PAGE_SIZE,
            categories=CATEGORIES,
            severity_names=SEVERITY_NAMES,
        )

    async def _legal(
        self,
        request: Request[Any, Any, Any],
        actor: ActorDep,
        form: FormState | None = None,
        task_id: int | None = None,
        status: int = 200,
    ) -> Template:
        queue = await services.legal_queue()
        names = await user_names(
            [i["legal_id"] for i in queue] + [s["assignee_id"] for i in queue for s in i["steps"]]
        )
        return render(
            request,
            "incidents/legal.html",
            status=status,
            title=N_("Legal review"),
            queue=queue,
            names=names,
            signs=actor.role in SIGN_OFF_ROLES,
            form=form or FormState(gettext=reader_of(request).gettext),
            failed_task=task_id,
            done=request.query_params.get("done", ""),
            severity_names=SEVERITY_NAMES,
            statuses=STATUSES,
        )

    @get("/legal", opt=page("incident.read"))
    async def legal(self, request: Request[Any, Any, Any], actor: ActorDep) -> Template:
        """Incidents waiting for legal counsel, and the legal steps to approve with a note."""
        return await self._legal(request, actor)

    @post(
        "/legal/{incident_id:int}/tasks/{task_id:int}",
        guards=[object_guard(services.check_task_worker)],
        opt=page("incident.task"),
        status_code=303,
    )
    async def approve(
        self,
        request: Request[Any, Any, Any],
        incident_id: Id,
        task_id: Id,
        data: Form,
        actor: ActorDep,
    ) -> Response[Any]:
        """Legal counsel signs a legal step off with a note (the same service as the API's)."""
        if not allowed("incident.read", actor.role):
            # Staff work their own tasks from their home page; legal's queue is not theirs to see.
            raise await refuse(
                actor,
                "incident.task",
                "incident_task",
                task_id,
                N_(
                    "legal's queue is not open to role '%(role)s': finish your task from your home page"
                ),
                {"role": actor.role.value if actor.role else "none"},
            )
        form = FormState(gettext=reader_of(request).gettext)
        note = text(form, data, "note", max_length=5000)
        if not form.invalid:
            try:
                task = await services.finish_task(
                    actor=actor,
                    incident_id=incident_id,
                    task_id=task_id,
                    state=TaskState.done,
                    note=note,
                )
            except RegisterError as exc:
                form.fail(exc, {"requires": "note", "kind": "note"})
            else:
                return redirect(f"/incidents/legal?done={task['id']}")
        return await self._legal(request, actor, form, task_id, status=form.status)
