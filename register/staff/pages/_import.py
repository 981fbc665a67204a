"""The staff CSV import: upload, a preview of how the file is read, the date order asked only when
the file leaves it open, then apply; problems by line.

The preview is the import's own reading (`register.staff.files.preview_import`), with nothing
written. Between the steps the file travels in the page's forms, signed: an HMAC under a key
derived from the register's secret binds the file, the user, the session and the time, and the
apply form also the column mapping and date order the preview showed, so the apply imports exactly
what this person saw, within the hour. The apply runs the API's import, which checks every row
again against the directory as it is then.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template

from register.csvfiles import parse_date, said_lines
from register.errors import Conflict, InvalidInput
from register.forms import SignedPreview, import_result, pack
from register.i18n import N_
from register.openapi import ActorDep
from register.pages import Form, page, reader_of, redirect, render
from register.staff.files import FIELDS, IGNORE, import_employees, preview_import
from register.staff.pages._common import FIELD_LABELS, STATUSES

# The previewed file, signed into the preview's forms (read again, apply).
PREVIEW = SignedPreview("staff import")
Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
ORDERS = ("DMY", "MDY")
# The form's own error words (the import's are the service's).
WORDS = {
    "attach the CSV as the 'file' field of a multipart form": N_("Choose the CSV file to import."),
}
EXPIRED = N_(
    "This preview cannot be used any more: it is older than an hour, was made in another "
    "session, or was changed. Upload the file again."
)


def _order(value: Any) -> str:
    """A date order the reader chose ('' for none)."""
    chosen = str(value or "").strip().upper()
    return chosen if chosen in ORDERS else ""


def _mapping(data: dict[str, Any], headers: list[str]) -> str:
    """The column mapping the reader chose on the preview, as the import takes it (JSON)."""
    chosen = {}
    for index, header in enumerate(headers):
        # A column the form did not send keeps the import's own reading of its header.
        if f"column_{index}" in data:
            field = str(data.get(f"column_{index}") or "")
            chosen[header] = field if field in FIELDS else IGNORE
    return json.dumps(chosen, ensure_ascii=False, sort_keys=True)


def _readings(value: str, reader: Any) -> dict[str, str]:
    """A date that reads either way, read each way in the reader's words."""
    return {order: reader.date(parse_date(value, order)) for order in ORDERS}


class ImportPages(Controller):
    """HR fills and updates the staff directory from their HR system's export."""

    path = "/staff"
    include_in_schema = False

    def _page(
        self, request: Request[Any, Any, Any], *, status: int = 200, **context: Any
    ) -> Template:
        reader = reader_of(request)
        values: dict[str, Any] = {
            "error": None,
            "lines": [],
            "preview": None,
            "reread": None,
            "apply": None,
            "date_order": "",
            "readings": {},
            "result": None,
            "notice": "",
            "asked": False,
            **context,
        }
        preview = values["preview"]
        if preview and preview["undecided"]:
            values["readings"] = _readings(preview["undecided"][0], reader)
        return render(
            request,
            "staff/import.html",
            status=status,
            title=N_("Import staff"),
            labels=FIELD_LABELS,
            fields=FIELDS,
            statuses=STATUSES,
            **values,
        )

    @get("/import", opt=page("employee.import"))
    async def import_form(self, request: Request[Any, Any, Any]) -> Template:
        """The upload form and, after an import, what it did."""
        return self._page(request, result=import_result(request.query_params))

    @post("/import", opt=page("employee.import"), status_code=200)
    async def upload(
        self, request: Request[Any, Any, Any], data: Upload, actor: ActorDep
    ) -> Template:
        """How the file reads, as the import would read it; nothing is written."""
        upload = data.get("file")
        content = await upload.read() if isinstance(upload, UploadFile) else b""
        return await self._preview(request, actor, content or None, None, "")

    @post("/import/read", opt=page("employee.import"), status_code=200)
    async def reread(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Template:
        """The same file read again with the date order and the columns the reader chose."""
        content = PREVIEW.content(request, actor.user_id, data)
        if content is None:
            return self._expired(request)
        try:
            headers = json.loads(str(data.get("headers") or "[]"))
        except ValueError:
            headers = []
        if not isinstance(headers, list):
            headers = []
        mapping = _mapping(data, [str(h) for h in headers]) if headers else None
        return await self._preview(
            request, actor, content, mapping, _order(data.get("date_order")), asked=True
        )

    def _expired(self, request: Request[Any, Any, Any]) -> Template:
        message = reader_of(request).gettext(EXPIRED)
        return self._page(request, status=422, error={"field": "file", "message": message})

    async def _preview(
        self,
        request: Request[Any, Any, Any],
        actor: Any,
        content: bytes | None,
        mapping: str | None,
        date_order: str,
        *,
        status: int = 200,
        notice: str = "",
        lines: list[dict[str, Any]] | None = None,
        asked: bool = False,
    ) -> Template:
        reader = reader_of(request)
        try:
            preview = await preview_import(
                content=content, mapping=mapping, date_order=date_order or None
            )
        except InvalidInput as exc:
            field = str(exc.extra.get("field") or "file")
            said = (
                reader.gettext(WORDS[exc.detail])
                if exc.detail in WORDS
                else exc.said(reader.gettext)
            )
            error = {"field": field, "message": said}
            if mapping is None or content is None:
                lines = [e for e in exc.said_errors(reader.gettext) if e.get("line")]
                return self._page(request, status=422, error=error, lines=lines)
            # The columns as chosen cannot be read: show them as found, with why.
            return await self._preview(
                request, actor, content, None, date_order, status=422, notice=error["message"]
            )
        assert content is not None
        packed = pack(content)
        headers = json.dumps([c["header"] for c in preview["columns"]], ensure_ascii=False)
        ready = not preview["errors"] and not (preview["ambiguous"] and not date_order)
        used = mapping or ""
        return self._page(
            request,
            status=status,
            preview=preview,
            notice=notice,
            lines=lines if lines is not None else said_lines(preview["errors"], reader.gettext),
            date_order=date_order,
            # The date question was put and sent back unanswered: say so next to it.
            asked=asked,
            reread={
                **PREVIEW.fields(request, actor.user_id, packed),
                "headers": headers,
            },
            apply=PREVIEW.fields(
                request, actor.user_id, packed, mapping=used, date_order=date_order
            )
            if ready and preview["total"]
            else None,
        )

    @post("/import/apply", opt=page("employee.import"), status_code=303)
    async def apply(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Import the file as the preview read it: all or nothing, checked again row by row."""
        content = PREVIEW.content(request, actor.user_id, data, "mapping", "date_order")
        if content is None:
            return self._expired(request)
        mapping = str(data.get("mapping") or "") or None
        date_order = _order(data.get("date_order"))
        try:
            summary = await import_employees(
                actor=actor, content=content, mapping=mapping, date_order=date_order or None
            )
        except (Conflict, InvalidInput) as exc:
            # The directory changed since the preview (a manager gone, an e-mail taken).
            lines = [e for e in exc.said_errors(reader_of(request).gettext) if e.get("line")]
            notice = reader_of(request).gettext(
                N_("Nothing was imported: the file no longer fits the directory as it is now.")
            )
            return await self._preview(
                request,
                actor,
                content,
                mapping,
                date_order,
                status=409 if isinstance(exc, Conflict) else 422,
                notice=f"{notice} {exc.said(reader_of(request).gettext)}" if not lines else notice,
                lines=lines or None,
            )
        counts = "&".join(f"{k}={summary[k]}" for k in ("rows", "created", "updated", "unchanged"))
        return redirect(f"/staff/import?imported=1&{counts}")
