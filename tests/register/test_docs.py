"""The API documentation pages: every asset served by the register itself, vendored as recorded."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

from register.access import PUBLIC, action_of
from register.openapi import DOCS_ASSETS

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["/schema", "/schema/swagger", "/schema/redoc"]
REFERENCE = re.compile(r"""\b(?:src|href|spec-url|data-spec-url)\s*=\s*["']([^"']*)["']""")
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("page", PAGES)
async def test_a_docs_page_loads_only_assets_the_register_serves(
    client: httpx.AsyncClient, page: str
) -> None:
    """Offline, a page that loads from a CDN is blank: every script, style, icon and the
    document itself come from the register, and each of them is served."""
    resp = await client.get(page)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    refs = REFERENCE.findall(resp.text)
    assert any(r.endswith(".js") for r in refs) and "/schema/openapi.json" in refs, refs
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), f"{page} loads {ref}"
        asset = await client.get(ref)
        assert asset.status_code == 200, f"{page}: {ref} is {asset.status_code}"
        expected = CONTENT_TYPES.get(Path(ref).suffix)
        if expected:
            assert asset.headers["content-type"].startswith(expected), asset.headers
    assert "http://" not in resp.text and "https://" not in resp.text


@pytest.mark.parametrize("page", PAGES)
async def test_a_docs_page_runs_under_a_same_origin_csp(
    client: httpx.AsyncClient, page: str
) -> None:
    """No inline script (the viewers start from files), so the CSP allows this origin's only."""
    resp = await client.get(page)
    csp = resp.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'none'"
    assert "http" not in csp
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", resp.text, re.S)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert resp.headers["x-content-type-options"] == "nosniff"


async def test_an_unknown_asset_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/schema/assets/nothing-here.js")).status_code == 404
    assert (await client.get("/schema/assets/../openapi.py")).status_code == 404


def _manifest() -> dict:
    return json.loads((DOCS_ASSETS / "VENDORED.json").read_text())


def test_vendored_files_are_as_recorded() -> None:
    """Each vendored file has the SHA-256 its record gives, with its package's version and licence."""
    listed = set()
    for name, package in _manifest()["packages"].items():
        assert package["version"] and package["license"] and package["tarball_sha256"]
        for license_file in package["license_files"]:
            assert license_file in package["files"], (name, license_file)
        for filename, record in package["files"].items():
            path = DOCS_ASSETS / name / filename
            assert hashlib.sha256(path.read_bytes()).hexdigest() == record["sha256"], path
            listed.add(path)
    vendored = {p for p in DOCS_ASSETS.rglob("*") if p.is_file() and p.parent != DOCS_ASSETS}
    assert vendored == listed, "files not recorded in VENDORED.json: " + str(vendored - listed)


def test_the_docs_assets_are_package_data() -> None:
    """An installed register serves the same pages: every asset is in the package data."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["register"]
    package = ROOT / "register"
    # setuptools expands the patterns as glob does: `*` stays within one folder.
    packaged = {path for pattern in patterns for path in package.glob(pattern) if path.is_file()}
    assets = {path for path in DOCS_ASSETS.rglob("*") if path.is_file()}
    assert assets and assets <= packaged, sorted(str(p) for p in assets - packaged)


PUBLIC_OPERATIONS = {
    ("get", "/health"),
    ("get", "/ready"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/incidents/intake"),
}


async def test_the_document_marks_public_operations_open_and_the_rest_signed_in(
    app: Any, client: httpx.AsyncClient
) -> None:
    """Operations open without sign-in say `security: []`; every other one keeps the document's
    bearer-or-session requirement. A scanner that trusts the document must see which is which."""
    document = (await client.get("/schema/openapi.json")).json()
    assert document["security"] == [{"bearer": []}, {"session": []}]
    public = {
        (method, path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and operation.get("security") == []
    }
    assert public == PUBLIC_OPERATIONS
    # The routes whose action is public in the role table are exactly those.
    declared = {
        (method.lower(), route.path_format)
        for route in app.routes
        if not route.path.startswith("/schema")
        for handler in getattr(route, "route_handlers", [])
        if action_of(handler) == PUBLIC and handler.resolve_include_in_schema()
        for method in handler.http_methods
    }
    assert declared == PUBLIC_OPERATIONS
