"""The pages of policies and training: what each reader must acknowledge and hold, the keepers'
forms, and HR's coverage with charts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.response import Template
from markupsafe import Markup

from register.access import allowed
from register.actor import Actor
from register.charts import bar_chart
from register.db import now
from register.enums import Role
from register.errors import RegisterError, StaleVersion
from register.forms import FormState, number, text
from register.i18n import DEFAULT_LANGUAGE, N_, Reader
from register.openapi import ActorDep, Id
from register.pages import Form, NavLink, page, reader_of, redirect, render
from register.policies import flows, services
from register.policies.enums import PolicyKind, TrainingStatus, VersionState
from register.policies.files import import_completions
from register.services import list_users
from register.settings import Settings
from register.staff.pages import person
from register.staff.services import departments, employee_names

NAV = [
    NavLink(N_("Policies"), "/policies", "policy.own", order=40),
    NavLink(N_("Training"), "/training", "training.own", order=41),
]
KINDS = {
    PolicyKind.job_use: N_("Using social media for the job"),
    PolicyKind.personal_use: N_("Personal use of social media"),
    PolicyKind.platform_guideline: N_("Platform guideline"),
}
KIND_HINTS = {
    PolicyKind.job_use: N_(
        "For staff who post for the company: company accounts, approval, what never to post."
    ),
    PolicyKind.personal_use: N_(
        "What staff may say about the company on their own accounts. It must not ban criticism "
        "of the employer: discussing pay and working conditions with colleagues can be protected "
        "activity (the US National Labor Relations Act), and over-broad rules backfire. The "
        "shipped text says so; keep that when you edit it."
    ),
    PolicyKind.platform_guideline: N_("How to use one platform, beside the general policies."),
}
STATES = {
    VersionState.draft: N_("Draft"),
    VersionState.published: N_("Published"),
    VersionState.superseded: N_("Superseded"),
}
STANDINGS = {
    TrainingStatus.current: N_("Current"),
    TrainingStatus.due: N_("Due soon"),
    TrainingStatus.overdue: N_("Overdue"),
    TrainingStatus.missing: N_("Not taken"),
}
# Who may own a policy: anyone who may publish one.
OWNER_ROLES = (Role.admin, Role.hr, Role.comms, Role.it, Role.legal)
FIELDS = {"owner_id": "owner_id", "effective_on": "effective_on", "review_by": "review_by"}
Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
KindChoice = Annotated[str, QueryParameter(pattern="^(job_use|personal_use|platform_guideline)?$")]


def template_text(kind: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The shipped text of a kind of policy in a language (else English; '' where none ships)."""
    return services.template_text(kind, language)


def share_of(done: int, of: int) -> int:
    """Whole per cents of done in of, rounded down: 100 only when everyone is done."""
    return 100 * done // of if of else 0


def coverage_words(
    reader: Reader, message: str, percent: str, done: int, of: int, nobody: str
) -> str:
    """A coverage bar's value in words ("60%: 12 of 20 acknowledged"), or that nobody is asked."""
    if not of:
        return reader.gettext(nobody)
    return reader.gettext(message) % {
        "percent": percent,
        "done": reader.number(done),
        "of": reader.number(of),
    }


def form_of(request: Request[Any, Any, Any]) -> FormState:
    """An empty form for this reader."""
    return FormState(gettext=reader_of(request).gettext)


def date_field(form: FormState, data: Any, name: str) -> dt.date | None:
    """A date input's value, or an error next to it."""
    value = text(form, data, name, max_length=40)
    if name in form.errors:
        return None
    if not value:
        form.errors[name] = form.gettext(N_("Give the date."))
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        form.errors[name] = form.gettext(N_("Write the date as year-month-day, like 2025-04-30."))
        return None


async def owners() -> dict[str, str]:
    """Users who may own a policy, by name, as a select offers them."""
    found: dict[str, str] = {}
    for role in OWNER_ROLES:
        users, _ = await list_users(limit=200, offset=0, role=role, active=True)
        for u in users:
            found[str(u["id"])] = u["name"] or u["email"]
    return dict(sorted(found.items(), key=lambda item: item[1].casefold()))


async def home_sections(actor: Actor, settings: Settings) -> list[dict[str, Any]]:
    """Policies the reader has still to acknowledge; for keepers, policies past their review."""
    sections: list[dict[str, Any]] = []
    waiting = [p for p in await services.my_policies(actor=actor) if p["acknowledged_at"] is None]
    if waiting:
        sections.append(
            {
                "title": N_("Policies to acknowledge"),
                "template": "policies/_home.html",
                "policies": waiting,
            }
        )
    if actor.role is not None and allowed("policy.read", actor.role):
        overdue = [
            f
            for f in await services.review_findings()
            if actor.role in (Role.admin, Role.hr) or f["owner_id"] == actor.user_id
        ]
        if overdue:
            sections.append(
                {
                    "title": N_("Policies past their review date"),
                    "template": "policies/_review_home.html",
                    "findings": overdue,
                }
            )
    return sections


class PolicyPages(Controller):
    """Policies in the browser."""

    path = "/policies"
    include_in_schema = False

    @get("/", opt=page("policy.own"))
    async def list_policies(self, request: Request[Any, Any, Any], actor: ActorDep) -> Template:
        """The reader's policies; for those who read them, every policy and those past review."""
        reads = actor.role is not None and allowed("policy.read", actor.role)
        everything = await services.list_policies() if reads else []
        people = await owners() if reads else {}
        return render(
            request,
            "policies/list.html",
            title=N_("Policies"),
            mine=await services.my_policies(actor=actor),
            policies=everything,
            owners=people,
            findings=await services.review_findings() if reads else [],
            kinds=KINDS,
            linked=actor.employee_id is not None,
        )

    @get("/versions/{version_id:int}", opt=page("policy.own"))
    async def read_version(
        self, request: Request[Any, Any, Any], version_id: Id, actor: ActorDep
    ) -> Template:
        """A version's text, and the button to acknowledge it where it is the reader's."""
        version = await services.check_reader(actor=actor, version_id=version_id)
        policy = await services.get_policy(policy_id=version["policy_id"])
        mine = {p["id"]: p for p in await services.my_policies(actor=actor)}
        return render(
            request,
            "policies/version.html",
            title=policy["title"],
            translate_title=False,
            policy=policy,
            version=version,
            body=Markup(services.render_markdown(version["body"])),  # noqa: S704 - rendered with raw HTML off
            mine=mine.get(version_id),
            kinds=KINDS,
            states=STATES,
            done=request.query_params.get("done", ""),
        )

    @post("/versions/{version_id:int}/acknowledge", opt=page("policy.own"), status_code=303)
    async def acknowledge(self, version_id: Id, actor: ActorDep) -> Response[Any]:
        """Record the reader's acknowledgement, then show the policy again."""
        await services.acknowledge(actor=actor, version_id=version_id)
        return redirect(f"/policies/versions/{version_id}?done=acknowledged")

    @get("/{policy_id:int}", opt=page("policy.read"))
    async def policy_page(
        self, request: Request[Any, Any, Any], policy_id: Id, actor: ActorDep
    ) -> Template:
        """A policy: its versions, its draft, and for its keepers the way to publish."""
        policy = await services.get_policy(policy_id=policy_id)
        people = await owners()
        cover = {c["version_id"]: c for c in await services.coverage()}
        return render(
            request,
            "policies/policy.html",
            title=policy["title"],
            translate_title=False,
            policy=policy,
            owner=people.get(str(policy["owner_id"]), ""),
            keeps=services.keeps(actor, policy),
            kinds=KINDS,
            states=STATES,
            coverage=cover,
            today=now().date(),
            done=request.query_params.get("done", ""),
        )

    def _form(
        self,
        request: Request[Any, Any, Any],
        form: FormState,
        policy: dict[str, Any] | None,
        people: dict[str, str],
        teams: list[str],
        status: int = 200,
    ) -> Template:
        reader = reader_of(request)
        title = (
            reader.gettext(N_("New version of %(title)s")) % {"title": policy["title"]}
            if policy
            else reader.gettext(N_("New policy"))
        )
        return render(
            request,
            "policies/form.html",
            status=status,
            title=title,
            translate_title=False,
            form=form,
            policy=policy,
            owners=people,
            departments=teams,
            kinds=KINDS,
            kind_hints=KIND_HINTS,
            review_months=services.REVIEW_MONTHS,
        )

    @get("/new", opt=page("policy.create"))
    async def new_form(
        self, request: Request[Any, Any, Any], actor: ActorDep, kind: KindChoice = ""
    ) -> Template:
        """A new policy, its text started from the shipped one of its kind."""
        form = form_of(request)
        chosen = kind or PolicyKind.job_use.value
        today = now().date()
        form.values.update(
            kind=chosen,
            # In the language the pages speak to whoever writes it, as they will adapt it.
            body=template_text(chosen, reader_of(request).language),
            effective_on=today.isoformat(),
            review_by=services.add_months(today, services.REVIEW_MONTHS).isoformat(),
            owner_id=str(actor.user_id or ""),
        )
        return self._form(request, form, None, await owners(), await departments())

    @post("/new", opt=page("policy.create"), status_code=303)
    async def create(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Create the policy with its first draft, then show it."""
        form = form_of(request)
        values: dict[str, Any] = {
            "title": text(form, data, "title", max_length=200),
            "kind": text(form, data, "kind", max_length=40),
            "department": text(form, data, "department", max_length=120),
            "owner_id": number(form, data, "owner_id"),
            "body": text(form, data, "body", max_length=100_000),
        }
        if not values["title"]:
            form.errors.setdefault("title", form.gettext(N_("Give the policy a title.")))
        if not values["body"]:
            form.errors.setdefault("body", form.gettext(N_("Write the policy's text.")))
        if values["owner_id"] is None:
            form.errors.setdefault("owner_id", form.gettext(N_("Choose who owns the policy.")))
        values["effective_on"] = date_field(form, data, "effective_on")
        values["review_by"] = date_field(form, data, "review_by")
        if not form.invalid:
            try:
                created = await services.create_policy(actor=actor, data=values)
            except RegisterError as exc:
                form.fail(exc, FIELDS)
            else:
                return redirect(f"/policies/{created['id']}?done=created")
        return self._form(
            request, form, None, await owners(), await departments(), status=form.status
        )

    @get("/{policy_id:int}/draft", opt=page("policy.write"))
    async def draft_form(
        self, request: Request[Any, Any, Any], policy_id: Id, actor: ActorDep
    ) -> Template:
        """The next version's text: the open draft, or the current text to start from."""
        await services.check_keeper(actor=actor, policy_id=policy_id)
        policy = await services.get_policy(policy_id=policy_id)
        base = policy["draft"] or policy["current"]
        today = now().date()
        form = form_of(request)
        form.values.update(
            body=base["body"] if base else "",
            effective_on=(
                policy["draft"]["effective_on"] if policy["draft"] else today
            ).isoformat(),
            review_by=(
                policy["draft"]["review_by"]
                if policy["draft"]
                else services.add_months(today, services.REVIEW_MONTHS)
            ).isoformat(),
            version=str(policy["draft"]["version"]) if policy["draft"] else "",
        )
        return self._form(request, form, policy, {}, [])

    @post("/{policy_id:int}/draft", opt=page("policy.write"), status_code=303)
    async def save_draft(
        self, request: Request[Any, Any, Any], policy_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Save the draft, then show the policy with the way to publish it."""
        await services.check_keeper(actor=actor, policy_id=policy_id)
        policy = await services.get_policy(policy_id=policy_id)
        form = form_of(request)
        body = text(form, data, "body", max_length=100_000)
        if not body:
            form.errors.setdefault("body", form.gettext(N_("Write the policy's text.")))
        values = {
            "body": body,
            "effective_on": date_field(form, data, "effective_on"),
            "review_by": date_field(form, data, "review_by"),
        }
        version = number(form, data, "version") if data.get("version") else None
        if not form.invalid:
            try:
                await services.save_draft(
                    actor=actor, policy_id=policy_id, data=values, version=version
                )
            except StaleVersion:
                form.alert = form.gettext(
                    N_("Someone saved this draft meanwhile. Open it again to see their text.")
                )
            except RegisterError as exc:
                form.fail(exc, FIELDS)
            else:
                return redirect(f"/policies/{policy_id}?done=drafted")
        return self._form(request, form, policy, {}, [], status=form.status)

    @post("/versions/{version_id:int}/publish", opt=page("policy.write"), status_code=303)
    async def publish(self, version_id: Id, data: Form, actor: ActorDep) -> Response[Any]:
        """Publish the draft: its people are asked to acknowledge it."""
        version = await services.get_version(version_id=version_id)
        sent = str(data.get("version") or "")
        await flows.publish_version(
            actor=actor,
            version_id=version_id,
            version=int(sent) if sent.isdigit() else version["version"],
        )
        return redirect(f"/policies/{version['policy_id']}?done=published")

    @get("/coverage", opt=page("policy.coverage"))
    async def coverage(self, request: Request[Any, Any, Any]) -> Template:
        """Who has acknowledged each published policy, and who holds the training required."""
        reader = reader_of(request)
        acks = await services.coverage()
        training = await services.training_coverage()
        # A share of nobody is no share: the table shows a dash, not "0%".
        for c in acks:
            c["share"] = share_of(c["acknowledged"], c["asked"])
            c["percent"] = reader.percent(c["share"] / 100) if c["asked"] else ""
        for c in training:
            c["share"] = share_of(c["current"], c["required"])
            c["percent"] = reader.percent(c["share"] / 100) if c["required"] else ""
        ends = (reader.percent(0), reader.percent(1))
        ack_chart = bar_chart(
            "acknowledged-chart",
            reader.gettext(N_("Acknowledged, in per cent of those asked")),
            [
                (
                    c["title"],
                    c["share"],
                    f"/policies/{c['policy_id']}",
                    "",
                    coverage_words(
                        reader,
                        N_("%(percent)s: %(done)s of %(of)s acknowledged"),
                        c["percent"],
                        c["acknowledged"],
                        c["asked"],
                        N_("nobody is asked yet"),
                    ),
                )
                for c in acks
            ],
            skip_zero=False,
            scale=100,
            ends=ends,
        )
        training_chart = bar_chart(
            "training-chart",
            reader.gettext(N_("Current, in per cent of those required")),
            [
                (
                    c["title"],
                    c["share"],
                    f"/training/courses/{c['course_id']}",
                    "",
                    coverage_words(
                        reader,
                        N_("%(percent)s: %(done)s of %(of)s current"),
                        c["percent"],
                        c["current"],
                        c["required"],
                        N_("required of nobody yet"),
                    ),
                )
                for c in training
            ],
            skip_zero=False,
            scale=100,
            ends=ends,
        )
        return render(
            request,
            "policies/coverage.html",
            title=N_("Acknowledgement and training coverage"),
            acks=acks,
            training=training,
            ack_chart=ack_chart,
            training_chart=training_chart,
        )

    @get("/versions/{version_id:int}/acknowledgements", opt=page("policy.coverage"))
    async def acknowledgements(self, request: Request[Any, Any, Any], version_id: Id) -> Template:
        """Everyone asked to acknowledge a version, and when each did."""
        version = await services.get_version(version_id=version_id)
        policy = await services.get_policy(policy_id=version["policy_id"])
        return render(
            request,
            "policies/acknowledgements.html",
            title=policy["title"],
            translate_title=False,
            policy=policy,
            version=version,
            rows=await services.acknowledgements(version_id=version_id),
        )


class TrainingPages(Controller):
    """Training in the browser."""

    path = "/training"
    include_in_schema = False

    @get("/", opt=page("training.own"))
    async def overview(self, request: Request[Any, Any, Any], actor: ActorDep) -> Template:
        """The reader's training; for those who read training, every course and its standing."""
        reads = actor.role is not None and allowed("training.read", actor.role)
        return render(
            request,
            "policies/training.html",
            title=N_("Training"),
            mine=await services.my_training(actor=actor),
            courses=await services.training_coverage() if reads else [],
            standings=STANDINGS,
            linked=actor.employee_id is not None,
            done=request.query_params.get("done", ""),
        )

    @get("/courses/new", opt=page("training.write"))
    async def new_course_form(self, request: Request[Any, Any, Any]) -> Template:
        """The form for a new course."""
        return self._course_form(request, form_of(request))

    def _course_form(
        self, request: Request[Any, Any, Any], form: FormState, status: int = 200
    ) -> Template:
        return render(
            request,
            "policies/course_form.html",
            status=status,
            title=N_("New course"),
            form=form,
            roles=[r.value for r in Role],
        )

    @post("/courses/new", opt=page("training.write"), status_code=303)
    async def create_course(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Create the course, then show it."""
        form = form_of(request)
        roles = data.get("required_roles") or []
        values: dict[str, Any] = {
            "title": text(form, data, "title", max_length=200),
            "description": text(form, data, "description", max_length=10_000),
            "required_roles": [roles] if isinstance(roles, str) else list(roles),
            "required_platforms": [
                p.strip()
                for p in text(form, data, "required_platforms", max_length=400).split(",")
                if p.strip()
            ],
            "renewal_months": number(form, data, "renewal_months"),
        }
        form.values["required_roles"] = values["required_roles"]
        if not values["title"]:
            form.errors.setdefault("title", form.gettext(N_("Give the course a title.")))
        if not form.invalid:
            try:
                course = await services.create_course(actor=actor, data=values)
            except RegisterError as exc:
                form.fail(exc)
            else:
                return redirect(f"/training/courses/{course['id']}?done=created")
        return self._course_form(request, form, status=form.status)

    @get("/courses/{course_id:int}", opt=page("training.read"))
    async def course_page(
        self, request: Request[Any, Any, Any], course_id: Id, actor: ActorDep
    ) -> Template:
        """A course: who must hold it and where they stand, and its latest completions."""
        return await self._course(request, course_id, form_of(request))

    async def _course(
        self,
        request: Request[Any, Any, Any],
        course_id: int,
        form: FormState,
        status: int = 200,
    ) -> Template:
        course = await services.get_course(course_id=course_id)
        completions, _ = await services.list_completions(course_id=course_id, limit=50)
        names = await employee_names(c["employee_id"] for c in completions)
        if not form.values.get("completed_on"):
            form.values["completed_on"] = now().date().isoformat()
        return render(
            request,
            "policies/course.html",
            status=status,
            title=course["title"],
            translate_title=False,
            course=course,
            people=await services.course_status(course_id=course_id),
            completions=completions,
            names=names,
            standings=STANDINGS,
            form=form,
            done=request.query_params.get("done", ""),
        )

    @post("/courses/{course_id:int}/completions", opt=page("training.write"), status_code=303)
    async def record(
        self, request: Request[Any, Any, Any], course_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Record one person's completion of the course."""
        form = form_of(request)
        employee_id = await person(form, data, "employee", who="current")
        completed_on = date_field(form, data, "completed_on")
        evidence = text(form, data, "evidence", max_length=500)
        if employee_id is None:
            form.errors.setdefault("employee", form.gettext(N_("Choose who completed it.")))
        if not form.invalid:
            try:
                await services.record_completion(
                    actor=actor,
                    data={
                        "course_id": course_id,
                        "employee_id": employee_id,
                        "completed_on": completed_on,
                        "evidence": evidence,
                    },
                )
            except RegisterError as exc:
                form.fail(exc, {"employee_id": "employee"})
            else:
                return redirect(f"/training/courses/{course_id}?done=recorded")
        return await self._course(request, course_id, form, status=form.status)

    @get("/import", opt=page("training.write"))
    async def import_form(self, request: Request[Any, Any, Any]) -> Template:
        """The form to import completions from a CSV file."""
        return render(
            request,
            "policies/import.html",
            title=N_("Import training completions"),
            problem=None,
            lines=[],
        )

    @post("/import", opt=page("training.write"), status_code=303)
    async def import_file(
        self, request: Request[Any, Any, Any], data: Upload, actor: ActorDep
    ) -> Response[Any]:
        """Import the file, all or nothing; its problems by line otherwise."""
        reader = reader_of(request)
        upload = data.get("file")
        content = await upload.read() if isinstance(upload, UploadFile) else b""
        order = data.get("date_order") or None
        try:
            summary = await import_completions(
                actor=actor, content=content, date_order=order if isinstance(order, str) else None
            )
        except RegisterError as exc:
            if exc.status != 422:
                raise
            return render(
                request,
                "policies/import.html",
                status=422,
                title=N_("Import training completions"),
                problem=exc.said(reader.gettext),
                lines=[e for e in exc.said_errors(reader.gettext) if "line" in e],
            )
        return redirect(f"/training?done=imported&added={summary['added']}")


def register_pages(ext: Any) -> None:
    """The pages, menu entries, templates and home section of policies and training."""
    ext.add_controllers("policies", [PolicyPages, TrainingPages])
    ext.nav_links.extend(NAV)
    ext.template_dirs.append(Path(__file__).parent / "templates")
    ext.home_sections.append(home_sections)
