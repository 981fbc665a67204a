"""The register's own pages: search across it, the LinkedIn upload for a person, and its summary.

The upload is the API's import (`files.import_connections`) on Litestar's spooled file, read as a
stream as the API reads it, under the same request size limit. With JavaScript the form is sent by
htmx, which reports the upload's progress to `/static/upload-progress.js` (a `<progress>` bar), and
is told to open the summary (HX-Redirect); without it the form posts and is redirected (303).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.response import Template

from accounts.connections import services
from accounts.connections.files import (
    COLUMN_NAMES,
    DATE_FORMATS,
    LINE_PROBLEMS,
    import_connections,
)
from accounts.connections.pages._common import (
    PAGE_SIZE,
    STATES,
    SUMMARY_LINES,
    Id,
    StateChoice,
    state_of,
)
from register.csvfiles import date_reason
from register.errors import InvalidInput
from register.forms import FormState
from register.i18n import N_, Word, reread
from register.openapi import ActorDep, Text
from register.pages import FilterId, chosen_id, is_htmx, page, reader_of, redirect, render
from register.services import employee_names, people_of_users
from register.staff.pages import person
from register.staff.services import get_employee

Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
Offset = Annotated[int, QueryParameter(ge=0, le=10_000_000)]
NO_FILE = N_("Choose the Connections.csv file from LinkedIn's data download.")
# The import's own words for a missing file, said as the form says them.
WORDS = {"attach the Connections.csv export as the 'file' field of a multipart form": NO_FILE}
# Problems listed on the summary page; the rest are in the rejected lines' CSV.
PROBLEMS_SHOWN = 200


def said_problem(gettext: Any, stored: str) -> str:
    """Why a line could not be read, stored in English, said in the reader's language."""

    def reason(value: str) -> str:
        word = date_reason(ValueError(value))
        return word.said(gettext) if isinstance(word, Word) else value

    return reread(
        stored,
        LINE_PROBLEMS,
        gettext,
        {
            "reason": reason,
            "forms": lambda v: gettext(DATE_FORMATS) if v == DATE_FORMATS else v,
            "field": lambda v: COLUMN_NAMES.get(v, v),
        },
    )


class ConnectionPages(Controller):
    """Search, the upload and its summary (HR and admins)."""

    path = "/connections"
    include_in_schema = False

    @get("/", opt=page("connection.read", replica_reads=True))
    async def search(
        self,
        request: Request[Any, Any, Any],
        q: Text(200) = None,
        which: StateChoice = "",
        offset: Offset = 0,
    ) -> Template:
        """Connections across the register by name, company or position, newest first."""
        filters = {"q": (q or "").strip(), "state": which}
        error = None
        items: list[dict[str, Any]] = []
        next_offset = None
        try:
            items, next_offset = await services.search(
                limit=PAGE_SIZE, offset=offset, q=filters["q"] or None, state=state_of(which)
            )
        except InvalidInput as exc:
            error = {"field": "q", "message": exc.said(reader_of(request).gettext)}
        people = await services.summary(limit=PAGE_SIZE, offset=0)
        names = await employee_names(r["employee_id"] for r in items)
        return render(
            request,
            "connections/search.html",
            status=422 if error else 200,
            title=N_("Connections"),
            filters=filters,
            error=error,
            items=items,
            names=names,
            people=people,
            states=STATES,
            offset=offset,
            next_offset=next_offset,
            page_size=PAGE_SIZE,
        )

    @get("/upload", opt=page("connection.write"))
    async def upload_form(
        self, request: Request[Any, Any, Any], employee_id: FilterId = ""
    ) -> Template:
        """The upload form, for the person named in the link if there is one."""
        form = FormState(gettext=reader_of(request).gettext)
        chosen = chosen_id(employee_id)
        if chosen is not None:
            found = await get_employee(employee_id=chosen)
            form.values.update({"person": found["name"], "person_id": found["id"]})
        return _upload_page(request, form, [], 200)

    @post("/upload", opt=page("connection.write"), status_code=303)
    async def upload(
        self, request: Request[Any, Any, Any], data: Upload, actor: ActorDep
    ) -> Response[Any]:
        """Import a person's Connections.csv with the API's service; then its summary."""
        form = FormState(gettext=reader_of(request).gettext, values={"file": ""})
        employee_id = await person(form, data, "person", who="all", required=True)
        upload = data.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            form.errors["file"] = form.gettext(NO_FILE)
        if form.invalid or employee_id is None or not isinstance(upload, UploadFile):
            return _upload_page(request, form, [], 422)
        try:
            # The spooled file itself, as the API passes it: the import reads it as a stream.
            result = await import_connections(
                actor=actor,
                employee_id=employee_id,
                content=upload.file,
                filename=upload.filename or "",
            )
        except InvalidInput as exc:
            field = "person" if exc.extra.get("field") == "start_date" else "file"
            own = WORDS.get(exc.detail)
            said = form.gettext(own) if own else exc.said(form.gettext)
            # The person by name, as the form shows them, not by the id the service names.
            form.errors[field] = re.sub(
                rf"\b(?:employee|medewerker) {employee_id}\b", lambda _: form.value("person"), said
            )
            lines = [e for e in exc.said_errors(form.gettext) if e.get("line")]
            return _upload_page(request, form, lines, 422)
        target = f"/connections/people/{employee_id}/imports/{result['import']['id']}"
        if result["duplicate"]:
            target += "?same=1"
        # The search index catches up after the answer, as after the API's import.
        background = BackgroundTask(services.index_pending)
        if is_htmx(request):
            return Response(
                b"", status_code=200, headers={"HX-Redirect": target}, background=background
            )
        answer = redirect(target)
        answer.background = background
        return answer

    @get("/people/{employee_id:int}/imports/{import_id:int}", opt=page("connection.read"))
    async def summary(
        self, request: Request[Any, Any, Any], employee_id: Id, import_id: Id
    ) -> Template:
        """What an import found: kept, outside the employment, gone, returned, duplicates, rejected."""
        found = await get_employee(employee_id=employee_id)
        result = await services.get_import(employee_id=employee_id, import_id=import_id)
        problems, rejected = await services.import_problems(
            employee_id=employee_id, import_id=import_id, limit=PROBLEMS_SHOWN
        )
        uploaders = await people_of_users([result["imported_by"]])
        reader = reader_of(request)
        for p in problems:
            p["problem"] = said_problem(reader.gettext, p["problem"])
        return render(
            request,
            "connections/summary.html",
            title=reader.gettext(N_("Connections of %(name)s: the upload"))
            % {"name": found["name"]},
            translate_title=False,
            person=found,
            result=result,
            kept=result["added"] + result["unchanged"] + result["returned"],
            lines=SUMMARY_LINES,
            problems=problems,
            rejected=rejected,
            same=request.query_params.get("same") == "1",
            uploader=uploaders.get(result["imported_by"]) or {},
        )


def _upload_page(
    request: Request[Any, Any, Any], form: FormState, lines: list[dict[str, Any]], status: int
) -> Template:
    """The upload form, with what was chosen and any problem next to its field."""
    if is_htmx(request):
        # htmx swaps 2xx answers only: the form sent back with its error is what to show.
        status = 200
    return render(
        request,
        "connections/upload.html",
        status=status,
        title=N_("Upload a LinkedIn export"),
        form=form,
        lines=lines,
    )
