"""The identity provider peer: `oidc-provider` from npm, run by the machine's Node.js on loopback.

The package is installed once per package.json (its SHA-256 names the folder) into
~/.cache/register-test-peers/, outside the repository and the project's runtime. Without Node.js
or the npm registry the tests that need it are skipped loudly, except under CI=true, where they fail.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from tests.cli import free_port

PEER = Path(__file__).parent / "oidc"
NODE = "/usr/bin/node"
CACHE = Path.home() / ".cache" / "register-test-peers"
CLIENT_ID = "register"
TAMPERED_CLIENT_ID = "register-tampered"
CLIENT_SECRET = "peer-client-secret-for-tests-only"
# Two people in two groups: Alice's maps to a role (IT), Bob's to none.
USERS = {
    "alice": {
        "email": "alice@example.com",
        "email_verified": True,
        "name": "Alice Provider",
        "groups": ["Register IT", "Everyone"],
    },
    "bob": {
        "email": "bob@example.com",
        "email_verified": True,
        "name": "Bob Provider",
        "groups": ["Marketing", "Everyone"],
    },
}
GROUP_ROLES = (("Register IT", "it"),)
SCOPES = "openid email profile groups"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the OpenID Connect peer is needed under CI: {reason}")
    warnings.warn(f"OIDC PEER TESTS SKIPPED: {reason}", stacklevel=2)
    pytest.skip(reason)


def installed() -> Path:
    """The folder holding oidc-provider at the version package.json pins, installed if need be."""
    package = (PEER / "package.json").read_bytes()
    target = CACHE / f"oidc-{hashlib.sha256(package).hexdigest()[:16]}"
    if (target / "node_modules" / "oidc-provider" / "package.json").exists():
        return target
    npm = shutil.which("npm")
    if not os.path.exists(NODE) or not npm:
        _unavailable(f"{NODE} or npm is missing")
    staging = target.with_name(f"{target.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "package.json").write_bytes(package)
    try:
        subprocess.run(
            [str(npm), "install", "--no-audit", "--no-fund", "--omit=dev"],
            cwd=staging,
            check=True,
            capture_output=True,
            timeout=300,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        _unavailable(f"npm install of oidc-provider failed: {exc}")
    try:
        staging.rename(target)
    except OSError:
        # Another run finished first: its folder is as good as this one.
        shutil.rmtree(staging, ignore_errors=True)
    return target


@dataclass
class Peer:
    """A running provider: its issuer URL."""

    issuer: str
    port: int


@asynccontextmanager
async def running_peer(
    redirect_uris: list[str],
    logout_uris: list[str],
    *,
    port: int | None = None,
    keys: list[dict[str, Any]] | None = None,
) -> AsyncIterator[Peer]:
    """oidc-provider on a loopback port with USERS and the register's two clients.

    `keys`: the private JWKs it signs with (the first), else keys it makes up for this run.
    """
    folder = installed()
    # Node resolves the package from the script's own folder: the script runs beside it.
    shutil.copyfile(PEER / "provider.mjs", folder / "provider.mjs")
    port = port or free_port()
    client = {
        "client_secret": CLIENT_SECRET,
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": logout_uris,
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }
    config = {
        "port": port,
        "users": USERS,
        "clients": [
            {"client_id": CLIENT_ID, **client},
            {"client_id": TAMPERED_CLIENT_ID, **client},
        ],
        "tamper_clients": [TAMPERED_CLIENT_ID],
        "keys": keys,
    }
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(folder / "provider.mjs"),
        cwd=folder,
        env={**os.environ, "OIDC_PEER_CONFIG": json.dumps(config), "NODE_ENV": "test"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    seen = []
    try:
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()
            assert line, "oidc-provider exited early:\n" + "".join(seen)
            seen.append(line)
            if "listening on" in line:
                break
        yield Peer(issuer=f"http://127.0.0.1:{port}", port=port)
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), timeout=10)


FORM = re.compile(r'<form[^>]*action="([^"]+)"')


async def log_in_at_provider(authorize_url: str, login: str, callback_prefix: str) -> str:
    """Go through the provider's login and consent pages as `login`; the callback URL it sends back."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
        response = await browser.get(authorize_url)
        for _ in range(20):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if target.startswith(callback_prefix):
                    return target
                response = await browser.get(target)
                continue
            assert response.status_code == 200, response.text
            action = urljoin(str(response.url), FORM.findall(response.text)[0])
            if 'name="login"' in response.text:
                form: dict[str, Any] = {"prompt": "login", "login": login, "password": "any"}
            else:
                form = {"prompt": "consent"}
            response = await browser.post(action, data=form)
    raise AssertionError("the provider never sent the browser back")
