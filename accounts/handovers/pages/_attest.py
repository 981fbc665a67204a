"""The leaver's attestation without an account: HR makes a one-time link, the leaver attests through it.

`/attest/{token}` needs no sign-in (its action is public): the token is the only thing that opens
it, and it opens nothing else. A forged cross-site post cannot name a token it does not know, so the
token stands in for the session's CSRF token there; no cookie is set and no session is made.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, PathParameter
from litestar.response import Template

from accounts.handovers import flows, services
from accounts.handovers.flows import MAX_DAYS, MAX_PDF_BYTES
from register.access import PUBLIC
from register.errors import Conflict, InvalidInput, NotFound
from register.forms import FormState, text
from register.i18n import N_
from register.openapi import ActorDep, Id, SettingsDep
from register.pages import Form, page, reader_of, redirect, render

# A link's token: what `create_attestation_link` makes is about 60 characters.
Token = Annotated[str, PathParameter(max_length=200)]
Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
# The link's page leaks its address to nobody: no referrer, no search engine, no cache.
PRIVATE = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}
# The flow's field names, as the leaver's form names them.
FIELDS = {"typed_name": "typed_name", "signed_pdf_base64": "pdf"}


async def _leaver(handover_id: int) -> dict[str, Any]:
    """The handover as HR's link page shows it (the leaver by name)."""
    return await services.read_handover(handover_id)


class AttestationLinkPages(Controller):
    """HR makes the leaver's link; the leaver opens it and attests, signed out."""

    include_in_schema = False

    async def _form(
        self,
        request: Request[Any, Any, Any],
        handover_id: int,
        form: FormState,
        *,
        status: int = 200,
        made: dict[str, Any] | None = None,
    ) -> Template:
        handover = await _leaver(handover_id)
        return render(
            request,
            "handovers/attestation_link.html",
            status=status,
            title=N_("Attestation link"),
            handover=handover,
            form=form,
            made=made,
            max_days=MAX_DAYS,
            links=await flows.attestation_links(handover_id=handover_id),
        )

    @get("/handovers/{handover_id:int}/attestation-link", opt=page("handover.write"))
    async def link_form(self, request: Request[Any, Any, Any], handover_id: Id) -> Template:
        """How long the leaver's link stays valid; the links made before and what became of them."""
        form = FormState(gettext=reader_of(request).gettext, values={"days": "7"})
        return await self._form(request, handover_id, form)

    @post(
        "/handovers/{handover_id:int}/attestation-link",
        opt=page("handover.write"),
        status_code=200,
    )
    async def make_link(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Template:
        """Make the link and show it once, with a copy button."""
        form = FormState(gettext=reader_of(request).gettext)
        raw = text(form, data, "days", max_length=3)
        days = int(raw) if raw.isdigit() else 0
        if not 1 <= days <= MAX_DAYS and "days" not in form.errors:
            form.errors["days"] = form.gettext(N_("Give a number of days from 1 to %(count)s.")) % {
                "count": MAX_DAYS
            }
        if form.invalid:
            return await self._form(request, handover_id, form, status=form.status)
        try:
            made = await flows.create_attestation_link(
                actor=actor,
                secret=request.app.state.secrets.secret_key,
                handover_id=handover_id,
                days=days,
            )
        except (InvalidInput, Conflict) as exc:
            form.fail(exc)
            return await self._form(request, handover_id, form, status=form.status)
        made["url"] = flows.link_url(
            made["token"], public_url=settings.public_url, base_url=str(request.base_url)
        )
        return await self._form(request, handover_id, form, made=made)

    @post(
        "/handovers/{handover_id:int}/attestation-link/{link_id:int}/revoke",
        opt=page("handover.write"),
        status_code=303,
    )
    async def revoke_link(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        link_id: Id,
        data: Form,
        actor: ActorDep,
    ) -> Response[Any]:
        """Withdraw a link not yet used; the list then shows it as revoked."""
        try:
            await flows.revoke_attestation_link(
                actor=actor, handover_id=handover_id, link_id=link_id
            )
        except Conflict as exc:
            form = FormState(gettext=reader_of(request).gettext, values={"days": "7"})
            form.fail(exc)
            return await self._form(request, handover_id, form, status=409)
        return redirect(f"/handovers/{handover_id}/attestation-link")

    def _leaver_page(
        self,
        request: Request[Any, Any, Any],
        template: str,
        *,
        status: int = 200,
        title: str,
        **context: Any,
    ) -> Template:
        shown = render(request, template, status=status, title=title, **context)
        shown.headers.update(PRIVATE)
        return shown

    def _refused(self, request: Request[Any, Any, Any], exc: NotFound) -> Template:
        reason = exc.extra.get("reason", flows.UNKNOWN)
        return self._leaver_page(
            request,
            "handovers/attest_refused.html",
            status=404 if reason == flows.UNKNOWN else 410,
            title=N_("This link cannot be used"),
            reason=reason,
        )

    @get("/attest/{token:str}", opt=page(PUBLIC))
    async def attest_form(
        self, request: Request[Any, Any, Any], token: Token, actor: ActorDep
    ) -> Template:
        """What the leaver confirms, their typed name and optionally the signed PDF."""
        try:
            shown = await flows.open_attestation_link(
                actor=actor, secret=request.app.state.secrets.secret_key, token=token
            )
        except NotFound as exc:
            return self._refused(request, exc)
        form = FormState(gettext=reader_of(request).gettext)
        return self._attest_page(request, token, shown, form)

    def _attest_page(
        self,
        request: Request[Any, Any, Any],
        token: Token,
        shown: dict[str, Any],
        form: FormState,
        *,
        status: int = 200,
    ) -> Template:
        return self._leaver_page(
            request,
            "handovers/attest.html",
            status=status,
            title=N_("Confirm the deletion of your work connections"),
            token=token,
            shown=shown,
            form=form,
            max_mb=MAX_PDF_BYTES // (1024 * 1024),
        )

    @post("/attest/{token:str}", opt=page(PUBLIC), status_code=200)
    async def attest(
        self, request: Request[Any, Any, Any], token: Token, data: Upload, actor: ActorDep
    ) -> Response[Any]:
        """Record the attestation through the link, once; the form again with what to correct."""
        secret = request.app.state.secrets.secret_key
        form = FormState(gettext=reader_of(request).gettext)
        typed = text(form, data, "typed_name", max_length=200)
        form.values["pdf"] = ""
        upload = data.get("pdf")
        pdf: bytes | None = None
        filename = ""
        if isinstance(upload, UploadFile) and upload.filename:
            # Read one byte past the limit: enough to know it is too large, never the whole file.
            pdf = await upload.read(MAX_PDF_BYTES + 1)
            filename = upload.filename[:255]
            if len(pdf) > MAX_PDF_BYTES:
                form.errors["pdf"] = form.gettext(N_("The file is larger than %(count)s MB.")) % {
                    "count": MAX_PDF_BYTES // (1024 * 1024)
                }
            elif not pdf.startswith(b"%PDF-"):
                form.errors["pdf"] = form.gettext(N_("This is not a PDF file."))
            pdf = pdf or None
        if not typed and "typed_name" not in form.errors:
            form.errors["typed_name"] = form.gettext(N_("Type your full name."))
        try:
            if not form.invalid:
                await flows.attest_with_link(
                    actor=actor,
                    secret=secret,
                    token=token,
                    typed_name=typed,
                    pdf=pdf,
                    filename=filename,
                )
                return self._leaver_page(
                    request, "handovers/attest_done.html", title=N_("Thank you"), name=typed
                )
            shown = await flows.open_attestation_link(actor=actor, secret=secret, token=token)
        except NotFound as exc:
            return self._refused(request, exc)
        except (InvalidInput, Conflict) as exc:
            try:
                shown = await flows.open_attestation_link(actor=actor, secret=secret, token=token)
            except NotFound as gone:
                return self._refused(request, gone)
            if exc.extra.get("field") == "typed_name":
                # The service speaks to HR ("the leaver's name"); the leaver is told in their words.
                form.errors["typed_name"] = form.gettext(
                    N_("Type your name as your employer knows it: %(name)s.")
                ) % {"name": shown["leaver"]}
            else:
                form.fail(exc, FIELDS)
        return self._attest_page(request, token, shown, form, status=form.status)
