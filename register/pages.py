"""Web pages: what every page stands on, and the core's own (sign-in, password, home).

A page is a route with `opt={"action": ..., "page": True}`: the same role table guards it as the
API (a page that shows a thing needs the action that reads it, a form the action that changes it),
it renders a Jinja2 template from its part's `templates/` folder, and a form post calls the same
service the API calls and answers with a redirect (Post/Redirect/Get). Errors on a page are pages
too: not signed in sends the reader to sign-in and back, a one-time password to the change form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from register import auth, errors, oidc, services
from register.access import PUBLIC, SIGNED_IN, allowed
from register.actor import Actor
from register.errors import PasswordChangeRequired, RegisterError
from register.extensions import extensions
from register.i18n import N_, Reader, negotiate
from register.openapi import ActorDep, SettingsDep
from register.settings import Settings

CORE_TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
STATIC_PATH = "/static"
SIGN_IN = "/sign-in"
PASSWORD = "/password"
# A form body: the fields as the browser sent them (Litestar parses urlencoded and multipart).
Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
# A filter's chosen id: empty when a select's "any" is chosen (an int parameter would refuse it).
FilterId = Annotated[str, QueryParameter(max_length=9, pattern="^[0-9]*$")]
# Where to go after sign-in: checked by safe_next, bounded like any text parameter.
Next = Annotated[str, QueryParameter(max_length=2000)]


@dataclass(frozen=True)
class NavLink:
    """An entry of the menu, shown to the roles that may take its action."""

    label: str
    path: str
    action: str
    # Where it stands: the day's work first (10-49), then oversight (50-79), administration
    # (80-98), and the reader's own settings last.
    order: int = 50


def page(action: str, **opt: Any) -> dict[str, Any]:
    """The `opt` of a page route: its action in the role table, marked as a page."""
    return {"action": action, "page": True, **opt}


def template_config(directories: Iterable[Path]) -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja2 over the core's templates and every part's, with gettext for `_()` and `{% trans %}`."""
    environment = Environment(
        loader=FileSystemLoader([CORE_TEMPLATES, *directories]),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        # A name a template uses but the page did not give is an error in the tests, not a blank.
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["query"] = query_of
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def static_router() -> Any:
    """/static: htmx and the stylesheet, served by the register itself (no CDN)."""
    return create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC],
        opt={"action": PUBLIC},
        include_in_schema=False,
        # Vendored files change only with a release; the stylesheet's name carries no hash.
        cache_control=None,
    )


def reader_of(request: Request[Any, Any, Any]) -> Reader:
    """The reader of this request: their language and time zone."""
    user = request.scope.get("page_user") or {}
    return Reader(
        language=negotiate(user.get("language"), request.headers.get("accept-language")),
        time_zone=user.get("time_zone") or "UTC",
    )


def csrf_token_of(request: Request[Any, Any, Any]) -> str:
    """The session's CSRF token, for forms and htmx's header ('' when not signed in)."""
    return str(request.scope.get("auth_session", {}).get("csrf_token", ""))


# The core's own entries: the audit trail, and each reader's own settings.
CORE_LINKS = (
    NavLink(N_("Audit trail"), "/audit", "audit.read", order=70),
    NavLink(N_("Settings"), "/settings", SIGNED_IN, order=99),
)


def menu(actor: Actor) -> list[NavLink]:
    """The menu entries this reader's role may open."""
    extensions.load()
    links = [NavLink(N_("Home"), "/", SIGNED_IN, order=0), *extensions.nav_links, *CORE_LINKS]
    ordered = sorted(links, key=lambda link: link.order)
    return [link for link in ordered if actor.role is not None and allowed(link.action, actor.role)]


def render(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status: int = 200,
    title: str,
    translate_title: bool = True,
    **context: Any,
) -> Template:
    """A page: the template with the reader's language, the menu and the CSRF token."""
    actor: Actor = request.scope.get("user") or Actor.anonymous()
    reader = reader_of(request)
    return Template(
        template_name=template,
        status_code=status,
        context={
            **reader.context(),
            # A thing's own name (an account's handle) is its title as it is.
            "title": reader.gettext(title) if translate_title else title,
            "actor": actor,
            "menu": menu(actor),
            "path": request.url.path,
            "csrf_token": csrf_token_of(request),
            # Which actions this reader may take (a page offers only those), and the query string.
            "may": lambda action: allowed(action, actor.role),
            "query": request.query_params,
            **context,
        },
        headers={"Cache-Control": "no-store"},
    )


def chosen_id(value: str) -> int | None:
    """A FilterId as a number, None when nothing is chosen."""
    return int(value) if value and int(value) > 0 else None


def query_of(filters: Mapping[str, Any]) -> str:
    """A pager's query: the filters that are set (an empty id would be refused)."""
    return urlencode({k: v for k, v in filters.items() if v not in ("", None)})


def redirect(path: str, **cookies: Any) -> Redirect:
    """See Other: after a form post, or to sign-in."""
    return Redirect(path=path, status_code=303, **cookies)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only, never another host."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    # Browsers read a backslash as a slash: "/\\evil.example" would leave the site.
    if "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    return target


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    """Whether htmx asked (for a part of the page, not a whole one)."""
    return request.headers.get("hx-request") == "true"


def is_page_request(request: Request[Any, Any, Any]) -> bool:
    """Whether the answer should be a page (a page route, or a browser asking for HTML off the API)."""
    handler = request.scope.get("route_handler")
    if handler is not None:
        return bool((handler.opt or {}).get("page"))
    path = request.url.path
    return not path.startswith(("/api/", "/schema")) and "text/html" in request.headers.get(
        "accept", ""
    )


def page_error(
    request: Request[Any, Any, Any],
    exc: BaseException | None,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
) -> Response[Any]:
    """An error on a page as a page: sign-in or the password form where that is the way on."""
    status = int(body["status"])
    if status == 401:
        return _way_on(request, SIGN_IN, status)
    if isinstance(exc, PasswordChangeRequired):
        return _way_on(request, PASSWORD, status)
    if isinstance(exc, RegisterError) and status < 500:
        # The service's refusal in the reader's words (the API's body keeps the English).
        body = {**body, "detail": exc.said(reader_of(request).gettext)}
    return render(
        request,
        "error.html",
        status=status,
        title=str(body.get("title") or N_("Error")),
        problem=body,
    )


def _way_on(request: Request[Any, Any, Any], target: str, status: int) -> Response[Any]:
    """To sign-in or the password form, and back afterwards to the page the person was on."""
    if not is_htmx(request):
        return redirect(f"{target}?next={quote(request.url.path + _query(request), safe='/')}")
    # A fragment (a picker's matches, a vault answer) must not become the sign-in page inside
    # the page: htmx is told to leave the whole page, and to come back to it, not the fragment.
    current = urlsplit(request.headers.get("hx-current-url", ""))
    here = safe_next(current.path + (f"?{current.query}" if current.query else ""))
    return Response(
        content=b"",
        status_code=status,
        headers={"HX-Redirect": f"{target}?next={quote(here, safe='/')}"},
    )


def _query(request: Request[Any, Any, Any]) -> str:
    query = request.url.query
    return f"?{query}" if query else ""


def _sign_in_choices(
    request: Request[Any, Any, Any], *, break_glass: bool = False
) -> dict[str, Any]:
    """What the sign-in page offers: the company's sign-in, and the password form unless off."""
    settings = request.app.state.settings
    passwords_off = settings.password_sign_in != "on"
    return {
        "company": settings.oidc_button_label,
        "company_named": bool(settings.oidc_button_label),
        "oidc": settings.oidc_enabled,
        # With passwords off, the form is shown only to whoever asks for the break-glass way in.
        "password_form": not passwords_off or break_glass or "break-glass" in request.query_params,
        "passwords_off": passwords_off,
    }


class CorePages(Controller):
    """Signing in and out, the password change, and the home page."""

    include_in_schema = False

    @get(SIGN_IN, opt=page(PUBLIC))
    async def sign_in_form(self, request: Request[Any, Any, Any], next: Next = "/") -> Template:
        """The sign-in form (paste and password managers welcome), and the company's sign-in."""
        return render(
            request,
            "sign_in.html",
            title=N_("Sign in"),
            next=safe_next(next),
            error="",
            **_sign_in_choices(request),
        )

    @post(SIGN_IN, opt=page(PUBLIC), status_code=303)
    async def sign_in(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep, settings: SettingsDep
    ) -> Response[Any]:
        """Sign in with the same service as the API; a one-time password goes to the change form."""
        target = safe_next(data.get("next"))
        email = str(data.get("email") or "").strip()
        try:
            session = await auth.sign_in(
                settings=settings,
                actor=actor,
                email=email,
                password=str(data.get("password") or ""),
            )
        except RegisterError as exc:
            if exc.status not in (401, 422, 429):
                raise
            return render(
                request,
                "sign_in.html",
                status=exc.status,
                title=N_("Sign in"),
                next=target,
                email=email,
                error=exc.status,
                **_sign_in_choices(request, break_glass=True),
            )
        user = await services.get_user(user_id=session.user["id"])
        cookies = auth.session_cookies(
            session,
            secure=request.url.scheme == "https",
            max_age=settings.session_hours * 3600,
        )
        if user["must_change_password"]:
            return redirect(f"{PASSWORD}?next={quote(target, safe='/')}", cookies=cookies)
        return redirect(target, cookies=cookies)

    @post("/sign-out", opt=page("auth.logout"), status_code=303)
    async def sign_out(
        self, request: Request[Any, Any, Any], actor: ActorDep, settings: SettingsDep
    ) -> Response[Any]:
        """End this browser session, and the company's sign-in's where it offers that."""
        session_id = request.scope.get("auth", {}).get("session_id")
        base = settings.public_url or str(request.base_url).rstrip("/")
        # Read before the session ends: its ID token is the hint the provider asks for.
        provider_end = await oidc.end_session_url(
            settings=settings, session_id=session_id, post_logout_redirect_uri=base + SIGN_IN
        )
        await auth.sign_out(actor=actor, session_id=session_id)
        return redirect(provider_end or SIGN_IN, cookies=auth.cleared_cookies())

    @get(PASSWORD, opt=page("auth.password"))
    async def password_form(self, request: Request[Any, Any, Any], next: Next = "/") -> Template:
        """Change your password; a one-time password must be changed before anything else."""
        return render(
            request,
            "password.html",
            title=N_("Change your password"),
            next=safe_next(next),
            error=None,
        )

    @post(PASSWORD, opt=page("auth.password"), status_code=303)
    async def change_password(
        self, request: Request[Any, Any, Any], data: Form, actor: ActorDep
    ) -> Response[Any]:
        """The same change as the API's; other sessions end, this one goes on."""
        target = safe_next(data.get("next"))
        new = str(data.get("new_password") or "")
        if new != str(data.get("repeat_password") or ""):
            return render(
                request,
                "password.html",
                status=422,
                title=N_("Change your password"),
                next=target,
                error={
                    "field": "repeat_password",
                    "message": reader_of(request).gettext(N_("The two new passwords differ.")),
                },
            )
        try:
            await auth.change_password(
                actor=actor,
                current=str(data.get("current_password") or ""),
                new=new,
                session_id=request.scope.get("auth", {}).get("session_id"),
            )
        except RegisterError as exc:
            if exc.status != 422:
                raise
            field = exc.extra.get("field") or "new_password"
            return render(
                request,
                "password.html",
                status=422,
                title=N_("Change your password"),
                next=target,
                error={"field": field, "message": exc.said(reader_of(request).gettext)},
            )
        return redirect(target)

    @get("/", opt=page(SIGNED_IN))
    async def home(
        self, request: Request[Any, Any, Any], actor: ActorDep, settings: SettingsDep
    ) -> Template:
        """What needs this person now, gathered from every part."""
        return await home_page(request, actor, settings)


async def home_page(
    request: Request[Any, Any, Any],
    actor: Actor,
    settings: Settings,
    *,
    status: int = 200,
    **extra: Any,
) -> Template:
    """The home page (again, with a form's errors when one posted from it was refused)."""
    extensions.load()
    sections = []
    for source in extensions.home_sections:
        sections.extend(await source(actor, settings))
    return render(request, "home.html", status=status, title=N_("Home"), sections=sections, **extra)


def install() -> None:
    """Let the error handlers answer page routes with pages."""
    errors.page_answer = (is_page_request, page_error)
