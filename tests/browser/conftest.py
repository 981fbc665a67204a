"""Browser suites: Debian's Chromium driven by Playwright against `register serve` on loopback.

Chromium comes from Debian's package (`.ci/run` installs it); Playwright cannot download its own
here. Without the browser these suites are skipped loudly, and under CI=true they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from register.settings import Settings
from tests.cli import free_port, serve_until_up, stop_server

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA: the bar the pages are held to.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# Every page checked in this run: name -> rules that passed, and what failed at any impact.
AXE_RESULTS: dict[str, dict[str, Any]] = {}
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


async def check_accessibility(page: Any, name: str) -> None:
    """axe-core on the page as it is now: no serious or critical WCAG 2.2 A/AA violation."""
    # Judged as the person sees it: a page checked right after a click may not have its
    # stylesheet yet, and unstyled menu links are smaller than the 24 px targets they become.
    await page.wait_for_load_state("load")
    # Evaluated through the DevTools protocol, so the page's CSP (script-src 'self') allows it.
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text())
    result = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    found = [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "where": [" ".join(n["target"]) for n in v["nodes"][:5]],
        }
        for v in result["violations"]
    ]
    AXE_RESULTS[name] = {
        "url": page.url,
        "passed_rules": len(result["passes"]),
        "violations": found,
    }
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, f"accessibility violations on {name} ({page.url}):\n" + json.dumps(
        bad, indent=1
    )


async def shoot(page: Any, name: str) -> None:
    """Screenshots of the page as it is now, at phone and at laptop width, each checked by axe."""
    SCREENSHOTS.mkdir(exist_ok=True)
    backend = os.environ.get("REGISTER_TEST_DATABASE", "sqlite")
    for label, size in (("phone", PHONE), ("laptop", LAPTOP)):
        await page.set_viewport_size(size)
        await page.screenshot(path=SCREENSHOTS / f"{name}-{label}-{backend}.png", full_page=True)
        await check_accessibility(page, f"{name}-{label}")
    await page.set_viewport_size(LAPTOP)


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: Any, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """Playwright's page, and whatever the test left on it (an htmx swap too) checked by axe."""
    opened = await context.new_page()
    yield opened
    if getattr(request.node, "rep_call_failed", True) or opened.is_closed():
        return
    if opened.url.startswith("http"):
        await check_accessibility(opened, f"{request.node.originalname}-last")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember whether the test itself failed, so the last check does not pile on."""
    report = yield
    if report.when == "call":
        item.rep_call_failed = report.failed  # type: ignore[attr-defined]
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Each page's axe result, for the record (tests/screenshots/axe-<database>.json)."""
    if AXE_RESULTS:
        SCREENSHOTS.mkdir(exist_ok=True)
        backend = os.environ.get("REGISTER_TEST_DATABASE", "sqlite")
        target = SCREENSHOTS / f"axe-{backend}.json"
        target.write_text(json.dumps(AXE_RESULTS, indent=1, sort_keys=True))
