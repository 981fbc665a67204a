"""An account's post approval in the browser: the setting and its approvers, the account page's
section, and the home page's "My post requests" and "Posts waiting for you"."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Template

from accounts.posts import services
from accounts.posts.pages._common import PLATFORMS, STATES, post_name
from register.access import allowed
from register.actor import Actor
from register.errors import RegisterError
from register.forms import FormState, flag, number, numbers
from register.i18n import N_, ROLE_WORDS
from register.openapi import ActorDep, Id
from register.pages import Form, page, reader_of, redirect, render
from register.settings import Settings

HOME_ITEMS = 5


class ApprovalPages(Controller):
    """Whether an account's posts need approval, and who approves them."""

    path = "/accounts/{account_id:int}/post-approval"
    include_in_schema = False

    @get("/", opt=page("post.approval"))
    async def show(self, request: Request[Any, Any, Any], account_id: Id) -> Template:
        """The setting with the approvers ticked."""
        current = await services.approval_of(account_id=account_id)
        form = FormState(gettext=reader_of(request).gettext)
        form.values = {
            "requires_approval": "on" if current["requires_approval"] else "",
            "version": current["version"],
        }
        chosen = [a["user_id"] for a in current["approvers"]]
        return await self._form(request, current, form, chosen)

    async def _form(
        self,
        request: Request[Any, Any, Any],
        current: dict[str, Any],
        form: FormState,
        chosen: list[int],
        status: int = 200,
    ) -> Template:
        gettext = reader_of(request).gettext
        options = [
            (u["id"], u["name"], f"{gettext(ROLE_WORDS.get(u['role'], u['role']))}, {u['email']}")
            for u in await services.possible_approvers()
        ]
        return render(
            request,
            "posts/approval.html",
            status=status,
            title=N_("Post approval"),
            current=current,
            form=form,
            chosen=chosen,
            options=options,
            platforms=PLATFORMS,
        )

    @post("/", opt=page("post.approval"), status_code=303)
    async def save(
        self, request: Request[Any, Any, Any], account_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Save the setting and the approvers; back to the account."""
        form = FormState(gettext=reader_of(request).gettext)
        needs = flag(form, data, "requires_approval")
        version = number(form, data, "version") or 0
        chosen = numbers(data, "approver_ids")
        form.values["approver_ids"] = chosen
        try:
            await services.set_approval(
                actor=actor,
                account_id=account_id,
                requires_approval=needs,
                approvers=chosen,
                version=version,
            )
        except RegisterError as exc:
            form.fail(exc)
            current = await services.approval_of(account_id=account_id)
            if form.stale:
                form.values["version"] = current["version"]
            return await self._form(request, current, form, chosen, form.status)
        return redirect(f"/accounts/{account_id}?done=post-approval")


async def account_section(
    actor: Actor, settings: Settings, account_id: int
) -> list[dict[str, Any]]:
    """The account page's section: whether its posts need approval, and who approves them."""
    current = await services.approval_of(account_id=account_id)
    return [
        {
            "title": N_("Post approval"),
            "template": "posts/_account.html",
            "approval": current,
            "may_change": actor.role is not None and allowed("post.approval", actor.role),
        }
    ]


async def home_sections(actor: Actor, settings: Settings) -> list[dict[str, Any]]:
    """Posts waiting for this reader's approval, and their own post requests (if they may submit)."""
    if actor.role is None or actor.user_id is None:
        return []
    sections: list[dict[str, Any]] = []
    waiting, more = await services.list_post_requests(
        actor=actor, scope="waiting", limit=HOME_ITEMS
    )
    if waiting:
        sections.append(
            {
                "title": N_("Posts waiting for you"),
                "template": "posts/_home_waiting.html",
                "posts": waiting,
                "more": more is not None,
                "post_name": post_name,
            }
        )
    may_submit = allowed("post.submit", actor.role) and bool(
        await services.submittable_accounts(actor)
    )
    mine, more_mine = await services.list_post_requests(actor=actor, scope="mine", limit=HOME_ITEMS)
    if may_submit or mine:
        sections.append(
            {
                "title": N_("My post requests"),
                "template": "posts/_home_mine.html",
                "posts": mine,
                "more": more_mine is not None,
                "may_submit": may_submit,
                "states": STATES,
                "post_name": post_name,
            }
        )
    return sections
