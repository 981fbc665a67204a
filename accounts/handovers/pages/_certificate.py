"""The certificate of a signed-off handover: a page that prints well, and its signed JSON file.

The page is read from the certificate file itself (what was signed, byte for byte), not from the
handover as it is now; the download is the same bytes the API serves.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.response import Template

from accounts.handovers import flows
from accounts.handovers.enums import HandoverItemState, HandoverState, HandoverTeam
from accounts.handovers.files import sha256_hex
from register.i18n import N_
from register.openapi import Id
from register.pages import page, render


def _shown(value: Any) -> list[tuple[str, str]]:
    """An item's evidence as (what, value) pairs, in the certificate's order."""
    if isinstance(value, dict):
        return [
            (str(k), json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else str(v))
            for k, v in value.items()
            if v not in (None, "", [], {})
        ]
    return []


class CertificatePages(Controller):
    """The certificate to read and print, and its signed file to download."""

    path = "/handovers"
    include_in_schema = False

    @get("/{handover_id:int}/certificate", opt=page("handover.read"))
    async def certificate(self, request: Request[Any, Any, Any], handover_id: Id) -> Template:
        """The certificate as signed; before sign-off, what is still missing."""
        handover = await flows.get_handover(handover_id=handover_id, sync=False)
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
            )
        data = await flows.certificate(handover_id=handover_id)
        document = json.loads(data)
        cert = document["certificate"]
        return render(
            request,
            "handovers/certificate.html",
            title=N_("Handover certificate"),
            handover=handover,
            cert=cert,
            signature=document["signature"],
            file_sha256=sha256_hex(data),
            evidence={i["id"]: _shown(i.get("evidence")) for i in cert["items"]},
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
