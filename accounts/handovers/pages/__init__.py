"""The handover's pages: HR's home, the checklist and its items, sign-off, the certificate, the
leaver's attestation, department templates and bulk leavers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from accounts.handovers.pages._attest import AttestationLinkPages
from accounts.handovers.pages._bulk import BulkPages
from accounts.handovers.pages._certificate import CertificatePages
from accounts.handovers.pages._checklist import HandoverPages, ItemPages
from accounts.handovers.pages._common import NAV
from accounts.handovers.pages._footprint import footprint_section
from accounts.handovers.pages._home import HandoverListPages, home_sections, person_sections
from accounts.handovers.pages._start import HandoverStartPages
from accounts.handovers.pages._templates import TemplatePages

__all__ = ["register_pages"]

# Each controller of the handover's pages, and the sections it adds to home and person pages.
CONTROLLERS: list[Any] = [
    HandoverListPages,
    HandoverStartPages,
    HandoverPages,
    ItemPages,
    AttestationLinkPages,
    CertificatePages,
    TemplatePages,
    BulkPages,
]
HOME_SECTIONS: list[Any] = [home_sections]
# The person's handover (or a button to start one) first: it is what HR comes to the page for.
PERSON_SECTIONS: list[Any] = [person_sections, footprint_section]
NAV_LINKS: list[Any] = [NAV]


def register_pages(ext: Any) -> None:
    """The handover's pages, menu entries, templates, home and person sections."""
    ext.add_controllers("handovers", CONTROLLERS)
    ext.nav_links.extend(NAV_LINKS)
    ext.template_dirs.append(Path(__file__).parent.parent / "templates")
    ext.home_sections.extend(HOME_SECTIONS)
    ext.person_sections.extend(PERSON_SECTIONS)
