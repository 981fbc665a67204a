"""The incident pages: comms' board, filing, the incident page, legal's view, the list, metrics,
playbooks, and the public confidential report form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from incidents.pages._board import BoardPages, home_sections
from incidents.pages._common import NAV
from incidents.pages._evidence import EvidencePages
from incidents.pages._file import FilePages
from incidents.pages._incident import IncidentPages
from incidents.pages._list import ListPages
from incidents.pages._metrics import MetricsPages
from incidents.pages._mine import my_tasks_section
from incidents.pages._playbooks import PLAYBOOKS_LINK, PlaybookPages
from incidents.pages._posts import PostLinkPages, post_request_section
from incidents.pages._report import ReportPages
from incidents.pages._review import ReviewPages

__all__ = ["register_pages"]

# Each controller of the incident pages, and the sections it adds to home and person pages.
CONTROLLERS: list[Any] = [IncidentPages, EvidencePages, ReviewPages, PlaybookPages]
HOME_SECTIONS: list[Any] = []
PERSON_SECTIONS: list[Any] = []
NAV_LINKS: list[Any] = [PLAYBOOKS_LINK]

# Comms' board, filing, the list, reviews, legal's queue, metrics, and the public report form.
CONTROLLERS += [BoardPages, FilePages, ListPages, MetricsPages, ReportPages]
# A post request's page shows the incidents about it (the posts part sits below incidents).
CONTROLLERS.append(PostLinkPages)
# The reader's own tasks come before the board: they are what only this person can do.
HOME_SECTIONS += [my_tasks_section, home_sections]
NAV_LINKS.append(NAV)


def register_pages(ext: Any) -> None:
    """The incident pages, menu entries, templates, home and person sections."""
    ext.add_controllers("incidents", CONTROLLERS)
    ext.nav_links.extend(NAV_LINKS)
    ext.template_dirs.append(Path(__file__).parent.parent / "templates")
    ext.home_sections.extend(HOME_SECTIONS)
    ext.person_sections.extend(PERSON_SECTIONS)
    ext.page_sections.setdefault("post_request", []).append(post_request_section)
