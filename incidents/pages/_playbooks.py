"""Playbooks for admins: each category's steps by phase, edited as TOML, versions and what changed."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import PathParameter, QueryParameter
from litestar.response import Template

from incidents import services
from incidents.enums import Category, Phase, Severity, phase_clock
from incidents.pages._incident import OWNERS, PHASES
from register.errors import InvalidInput, NotFound, RegisterError, StaleVersion
from register.forms import FormState, flag, number, text
from register.i18n import N_
from register.openapi import ActorDep
from register.pages import Form, NavLink, page, reader_of, redirect, render

# In the administration part of the menu: admins keep the playbooks; others reach them from an incident.
PLAYBOOKS_LINK = NavLink(N_("Playbooks"), "/incidents/playbooks", "playbook.write", order=85)
# A step's field as the service names it (steps[2].title) and as the form does (s2_title).
_STEP_FIELD = re.compile(r"^steps\[(\d+)\](?:\.(\w+))?")
CategoryName = Annotated[str, PathParameter(max_length=40, pattern="^[a-z_]+$")]
Version = Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)]


def _category(value: str) -> Category:
    try:
        return Category(value)
    except ValueError as exc:
        raise NotFound(N_("no playbook for '%(value)s'"), params={"value": value[:60]}) from exc


def _short(delta: dt.timedelta) -> str:
    """A clock as the playbooks write it: 15m, 4h, 3d."""
    minutes = int(delta.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def due_times(step: dict[str, Any]) -> list[tuple[str, str]]:
    """When a step is due after filing at each severity: its own time, else its phase's clock."""
    return [
        (s.value, step["due"].get(s.value) or _short(phase_clock(s, Phase(step["phase"]))))
        for s in Severity
    ]


def _title(request: Request[Any, Any, Any], playbook: dict[str, Any]) -> str:
    reader = reader_of(request)
    return reader.gettext(N_("Playbook: %(title)s")) % {"title": reader.shipped(playbook["title"])}


class PlaybookPages(Controller):
    """The playbooks, one per category, and their edits."""

    path = "/incidents/playbooks"
    include_in_schema = False

    @get("/", opt=page("playbook.read"))
    async def playbooks(self, request: Request[Any, Any, Any]) -> Template:
        """Every category's current playbook."""
        return render(
            request,
            "incidents/playbooks.html",
            title=N_("Playbooks"),
            playbooks=await services.list_playbooks(),
        )

    @get("/{category:str}", opt=page("playbook.read"))
    async def playbook(
        self, request: Request[Any, Any, Any], category: CategoryName, version: Version = None
    ) -> Template:
        """One version's steps by phase with owners, due times and unlock order; what changed."""
        chosen = _category(category)
        shown = await services.get_playbook(category=chosen, version=version)
        versions = await services.playbook_versions(chosen)
        earlier = [v for v in versions if v["version"] < shown["version"]]
        changes = services.playbook_changes(earlier[0], shown) if earlier else []
        titles = {s["key"]: s["title"] for s in shown["steps"]}
        return render(
            request,
            "incidents/playbook.html",
            title=_title(request, shown),
            translate_title=False,
            playbook=shown,
            versions=versions,
            previous=earlier[0] if earlier else None,
            changes=changes,
            titles=titles,
            phases=[(p, [s for s in shown["steps"] if s["phase"] == p]) for p in PHASES],
            phase_words=PHASES,
            owner_words=OWNERS,
            due_times=due_times,
            saved=request.query_params.get("saved", ""),
        )

    async def _edit(
        self,
        request: Request[Any, Any, Any],
        playbook: dict[str, Any],
        form: FormState,
        status: int = 200,
        line: int | None = None,
    ) -> Template:
        return render(
            request,
            "incidents/playbook_edit.html",
            status=status,
            title=reader_of(request).gettext(N_("Edit the playbook: %(title)s"))
            % {"title": reader_of(request).shipped(playbook["title"])},
            translate_title=False,
            playbook=playbook,
            form=form,
            line=line,
        )

    @get("/{category:str}/edit", opt=page("playbook.write"))
    async def edit_form(self, request: Request[Any, Any, Any], category: CategoryName) -> Template:
        """The current version as TOML text to edit."""
        current = await services.current_playbook(_category(category))
        form = FormState(
            gettext=reader_of(request).gettext,
            values={"toml": services.playbook_toml(current), "version": current["version"]},
        )
        return await self._edit(request, current, form)

    @post("/{category:str}/edit", opt=page("playbook.write"), status_code=303)
    async def edit(
        self, request: Request[Any, Any, Any], category: CategoryName, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Store the text as the next version; an error says its line."""
        chosen = _category(category)
        form = FormState(gettext=reader_of(request).gettext)
        raw = data.get("toml")
        form.values["toml"] = (raw if isinstance(raw, str) else "").replace("\r\n", "\n")
        version = number(form, data, "version")
        line = None
        try:
            saved = await services.edit_playbook_toml(
                actor=actor, category=chosen, version=version or 0, text=form.values["toml"]
            )
        except StaleVersion:
            current = await services.current_playbook(chosen)
            form.stale = True
            form.values["version"] = current["version"]
        except RegisterError as exc:
            line = exc.extra.get("line")
            form.fail(exc)
            if line:
                form.errors["toml"] = form.gettext(N_("Line %(line)s: %(message)s")) % {
                    "line": line,
                    "message": form.errors.get("toml", exc.said(form.gettext)),
                }
        else:
            return redirect(f"/incidents/playbooks/{chosen.value}?saved={saved['version']}")
        current = await services.current_playbook(chosen)
        return await self._edit(request, current, form, form.status, line)

    # The same playbook as a form: each step's title, owner, phase, whether it is mandatory, and
    # its due times; adding, removing or reordering steps stays with the text.

    async def _step_form(
        self,
        request: Request[Any, Any, Any],
        playbook: dict[str, Any],
        form: FormState,
        status: int = 200,
    ) -> Template:
        return render(
            request,
            "incidents/playbook_form.html",
            status=status,
            title=reader_of(request).gettext(N_("Edit the playbook: %(title)s"))
            % {"title": reader_of(request).shipped(playbook["title"])},
            translate_title=False,
            playbook=playbook,
            form=form,
            phase_words=PHASES,
            owner_words=OWNERS,
            severities=[s.value for s in Severity],
        )

    @get("/{category:str}/form", opt=page("playbook.write"))
    async def step_form(self, request: Request[Any, Any, Any], category: CategoryName) -> Template:
        """The current version's steps as form fields."""
        current = await services.current_playbook(_category(category))
        values: dict[str, Any] = {"version": current["version"]}
        for n, step in enumerate(current["steps"]):
            values |= {
                f"s{n}_title": step["title"],
                f"s{n}_owner": step["owner"],
                f"s{n}_phase": step["phase"],
                f"s{n}_mandatory": "on" if step["mandatory"] else "",
                **{f"s{n}_due_{sev.value}": step["due"].get(sev.value, "") for sev in Severity},
            }
        form = FormState(gettext=reader_of(request).gettext, values=values)
        return await self._step_form(request, current, form)

    @post("/{category:str}/form", opt=page("playbook.write"), status_code=303)
    async def save_step_form(
        self, request: Request[Any, Any, Any], category: CategoryName, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """The steps as changed in the form, checked by the same rules as the text, as a new version."""
        chosen = _category(category)
        current = await services.current_playbook(chosen)
        form = FormState(gettext=reader_of(request).gettext)
        version = number(form, data, "version")
        steps = []
        for n, step in enumerate(current["steps"]):
            due = {}
            for sev in Severity:
                given = text(form, data, f"s{n}_due_{sev.value}", max_length=10)
                if given:
                    due[sev.value] = given
            steps.append(
                {
                    **step,
                    "title": text(form, data, f"s{n}_title", max_length=300),
                    "owner": text(form, data, f"s{n}_owner", max_length=20),
                    "phase": text(form, data, f"s{n}_phase", max_length=20),
                    "mandatory": flag(form, data, f"s{n}_mandatory"),
                    "due": due,
                }
            )
        if not form.invalid:
            body = {k: current[k] for k in ("title", "summary", "escalate_to", "needs_account")}
            try:
                saved = await services.edit_playbook(
                    actor=actor,
                    category=chosen,
                    version=version or 0,
                    data={**body, "steps": steps},
                )
            except StaleVersion:
                form.stale = True
                form.values["version"] = (await services.current_playbook(chosen))["version"]
            except InvalidInput as exc:
                found = _STEP_FIELD.match(str(exc.extra.get("field") or ""))
                name = f"s{found.group(1)}_{found.group(2) or 'title'}" if found else ""
                if name.endswith("_due"):
                    # "steps[2].due.SEV2: ..." says which severity's time is wrong.
                    name += f"_{exc.params.get('severity') or Severity.SEV1.value}"
                said = exc.said(form.gettext)
                if name in form.values:
                    form.errors[name] = said
                else:
                    form.alert = said
            except RegisterError as exc:
                form.fail(exc)
            else:
                return redirect(f"/incidents/playbooks/{chosen.value}?saved={saved['version']}")
        return await self._step_form(request, current, form, form.status)
