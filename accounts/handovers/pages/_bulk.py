"""Bulk leavers: a CSV of leavers previewed (who, when, successor, the checklist, refused lines), then applied.

The preview is the bulk start itself as a dry run (every rule, then undone). Between the preview
and the apply the file travels signed, as the inventory's import does it (the same signing: the
file's SHA-256, the options, the plan, the user, the session and the hour), and the apply starts the
file only if it still starts exactly what the preview said.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template

from accounts.handovers import flows, services
from register.csvfiles import said_lines
from register.errors import Conflict, InvalidInput
from register.forms import SignedPreview, pack
from register.i18n import N_
from register.openapi import ActorDep, SettingsDep
from register.pages import Form, page, reader_of, redirect, render
from register.staff.services import employee_names

Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
ORDERS = {
    "": N_("as the file shows it"),
    "DMY": N_("day/month/year"),
    "MDY": N_("month/day/year"),
}
WORDS = {"the file is empty": N_("The file is empty.")}
# The previewed file, signed into the preview's apply form.
PREVIEW = SignedPreview("bulk leavers")


def _options(data: dict[str, Any]) -> tuple[bool, str]:
    """Whether to open the handovers now, and the date order, from the form."""
    order = str(data.get("date_order") or "").strip().upper()
    return bool(data.get("open_now")), order if order in ("DMY", "MDY") else ""


class BulkPages(Controller):
    """Many leavers at once (a restructuring): upload, preview, apply."""

    path = "/handovers/bulk"
    include_in_schema = False

    def _page(
        self, request: Request[Any, Any, Any], *, status: int = 200, **context: Any
    ) -> Template:
        values: dict[str, Any] = {
            "error": None,
            "preview": None,
            "signed": None,
            "names": {},
            "notice": "",
            "started": [],
            "open_now": True,
            "date_order": "",
            **context,
        }
        return render(
            request,
            "handovers/bulk.html",
            status=status,
            title=N_("Bulk leavers"),
            orders=[(k, reader_of(request).gettext(v)) for k, v in ORDERS.items()],
            **values,
        )

    @get("/", opt=page("handover.write"))
    async def bulk(self, request: Request[Any, Any, Any]) -> Template:
        """The upload form; after an apply, the handovers it started."""
        raw = str(request.query_params.get("started") or "")
        ids = [int(i) for i in raw.split(",") if i.isdigit() and len(i) < 10][:500]
        started = [await services.read_handover(i) for i in ids]
        return self._page(request, started=started)

    @post("/preview", opt=page("handover.write"), status_code=200)
    async def preview(
        self, request: Request[Any, Any, Any], data: Upload, actor: ActorDep, settings: SettingsDep
    ) -> Template:
        """What the file would start, and which lines are refused; nothing is written."""
        upload = data.get("file")
        content = await upload.read() if isinstance(upload, UploadFile) else b""
        open_now, order = _options(data)
        return await self._preview(request, actor, settings, content, open_now, order)

    async def _preview(
        self,
        request: Request[Any, Any, Any],
        actor: Any,
        settings: Any,
        content: bytes,
        open_now: bool,
        order: str,
        *,
        notice: str = "",
        status: int = 200,
    ) -> Template:
        reader = reader_of(request)
        shown = {"open_now": open_now, "date_order": order, "notice": notice}
        if not content:
            message = reader.gettext(N_("Choose the CSV file of leavers."))
            return self._page(
                request, status=422, error={"field": "file", "message": message}, **shown
            )
        try:
            summary = await flows.bulk_start(
                actor=actor,
                settings=settings,
                content=content,
                open_now=open_now,
                date_order=order or None,
                dry_run=True,
            )
        except (InvalidInput, Conflict) as exc:
            message = (
                reader.gettext(WORDS[exc.detail])
                if exc.detail in WORDS
                else exc.said(reader.gettext)
            )
            return self._page(
                request, status=422, error={"field": "file", "message": message}, **shown
            )
        people = [r[k] for r in summary["rows"] for k in ("employee_id", "successor_id")]
        signed = (
            PREVIEW.fields(
                request,
                actor.user_id,
                pack(content),
                open_now=str(int(open_now)),
                date_order=order,
                plan=summary["plan"],
            )
            if summary["rows"] and not summary["errors"]
            else None
        )
        return self._page(
            request,
            status=status,
            preview={**summary, "errors": said_lines(summary["errors"], reader.gettext)},
            signed=signed,
            names=await employee_names(people),
            **shown,
        )

    @post("/apply", opt=page("handover.write"), status_code=303)
    async def apply(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep, settings: SettingsDep
    ) -> Response[Any]:
        """Start what the preview showed, only if the file would still start exactly that."""
        reader = reader_of(request)
        content = PREVIEW.content(request, actor.user_id, data, "open_now", "date_order", "plan")
        if content is None:
            message = N_(
                "This preview cannot be applied: it is older than an hour, was made in another "
                "session, or was changed. Upload the file again."
            )
            return self._page(
                request, status=422, error={"field": "file", "message": reader.gettext(message)}
            )
        open_now = str(data.get("open_now") or "") == "1"
        order = str(data.get("date_order") or "")
        try:
            result = await flows.bulk_start(
                actor=actor,
                settings=settings,
                content=content,
                open_now=open_now,
                date_order=order or None,
                expect_plan=str(data.get("plan") or ""),
            )
        except (InvalidInput, Conflict):
            # The preview refused no line, so anything refused now changed since: say what now.
            return await self._preview(
                request,
                actor,
                settings,
                content,
                open_now,
                order,
                notice=reader.gettext(
                    N_(
                        "The register changed since your preview, so nothing was started. "
                        "This is what the file would start now."
                    )
                ),
                status=409,
            )
        return redirect(f"/handovers/bulk?started={','.join(map(str, result['handover_ids']))}")
