"""HTTP controllers of corporate social accounts (register, grants, custody, vault, risks, inventory) and connections."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post, put
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.params import Body, FromQuery, JSONBody, PathParameter, QueryParameter
from msgspec import UNSET, structs

from accounts import connections, flows, inventory, risks, services, vault
from accounts.connection_import import import_connections
from accounts.enums import AccountStatus, ConnectionState, CustodyRole, Platform
from accounts.schemas import (
    AccountCreate,
    AccountOut,
    AccountPage,
    AccountUpdate,
    ConnectionImportPage,
    ConnectionImportResult,
    ConnectionPage,
    ConnectionStateIn,
    ConnectionStateOut,
    ConnectionSubject,
    ConnectionSummary,
    CredentialIn,
    CredentialStatus,
    ErasureOut,
    GrantCreate,
    GrantOut,
    GrantRevoke,
    InventorySummary,
    RecertificationPage,
    RecertifyIn,
    RecertifyOut,
    RetireIn,
    Revealed,
    RevealIn,
    RiskReport,
    SubjectAccessOut,
    TotpCode,
    TransferAnswer,
    TransferCreate,
    TransferOut,
)
from register.access import object_guard
from register.controllers import NO_STORE, ActorDep, Limit, Offset, SettingsDep
from register.openapi import Idempotent, problems
from register.settings import Settings

AccountId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
ChildId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]


def _keyring(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.keyring.get()


async def _account_out(account: dict[str, Any], settings: Settings) -> AccountOut:
    found = (await risks.findings_for([account["id"]], settings)).get(account["id"], [])
    return AccountOut(**account, risks=found)


class AccountController(Controller):
    """The register of corporate social accounts (IT)."""

    path = "/api/v1/accounts"
    tags = ["accounts"]

    @get("/", opt={"action": "account.read"}, responses=problems())
    async def list_accounts(
        self,
        settings: SettingsDep,
        limit: Limit = 50,
        offset: Offset = 0,
        platform: FromQuery[Platform | None] = None,
        status: FromQuery[AccountStatus | None] = None,
        custodian_id: Annotated[
            int | None, QueryParameter(ge=1, le=2**31 - 1, description="Custodian or backup.")
        ] = None,
        department: Annotated[str | None, QueryParameter(max_length=200)] = None,
        risk: Annotated[
            str | None,
            QueryParameter(max_length=60, description="A risk kind, e.g. no_backup_custodian."),
        ] = None,
        q: Annotated[
            str | None,
            QueryParameter(max_length=200, description="Text in handle, display name or purpose."),
        ] = None,
    ) -> AccountPage:
        """Accounts filtered by platform, status, custodian, department or risk, and searched."""
        items, next_offset = await services.list_accounts(
            limit=limit,
            offset=offset,
            platform=platform,
            status=status,
            custodian_id=custodian_id,
            department=department,
            risk=risk,
            q=q,
            settings=settings,
        )
        found = await risks.findings_for([a["id"] for a in items], settings)
        return AccountPage(
            items=[AccountOut(**a, risks=found.get(a["id"], [])) for a in items],
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    @post(
        "/",
        opt={"action": "account.write", "idempotent": True},
        responses=problems(409),
        operation_class=Idempotent,
    )
    async def create_account(
        self, data: JSONBody[AccountCreate], actor: ActorDep, settings: SettingsDep
    ) -> AccountOut:
        """Register an account; the handle may be pasted in any form."""
        account = await services.create_account(
            actor=actor, settings=settings, data=structs.asdict(data)
        )
        return await _account_out(account, settings)

    @get("/{account_id:int}", opt={"action": "account.read"}, responses=problems(404))
    async def get_account(self, account_id: AccountId, settings: SettingsDep) -> AccountOut:
        """One account with its risk findings."""
        return await _account_out(await services.get_account(account_id=account_id), settings)

    @patch("/{account_id:int}", opt={"action": "account.write"}, responses=problems(404, 409))
    async def update_account(
        self,
        account_id: AccountId,
        data: JSONBody[AccountUpdate],
        actor: ActorDep,
        settings: SettingsDep,
    ) -> AccountOut:
        """Change an account; send the version you read."""
        changes = {
            k: v for k, v in structs.asdict(data).items() if v is not UNSET and k != "version"
        }
        account = await services.update_account(
            actor=actor,
            settings=settings,
            account_id=account_id,
            version=data.version,
            changes=changes,
        )
        return await _account_out(account, settings)

    @post(
        "/{account_id:int}/retire",
        opt={"action": "account.write"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def retire_account(
        self,
        account_id: AccountId,
        data: JSONBody[RetireIn],
        actor: ActorDep,
        settings: SettingsDep,
    ) -> AccountOut:
        """Retire an account: kept for the record, grants revoked, never deleted."""
        account = await services.retire_account(
            actor=actor, account_id=account_id, version=data.version, reason=data.reason
        )
        return await _account_out(account, settings)

    @get("/{account_id:int}/grants", opt={"action": "account.read"}, responses=problems(404))
    async def list_grants(
        self, account_id: AccountId, active: FromQuery[bool | None] = None
    ) -> list[GrantOut]:
        """Who can get in, and who could."""
        await services.get_account(account_id=account_id)
        return [
            GrantOut(**g) for g in await services.list_grants(account_id=account_id, active=active)
        ]

    @post(
        "/{account_id:int}/grants",
        opt={"action": "account.write", "idempotent": True},
        responses=problems(404, 409),
        operation_class=Idempotent,
    )
    async def add_grant(
        self, account_id: AccountId, data: JSONBody[GrantCreate], actor: ActorDep
    ) -> GrantOut:
        """Record someone's access."""
        return GrantOut(
            **await services.add_grant(
                actor=actor,
                account_id=account_id,
                employee_id=data.employee_id,
                level=data.level,
                platform_role=data.platform_role,
                reason=data.reason,
            )
        )

    @post(
        "/{account_id:int}/grants/{grant_id:int}/revoke",
        opt={"action": "account.write"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def revoke_grant(
        self, account_id: AccountId, grant_id: ChildId, data: JSONBody[GrantRevoke], actor: ActorDep
    ) -> GrantOut:
        """End someone's access; the grant stays as history and the credential becomes rotation-due."""
        return GrantOut(
            **await services.revoke_grant(
                actor=actor, account_id=account_id, grant_id=grant_id, reason=data.reason
            )
        )

    @get("/{account_id:int}/transfers", opt={"action": "account.read"}, responses=problems(404))
    async def list_transfers(self, account_id: AccountId) -> list[TransferOut]:
        """Custody transfers of an account."""
        await services.get_account(account_id=account_id)
        return [TransferOut(**t) for t in await flows.list_transfers(account_id=account_id)]

    @post(
        "/{account_id:int}/transfers",
        opt={"action": "account.write", "idempotent": True},
        responses=problems(404, 409),
        operation_class=Idempotent,
    )
    async def transfer(
        self, account_id: AccountId, data: JSONBody[TransferCreate], actor: ActorDep
    ) -> TransferOut:
        """Move custody or backup now; the new holder then accepts or declines."""
        return TransferOut(
            **await flows.transfer_custody(
                actor=actor,
                account_id=account_id,
                role=CustodyRole(data.role),
                to_employee_id=data.to_employee_id,
                revoke_old_grants=data.revoke_old_grants,
                note=data.note,
            )
        )

    @post(
        "/{account_id:int}/transfers/{transfer_id:int}/accept",
        opt={"action": "custody.respond"},
        guards=[object_guard(flows.check_responder)],
        status_code=200,
        responses=problems(404, 409),
    )
    async def accept(
        self,
        account_id: AccountId,
        transfer_id: ChildId,
        data: JSONBody[TransferAnswer],
        actor: ActorDep,
    ) -> TransferOut:
        """The new holder accepts custody."""
        return TransferOut(
            **await flows.respond(
                actor=actor,
                account_id=account_id,
                transfer_id=transfer_id,
                accept=True,
                note=data.note,
            )
        )

    @post(
        "/{account_id:int}/transfers/{transfer_id:int}/decline",
        opt={"action": "custody.respond"},
        guards=[object_guard(flows.check_responder)],
        status_code=200,
        responses=problems(404, 409),
    )
    async def decline(
        self,
        account_id: AccountId,
        transfer_id: ChildId,
        data: JSONBody[TransferAnswer],
        actor: ActorDep,
    ) -> TransferOut:
        """The new holder declines; custody goes back to the previous holder."""
        return TransferOut(
            **await flows.respond(
                actor=actor,
                account_id=account_id,
                transfer_id=transfer_id,
                accept=False,
                note=data.note,
            )
        )

    @get(
        "/{account_id:int}/credential", opt={"action": "credential.status"}, responses=problems(404)
    )
    async def credential_status(
        self, account_id: AccountId, settings: SettingsDep
    ) -> CredentialStatus:
        """Whether a credential is stored and when it was rotated; never the secrets."""
        return CredentialStatus(
            **await vault.credential_status(account_id=account_id, settings=settings)
        )

    @put(
        "/{account_id:int}/credential",
        opt={"action": "credential.use"},
        guards=[object_guard(vault.check_holder)],
        status_code=200,
        responses=problems(404, 409),
    )
    async def set_credential(
        self,
        request: Request[Any, Any, Any],
        account_id: AccountId,
        data: JSONBody[CredentialIn],
        actor: ActorDep,
        settings: SettingsDep,
    ) -> CredentialStatus:
        """Set or replace the credential (IT and the account's custodians); replacing records a rotation."""
        status = await vault.set_credential(
            actor=actor,
            keyring=_keyring(request),
            settings=settings,
            account_id=account_id,
            password=data.password,
            totp_seed=data.totp_seed,
            recovery_codes=data.recovery_codes,
        )
        return CredentialStatus(**status)

    @post(
        "/{account_id:int}/credential/reveal",
        opt={"action": "credential.use"},
        guards=[object_guard(vault.check_reveal)],
        status_code=200,
        responses=problems(404),
    )
    async def reveal(
        self,
        request: Request[Any, Any, Any],
        account_id: AccountId,
        data: JSONBody[RevealIn],
        actor: ActorDep,
    ) -> Response[Revealed]:
        """The plaintext credential, with a reason that is audited; never cached."""
        revealed = await vault.reveal(
            actor=actor, keyring=_keyring(request), account_id=account_id, reason=data.reason
        )
        return Response(Revealed(**revealed), headers=NO_STORE)

    @get(
        "/{account_id:int}/credential/totp",
        opt={"action": "credential.use"},
        responses=problems(404),
    )
    async def totp(
        self, request: Request[Any, Any, Any], account_id: AccountId, actor: ActorDep
    ) -> Response[TotpCode]:
        """The current TOTP sign-in code, without showing the seed."""
        code = await vault.totp_code(actor=actor, keyring=_keyring(request), account_id=account_id)
        return Response(TotpCode(**code), headers=NO_STORE)

    @post(
        "/{account_id:int}/recertify",
        opt={"action": "custody.recertify"},
        guards=[object_guard(flows.check_recertifier)],
        status_code=200,
        responses=problems(404, 409),
    )
    async def recertify(
        self, account_id: AccountId, data: JSONBody[RecertifyIn], actor: ActorDep
    ) -> RecertifyOut:
        """The custodian confirms custody and which active grants are still needed."""
        return RecertifyOut(
            **await flows.recertify(
                actor=actor,
                account_id=account_id,
                keep_grant_ids=data.keep_grant_ids,
                revoke_grant_ids=data.revoke_grant_ids,
                notes=data.notes,
            )
        )

    @get("/recertifications", opt={"action": "account.read"}, responses=problems())
    async def recertifications(
        self,
        settings: SettingsDep,
        which: Annotated[
            str,
            QueryParameter(
                name="state",
                pattern="^(due|overdue)$",
                description="due (within 30 days) or overdue",
            ),
        ] = "overdue",
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> RecertificationPage:
        """Accounts whose custody re-certification is due soon or overdue."""
        items, next_offset = await flows.recertification_list(
            settings=settings, state=which, limit=limit, offset=offset
        )
        return RecertificationPage(items=items, limit=limit, offset=offset, next_offset=next_offset)  # type: ignore[arg-type]

    @get("/risks", opt={"action": "account.read"}, responses=problems())
    async def risk_report(
        self,
        settings: SettingsDep,
        kind: Annotated[
            str | None, QueryParameter(max_length=60, description="Only this kind of finding.")
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> RiskReport:
        """Risk findings across the register, with totals per kind."""
        return RiskReport(
            **await risks.risk_report(settings=settings, kind=kind, limit=limit, offset=offset)
        )

    @get("/export.csv", opt={"action": "account.read"}, media_type="text/csv", responses=problems())
    async def export_csv(self) -> Response[str]:
        """The inventory as CSV for IT's spreadsheet (no secrets)."""
        body = await inventory.export_csv()
        return Response(
            body,
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="accounts.csv"'},
        )

    @post(
        "/imports",
        opt={"action": "account.write", "idempotent": True},
        status_code=200,
        responses=problems(409, 413),
        operation_class=Idempotent,
    )
    async def import_csv(
        self,
        data: Annotated[
            dict[str, Any],
            Body(
                media_type=RequestEncodingType.MULTI_PART,
                description="Fields: file (CSV), optional mapping (JSON object: your header -> field).",
            ),
        ],
        actor: ActorDep,
        settings: SettingsDep,
    ) -> InventorySummary:
        """Import IT's account spreadsheet, all or nothing; row errors carry line numbers."""
        upload = data.get("file")
        content = await upload.read() if isinstance(upload, UploadFile) else upload
        return InventorySummary(
            **await inventory.import_csv(
                actor=actor, settings=settings, content=content, mapping=data.get("mapping")
            )
        )


EmployeeId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
CONNECTIONS_FORM: dict[str, Any] = {
    "properties": {
        "file": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.BINARY,
            description="LinkedIn's Connections.csv, as downloaded (preamble, BOM and CRLF are fine).",
        )
    },
    "required": ["file"],
}


class EmployeeConnectionController(Controller):
    """One employee's LinkedIn connections: imports, the list, the successor export, state (HR)."""

    path = "/api/v1/employees/{employee_id:int}/connections"
    tags = ["connections"]

    @get("/", opt={"action": "connection.own"}, responses=problems(404))
    async def list_connections(
        self,
        employee_id: EmployeeId,
        actor: ActorDep,
        limit: Limit = 50,
        offset: Offset = 0,
        which: Annotated[
            ConnectionState | None, QueryParameter(name="state", description="Only this state.")
        ] = None,
        gone: Annotated[
            bool | None,
            QueryParameter(
                description="true: only those gone from the profile; false: only those still on it."
            ),
        ] = None,
    ) -> ConnectionPage:
        """The employee's connections by name (HR, admins, and the employee reading their own)."""
        items, next_offset = await connections.list_for_employee(
            actor=actor,
            employee_id=employee_id,
            limit=limit,
            offset=offset,
            state=which,
            gone=gone,
        )
        return msgspec.convert(
            {"items": items, "limit": limit, "offset": offset, "next_offset": next_offset},
            ConnectionPage,
        )

    @post(
        "/imports",
        opt={"action": "connection.write", "idempotent": True},
        status_code=200,
        responses=problems(404, 409, 413),
        operation_class=Idempotent,
    )
    async def import_file(
        self,
        employee_id: EmployeeId,
        data: Annotated[
            dict[str, Any],
            Body(
                media_type=RequestEncodingType.MULTI_PART,
                description="Field: file (the Connections.csv export).",
                schema_extra=CONNECTIONS_FORM,
            ),
        ],
        actor: ActorDep,
    ) -> Response[ConnectionImportResult]:
        """Import the employee's Connections.csv, all or nothing; row errors carry line numbers."""
        upload = data.get("file")
        content = await upload.read() if isinstance(upload, UploadFile) else upload
        filename = upload.filename if isinstance(upload, UploadFile) else ""
        result = await import_connections(
            actor=actor, employee_id=employee_id, content=content, filename=filename or ""
        )
        # The search index catches up after the answer; until then search scans the new rows.
        return Response(
            msgspec.convert(result, ConnectionImportResult),
            background=BackgroundTask(connections.index_pending),
        )

    @get("/imports", opt={"action": "connection.meta"}, responses=problems(404))
    async def list_imports(
        self, employee_id: EmployeeId, limit: Limit = 50, offset: Offset = 0
    ) -> ConnectionImportPage:
        """The employee's imports, newest first: file digest, layout and counts, never names."""
        items, next_offset = await connections.list_imports(
            employee_id=employee_id, limit=limit, offset=offset
        )
        return msgspec.convert(
            {"items": items, "limit": limit, "offset": offset, "next_offset": next_offset},
            ConnectionImportPage,
        )

    @get(
        "/export.csv",
        opt={"action": "connection.read"},
        media_type="text/csv",
        responses=problems(404),
    )
    async def export_csv(self, employee_id: EmployeeId, actor: ActorDep) -> Response[str]:
        """The employee's employer-owned connections in LinkedIn's columns, for a successor."""
        body = await connections.export_csv(actor=actor, employee_id=employee_id)
        return Response(
            body,
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="connections-{employee_id}.csv"',
                **NO_STORE,
            },
        )

    @post(
        "/state",
        opt={"action": "connection.write"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def set_state(
        self, employee_id: EmployeeId, data: JSONBody[ConnectionStateIn], actor: ActorDep
    ) -> ConnectionStateOut:
        """Record that the connections were exported to the successor, or their deletion attested."""
        return ConnectionStateOut(
            **await connections.set_state(
                actor=actor, employee_id=employee_id, state=data.state, note=data.note
            )
        )


class ConnectionController(Controller):
    """The register of connections across employees: search, counts, privacy requests."""

    path = "/api/v1/connections"
    tags = ["connections"]

    @get("/", opt={"action": "connection.read"}, responses=problems())
    async def search(
        self,
        limit: Limit = 50,
        offset: Offset = 0,
        q: Annotated[
            str | None,
            QueryParameter(
                max_length=200,
                description="Words found in the name, company or position, or in the owner's name.",
            ),
        ] = None,
        employee_id: Annotated[
            int | None, QueryParameter(ge=1, le=2**31 - 1, description="Only this owner's.")
        ] = None,
        which: Annotated[
            ConnectionState | None, QueryParameter(name="state", description="Only this state.")
        ] = None,
    ) -> ConnectionPage:
        """Search the register, newest first."""
        items, next_offset = await connections.search(
            limit=limit, offset=offset, q=q, employee_id=employee_id, state=which
        )
        return msgspec.convert(
            {"items": items, "limit": limit, "offset": offset, "next_offset": next_offset},
            ConnectionPage,
        )

    @get("/summary", opt={"action": "connection.meta"}, responses=problems())
    async def summary(self, limit: Limit = 50, offset: Offset = 0) -> ConnectionSummary:
        """Counts per employee and state (auditors see these, not names)."""
        return msgspec.convert(
            await connections.summary(limit=limit, offset=offset), ConnectionSummary
        )

    @post(
        "/subject-access",
        opt={"action": "connection.privacy"},
        status_code=200,
        responses=problems(),
    )
    async def subject_access(
        self, data: JSONBody[ConnectionSubject], actor: ActorDep
    ) -> Response[SubjectAccessOut]:
        """Everything held about one person, by profile URL or e-mail (sent in the body, not the URL)."""
        found = await connections.subject_access(
            actor=actor, profile_url=data.profile_url, email=data.email
        )
        return Response(msgspec.convert(found, SubjectAccessOut), headers=NO_STORE)

    @post("/erasure", opt={"action": "connection.privacy"}, status_code=200, responses=problems())
    async def erase(self, data: JSONBody[ConnectionSubject], actor: ActorDep) -> ErasureOut:
        """Erase one person everywhere; the audit trail records the erasure, not the values."""
        return ErasureOut(
            **await connections.erase(actor=actor, profile_url=data.profile_url, email=data.email)
        )


CONTROLLERS = [AccountController, EmployeeConnectionController, ConnectionController]
