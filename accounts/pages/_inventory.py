"""The inventory: the CSV export, and an import that shows what it would change before it is applied.

The preview runs the API's import as a dry run (every rule of the import, then undone). Between
the preview and the apply the file travels in the preview page's form, signed: an HMAC under a key
derived from the register's secret binds the file's SHA-256, the mapping, the preview's plan, the
user, the session and the time, so the apply takes back only what this person previewed here, and
within the hour. The apply then runs the import with the preview's plan, which the service refuses
unless it would still change exactly that (the register may have changed meanwhile).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template

from accounts import files
from accounts.pages._common import MFA, PLATFORMS, STATUSES
from register.errors import Conflict, InvalidInput
from register.forms import SignedPreview, import_result, pack
from register.i18n import N_
from register.openapi import ActorDep, SettingsDep
from register.pages import Form, page, reader_of, redirect, render
from register.staff.services import employee_names

# The previewed file, signed into the preview's apply form.
PREVIEW = SignedPreview("inventory import")
Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
# An account's fields, and the import's own columns, as the preview names them.
FIELD_LABELS = {
    "platform": N_("Platform"),
    "handle": N_("Handle"),
    "profile_url": N_("Profile link"),
    "display_name": N_("Display name"),
    "purpose": N_("Purpose"),
    "department": N_("Department"),
    "status": N_("Status"),
    "custodian_id": N_("Custodian"),
    "backup_custodian_id": N_("Backup custodian"),
    "login_identifier": N_("Signs in as"),
    "mfa_method": N_("Second factor"),
    "mfa_holder_id": N_("Second factor held by"),
    "recovery_email": N_("Recovery e-mail"),
    "recovery_email_company_controlled": N_("The company controls the recovery e-mail"),
    "recovery_phone": N_("Recovery phone"),
    "recovery_phone_company_controlled": N_("The company controls the recovery phone"),
    "post_approvers": N_("Who approves posts"),
    "notes": N_("Notes"),
    "custodian_email": N_("Custodian's e-mail"),
    "backup_custodian_email": N_("Backup custodian's e-mail"),
    "mfa_holder_email": N_("Second-factor holder's e-mail"),
    "file": N_("The file"),
    "mapping": N_("Column names"),
}
PEOPLE = ("custodian_id", "backup_custodian_id", "mfa_holder_id")
CHOICES = {"platform": PLATFORMS, "status": STATUSES, "mfa_method": MFA}
# The form's own error words (the import's are the service's).
WORDS = {
    "attach the CSV as the 'file' field of a multipart form": N_("Choose the CSV file to import."),
}


def _errors(request: Request[Any, Any, Any], exc: InvalidInput) -> dict[str, Any]:
    """The import's refusal: problems of whole fields (file, mapping) and of lines."""
    reader = reader_of(request)
    lines = [e for e in exc.said_errors(reader.gettext) if e.get("line")]
    field = str(exc.extra.get("field") or "file")
    message = reader.gettext(WORDS[exc.detail]) if exc.detail in WORDS else exc.said(reader.gettext)
    return {
        "field": {"field": "mapping" if field == "mapping" else "file", "message": message},
        "lines": lines,
    }


async def _shown(changes: list[dict[str, Any]]) -> dict[int, str]:
    """The names of the people a preview's changes name."""
    return await employee_names(
        [f[k] for c in changes for f in c["fields"] if f["field"] in PEOPLE for k in ("old", "new")]
    )


class InventoryPages(Controller):
    """IT's spreadsheet: the inventory out as CSV, and in with a preview."""

    path = "/accounts"
    include_in_schema = False

    def _page(
        self, request: Request[Any, Any, Any], *, status: int = 200, **context: Any
    ) -> Template:
        values = {
            "error": None,
            "lines": [],
            "preview": None,
            "signed": None,
            "names": {},
            "notice": "",
            "mapping_text": "",
            "result": None,
            **context,
        }
        return render(
            request,
            "accounts/import.html",
            status=status,
            title=N_("Inventory"),
            labels=FIELD_LABELS,
            people=PEOPLE,
            choices=CHOICES,
            platforms=PLATFORMS,
            **values,
        )

    @get("/inventory", opt=page("account.read", replica_reads=True))
    async def inventory(self, request: Request[Any, Any, Any]) -> Template:
        """The export to download and, for IT, the import's upload form (and its last result)."""
        return self._page(request, result=import_result(request.query_params))

    @post("/inventory/preview", opt=page("account.write"), status_code=200)
    async def preview(
        self,
        request: Request[Any, Any, Any],
        data: Upload,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Template:
        """What the file would change, found by the import itself as a dry run; nothing is written."""
        upload = data.get("file")
        content = await upload.read() if isinstance(upload, UploadFile) else b""
        mapping = str(data.get("mapping") or "").strip()
        return await self._preview(request, actor, settings, content or None, mapping)

    async def _preview(
        self,
        request: Request[Any, Any, Any],
        actor: Any,
        settings: Any,
        content: bytes | None,
        mapping: str,
        *,
        notice: str = "",
        status: int = 200,
    ) -> Template:
        try:
            summary = await files.import_csv(
                actor=actor,
                settings=settings,
                content=content,
                mapping=mapping or None,
                dry_run=True,
            )
        except InvalidInput as exc:
            found = _errors(request, exc)
            return self._page(
                request,
                status=422,
                error=found["field"],
                lines=found["lines"],
                mapping_text=mapping,
                notice=notice,
            )
        signed = (
            PREVIEW.fields(
                request, actor.user_id, pack(content), mapping=mapping, plan=summary["plan"]
            )
            if content and summary["changes"]
            else None
        )
        return self._page(
            request,
            status=status,
            preview=summary,
            signed=signed,
            names=await _shown(summary["changes"]),
            mapping_text=mapping,
            notice=notice,
        )

    @post("/inventory/apply", opt=page("account.write"), status_code=303)
    async def apply(
        self,
        request: Request[Any, Any, Any],
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Apply a preview: the same file, only if it still changes exactly what the preview said."""
        content = PREVIEW.content(request, actor.user_id, data, "mapping", "plan")
        if content is None:
            message = N_(
                "This preview cannot be applied: it is older than an hour, was made in another "
                "session, or was changed. Upload the file again."
            )
            return self._page(
                request,
                status=422,
                error={"field": "file", "message": reader_of(request).gettext(message)},
            )
        mapping = str(data.get("mapping") or "")
        try:
            summary = await files.import_csv(
                actor=actor,
                settings=settings,
                content=content,
                mapping=mapping or None,
                expect_plan=str(data.get("plan") or ""),
            )
        except (Conflict, InvalidInput) as exc:
            # Something changed since the preview: show what the file would do now.
            return await self._preview(
                request,
                actor,
                settings,
                content,
                mapping,
                notice=reader_of(request).gettext(
                    N_(
                        "The register changed since your preview, so nothing was imported. "
                        "This is what the file would change now."
                    )
                )
                if isinstance(exc, Conflict)
                else "",
                status=409 if isinstance(exc, Conflict) else 422,
            )
        counts = "&".join(f"{k}={summary[k]}" for k in ("rows", "created", "updated", "unchanged"))
        return redirect(f"/accounts/inventory?imported=1&{counts}")
