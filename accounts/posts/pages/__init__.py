"""Post approval's pages: the lists, submitting with a photo, a post request's page, an account's
approval setting, and the home page's sections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from accounts.posts.pages._approval import ApprovalPages, account_section, home_sections
from accounts.posts.pages._common import NAV
from accounts.posts.pages._posts import PostPages, post_page

__all__ = [
    "ApprovalPages",
    "PostPages",
    "account_section",
    "home_sections",
    "post_page",
    "register_pages",
]


def register_pages(ext: Any) -> None:
    """Post approval's pages, menu entry, templates, home sections and the account page's section."""
    ext.add_controllers("posts", [PostPages, ApprovalPages])
    ext.nav_links.append(NAV)
    ext.template_dirs.append(Path(__file__).parent.parent / "templates")
    ext.home_sections.append(home_sections)
    ext.page_sections.setdefault("account", []).append(account_section)
