"""The certificate of a signed-off handover: a page that prints well, and its signed JSON file.

The page is read from the certificate file itself (what was signed, byte for byte), not from the
handover as it is now; the download is the same bytes the API serves.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.response import Template

from accounts.handovers import flows
from accounts.handovers.enums import HandoverItemState, HandoverState, HandoverTeam
from accounts.handovers.files import sha256_hex
from accounts.handovers.pages._common import PLATFORMS, handles_of, item_evidence, item_title
from register.i18n import N_
from register.openapi import Id
from register.pages import page, reader_of, render
from register.services import users_by_id

# Evidence the register records, in words; other keys are shown as they are in the file.
EVIDENCE = {
    "statement": N_("Statement"),
    "typed_name": N_("Name typed"),
    "signed_on": N_("Signed on"),
    "recorded_by": N_("Recorded by"),
    "document": N_("Signed PDF"),
    "filename": N_("File"),
    "bytes": N_("Size in bytes"),
    "rows": N_("Rows"),
    "sha256": N_("SHA-256"),
    "exported_to": N_("Exported to"),
    "note": N_("Note"),
    "reference": N_("Reference"),
    "rotated_at": N_("Rotated at"),
    "revoked_at": N_("Revoked at"),
    "accepted_at": N_("Accepted at"),
    "revoked_by": N_("Revoked by"),
    "holder_id": N_("Now held by"),
    "transfer_id": N_("Custody transfer number"),
    "mfa_holder_id": N_("Second factor now held by"),
    "assignee_id": N_("Assignee"),
    "recovery_email": N_("Recovery e-mail"),
    "recovery_phone": N_("Recovery phone"),
    "removed": N_("No longer approves posts"),
    "replacement": N_("Approves posts in their place"),
    "approvers": N_("Approvers now"),
    "withdrawn": N_("Numbers of the post requests withdrawn"),
    "reason": N_("Reason"),
    "open_post_requests": N_("Open post requests"),
}
# Evidence that names a person by their id in the directory.
PEOPLE = {"exported_to", "assignee_id", "holder_id", "mfa_holder_id"}
# Evidence that names a register user by their id: shown by e-mail address.
USERS = {"revoked_by"}
# Values read letter by letter (hashes, ids): set in a fixed-width font.
TECHNICAL = {"sha256", "document", "transfer_id"}


def moment(value: Any) -> dt.datetime | None:
    """A timestamp as the file writes it (ISO 8601), read back to be shown in the reader's words."""
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def day(value: Any) -> dt.date | None:
    """A date as the file writes it (YYYY-MM-DD), read back to be shown in the reader's words."""
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _value(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"name", "email"}:
        # A register user, as the post approver items record them.
        return f"{value['name']} ({value['email']})"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    return str(value)


def _shown(value: Any, people: dict[int, str], users: dict[int, str]) -> list[dict[str, Any]]:
    """An item's evidence as labelled values, in the certificate's order, people by name."""
    if not isinstance(value, dict):
        return []
    return [
        {
            "label": EVIDENCE.get(k, k),
            "known": k in EVIDENCE,
            "value": (
                people.get(v, _value(v))
                if k in PEOPLE
                else users.get(v, _value(v))
                if k in USERS
                else _value(v)
            ),
            # The moment in the reader's words; the file keeps it to the microsecond in UTC.
            "moment": moment(v) if k.endswith("_at") else None,
            "day": day(v) if k.endswith("_on") else None,
            "technical": k in TECHNICAL,
        }
        for k, v in value.items()
        if v not in (None, "", [], {})
    ]


class CertificatePages(Controller):
    """The certificate to read and print, and its signed file to download."""

    path = "/handovers"
    include_in_schema = False

    @get("/{handover_id:int}/certificate", opt=page("handover.read"))
    async def certificate(self, request: Request[Any, Any, Any], handover_id: Id) -> Template:
        """The certificate as signed; before sign-off, what is still missing."""
        handover = await flows.get_handover(handover_id=handover_id, sync=False)
        gettext = reader_of(request).gettext
        handles = await handles_of(handover["items"])
        # Titles and evidence in the reader's words, as the checklist says them (the signed file
        # keeps the words it was signed with).
        titles = {
            i["id"]: item_title(gettext, i, handover["employee_name"], handles)
            for i in handover["items"]
        }
        needs = {i["id"]: item_evidence(gettext, i) for i in handover["items"]}
        if handover["state"] != HandoverState.completed.value:
            signed = {s["team"] for s in handover["sign_offs"]}
            return render(
                request,
                "handovers/certificate_missing.html",
                title=N_("Handover certificate"),
                handover=handover,
                open_items=[
                    i for i in handover["items"] if i["state"] == HandoverItemState.open.value
                ],
                unsigned=[t.value for t in HandoverTeam if t.value not in signed],
                titles=titles,
            )
        data = await flows.certificate(handover_id=handover_id)
        document = json.loads(data)
        cert = document["certificate"]
        people = {
            cert["handover"][k]["id"]: cert["handover"][k]["name"]
            for k in ("employee", "successor")
        }
        users = {
            user_id: user["email"]
            for user_id, user in (
                await users_by_id(
                    (i.get("evidence") or {}).get(k) for i in cert["items"] for k in USERS
                )
            ).items()
        }
        return render(
            request,
            "handovers/certificate.html",
            title=N_("Handover certificate"),
            handover=handover,
            cert=cert,
            signature=document["signature"],
            file_sha256=sha256_hex(data),
            # The command as typed, with the downloaded file's name: not words to translate.
            command=f"register handover verify handover-{handover_id}-certificate.json",
            evidence={i["id"]: _shown(i.get("evidence"), people, users) for i in cert["items"]},
            moment=moment,
            day=day,
            titles=titles,
            needs=needs,
            platforms=PLATFORMS,
        )

    @get(
        "/{handover_id:int}/certificate.json",
        opt=page("handover.read"),
        media_type="application/json",
    )
    async def certificate_file(self, handover_id: Id) -> Response[bytes]:
        """The signed certificate file, the same bytes as the API's; `register handover verify` checks it."""
        data = await flows.certificate(handover_id=handover_id)
        return Response(
            data,
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="handover-{handover_id}-certificate.json"',
                "X-Content-SHA256": sha256_hex(data),
            },
        )
