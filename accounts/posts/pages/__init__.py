"""Post approval's pages."""

from __future__ import annotations

from typing import Any


def register_pages(ext: Any) -> None:
    """Post approval's pages, menu entry, templates and home sections."""
