"""Third parties' requests: find the person, subject access (shown and downloadable), erasure.

Everything about the third party travels in form bodies, never in a URL (URLs end up in logs and
browser history); the done page after an erasure carries counts only. Subject access and erasure
are the API's services, which audit them; the confirmation's counts come from `erasure_preview`,
which writes nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Template

from accounts.connections import services
from accounts.connections.pages._common import STATES
from accounts.connections.schemas import SubjectAccessOut
from register.errors import InvalidInput
from register.forms import FormState, text
from register.i18n import N_
from register.openapi import NO_STORE, ActorDep
from register.pages import Form, page, reader_of, redirect, render
from register.services import employee_names

Count = Annotated[int, QueryParameter(ge=0, le=2**31 - 1)]
Erased = Annotated[int | None, QueryParameter(ge=0, le=2**31 - 1)]
# People offered when a name is typed; more means "type more of the name".
CANDIDATES = 50
# The service's field names as this page's form names them.
FIELDS = {"profile_url": "who", "email": "who"}


def _subject(data: dict[str, Any]) -> dict[str, str]:
    """The person asked about, as the forms carry them: their profile URL and e-mail."""
    return {k: str(data.get(k) or "").strip()[:500] for k in ("profile_url", "email")}


def _is_address(typed: str) -> dict[str, str] | None:
    """A typed profile link or e-mail address as the service takes it; None for a name."""
    if " " in typed:
        return None
    if "@" in typed:
        return {"profile_url": "", "email": typed}
    if "linkedin.com" in typed.lower():
        return {"profile_url": typed, "email": ""}
    return None


def _candidates(rows: list[dict[str, Any]], words: list[str]) -> list[dict[str, Any]]:
    """The people a name search found, once each: their records grouped by profile link or e-mail.

    The register's search also finds every connection of an employee whose name matches; those
    are not the third party asked about, so only connections whose own name holds the words stay.
    """
    people: dict[str, dict[str, Any]] = {}
    for r in rows:
        name = f"{r['first_name']} {r['last_name']}"
        if not all(w.lower() in name.lower() for w in words):
            continue
        key = r["profile_url"] or r["email"] or f"\x1f{r['id']}"
        entry = people.setdefault(
            key,
            {
                "name": name,
                "profile_url": r["profile_url"],
                "email": r["email"],
                "company": r["company"],
                "position": r["position"],
                "owners": set(),
            },
        )
        entry["owners"].add(r["employee_id"])
    return list(people.values())


class PrivacyPages(Controller):
    """Subject access and erasure for someone whose data the register holds (HR and admins)."""

    path = "/connections/privacy"
    include_in_schema = False

    @get("/", opt=page("connection.privacy"))
    async def start(
        self,
        request: Request[Any, Any, Any],
        erased: Erased = None,
        owners: Count = 0,
        lines: Count = 0,
    ) -> Template:
        """Find the person by name, profile link or e-mail; after an erasure, what it took."""
        done = None if erased is None else {"erased": erased, "owners": owners, "lines": lines}
        return _find_page(request, FormState(gettext=reader_of(request).gettext), done=done)

    @post("/find", opt=page("connection.privacy"), status_code=200)
    async def find(self, request: Request[Any, Any, Any], data: Form, actor: ActorDep) -> Template:
        """A name: the people it matches, to choose from; a profile link or e-mail: what is held."""
        form = FormState(gettext=reader_of(request).gettext)
        typed = text(form, data, "who", max_length=500)
        if not typed and not form.errors:
            form.errors["who"] = form.gettext(
                N_("Type the person's name, their LinkedIn profile link or their e-mail address.")
            )
        if form.invalid:
            return _find_page(request, form, status=422)
        address = _is_address(typed)
        if address is not None:
            return await _access(request, actor, form, address)
        words = typed.split()
        try:
            rows, _ = await services.search(limit=CANDIDATES, offset=0, q=typed)
        except InvalidInput as exc:
            form.fail(exc, fields={"q": "who"})
            return _find_page(request, form, status=422)
        found = _candidates(rows, words)
        names = await employee_names(o for c in found for o in c["owners"])
        for c in found:
            c["owner_names"] = sorted(names.get(o, "") for o in c["owners"])
        return _find_page(request, form, candidates=found, searched=True)

    @post("/access", opt=page("connection.privacy"), status_code=200)
    async def access(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Template:
        """Everything the register holds about the person (the service audits the request)."""
        form = FormState(gettext=reader_of(request).gettext)
        subject = _subject(data)
        form.values["who"] = subject["profile_url"] or subject["email"]
        return await _access(request, actor, form, subject)

    @post("/access.json", opt=page("connection.privacy"), status_code=200)
    async def download(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Response[bytes]:
        """The subject access answer as a file to send to the person (audited like the page)."""
        found = await services.subject_access(actor=actor, **_subject(data))
        body = msgspec.json.format(msgspec.json.encode(msgspec.convert(found, SubjectAccessOut)))
        return Response(
            body,
            media_type="application/json",
            headers={
                "Content-Disposition": 'attachment; filename="subject-access.json"',
                **NO_STORE,
            },
        )

    @post("/erasure/confirm", opt=page("connection.privacy"), status_code=200)
    async def confirm(self, request: Request[Any, Any, Any], data: Form) -> Template:
        """What an erasure would take, named and counted, before anything is erased."""
        subject = _subject(data)
        try:
            preview = await services.erasure_preview(**subject)
        except InvalidInput as exc:
            form = FormState(gettext=reader_of(request).gettext, values={"who": ""})
            form.fail(exc, fields=FIELDS)
            return _find_page(request, form, status=422)
        return render(
            request,
            "connections/erase.html",
            title=N_("Erase this person from the register?"),
            preview=preview,
        )

    @post("/erasure", opt=page("connection.privacy"), status_code=303)
    async def erase(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Erase the person everywhere with the API's service (audited); then what it took."""
        try:
            done = await services.erase(actor=actor, **_subject(data))
        except InvalidInput as exc:
            form = FormState(gettext=reader_of(request).gettext, values={"who": ""})
            form.fail(exc, fields=FIELDS)
            return _find_page(request, form, status=422)
        return redirect(
            "/connections/privacy?erased={erased}&owners={owners}&lines={rejected_lines}".format(
                **done
            )
        )


async def _access(
    request: Request[Any, Any, Any], actor: Any, form: FormState, subject: dict[str, str]
) -> Template:
    """The subject access page, or the find form with the reason the address was refused."""
    try:
        found = await services.subject_access(actor=actor, **subject)
    except InvalidInput as exc:
        form.values.setdefault("who", "")
        form.fail(exc, fields=FIELDS)
        return _find_page(request, form, status=422)
    return render(
        request,
        "connections/subject.html",
        title=N_("What the register holds about this person"),
        found=found,
        states=STATES,
    )


def _find_page(
    request: Request[Any, Any, Any],
    form: FormState,
    *,
    status: int = 200,
    done: dict[str, int] | None = None,
    candidates: list[dict[str, Any]] | None = None,
    searched: bool = False,
) -> Template:
    return render(
        request,
        "connections/privacy.html",
        status=status,
        title=N_("Privacy requests"),
        form=form,
        done=done,
        candidates=candidates or [],
        searched=searched,
    )
