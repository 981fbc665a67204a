"""OpenAPI helpers: the problem document type and the error responses each route declares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Operation, Parameter, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType

from register.errors import PROBLEM_JSON


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
    "is not replayed: 409 secret-shown-once, with the answer without the secret.",
)


@dataclass
class Idempotent(Operation):
    """An operation that honours the Idempotency-Key header (register.http.IdempotencyMiddleware)."""

    def __post_init__(self) -> None:
        # The middleware reads the header before the handler runs, so no handler declares it.
        self.parameters = [*(self.parameters or []), IDEMPOTENCY_KEY]


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


def problems(*codes: int) -> dict[int, ResponseSpec]:
    """Problem responses for the given status codes (401, 403 and 422 are always included)."""
    wanted = sorted({400, 401, 403, 422, *codes})
    return {
        code: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=_DESCRIPTIONS[code],
            generate_examples=False,
        )
        for code in wanted
    }


def no_content(description: str) -> dict[int, ResponseSpec]:
    """A 204 answer documented without a body (Litestar would declare `Response[None]` as JSON null)."""
    return {204: ResponseSpec(data_container=None, description=description)}


def public_problems(*codes: int) -> dict[int, ResponseSpec]:
    """Problem responses of a route that needs no sign-in."""
    return {
        code: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=_DESCRIPTIONS[code],
            generate_examples=False,
        )
        for code in sorted({400, *codes})
    }
