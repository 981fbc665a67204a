"""Registering an account and editing it: a handle or profile address pasted as it is, people by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Template

from accounts import services
from accounts.enums import AccountStatus, MfaMethod, Platform
from accounts.pages._common import MFA, PLATFORMS, STATUSES
from register.errors import InvalidInput, RegisterError, StaleVersion
from register.forms import FormState, flag, number, text
from register.i18n import N_
from register.openapi import ActorDep, Id, SettingsDep, Text
from register.pages import Form, page, reader_of, redirect, render
from register.staff.pages import person
from register.staff.services import employee_names

# The people an account names: the service's field, the form's picker.
PEOPLE = {
    "custodian_id": "custodian",
    "backup_custodian_id": "backup_custodian",
    "mfa_holder_id": "mfa_holder",
}
# Text fields of the account form and how long each may be (the columns' widths).
TEXTS = {
    "handle": 500,
    "display_name": 200,
    "purpose": 5000,
    "department": 120,
    "login_identifier": 320,
    "recovery_email": 320,
    "recovery_phone": 40,
    "notes": 5000,
}
# A status set on the edit form: retiring has its own page, which says what it does.
EDIT_STATUSES = {k: v for k, v in STATUSES.items() if k != AccountStatus.retired}
PlatformChoice = Annotated[str, QueryParameter(max_length=60, pattern="^[a-z_]*$")]


def form_of(request: Request[Any, Any, Any]) -> FormState:
    """An empty form for this reader (errors in their language)."""
    return FormState(gettext=reader_of(request).gettext)


def account_values(account: Mapping[str, Any], names: Mapping[int, str]) -> dict[str, Any]:
    """An account as its edit form shows it: people by name, checkboxes ticked or not."""
    values = {k: account[k] or "" for k in TEXTS}
    values.update(
        platform=account["platform"],
        mfa_method=account["mfa_method"],
        status=account["status"],
        version=account["version"],
        recovery_email_company_controlled="on"
        if account["recovery_email_company_controlled"]
        else "",
        recovery_phone_company_controlled="on"
        if account["recovery_phone_company_controlled"]
        else "",
    )
    for field, picker in PEOPLE.items():
        values[picker] = names.get(account[field], "") if account[field] else ""
        values[field] = account[field]
    return values


def _choice(form: FormState, data: Mapping[str, Any], name: str, kind: Any, missing: str) -> str:
    """A select's value, one of its closed set; an error next to it otherwise."""
    value = text(form, data, name, max_length=60)
    if not value:
        form.errors.setdefault(name, form.gettext(missing))
    elif value not in {k.value for k in kind}:
        form.errors.setdefault(name, form.gettext(N_("Choose one of the options in the list.")))
    return value


async def read_account(
    form: FormState, data: Mapping[str, Any], before: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The account form's fields as the service takes them (errors, if any, on the form)."""
    values: dict[str, Any] = {
        "platform": _choice(
            form, data, "platform", Platform, N_("Choose the platform the account is on.")
        ),
        "mfa_method": _choice(
            form, data, "mfa_method", MfaMethod, N_("Choose how the second factor is done.")
        ),
    }
    if before is not None:
        values["status"] = _choice(form, data, "status", AccountStatus, N_("Choose a status."))
    for name, limit in TEXTS.items():
        values[name] = text(form, data, name, max_length=limit)
    if not values["handle"] and "handle" not in form.errors:
        form.errors["handle"] = form.gettext(N_("Paste the account's handle or profile address."))
    for field, picker in PEOPLE.items():
        # Someone already named who has left since may stay named (the service allows an
        # unchanged person); naming them anew is refused.
        kept = before is not None and str(data.get(f"{picker}_id") or "") == str(before[field])
        values[field] = await person(
            form, data, picker, who="all" if kept else "current", required=field == "custodian_id"
        )
    # Unticked means "not the company's" only for the address already on record; a new address
    # is left to the company's own domains to decide (REGISTER_WORK_EMAIL_DOMAINS).
    same_email = before is not None and values["recovery_email"].lower() == before["recovery_email"]
    values["recovery_email_company_controlled"] = (
        True
        if flag(form, data, "recovery_email_company_controlled")
        else (False if same_email else None)
    )
    values["recovery_phone_company_controlled"] = flag(
        form, data, "recovery_phone_company_controlled"
    )
    return values


def read_as(
    platform: str, handle: str, gettext: Callable[[str], str] = str
) -> dict[str, str] | None:
    """What a pasted handle is read as on a platform ({handle, profile_url, error})."""
    if not handle or platform not in {p.value for p in Platform}:
        return None
    try:
        found = services.normalise_handle(Platform(platform), handle)
    except InvalidInput as exc:
        said = exc.said(gettext)
        return {"error": said, "handle": "", "profile_url": "", "platform": platform}
    return {
        "handle": found.handle,
        "profile_url": found.profile_url,
        "platform": platform,
        "error": "",
    }


class AccountEditPages(Controller):
    """Registering and editing accounts (IT)."""

    path = "/accounts"
    include_in_schema = False

    def _form(
        self,
        request: Request[Any, Any, Any],
        form: FormState,
        account: Mapping[str, Any] | None,
        status: int = 200,
    ) -> Template:
        reader = reader_of(request)
        title = (
            reader.gettext(N_("Edit %(handle)s")) % {"handle": account["handle"]}
            if account
            else reader.gettext(N_("Register an account"))
        )
        return render(
            request,
            "accounts/edit.html",
            status=status,
            title=title,
            translate_title=False,
            form=form,
            account=account,
            read=read_as(form.value("platform"), form.value("handle"), form.gettext),
            platforms=PLATFORMS,
            statuses=EDIT_STATUSES,
            mfa=MFA,
        )

    @get("/new", opt=page("account.write"))
    async def new_form(self, request: Request[Any, Any, Any]) -> Template:
        """The form to register an account."""
        form = form_of(request)
        form.values.update(mfa_method=MfaMethod.none.value)
        return self._form(request, form, None)

    @post("/new", opt=page("account.write"), status_code=303)
    async def create(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep, settings: SettingsDep
    ) -> Response[Any]:
        """Register the account, then show it with what the handle was read as."""
        form = form_of(request)
        values = await read_account(form, data, None)
        if not form.invalid:
            try:
                account = await services.create_account(actor=actor, settings=settings, data=values)
            except RegisterError as exc:
                form.fail(exc, PEOPLE, await employee_names(values[f] for f in PEOPLE))
            else:
                return redirect(f"/accounts/{account['id']}?done=created")
        return self._form(request, form, None, status=form.status)

    @get("/handle-check", opt=page("account.write"))
    async def handle_check(
        self,
        request: Request[Any, Any, Any],
        platform: PlatformChoice = "",
        handle: Text(500) = None,
    ) -> Template:
        """What a handle typed so far is read as (htmx, while typing)."""
        return render(
            request,
            "accounts/_read_as.html",
            title=N_("Read as"),
            read=read_as(platform, (handle or "").strip(), reader_of(request).gettext),
            platforms=PLATFORMS,
        )

    @get("/{account_id:int}/edit", opt=page("account.write"))
    async def edit_form(self, request: Request[Any, Any, Any], account_id: Id) -> Template:
        """The account's form, filled in, with its version hidden."""
        account = await services.get_account(account_id=account_id)
        form = form_of(request)
        names = await employee_names(account[f] for f in PEOPLE)
        form.values.update(account_values(account, names))
        return self._form(request, form, account)

    @post("/{account_id:int}/edit", opt=page("account.write"), status_code=303)
    async def edit(
        self,
        request: Request[Any, Any, Any],
        account_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Save the changes; a version someone else saved meanwhile shows both, input kept."""
        before = await services.get_account(account_id=account_id)
        form = form_of(request)
        version = number(form, data, "version")
        changes = await read_account(form, data, before)
        if not form.invalid:
            try:
                if version is None:
                    raise StaleVersion(N_("the form carried no version"))
                await services.update_account(
                    actor=actor,
                    settings=settings,
                    account_id=account_id,
                    version=version,
                    changes=changes,
                )
            except StaleVersion:
                now = await services.get_account(account_id=account_id)
                names = await employee_names(now[f] for f in PEOPLE)
                saved = account_values(now, names)
                form.mark_stale(
                    current={k: v for k, v in saved.items() if k not in PEOPLE},
                    version=now["version"],
                )
                before = now
            except RegisterError as exc:
                form.fail(exc, PEOPLE, await employee_names(changes[f] for f in PEOPLE))
            else:
                return redirect(f"/accounts/{account_id}?done=saved")
        return self._form(request, form, before, status=form.status)
