"""The account list, an account's page, answering a custody transfer, and IT's home sections."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Template
from markupsafe import Markup

from accounts import flows, services
from accounts.enums import AccountStatus, Platform
from accounts.pages._common import (
    ADVICE,
    LEVELS,
    MFA,
    PAGE_SIZE,
    PLATFORMS,
    SEVERITIES,
    STATUSES,
    Choice,
    chosen,
)
from accounts.pages._vault import vault_of
from register.access import allowed
from register.actor import Actor
from register.enums import Role
from register.extensions import extensions
from register.i18n import N_
from register.openapi import ActorDep, Id, SettingsDep
from register.pages import FilterId, Form, chosen_id, page, reader_of, redirect, render
from register.settings import Settings
from register.staff.services import employee_names

# How many of each kind of work a home page lists before "and more".
HOME_ITEMS = 5
# Words every row of the list may show.
NO_BACKUP, NO_RISK = N_("none"), N_("None")


def account_rows(
    accounts: list[dict[str, Any]],
    findings: Mapping[int, list[dict[str, str]]],
    names: Mapping[int, str],
    words: Mapping[str, Mapping[str, str]],
) -> Markup:
    """The list's table rows: written here, not in the template, as it is the list's hot loop.

    Fifty rows took Jinja about a thousand escapes, fifteen hundred lookups and two thousand
    yields, half of what the page cost; one f-string a row does the same in a fifth of the time.
    Every value from the register is escaped; `words` are the reader's translated labels
    (platforms, statuses, severities, kinds, and the "none" words).
    """
    # Labels, people's links and findings repeat from row to row: each escaped once here.
    platforms = {k: escape(v) for k, v in words["platforms"].items()}
    statuses = {k: escape(v) for k, v in words["statuses"].items()}
    severities, kinds, empty = words["severities"], words["kinds"], words["empty"]
    holders = {
        int(i): f'<a href="/accounts?custodian_id={int(i)}">{escape(name)}</a>'
        for i, name in names.items()
        if i
    }
    no_backup = f'<span class="hint">{escape(empty["backup"])}</span>'
    no_risk = f'<span class="ok-text">{escape(empty["risk"])}</span>'
    risk_items: dict[tuple[str, str], str] = {}

    def risk(f: Mapping[str, str]) -> str:
        key = (f["severity"], f["kind"])
        item = risk_items.get(key)
        if item is None:
            item = risk_items[key] = (
                f'<li class="risk risk-{escape(key[0])}"><strong>'
                f"{escape(severities[key[0]])}:</strong> {escape(kinds[key[1]])}</li>"
            )
        return item

    out = []
    for a in accounts:
        found = findings.get(a["id"])
        risks = f'<ul class="risks">{"".join(map(risk, found))}</ul>' if found else no_risk
        shown = f" · {escape(a['display_name'])}" if a["display_name"] else ""
        custodian = holders.get(a["custodian_id"], "") if a["custodian_id"] else ""
        backup = holders.get(a["backup_custodian_id"], "") if a["backup_custodian_id"] else ""
        out.append(
            f'<tr>\n<th scope="row"><a href="/accounts/{int(a["id"])}">{escape(a["handle"])}</a><br>'
            f'<span class="hint">{platforms[a["platform"]]}{shown}</span></th>\n'
            f"<td>{custodian}</td>\n<td>{backup or no_backup}</td>\n"
            f"<td>{statuses[a['status']]}</td>\n<td>{risks}</td>\n</tr>\n"
        )
    # Each value above went through html.escape; the markup around them is this function's own.
    return Markup("".join(out))  # noqa: S704


class AccountPages(Controller):
    """The register of corporate social accounts, in the browser."""

    path = "/accounts"
    include_in_schema = False

    @get("/", opt=page("account.read", replica_reads=True))
    async def list_accounts(
        self,
        request: Request[Any, Any, Any],
        settings: SettingsDep,
        platform: Choice = "",
        status: Choice = "",
        risk: Choice = "",
        custodian_id: FilterId = "",
        q: Annotated[
            str | None, QueryParameter(max_length=200, pattern="^[^\\x00-\\x1f]*$")
        ] = None,
        offset: Annotated[int, QueryParameter(ge=0, le=10**9)] = 0,
    ) -> Template:
        """Accounts filtered and searched, with their risks in words, and who holds them by name."""
        holder_id = chosen_id(custodian_id)
        # A form sends every select, the unchosen ones empty.
        accounts, next_offset = await services.list_accounts(
            limit=PAGE_SIZE,
            offset=offset,
            platform=chosen(platform, Platform, "platform"),
            status=chosen(status, AccountStatus, "status"),
            custodian_id=holder_id,
            risk=risk or None,
            q=q,
            settings=settings,
        )
        findings = await services.findings_for([a["id"] for a in accounts], settings)
        names = await employee_names(
            [a["custodian_id"] for a in accounts]
            + [a["backup_custodian_id"] for a in accounts]
            + [holder_id]
        )
        reader = reader_of(request)
        kinds = reader.labels({k.name: k.message for k in services.KINDS})
        filters = {
            "platform": platform,
            "status": status,
            "risk": risk or "",
            "q": q or "",
            "custodian_id": holder_id or "",
        }
        return render(
            request,
            "accounts/list.html",
            title=N_("Accounts"),
            accounts=accounts,
            rows=account_rows(
                accounts,
                findings,
                names,
                {
                    "platforms": reader.labels(PLATFORMS),
                    "statuses": reader.labels(STATUSES),
                    "severities": reader.labels(SEVERITIES),
                    "kinds": kinds,
                    "empty": {"backup": reader.gettext(NO_BACKUP), "risk": reader.gettext(NO_RISK)},
                },
            ),
            filters=filters,
            holder=names.get(holder_id) if holder_id else None,
            offset=offset,
            next_offset=next_offset,
            page_size=PAGE_SIZE,
            platforms=reader.labels(PLATFORMS),
            statuses=reader.labels(STATUSES),
            kinds=kinds,
        )

    @get("/{account_id:int}", opt=page("account.read"))
    async def account(
        self,
        request: Request[Any, Any, Any],
        account_id: Id,
        settings: SettingsDep,
        actor: ActorDep,
    ) -> Template:
        """One account: who holds it, who can get in, how it is recovered, what is wrong."""
        account = await services.get_account(account_id=account_id)
        grants = await services.list_grants(account_id=account_id, active=None)
        transfers = await flows.list_transfers(account_id=account_id)
        credential = (
            await services.credential_status(
                account_id=account_id, settings=settings, account_read=True
            )
            if actor.role is not None and allowed("credential.status", actor.role)
            else None
        )
        findings = (await services.findings_for([account_id], settings)).get(account_id, [])
        names = await employee_names(
            [account["custodian_id"], account["backup_custodian_id"], account["mfa_holder_id"]]
            + [g["employee_id"] for g in grants]
            + [t["to_employee_id"] for t in transfers]
            + [t["from_employee_id"] for t in transfers]
        )
        # What the parts above add to an account's page (its posts' approval).
        extensions.load()
        sections: list[dict[str, Any]] = []
        for source in extensions.page_sections.get("account", []):
            sections.extend(await source(actor, settings, account_id))
        return render(
            request,
            "accounts/account.html",
            sections=sections,
            title=account["handle"],
            translate_title=False,
            account=account,
            grants=grants,
            transfers=transfers,
            credential=credential,
            vault=await vault_of(actor, account, settings, credential),
            findings=findings,
            names=names,
            platforms=PLATFORMS,
            statuses=STATUSES,
            mfa=MFA,
            levels=LEVELS,
            level_words=reader_of(request).labels(LEVELS),
            advice=ADVICE,
            answered=request.query_params.get("answered", ""),
        )

    @post("/{account_id:int}/transfers/{transfer_id:int}/answer", opt=page("custody.respond"))
    async def answer_transfer(
        self, account_id: Id, transfer_id: Id, data: Form, actor: ActorDep
    ) -> Response[Any]:
        """Accept or decline custody offered to you; back to the page you answered from."""
        accept = data.get("answer") == "accept"
        await flows.respond(
            actor=actor,
            account_id=account_id,
            transfer_id=transfer_id,
            accept=accept,
            note=str(data.get("note") or "")[:1000],
        )
        return redirect(f"/accounts/{account_id}?answered={'accepted' if accept else 'declined'}")


async def home_sections(actor: Actor, settings: Settings) -> list[dict[str, Any]]:
    """What the account register asks of this reader now: transfers to answer; IT's risks and dues."""
    sections: list[dict[str, Any]] = []
    # The staff role answers no custody offer (it reads no account): the section is not theirs.
    if actor.employee_id is not None and allowed("custody.respond", actor.role):
        waiting = await flows.transfers_awaiting(employee_id=actor.employee_id)
        if waiting:
            accounts = await services.account_handles(sorted({t["account_id"] for t in waiting}))
            sections.append(
                {
                    "title": N_("Custody offered to you"),
                    "template": "accounts/_transfers_waiting.html",
                    "transfers": waiting,
                    "accounts": accounts,
                    # Who hands it over says why it is offered (a leaver's handover, a move).
                    "from_names": await employee_names([t["from_employee_id"] for t in waiting]),
                    "platforms": PLATFORMS,
                }
            )
    if actor.role in (Role.admin, Role.it):
        report = await services.risk_report(settings=settings, kind=None, limit=1, offset=0)
        at_risk = [(kind, n) for kind, n in report["totals"].items() if n]
        sections.append(
            {
                "title": N_("Accounts at risk"),
                "template": "accounts/_risks_home.html",
                "at_risk": at_risk,
                "advice": ADVICE,
            }
        )
        sections.append(await _custody_home(settings))
    return sections


async def _custody_home(settings: Settings) -> dict[str, Any]:
    """IT's custody work: re-certifications overdue and due within 30 days, transfers unanswered."""
    overdue, more_overdue = await flows.recertification_list(
        settings=settings, state="overdue", limit=HOME_ITEMS, offset=0
    )
    due, more_due = await flows.recertification_list(
        settings=settings, state="due", limit=HOME_ITEMS, offset=0
    )
    pending, pending_count = await flows.transfers_pending(limit=HOME_ITEMS)
    handles = await services.account_handles(sorted({t["account_id"] for t in pending}))
    names = await employee_names(
        [t["to_employee_id"] for t in pending] + [a["custodian_id"] for a in overdue + due]
    )
    return {
        "title": N_("Custody to look after"),
        "template": "accounts/_custody_home.html",
        "overdue": overdue,
        "more_overdue": more_overdue is not None,
        "due": due,
        "more_due": more_due is not None,
        "pending": pending,
        "pending_count": pending_count,
        "handles": handles,
        "names": names,
    }
