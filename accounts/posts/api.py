"""HTTP controllers of post approval: post requests, their photos, decisions, and each account's
approval setting."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema
from litestar.params import Body, JSONBody, QueryParameter

from accounts.posts import flows, services
from accounts.posts.enums import PostState
from accounts.posts.schemas import (
    ApprovalIn,
    ApprovalOut,
    Decide,
    MarkPosted,
    PostRequestCreate,
    PostRequestEdit,
    PostRequestOut,
    PostRequestPage,
    Resubmit,
    SendBack,
)
from register.access import object_guard
from register.errors import InvalidInput
from register.http import attachment
from register.i18n import N_
from register.openapi import NO_STORE, ActorDep, Id, Limit, Offset, QueryId, problems

MEDIA_FORM: dict[str, Any] = {
    "properties": {
        "file": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.BINARY,
            description="A JPEG, PNG or HEIC photo (up to 20 MB, 50 megapixels); several "
            "`file` fields attach several (at most 4 a post).",
        ),
        "version": Schema(type=OpenAPIType.INTEGER, description="The version you read."),
    },
    "required": ["file", "version"],
}
Scope = Literal["visible", "mine", "waiting"]


def _keyring(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.keyring.get()


async def files_of(value: Any) -> list[tuple[str, bytes]]:
    """The uploaded files of a form field: (name, content) each."""
    values = value if isinstance(value, list) else [value]
    found = []
    for upload in (v for v in values if isinstance(v, UploadFile)):
        content = await upload.read()
        if content or upload.filename:
            found.append((upload.filename or "photo", content))
    return found


def _out(data: dict[str, Any]) -> PostRequestOut:
    return PostRequestOut(**data)  # type: ignore[arg-type]


class PostRequestController(Controller):
    """Posts from company accounts, approved before they go out."""

    path = "/api/v1/post-requests"
    tags = ["posts"]

    @get("/", opt={"action": "post.read"}, responses=problems())
    async def list_requests(
        self,
        actor: ActorDep,
        limit: Limit = 50,
        offset: Offset = 0,
        shown: Annotated[
            Scope,
            QueryParameter(
                name="scope",
                description="visible: all you may see; mine: you submitted; waiting: for your approval.",
            ),
        ] = "visible",
        which: Annotated[
            PostState | None, QueryParameter(name="state", description="Only this state.")
        ] = None,
        account_id: QueryId = None,
    ) -> PostRequestPage:
        """Post requests you may see (yours, those you approve; comms, admins and auditors all)."""
        items, next_offset = await services.list_post_requests(
            actor=actor,
            scope=shown,
            state=which,
            account_id=account_id,
            limit=limit,
            offset=offset,
        )
        return PostRequestPage(items=items, limit=limit, offset=offset, next_offset=next_offset)  # type: ignore[arg-type]

    @post("/", opt={"action": "post.submit"}, responses=problems(404, 409))
    async def submit(
        self, request: Request[Any, Any, Any], data: JSONBody[PostRequestCreate], actor: ActorDep
    ) -> PostRequestOut:
        """Submit a post for an account you hold an active grant on; its approvers are told."""
        return _out(
            await flows.submit(
                actor=actor,
                keyring=_keyring(request),
                account_id=data.account_id,
                text=data.text,
                planned_at=data.planned_at,
            )
        )

    @get(
        "/{post_request_id:int}",
        opt={"action": "post.read"},
        guards=[object_guard(services.check_read)],
        responses=problems(404),
    )
    async def get_request(self, post_request_id: Id, actor: ActorDep) -> PostRequestOut:
        """One post request with its photos (what was removed from each), history and approvers."""
        return _out(await services.get_post_request(actor=actor, post_request_id=post_request_id))

    @patch("/{post_request_id:int}", opt={"action": "post.submit"}, responses=problems(404, 409))
    async def edit(
        self, post_request_id: Id, data: JSONBody[PostRequestEdit], actor: ActorDep
    ) -> PostRequestOut:
        """Change your post request's text or time before it is approved (approved ones are locked)."""
        return _out(
            await flows.edit(
                actor=actor,
                post_request_id=post_request_id,
                version=data.version,
                text=data.text,
                planned_at=data.planned_at,
            )
        )

    @post(
        "/{post_request_id:int}/resubmit",
        opt={"action": "post.submit"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def resubmit(
        self, post_request_id: Id, data: JSONBody[Resubmit], actor: ActorDep
    ) -> PostRequestOut:
        """Send your sent-back post request to the approvers again (with a new text if given)."""
        return _out(
            await flows.edit(
                actor=actor,
                post_request_id=post_request_id,
                version=data.version,
                text=data.text,
                planned_at=data.planned_at,
                resubmit=True,
            )
        )

    @post(
        "/{post_request_id:int}/media",
        opt={"action": "post.submit"},
        status_code=200,
        responses=problems(404, 409, 413),
    )
    async def add_media(
        self,
        request: Request[Any, Any, Any],
        post_request_id: Id,
        data: Annotated[
            dict[str, Any],
            Body(
                media_type=RequestEncodingType.MULTI_PART,
                description="Fields: file (one or several) and version.",
                schema_extra=MEDIA_FORM,
            ),
        ],
        actor: ActorDep,
    ) -> PostRequestOut:
        """Attach photos: each is stored stripped of GPS and identifying metadata (the names of
        what was removed are kept as proof); the upload itself is never kept."""
        raw = str(data.get("version") or "").strip()
        if not raw.isdigit() or len(raw) > 10:
            raise InvalidInput(N_("send the version you read as 'version'"), field="version")
        return _out(
            await flows.add_photos(
                actor=actor,
                keyring=_keyring(request),
                post_request_id=post_request_id,
                version=int(raw),
                files=await files_of(data.get("file")),
            )
        )

    @delete(
        "/{post_request_id:int}/media/{media_id:int}",
        opt={"action": "post.submit"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def remove_media(
        self,
        post_request_id: Id,
        media_id: Id,
        actor: ActorDep,
        version: Annotated[
            int, QueryParameter(ge=1, le=2**31 - 1, description="The version you read.")
        ],
    ) -> PostRequestOut:
        """Take a photo off your post request before it is approved."""
        return _out(
            await flows.remove_photo(
                actor=actor, post_request_id=post_request_id, media_id=media_id, version=version
            )
        )

    @get(
        "/{post_request_id:int}/media/{media_id:int}",
        opt={"action": "post.read"},
        guards=[object_guard(services.check_read)],
        media_type="application/octet-stream",
        responses=problems(404),
    )
    async def download_media(
        self, request: Request[Any, Any, Any], post_request_id: Id, media_id: Id
    ) -> Response[bytes]:
        """Download the stored (stripped) photo, as approvers see it (its type is the media's
        `media_type`); X-Content-SHA256 to check it."""
        opened = await services.open_media(
            keyring=_keyring(request), post_request_id=post_request_id, media_id=media_id
        )
        return Response(
            opened["content"],
            media_type="application/octet-stream",
            headers={
                **NO_STORE,
                "Content-Disposition": attachment(opened["filename"], "photo"),
                "X-Content-SHA256": opened["sha256"],
                "X-Content-Type-Options": "nosniff",
            },
        )

    @post(
        "/{post_request_id:int}/approve",
        opt={"action": "post.decide"},
        guards=[object_guard(flows.check_may_decide)],
        status_code=200,
        responses=problems(404, 409),
    )
    async def approve(
        self,
        request: Request[Any, Any, Any],
        post_request_id: Id,
        data: JSONBody[Decide],
        actor: ActorDep,
    ) -> PostRequestOut:
        """Approve the version you read (one of the account's approvers, never its submitter):
        it is locked and its SHA-256 recorded."""
        return _out(
            await flows.approve(
                actor=actor,
                keyring=_keyring(request),
                post_request_id=post_request_id,
                version=data.version,
            )
        )

    @post(
        "/{post_request_id:int}/send-back",
        opt={"action": "post.decide"},
        guards=[object_guard(flows.check_may_decide)],
        status_code=200,
        responses=problems(404, 409),
    )
    async def send_back(
        self, post_request_id: Id, data: JSONBody[SendBack], actor: ActorDep
    ) -> PostRequestOut:
        """Send it back to its submitter with the reason (one of the account's approvers)."""
        return _out(
            await flows.send_back(
                actor=actor,
                post_request_id=post_request_id,
                version=data.version,
                reason=data.reason,
            )
        )

    @post(
        "/{post_request_id:int}/posted",
        opt={"action": "post.submit"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def mark_posted(
        self, post_request_id: Id, data: JSONBody[MarkPosted], actor: ActorDep
    ) -> PostRequestOut:
        """Record that the approved post went out, with its live https address."""
        return _out(
            await flows.mark_posted(
                actor=actor, post_request_id=post_request_id, version=data.version, url=data.url
            )
        )


class PostApprovalController(Controller):
    """Which accounts' posts need approval, and who approves them."""

    path = "/api/v1/accounts/{account_id:int}/post-approval"
    tags = ["posts"]

    @get("/", opt={"action": "account.read"}, responses=problems(404))
    async def get_approval(self, account_id: Id) -> ApprovalOut:
        """Whether the account's posts need approval, and its approvers by name."""
        return ApprovalOut(**await services.approval_of(account_id=account_id))  # type: ignore[arg-type]

    @put("/", opt={"action": "post.approval"}, responses=problems(404, 409))
    async def set_approval(
        self, account_id: Id, data: JSONBody[ApprovalIn], actor: ActorDep
    ) -> ApprovalOut:
        """Say whether its posts need approval and name the approvers (users; audited)."""
        return ApprovalOut(
            **await services.set_approval(  # type: ignore[arg-type]
                actor=actor,
                account_id=account_id,
                requires_approval=data.requires_approval,
                approvers=list(data.approver_ids),
                version=data.version,
            )
        )


CONTROLLERS = [PostRequestController, PostApprovalController]
