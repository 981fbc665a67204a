"""The incident pages: comms' board, filing, the incident page, legal's view, the list, metrics,
playbooks, and the public confidential report form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from incidents.pages._evidence import EvidencePages
from incidents.pages._incident import IncidentPages
from incidents.pages._playbooks import PLAYBOOKS_LINK, PlaybookPages
from incidents.pages._review import ReviewPages

__all__ = ["register_pages"]

# Each controller of the incident pages, and the sections it adds to home and person pages.
CONTROLLERS: list[Any] = [IncidentPages, EvidencePages, ReviewPages, PlaybookPages]
HOME_SECTIONS: list[Any] = []
PERSON_SECTIONS: list[Any] = []
NAV_LINKS: list[Any] = [PLAYBOOKS_LINK]


def register_pages(ext: Any) -> None:
    """The incident pages, menu entries, templates, home and person sections."""
    ext.add_controllers("incidents", CONTROLLERS)
    ext.nav_links.extend(NAV_LINKS)
    ext.template_dirs.append(Path(__file__).parent.parent / "templates")
    ext.home_sections.extend(HOME_SECTIONS)
    ext.person_sections.extend(PERSON_SECTIONS)
