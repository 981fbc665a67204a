"""The account register's pages: the list, an account's page, custody answers, IT's home, the
vault, the risk report and the inventory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from accounts.pages._browse import AccountPages, home_sections
from accounts.pages._common import NAV
from accounts.pages._custody import CustodyPages
from accounts.pages._edit import AccountEditPages
from accounts.pages._inventory import InventoryPages
from accounts.pages._reports import ReportPages
from accounts.pages._vault import VaultPages

__all__ = [
    "AccountPages",
    "InventoryPages",
    "ReportPages",
    "VaultPages",
    "home_sections",
    "register_pages",
]

# Each controller of the account register's pages (all under /accounts).
CONTROLLERS = [
    AccountPages,
    AccountEditPages,
    CustodyPages,
    VaultPages,
    ReportPages,
    InventoryPages,
]


def register_pages(ext: Any) -> None:
    """The account register's pages, menu entry, templates and home sections."""
    ext.add_controllers("accounts", CONTROLLERS)
    ext.nav_links.append(NAV)
    ext.template_dirs.append(Path(__file__).parent.parent / "templates")
    ext.home_sections.append(home_sections)
