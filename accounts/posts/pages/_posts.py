"""Post requests in the browser: the lists, the submit form with a photo, one post request's page
(its text, the stripped photo with its proof, history, decisions, posted), and editing."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.response import Template

from accounts.posts import flows, services
from accounts.posts.enums import PostState
from accounts.posts.pages._common import (
    PAGE_SIZE,
    PLATFORMS,
    STATE_WORDS,
    STATES,
    STEPS,
    local_moment,
    post_name,
)
from register.access import object_guard
from register.actor import Actor
from register.errors import RegisterError
from register.extensions import extensions
from register.forms import FormState, number, text
from register.i18n import N_
from register.openapi import NO_STORE, ActorDep, Id
from register.pages import Form, page, reader_of, redirect, render

Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
LOCATION_TAGS = ("GPS", "XMP exif:GPS")
StateFilter = Annotated[str, QueryParameter(name="state", max_length=20, pattern="^[a-z_]*$")]


def _keyring(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.keyring.get()


def _form(request: Request[Any, Any, Any]) -> FormState:
    return FormState(gettext=reader_of(request).gettext, words=STATE_WORDS)


async def _photos(form: FormState, data: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The chosen photos: (name, content) each."""
    values = data.get("photo")
    form.values["photo"] = ""
    return [
        (v.filename or "photo", await v.read())
        for v in (values if isinstance(values, list) else [values])
        if isinstance(v, UploadFile) and (v.filename or "")
    ]


def _planned(form: FormState, data: dict[str, Any], time_zone: str) -> Any:
    raw = text(form, data, "planned_at", max_length=40)
    try:
        return local_moment(raw, time_zone)
    except ValueError:
        form.errors["planned_at"] = form.gettext(N_("Give a date and time, or leave it empty."))
        return None


async def post_page(
    request: Request[Any, Any, Any],
    actor: Actor,
    post_request_id: int,
    status: int = 200,
    forms: dict[str, FormState] | None = None,
) -> Template:
    """One post request's page, with any form shown again with its errors."""
    item = await services.get_post_request(actor=actor, post_request_id=post_request_id)
    for m in item["media"]:
        # The proof, location first: what would have told where the photo was taken.
        m["location"] = [n for n in m["removed"] if n.startswith(LOCATION_TAGS)]
        m["others"] = [n for n in m["removed"] if not n.startswith(LOCATION_TAGS)]
    extensions.load()
    sections: list[dict[str, Any]] = []
    settings = request.app.state.settings
    for source in extensions.page_sections.get("post_request", []):
        sections.extend(await source(actor, settings, post_request_id))
    reader = reader_of(request)
    blank = _form(request)
    return render(
        request,
        "posts/post.html",
        status=status,
        title=post_name(reader, item),
        translate_title=False,
        item=item,
        sections=sections,
        states=STATES,
        steps=STEPS,
        platforms=PLATFORMS,
        f={
            name: (forms or {}).get(name, blank)
            for name in ("decide", "send_back", "posted", "edit")
        },
        done=request.query_params.get("done", ""),
    )


class PostPages(Controller):
    """Post requests: lists, submitting, a post request's page and its steps."""

    path = "/posts"
    include_in_schema = False

    @get("/", opt=page("post.read"))
    async def list_posts(
        self, request: Request[Any, Any, Any], actor: ActorDep, which: StateFilter = ""
    ) -> Template:
        """Posts waiting for you, your own post requests, and (comms, admins, auditors) all."""
        chosen = PostState(which) if which in STATES else None
        waiting, _ = await services.list_post_requests(
            actor=actor, scope="waiting", limit=PAGE_SIZE
        )
        mine, _ = await services.list_post_requests(actor=actor, scope="mine", limit=PAGE_SIZE)
        everything: list[dict[str, Any]] = []
        if actor.role in services.SEE_ALL:
            everything, _ = await services.list_post_requests(
                actor=actor, scope="visible", state=chosen, limit=PAGE_SIZE
            )
        return render(
            request,
            "posts/list.html",
            title=N_("Posts"),
            waiting=waiting,
            mine=mine,
            everything=everything,
            sees_all=actor.role in services.SEE_ALL,
            may_submit=bool(await services.submittable_accounts(actor)),
            state=which if chosen else "",
            states=STATES,
            platforms=PLATFORMS,
            post_name=post_name,
        )

    @get("/new", opt=page("post.submit"))
    async def new(self, request: Request[Any, Any, Any], actor: ActorDep) -> Template:
        """The submit form: the account, the text, when, and a photo."""
        return await self._new_form(request, actor, _form(request))

    async def _new_form(
        self, request: Request[Any, Any, Any], actor: Actor, form: FormState, status: int = 200
    ) -> Template:
        accounts = await services.submittable_accounts(actor)
        return render(
            request,
            "posts/new.html",
            status=status,
            title=N_("Submit a post"),
            form=form,
            accounts=accounts,
            platforms=PLATFORMS,
        )

    @post("/new", opt=page("post.submit"), status_code=303)
    async def submit(
        self, request: Request[Any, Any, Any], data: Upload, actor: ActorDep
    ) -> Response[Any]:
        """Submit the post with its photo (stripped before it is kept); to its page."""
        form = _form(request)
        body = text(form, data, "text", max_length=flows.MAX_TEXT)
        planned = _planned(form, data, reader_of(request).time_zone)
        account_id = number(form, data, "account_id")
        if account_id is None:
            form.errors["account_id"] = form.gettext(N_("Choose the account it is to go out from."))
        if not body and "text" not in form.errors:
            form.errors["text"] = form.gettext(N_("Write the text of the post."))
        photos = await _photos(form, data)
        if not form.invalid and account_id is not None:
            try:
                made = await flows.submit(
                    actor=actor,
                    keyring=_keyring(request),
                    account_id=account_id,
                    text=body,
                    planned_at=planned,
                    files=photos,
                )
            except RegisterError as exc:
                form.fail(exc, {"file": "photo"})
            else:
                return redirect(f"/posts/{made['id']}?done=submitted")
        return await self._new_form(request, actor, form, form.status)

    @get(
        "/{post_request_id:int}",
        opt=page("post.read"),
        guards=[object_guard(services.check_read)],
    )
    async def show(
        self, request: Request[Any, Any, Any], post_request_id: Id, actor: ActorDep
    ) -> Template:
        """One post request: the text, the stripped photo and its proof, history, what to do."""
        return await post_page(request, actor, post_request_id)

    @get(
        "/{post_request_id:int}/photos/{media_id:int}",
        opt=page("post.read"),
        guards=[object_guard(services.check_read)],
    )
    async def photo(
        self, request: Request[Any, Any, Any], post_request_id: Id, media_id: Id
    ) -> Response[bytes]:
        """The stored (stripped) photo, as approvers see it."""
        opened = await services.open_media(
            keyring=_keyring(request), post_request_id=post_request_id, media_id=media_id
        )
        return Response(
            opened["content"],
            media_type=opened["media_type"],
            headers={
                **NO_STORE,
                "X-Content-SHA256": opened["sha256"],
                "X-Content-Type-Options": "nosniff",
            },
        )

    @post("/{post_request_id:int}/approve", opt=page("post.decide"), status_code=303)
    async def approve(
        self, request: Request[Any, Any, Any], post_request_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Approve the version on the page."""
        form = _form(request)
        version = number(form, data, "version") or 0
        try:
            await flows.approve(
                actor=actor,
                keyring=_keyring(request),
                post_request_id=post_request_id,
                version=version,
            )
        except RegisterError as exc:
            form.fail(exc)
            return await post_page(request, actor, post_request_id, form.status, {"decide": form})
        return redirect(f"/posts/{post_request_id}?done=approved")

    @post("/{post_request_id:int}/send-back", opt=page("post.decide"), status_code=303)
    async def send_back(
        self, request: Request[Any, Any, Any], post_request_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Send it back with the reason."""
        form = _form(request)
        reason = text(form, data, "reason", max_length=2000)
        version = number(form, data, "version") or 0
        if not reason and "reason" not in form.errors:
            form.errors["reason"] = form.gettext(N_("Say why it goes back."))
        if not form.invalid:
            try:
                await flows.send_back(
                    actor=actor, post_request_id=post_request_id, version=version, reason=reason
                )
            except RegisterError as exc:
                form.fail(exc)
            else:
                return redirect(f"/posts/{post_request_id}?done=sent_back")
        return await post_page(request, actor, post_request_id, form.status, {"send_back": form})

    @post("/{post_request_id:int}/posted", opt=page("post.submit"), status_code=303)
    async def posted(
        self, request: Request[Any, Any, Any], post_request_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Record the live address of the approved post."""
        form = _form(request)
        url = text(form, data, "url", max_length=2000)
        version = number(form, data, "version") or 0
        if not form.invalid:
            try:
                await flows.mark_posted(
                    actor=actor, post_request_id=post_request_id, version=version, url=url
                )
            except RegisterError as exc:
                form.fail(exc)
            else:
                return redirect(f"/posts/{post_request_id}?done=posted")
        return await post_page(request, actor, post_request_id, form.status, {"posted": form})

    @post("/{post_request_id:int}/edit", opt=page("post.submit"), status_code=303)
    async def edit(
        self,
        request: Request[Any, Any, Any],
        post_request_id: Id,
        data: Upload,
        actor: ActorDep,
    ) -> Response[Any]:
        """Change the text, time or photos of one's own post request; resubmit a sent-back one."""
        form = _form(request)
        body = text(form, data, "text", max_length=flows.MAX_TEXT)
        planned = _planned(form, data, reader_of(request).time_zone)
        version = number(form, data, "version") or 0
        resubmit = bool(data.get("resubmit"))
        photos = await _photos(form, data)
        if not body and "text" not in form.errors:
            form.errors["text"] = form.gettext(N_("Write the text of the post."))
        if not form.invalid:
            try:
                if photos:
                    added = await flows.add_photos(
                        actor=actor,
                        keyring=_keyring(request),
                        post_request_id=post_request_id,
                        version=version,
                        files=photos,
                    )
                    version = added["version"]
                await flows.edit(
                    actor=actor,
                    post_request_id=post_request_id,
                    version=version,
                    text=body,
                    planned_at=planned,
                    resubmit=resubmit,
                )
            except RegisterError as exc:
                form.fail(exc, {"file": "photo"})
            else:
                done = "resubmitted" if resubmit else "saved"
                return redirect(f"/posts/{post_request_id}?done={done}")
        return await post_page(request, actor, post_request_id, form.status, {"edit": form})
