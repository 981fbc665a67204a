"""HTTP controllers of the core: health, sign-in, users, tokens, employees, audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import Cookie, UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery, JSONBody, PathParameter, QueryParameter
from msgspec import UNSET, structs

from register import audit, auth, services
from register.access import PUBLIC, SIGNED_IN, refuse
from register.actor import Actor
from register.employee_import import import_employees
from register.enums import EmployeeStatus, Role
from register.errors import NotFound, NotReady
from register.health import readiness
from register.openapi import (
    IMPORT_FORM,
    Idempotent,
    Public,
    no_content,
    problems,
    public_problems,
)
from register.schemas import (
    AuditEventOut,
    AuditPage,
    AuditVerdict,
    EmployeeCreate,
    EmployeeOut,
    EmployeePage,
    EmployeeUpdate,
    Health,
    ImportSummary,
    LoginIn,
    LoginOut,
    PasswordChangeIn,
    TokenCreate,
    TokenIssued,
    TokenOut,
    TokenPage,
    UserCreate,
    UserCreated,
    UserOut,
    UserPage,
    UserUpdate,
)
from register.settings import Settings

Limit = Annotated[
    int, QueryParameter(ge=1, le=services.MAX_LIMIT, description="Page size (1-200).")
]
Offset = Annotated[int, QueryParameter(ge=0, le=10**9, description="Rows to skip.")]
Id = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
QueryId = Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)]


# PostgreSQL text cannot hold NUL; refusing it here names the parameter in the 422.
NO_NUL = "^[^\\x00]*$"


def Text(limit: int, description: str | None = None) -> Any:
    """An optional free-text query parameter of bounded length."""
    return Annotated[
        str | None, QueryParameter(max_length=limit, pattern=NO_NUL, description=description)
    ]


ActorDep = NamedDependency[Actor]
SettingsDep = NamedDependency[Settings]
# Answers holding a secret (a revealed credential, evidence) are never kept by any cache.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _changes(data: Any) -> dict[str, Any]:
    return {k: v for k, v in structs.asdict(data).items() if v is not UNSET and k != "version"}


class HealthController(Controller):
    """Liveness and readiness for load balancers and orchestrators."""

    tags = ["health"]

    @get("/health", opt={"action": PUBLIC}, responses=public_problems(), operation_class=Public)
    async def health(self) -> Health:
        """The process is up."""
        return Health(status="ok")

    @get("/ready", opt={"action": PUBLIC}, responses=public_problems(503), operation_class=Public)
    async def ready(self) -> Health:
        """The database is reachable and every migration is applied."""
        state = await readiness()
        if state["status"] != "ok":
            raise NotReady(
                state.get("detail") or "not ready",
                database=state.get("database"),
                migrations=state.get("migrations"),
            )
        return Health(**state)


class AuthController(Controller):
    """Browser sign-in, sign-out, the current user, and password changes."""

    path = "/api/v1/auth"
    tags = ["auth"]

    @post(
        "/login",
        opt={"action": PUBLIC},
        status_code=200,
        responses=public_problems(401, 422, 429),
        operation_class=Public,
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginIn],
        actor: ActorDep,
        settings: SettingsDep,
    ) -> Response[LoginOut]:
        """Sign in with e-mail and password; sets the session cookie and returns the CSRF token."""
        session = await auth.sign_in(
            settings=settings, actor=actor, email=data.email, password=data.password
        )
        user = await services.get_user(user_id=session.user["id"])
        secure = request.url.scheme == "https"
        max_age = settings.session_hours * 3600
        return Response(
            LoginOut(
                user=UserOut(**user), csrf_token=session.csrf_token, expires_at=session.expires_at
            ),
            cookies=[
                Cookie(
                    key=auth.SESSION_COOKIE,
                    value=session.session_id,
                    httponly=True,
                    samesite="lax",
                    secure=secure,
                    max_age=max_age,
                    path="/",
                ),
                Cookie(
                    key=auth.CSRF_COOKIE,
                    value=session.csrf_token,
                    httponly=False,
                    samesite="strict",
                    secure=secure,
                    max_age=max_age,
                    path="/",
                ),
            ],
        )

    @post(
        "/logout",
        opt={"action": "auth.logout"},
        status_code=204,
        responses={**problems(), **no_content("Signed out; the session cookies are cleared")},
    )
    async def logout(self, request: Request[Any, Any, Any], actor: ActorDep) -> Response[None]:
        """End the current browser session."""
        await auth.sign_out(actor=actor, session_id=request.scope.get("auth", {}).get("session_id"))
        return Response(
            None,
            status_code=204,
            cookies=[
                Cookie(key=auth.SESSION_COOKIE, value="", max_age=0, path="/"),
                Cookie(key=auth.CSRF_COOKIE, value="", max_age=0, path="/"),
            ],
        )

    @get("/me", opt={"action": "auth.me"}, responses=problems())
    async def me(self, actor: ActorDep) -> UserOut:
        """Who is signed in."""
        if actor.user_id is None:
            raise NotFound("the caller is not a user")
        return UserOut(**await services.get_user(user_id=actor.user_id))

    @post("/password", opt={"action": "auth.password"}, status_code=204, responses=problems())
    async def change_password(
        self, request: Request[Any, Any, Any], data: JSONBody[PasswordChangeIn], actor: ActorDep
    ) -> None:
        """Change your own password (required after a one-time password); ends your other sessions."""
        await auth.change_password(
            actor=actor,
            current=data.current_password,
            new=data.new_password,
            session_id=request.scope.get("auth", {}).get("session_id"),
        )


class UserController(Controller):
    """Users who sign in to the register (admin)."""

    path = "/api/v1/users"
    tags = ["users"]

    @get("/", opt={"action": "user.read"}, responses=problems())
    async def list_users(
        self,
        limit: Limit = 50,
        offset: Offset = 0,
        role: FromQuery[Role | None] = None,
        active: FromQuery[bool | None] = None,
        q: Text(200) = None,
    ) -> UserPage:
        """Users, filtered by role, active flag or text."""
        items, next_offset = await services.list_users(
            limit=limit, offset=offset, role=role, active=active, q=q
        )
        return UserPage(
            items=[UserOut(**u) for u in items], limit=limit, offset=offset, next_offset=next_offset
        )

    @post("/", opt={"action": "user.write"}, responses=problems(409))
    async def create_user(self, data: JSONBody[UserCreate], actor: ActorDep) -> UserCreated:
        """Create a user; without a password, a one-time password is returned once."""
        user, generated = await services.create_user(
            actor=actor,
            email=data.email,
            role=data.role,
            name=data.name,
            password=data.password,
            employee_id=data.employee_id,
        )
        return UserCreated(user=UserOut(**user), one_time_password=generated)

    @get("/{user_id:int}", opt={"action": "user.read"}, responses=problems(404))
    async def get_user(self, user_id: Id) -> UserOut:
        """One user."""
        return UserOut(**await services.get_user(user_id=user_id))

    @patch("/{user_id:int}", opt={"action": "user.write"}, responses=problems(404, 409))
    async def update_user(
        self, user_id: Id, data: JSONBody[UserUpdate], actor: ActorDep
    ) -> UserOut:
        """Change name, role, active flag or employee link; deactivating ends sessions and tokens."""
        return UserOut(
            **await services.update_user(
                actor=actor, user_id=user_id, version=data.version, changes=_changes(data)
            )
        )


class TokenController(Controller):
    """Bearer API tokens for scripts."""

    path = "/api/v1/tokens"
    tags = ["tokens"]

    @get("/", opt={"action": SIGNED_IN}, responses=problems())
    async def list_tokens(
        self, actor: ActorDep, limit: Limit = 50, offset: Offset = 0, user_id: QueryId = None
    ) -> TokenPage:
        """Your tokens; admins may list anyone's (or everyone's, without user_id)."""
        if actor.role != Role.admin:
            if user_id not in (None, actor.user_id):
                raise await refuse(
                    actor,
                    "token.admin",
                    "user",
                    user_id or "",
                    "only an admin may list another user's tokens",
                )
            user_id = actor.user_id
        items, next_offset = await services.list_tokens(user_id=user_id, limit=limit, offset=offset)
        return TokenPage(
            items=[TokenOut(**t) for t in items],
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    @post("/", opt={"action": SIGNED_IN}, responses=problems(404, 409))
    async def create_token(self, data: JSONBody[TokenCreate], actor: ActorDep) -> TokenIssued:
        """Create a token; it is shown in this response only."""
        user_id = data.user_id or actor.user_id
        if user_id != actor.user_id and actor.role != Role.admin:
            raise await refuse(
                actor,
                "token.admin",
                "user",
                user_id or "",
                "only an admin may create a token for another user",
            )
        if user_id is None:
            raise NotFound("the caller is not a user")
        issued = await auth.issue_token(
            actor=actor, user_id=user_id, name=data.name, expires_in_days=data.expires_in_days
        )
        return TokenIssued(
            id=issued.id,
            user_id=issued.user_id,
            name=issued.name,
            prefix=issued.prefix,
            token=issued.token,
            expires_at=issued.expires_at,
        )

    @delete("/{token_id:int}", opt={"action": SIGNED_IN}, status_code=204, responses=problems(404))
    async def revoke_token(self, token_id: Id, actor: ActorDep) -> None:
        """Revoke a token (your own; admins any)."""
        await auth.revoke_token(actor=actor, token_id=token_id, own_only=actor.role != Role.admin)


class EmployeeController(Controller):
    """The staff directory."""

    path = "/api/v1/employees"
    tags = ["employees"]

    @get("/", opt={"action": "employee.read"}, responses=problems())
    async def list_employees(
        self,
        limit: Limit = 50,
        offset: Offset = 0,
        q: Text(200, "Text in name, e-mail or job title.") = None,
        department: Text(200) = None,
        status: FromQuery[EmployeeStatus | None] = None,
        manager_id: QueryId = None,
        leaving_before: FromQuery[dt.date | None] = None,
        leaving_after: FromQuery[dt.date | None] = None,
        include_total: FromQuery[bool] = False,
    ) -> EmployeePage:
        """Employees, filtered, searched and paginated by name."""
        items, next_offset, total = await services.list_employees(
            limit=limit,
            offset=offset,
            q=q,
            department=department,
            status=status,
            manager_id=manager_id,
            leaving_before=leaving_before,
            leaving_after=leaving_after,
            with_total=include_total,
        )
        return EmployeePage(
            items=msgspec.convert(items, list[EmployeeOut]),
            limit=limit,
            offset=offset,
            next_offset=next_offset,
            total=total,
        )

    @post(
        "/",
        opt={"action": "employee.write", "idempotent": True},
        responses=problems(409),
        operation_class=Idempotent,
    )
    async def create_employee(self, data: JSONBody[EmployeeCreate], actor: ActorDep) -> EmployeeOut:
        """Add a person to the directory."""
        return EmployeeOut(**await services.create_employee(actor=actor, data=structs.asdict(data)))

    @get("/{employee_id:int}", opt={"action": "employee.read"}, responses=problems(404))
    async def get_employee(self, employee_id: Id) -> EmployeeOut:
        """One employee."""
        return EmployeeOut(**await services.get_employee(employee_id=employee_id))

    @patch("/{employee_id:int}", opt={"action": "employee.write"}, responses=problems(404, 409))
    async def update_employee(
        self, employee_id: Id, data: JSONBody[EmployeeUpdate], actor: ActorDep
    ) -> EmployeeOut:
        """Change an employee; send the version you read."""
        return EmployeeOut(
            **await services.update_employee(
                actor=actor, employee_id=employee_id, version=data.version, changes=_changes(data)
            )
        )

    @post(
        "/imports",
        opt={"action": "employee.import", "idempotent": True},
        status_code=200,
        responses=problems(409, 413),
        operation_class=Idempotent,
    )
    async def import_file(
        self,
        data: Annotated[
            dict[str, Any],
            Body(
                media_type=RequestEncodingType.MULTI_PART,
                description="Fields: file (CSV), optional mapping (JSON object: your header -> field), optional date_order (DMY or MDY).",
                schema_extra=IMPORT_FORM,
            ),
        ],
        actor: ActorDep,
    ) -> ImportSummary:
        """Import an HR system's CSV export, all or nothing; row errors carry line numbers."""
        upload = data.get("file")
        content = await upload.read() if isinstance(upload, UploadFile) else upload
        summary = await import_employees(
            actor=actor,
            content=content,
            mapping=data.get("mapping"),
            date_order=data.get("date_order"),
        )
        return ImportSummary(**summary)


class AuditController(Controller):
    """The audit trail, for auditors and admins."""

    path = "/api/v1/audit"
    tags = ["audit"]

    @get("/events", opt={"action": "audit.read"}, responses=problems())
    async def list_events(
        self,
        limit: Limit = 50,
        offset: Offset = 0,
        actor_id: QueryId = None,
        actor_email: Annotated[
            str | None, QueryParameter(name="actor", max_length=320, pattern=NO_NUL)
        ] = None,
        action: Text(80, "Exact action, or a prefix ending in * (e.g. employee.*).") = None,
        object_type: Text(80) = None,
        object_id: Text(320) = None,
        since: FromQuery[dt.datetime | None] = None,
        until: FromQuery[dt.datetime | None] = None,
    ) -> AuditPage:
        """Events newest first, filtered by actor, object, action and time range."""
        items, next_offset = await audit.list_events(
            limit=limit,
            offset=offset,
            actor_id=actor_id,
            actor=actor_email,
            action=action,
            object_type=object_type,
            object_id=object_id,
            since=since,
            until=until,
        )
        return AuditPage(
            items=[AuditEventOut(**e) for e in items],
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    @post("/verify", opt={"action": "audit.verify"}, status_code=200, responses=problems())
    async def verify(self, request: Request[Any, Any, Any]) -> AuditVerdict:
        """Verify the hash chain and the signed checkpoints; names the first bad event."""
        verdict = await audit.verify(request.app.state.secrets.verify_key)
        return AuditVerdict(**verdict.as_dict())


CONTROLLERS = [
    HealthController,
    AuthController,
    UserController,
    TokenController,
    EmployeeController,
    AuditController,
]
