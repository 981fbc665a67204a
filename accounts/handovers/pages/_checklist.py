"""The handover page: the checklist by team with each item's actions, kept current by polling, and
the sign-off by HR and IT; each item action is a small form of its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Template

from accounts.handovers import flows, services
from accounts.handovers.enums import HandoverItemKind, HandoverItemState, HandoverState
from accounts.handovers.pages._certificate import day
from accounts.handovers.pages._common import (
    FORM_KINDS,
    HOLDINGS,
    ITEM_STATES,
    SEEN,
    STATES,
    TEAMS,
    account_label,
    account_of,
    fingerprint,
    form_of,
    handles_of,
    is_lead,
    item_evidence,
    item_title,
    may_act,
    platform_handle,
)
from accounts.handovers.pages._posts import approver_choices, open_posts
from accounts.pages._common import PLATFORMS
from register.access import allowed
from register.actor import Actor
from register.enums import Role
from register.errors import Conflict, NotFound, RegisterError, StaleVersion
from register.forms import FormState, number, text
from register.i18n import N_
from register.openapi import ActorDep, Id, SettingsDep
from register.pages import Form, page, reader_of, redirect, render
from register.settings import Settings
from register.staff.pages import person
from register.staff.services import employee_names

K = HandoverItemKind
Seen = Annotated[str, QueryParameter(max_length=32, pattern="^[0-9a-f]*$")]
# How often the page asks whether the checklist changed (seconds).
POLL_SECONDS = 10

# What the handover page says after each item action (its `done=` query).
DONE = {
    "complete": "completed",
    "waive": "waived",
    "reassign": "reassigned",
    "transfer": "transferred",
    "revoke": "revoked",
    "approver": "approver",
    "withdraw": "withdrawn",
}


def _can_work(actor: Actor, item: Mapping[str, Any]) -> bool:
    return services.may_work(actor, {"owner_role": item["owner_role"]})


def _actions(
    actor: Actor, settings: Settings, handover: Mapping[str, Any], item: dict[str, Any]
) -> list[str]:
    """What this reader may do with an item now (the flows decide; this offers only those)."""
    if item["state"] != HandoverItemState.open.value or not may_act(actor, handover):
        return []
    state = handover["state"]
    kind = item["kind"]
    works = _can_work(actor, item)
    found: list[str] = []
    if state == HandoverState.open.value:
        if (
            kind == K.transfer_custody.value
            and works
            and item["assignee_id"]
            and not item["pending"]
        ):
            found.append("transfer")
        if kind == K.revoke_grant.value and works:
            found.append("revoke")
        if kind == K.replace_post_approver.value and works:
            found.append("approver")
        if kind == K.withdraw_post_requests.value and works:
            found.append("withdraw")
        if kind == K.export_connections.value and works and allowed("handover.export", actor.role):
            found.append("export")
        if kind == K.attest_deletion.value and actor.role in (Role.hr, Role.admin):
            found.append("attest")
        if kind not in (K.export_connections.value, K.attest_deletion.value) and works:
            found.append("complete")
        if is_lead(actor, settings):
            found.append("waive")
    if state in (HandoverState.draft.value, HandoverState.open.value):
        if kind != K.attest_deletion.value and (works or actor.role == Role.hr):
            found.append("reassign")
    return found


async def _pending(handover: Mapping[str, Any]) -> dict[int, int]:
    """Custody transfers the checklist made that wait for the successor's answer, by item."""
    found: dict[int, int] = {}
    for i in handover["items"]:
        if i["kind"] == K.transfer_custody.value and i["state"] == HandoverItemState.open.value:
            row = {"assignee": i["assignee_id"], "target_id": i["target_id"], "detail": i["detail"]}
            transfer = await services.pending_transfer(row)
            if transfer is not None:
                found[i["id"]] = transfer
    return found


def _sign_off(
    actor: Actor, handover: Mapping[str, Any], gettext: Any, names: Mapping[int, str]
) -> dict[str, Any]:
    """Who has signed, who still must, what this reader may sign, and why not in words."""
    signed = {s["team"]: s for s in handover["sign_offs"]}
    mine = [s["team"] for s in handover["sign_offs"] if s["user_id"] == actor.user_id]
    state = handover["state"]
    teams = [
        t
        for t in ("hr", "it")
        if actor.role == Role.admin or (actor.role and actor.role.value == t)
    ]
    can = []
    why = ""
    if not teams:
        why = gettext(N_("Only HR and IT sign off a handover."))
    elif not may_act(actor, handover):
        why = gettext(N_("This is your own handover: someone else works and signs it."))
    elif state == HandoverState.draft.value:
        why = gettext(N_("The handover is a draft: open it, then work the items."))
    elif state == HandoverState.cancelled.value:
        why = gettext(N_("The handover was cancelled: nobody signs it."))
    elif state == HandoverState.completed.value:
        why = ""
    elif state == HandoverState.open.value:
        if handover["items_open"]:
            why = reader_ngettext(gettext, handover["items_open"])
        else:
            held = "; ".join(
                gettext(HOLDINGS[h["holding"]])
                % {"account": platform_handle(gettext, h["platform"], h["handle"])}
                for h in handover["remaining"]
            )
            why = gettext(
                N_(
                    "%(name)s still holds: %(what)s. Remove it, or an admin names it as an exception."
                )
            ) % {"name": handover["employee_name"], "what": held}
    else:
        for team in teams:
            if team in signed:
                continue
            if mine:
                why = gettext(
                    N_("You have signed for %(team)s: the other sign-off must be by someone else.")
                ) % {"team": gettext(TEAMS[mine[0]])}
                break
            can.append(team)
        if not can and not why:
            why = gettext(N_("Your team has signed; the other team signs next."))
    return {
        "signed": signed,
        "can": can,
        "why": why,
        "waiting": [t for t in ("hr", "it") if t not in signed],
    }


def reader_ngettext(gettext: Any, n: int) -> str:
    """Sign-off waits for the open items (said with their number)."""
    if n == 1:
        return gettext(
            N_("1 item is still to do: sign-off comes when every item is done or waived.")
        )
    return gettext(
        N_("%(num)d items are still to do: sign-off comes when every item is done or waived.")
    ) % {"num": n}


async def _view(
    request: Request[Any, Any, Any], actor: Actor, settings: Settings, handover_id: int
) -> dict[str, Any]:
    """The handover as its page shows it: items by team in words, people by name, the sign-off."""
    handover = await flows.get_handover(handover_id=handover_id)
    gettext = reader_of(request).gettext
    pending = await _pending(handover)
    handles = await handles_of(handover["items"])
    names = await employee_names(
        [handover["employee_id"], handover["successor_id"]]
        + [i["assignee_id"] for i in handover["items"]]
    )
    groups: dict[str, list[dict[str, Any]]] = {"hr": [], "it": []}
    for i in handover["items"]:
        item = dict(i)
        item["pending"] = pending.get(i["id"])
        item["shown_title"] = item_title(gettext, i, handover["employee_name"], handles)
        item["needs"] = item_evidence(gettext, i)
        item["account_id"] = account_of(i)
        item["actions"] = _actions(actor, settings, handover, item)
        item["signed_on"] = day((i.get("evidence") or {}).get("signed_on"))
        groups.setdefault(i["owner_role"], []).append(item)
    # The last link made for the leaver's attestation still to do: HR sees whether it went out.
    attesting = any(
        i["kind"] == K.attest_deletion.value and i["state"] == HandoverItemState.open.value
        for i in handover["items"]
    )
    links = await flows.attestation_links(handover_id=handover_id) if attesting else []
    return {
        "handover": handover,
        "groups": groups,
        "last_link": links[0] if links else None,
        "names": names,
        "states": STATES,
        "item_states": ITEM_STATES,
        "teams": TEAMS,
        "sign": _sign_off(actor, handover, gettext, names),
        "seen": fingerprint(handover, pending),
        "poll": POLL_SECONDS,
        "may_open": handover["state"] == HandoverState.draft.value
        and allowed("handover.write", actor.role)
        and may_act(actor, handover),
    }


async def _item_of(handover_id: int, item_id: int) -> dict[str, Any]:
    return await services.get_item(handover_id=handover_id, item_id=item_id)


class HandoverPages(Controller):
    """One handover: its checklist, its live refresh, opening it, and signing it off."""

    path = "/handovers"
    include_in_schema = False

    @get("/{handover_id:int}", opt=page("handover.read"))
    async def handover_page(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Template:
        """The checklist grouped by team, each item's actions, and the sign-off."""
        view = await _view(request, actor, settings, handover_id)
        return render(
            request,
            "handovers/handover.html",
            title=reader_of(request).gettext(N_("Handover of %(name)s"))
            % {"name": view["handover"]["employee_name"]},
            translate_title=False,
            alert="",
            announce=False,
            **view,
        )

    @get("/{handover_id:int}/live", opt=page("handover.read"))
    async def live(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        actor: ActorDep,
        settings: SettingsDep,
        seen: Seen = "",
    ) -> Response[Any]:
        """The checklist and sign-off again when they changed since `seen`; nothing (204) if not."""
        view = await _view(request, actor, settings, handover_id)
        if seen and seen == view["seen"]:
            return Response(content=b"", status_code=204)
        return render(
            request,
            "handovers/_live.html",
            title=N_("Handover"),
            alert="",
            announce=bool(seen),
            **view,
        )

    @post("/{handover_id:int}/open", opt=page("handover.write"), status_code=303)
    async def open_handover(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Open a draft: its items can be worked, HR and IT are told."""
        form = form_of(request)
        version = number(form, data, "version")
        try:
            await flows.open_handover(actor=actor, handover_id=handover_id, version=version or 0)
        except (Conflict, StaleVersion) as exc:
            return await self._again(request, actor, settings, handover_id, exc)
        return redirect(f"/handovers/{handover_id}?done=opened")

    @post("/{handover_id:int}/sign-off", opt=page("handover.sign"), status_code=303)
    async def sign_off(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Sign for a team; the second sign-off, by someone else, completes the handover."""
        form = form_of(request)
        team = text(form, data, "team", max_length=4)
        note = text(form, data, "note", max_length=2000)
        if team not in TEAMS:
            return await self._again(
                request, actor, settings, handover_id, Conflict(N_("choose HR or IT to sign for"))
            )
        try:
            await flows.sign_off(
                actor=actor,
                signing_key=request.app.state.secrets.signing_key,
                handover_id=handover_id,
                team=team,
                note=note,
            )
        except Conflict as exc:
            return await self._again(request, actor, settings, handover_id, exc)
        return redirect(f"/handovers/{handover_id}?done=signed#sign-off-heading")

    async def _again(
        self,
        request: Request[Any, Any, Any],
        actor: Actor,
        settings: Settings,
        handover_id: int,
        exc: RegisterError,
    ) -> Template:
        """The handover page again with the refusal above it (409)."""
        view = await _view(request, actor, settings, handover_id)
        return render(
            request,
            "handovers/handover.html",
            status=exc.status,
            title=reader_of(request).gettext(N_("Handover of %(name)s"))
            % {"name": view["handover"]["employee_name"]},
            translate_title=False,
            alert=exc.said(reader_of(request).gettext),
            announce=False,
            **view,
        )


class ItemPages(Controller):
    """One item's actions, each its own form: complete, waive, reassign, transfer, revoke, export."""

    path = "/handovers/{handover_id:int}/items/{item_id:int}"
    include_in_schema = False

    async def _form(
        self,
        request: Request[Any, Any, Any],
        actor: Actor,
        settings: Settings,
        handover_id: int,
        item_id: int,
        action: str,
        form: FormState,
        status: int = 200,
    ) -> Template:
        handover = await services.read_handover(handover_id)
        item = dict(await _item_of(handover_id, item_id))
        if FORM_KINDS.get(action, item["kind"]) != item["kind"]:
            # Another kind's form would read this item's target as an account it is not.
            raise NotFound(
                N_("item %(item_id)s has no %(action)s form"),
                params={"item_id": item_id, "action": action},
            )
        gettext = reader_of(request).gettext
        account_id = account_of(item)
        handles = await handles_of([item])
        item["pending"] = (await _pending({"items": [item]})).get(item_id)
        item["shown_title"] = item_title(gettext, item, handover["employee_name"], handles)
        item["needs"] = item_evidence(gettext, item)
        item["account_id"] = account_id
        names = await employee_names([item["assignee_id"], handover["employee_id"]])
        if "version" not in form.values:
            form.values["version"] = item["version"]
        extra: dict[str, Any] = {}
        if action == "approver":
            extra = await approver_choices(handover, item, gettext)
        if action == "withdraw":
            extra = {"posts": await open_posts(handover)}
        titles = {
            "complete": N_("Mark an item done"),
            "waive": N_("Waive an item"),
            "reassign": N_("Give an item to someone else"),
            "transfer": N_("Transfer custody"),
            "revoke": N_("Revoke the access"),
            "approver": N_("Replace a post approver"),
            "withdraw": N_("Withdraw post requests"),
        }
        return render(
            request,
            "handovers/item.html",
            status=status,
            title=titles[action],
            handover=handover,
            item=item,
            action=action,
            form=form,
            names=names,
            teams=TEAMS,
            item_states=ITEM_STATES,
            seen_kinds=SEEN,
            lead=is_lead(actor, settings),
            account=account_label(gettext, handles, account_id) if account_id else "",
            platforms=PLATFORMS,
            **extra,
        )

    def _back(self, handover_id: int, item_id: int, done: str) -> Response[Any]:
        return redirect(f"/handovers/{handover_id}?done={done}#item-{item_id}")

    async def _stale(self, form: FormState, handover_id: int, item_id: int) -> None:
        """Someone changed the item meanwhile: keep the input, show who holds it now."""
        now = await _item_of(handover_id, item_id)
        names = await employee_names([now["assignee_id"]])
        form.mark_stale(
            current={"assignee": names.get(now["assignee_id"], "")}
            if "assignee" in form.values
            else {},
            version=now["version"],
        )

    async def _act(
        self,
        request: Request[Any, Any, Any],
        actor: Actor,
        settings: Settings,
        ids: tuple[int, int],
        action: str,
        form: FormState,
        call: Callable[[], Awaitable[Any]],
        fields: Mapping[str, str] | None = None,
        people: Mapping[int, str] | None = None,
    ) -> Response[Any]:
        """Run an item's action unless the form is wrong: back to the handover, or the form again."""
        handover_id, item_id = ids
        if not form.invalid:
            try:
                await call()
            except StaleVersion:
                await self._stale(form, handover_id, item_id)
            except RegisterError as exc:
                form.fail(exc, fields or {"item_id": ""}, people)
            else:
                return self._back(handover_id, item_id, DONE[action])
        return await self._form(
            request, actor, settings, handover_id, item_id, action, form, form.status
        )

    # Complete -------------------------------------------------------------------------------

    @get("/complete", opt=page("handover.work"))
    async def complete_form(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        item_id: Id,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Template:
        """What the item needs, and a note (the evidence) to mark it done."""
        return await self._form(
            request, actor, settings, handover_id, item_id, "complete", form_of(request)
        )

    @post("/complete", opt=page("handover.work"), status_code=303)
    async def complete(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        item_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Mark the item done with the note as its evidence."""
        form = form_of(request)
        version = number(form, data, "version")
        note = text(form, data, "note", max_length=2000)
        reference = text(form, data, "reference", max_length=500)
        return await self._act(
            request,
            actor,
            settings,
            (handover_id, item_id),
            "complete",
            form,
            lambda: flows.complete_item(
                actor=actor,
                handover_id=handover_id,
                item_id=item_id,
                note=note,
                reference=reference,
                version=version,
            ),
        )

    # Waive ----------------------------------------------------------------------------------

    @get("/waive", opt=page("handover.waive"))
    async def waive_form(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        item_id: Id,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Template:
        """The reason to waive the item (HR leads); who may waive, in words, to anyone else."""
        return await self._form(
            request, actor, settings, handover_id, item_id, "waive", form_of(request)
        )

    @post("/waive", opt=page("handover.waive"), status_code=303)
    async def waive(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        item_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Waive the item with the reason (refused, audited, to anyone but an HR lead)."""
        form = form_of(request)
        version = number(form, data, "version")
        reason = text(form, data, "reason", max_length=2000)
        if not reason:
            form.errors["reason"] = form.gettext(N_("Say why the item is waived."))
        return await self._act(
            request,
            actor,
            settings,
            (handover_id, item_id),
            "waive",
            form,
            lambda: flows.waive_item(
                actor=actor,
                settings=settings,
                handover_id=handover_id,
                item_id=item_id,
                reason=reason,
                version=version,
            ),
        )

    # Reassign -------------------------------------------------------------------------------

    @get("/reassign", opt=page("handover.work"))
    async def reassign_form(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        item_id: Id,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Template:
        """Choose who takes the item over, by name."""
        return await self._form(
            request, actor, settings, handover_id, item_id, "reassign", form_of(request)
        )

    @post("/reassign", opt=page("handover.work"), status_code=303)
    async def reassign(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        item_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Give the item to the person chosen."""
        form = form_of(request)
        version = number(form, data, "version")
        assignee_id = await person(form, data, "assignee", who="staying", required=True)
        # Required: an empty or unknown name is an error on the form, so it is shown again.
        return await self._act(
            request,
            actor,
            settings,
            (handover_id, item_id),
            "reassign",
            form,
            lambda: flows.reassign_item(
                actor=actor,
                handover_id=handover_id,
                item_id=item_id,
                version=version or 0,
                assignee_id=assignee_id,
            ),
            {"assignee_id": "assignee", "item_id": ""},
            await employee_names([assignee_id]),
        )

    # Custody transfer -----------------------------------------------------------------------

    @get("/transfer", opt=page("handover.work"))
    async def transfer_form(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        item_id: Id,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Template:
        """Whom custody goes to, and a note for them."""
        return await self._form(
            request, actor, settings, handover_id, item_id, "transfer", form_of(request)
        )

    @post("/transfer", opt=page("handover.work"), status_code=303)
    async def transfer(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        item_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Move custody to the item's assignee now; they accept on their own home page."""
        form = form_of(request)
        note = text(form, data, "note", max_length=2000)
        return await self._act(
            request,
            actor,
            settings,
            (handover_id, item_id),
            "transfer",
            form,
            lambda: flows.transfer_item(
                actor=actor, handover_id=handover_id, item_id=item_id, note=note
            ),
            {"item_id": "", "assignee_id": ""},
        )

    # Revoke ---------------------------------------------------------------------------------

    @get("/revoke", opt=page("handover.work"))
    async def revoke_form(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        item_id: Id,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Template:
        """Why the leaver's access ends (kept with the grant)."""
        return await self._form(
            request, actor, settings, handover_id, item_id, "revoke", form_of(request)
        )

    @post("/revoke", opt=page("handover.work"), status_code=303)
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        item_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Revoke the grant the item names; the item is done."""
        form = form_of(request)
        reason = text(form, data, "reason", max_length=2000)
        return await self._act(
            request,
            actor,
            settings,
            (handover_id, item_id),
            "revoke",
            form,
            lambda: flows.revoke_item(
                actor=actor, handover_id=handover_id, item_id=item_id, reason=reason
            ),
        )

    # Post approver ---------------------------------------------------------------------------

    @get("/approver", opt=page("handover.work"))
    async def approver_form(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        item_id: Id,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Template:
        """Who approves the account's posts in the leaver's place, chosen by name."""
        return await self._form(
            request, actor, settings, handover_id, item_id, "approver", form_of(request)
        )

    @post("/approver", opt=page("handover.work"), status_code=303)
    async def approver(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        item_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Take the leaver off the approvers, naming the replacement chosen (or nobody new)."""
        form = form_of(request)
        replacement = number(form, data, "replacement")
        note = text(form, data, "note", max_length=2000)
        return await self._act(
            request,
            actor,
            settings,
            (handover_id, item_id),
            "approver",
            form,
            lambda: flows.approver_item(
                actor=actor,
                handover_id=handover_id,
                item_id=item_id,
                replacement_user_id=replacement,
                note=note,
            ),
            {"replacement_user_id": "replacement", "item_id": ""},
        )

    # Withdraw post requests -------------------------------------------------------------------

    @get("/withdraw", opt=page("handover.work"))
    async def withdraw_form(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        item_id: Id,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Template:
        """The leaver's open post requests, and why they are withdrawn."""
        return await self._form(
            request, actor, settings, handover_id, item_id, "withdraw", form_of(request)
        )

    @post("/withdraw", opt=page("handover.work"), status_code=303)
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        handover_id: Id,
        item_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Withdraw them, the reason kept in each one's history; the item is done."""
        form = form_of(request)
        reason = text(form, data, "reason", max_length=2000)
        return await self._act(
            request,
            actor,
            settings,
            (handover_id, item_id),
            "withdraw",
            form,
            lambda: flows.withdraw_posts_item(
                actor=actor, handover_id=handover_id, item_id=item_id, reason=reason
            ),
        )

    # Export ---------------------------------------------------------------------------------

    @post("/export", opt=page("handover.export"), status_code=200)
    async def export(
        self, request: Request[Any, Any, Any], handover_id: Id, item_id: Id, actor: ActorDep
    ) -> Response[Any]:
        """The leaver's connections as CSV for the successor; the item records the file's hash."""
        item, body = await flows.export_item(actor=actor, handover_id=handover_id, item_id=item_id)
        return Response(
            body,
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="{item["evidence"]["filename"]}"',
                "Cache-Control": "no-store",
            },
        )
