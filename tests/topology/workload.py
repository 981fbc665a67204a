"""A mixed workload of IT, HR and comms through the load balancer, recording what was acknowledged.

Each virtual user works on its own records one request after another, so a 409 or a stale version
is never the workload's own doing: any answer other than the expected one is an error. Creating
POSTs carry an Idempotency-Key and a marker (in a name, e-mail, title or reason) that the checks
afterwards look for in the database: every 2xx must be there once, and nothing may be there twice.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import importlib.util
import io
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

EXPORT_SCRIPT = Path(__file__).resolve().parents[1] / "data" / "make_linkedin_export.py"
OK = (200, 201, 204)
# Tasks the comms user works as the incident's commander; the others' owners are stood in for by
# an admin (the workload signs in as one person per role, not as a legal counsel or spokesperson).
COMMS_OWNED = {"comms", "commander"}


def linkedin_export(rows: int, seed: int) -> bytes:
    """A LinkedIn Connections.csv as tests/data/make_linkedin_export.py writes it."""
    spec = importlib.util.spec_from_file_location("make_linkedin_export", EXPORT_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = io.StringIO()
    out.write(module.PREAMBLE)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(module.HEADER)
    writer.writerows(module.rows(rows, seed, dt.date(2021, 1, 1), dt.date(2026, 11, 1)))
    return out.getvalue().encode()


@dataclass
class Call:
    """One request the workload made."""

    label: str
    started: float
    ended: float
    status: int  # 0: no answer (connection cut, timeout)
    backend: str
    error: str = ""


@dataclass
class Workload:
    """Virtual IT, HR, comms and reading users driving the register through one base URL."""

    base_url: str
    tokens: dict[str, str]
    custodians: list[int]
    export_rows: int = 200
    calls: list[Call] = field(default_factory=list)
    in_flight: int = 0
    # kind -> [(marker, id)] of writes answered 2xx; kind -> markers of every write tried
    acked: dict[str, list[tuple[str, int]]] = field(default_factory=lambda: defaultdict(list))
    tried: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    steps_done: Counter[str] = field(default_factory=Counter)
    _stop_at: float = 0.0

    # -- one request ---------------------------------------------------------------------------

    async def call(
        self,
        client: httpx.AsyncClient,
        label: str,
        method: str,
        path: str,
        *,
        role: str,
        key: str | None = None,
        **kwargs: Any,
    ) -> Any | None:
        """One request; its JSON when the answer is 2xx, else None (and the call is an error)."""
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        if key:
            headers["Idempotency-Key"] = key
        started = time.monotonic()
        self.in_flight += 1
        try:
            resp = await client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            self.calls.append(
                Call(label, started, time.monotonic(), 0, "", f"{type(exc).__name__}: {exc}")
            )
            return None
        finally:
            self.in_flight -= 1
        error = "" if resp.status_code in OK else resp.text[:300]
        self.calls.append(
            Call(
                label,
                started,
                time.monotonic(),
                resp.status_code,
                resp.headers.get("x-served-by", ""),
                error,
            )
        )
        if error:
            return None
        return resp.json() if resp.content else {}

    @property
    def errors(self) -> list[Call]:
        """The calls that did not get the answer they expected."""
        return [c for c in self.calls if c.error]

    def latencies(self) -> list[float]:
        """Seconds each answered call took."""
        return [c.ended - c.started for c in self.calls if not c.error]

    def running(self) -> bool:
        """Whether the workload's time is not up."""
        return time.monotonic() < self._stop_at

    # -- the users -----------------------------------------------------------------------------

    async def it_user(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        """IT registers accounts and grants access to them, and reads the account list."""
        while self.running():
            marker = uuid.uuid4().hex[:12]
            self.tried["account"].append(marker)
            account = await self.call(
                client,
                "account.create",
                "POST",
                "/api/v1/accounts",
                role="it",
                key=f"account-{marker}",
                json={
                    "platform": "instagram",
                    "handle": f"topo_{marker}",
                    "display_name": f"Topology {marker}",
                    "custodian_id": rng.choice(self.custodians),
                    "purpose": marker,
                },
            )
            if account:
                self.acked["account"].append((marker, account["id"]))
                self.tried["grant"].append(marker)
                grant = await self.call(
                    client,
                    "grant.create",
                    "POST",
                    f"/api/v1/accounts/{account['id']}/grants",
                    role="it",
                    key=f"grant-{marker}",
                    json={
                        "employee_id": rng.choice(self.custodians),
                        "level": "editor",
                        "reason": f"grant {marker}",
                    },
                )
                if grant:
                    self.acked["grant"].append((marker, grant["id"]))
            await self.call(client, "accounts.list", "GET", "/api/v1/accounts?limit=50", role="it")

    async def hr_user(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        """HR adds people, imports connections for some of them, and searches the directory."""
        turn = 0
        while self.running():
            turn += 1
            marker = uuid.uuid4().hex[:12]
            self.tried["employee"].append(marker)
            employee = await self.call(
                client,
                "employee.create",
                "POST",
                "/api/v1/employees",
                role="hr",
                key=f"employee-{marker}",
                json={
                    "name": f"Topology {marker}",
                    "work_email": f"{marker}@example.com",
                    "department": "Communications",
                    "job_title": "Community Manager",
                    "start_date": "2020-01-01",
                },
            )
            if employee:
                self.acked["employee"].append((marker, employee["id"]))
                if turn % 3 == 1:
                    self.tried["import"].append(marker)
                    export = linkedin_export(self.export_rows, rng.randrange(1 << 30))
                    done = await self.call(
                        client,
                        "connections.import",
                        "POST",
                        f"/api/v1/employees/{employee['id']}/connections/imports",
                        role="hr",
                        key=f"import-{marker}",
                        files={"file": ("Connections.csv", export, "text/csv")},
                    )
                    if done:
                        self.acked["import"].append((marker, done["import"]["id"]))
            await self.call(
                client,
                "employees.search",
                "GET",
                "/api/v1/employees?q=topology&limit=50",
                role="hr",
            )
            await self.call(
                client,
                "connections.search",
                "GET",
                "/api/v1/connections?q=recruiter&limit=50",
                role="hr",
            )

    async def comms_user(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        """Comms files incidents and works each through its steps to resolved."""
        while self.running():
            marker = uuid.uuid4().hex[:12]
            self.tried["incident"].append(marker)
            incident = await self.call(
                client,
                "incident.create",
                "POST",
                "/api/v1/incidents",
                role="comms",
                key=f"incident-{marker}",
                json={
                    "title": f"Topology {marker}",
                    "category": "erroneous_post",
                    "severity": rng.choice(["SEV2", "SEV3", "SEV4"]),
                },
            )
            if not incident:
                continue
            self.acked["incident"].append((marker, incident["id"]))
            await self.work_incident(client, incident["id"])
            await self.call(
                client, "incidents.list", "GET", "/api/v1/incidents?limit=50", role="comms"
            )

    async def work_incident(self, client: httpx.AsyncClient, incident_id: int) -> None:
        """Acknowledge, then finish each phase's tasks and move the status on, to resolved."""
        base = f"/api/v1/incidents/{incident_id}"
        incident = await self.call(
            client, "incident.acknowledge", "POST", base + "/acknowledge", role="comms"
        )
        if not incident:
            return
        finished: set[int] = set()
        for phase, status in (
            ("triage", "triaged"),
            ("contain", "contained"),
            ("resolve", "resolved"),
        ):
            if not self.running():
                return
            # A list may come from a replica a moment behind this user's own writes: the tasks
            # this user finished are remembered rather than read back.
            tasks = await self.call(client, "incident.tasks", "GET", base + "/tasks", role="comms")
            if tasks is None:
                return
            for task in tasks:
                if task["phase"] != phase or task["state"] != "open" or task["id"] in finished:
                    continue
                role = "comms" if task["owner_role"] in COMMS_OWNED else "admin"
                done = await self.call(
                    client,
                    "incident.task",
                    "POST",
                    f"{base}/tasks/{task['id']}/complete",
                    role=role,
                    json={"note": "done in the topology test"},
                )
                if done is None:
                    return
                finished.add(task["id"])
                self.steps_done["task"] += 1
            incident = await self.call(
                client,
                "incident.status",
                "POST",
                base + "/status",
                role="comms",
                json={"status": status, "version": incident["version"]},
            )
            if incident is None:
                return
            self.steps_done[status] += 1

    async def reader(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        """Lists and searches that may be a moment behind: what a replica is for."""
        paths = [
            ("accounts.list", "it", "/api/v1/accounts?limit=50"),
            ("accounts.risks", "it", "/api/v1/accounts/risks"),
            ("incidents.list", "comms", "/api/v1/incidents?limit=50"),
            ("employees.search", "hr", "/api/v1/employees?q=topology&limit=50"),
            ("connections.search", "hr", "/api/v1/connections?q=recruiter&limit=50"),
        ]
        while self.running():
            label, role, path = rng.choice(paths)
            await self.call(client, label, "GET", path, role=role)

    # -- running -------------------------------------------------------------------------------

    async def run(
        self,
        duration: float,
        *,
        it: int = 1,
        hr: int = 1,
        comms: int = 1,
        readers: int = 1,
        seed: int = 19,
    ) -> None:
        """Run every user until `duration` seconds have passed."""
        self._stop_at = time.monotonic() + duration
        rng = random.Random(seed)
        users = (
            [self.it_user] * it
            + [self.hr_user] * hr
            + [self.comms_user] * comms
            + [self.reader] * readers
        )
        await asyncio.gather(*(self._as_client(user, rng.randrange(1 << 30)) for user in users))

    async def _as_client(self, user: Any, seed: int) -> None:
        # Each user is its own client with its own cookies: the register sends a writer's reads
        # to the primary for a few seconds after its write (a cookie), a pure reader's to a replica.
        timeout = httpx.Timeout(60.0, connect=5.0)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=timeout) as client:
            await user(client, random.Random(seed))
