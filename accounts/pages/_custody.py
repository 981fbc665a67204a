"""Who can get in and who holds it: adding and revoking grants, custody offered, re-certified, retired."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Template

from accounts import flows, services
from accounts.enums import AccessLevel, CustodyRole
from accounts.pages._common import LEVELS, PLATFORMS
from accounts.pages._edit import form_of
from register.access import object_guard
from register.errors import AlreadyExists, InvalidInput, NotFound, RegisterError, StaleVersion
from register.forms import FormState, flag, number, numbers, text
from register.i18n import N_
from register.openapi import ActorDep, Id
from register.pages import Form, page, reader_of, redirect, render
from register.staff.pages import person
from register.staff.services import employee_names, employees_by_id

RoleChoice = Annotated[str, QueryParameter(pattern="^(custodian|backup)?$")]


def _title(request: Request[Any, Any, Any], message: str, account: Mapping[str, Any]) -> str:
    return reader_of(request).gettext(message) % {"handle": account["handle"]}


async def _live_account(account_id: int) -> dict[str, Any]:
    return await services.get_account(account_id=account_id)


class CustodyPages(Controller):
    """Grants, custody transfer, re-certification and retiring, each its own form."""

    path = "/accounts"
    include_in_schema = False

    # Grants --------------------------------------------------------------------------------

    async def _grant_form(
        self,
        request: Request[Any, Any, Any],
        account: Mapping[str, Any],
        form: FormState,
        status: int = 200,
    ) -> Template:
        return render(
            request,
            "accounts/grant.html",
            status=status,
            title=_title(request, N_("Give someone access to %(handle)s"), account),
            translate_title=False,
            account=account,
            form=form,
            levels=LEVELS,
            platforms=PLATFORMS,
        )

    @get("/{account_id:int}/grants/new", opt=page("account.write"))
    async def grant_form(self, request: Request[Any, Any, Any], account_id: Id) -> Template:
        """The form to record someone's access."""
        form = form_of(request)
        form.values["level"] = AccessLevel.editor.value
        return await self._grant_form(request, await _live_account(account_id), form)

    @post("/{account_id:int}/grants/new", opt=page("account.write"), status_code=303)
    async def add_grant(
        self, request: Request[Any, Any, Any], account_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Record the access, then back to the account's grants."""
        account = await _live_account(account_id)
        form = form_of(request)
        employee_id = await person(form, data, "employee", required=True)
        level = text(form, data, "level", max_length=20)
        if level not in {k.value for k in AccessLevel}:
            form.errors["level"] = form.gettext(N_("Choose a level of access."))
        platform_role = text(form, data, "platform_role", max_length=120)
        reason = text(form, data, "reason", max_length=1000)
        if not form.invalid and employee_id is not None:
            try:
                await services.add_grant(
                    actor=actor,
                    account_id=account_id,
                    employee_id=employee_id,
                    level=AccessLevel(level),
                    platform_role=platform_role,
                    reason=reason,
                )
            except AlreadyExists:
                form.errors["employee"] = form.gettext(
                    N_("%(name)s already has access: revoke that grant first to record another.")
                ) % {"name": form.value("employee")}
            except RegisterError as exc:
                form.fail(exc, {"employee_id": "employee"}, await employee_names([employee_id]))
            else:
                return redirect(f"/accounts/{account_id}?done=grant-added#grants-heading")
        return await self._grant_form(request, account, form, status=form.status)

    async def _grant_of(self, account_id: int, grant_id: int) -> dict[str, Any]:
        grant = await services.get_grant(grant_id)
        if grant is None or grant["account_id"] != account_id:
            raise NotFound(
                N_("grant %(grant_id)s does not exist on account %(account_id)s"),
                params={"grant_id": grant_id, "account_id": account_id},
            )
        return grant

    async def _revoke_form(
        self,
        request: Request[Any, Any, Any],
        account: Mapping[str, Any],
        grant: Mapping[str, Any],
        form: FormState,
        status: int = 200,
    ) -> Template:
        names = await employee_names([grant["employee_id"]])
        return render(
            request,
            "accounts/revoke.html",
            status=status,
            title=reader_of(request).gettext(N_("Revoke %(name)s's access"))
            % {"name": names.get(grant["employee_id"], "")},
            translate_title=False,
            account=account,
            grant=grant,
            name=names.get(grant["employee_id"], ""),
            form=form,
            levels=LEVELS,
            platforms=PLATFORMS,
        )

    @get("/{account_id:int}/grants/{grant_id:int}/revoke", opt=page("account.write"))
    async def revoke_form(
        self, request: Request[Any, Any, Any], account_id: Id, grant_id: Id
    ) -> Template:
        """Ask for the reason before ending someone's access."""
        account = await _live_account(account_id)
        grant = await self._grant_of(account_id, grant_id)
        return await self._revoke_form(request, account, grant, form_of(request))

    @post(
        "/{account_id:int}/grants/{grant_id:int}/revoke", opt=page("account.write"), status_code=303
    )
    async def revoke_grant(
        self,
        request: Request[Any, Any, Any],
        account_id: Id,
        grant_id: Id,
        data: Form,
        actor: ActorDep,
    ) -> Response[Any]:
        """End the access; the grant stays as history."""
        account = await _live_account(account_id)
        await self._grant_of(account_id, grant_id)
        form = form_of(request)
        reason = text(form, data, "reason", max_length=1000)
        if not form.invalid:
            try:
                await services.revoke_grant(
                    actor=actor, account_id=account_id, grant_id=grant_id, reason=reason
                )
            except RegisterError as exc:
                form.fail(exc)
            else:
                return redirect(f"/accounts/{account_id}?done=grant-revoked#grants-heading")
        return await self._revoke_form(
            request, account, await self._grant_of(account_id, grant_id), form, status=form.status
        )

    # Custody transfer ----------------------------------------------------------------------

    async def _transfer_form(
        self,
        request: Request[Any, Any, Any],
        account: Mapping[str, Any],
        form: FormState,
        status: int = 200,
    ) -> Template:
        transfers = await flows.list_transfers(account_id=account["id"])
        waiting = [t for t in transfers if t["state"] == "pending"]
        names = await employee_names(
            [account["custodian_id"], account["backup_custodian_id"]]
            + [t["to_employee_id"] for t in waiting]
        )
        return render(
            request,
            "accounts/transfer.html",
            status=status,
            title=_title(request, N_("Transfer custody of %(handle)s"), account),
            translate_title=False,
            account=account,
            waiting=waiting,
            names=names,
            form=form,
            platforms=PLATFORMS,
        )

    @get("/{account_id:int}/transfer", opt=page("account.write"))
    async def transfer_form(
        self, request: Request[Any, Any, Any], account_id: Id, role: RoleChoice = ""
    ) -> Template:
        """Offer custody, or backup custody, to someone by name."""
        form = form_of(request)
        form.values["role"] = role or CustodyRole.custodian.value
        return await self._transfer_form(request, await _live_account(account_id), form)

    @post("/{account_id:int}/transfer", opt=page("account.write"), status_code=303)
    async def transfer(
        self, request: Request[Any, Any, Any], account_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Move custody now; the new holder accepts or declines from their home page."""
        await _live_account(account_id)
        form = form_of(request)
        role = text(form, data, "role", max_length=20)
        if role not in {r.value for r in CustodyRole}:
            form.errors["role"] = form.gettext(N_("Choose custody or backup custody."))
        to_employee_id = await person(form, data, "to_employee", who="staying", required=True)
        revoke_old = flag(form, data, "revoke_old_grants")
        note = text(form, data, "note", max_length=1000)
        if not form.invalid and to_employee_id is not None:
            try:
                await flows.transfer_custody(
                    actor=actor,
                    account_id=account_id,
                    role=CustodyRole(role),
                    to_employee_id=to_employee_id,
                    revoke_old_grants=revoke_old,
                    note=note,
                )
            except RegisterError as exc:
                form.fail(
                    exc, {"to_employee_id": "to_employee"}, await employee_names([to_employee_id])
                )
            else:
                return redirect(f"/accounts/{account_id}?done=transfer-offered#transfers-heading")
        return await self._transfer_form(
            request, await _live_account(account_id), form, status=form.status
        )

    # Re-certification ----------------------------------------------------------------------

    async def _recertify_form(
        self,
        request: Request[Any, Any, Any],
        account: Mapping[str, Any],
        form: FormState,
        status: int = 200,
        seen: set[int] | None = None,
    ) -> Template:
        grants = await services.list_grants(account_id=account["id"], active=True)
        # Department and e-mail beside each name: two people of one name are told apart.
        people = await employees_by_id(
            [g["employee_id"] for g in grants] + [account["custodian_id"]]
        )
        return render(
            request,
            "accounts/recertify.html",
            status=status,
            title=_title(request, N_("Re-certify %(handle)s"), account),
            translate_title=False,
            account=account,
            grants=grants,
            people=people,
            # Grants added after the form was opened, to point out on the form shown again.
            added={g["id"] for g in grants} - seen if seen is not None else set(),
            form=form,
            levels=LEVELS,
            platforms=PLATFORMS,
        )

    @get(
        "/{account_id:int}/recertify",
        opt=page("custody.recertify"),
        guards=[object_guard(flows.check_recertifier)],
    )
    async def recertify_form(self, request: Request[Any, Any, Any], account_id: Id) -> Template:
        """Every active grant with a box to keep it; unticked ones are revoked."""
        account = await _live_account(account_id)
        form = form_of(request)
        grants = await services.list_grants(account_id=account_id, active=True)
        form.values["keep"] = [g["id"] for g in grants]
        return await self._recertify_form(request, account, form)

    @post(
        "/{account_id:int}/recertify",
        opt=page("custody.recertify"),
        guards=[object_guard(flows.check_recertifier)],
        status_code=303,
    )
    async def recertify(
        self, request: Request[Any, Any, Any], account_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """The custodian (or IT) confirms custody and which grants are still needed."""
        account = await _live_account(account_id)
        form = form_of(request)
        # Only the grants the form showed are decided: one added meanwhile is never revoked unseen.
        shown = set(numbers(data, "shown"))
        keep = set(numbers(data, "keep")) & shown
        form.values["keep"] = sorted(keep)
        notes = text(form, data, "notes", max_length=1000)
        if not form.invalid:
            try:
                await flows.recertify(
                    actor=actor,
                    account_id=account_id,
                    keep_grant_ids=sorted(keep),
                    revoke_grant_ids=sorted(shown - keep),
                    notes=notes,
                )
            except InvalidInput as exc:
                if exc.extra.get("field") != "keep_grant_ids":
                    raise
                # The grants changed since the form was opened: show them as they are now.
                now = await services.list_grants(account_id=account_id, active=True)
                form.values["keep"] = sorted(keep | ({g["id"] for g in now} - shown))
                form.stale = True
                return await self._recertify_form(request, account, form, status=409, seen=shown)
            except RegisterError as exc:
                form.fail(exc)
            else:
                return redirect(f"/accounts/{account_id}?done=recertified")
        return await self._recertify_form(request, account, form, status=form.status)

    # Retiring ------------------------------------------------------------------------------

    async def _retire_form(
        self,
        request: Request[Any, Any, Any],
        account: Mapping[str, Any],
        form: FormState,
        status: int = 200,
    ) -> Template:
        grants = await services.list_grants(account_id=account["id"], active=True)
        names = await employee_names(g["employee_id"] for g in grants)
        return render(
            request,
            "accounts/retire.html",
            status=status,
            title=_title(request, N_("Retire %(handle)s"), account),
            translate_title=False,
            account=account,
            grants=grants,
            names=names,
            form=form,
            platforms=PLATFORMS,
        )

    @get("/{account_id:int}/retire", opt=page("account.write"))
    async def retire_form(self, request: Request[Any, Any, Any], account_id: Id) -> Template:
        """What retiring does, and a confirmation with the version read."""
        account = await _live_account(account_id)
        form = form_of(request)
        form.values["version"] = account["version"]
        return await self._retire_form(request, account, form)

    @post("/{account_id:int}/retire", opt=page("account.write"), status_code=303)
    async def retire(
        self, request: Request[Any, Any, Any], account_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Retire the account: kept for the record, every grant revoked."""
        form = form_of(request)
        version = number(form, data, "version")
        reason = text(form, data, "reason", max_length=1000)
        if not form.invalid:
            try:
                if version is None:
                    raise StaleVersion(N_("the form carried no version"))
                await services.retire_account(
                    actor=actor, account_id=account_id, version=version, reason=reason
                )
            except StaleVersion:
                now = await _live_account(account_id)
                form.mark_stale(current={}, version=now["version"])
            except RegisterError as exc:
                form.fail(exc)
            else:
                return redirect(f"/accounts/{account_id}?done=retired")
        return await self._retire_form(
            request, await _live_account(account_id), form, status=form.status
        )
