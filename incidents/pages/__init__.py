"""The incident pages: comms' board, filing, the incident page, legal's view, the list, metrics,
playbooks, and the public confidential report form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["register_pages"]

# Each controller of the incident pages, and the sections it adds to home and person pages.
CONTROLLERS: list[Any] = []
HOME_SECTIONS: list[Any] = []
PERSON_SECTIONS: list[Any] = []
NAV_LINKS: list[Any] = []


def register_pages(ext: Any) -> None:
    """The incident pages, menu entries, templates, home and person sections."""
    ext.add_controllers("incidents", CONTROLLERS)
    ext.nav_links.extend(NAV_LINKS)
    ext.template_dirs.append(Path(__file__).parent.parent / "templates")
    ext.home_sections.extend(HOME_SECTIONS)
    ext.person_sections.extend(PERSON_SECTIONS)
