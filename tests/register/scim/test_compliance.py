"""SCIM compliance as scim2-tester (PyPI) sees it, against the register served on loopback."""

from __future__ import annotations

import asyncio
import collections
from importlib.metadata import version
from typing import Any

import httpx
from scim2_client import BaseSyncSCIMClient
from scim2_tester import Status, check_server

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}


class HttpxSCIMClient(BaseSyncSCIMClient):
    """scim2-client over httpx (its own engine wants the httpx2 fork; the request is the same)."""

    def __init__(self, client: httpx.Client, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        base = self.client.base_url
        url = self.client.build_request("GET", endpoint).url
        return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port) and (
            url.raw_path.startswith(base.raw_path.rstrip(b"/"))
        )

    def _parse_json(self, response: Any) -> Any:
        return response.json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, url, **kwargs)


def run_checker(url: str, token: str) -> list[Any]:
    """Every check of scim2-tester against the server, as its users run it."""
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        return check_server(HttpxSCIMClient(http))


async def test_scim2_tester_passes_every_check_that_applies(live: str, scim_token: str) -> None:
    results = await asyncio.to_thread(run_checker, f"{live}/scim/v2", scim_token)
    counts = collections.Counter(r.status.name for r in results)
    summary = f"scim2-tester {version('scim2-tester')}: {len(results)} checks, " + ", ".join(
        f"{n} {name.lower()}" for name, n in sorted(counts.items())
    )
    print(summary)
    for r in results:
        if r.status == Status.SKIPPED:
            print(f"skipped: {r.resource_type or ''} {r.title or ''} {r.reason}")
    failed = [
        f"{r.status.name} {r.resource_type or ''} {r.title or ''}: {r.reason}"
        for r in results
        if r.status not in PASSED | {Status.SKIPPED}
    ]
    assert not failed, summary + "\n" + "\n".join(failed)
    # The run reached every part of the service: discovery, both resource types, PATCH.
    assert counts["SUCCESS"] >= 40, summary
    assert {r.resource_type for r in results if r.status == Status.SUCCESS} >= {"User", "Group"}
