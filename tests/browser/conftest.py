"""Browser suites: Debian's Chromium driven by Playwright against `register serve` on loopback.

Chromium comes from Debian's package (`.ci/run` installs it); Playwright cannot download its own
here. Without the browser these suites are skipped loudly, and under CI=true they fail instead.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from register.settings import Settings
from tests.cli import free_port, serve_until_up, stop_server

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
PHONE = {"width": 320, "height": 720}
LAPTOP = {"width": 1366, "height": 900}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """No browser: fail under CI, else skip these suites with a warning nobody can miss."""
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    warnings.warn(
        f"BROWSER TESTS SKIPPED: {CHROMIUM} is missing (apt-get install -y chromium)",
        stacklevel=1,
    )
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    """Debian's Chromium, headless, with nothing that reaches for the network by itself."""
    return {
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
async def server(app: Any, settings: Settings) -> AsyncIterator[str]:
    """The register served on a free loopback port, on this test's database; its base URL."""
    port = free_port()
    proc, _ = await serve_until_up(
        settings, port, REGISTER_ALLOWED_HOSTS="127.0.0.1", REGISTER_WORKER_IN_PROCESS="false"
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop_server(proc)


async def shoot(page: Any, name: str) -> None:
    """Screenshots of the page as it is now, at phone and at laptop width (looked at by people)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    backend = os.environ.get("REGISTER_TEST_DATABASE", "sqlite")
    for label, size in (("phone", PHONE), ("laptop", LAPTOP)):
        await page.set_viewport_size(size)
        await page.screenshot(path=SCREENSHOTS / f"{name}-{label}-{backend}.png", full_page=True)
    await page.set_viewport_size(LAPTOP)
