"""Evidence on the incident page (files dropped or chosen, links; downloads audited), and the
reports made to platforms with their answers."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body

from incidents import services
from incidents.enums import EvidenceKind, ReportOutcome
from incidents.pages._incident import OUTCOMES, incident_page
from register.errors import Conflict, RegisterError, StaleVersion
from register.forms import FormState, number, text
from register.http import attachment
from register.i18n import N_
from register.openapi import NO_STORE, ActorDep, Id
from register.pages import Form, page, reader_of, redirect

Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
# A drop of many screenshots is one request; more than this is a mistake, not evidence.
MAX_FILES = 20


def _keyring(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.keyring.get()


def _files(value: Any) -> list[UploadFile]:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, UploadFile) and (v.filename or "")]


class EvidencePages(Controller):
    """Evidence in and out, and platform reports, from the incident page."""

    path = "/incidents"
    include_in_schema = False

    @post("/{incident_id:int}/evidence", opt=page("incident.write"), status_code=303)
    async def add(
        self, request: Request[Any, Any, Any], incident_id: Id, data: Upload, actor: ActorDep
    ) -> Response[Any]:
        """Files (one or several) and a link, sealed with their SHA-256; back to the list."""
        form = FormState(gettext=reader_of(request).gettext)
        description = text(form, data, "description", max_length=2000)
        url = text(form, data, "url", max_length=2000)
        files = _files(data.get("files"))
        if not files and not url:
            form.errors["files"] = form.gettext(N_("Choose one or more files, or give a link."))
        elif len(files) > MAX_FILES:
            form.errors["files"] = form.gettext(N_("At most %(count)s files at a time.")) % {
                "count": MAX_FILES
            }
        added: list[int] = []
        if not form.invalid:
            try:
                for upload in files:
                    item = await services.add_evidence(
                        actor=actor,
                        keyring=_keyring(request),
                        incident_id=incident_id,
                        kind=EvidenceKind.file,
                        description=description,
                        filename=upload.filename or "",
                        media_type=upload.content_type or "",
                        content=await upload.read(),
                    )
                    added.append(item["id"])
                if url:
                    item = await services.add_evidence(
                        actor=actor,
                        keyring=_keyring(request),
                        incident_id=incident_id,
                        kind=EvidenceKind.url,
                        description=description,
                        url=url,
                    )
                    added.append(item["id"])
            except RegisterError as exc:
                form.fail(exc, {"file": "files"})
        if not form.invalid:
            return redirect(
                f"/incidents/{incident_id}?added={'.'.join(map(str, added))}#evidence-heading"
            )
        form.values.setdefault("files", "")
        return await incident_page(
            request, actor, incident_id, form.status, {"evidence": form}, added=added
        )

    @get("/{incident_id:int}/evidence/{evidence_id:int}/download", opt=page("incident.evidence"))
    async def download(
        self, request: Request[Any, Any, Any], incident_id: Id, evidence_id: Id, actor: ActorDep
    ) -> Response[Any]:
        """The file as it was captured (the service records who opened it); a link goes to itself."""
        opened = await services.open_evidence(
            actor=actor, keyring=_keyring(request), incident_id=incident_id, evidence_id=evidence_id
        )
        if opened["kind"] == EvidenceKind.url.value:
            return redirect(opened["url"])
        return Response(
            opened["content"],
            media_type="application/octet-stream",
            headers={
                **NO_STORE,
                "Content-Disposition": attachment(opened["filename"], "evidence"),
                "X-Content-SHA256": opened["sha256"],
            },
        )

    @post("/{incident_id:int}/reports", opt=page("incident.write"), status_code=303)
    async def add_report(
        self, request: Request[Any, Any, Any], incident_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """A report or takedown request made to a platform, with its answer if there is one."""
        form = FormState(gettext=reader_of(request).gettext)
        body = {
            name: text(form, data, name, max_length=5000)
            for name in ("platform", "report_ref", "answer", "outcome")
        }
        if body["outcome"] not in OUTCOMES:
            form.errors["outcome"] = form.gettext(N_("Choose what the platform did."))
        if not form.invalid:
            try:
                await services.add_report(actor=actor, incident_id=incident_id, data=body)
            except RegisterError as exc:
                form.fail(exc)
            else:
                return redirect(f"/incidents/{incident_id}?done=report#reports-heading")
        return await incident_page(request, actor, incident_id, form.status, {"report": form})

    @post("/{incident_id:int}/reports/{report_id:int}", opt=page("incident.write"), status_code=303)
    async def answer_report(
        self,
        request: Request[Any, Any, Any],
        incident_id: Id,
        report_id: Id,
        data: Form,
        actor: ActorDep,
    ) -> Response[Any]:
        """The platform's answer and what it did."""
        form = FormState(gettext=reader_of(request).gettext)
        answer = text(form, data, "answer", max_length=5000)
        outcome = text(form, data, "outcome", max_length=20)
        version = number(form, data, "version")
        if outcome not in OUTCOMES:
            form.errors["outcome"] = form.gettext(N_("Choose what the platform did."))
        if not form.invalid:
            try:
                await services.update_report(
                    actor=actor,
                    incident_id=incident_id,
                    report_id=report_id,
                    version=version or 0,
                    changes={"answer": answer, "outcome": ReportOutcome(outcome)},
                )
            except StaleVersion:
                saved = await services.report_row(incident_id, report_id)
                form.mark_stale(
                    current={"answer": saved["answer"], "outcome": saved["outcome"]},
                    version=saved["version"],
                )
            except (Conflict, RegisterError) as exc:
                form.fail(exc)
            else:
                return redirect(f"/incidents/{incident_id}?done=report#report-{report_id}")
        return await incident_page(
            request, actor, incident_id, form.status, report_forms={report_id: form}
        )
