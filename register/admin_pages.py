"""The admins' pages of the core: users (created with a one-time password shown once) and API tokens.

A secret shown once (a one-time password, a new token) is the answer to the form post itself,
never kept and never in a URL: the page is not cached, and its script replaces the history
entry with the list, so a reload or the back button cannot bring it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Template

from register import auth, services
from register.access import allowed
from register.actor import Actor
from register.db import as_utc, now
from register.enums import Role
from register.errors import AlreadyExists, Conflict, InvalidInput, NotFound, StaleVersion
from register.extensions import Extensions, extensions
from register.forms import FormState, number, text
from register.i18n import N_
from register.openapi import ActorDep, Id, QueryId, Text
from register.pages import Form, NavLink, page, reader_of, redirect, render
from register.schemas import TokenCreate, UserCreate

USERS = "/admin/users"
TOKENS = "/admin/tokens"
PAGE_SIZE = 50
# Whom a token may be issued to is chosen from a list: the register's users, not a company's staff.
MAX_OWNERS = 200
ROLES = {
    Role.admin: N_("Admin"),
    Role.it: N_("IT"),
    Role.hr: N_("HR"),
    Role.comms: N_("Communications"),
    Role.legal: N_("Legal"),
    Role.auditor: N_("Auditor"),
    Role.staff: N_("Staff"),
}
ROLE_HINTS = {
    Role.admin: N_("Everything, and users, API tokens and notifications."),
    Role.it: N_("Registers the company's social accounts: who holds them, access, credentials."),
    Role.hr: N_("Keeps the staff directory and connections, and runs handovers."),
    Role.comms: N_("Files incidents and works them through the playbook."),
    Role.legal: N_("Reads incidents and signs their legal steps."),
    Role.auditor: N_("Reads everything, changes nothing, verifies the audit trail."),
    Role.staff: N_(
        "Any employee: their own policies, acknowledgements and training, nothing else."
    ),
}
NAV = [
    NavLink(N_("Users"), USERS, "user.read", order=80),
    NavLink(N_("API tokens"), TOKENS, "token.admin", order=81),
]
# What a field of the API's request types means when a form leaves it wrong or empty.
USER_MESSAGES = {
    "email": N_("Enter the e-mail address they will sign in with."),
    "role": N_("Choose a role."),
    "name": N_("A name has at most 200 characters."),
}
TOKEN_MESSAGES = {
    "name": N_("Say what the token is for, in at most 120 characters."),
    "expires_in_days": N_("Enter a number of days from 1 to 3650, or leave it empty."),
    "user_id": N_("Choose whose token it is."),
}

Choice = Annotated[str, QueryParameter(max_length=20, pattern="^[a-z_]*$")]
Search = Text(200)
Offset = Annotated[int, QueryParameter(ge=0, le=10**9)]


def form_of(request: Request[Any, Any, Any], **values: Any) -> FormState:
    """An empty form (or one holding a record's values) that speaks the reader's language."""
    return FormState(gettext=reader_of(request).gettext, values=dict(values))


def checked(
    form: FormState, kind: type[Any], values: dict[str, Any], messages: Mapping[str, str]
) -> Any:
    """The form's values as the API's request type; else None, with what the wrong field needs."""
    try:
        wanted = msgspec.convert(values, kind)
    except msgspec.ValidationError as exc:
        # msgspec names the field as "... - at `$.name`" (or `$.name[2]` in a list).
        message = str(exc)
        field = message.rsplit("`$.", 1)[-1].rstrip("`").split("[")[0] if "`$." in message else ""
        said = form.gettext(messages[field]) if field in messages else message
        if field in form.values:
            form.errors.setdefault(field, said)
        else:
            form.alert = form.alert or said
        return None
    return None if form.invalid else wanted


async def person_by_email(email: str) -> dict[str, Any] | None:
    """The person in the staff directory with this work e-mail, if the directory is there."""
    extensions.load()
    lookup = extensions.by_email.get("employee")
    if lookup is None or "@" not in email:
        return None
    return await lookup(email)


def chosen_role(value: str) -> Role | None:
    """A role from a form or query, None when none (or no real one) is chosen."""
    try:
        return Role(value)
    except ValueError:
        return None


class AdminPages(Controller):
    """Users and API tokens, for admins (auditors read the users)."""

    path = "/admin"
    include_in_schema = False

    @get("/users", opt=page("user.read"))
    async def list_users(
        self,
        request: Request[Any, Any, Any],
        actor: ActorDep,
        role: Choice = "",
        active: Choice = "",
        q: Search = None,
        offset: Offset = 0,
    ) -> Template:
        """Who signs in: role, person, whether active, a one-time password still to change."""
        users, next_offset = await services.list_users(
            limit=PAGE_SIZE,
            offset=offset,
            role=chosen_role(role),
            active={"yes": True, "no": False}.get(active),
            q=q,
        )
        return render(
            request,
            "admin/users.html",
            title=N_("Users"),
            users=users,
            names=await services.employee_names(u["employee_id"] for u in users),
            last_sign_ins=await services.last_sign_ins(u["id"] for u in users),
            filters={"role": role, "active": active, "q": q or ""},
            offset=offset,
            next_offset=next_offset,
            page_size=PAGE_SIZE,
            roles=ROLES,
            may_write=may(actor, "user.write"),
        )

    @get("/users/new", opt=page("user.write"))
    async def new_user(self, request: Request[Any, Any, Any]) -> Template:
        """The form for a new user."""
        return await _user_form(request, form_of(request))

    @get("/users/link", opt=page("user.write"))
    async def link_preview(
        self,
        request: Request[Any, Any, Any],
        email: Search = None,
        person_email: Search = None,
    ) -> Template:
        """Whom a new user would be linked to (htmx fills it in as the e-mail is typed)."""
        wanted = (person_email or email or "").strip()
        return render(
            request,
            "admin/_link_preview.html",
            title=N_("New user"),
            person=await person_by_email(wanted),
            asked=wanted,
            by_person_email=bool(person_email and person_email.strip()),
        )

    @post("/users", opt=page("user.write"), status_code=200)
    async def create_user(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Template:
        """Create the user with the same service as the API; the answer shows the password once."""
        form = form_of(request)
        email = text(form, data, "email", max_length=320)
        role = text(form, data, "role", max_length=20)
        name = text(form, data, "name", max_length=200)
        person_email = text(form, data, "person_email", max_length=320)
        wanted = checked(
            form, UserCreate, {"email": email, "role": role, "name": name}, USER_MESSAGES
        )
        if wanted is None:
            return await _user_form(request, form)
        # The person the user is: the one named by work e-mail, else the one with the sign-in e-mail.
        person = await person_by_email(person_email or wanted.email)
        if person_email and person is None:
            form.errors["person_email"] = form.gettext(
                N_(
                    "No person in the staff directory has this work e-mail. Check it, or "
                    "leave the field empty to create the user without a link."
                )
            )
            return await _user_form(request, form)
        try:
            user, password = await services.create_user(
                actor=actor,
                email=wanted.email,
                role=wanted.role,
                name=wanted.name or (person["name"] if person else ""),
                employee_id=person["id"] if person else None,
            )
        except AlreadyExists:
            form.errors["email"] = form.gettext(
                N_("A user with this e-mail address already exists.")
            )
            return await _user_form(request, form, 409)
        except (InvalidInput, Conflict) as exc:
            # The service names its own fields; the form's person field is the employee link.
            form.fail(exc, {"employee_id": "person_email"})
            return await _user_form(request, form)
        return render(
            request,
            "admin/user_created.html",
            title=N_("User created"),
            user=user,
            password=password,
            person=person,
            roles=ROLES,
        )

    @get("/users/{user_id:int}", opt=page("user.read"))
    async def user(self, request: Request[Any, Any, Any], user_id: Id, actor: ActorDep) -> Template:
        """One user: who they are, their role and tokens, and what an admin may change."""
        return await _user_page(request, actor, user_id)

    @post("/users/{user_id:int}/role", opt=page("user.write"), status_code=303)
    async def change_role(
        self, request: Request[Any, Any, Any], user_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Give a user another role (audited by the service); a stale page says so."""
        form = form_of(request)
        role = chosen_role(text(form, data, "role", max_length=20))
        version = number(form, data, "version")
        if role is None:
            form.errors["role"] = form.gettext(USER_MESSAGES["role"])
            return await _user_page(request, actor, user_id, form=form)
        try:
            await services.update_user(
                actor=actor, user_id=user_id, version=version or 0, changes={"role": role}
            )
        except StaleVersion:
            saved = await services.get_user(user_id=user_id)
            form.mark_stale(current={"role": saved["role"]}, version=saved["version"])
            return await _user_page(request, actor, user_id, form=form)
        except (InvalidInput, Conflict) as exc:
            form.fail(exc)
            return await _user_page(request, actor, user_id, form=form)
        return redirect(f"{USERS}/{user_id}?done=role")

    @get("/users/{user_id:int}/deactivate", opt=page("user.write"))
    async def confirm_deactivate(
        self, request: Request[Any, Any, Any], user_id: Id, actor: ActorDep
    ) -> Template:
        """Are you sure? Names the user and what stops."""
        return await _deactivate_page(request, actor, user_id)

    @post("/users/{user_id:int}/deactivate", opt=page("user.write"), status_code=303)
    async def deactivate(
        self, request: Request[Any, Any, Any], user_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Deactivate: the service ends their sessions, and their tokens stop with them."""
        form = form_of(request)
        try:
            await services.update_user(
                actor=actor,
                user_id=user_id,
                version=number(form, data, "version") or 0,
                changes={"active": False},
            )
        except StaleVersion:
            saved = await services.get_user(user_id=user_id)
            form.mark_stale(current={}, version=saved["version"])
            return await _deactivate_page(request, actor, user_id, form=form)
        except (InvalidInput, Conflict) as exc:
            form.fail(exc)
            return await _deactivate_page(request, actor, user_id, form=form)
        return redirect(f"{USERS}/{user_id}?done=deactivated")

    @post("/users/{user_id:int}/reactivate", opt=page("user.write"), status_code=303)
    async def reactivate(
        self, request: Request[Any, Any, Any], user_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Let a deactivated user sign in again (their old tokens come back with them)."""
        form = form_of(request)
        try:
            await services.update_user(
                actor=actor,
                user_id=user_id,
                version=number(form, data, "version") or 0,
                changes={"active": True},
            )
        except StaleVersion:
            saved = await services.get_user(user_id=user_id)
            form.mark_stale(current={}, version=saved["version"])
            return await _user_page(request, actor, user_id, form=form)
        return redirect(f"{USERS}/{user_id}?done=reactivated")

    @get("/tokens", opt=page("token.admin"))
    async def list_tokens(
        self,
        request: Request[Any, Any, Any],
        user_id: QueryId = None,
        revoked: QueryId = None,
        offset: Offset = 0,
    ) -> Template:
        """Every token (or one user's): owner, when made, last used, expiry, revoked."""
        form = form_of(request, user_id=user_id, expires_in_days="90")
        return await _tokens_page(request, form, user_id=user_id, offset=offset, revoked=revoked)

    @post("/tokens", opt=page("token.admin"), status_code=200)
    async def create_token(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Template:
        """Issue a token with the same service as the API; the answer shows it once."""
        form = form_of(request)
        owner = number(form, data, "user_id")
        name = text(form, data, "name", max_length=1000)
        days = text(form, data, "expires_in_days", max_length=20)
        if owner is None:
            form.errors["user_id"] = form.gettext(TOKEN_MESSAGES["user_id"])
        wanted = checked(
            form,
            TokenCreate,
            {
                "name": name,
                # Empty: a token that does not expire (the API's null); the type checks the rest.
                "expires_in_days": (int(days) if days.isdigit() else days) if days else None,
                "user_id": owner,
            },
            TOKEN_MESSAGES,
        )
        if wanted is None:
            return await _tokens_page(request, form)
        try:
            issued = await auth.issue_token(
                actor=actor,
                user_id=wanted.user_id,
                name=wanted.name,
                expires_in_days=wanted.expires_in_days,
            )
        except NotFound:
            # Gone since the list was drawn: choose again.
            form.errors["user_id"] = form.gettext(TOKEN_MESSAGES["user_id"])
            return await _tokens_page(request, form)
        except (InvalidInput, Conflict) as exc:
            form.fail(exc)
            return await _tokens_page(request, form)
        return render(
            request,
            "admin/token_created.html",
            title=N_("Token created"),
            token=issued,
            owner=await services.get_user(user_id=issued.user_id),
        )

    @get("/tokens/{token_id:int}/revoke", opt=page("token.admin"))
    async def confirm_revoke(self, request: Request[Any, Any, Any], token_id: Id) -> Template:
        """Are you sure? Names the token and its owner."""
        token = await services.get_token(token_id=token_id)
        return render(
            request,
            "admin/token_revoke.html",
            title=N_("Revoke a token"),
            token=token,
            owner=await services.get_user(user_id=token["user_id"]),
        )

    @post("/tokens/{token_id:int}/revoke", opt=page("token.admin"), status_code=303)
    async def revoke(self, token_id: Id, actor: ActorDep) -> Response[Any]:
        """Revoke it with the same service as the API: it stops working at once."""
        await auth.revoke_token(actor=actor, token_id=token_id, own_only=False)
        return redirect(f"{TOKENS}?revoked={token_id}")


def may(actor: Actor, action: str) -> bool:
    """Whether this reader may take an action (forms are shown only to who may send them)."""
    return actor.role is not None and allowed(action, actor.role)


async def _user_form(
    request: Request[Any, Any, Any], form: FormState, status: int | None = None
) -> Template:
    asked = form.value("person_email") or form.value("email")
    return render(
        request,
        "admin/user_form.html",
        status=status or (form.status if form.invalid else 200),
        title=N_("New user"),
        form=form,
        roles=ROLES,
        role_hints=ROLE_HINTS,
        person=await person_by_email(asked),
        asked=asked,
        by_person_email=bool(form.value("person_email")),
    )


async def _user_page(
    request: Request[Any, Any, Any],
    actor: Actor,
    user_id: int,
    *,
    form: FormState | None = None,
) -> Template:
    user = await services.get_user(user_id=user_id)
    form = form or form_of(request, role=user["role"], version=user["version"])
    status = form.status if form.invalid else 200
    # Token records are for who administers tokens (the API shows others' to admins only).
    tokens = (
        (await services.list_tokens(user_id=user_id, limit=200, offset=0))[0]
        if allowed("token.admin", actor.role)
        else []
    )
    done = request.query_params.get("done", "") if status == 200 else ""
    return render(
        request,
        "admin/user.html",
        status=status,
        title=user["email"],
        translate_title=False,
        user=user,
        person=(await services.employee_names([user["employee_id"]])).get(user["employee_id"] or 0),
        last_sign_in=(await services.last_sign_ins([user_id])).get(user_id),
        tokens=tokens,
        roles=ROLES,
        may_write=may(actor, "user.write"),
        may_tokens=may(actor, "token.admin"),
        is_self=actor.user_id == user_id,
        form=form,
        done=done if done in ("role", "deactivated", "reactivated") else "",
    )


async def _deactivate_page(
    request: Request[Any, Any, Any],
    actor: Actor,
    user_id: int,
    *,
    form: FormState | None = None,
) -> Template:
    user = await services.get_user(user_id=user_id)
    form = form or form_of(request, version=user["version"])
    # Token records are for who administers tokens (the API shows others' to admins only).
    tokens = (
        (await services.list_tokens(user_id=user_id, limit=200, offset=0))[0]
        if allowed("token.admin", actor.role)
        else []
    )
    return render(
        request,
        "admin/user_deactivate.html",
        status=form.status if form.invalid else 200,
        title=N_("Deactivate a user"),
        user=user,
        person=(await services.employee_names([user["employee_id"]])).get(user["employee_id"] or 0),
        live_tokens=sum(1 for t in tokens if t["revoked_at"] is None),
        is_self=actor.user_id == user_id,
        form=form,
        roles=ROLES,
    )


async def _tokens_page(
    request: Request[Any, Any, Any],
    form: FormState,
    *,
    user_id: int | None = None,
    offset: int = 0,
    revoked: int | None = None,
) -> Template:
    tokens, next_offset = await services.list_tokens(
        user_id=user_id, limit=PAGE_SIZE, offset=offset
    )
    candidates, _ = await services.list_users(limit=MAX_OWNERS, offset=0, active=True)
    # The owners of a page of tokens in one query, not one per token.
    owners = await services.users_by_id([t["user_id"] for t in tokens] + [user_id])
    just_revoked = None
    if revoked is not None:
        try:
            just_revoked = await services.get_token(token_id=revoked)
        except NotFound:
            just_revoked = None
    moment = now()
    for token in tokens:
        expires = as_utc(token["expires_at"])
        token["state"] = (
            "revoked"
            if token["revoked_at"] is not None
            else "expired"
            if expires is not None and expires <= moment
            else "active"
        )
    return render(
        request,
        "admin/tokens.html",
        status=form.status if form.invalid else 200,
        title=N_("API tokens"),
        tokens=tokens,
        owners=owners,
        candidates=candidates,
        names=await services.employee_names(u["employee_id"] for u in owners.values()),
        filtered=owners.get(user_id) if user_id else None,
        form=form,
        just_revoked=just_revoked,
        # The owner of a token revoked from a later page is not among this page's owners.
        revoked_owner=(
            owners.get(just_revoked["user_id"])
            or await services.get_user(user_id=just_revoked["user_id"])
        )
        if just_revoked
        else None,
        offset=offset,
        next_offset=next_offset,
        page_size=PAGE_SIZE,
        user_id=user_id,
    )


def install(ext: Extensions) -> list[type[Controller]]:
    """The admins' menu entries, first after Home; the controller, for the app's route handlers."""
    for position, link in enumerate(NAV):
        if link not in ext.nav_links:
            ext.nav_links.insert(position, link)
    return [AdminPages]
