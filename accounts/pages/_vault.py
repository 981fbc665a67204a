"""The vault on the account page: set or replace the credential, reveal it with a reason, TOTP codes.

Each form posts to its own route and is answered by the same section (`_vault.html`): swapped in
place by htmx, or, without JavaScript, inside a page of its own. A revealed secret is only ever in
the body of the answer to the reveal post (never in a redirect or a URL), sent no-store; a page
without JavaScript is sent on after 30 seconds (the Refresh header) to one that says it was
hidden, as vault.js removes it from a page with JavaScript.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Template

from accounts import services
from register.access import allowed, object_guard
from register.actor import Actor
from register.errors import Conflict, InvalidInput, NotFound, RegisterError
from register.i18n import N_
from register.openapi import ActorDep, Id, SettingsDep
from register.pages import Form, is_htmx, page, reader_of, redirect, render
from register.settings import Settings

# How long a revealed credential stays on the screen.
HIDE_AFTER_SECONDS = 30
# The forms' fields are named apart from other forms on the account page (a retire form's
# `reason`); the services name them as the API does.
FIELDS = {
    "password": "vault_password",
    "totp_seed": "vault_totp_seed",
    "recovery_codes": "vault_recovery_codes",
    "reason": "reveal_reason",
}
# The services speak to API callers; a person at the form reads these instead (else the service's).
WORDS = {
    "send at least one of password, totp_seed, recovery_codes": N_(
        "Enter a new password, TOTP seed or recovery codes. What you leave empty is kept."
    ),
    "say why you need the credential (at least 5 characters)": N_(
        "Say why you need the credential, in at least 5 characters."
    ),
    "a TOTP seed is at least 16 base32 characters": N_(
        "A TOTP seed is at least 16 characters long. Copy the whole setup key."
    ),
    "a TOTP seed is base32 (letters A-Z and digits 2-7)": N_(
        "A TOTP seed has only the letters A to Z and the digits 2 to 7."
    ),
    "recovery_codes is a list of up to 100 non-blank codes": N_(
        "Give up to 100 recovery codes, one a line, each at most 200 characters."
    ),
    "password must be 1 to 4096 characters": N_("The password is at most 4096 characters."),
}
SAVED = {"set": N_("The credential is stored."), "rotated": N_("The credential is replaced.")}
# The parts of a credential, as the page names them (the id's suffix, the words).
PARTS = (
    ("password", "password", N_("Password")),
    ("totp_seed", "totp-seed", N_("TOTP seed")),
    ("recovery_codes", "recovery-codes", N_("Recovery codes")),
)


def _keyring(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.keyring.get()


async def vault_of(
    actor: Actor,
    account: dict[str, Any],
    settings: Settings,
    credential: dict[str, Any] | None = None,
    **state: Any,
) -> dict[str, Any] | None:
    """What the vault section shows this reader, or None when they may see nothing of it."""
    # The role table says who may know that a credential is stored; the vault service says who
    # may use it (IT, and this account's custodian and backup, whatever their role).
    may_use = allowed("credential.use", actor.role) and await services.may_reveal(actor, account)
    if not (may_use or allowed("credential.status", actor.role)):
        return None
    status = credential or await services.credential_status(
        account_id=account["id"], settings=settings, account_read=True
    )
    revealed = state.pop("revealed", None) or {}
    secrets = [
        (suffix, label, "\n".join(value) if isinstance(value, list) else value)
        for part, suffix, label in PARTS
        if (value := revealed.get(part))
    ]
    return {
        "status": status,
        "stored_parts": [label for part, _, label in PARTS if status[f"has_{part}"]],
        "stored": status["has_password"] or status["has_totp_seed"] or status["has_recovery_codes"],
        "may_use": may_use,
        "secrets": secrets,
        "fields": FIELDS,
        "hide_after": HIDE_AFTER_SECONDS,
        "reason": "",
        "totp": None,
        "error": None,
        "alert": "",
        "typed_reason": "",
        "saved": "",
        "hidden": False,
        **state,
    }


# What a vault form's post may be refused for: its input (422), or the state of the account or its
# credential (retired, replaced at the same moment, removed meanwhile).
REFUSALS = (InvalidInput, Conflict, NotFound)


def _refused(request: Request[Any, Any, Any], exc: RegisterError) -> dict[str, Any]:
    """A service's refusal as the section shows it: next to the field it names, else above the forms."""
    gettext = reader_of(request).gettext
    message = gettext(WORDS[exc.detail]) if exc.detail in WORDS else exc.said(gettext)
    if not isinstance(exc, InvalidInput):
        return {"alert": message}
    field = FIELDS.get(str(exc.extra.get("field") or ""), FIELDS["password"])
    return {"error": {"field": field, "message": message}}


def _title(request: Request[Any, Any, Any], account: dict[str, Any]) -> str:
    return reader_of(request).gettext(N_("The vault of %(handle)s")) % {"handle": account["handle"]}


def _answer(
    request: Request[Any, Any, Any], account: dict[str, Any], vault: dict[str, Any], status: int
) -> Template:
    """The vault section for htmx to swap in, or the vault page around it."""
    if is_htmx(request):
        answer = render(
            request,
            "accounts/_vault.html",
            status=status,
            title=_title(request, account),
            translate_title=False,
            account=account,
            vault=vault,
        )
        if status >= 400:
            # htmx swaps no 4xx answer by itself; failed.js swaps one that says it is the form
            # again with its error, instead of only reporting a failure at the top of the page.
            answer.headers["X-Form-Refused"] = "true"
        return answer
    return render(
        request,
        "accounts/vault.html",
        status=status,
        title=_title(request, account),
        translate_title=False,
        account=account,
        vault=vault,
    )


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(FIELDS[name])
    return value if isinstance(value, str) else ""


class VaultPages(Controller):
    """An account's credential: stored, replaced, revealed with a reason, its TOTP code."""

    path = "/accounts"
    include_in_schema = False

    @get(
        "/{account_id:int}/vault",
        opt=page("credential.use"),
        guards=[object_guard(services.check_holder)],
    )
    async def vault(
        self,
        request: Request[Any, Any, Any],
        account_id: Id,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Template:
        """The vault of one account, for IT and its custodians (where forms without script land)."""
        account = await services.get_account(account_id=account_id)
        saved = request.query_params.get("saved", "")
        vault = await vault_of(
            actor,
            account,
            settings,
            saved=saved if saved in SAVED else "",
            hidden=request.query_params.get("hidden") == "1",
        )
        assert vault is not None
        return _answer(request, account, vault, 200)

    @post(
        "/{account_id:int}/vault/credential",
        opt=page("credential.use"),
        guards=[object_guard(services.check_holder)],
        status_code=303,
    )
    async def set_credential(
        self,
        request: Request[Any, Any, Any],
        account_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[Any]:
        """Store or replace the credential with the API's service; empty fields keep what is stored."""
        account = await services.get_account(account_id=account_id)
        before = await services.credential_status(
            account_id=account_id, settings=settings, account_read=True
        )
        codes = [c.strip() for c in _text(data, "recovery_codes").splitlines() if c.strip()]
        try:
            status = await services.set_credential(
                actor=actor,
                keyring=_keyring(request),
                settings=settings,
                account_id=account_id,
                password=_text(data, "password") or None,
                totp_seed=_text(data, "totp_seed").strip() or None,
                recovery_codes=codes or None,
            )
        except REFUSALS as exc:
            # No secret typed comes back into the page: the fields are empty again, the error says
            # why (a browser's password manager still holds what it filled in).
            vault = await vault_of(actor, account, settings, **_refused(request, exc))
            assert vault is not None
            return _answer(request, account, vault, exc.status)
        saved = "rotated" if before["version"] else "set"
        if is_htmx(request):
            vault = await vault_of(actor, account, settings, status, saved=saved)
            assert vault is not None
            return _answer(request, account, vault, 200)
        return redirect(f"/accounts/{account_id}/vault?saved={saved}")

    @post(
        "/{account_id:int}/vault/reveal",
        opt=page("credential.use"),
        guards=[object_guard(services.check_reveal)],
        status_code=200,
    )
    async def reveal(
        self,
        request: Request[Any, Any, Any],
        account_id: Id,
        data: Form,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Template:
        """The credential, with the reason audited by the service; answered in the body, no-store."""
        account = await services.get_account(account_id=account_id)
        reason = _text(data, "reason")
        try:
            revealed = await services.reveal(
                actor=actor, keyring=_keyring(request), account_id=account_id, reason=reason
            )
        except REFUSALS as exc:
            # The reason is no secret: it is kept for the person to lengthen.
            vault = await vault_of(
                actor, account, settings, typed_reason=reason, **_refused(request, exc)
            )
            assert vault is not None
            return _answer(request, account, vault, exc.status)
        vault = await vault_of(actor, account, settings, revealed=revealed, reason=reason.strip())
        assert vault is not None
        answer = _answer(request, account, vault, 200)
        if not is_htmx(request):
            # Without script nothing removes it from the screen: the browser moves on instead.
            answer.headers["Refresh"] = (
                f"{HIDE_AFTER_SECONDS}; url=/accounts/{account_id}/vault?hidden=1"
            )
        return answer

    @post(
        "/{account_id:int}/vault/totp",
        opt=page("credential.use"),
        guards=[object_guard(services.check_holder)],
        status_code=200,
    )
    async def totp(
        self,
        request: Request[Any, Any, Any],
        account_id: Id,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Template:
        """The current TOTP code and the seconds it stays valid; the seed stays in the vault."""
        account = await services.get_account(account_id=account_id)
        try:
            code = await services.totp_code(
                actor=actor, keyring=_keyring(request), account_id=account_id
            )
        except REFUSALS as exc:
            vault = await vault_of(actor, account, settings, **_refused(request, exc))
            assert vault is not None
            return _answer(request, account, vault, exc.status)
        vault = await vault_of(actor, account, settings, totp=code)
        assert vault is not None
        return _answer(request, account, vault, 200)
