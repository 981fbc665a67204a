"""The incident page: who leads it, the playbook's steps by phase, phase moves, the live timeline."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from babel.dates import format_timedelta
from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Template

from accounts.pages._common import PLATFORMS
from accounts.posts import services as post_services
from accounts.posts.pages._common import post_name
from incidents import flows, services
from incidents.enums import (
    SEVERITIES,
    STATUS_ORDER,
    OwnerRole,
    Phase,
    ReportOutcome,
    Severity,
    Status,
    TaskKind,
    TaskState,
)
from incidents.pages._common import CATEGORIES
from register.access import allowed, object_guard
from register.actor import Actor
from register.admin_pages import ROLES
from register.db import as_utc, now
from register.enums import Role
from register.errors import Conflict, InvalidInput, NotFound, RegisterError, StaleVersion
from register.forms import FormState, number, text
from register.i18n import N_
from register.openapi import ActorDep, Id, SettingsDep
from register.pages import Form, home_page, is_htmx, page, reader_of, redirect, render
from register.services import get_user, list_users

After = Annotated[int, QueryParameter(ge=0, le=2**31 - 1)]

PHASES = {
    Phase.triage.value: N_("Triage"),
    Phase.contain.value: N_("Contain"),
    Phase.resolve.value: N_("Resolve"),
    Phase.review.value: N_("Review"),
}
STATUSES = {
    Status.reported.value: N_("Reported"),
    Status.triaged.value: N_("Triaged"),
    Status.contained.value: N_("Contained"),
    Status.resolved.value: N_("Resolved"),
    Status.closed.value: N_("Closed"),
}
OWNERS = {
    OwnerRole.commander.value: N_("Incident commander"),
    OwnerRole.spokesperson.value: N_("Spokesperson"),
    OwnerRole.comms.value: N_("Comms team"),
    OwnerRole.legal.value: N_("Legal counsel"),
    OwnerRole.hr.value: N_("HR"),
    OwnerRole.it.value: N_("IT"),
}
SEVERITY_WORDS = {
    Severity.SEV1.value: N_("SEV1: critical"),
    Severity.SEV2.value: N_("SEV2: high"),
    Severity.SEV3.value: N_("SEV3: moderate"),
    Severity.SEV4.value: N_("SEV4: low"),
}
OUTCOMES = {
    ReportOutcome.pending.value: N_("Waiting for the platform"),
    ReportOutcome.removed.value: N_("Removed"),
    ReportOutcome.restricted.value: N_("Restricted"),
    ReportOutcome.refused.value: N_("Refused by the platform"),
    ReportOutcome.no_response.value: N_("No response"),
}
TASK_STATES = {
    TaskState.done.value: N_("completed"),
    TaskState.skipped.value: N_("skipped"),
}
EVIDENCE_KINDS = {"file": N_("file"), "link": N_("link")}
FIELDS = {
    "title": N_("title"),
    "description": N_("description"),
    "platform": N_("platform"),
    "account_id": N_("account"),
    "employee_id": N_("employee involved"),
    "content_urls": N_("links to the content"),
    "commander_id": N_("incident commander"),
    "spokesperson_id": N_("spokesperson"),
    "legal_id": N_("legal counsel"),
}
# A timeline line's params that are the API's words, and the labels a page says them with.
LINE_WORDS: dict[str, Mapping[Any, str]] = {
    "severity": SEVERITY_WORDS,
    "old_severity": SEVERITY_WORDS,
    "status": STATUSES,
    "old_status": STATUSES,
    "category": CATEGORIES,
    "roles": ROLES,
    "platform": PLATFORMS,
    "task_state": TASK_STATES,
    "evidence_kind": EVIDENCE_KINDS,
    "fields": FIELDS,
}


def said_line(gettext: Any, said: Mapping[str, Any]) -> str:
    """A timeline line in a reader's words: its catalogue message, its params translated."""
    params: dict[str, Any] = {}
    for key, value in (said.get("params") or {}).items():
        labels = LINE_WORDS.get(key, {})
        if isinstance(value, Mapping):
            params[key] = said_line(gettext, value)
        elif key == "title" and isinstance(value, str) and value:
            # A step's title: the shipped words translated, a title someone wrote as it is.
            params[key] = gettext(value)
        elif isinstance(value, list):
            params[key] = ", ".join(gettext(labels[v]) if v in labels else str(v) for v in value)
        else:
            params[key] = gettext(labels[value]) if value in labels else value
    return gettext(said["message"]) % params if params else gettext(said["message"])


def timeline_lines(gettext: Any, entries: Iterable[dict[str, Any]]) -> None:
    """Each entry's line as the page shows it (notes and lines from before: as written)."""
    for e in entries:
        said = (e.get("data") or {}).get("said")
        try:
            e["shown"] = said_line(gettext, said) if isinstance(said, Mapping) else e["text"]
        except (KeyError, TypeError, ValueError):
            e["shown"] = e["text"]


# The people of an incident, and who may be named for each (counsel signs the legal steps).
PEOPLE = ("commander", "spokesperson", "legal")
TIMELINE_LIMIT = 200


async def user_names(ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
    """Users by id, for their names (the few an incident names)."""
    out: dict[int, dict[str, Any]] = {}
    for user_id in {i for i in ids if i}:
        try:
            out[user_id] = await get_user(user_id=user_id)
        except NotFound:
            continue
    return out


async def _people_choices() -> dict[str, list[tuple[int, str]]]:
    """Who may be named commander or spokesperson (any active user) and legal counsel."""
    users, _ = await list_users(limit=200, offset=0, active=True)
    everyone = sorted(
        ((u["id"], f"{u['name'] or u['email']} ({u['email']})", u["role"]) for u in users),
        key=lambda u: u[1].lower(),
    )
    return {
        "commander": [(i, n) for i, n, _ in everyone],
        "spokesperson": [(i, n) for i, n, _ in everyone],
        "legal": [(i, n) for i, n, r in everyone if r in (Role.legal.value, Role.admin.value)],
    }


def due_words(request: Request[Any, Any, Any], due: Any, at: dt.datetime) -> tuple[str, bool]:
    """When a step is due, in words, and whether it is late."""
    moment = as_utc(due)
    if moment is None:
        return "", False
    reader = reader_of(request)
    gap = format_timedelta(abs(moment - at), locale=reader.locale, threshold=1.5)
    if moment < at:
        return reader.gettext(N_("overdue by %(time)s")) % {"time": gap}, True
    return reader.gettext(N_("in %(time)s")) % {"time": gap}, False


# The API's refusals name the API call that fixes them; a page says where to go instead.
_API_HINT = re.compile(r"\s*\((?:GET|PUT|PATCH|POST) /api/[^)]*\)")


def page_words(form: FormState) -> None:
    """A refusal's words without the API call it suggests (the page links the place instead)."""
    form.alert = _API_HINT.sub("", form.alert)
    form.errors = {k: _API_HINT.sub("", v) for k, v in form.errors.items()}


async def assignee_choices(
    actor: Actor, incident: Mapping[str, Any], tasks: list[dict[str, Any]]
) -> dict[int, list[tuple[int, str]]]:
    """Per open step, who it may be given to, by name (for those who assign, on an open incident)."""
    if not allowed("incident.write", actor.role) or incident["status"] == Status.closed.value:
        return {}
    users, _ = await list_users(limit=200, offset=0, active=True)
    given = await services.task_assignees(tasks=tasks, users=users)
    return {
        task_id: sorted(
            ((u["id"], f"{u['name']} ({u['email']})" if u["name"] else u["email"]) for u in people),
            key=lambda u: u[1].lower(),
        )
        for task_id, people in given.items()
    }


async def task_views(
    request: Request[Any, Any, Any],
    actor: Actor,
    incident: Mapping[str, Any],
    tasks: list[dict[str, Any]],
    names: Mapping[int, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Each step as the page shows it: who, when, late in words, what it waits for, and who it
    may be given to (None: this reader does not assign steps)."""
    at = now()
    gettext = reader_of(request).gettext
    by_key = {t["step_key"]: t for t in tasks}
    rotated = await services.rotation_done(incident)
    closed = incident["status"] == Status.closed.value
    choices = await assignee_choices(actor, incident, tasks)
    out = []
    for t in tasks:
        waits = [
            by_key[k]
            for k in t["requires"]
            if k in by_key and by_key[k]["state"] == TaskState.open.value
        ]
        due, late = due_words(request, t["due_at"], at)
        out.append(
            {
                **t,
                # The register's own note on the acknowledge step, in the reader's words.
                "note": gettext(t["note"]) if t["note"] == flows.ACKNOWLEDGED else t["note"],
                "due_text": due,
                "late": late and t["state"] == TaskState.open.value,
                "waits": waits,
                "vault_first": t["kind"] == TaskKind.rotation.value and not rotated,
                "assignee": names.get(t["assignee_id"]),
                "finisher": names.get(t["done_by"]),
                "choices": choices.get(t["id"]),
                "may_work": (
                    not closed
                    and t["state"] == TaskState.open.value
                    and await services.may_work_task(actor, t)
                ),
            }
        )
    return out


def _fresh(gettext: Any, **values: Any) -> FormState:
    return FormState(gettext=gettext, values=dict(values), words=LINE_WORDS)


async def incident_context(
    request: Request[Any, Any, Any],
    actor: Actor,
    incident_id: int,
    forms: Mapping[str, FormState] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Everything the incident page shows, with its forms (fresh, or as sent with their errors)."""
    incident = await services.get_incident(actor=actor, incident_id=incident_id)
    row = await services.incident_row(incident_id)
    tasks = await services.list_tasks(incident_id=incident_id)
    entries, _ = await services.list_timeline(
        incident_id=incident_id, limit=TIMELINE_LIMIT, offset=0
    )
    timeline_lines(reader_of(request).gettext, entries)
    evidence = await services.list_evidence(incident_id=incident_id)
    reports = await services.list_reports(incident_id=incident_id)
    try:
        review: dict[str, Any] | None = await services.review_out(incident_id)
    except NotFound:
        review = None
    names = await user_names(
        [incident[f"{p}_id"] for p in PEOPLE]
        + [t["assignee_id"] for t in tasks]
        + [t["done_by"] for t in tasks]
        + [e["actor_id"] for e in entries]
        + [e["captured_by"] for e in evidence]
        + ([review["signed_off_by"]] if review else [])
    )
    gettext = reader_of(request).gettext
    views = await task_views(request, actor, row, tasks, names)
    current = STATUS_ORDER.index(Status(incident["status"]))
    fresh: dict[str, FormState] = {
        "severity": _fresh(gettext, severity=incident["severity"], version=incident["version"]),
        "people": _fresh(
            gettext,
            version=incident["version"],
            **{p: incident[f"{p}_id"] or "" for p in PEOPLE},
        ),
        "status": _fresh(
            gettext,
            status=STATUS_ORDER[current + 1].value if current + 1 < len(STATUS_ORDER) else "",
            version=incident["version"],
            note="",
        ),
        "note": _fresh(gettext, text="", kind="note"),
        "evidence": _fresh(gettext, description="", url=""),
        "report": _fresh(gettext, platform=incident["platform"] or "", outcome="pending"),
        "review": _fresh(
            gettext,
            version=review["version"] if review else 0,
            **{k: (review or {}).get(k) or "" for k in services.REVIEW_FIELDS},
        ),
        "action": _fresh(gettext, owner_role=OwnerRole.comms.value),
    }
    fresh.update(forms or {})
    open_steps = [t for t in views if t["state"] == TaskState.open.value]
    mine = [t for t in open_steps if t["may_work"] and not t["waits"]]
    update_due, update_late = due_words(request, incident["next_update_due_at"], now())
    post_request = None
    if incident["post_request_id"] is not None:
        titles = await post_services.post_request_titles([incident["post_request_id"]])
        post_request = titles.get(incident["post_request_id"])
        if post_request is not None:
            post_request["name"] = post_name(reader_of(request), post_request)
    account = None
    if incident["account_id"] is not None:
        account = await services.check_account(incident["account_id"])
    return {
        "incident": incident,
        "account": account,
        "post_request": post_request,
        "clock": SEVERITIES[Severity(incident["severity"])],
        "phases": [(p, [t for t in views if t["phase"] == p]) for p in PHASES],
        "open_count": len(open_steps),
        "first_open": (mine or open_steps or [None])[0],
        "update_due": update_due,
        "update_late": update_late,
        "entries": entries,
        "last_entry": entries[-1]["id"] if entries else 0,
        "evidence": evidence,
        "reports": reports,
        "review": review,
        "names": names,
        "forms": fresh,
        "next_statuses": [s.value for s in STATUS_ORDER[current + 1 :]],
        "people_choices": await _people_choices(),
        "phase_words": PHASES,
        "status_words": STATUSES,
        "owner_words": OWNERS,
        "severity_words": SEVERITY_WORDS,
        "outcome_words": OUTCOMES,
        "review_fields": services.REVIEW_FIELDS,
        "refused_tasks": [],
        "task_forms": {},
        "assign_forms": {},
        "just_finished": 0,
        "just_assigned": _assigned(request),
        "focus": "",
        "added": [int(x) for x in request.query_params.get("added", "").split(".") if _number(x)],
        "report_forms": {},
        "platform_words": PLATFORMS,
        "done": request.query_params.get("done", ""),
        **extra,
    }


def _assigned(request: Request[Any, Any, Any]) -> int:
    """The step just given to someone (or back to its team), after the form's redirect."""
    if request.query_params.get("done") != "assign":
        return 0
    task = request.query_params.get("task", "")
    return int(task) if _number(task) else 0


def _number(text: str) -> bool:
    """Whether a query value is an id: ASCII digits only ("²".isdigit() is true; int() refuses)."""
    return text.isascii() and text.isdigit() and len(text) < 10


def incident_title(request: Request[Any, Any, Any], incident: Mapping[str, Any]) -> str:
    return f"{incident['reference']}: {incident['title']}"


async def incident_page(
    request: Request[Any, Any, Any],
    actor: Actor,
    incident_id: int,
    status: int = 200,
    forms: Mapping[str, FormState] | None = None,
    **extra: Any,
) -> Template:
    """The whole incident page (again, with a form's errors when one was refused)."""
    context = await incident_context(request, actor, incident_id, forms, **extra)
    return render(
        request,
        "incidents/incident.html",
        status=status,
        title=incident_title(request, context["incident"]),
        translate_title=False,
        **context,
    )


async def steps_part(
    request: Request[Any, Any, Any], actor: Actor, incident_id: int, **extra: Any
) -> Template:
    """The playbook's steps alone, as htmx swaps them after a step is worked or given."""
    row = await services.incident_row(incident_id)
    tasks = await services.list_tasks(incident_id=incident_id)
    names = await user_names([t["assignee_id"] for t in tasks] + [t["done_by"] for t in tasks])
    views = await task_views(request, actor, row, tasks, names)
    return render(
        request,
        "incidents/_steps.html",
        title=incident_title(request, row),
        translate_title=False,
        incident=row,
        phases=[(p, [t for t in views if t["phase"] == p]) for p in PHASES],
        phase_words=PHASES,
        owner_words=OWNERS,
        **{
            "task_forms": {},
            "assign_forms": {},
            "just_finished": 0,
            "just_assigned": 0,
            **extra,
        },
    )


def _back(incident_id: int, done: str, anchor: str) -> Response[Any]:
    return redirect(f"/incidents/{incident_id}?done={done}#{anchor}")


class IncidentPages(Controller):
    """One incident: read it, change severity and people, work its steps, move its phase, note."""

    path = "/incidents"
    include_in_schema = False

    @get("/{incident_id:int}", opt=page("incident.read"))
    async def incident(
        self, request: Request[Any, Any, Any], incident_id: Id, actor: ActorDep
    ) -> Template:
        """The incident: status, people, steps by phase, timeline, evidence, reports, review."""
        return await incident_page(request, actor, incident_id)

    @get("/{incident_id:int}/timeline", opt=page("incident.read"))
    async def timeline(
        self, request: Request[Any, Any, Any], incident_id: Id, actor: ActorDep, after: After = 0
    ) -> Template:
        """The timeline's entries after one (htmx polls this every ten seconds)."""
        incident = await services.get_incident(actor=actor, incident_id=incident_id)
        # Only what came after the last entry the page has: a long timeline arrives in pieces.
        new, _ = await services.list_timeline(
            incident_id=incident_id, limit=TIMELINE_LIMIT, offset=0, after=after
        )
        timeline_lines(reader_of(request).gettext, new)
        return render(
            request,
            "incidents/_timeline_news.html",
            title=incident_title(request, incident),
            translate_title=False,
            incident=incident,
            entries=new,
            names=await user_names(e["actor_id"] for e in new),
            last_entry=new[-1]["id"] if new else after,
        )

    @post("/{incident_id:int}/severity", opt=page("incident.write"), status_code=303)
    async def severity(
        self, request: Request[Any, Any, Any], incident_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Raise or lower the severity: the open steps take the new clocks."""
        form = FormState(gettext=reader_of(request).gettext, words=LINE_WORDS)
        chosen = text(form, data, "severity", max_length=10)
        version = number(form, data, "version")
        if chosen not in SEVERITY_WORDS:
            form.errors["severity"] = form.gettext(N_("Choose a severity."))
        if not form.invalid:
            try:
                await services.update_incident(
                    actor=actor,
                    incident_id=incident_id,
                    version=version or 0,
                    changes={"severity": chosen},
                )
            except StaleVersion:
                saved = await services.get_incident(actor=actor, incident_id=incident_id)
                form.mark_stale(current={"severity": saved["severity"]}, version=saved["version"])
            except RegisterError as exc:
                form.fail(exc)
            else:
                return _back(incident_id, "severity", "severity-heading")
        return await incident_page(
            request, actor, incident_id, form.status, {"severity": form}, focus="severity"
        )

    @post("/{incident_id:int}/people", opt=page("incident.write"), status_code=303)
    async def people(
        self, request: Request[Any, Any, Any], incident_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Name the commander, the spokesperson and legal counsel."""
        form = FormState(gettext=reader_of(request).gettext, words=LINE_WORDS)
        version = number(form, data, "version")
        changes = {f"{p}_id": number(form, data, p) for p in PEOPLE}
        try:
            await services.update_incident(
                actor=actor, incident_id=incident_id, version=version or 0, changes=changes
            )
        except StaleVersion:
            saved = await services.get_incident(actor=actor, incident_id=incident_id)
            form.mark_stale(current={p: saved[f"{p}_id"] for p in PEOPLE}, version=saved["version"])
        except RegisterError as exc:
            form.fail(exc, {f"{p}_id": p for p in PEOPLE})
        else:
            return _back(incident_id, "people", "people-heading")
        return await incident_page(request, actor, incident_id, form.status, {"people": form})

    @post(
        "/{incident_id:int}/tasks/{task_id:int}/finish",
        # Someone else's task is refused before the form is read, as the API refuses it.
        guards=[object_guard(services.check_task_worker)],
        opt=page("incident.task"),
        status_code=303,
    )
    async def finish(
        self,
        request: Request[Any, Any, Any],
        incident_id: Id,
        task_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Complete a step with a note, or skip it with a reason; htmx swaps the step in place.
        Staff, who may not read the incident, mark theirs done from home: the answer is home."""
        form = FormState(gettext=reader_of(request).gettext, words=LINE_WORDS)
        note = text(form, data, "note", max_length=5000)
        skip = text(form, data, "state", max_length=10) == TaskState.skipped.value
        home = not allowed("incident.read", actor.role)
        if not form.invalid:
            try:
                await services.finish_task(
                    actor=actor,
                    incident_id=incident_id,
                    task_id=task_id,
                    state=TaskState.skipped if skip else TaskState.done,
                    note=note,
                )
            except RegisterError as exc:
                form.fail(exc, {"reason": "note"})
                page_words(form)
                if not note and isinstance(exc, InvalidInput):
                    # The API names the blank field; a page asks for what to write in it.
                    form.errors["note"] = form.gettext(
                        N_("Write why the step is skipped.")
                        if skip
                        else N_("Write in a line what you did.")
                    )
        if home:
            # Never the incident page: this reader may not read it.
            if not form.invalid:
                return redirect("/?done=task#tasks-done")
            return await home_page(
                request, actor, settings, status=form.status, task_forms={task_id: form}
            )
        if not is_htmx(request):
            if not form.invalid:
                return _back(incident_id, "task", f"task-{task_id}")
            return await incident_page(
                request, actor, incident_id, form.status, task_forms={task_id: form}
            )
        # htmx swaps 2xx answers only: the steps with the refusal are still what to show, all of
        # them, as finishing one may unlock others.
        return await steps_part(
            request,
            actor,
            incident_id,
            task_forms={task_id: form} if form.invalid else {},
            just_finished=0 if form.invalid else task_id,
        )

    @post(
        "/{incident_id:int}/tasks/{task_id:int}/assign", opt=page("incident.write"), status_code=303
    )
    async def assign(
        self,
        request: Request[Any, Any, Any],
        incident_id: Id,
        task_id: Id,
        data: Form,
        actor: ActorDep,
    ) -> Response[Any]:
        """Give an open step to someone chosen by name, or back to its team; they are e-mailed as
        the API's assignment mails them, and htmx swaps the steps."""
        form = FormState(gettext=reader_of(request).gettext, words=LINE_WORDS)
        chosen = number(form, data, "assignee")
        version = number(form, data, "version")
        unassign = text(form, data, "unassign", max_length=10) == "yes"
        if not unassign and chosen is None:
            form.errors["assignee"] = form.gettext(N_("Choose who takes this step."))
        if not form.invalid:
            try:
                await services.assign_task(
                    actor=actor,
                    incident_id=incident_id,
                    task_id=task_id,
                    version=version or 0,
                    assignee_id=None if unassign else chosen,
                )
            except StaleVersion:
                saved = await services.task_row(incident_id, task_id)
                form.mark_stale(
                    current={"assignee": saved["assignee_id"]}, version=saved["version"]
                )
            except RegisterError as exc:
                form.fail(exc, {"assignee_id": "assignee"})
                page_words(form)
        if not is_htmx(request):
            if not form.invalid:
                return redirect(
                    f"/incidents/{incident_id}?done=assign&task={task_id}#task-{task_id}"
                )
            return await incident_page(
                request, actor, incident_id, form.status, assign_forms={task_id: form}
            )
        return await steps_part(
            request,
            actor,
            incident_id,
            assign_forms={task_id: form} if form.invalid else {},
            just_assigned=0 if form.invalid else task_id,
        )

    @post("/{incident_id:int}/status", opt=page("incident.write"), status_code=303)
    async def status(
        self, request: Request[Any, Any, Any], incident_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Move the incident on a phase (or close it); a refusal lists the steps still open."""
        form = FormState(gettext=reader_of(request).gettext, words=LINE_WORDS)
        chosen = text(form, data, "status", max_length=20)
        note = text(form, data, "note", max_length=5000)
        version = number(form, data, "version")
        refused: list[str] = []
        if chosen not in STATUSES:
            form.errors["status"] = form.gettext(N_("Choose where the incident stands now."))
        if not form.invalid:
            try:
                await flows.change_status(
                    actor=actor,
                    incident_id=incident_id,
                    status=Status(chosen),
                    version=version or 0,
                    note=note,
                )
            except StaleVersion:
                saved = await services.get_incident(actor=actor, incident_id=incident_id)
                form.mark_stale(current={"status": saved["status"]}, version=saved["version"])
            except Conflict as exc:
                # A refusal of the move is the incident's state, not the field's: said above it.
                refused = list(exc.extra.get("open_tasks") or [])
                form.alert = exc.said(form.gettext, form.words)
                page_words(form)
            except RegisterError as exc:
                form.fail(exc)
            else:
                return _back(incident_id, "status", "status-heading")
        return await incident_page(
            request, actor, incident_id, form.status, {"status": form}, refused_tasks=refused
        )

    @post("/{incident_id:int}/notes", opt=page("incident.write"), status_code=303)
    async def note(
        self, request: Request[Any, Any, Any], incident_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """A note, or a status update that restarts the update clock."""
        form = FormState(gettext=reader_of(request).gettext, words=LINE_WORDS)
        said = text(form, data, "text", max_length=5000)
        kind = text(form, data, "kind", max_length=20)
        if not said:
            form.errors["text"] = form.gettext(N_("Write the note or the update first."))
        if not form.invalid:
            try:
                await services.add_note(
                    actor=actor,
                    incident_id=incident_id,
                    text=said,
                    status_update=kind == "status_update",
                )
            except RegisterError as exc:
                form.fail(exc)
            else:
                return _back(incident_id, "note", "timeline-heading")
        return await incident_page(request, actor, incident_id, form.status, {"note": form})
