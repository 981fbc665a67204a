"""The connections register's pages: the LinkedIn upload and its summary, a person's
connections, search, the export for a successor, subject access and erasure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from accounts.connections.pages._common import NAV
from accounts.connections.pages._people import PersonConnectionPages, person_section
from accounts.connections.pages._privacy import PrivacyPages
from accounts.connections.pages._register import ConnectionPages

__all__ = ["register_pages"]

# Each controller of the connections register's pages, and the sections it adds to home and person pages.
CONTROLLERS: list[Any] = [ConnectionPages, PersonConnectionPages, PrivacyPages]
HOME_SECTIONS: list[Any] = []
PERSON_SECTIONS: list[Any] = [person_section]
NAV_LINKS: list[Any] = [NAV]


def register_pages(ext: Any) -> None:
    """the connections register's pages, menu entries, templates, home and person sections."""
    ext.add_controllers("connections", CONTROLLERS)
    ext.nav_links.extend(NAV_LINKS)
    ext.template_dirs.append(Path(__file__).parent.parent / "templates")
    ext.home_sections.extend(HOME_SECTIONS)
    ext.person_sections.extend(PERSON_SECTIONS)
