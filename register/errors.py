"""Domain errors, and the one handler that maps them to RFC 9457 problem+json.

    RegisterError                  500  internal
    ├── InvalidInput               422  invalid-input       (names the field)
    ├── NotAuthenticated           401  not-authenticated
    ├── PermissionDenied           403  forbidden
    │   └── PasswordChangeRequired 403  forbidden           (a page sends it to the password form)
    ├── NotFound                   404  not-found
    ├── Conflict                   409  conflict
    │   ├── StaleVersion           409  stale-version
    │   └── AlreadyExists          409  already-exists
    ├── TooManyAttempts            429  too-many-attempts   (Retry-After)
    └── NotReady                   503  not-ready

A value the database driver refuses (NUL in text, an integer beyond its column) is answered
422 invalid-input by `handle_unexpected` rather than 500 (the schemas should refuse it first).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException

from register.i18n import N_, said_params

log = logging.getLogger("register.errors")

PROBLEM_BASE = "https://social-asset-register.dev/problems/"
PROBLEM_JSON = "application/problem+json"


def english(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params as the API says them: a nested refusal by its English detail, a word as it is."""
    return {
        k: (getattr(v, "detail", None) or str(v)) if isinstance(v, Exception) else v
        for k, v in params.items()
    }


class RegisterError(Exception):
    """Base of every error the register raises on purpose."""

    status = 500
    type = "internal"
    title = N_("Internal server error")

    def __init__(
        self, detail: str | None = None, *, params: Mapping[str, Any] | None = None, **extra: Any
    ) -> None:
        # With params, detail is a catalogue message ("%(host)s ..."): the API answers it filled
        # in, in English; a page translates the message first (see `message` and `params`).
        self.message = detail or self.title
        self.params = dict(params or {})
        self.detail = self.message % english(self.params) if self.params else self.message
        super().__init__(self.detail)
        self.extra = extra

    def said(self, gettext: Callable[[str], str], words: Mapping[str, Any] | None = None) -> str:
        """The detail in a reader's language: a catalogue message translated, then filled in."""
        if not self.params:
            return gettext(self.detail)
        return gettext(self.message) % said_params(self.params, gettext, words)

    def said_errors(
        self, gettext: Callable[[str], str], words: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The `errors` listed in the problem, each in a reader's language (see InvalidInput's parts)."""
        parts: dict[int, Any] = getattr(self, "parts", {})
        return [
            {**item, "message": parts[i].said(gettext, words)} if i in parts else dict(item)
            for i, item in enumerate(self.extra.get("errors") or [])
        ]

    def problem(self) -> dict[str, Any]:
        """The problem document for this error."""
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


class InvalidInput(RegisterError):
    """A field of the request is wrong; `field` names it."""

    status = 422
    type = "invalid-input"
    title = N_("Invalid input")

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        params: Mapping[str, Any] | None = None,
        parts: Mapping[int, Any] | None = None,
        **extra: Any,
    ) -> None:
        # parts: the refusal behind an item of `errors` (by its index), for a page to say it in
        # the reader's language; the API answers the items' English messages.
        self.parts = dict(parts or {})
        filled = detail % english(params) if params else detail
        errors = extra.pop("errors", None) or (
            [{"field": field, "message": filled}] if field else []
        )
        super().__init__(
            detail, params=params, **({"field": field} if field else {}), errors=errors, **extra
        )


class InvalidValue(ValueError):
    """A parser's refusal of a value, as a catalogue message with params; its caller names the field."""

    def __init__(self, message: str, *, params: Mapping[str, Any] | None = None) -> None:
        self.message = message
        self.params = dict(params or {})
        super().__init__(message % english(self.params) if self.params else message)

    def said(self, gettext: Callable[[str], str], words: Mapping[str, Any] | None = None) -> str:
        """The refusal in a reader's language."""
        if not self.params:
            return gettext(self.message)
        return gettext(self.message) % said_params(self.params, gettext, words)

    def refusal(self, field: str) -> InvalidInput:
        """The refusal of the field that held the value (422 for the API, said in a page's words)."""
        return InvalidInput(self.message, field=field, params=self.params)


class NotAuthenticated(RegisterError):
    """No valid session or token."""

    status = 401
    type = "not-authenticated"
    title = N_("Not authenticated")


class PermissionDenied(RegisterError):
    """The caller's role may not do this."""

    status = 403
    type = "forbidden"
    title = N_("Forbidden")


class PasswordChangeRequired(PermissionDenied):
    """A session signed in with a one-time password may do nothing else until it is changed."""


class NotFound(RegisterError):
    """The object does not exist (or is not visible to the caller)."""

    status = 404
    type = "not-found"
    title = N_("Not found")


class Conflict(RegisterError):
    """The request conflicts with the current state."""

    status = 409
    type = "conflict"
    title = N_("Conflict")


class StaleVersion(Conflict):
    """The version the caller read is no longer current."""

    type = "stale-version"
    title = N_("Stale version")


class AlreadyExists(Conflict):
    """A unique value is already taken."""

    type = "already-exists"
    title = N_("Already exists")


class TooManyAttempts(RegisterError):
    """Too many failed attempts; retry after `retry_after` seconds."""

    status = 429
    type = "too-many-attempts"
    title = N_("Too many attempts")

    def __init__(
        self, detail: str, *, retry_after: int, params: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(detail, params=params, retry_after=retry_after)
        self.retry_after = retry_after


class NotReady(RegisterError):
    """The service cannot serve yet (database unreachable, migrations pending)."""

    status = 503
    type = "not-ready"
    title = N_("Not ready")


# Set by register.pages: (is this request a page's, answer it as a page). The core's handlers stay
# here and know nothing of templates.
page_answer: tuple[Callable[..., bool], Callable[..., Response[Any]]] | None = None


def answer(
    request: Request[Any, Any, Any],
    exc: BaseException | None,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    """The problem as a document for the API, or as a page for a page route."""
    if page_answer is not None and page_answer[0](request):
        return page_answer[1](request, exc, body, headers or {})
    return problem_response(body, headers)


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    """A problem+json response."""
    return Response(
        content=body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers or {}
    )


def handle_register_error(request: Request[Any, Any, Any], exc: RegisterError) -> Response[Any]:
    """Map a domain error to its problem document."""
    body = exc.problem()
    body["instance"] = request.url.path
    headers = {}
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="register"'
    # Only internal errors are hidden and logged; a planned 503 (not ready) says what to do.
    if exc.status == 500:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        body = {k: body[k] for k in ("type", "title", "status", "instance")}
        body["detail"] = "The server could not complete the request; it has been logged."
    return answer(request, exc, body, headers)


def _field_of(request: Request[Any, Any, Any], key: str | None) -> str | None:
    """The name the caller used for a parameter (its query or header alias, not the Python name)."""
    if not key:
        return None
    try:
        field = request.route_handler.parsed_fn_signature.parameters.get(key)
    except Exception:
        return key
    kwarg = getattr(field, "kwarg_definition", None)
    return getattr(kwarg, "name", None) or key


_BODY_FIELD = re.compile(r"(?:required|unknown) field `([^`]+)`|- at `\$\.?([^`]*)`")


def _body_field(message: str | None) -> str | None:
    """The body field msgspec names in its message (missing, unknown, or `- at $.path`)."""
    match = _BODY_FIELD.search(message or "")
    if not match:
        return None
    return (match.group(1) or match.group(2) or "").removeprefix("data.") or None


def handle_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar's request validation, reworded as problem+json naming each field."""
    errors = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            key = item.get("key")
            message = item.get("message")
            # A body error comes keyed as "data"; the field is in msgspec's message.
            field = (
                (_body_field(message) or key) if key in ("data", None) else _field_of(request, key)
            )
            errors.append({"field": field, "message": message})
    first = errors[0] if errors else {"field": None, "message": exc.detail}
    detail = (
        f"{first['field']}: {first['message']}" if first.get("field") else str(first["message"])
    )
    body = {
        "type": PROBLEM_BASE + "invalid-input",
        "title": N_("Invalid input"),
        "status": 400 if exc.status_code == 400 else 422,
        "detail": detail,
        "field": first.get("field"),
        "errors": errors,
        "instance": request.url.path,
    }
    # Litestar uses 400 for malformed input; the register answers 422 for any field error it can
    # name and 400 only for a body it cannot parse at all.
    if errors and any(e["field"] for e in errors):
        body["status"] = 422
    return answer(request, exc, body)


_HTTP_TYPES = {
    400: ("bad-request", N_("Bad request")),
    401: ("not-authenticated", N_("Not authenticated")),
    403: ("forbidden", N_("Forbidden")),
    404: ("not-found", N_("Not found")),
    405: ("method-not-allowed", N_("Method not allowed")),
    413: ("too-large", N_("Request body too large")),
    415: ("unsupported-media-type", N_("Unsupported media type")),
    429: ("too-many-attempts", N_("Too many requests")),
}


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's own HTTP errors (404 route, 405, 413...) as problem+json."""
    if isinstance(exc, ValidationException):
        return handle_validation(request, exc)
    status = exc.status_code
    if status >= 500:
        return handle_unexpected(request, exc)
    kind, title = _HTTP_TYPES.get(status, ("http-error", "HTTP error"))
    body = {
        "type": PROBLEM_BASE + kind,
        "title": title,
        "status": status,
        "detail": exc.detail if isinstance(exc.detail, str) else title,
        "instance": request.url.path,
    }
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="register"')
    return answer(request, exc, body, headers)


def _refused_by_database(exc: Exception) -> bool:
    """Whether the database driver refused a value the request carried (NUL in text, a huge integer)."""
    if isinstance(exc, OverflowError):
        # sqlite3 cannot bind an integer beyond 64 bits.
        return True
    try:
        from asyncpg import exceptions as pg
    except ImportError:
        return False
    if isinstance(exc, pg.CharacterNotInRepertoireError | pg.UntranslatableCharacterError):
        # PostgreSQL text cannot hold NUL.
        return True
    # asyncpg could not encode an argument because the integer exceeds the column's type. Other
    # data exceptions (a value longer than its column, say) stay 500: the schema is wrong there.
    return isinstance(exc, pg.DataError) and isinstance(exc.__cause__, OverflowError)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything unplanned: log it whole, answer 500 with nothing internal (422 for a refused value)."""
    if _refused_by_database(exc):
        # A value the schema let through but the database cannot hold is the caller's to fix;
        # the schemas should refuse it first and name the field, so this is logged to be found.
        log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc)
        return answer(
            request,
            exc,
            {
                "type": PROBLEM_BASE + "invalid-input",
                "title": N_("Invalid input"),
                "status": 422,
                "detail": "a value is out of range or holds a character the database cannot store",
                "errors": [],
                "instance": request.url.path,
            },
        )
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return answer(
        request,
        None,
        {
            "type": PROBLEM_BASE + "internal",
            "title": N_("Internal server error"),
            "status": 500,
            "detail": "The server could not complete the request; it has been logged.",
            "instance": request.url.path,
        },
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    RegisterError: handle_register_error,
    HTTPException: handle_http,
    Exception: handle_unexpected,
}
