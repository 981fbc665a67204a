"""How every part declares its operations: parameters, dependencies, problems, idempotency; the docs pages."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Request, Router
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import RedocRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Operation, Parameter, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.params import PathParameter, QueryParameter
from litestar.static_files import create_static_files_router
from msgspec import UNSET, structs

from register.access import PUBLIC
from register.actor import Actor
from register.errors import PROBLEM_JSON
from register.queries import MAX_LIMIT
from register.settings import Settings

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Page size (1-200).")]
Offset = Annotated[int, QueryParameter(ge=0, le=10**9, description="Rows to skip.")]
Id = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
QueryId = Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)]


# No control characters (C0, DEL, C1) in a text parameter: PostgreSQL text cannot hold NUL, a
# NUL cut SQLite's full-text query short (a 500), and a CR/LF has no business in a search. Refusing
# them here names the parameter in the 422. The lookahead, not `$`, ends the value: Python's `$`
# also matches before a final newline.
NO_CONTROL = "^[^\\x00-\\x1f\\x7f-\\x9f]*(?![\\s\\S])"
# The name the declarations used before control characters other than NUL were refused.
NO_NUL = NO_CONTROL


def Text(limit: int, description: str | None = None) -> Any:
    """An optional free-text query parameter of bounded length, without control characters."""
    return Annotated[
        str | None, QueryParameter(max_length=limit, pattern=NO_CONTROL, description=description)
    ]


def Texts(limit: int, items: int, description: str | None = None) -> Any:
    """An optional repeated free-text query parameter (`?email=a&email=b`), each like Text()."""
    return Annotated[
        list[Annotated[str, msgspec.Meta(max_length=limit, pattern=NO_CONTROL)]] | None,
        QueryParameter(
            max_items=items,
            description=description,
            # Litestar documents the list, not its items' constraints; say them here.
            schema_extra={"items": {"type": "string", "maxLength": limit, "pattern": NO_CONTROL}},
        ),
    ]


ActorDep = NamedDependency[Actor]
SettingsDep = NamedDependency[Settings]
# Answers holding a secret (a revealed credential, evidence) are never kept by any cache.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def changes_in(data: Any) -> dict[str, Any]:
    """The fields an update body sends, without its version."""
    return {k: v for k, v in structs.asdict(data).items() if v is not UNSET and k != "version"}


class FieldError(msgspec.Struct):
    """One field that was wrong."""

    field: str | None
    message: str | None


class Problem(msgspec.Struct):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    field: str | None = None
    errors: list[Any] | None = None


# The import handler reads its multipart form as a plain dict; this is the form it expects.
IMPORT_FORM: dict[str, Any] = {
    "properties": {
        "file": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.BINARY,
            description="The CSV export (UTF-8, UTF-16 with BOM or Windows-1252).",
        ),
        "mapping": Schema(
            type=OpenAPIType.STRING,
            description='JSON object of your header -> field, e.g. {"E-mail": "work_email"}.',
        ),
        "date_order": Schema(
            type=OpenAPIType.STRING,
            enum=["DMY", "MDY"],
            description="How to read slashed dates such as 03/04/2024.",
        ),
    },
    "required": ["file"],
}

IDEMPOTENCY_KEY = Parameter(
    name="Idempotency-Key",
    param_in="header",
    required=False,
    schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=200),
    description="Send the same key with the same body to get the first answer again instead of a second change; "
    "a different body gets 422, a request still in progress 409. An answer that held a secret shown once "
    "is not replayed: 409 secret-shown-once, with the answer without the secret. A change made whose "
    "answer was lost (the server stopped before keeping it) is not made again: 409 "
    "idempotency-answer-lost, whose `changes` name what was recorded.",
)


@dataclass
class Idempotent(Operation):
    """An operation that honours the Idempotency-Key header (register.http.IdempotencyMiddleware)."""

    def __post_init__(self) -> None:
        # The middleware reads the header before the handler runs, so no handler declares it.
        self.parameters = [*(self.parameters or []), IDEMPOTENCY_KEY]


@dataclass
class Public(Operation):
    """An operation open without sign-in: its document says `security: []`."""

    def __post_init__(self) -> None:
        # Litestar drops an empty security list (the route's `security=[]` renders as nothing),
        # and the document's default then says the operation needs a token or a session.
        self.security = []


_DESCRIPTIONS = {
    400: "The request could not be parsed",
    401: "Not signed in, or the token or session is no longer valid",
    403: "The caller's role may not do this, or the CSRF token is missing",
    404: "No such object",
    409: "Stale version or conflicting state",
    413: "Request body too large",
    422: "A field is invalid; `field` names it",
    429: "Too many failed attempts; see Retry-After",
    503: "Not ready",
}


def _problem_responses(codes: set[int]) -> dict[int, ResponseSpec]:
    return {
        code: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=_DESCRIPTIONS[code],
            generate_examples=False,
        )
        for code in sorted(codes)
    }


def problems(*codes: int) -> dict[int, ResponseSpec]:
    """Problem responses for the given status codes (401, 403 and 422 are always included)."""
    return _problem_responses({400, 401, 403, 422, *codes})


def no_content(description: str) -> dict[int, ResponseSpec]:
    """A 204 answer documented without a body (Litestar would declare `Response[None]` as JSON null)."""
    return {204: ResponseSpec(data_container=None, description=description)}


def public_problems(*codes: int) -> dict[int, ResponseSpec]:
    """Problem responses of a route that needs no sign-in."""
    return _problem_responses({400, *codes})


DOCS_PATH = "/schema"
DOCS_ASSETS_PATH = DOCS_PATH + "/assets"
# Swagger UI and ReDoc, vendored (versions, licences and SHA-256 in VENDORED.json there).
DOCS_ASSETS = Path(__file__).parent / "static" / "docs"
# The pages load scripts from this origin only; both viewers set inline styles, and ReDoc runs
# its search in a worker it creates from a blob.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def docs_assets_router() -> Router:
    """Serves the documentation pages' scripts, styles and licences, without sign-in."""
    return create_static_files_router(
        path=DOCS_ASSETS_PATH,
        directories=[DOCS_ASSETS],
        name="docs-assets",
        opt={"action": PUBLIC},
        include_in_schema=False,
    )


def _docs_page(title: str, head: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        f'<link rel="icon" type="image/png" href="{DOCS_ASSETS_PATH}/swagger-ui/favicon-32x32.png">'
        f"{head}</head><body>{body}</body></html>"
    ).encode()


class LocalSwagger(SwaggerRenderPlugin):
    """Swagger UI from the register's own copy, started by a script file: no CDN, no inline script."""

    def __init__(self, path: str = "/swagger") -> None:
        super().__init__(
            js_url=f"{DOCS_ASSETS_PATH}/swagger-ui/swagger-ui-bundle.js",
            css_url=f"{DOCS_ASSETS_PATH}/swagger-ui/swagger-ui.css",
            path=path,
        )

    def receive_router(self, router: Router) -> None:
        """No OAuth2 redirect page: the register signs in with tokens and sessions, not OAuth2."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The page; the viewer fetches the document from the register's openapi.json."""
        spec_url = html.escape(self.get_openapi_json_route(request))
        return _docs_page(
            openapi_schema["info"]["title"],
            f'<link rel="stylesheet" href="{self.css_url}">',
            f'<div id="swagger-ui" data-spec-url="{spec_url}"></div>'
            f'<script src="{self.js_url}"></script>'
            f'<script src="{DOCS_ASSETS_PATH}/swagger-init.js"></script>',
        )


class LocalRedoc(RedocRenderPlugin):
    """ReDoc from the register's own copy, without its web fonts: no CDN, no inline script."""

    def __init__(self, path: str = "/redoc") -> None:
        super().__init__(
            js_url=f"{DOCS_ASSETS_PATH}/redoc/redoc.standalone.js", google_fonts=False, path=path
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The page; ReDoc starts itself on the <redoc spec-url> element."""
        spec_url = html.escape(self.get_openapi_json_route(request))
        return _docs_page(
            openapi_schema["info"]["title"],
            "",
            f'<redoc spec-url="{spec_url}"></redoc><script src="{self.js_url}"></script>',
        )
