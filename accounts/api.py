"""HTTP controllers of the account register: accounts, grants, custody, the vault, risks, inventory."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery, JSONBody, PathParameter, QueryParameter
from msgspec import UNSET, structs

from accounts import files as inventory
from accounts import flows, services
from accounts.enums import AccountStatus, CustodyRole, Platform
from accounts.schemas import (
    AccountCreate,
    AccountOut,
    AccountPage,
    AccountUpdate,
    CredentialIn,
    CredentialStatus,
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
    TotpCode,
    TransferAnswer,
    TransferCreate,
    TransferOut,
)
from register.access import object_guard
from register.openapi import (
    NO_STORE,
    ActorDep,
    Idempotent,
    Limit,
    Offset,
    SettingsDep,
    Text,
    problems,
)
from register.settings import Settings

AccountId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]


ChildId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]


def _keyring(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.keyring.get()


async def _account_out(account: dict[str, Any], settings: Settings) -> AccountOut:
    found = (await services.findings_for([account["id"]], settings)).get(account["id"], [])
    return AccountOut(**account, risks=found)


async def _answer(
    actor: Any, account_id: int, transfer_id: int, data: TransferAnswer, *, accept: bool
) -> TransferOut:
    """The new holder's answer to a custody transfer."""
    answered = await flows.respond(
        actor=actor, account_id=account_id, transfer_id=transfer_id, accept=accept, note=data.note
    )
    return TransferOut(**answered)


class AccountController(Controller):
    """The register of corporate social accounts (IT)."""

    path = "/api/v1/accounts"
    tags = ["accounts"]

    @get("/", opt={"action": "account.read", "replica_reads": True}, responses=problems())
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
        department: Text(200) = None,
        risk: Text(60, "A risk kind, e.g. no_backup_custodian.") = None,
        q: Text(200, "Text in handle, display name or purpose.") = None,
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
        found = await services.findings_for([a["id"] for a in items], settings)
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
        return await _answer(actor, account_id, transfer_id, data, accept=True)

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
        return await _answer(actor, account_id, transfer_id, data, accept=False)

    @get(
        "/{account_id:int}/credential", opt={"action": "credential.status"}, responses=problems(404)
    )
    async def credential_status(
        self, account_id: AccountId, settings: SettingsDep
    ) -> CredentialStatus:
        """Whether a credential is stored and when it was rotated; never the secrets."""
        return CredentialStatus(
            **await services.credential_status(account_id=account_id, settings=settings)
        )

    @put(
        "/{account_id:int}/credential",
        opt={"action": "credential.use"},
        guards=[object_guard(services.check_holder)],
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
        status = await services.set_credential(
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
        guards=[object_guard(services.check_reveal)],
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
        revealed = await services.reveal(
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
        code = await services.totp_code(
            actor=actor, keyring=_keyring(request), account_id=account_id
        )
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

    @get(
        "/recertifications",
        opt={"action": "account.read", "replica_reads": True},
        responses=problems(),
    )
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

    @get("/risks", opt={"action": "account.read", "replica_reads": True}, responses=problems())
    async def risk_report(
        self,
        settings: SettingsDep,
        kind: Text(60, "Only this kind of finding.") = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> RiskReport:
        """Risk findings across the register, with totals per kind."""
        return RiskReport(
            **await services.risk_report(settings=settings, kind=kind, limit=limit, offset=offset)
        )

    @get(
        "/export.csv",
        opt={"action": "account.read", "replica_reads": True},
        media_type="text/csv",
        responses=problems(),
    )
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
                description="Fields: file (CSV), optional mapping (JSON object: your header -> "
                "field), dry_run=true to see what it would change and write nothing, expect_plan "
                "(a dry run's plan) to apply it only if it still changes exactly that (else 409).",
            ),
        ],
        actor: ActorDep,
        settings: SettingsDep,
    ) -> InventorySummary:
        """Import IT's account spreadsheet, all or nothing; row errors carry line numbers."""
        upload = data.get("file")
        content = await upload.read() if isinstance(upload, UploadFile) else upload
        expect = data.get("expect_plan")
        return InventorySummary(
            **await inventory.import_csv(
                actor=actor,
                settings=settings,
                content=content,
                mapping=data.get("mapping"),
                dry_run=str(data.get("dry_run") or "").lower() in ("true", "1", "yes"),
                expect_plan=str(expect) if expect else None,
            )
        )


CONTROLLERS = [AccountController]
