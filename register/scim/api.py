"""SCIM 2.0 at /scim/v2: Users, Groups and discovery, behind the provider's own bearer token.

Every answer is application/scim+json and every refusal SCIM's error (RFC 7644 section 3.12).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from litestar import Controller, Request, Response, Router, delete, get, patch, post, put, route
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, HeaderParameter, PathParameter, QueryParameter

from register.access import PUBLIC, SCIM, action_of
from register.errors import (
    AlreadyExists,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    RegisterError,
    StaleVersion,
    _body_field,
    _field_of,
)
from register.i18n import N_
from register.openapi import NO_CONTROL, ActorDep, SettingsDep
from register.scim import flows, services
from register.scim.schemas import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE,
    ERROR,
    SCIM_JSON,
    ScimDocument,
    ScimError,
    ScimListResponse,
    ScimResource,
)

log = logging.getLogger("register.scim")
SCIM_PATH = "/scim/v2"
# What the staff directory's refusals name, as SCIM names the attribute they came from.
ATTRIBUTES = {
    "work_email": "emails",
    "name": "name",
    "department": f"{ENTERPRISE}:department",
    "job_title": "title",
    "manager_id": "manager",
    "leaving_date": "active",
    "status": "active",
}


def base_of(request: Request[Any, Any, Any]) -> str:
    """The absolute URL of /scim/v2 as the caller reached it (meta.location, $ref)."""
    return str(request.base_url).rstrip("/") + SCIM_PATH


def scim_response(
    content: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response[Any]:
    """A SCIM document; a resource's version goes out as its ETag too."""
    headers = dict(headers or {})
    version = (content.get("meta") or {}).get("version")
    if version:
        headers["ETag"] = version
    return Response(content=content, status_code=status, media_type=SCIM_JSON, headers=headers)


def scim_error(
    status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None
) -> Response[Any]:
    """SCIM's error document."""
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return Response(content=body, status_code=status, media_type=SCIM_JSON, headers=headers or {})


def handle_register_error(request: Request[Any, Any, Any], exc: RegisterError) -> Response[Any]:
    """A domain error as SCIM's error: 400 naming the attribute, 404, 409 uniqueness, 412..."""
    if isinstance(exc, InvalidInput):
        attribute = ATTRIBUTES.get(exc.extra.get("field") or "", exc.extra.get("field"))
        detail = exc.detail
        if attribute and attribute not in detail:
            detail = f"{attribute}: {detail}"
        return scim_error(400, detail, exc.extra.get("scim_type", "invalidValue"))
    if isinstance(exc, AlreadyExists):
        return scim_error(409, exc.detail, "uniqueness")
    if isinstance(exc, StaleVersion):
        return scim_error(412 if exc.extra.get("precondition") else 409, exc.detail)
    if isinstance(exc, NotAuthenticated):
        return scim_error(401, exc.detail, headers={"WWW-Authenticate": 'Bearer realm="scim"'})
    if exc.status >= 500:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return scim_error(500, "The server could not complete the request; it has been logged.")
    return scim_error(exc.status, exc.detail)


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's own refusals (an unreadable body or parameter, 405) as SCIM's error."""
    if isinstance(exc, ValidationException):
        for item in exc.extra or []:
            if isinstance(item, dict):
                key = item.get("key")
                name = _body_field(item.get("message")) if key in ("data", None) else None
                name = name or (_field_of(request, key) if key not in ("data", None) else "body")
                return scim_error(
                    400,
                    f"{name}: {item.get('message')}",
                    "invalidSyntax" if name == "body" else "invalidValue",
                )
        return scim_error(400, str(exc.detail), "invalidSyntax")
    if exc.status_code >= 500:
        return handle_unexpected(request, exc)
    return scim_error(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything else: logged, and a SCIM 500 that says nothing more."""
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return scim_error(500, "The server could not complete the request; it has been logged.")


async def scim_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Only a SCIM token opens /scim/v2: the caller becomes the provider, audited by its name."""
    if action_of(handler) == PUBLIC:
        # Litestar's automatic OPTIONS answer: it lists the methods, and shows nothing else.
        return
    header = connection.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    state = connection.scope.get("state", {})
    actor = await services.provider_actor(
        token,
        request_id=state.get("request_id", ""),
        client=connection.client.host if connection.client else "",
    )
    if actor is None:
        raise NotAuthenticated(
            N_(
                "send 'Authorization: Bearer <token>' with a token from 'register scim token create'"
            )
        )
    connection.scope["user"] = actor


def _errors(*codes: int) -> dict[int, ResponseSpec]:
    described = {
        400: "A SCIM error naming the attribute (scimType invalidValue, invalidFilter, ...)",
        401: "No SCIM token, or one that was revoked (API tokens and sessions do not open SCIM)",
        404: "No such resource",
        409: "userName or displayName already taken (scimType uniqueness)",
        412: "If-Match names a version that is no longer the resource's",
    }
    return {
        code: ResponseSpec(
            data_container=ScimError,
            media_type=SCIM_JSON,
            description=described[code],
            generate_examples=False,
        )
        for code in sorted({400, 401, *codes})
    }


Filter = Annotated[
    str | None,
    QueryParameter(
        name="filter",
        max_length=2000,
        pattern=NO_CONTROL,
        description='A SCIM filter, e.g. userName eq "ana@example.com" or externalId eq "00u1".',
    ),
]
StartIndex = Annotated[
    int | None,
    QueryParameter(
        name="startIndex", ge=-(2**31), le=2**31 - 1, description="First result, from 1."
    ),
]
Count = Annotated[
    int | None,
    QueryParameter(
        name="count", ge=-(2**31), le=2**31 - 1, description="Results per page (at most 200)."
    ),
]
Attributes = Annotated[
    str | None,
    QueryParameter(
        name="attributes",
        max_length=2000,
        pattern=NO_CONTROL,
        description="Only these attributes, comma-separated.",
    ),
]
Excluded = Annotated[
    str | None,
    QueryParameter(
        name="excludedAttributes",
        max_length=2000,
        pattern=NO_CONTROL,
        description="All but these attributes, comma-separated.",
    ),
]
ResourceId = Annotated[str, PathParameter(max_length=64, description="The resource's id.")]
IfMatch = Annotated[
    str | None,
    HeaderParameter(name="If-Match", max_length=200, description="The ETag read (meta.version)."),
]
ScimBody = Annotated[
    dict[str, Any],
    Body(description="A SCIM resource as /Schemas describes it (application/scim+json)."),
]
PatchBody = Annotated[
    dict[str, Any],
    Body(
        description='A PatchOp: {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], '
        '"Operations": [{"op": "replace", "path": "active", "value": false}]}.'
    ),
]
SearchBody = Annotated[
    dict[str, Any],
    Body(description="A SearchRequest: filter, startIndex, count, attributes, excludedAttributes."),
]
OPT = {"action": SCIM}


def _listing(
    result: dict[str, Any], attributes: str | None, excluded: str | None, urn: str
) -> Response[Any]:
    result["Resources"] = [
        services.project(r, attributes, excluded, urn) for r in result["Resources"]
    ]
    return Response(content=result, media_type=SCIM_JSON)


def _search(data: dict[str, Any]) -> dict[str, Any]:
    """A SearchRequest's parameters, named as the list's."""
    lower = {k.lower(): v for k, v in data.items()}

    def text(name: str) -> str | None:
        value = lower.get(name.lower())
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        if value is not None and not isinstance(value, str):
            raise services.invalid(N_("%(attribute)s must be a string"), name)
        return value

    def number(name: str) -> int | None:
        value = lower.get(name.lower())
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise services.invalid(N_("%(attribute)s must be a whole number"), name)
        return value

    return {
        "filter_": text("filter"),
        "start_index": number("startIndex"),
        "count": number("count"),
        "attributes": text("attributes"),
        "excluded": text("excludedAttributes"),
    }


class ScimUsers(Controller):
    """Users: people in the staff directory, and register users where a group maps to a role."""

    path = "/Users"

    @get("/", opt=OPT, responses=_errors(), media_type=SCIM_JSON)
    async def list_users(
        self,
        request: Request[Any, Any, Any],
        filter_: Filter = None,
        start_index: StartIndex = None,
        count: Count = None,
        attributes: Attributes = None,
        excluded: Excluded = None,
    ) -> Response[ScimListResponse]:
        """Users matching a filter, a page at a time."""
        result = await flows.list_users(
            filter_=filter_, start_index=start_index, count=count, base=base_of(request)
        )
        return _listing(result, attributes, excluded, CORE_USER)

    @post("/.search", opt=OPT, status_code=200, responses=_errors(), media_type=SCIM_JSON)
    async def search_users(
        self, request: Request[Any, Any, Any], data: SearchBody
    ) -> Response[ScimListResponse]:
        """Users matching a SearchRequest (the list, with its parameters in the body)."""
        asked = _search(data)
        result = await flows.list_users(
            filter_=asked["filter_"],
            start_index=asked["start_index"],
            count=asked["count"],
            base=base_of(request),
        )
        return _listing(result, asked["attributes"], asked["excluded"], CORE_USER)

    @post("/", opt=OPT, status_code=201, responses=_errors(409), media_type=SCIM_JSON)
    async def create_user(
        self,
        request: Request[Any, Any, Any],
        data: ScimBody,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[ScimResource]:
        """Provision a user: a person in the directory, a register user where a group maps."""
        made = await flows.create_user(
            actor=actor, settings=settings, body=data, base=base_of(request)
        )
        return scim_response(made, 201, {"Location": made["meta"]["location"]})

    @get("/{scim_id:str}", opt=OPT, responses=_errors(404), media_type=SCIM_JSON)
    async def get_user(
        self,
        request: Request[Any, Any, Any],
        scim_id: ResourceId,
        attributes: Attributes = None,
        excluded: Excluded = None,
    ) -> Response[ScimResource]:
        """One user."""
        found = await flows.get_user(scim_id=scim_id, base=base_of(request))
        return scim_response(services.project(found, attributes, excluded, CORE_USER))

    @put("/{scim_id:str}", opt=OPT, responses=_errors(404, 409, 412), media_type=SCIM_JSON)
    async def replace_user(
        self,
        request: Request[Any, Any, Any],
        scim_id: ResourceId,
        data: ScimBody,
        actor: ActorDep,
        settings: SettingsDep,
        if_match: IfMatch = None,
    ) -> Response[ScimResource]:
        """Replace a user; active false deprovisions (an offboarding)."""
        return scim_response(
            await flows.replace_user(
                actor=actor,
                settings=settings,
                scim_id=scim_id,
                body=data,
                base=base_of(request),
                if_match=if_match,
            )
        )

    @patch("/{scim_id:str}", opt=OPT, responses=_errors(404, 409, 412), media_type=SCIM_JSON)
    async def patch_user(
        self,
        request: Request[Any, Any, Any],
        scim_id: ResourceId,
        data: PatchBody,
        actor: ActorDep,
        settings: SettingsDep,
        if_match: IfMatch = None,
    ) -> Response[ScimResource]:
        """Change a user with a PatchOp; replace active false deprovisions (an offboarding)."""
        return scim_response(
            await flows.patch_user(
                actor=actor,
                settings=settings,
                scim_id=scim_id,
                body=data,
                base=base_of(request),
                if_match=if_match,
            )
        )

    @delete("/{scim_id:str}", opt=OPT, status_code=204, responses=_errors(404, 412))
    async def delete_user(
        self, scim_id: ResourceId, actor: ActorDep, settings: SettingsDep, if_match: IfMatch = None
    ) -> None:
        """Deprovision a user (an offboarding) and forget the resource; the person stays."""
        await flows.delete_user(actor=actor, settings=settings, scim_id=scim_id, if_match=if_match)


class ScimGroups(Controller):
    """Groups of the identity provider; REGISTER_GROUP_ROLES maps them to roles."""

    path = "/Groups"

    @get("/", opt=OPT, responses=_errors(), media_type=SCIM_JSON)
    async def list_groups(
        self,
        request: Request[Any, Any, Any],
        filter_: Filter = None,
        start_index: StartIndex = None,
        count: Count = None,
        attributes: Attributes = None,
        excluded: Excluded = None,
    ) -> Response[ScimListResponse]:
        """Groups matching a filter, a page at a time."""
        result = await flows.list_groups(
            filter_=filter_, start_index=start_index, count=count, base=base_of(request)
        )
        return _listing(result, attributes, excluded, CORE_GROUP)

    @post("/.search", opt=OPT, status_code=200, responses=_errors(), media_type=SCIM_JSON)
    async def search_groups(
        self, request: Request[Any, Any, Any], data: SearchBody
    ) -> Response[ScimListResponse]:
        """Groups matching a SearchRequest."""
        asked = _search(data)
        result = await flows.list_groups(
            filter_=asked["filter_"],
            start_index=asked["start_index"],
            count=asked["count"],
            base=base_of(request),
        )
        return _listing(result, asked["attributes"], asked["excluded"], CORE_GROUP)

    @post("/", opt=OPT, status_code=201, responses=_errors(409), media_type=SCIM_JSON)
    async def create_group(
        self,
        request: Request[Any, Any, Any],
        data: ScimBody,
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[ScimResource]:
        """Create a group; its members take the role it maps to."""
        made = await flows.create_group(
            actor=actor, settings=settings, body=data, base=base_of(request)
        )
        return scim_response(made, 201, {"Location": made["meta"]["location"]})

    @get("/{scim_id:str}", opt=OPT, responses=_errors(404), media_type=SCIM_JSON)
    async def get_group(
        self,
        request: Request[Any, Any, Any],
        scim_id: ResourceId,
        attributes: Attributes = None,
        excluded: Excluded = None,
    ) -> Response[ScimResource]:
        """One group."""
        found = await flows.get_group(scim_id=scim_id, base=base_of(request))
        return scim_response(services.project(found, attributes, excluded, CORE_GROUP))

    @put("/{scim_id:str}", opt=OPT, responses=_errors(404, 409, 412), media_type=SCIM_JSON)
    async def replace_group(
        self,
        request: Request[Any, Any, Any],
        scim_id: ResourceId,
        data: ScimBody,
        actor: ActorDep,
        settings: SettingsDep,
        if_match: IfMatch = None,
    ) -> Response[ScimResource]:
        """Replace a group's name and members."""
        return scim_response(
            await flows.replace_group(
                actor=actor,
                settings=settings,
                scim_id=scim_id,
                body=data,
                base=base_of(request),
                if_match=if_match,
            )
        )

    @patch("/{scim_id:str}", opt=OPT, responses=_errors(404, 409, 412), media_type=SCIM_JSON)
    async def patch_group(
        self,
        request: Request[Any, Any, Any],
        scim_id: ResourceId,
        data: PatchBody,
        actor: ActorDep,
        settings: SettingsDep,
        if_match: IfMatch = None,
    ) -> Response[ScimResource]:
        """Change a group with a PatchOp (members added or removed)."""
        return scim_response(
            await flows.patch_group(
                actor=actor,
                settings=settings,
                scim_id=scim_id,
                body=data,
                base=base_of(request),
                if_match=if_match,
            )
        )

    @delete("/{scim_id:str}", opt=OPT, status_code=204, responses=_errors(404, 412))
    async def delete_group(
        self, scim_id: ResourceId, actor: ActorDep, settings: SettingsDep, if_match: IfMatch = None
    ) -> None:
        """Delete a group; its members lose the role it gave them."""
        await flows.delete_group(actor=actor, settings=settings, scim_id=scim_id, if_match=if_match)


class ScimDiscovery(Controller):
    """What the register supports, publishes and serves (RFC 7644 section 4)."""

    path = "/"

    @get("/ServiceProviderConfig", opt=OPT, responses=_errors(), media_type=SCIM_JSON)
    async def service_provider_config(
        self, request: Request[Any, Any, Any]
    ) -> Response[ScimDocument]:
        """Features: PATCH, filters and ETags yes; bulk, sorting and passwords no."""
        return scim_response(services.service_provider_config(base_of(request)))

    @get("/Schemas", opt=OPT, responses=_errors(), media_type=SCIM_JSON)
    async def schemas(self, request: Request[Any, Any, Any]) -> Response[ScimListResponse]:
        """The schemas: User, the enterprise extension, Group, with only what the register keeps."""
        return scim_response(services.schemas(base_of(request)))

    @get("/Schemas/{urn:str}", opt=OPT, responses=_errors(404), media_type=SCIM_JSON)
    async def schema(
        self, request: Request[Any, Any, Any], urn: Annotated[str, PathParameter(max_length=200)]
    ) -> Response[ScimDocument]:
        """One schema."""
        return scim_response(services.schema(urn, base_of(request)))

    @get("/ResourceTypes", opt=OPT, responses=_errors(), media_type=SCIM_JSON)
    async def resource_types(self, request: Request[Any, Any, Any]) -> Response[ScimListResponse]:
        """The resource types: User and Group."""
        return scim_response(services.resource_types(base_of(request)))

    @get("/ResourceTypes/{name:str}", opt=OPT, responses=_errors(404), media_type=SCIM_JSON)
    async def resource_type(
        self, request: Request[Any, Any, Any], name: Annotated[str, PathParameter(max_length=200)]
    ) -> Response[ScimDocument]:
        """One resource type."""
        return scim_response(services.resource_type(name, base_of(request)))

    @post("/.search", opt=OPT, status_code=200, responses=_errors(), media_type=SCIM_JSON)
    async def search_all(
        self, request: Request[Any, Any, Any], data: SearchBody
    ) -> Response[ScimListResponse]:
        """Users and groups matching a SearchRequest, users first."""
        asked = _search(data)
        result = await flows.search_all(
            filter_=asked["filter_"],
            start_index=asked["start_index"],
            count=asked["count"],
            base=base_of(request),
        )
        result["Resources"] = [
            services.project(
                r,
                asked["attributes"],
                asked["excluded"],
                CORE_USER if r["meta"]["resourceType"] == "User" else CORE_GROUP,
            )
            for r in result["Resources"]
        ]
        return Response(content=result, media_type=SCIM_JSON)


@route(
    "/{rest:path}",
    http_method=["GET", "POST", "PUT", "PATCH", "DELETE"],
    opt=OPT,
    include_in_schema=False,
)
async def nothing_here(rest: Annotated[str, PathParameter()]) -> None:
    """Anything else under /scim/v2 is SCIM's 404, not the register's problem document."""
    raise NotFound(N_("%(path)s is not a SCIM endpoint"), params={"path": rest[:200]})


def scim_router() -> Router:
    """Everything under /scim/v2, with SCIM's own guard and errors."""
    return Router(
        path=SCIM_PATH,
        route_handlers=[ScimDiscovery, ScimUsers, ScimGroups, nothing_here],
        guards=[scim_guard],
        exception_handlers={
            RegisterError: handle_register_error,
            HTTPException: handle_http,
            Exception: handle_unexpected,
        },
        tags=["scim"],
        security=[{"scim": []}],
    )
