"""The risk report page: the API's numbers as a chart drawn on the server and a table, and the list."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import httpx

from accounts.pages._reports import KIND_LABELS
from accounts.services import mark_rotation_due
from register.enums import Role
from tests.helpers import page_client

SVG = "{http://www.w3.org/2000/svg}"


class Tables(HTMLParser):
    """Every table of a page as rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def tables(html: str) -> list[list[list[str]]]:
    """The page's tables."""
    parser = Tables()
    parser.feed(html)
    return parser.tables


def chart_of(html: str) -> ET.Element:
    """The page's chart, parsed as XML: a page whose SVG is not well formed fails here."""
    found = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert found, "no chart on the page"
    return ET.fromstring(found.group(0))  # noqa: S314 - the register's own page, no entities


async def test_the_report_draws_the_apis_totals_and_lists_the_accounts_behind_them(
    app: Any, it: httpx.AsyncClient, make_account: Any, people: dict[str, int]
) -> None:
    """Every count on the page is the API's; a bar per kind found, each a link to its accounts."""
    weak = await make_account(mfa_method="sms")
    await make_account(backup_custodian_id=None, mfa_method="none")
    await make_account(custodian_id=people["cy"], recovery_email="someone@gmail.com")
    fine = await make_account(handle="all_is_well")
    await make_account(handle="retired_one", mfa_method="none")
    retired = (await it.get("/api/v1/accounts?q=retired_one")).json()["items"][0]
    await it.post(
        f"/api/v1/accounts/{retired['id']}/retire", json={"version": 1, "reason": "closed"}
    )
    api = (await it.get("/api/v1/accounts/risks")).json()
    found = {kind: n for kind, n in api["totals"].items() if n}
    assert found.keys() >= {"weak_mfa", "no_backup_custodian", "custodian_leaving"}

    hr = await page_client(app, Role.hr)
    try:
        page = await hr.get("/accounts/risks")
        assert page.status_code == 200 and "<h1>Risk report</h1>" in page.text
        assert "4 live accounts in the register." in page.text
        # The table: a row per kind, with its words, its severity in words, and the API's count.
        by_kind = tables(page.text)[0]
        assert by_kind[0] == ["Finding", "Accounts"]
        counts = {row[0]: int(row[1]) for row in by_kind[1:]}
        assert len(counts) == len(KIND_LABELS)
        for kind, label in KIND_LABELS.items():
            (shown,) = [n for words, n in counts.items() if f": {label} What to do:" in words]
            assert shown == api["totals"][kind], kind
        # The severity in words next to each kind, and what to do about it.
        assert (
            "High: Weak or no second factor What to do: Switch to an authenticator app, a "
            "hardware key or a passkey." in counts
        )
        assert '<th scope="col">Finding</th>' in page.text and '<th scope="row">' in page.text
        svg = chart_of(page.text)
        assert svg.get("role") == "group"
        title = svg.find(f"{SVG}title")
        assert title is not None and title.text == "Accounts by kind of finding"
        assert svg.get("aria-labelledby") == title.get("id")
        links = svg.findall(f"{SVG}a")
        bars = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "chart-bar"]
        assert len(links) == len(found) == len(bars)
        drawn = {
            link.get("href"): ["".join(t.itertext()) for t in link.iter(f"{SVG}text")]
            for link in links
        }
        for kind, n in found.items():
            label, value = drawn[f"/accounts/risks?kind={kind}#findings"]
            assert label.endswith(KIND_LABELS[kind]) and value == str(n)
            # The severity in words, not only the bar's colour.
            assert label.startswith(("High: ", "Medium: "))
        assert (
            drawn["/accounts/risks?kind=weak_mfa#findings"][0] == "High: Weak or no second factor"
        )
        # The list behind a bar: the accounts with that finding, and only those.
        behind = await hr.get("/accounts/risks?kind=weak_mfa")
        assert "Accounts with this finding: Weak or no second factor" in behind.text
        # Each account with its findings (the text after each item's start, up to the next).
        listed = behind.text.split('<li class="found-account">')[1:]
        assert len(listed) == api["totals"]["weak_mfa"] == 2
        assert f'href="/accounts/{weak["id"]}"' in behind.text
        assert f'href="/accounts/{fine["id"]}"' not in behind.text
        assert "retired_one" not in behind.text
        assert all(
            "<strong>High:</strong> No second factor, or SMS only" in item for item in listed
        )
        wrong = await hr.get("/accounts/risks?kind=nonsense")
        assert wrong.status_code == 422 and "text/html" in wrong.headers["content-type"]
    finally:
        await hr.aclose()


async def test_an_empty_register_says_so_and_draws_nothing(app: Any) -> None:
    """No account, no finding: the page says it in words and draws no chart."""
    auditor = await page_client(app, Role.auditor)
    try:
        page = await auditor.get("/accounts/risks")
        assert page.status_code == 200 and "<svg" not in page.text
        assert page.text.count("No account has a risk finding.") == 2
        assert "0 live accounts in the register." in page.text
    finally:
        await auditor.aclose()


async def test_it_reaches_the_report_and_rotation_dues_from_the_list_and_home(
    app: Any, it: httpx.AsyncClient, make_account: Any
) -> None:
    """The list links the report; IT's home names credentials due for rotation, linked to them."""
    account = await make_account()
    await it.put(f"/api/v1/accounts/{account['id']}/credential", json={"password": "old-one-1"})
    assert await mark_rotation_due(account_id=account["id"], reason="a holder left")
    c = await page_client(app, Role.it)
    try:
        listing = await c.get("/accounts")
        assert '<a href="/accounts/risks">Risk report</a>' in listing.text
        assert '<a href="/accounts/inventory">Inventory: export and import</a>' in listing.text
        home = await c.get("/")
        assert (
            '<a href="/accounts?risk=rotation_due">1 account: Rotate the credential and store '
            "the new one in the vault.</a>"
        ) in home.text
        due = await c.get("/accounts?risk=rotation_due")
        assert f'href="/accounts/{account["id"]}"' in due.text
    finally:
        await c.aclose()
