"""HTTP controllers of offboarding handovers: the leaver's footprint, the checklist, sign-off, certificate."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery, JSONBody, QueryParameter
from msgspec import UNSET, structs

from accounts.handovers import flows, services
from accounts.handovers.enums import HandoverState
from accounts.handovers.files import certificate_html
from accounts.handovers.schemas import (
    AnswerIn,
    ApproverIn,
    AttestationLinkCreated,
    AttestationLinkIn,
    AttestationLinkOut,
    AttestIn,
    BulkResult,
    CancelIn,
    CompleteIn,
    ExceptionIn,
    Footprint,
    HandoverItemOut,
    HandoverOut,
    HandoverPage,
    HandoverStart,
    OverdueReport,
    ReassignIn,
    RevokeIn,
    SignOffIn,
    TemplateCreate,
    TemplateOut,
    TemplateUpdate,
    TransferIn,
    VersionBody,
    WaiveIn,
    WithdrawPostsIn,
)
from accounts.handovers.services import footprint
from accounts.schemas import TransferOut
from register.access import object_guard
from register.i18n import N_
from register.openapi import (
    NO_STORE,
    ActorDep,
    Id,
    Idempotent,
    Limit,
    Offset,
    SettingsDep,
    Text,
    Texts,
    problems,
)


class FootprintController(Controller):
    """A leaver's footprint, before a handover starts."""

    path = "/api/v1/employees"
    tags = ["handovers"]

    @get("/{employee_id:int}/footprint", opt={"action": "handover.read"}, responses=problems(404))
    async def get_footprint(
        self,
        employee_id: Id,
        settings: SettingsDep,
        email: Texts(320, 20, "Other e-mails of the person (personal) to match.") = None,
        phone: Texts(40, 20, "The person's phone numbers to match.") = None,
        days: Annotated[
            int | None,
            QueryParameter(ge=1, le=3650, description="Reveals within this many days."),
        ] = None,
    ) -> Footprint:
        """Accounts the person holds, backs, holds the second factor of or could recover; grants;
        credentials revealed; connections; other findings (open incidents)."""
        data = await footprint(
            employee_id=employee_id,
            reveal_days=days or settings.handover_reveal_days,
            emails=email or [],
            phones=phone or [],
        )
        return Footprint(**data)  # type: ignore[arg-type]


def _summary(h: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in h.items() if k not in ("items", "sign_offs")}


class HandoverController(Controller):
    """Offboarding handovers (HR, with IT)."""

    path = "/api/v1/handovers"
    tags = ["handovers"]

    @get("/", opt={"action": "handover.read", "replica_reads": True}, responses=problems())
    async def list_handovers(
        self,
        limit: Limit = 50,
        offset: Offset = 0,
        which: Annotated[
            HandoverState | None, QueryParameter(name="state", description="Only this state.")
        ] = None,
        employee_id: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
        overdue: FromQuery[bool | None] = None,
    ) -> HandoverPage:
        """Handovers, newest first; filter by state, leaver, or overdue."""
        items, next_offset = await services.list_handovers(
            limit=limit, offset=offset, state=which, employee_id=employee_id, overdue=overdue
        )
        return HandoverPage(items=items, limit=limit, offset=offset, next_offset=next_offset)  # type: ignore[arg-type]

    @post("/", opt={"action": "handover.write"}, responses=problems(409))
    async def start(
        self, data: JSONBody[HandoverStart], actor: ActorDep, settings: SettingsDep
    ) -> HandoverOut:
        """Start a leaver's handover: the checklist is written from their footprint (a draft unless `open`)."""
        return HandoverOut(
            **await flows.start_handover(
                actor=actor,
                settings=settings,
                employee_id=data.employee_id,
                successor_id=data.successor_id,
                leaving_date=data.leaving_date,
                emails=data.emails,
                phones=data.phones,
                notes=data.notes,
                open_now=data.open,
            )
        )

    @post(
        "/bulk",
        opt={"action": "handover.write"},
        status_code=201,
        responses=problems(409, 413),
    )
    async def bulk(
        self,
        data: Annotated[
            dict[str, Any],
            Body(
                media_type=RequestEncodingType.MULTI_PART,
                description="Fields: file (CSV: work_email, leaving_date, successor_email, "
                "personal_email, phone, notes), optional default_successor_email, "
                "leaving_date (YYYY-MM-DD), open (true/false, default true) and date_order "
                "(DMY or MDY, for dates like 03/04/2027 when the file does not tell).",
            ),
        ],
        actor: ActorDep,
        settings: SettingsDep,
    ) -> BulkResult:
        """Start many handovers from one CSV (a restructuring), all or nothing."""
        import datetime as dt

        from register.errors import InvalidInput

        upload = data.get("file")
        content = await upload.read() if isinstance(upload, UploadFile) else upload
        if isinstance(content, str):
            content = content.encode("utf-8")
        if not isinstance(content, bytes):
            raise InvalidInput(N_("send the CSV as the 'file' field"), field="file")
        date = None
        if isinstance(data.get("leaving_date"), str) and data["leaving_date"].strip():
            try:
                date = dt.date.fromisoformat(data["leaving_date"].strip())
            except ValueError as exc:
                raise InvalidInput(
                    N_("leaving_date must be YYYY-MM-DD"), field="leaving_date"
                ) from exc
        flag = str(data.get("open", "true")).strip().lower()
        if flag not in ("true", "false", "1", "0", "yes", "no"):
            raise InvalidInput(N_("open must be true or false"), field="open")
        successor = data.get("default_successor_email")
        return BulkResult(
            **await flows.bulk_start(
                actor=actor,
                settings=settings,
                content=content,
                default_successor_email=successor if isinstance(successor, str) else "",
                leaving_date=date,
                open_now=flag in ("true", "1", "yes"),
                date_order=data.get("date_order")
                if isinstance(data.get("date_order"), str)
                else None,
            )
        )

    @get("/overdue", opt={"action": "handover.read", "replica_reads": True}, responses=problems())
    async def overdue(self) -> OverdueReport:
        """Open handovers past the leaving date with items open, and every overdue item."""
        return OverdueReport(
            handovers=await services.overdue_handovers(),  # type: ignore[arg-type]
            items=await services.overdue_items(),  # type: ignore[arg-type]
        )

    @get("/templates", opt={"action": "handover.read"}, responses=problems())
    async def list_templates(self, department: Text(120) = None) -> list[TemplateOut]:
        """Checklist templates per department (blank department: every handover)."""
        return [TemplateOut(**t) for t in await services.list_templates(department=department)]

    @post("/templates", opt={"action": "handover.write"}, responses=problems())
    async def create_template(self, data: JSONBody[TemplateCreate], actor: ActorDep) -> TemplateOut:
        """Add an item to every future handover of a department, due `day_offset` days from leaving."""
        return TemplateOut(**await services.create_template(actor=actor, data=structs.asdict(data)))

    @patch(
        "/templates/{template_id:int}",
        opt={"action": "handover.write"},
        responses=problems(404, 409),
    )
    async def update_template(
        self, template_id: Id, data: JSONBody[TemplateUpdate], actor: ActorDep
    ) -> TemplateOut:
        """Change a template; send the version you read."""
        changes = {
            k: v for k, v in structs.asdict(data).items() if v is not UNSET and k != "version"
        }
        return TemplateOut(
            **await services.update_template(
                actor=actor, template_id=template_id, version=data.version, changes=changes
            )
        )

    @get("/{handover_id:int}", opt={"action": "handover.read"}, responses=problems(404))
    async def get_handover(self, handover_id: Id) -> HandoverOut:
        """One handover with its checklist; items whose evidence the register sees are completed."""
        return HandoverOut(**await flows.get_handover(handover_id=handover_id))

    @post(
        "/{handover_id:int}/open",
        opt={"action": "handover.write"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def open_handover(
        self, handover_id: Id, data: VersionBody, actor: ActorDep
    ) -> HandoverOut:
        """Open a draft: items can be worked, HR and IT are notified."""
        return HandoverOut(
            **await flows.open_handover(actor=actor, handover_id=handover_id, version=data.version)
        )

    @post(
        "/{handover_id:int}/cancel",
        opt={"action": "handover.write"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def cancel(
        self, handover_id: Id, data: JSONBody[CancelIn], actor: ActorDep
    ) -> HandoverOut:
        """Cancel a handover (the person stays: their leaving date is cleared unless told not to)."""
        return HandoverOut(
            **await flows.cancel_handover(
                actor=actor,
                handover_id=handover_id,
                version=data.version,
                reason=data.reason,
                person_stays=data.person_stays,
            )
        )

    @post(
        "/{handover_id:int}/sign-off",
        guards=[object_guard(services.check_signer)],
        opt={"action": "handover.sign"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def sign_off(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        data: JSONBody[SignOffIn],
        actor: ActorDep,
    ) -> HandoverOut:
        """HR or IT signs off; with both, by different people, the handover completes."""
        return HandoverOut(
            **await flows.sign_off(
                actor=actor,
                signing_key=request.app.state.secrets.signing_key,
                handover_id=handover_id,
                team=data.team,
                note=data.note,
            )
        )

    @post(
        "/{handover_id:int}/exceptions",
        guards=[object_guard(services.check_excepter)],
        opt={"action": "handover.except"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def record_exception(
        self, handover_id: Id, data: JSONBody[ExceptionIn], actor: ActorDep
    ) -> HandoverOut:
        """Name what the leaver keeps after completion, with a reason (admins); the certificate lists it."""
        return HandoverOut(
            **await flows.record_exception(
                actor=actor,
                handover_id=handover_id,
                holding=data.holding,
                reason=data.reason,
                account_id=data.account_id,
                grant_id=data.grant_id,
            )
        )

    @get(
        "/{handover_id:int}/certificate",
        opt={"action": "handover.read"},
        media_type="application/json",
        responses=problems(404, 409),
    )
    async def certificate(self, handover_id: Id) -> Response[dict[str, Any]]:
        """The signed certificate file (JSON); `register handover verify FILE` checks it offline."""
        data = await flows.certificate(handover_id=handover_id)
        return Response(
            data,  # type: ignore[arg-type]
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="handover-{handover_id}-certificate.json"'
            },
        )

    @get(
        "/{handover_id:int}/certificate.html",
        opt={"action": "handover.read"},
        media_type="text/html",
        responses=problems(404, 409),
    )
    async def certificate_page(self, handover_id: Id) -> Response[str]:
        """The certificate as a printable page."""
        data = await flows.certificate(handover_id=handover_id)
        return Response(
            certificate_html(data),
            media_type="text/html",
            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
        )

    @get(
        "/{handover_id:int}/documents/{document_id:int}",
        opt={"action": "handover.read"},
        media_type="application/pdf",
        responses=problems(404),
    )
    async def document(self, handover_id: Id, document_id: Id) -> Response[bytes]:
        """A stored evidence file (the signed attestation), with its SHA-256 in a header."""
        row = await services.get_document(handover_id=handover_id, document_id=document_id)
        return Response(
            bytes(row["content"]),
            media_type=row["media_type"],
            headers={
                "Content-Disposition": f'attachment; filename="document-{document_id}.pdf"',
                "X-Content-SHA256": row["sha256"],
                **NO_STORE,
            },
        )

    @get(
        "/{handover_id:int}/items/{item_id:int}",
        opt={"action": "handover.read"},
        responses=problems(404),
    )
    async def get_item(self, handover_id: Id, item_id: Id) -> HandoverItemOut:
        """One checklist item."""
        return HandoverItemOut(**await services.get_item(handover_id=handover_id, item_id=item_id))

    @post(
        "/{handover_id:int}/items/{item_id:int}/complete",
        guards=[object_guard(services.check_worker)],
        opt={"action": "handover.work"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def complete(
        self, handover_id: Id, item_id: Id, data: JSONBody[CompleteIn], actor: ActorDep
    ) -> HandoverItemOut:
        """Mark an item done with evidence (the item's team; register-checked kinds need their evidence)."""
        return HandoverItemOut(
            **await flows.complete_item(
                actor=actor,
                handover_id=handover_id,
                item_id=item_id,
                note=data.note,
                reference=data.reference,
            )
        )

    @post(
        "/{handover_id:int}/items/{item_id:int}/waive",
        guards=[object_guard(services.check_waiver)],
        opt={"action": "handover.waive"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def waive(
        self,
        handover_id: Id,
        item_id: Id,
        data: JSONBody[WaiveIn],
        actor: ActorDep,
        settings: SettingsDep,
    ) -> HandoverItemOut:
        """Waive an item with a reason (HR leads and admins only)."""
        return HandoverItemOut(
            **await flows.waive_item(
                actor=actor,
                settings=settings,
                handover_id=handover_id,
                item_id=item_id,
                reason=data.reason,
            )
        )

    @post(
        "/{handover_id:int}/items/{item_id:int}/reassign",
        guards=[object_guard(services.check_reassigner)],
        opt={"action": "handover.work"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def reassign(
        self, handover_id: Id, item_id: Id, data: JSONBody[ReassignIn], actor: ActorDep
    ) -> HandoverItemOut:
        """Give an item to someone else (for a custody transfer: the successor who receives it)."""
        return HandoverItemOut(
            **await flows.reassign_item(
                actor=actor,
                handover_id=handover_id,
                item_id=item_id,
                version=data.version,
                assignee_id=data.assignee_id,
            )
        )

    @post(
        "/{handover_id:int}/items/{item_id:int}/transfer",
        guards=[object_guard(services.check_worker)],
        opt={"action": "handover.work"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def transfer(
        self, handover_id: Id, item_id: Id, data: JSONBody[TransferIn], actor: ActorDep
    ) -> TransferOut:
        """Move the item's custody to its assignee now; they then answer (accept or decline)."""
        return TransferOut(
            **await flows.transfer_item(
                actor=actor, handover_id=handover_id, item_id=item_id, note=data.note
            )
        )

    @post(
        "/{handover_id:int}/items/{item_id:int}/answer",
        guards=[object_guard(services.check_answerer)],
        opt={"action": "custody.respond"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def answer(
        self, handover_id: Id, item_id: Id, data: JSONBody[AnswerIn], actor: ActorDep
    ) -> HandoverItemOut:
        """The successor (or IT for them) accepts or declines the custody; accepting completes the item."""
        return HandoverItemOut(
            **await flows.accept_item(
                actor=actor,
                handover_id=handover_id,
                item_id=item_id,
                accept=data.accept,
                note=data.note,
            )
        )

    @post(
        "/{handover_id:int}/items/{item_id:int}/revoke",
        guards=[object_guard(services.check_worker)],
        opt={"action": "handover.work"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def revoke(
        self, handover_id: Id, item_id: Id, data: JSONBody[RevokeIn], actor: ActorDep
    ) -> HandoverItemOut:
        """Revoke the grant the item names; the item completes."""
        return HandoverItemOut(
            **await flows.revoke_item(
                actor=actor, handover_id=handover_id, item_id=item_id, reason=data.reason
            )
        )

    @post(
        "/{handover_id:int}/items/{item_id:int}/approver",
        guards=[object_guard(services.check_worker)],
        opt={"action": "handover.work"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def approver(
        self, handover_id: Id, item_id: Id, data: JSONBody[ApproverIn], actor: ActorDep
    ) -> HandoverItemOut:
        """Take the leaver off the account's post approvers, naming a replacement (or null, when
        others approve: refused if the account's posts need approval and nobody else approves)."""
        return HandoverItemOut(
            **await flows.approver_item(
                actor=actor,
                handover_id=handover_id,
                item_id=item_id,
                replacement_user_id=data.replacement_user_id,
                note=data.note,
            )
        )

    @post(
        "/{handover_id:int}/items/{item_id:int}/withdraw-posts",
        guards=[object_guard(services.check_worker)],
        opt={"action": "handover.work"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def withdraw_posts(
        self, handover_id: Id, item_id: Id, data: JSONBody[WithdrawPostsIn], actor: ActorDep
    ) -> HandoverItemOut:
        """Withdraw the leaver's open post requests, the reason kept in their history."""
        return HandoverItemOut(
            **await flows.withdraw_posts_item(
                actor=actor, handover_id=handover_id, item_id=item_id, reason=data.reason
            )
        )

    @post(
        "/{handover_id:int}/items/{item_id:int}/export",
        opt={"action": "handover.export"},
        status_code=200,
        media_type="text/csv",
        responses=problems(404, 409),
    )
    async def export(self, handover_id: Id, item_id: Id, actor: ActorDep) -> Response[str]:
        """The leaver's connections as CSV for the successor; the item records the file's SHA-256."""
        item, body = await flows.export_item(actor=actor, handover_id=handover_id, item_id=item_id)
        return Response(
            body.decode("utf-8"),
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="{item["evidence"]["filename"]}"',
                "X-Content-SHA256": item["evidence"]["sha256"],
                **NO_STORE,
            },
        )

    @post(
        "/{handover_id:int}/items/{item_id:int}/attest",
        guards=[object_guard(services.check_attester)],
        opt={"action": "handover.attest"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def attest(
        self, handover_id: Id, item_id: Id, data: JSONBody[AttestIn], actor: ActorDep
    ) -> HandoverItemOut:
        """The leaver's attestation: the statement shown on the item, their typed name, the date,
        optionally the signed PDF (base64), kept with its SHA-256."""
        return HandoverItemOut(
            **await flows.attest_item(
                actor=actor,
                handover_id=handover_id,
                item_id=item_id,
                typed_name=data.typed_name,
                signed_on=data.signed_on,
                pdf_base64=data.signed_pdf_base64,
                filename=data.filename,
            )
        )


class AttestationLinkController(Controller):
    """The leaver's one-time attestation links: HR makes, lists and revokes them.

    The leaver uses a link on its page, `/attest/{token}`, without an account: there is no API
    for that side.
    """

    path = "/api/v1/handovers/{handover_id:int}/attestation-links"
    tags = ["handovers"]

    @post(
        "/",
        # The token, and the address that holds it, never go into the replay record.
        opt={"action": "handover.write", "idempotent": True, "shown_once": ("url", "token")},
        status_code=201,
        responses=problems(404, 409),
        operation_class=Idempotent,
    )
    async def create_link(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        data: JSONBody[AttestationLinkIn],
        actor: ActorDep,
        settings: SettingsDep,
    ) -> AttestationLinkCreated:
        """Make a one-time link for the leaver's attestation, valid `days` days; its address is
        shown this once (send it to the leaver's personal e-mail). 409 when the attestation is
        no longer open or the leaver holds no connections."""
        made = await flows.create_attestation_link(
            actor=actor,
            secret=request.app.state.secrets.secret_key,
            handover_id=handover_id,
            days=data.days,
        )
        links = await flows.attestation_links(handover_id=handover_id)
        return AttestationLinkCreated(
            link=AttestationLinkOut(**_link(next(x for x in links if x["id"] == made["id"]))),
            url=flows.link_url(
                made["token"], public_url=settings.public_url, base_url=str(request.base_url)
            ),
            token=made["token"],
        )

    @get("/", opt={"action": "handover.read"}, responses=problems(404))
    async def list_links(self, handover_id: Id) -> list[AttestationLinkOut]:
        """The links made for the handover, newest first: who made each, when, until when, when
        it was opened, used or revoked. Never a token."""
        return [
            AttestationLinkOut(**_link(x))
            for x in await flows.attestation_links(handover_id=handover_id)
        ]

    @post(
        "/{link_id:int}/revoke",
        opt={"action": "handover.write"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def revoke_link(
        self, handover_id: Id, link_id: Id, actor: ActorDep
    ) -> AttestationLinkOut:
        """Withdraw a link that was not used: from now on it opens nothing, like an expired one.
        409 when it was used or is already revoked."""
        return AttestationLinkOut(
            **_link(
                await flows.revoke_attestation_link(
                    actor=actor, handover_id=handover_id, link_id=link_id
                )
            )
        )


def _link(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "expired"}


HANDOVER_CONTROLLERS = [FootprintController, HandoverController, AttestationLinkController]
