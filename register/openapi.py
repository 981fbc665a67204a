"""OpenAPI helpers: the problem document type and the error responses each route declares."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec

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
        code: ResponseSpec(data_container=Problem, media_type=PROBLEM_JSON, description=_DESCRIPTIONS[code], generate_examples=False)
        for code in wanted
    }


def public_problems(*codes: int) -> dict[int, ResponseSpec]:
    """Problem responses of a route that needs no sign-in."""
    return {
        code: ResponseSpec(data_container=Problem, media_type=PROBLEM_JSON, description=_DESCRIPTIONS[code], generate_examples=False)
        for code in sorted({400, *codes})
    }
