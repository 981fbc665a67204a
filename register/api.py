"""HTTP controllers of the core: health, sign-in, users, tokens, the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromQuery, JSONBody, QueryParameter

from register import audit, auth, services
from register.access import PUBLIC, SIGNED_IN, refuse
from register.enums import Role
from register.errors import NotFound, NotReady
from register.health import readiness
from register.i18n import N_
from register.openapi import (
    NO_CONTROL,
    ActorDep,
    Id,
    Limit,
    Offset,
    Public,
    QueryId,
    SettingsDep,
    Text,
    changes_in,
    no_content,
    problems,
    public_problems,
)
from register.schemas import (
    AuditEventOut,
    AuditPage,
    AuditVerdict,
    Health,
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


class HealthController(Controller):
    """Liveness and readiness for load balancers and orchestrators."""

    tags = ["health"]

    @get("/health", opt={"action": PUBLIC}, responses=public_problems(), operation_class=Public)
    async def health(self) -> Health:
        """The process is up."""
        return Health(status="ok")

    @get("/ready", opt={"action": PUBLIC}, responses=public_problems(503), operation_class=Public)
    async def ready(self) -> Health:
        """The database is reachable and every migration is applied; read replicas are reported, never failing it."""
        state = await readiness()
        if state["status"] != "ok":
            raise NotReady(
                N_("the database does not answer")
                if state.get("database") != "ok"
                else N_("run 'register migrate'"),
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
            cookies=auth.session_cookies(session, secure=secure, max_age=max_age),
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
            cookies=auth.cleared_cookies(),
        )

    @get("/me", opt={"action": "auth.me"}, responses=problems())
    async def me(self, actor: ActorDep) -> UserOut:
        """Who is signed in."""
        if actor.user_id is None:
            raise NotFound(N_("the caller is not a user"))
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
        """Change name, role, active flag, employee link, language or time zone; deactivating ends sessions and tokens."""
        return UserOut(
            **await services.update_user(
                actor=actor, user_id=user_id, version=data.version, changes=changes_in(data)
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
                    N_("only an admin may list another user's tokens"),
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
                N_("only an admin may create a token for another user"),
            )
        if user_id is None:
            raise NotFound(N_("the caller is not a user"))
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
            str | None, QueryParameter(name="actor", max_length=320, pattern=NO_CONTROL)
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
        secrets = request.app.state.secrets
        verdict = await audit.verify(secrets.verify_key, mac_key=secrets.audit_mac_key)
        return AuditVerdict(**verdict.as_dict())


# Listed apart because /schema shows the staff directory's routes between the two (see asgi).
SIGN_IN_CONTROLLERS = [HealthController, AuthController, UserController, TokenController]
AUDIT_CONTROLLERS = [AuditController]
