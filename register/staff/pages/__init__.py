"""The staff directory's pages: the list, a person's page, add and edit, a leaving date, the CSV
import, and the person picker every form uses to choose someone by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from register.staff.pages._common import NAV
from register.staff.pages._directory import DirectoryPages
from register.staff.pages._edit import EditPages
from register.staff.pages._import import ImportPages
from register.staff.pages._picker import PICKER_PATH, StaffPages, person, refusal

__all__ = [
    "PICKER_PATH",
    "DirectoryPages",
    "EditPages",
    "ImportPages",
    "StaffPages",
    "person",
    "refusal",
    "register_pages",
]

# Each controller of the staff directory's pages (all under /staff).
CONTROLLERS = [StaffPages, DirectoryPages, EditPages, ImportPages]


def register_pages(ext: Any) -> None:
    """The staff directory's pages, menu entry and templates."""
    ext.add_controllers("staff", CONTROLLERS)
    ext.nav_links.append(NAV)
    ext.template_dirs.append(Path(__file__).parent.parent / "templates")
