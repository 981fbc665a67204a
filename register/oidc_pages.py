"""Company sign-in's pages: off to the identity provider, and back through its callback.

Both are public (nobody is signed in yet) and answer 404 while no issuer is set. A refusal is a
page in plain words with the way to try again; the reason is in the audit trail.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get
from litestar.datastructures import Cookie
from litestar.params import QueryParameter

from register import auth, oidc
from register.access import PUBLIC
from register.errors import NotFound, RegisterError
from register.extensions import Extensions
from register.i18n import N_
from register.openapi import ActorDep, SettingsDep
from register.pages import Next, page, reader_of, redirect, render, safe_next
from register.settings import Settings

START = "/sign-in/company"
CALLBACK = "/sign-in/company/callback"
# What the provider sends back: bounded like any text parameter.
Answer = Annotated[str, QueryParameter(max_length=4000)]
# "state" is a name Litestar keeps for the app's state: the parameter is read under another.
ReturnedState = Annotated[str, QueryParameter(name="state", max_length=4000)]


def callback_uri(request: Request[Any, Any, Any], settings: Settings) -> str:
    """The redirect URI registered at the provider: on the public address when one is set."""
    base = settings.public_url or str(request.base_url).rstrip("/")
    return base + CALLBACK


def _pending_cookie(value: str, *, secure: bool, max_age: int) -> Cookie:
    # Lax: the provider sends the browser back with a top-level GET, which carries it.
    return Cookie(
        key=oidc.PENDING_COOKIE,
        value=value,
        httponly=True,
        samesite="lax",
        secure=secure,
        max_age=max_age,
        path=START,
    )


def _enabled(settings: Settings) -> None:
    if not settings.oidc_enabled:
        raise NotFound(N_("sign-in with a company account is not set up"))


class OidcPages(Controller):
    """Sign in with the company's identity provider."""

    include_in_schema = False

    @get(START, opt=page(PUBLIC))
    async def start(
        self, request: Request[Any, Any, Any], settings: SettingsDep, next: Next = "/"
    ) -> Response[Any]:
        """Send the browser to the provider with a new state, nonce and PKCE challenge."""
        _enabled(settings)
        try:
            started = await oidc.start(
                settings=settings,
                secret_key=request.app.state.secrets.secret_key,
                redirect_uri=callback_uri(request, settings),
                next_path=safe_next(next),
            )
        except RegisterError as exc:
            return _refused(request, exc)
        cookie = _pending_cookie(
            started.pending,
            secure=request.url.scheme == "https",
            max_age=oidc.PENDING_SECONDS,
        )
        return Response(
            content=b"",
            status_code=303,
            headers={"Location": started.url, "Cache-Control": "no-store"},
            cookies=[cookie],
        )

    @get(CALLBACK, opt=page(PUBLIC))
    async def callback(
        self,
        request: Request[Any, Any, Any],
        actor: ActorDep,
        settings: SettingsDep,
        code: Answer = "",
        returned_state: ReturnedState = "",
        error: Answer = "",
        iss: Answer = "",
    ) -> Response[Any]:
        """Check what the provider sent back, sign the person in, and go where they were going."""
        _enabled(settings)
        secure = request.url.scheme == "https"
        try:
            signed_in = await oidc.finish(
                settings=settings,
                secret_key=request.app.state.secrets.secret_key,
                actor=actor,
                pending_cookie=request.cookies.get(oidc.PENDING_COOKIE),
                state=returned_state,
                code=code,
                error=error,
                issuer=iss,
            )
        except RegisterError as exc:
            return _refused(request, exc)
        cookies = [
            *auth.session_cookies(
                signed_in.session, secure=secure, max_age=settings.session_hours * 3600
            ),
            _pending_cookie("", secure=secure, max_age=0),
        ]
        return redirect(safe_next(signed_in.next), cookies=cookies)


def _refused(request: Request[Any, Any, Any], exc: RegisterError) -> Response[Any]:
    """The refusal as a page, the pending flow's cookie gone (a new try starts afresh)."""
    if exc.status >= 500 and exc.status != 503:
        raise exc
    response = render(
        request,
        "sign_in_refused.html",
        status=exc.status,
        title=N_("You could not be signed in"),
        reason=exc.said(reader_of(request).gettext),
        again=f"{START}?next={quote('/', safe='/')}",
    )
    response.cookies.append(_pending_cookie("", secure=request.url.scheme == "https", max_age=0))
    return response


def _bind(app: Any) -> None:
    """The page CSP lets the sign-out form's redirect reach the provider's end-session page."""
    origin = oidc.form_action_origin(app.state.settings)
    app.state.form_action = origin


def install(ext: Extensions) -> list[type[Controller]]:
    """The controller, and the page CSP's provider origin set when the app is bound."""
    if _bind not in ext.on_bind:
        ext.on_bind.append(_bind)
    return [OidcPages]


__all__ = ["CALLBACK", "START", "OidcPages", "callback_uri", "install"]
