"""The accessibility check itself: the vendored axe-core is the published file, and it can fail."""

from __future__ import annotations

import hashlib
import json

import pytest
from playwright.async_api import Page

from tests.browser.conftest import AXE, check_accessibility


def test_axe_core_is_the_published_file() -> None:
    """axe.min.js and its licence are byte for byte what VENDORED.json records."""
    vendored = json.loads((AXE.parent / "VENDORED.json").read_text())
    assert vendored["version"].startswith("4.")
    for name, entry in vendored["files"].items():
        assert hashlib.sha256((AXE.parent / name).read_bytes()).hexdigest() == entry["sha256"]


async def test_a_page_with_serious_violations_fails_the_check(page: Page) -> None:
    """An unlabelled input and an image without text are caught (a check that cannot fail is none)."""
    await page.set_content(
        '<html lang="en"><title>t</title><main><h1>t</h1>'
        '<input type="text"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></html>'
    )
    with pytest.raises(AssertionError) as failed:
        await check_accessibility(page, "deliberately-broken")
    assert "image-alt" in str(failed.value)
    assert "label" in str(failed.value)
