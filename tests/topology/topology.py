"""The register deployed as it runs beyond one machine, started on loopback for the topology test and bench.

A PostgreSQL primary and streaming replica (tests.peers.pgcluster), `register migrate` once, N
`register serve` processes and M `register worker` processes sharing one folder of secret files,
HAProxy in front of the servers (health check on /ready, round robin), and a webhook receiver
that records every delivery. Every process runs in its own process group, so a SIGKILL takes a
server with the granian workers it forked, and `close()` ends all of them, also after a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.peers.pgcluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
PASSWORD = "topology-password-not-secret"
# The people the workload acts as: one per role it needs.
PEOPLE = {
    "admin": "admin@example.com",
    "it": "it@example.com",
    "hr": "hr@example.com",
    "comms": "comms@example.com",
    "auditor": "auditor@example.com",
}


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_status(url: str, timeout: float = 2.0) -> int:
    """The status of one GET, 0 when nothing answers."""
    try:
        return httpx.get(url, timeout=timeout).status_code
    except httpx.HTTPError:
        return 0


class Process:
    """One long-running command in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.folder = folder
        self.log_path = folder / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Process:
        """Start it (again); the log is appended to, so a restart keeps the first run's lines."""
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.folder,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        return self

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group at once: no shutdown code runs, as when a machine dies."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the group, SIGKILL it if it lingers."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                self.kill()
        # Children of a group leader that already exited still hold the group.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc = None

    def log_tail(self, lines: int = 40) -> str:
        """The end of its output, for a failure's message."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Delivery:
    """One webhook request the receiver got."""

    event_id: str
    event_type: str
    attempt: int
    received_at: float
    signature_ok: bool


@dataclass
class Receiver:
    """A webhook receiver on loopback: answers 200 after `delay` seconds and records each request."""

    delay: float = 0.05
    port: int = 0
    secret: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    in_flight: int = 0
    _server: asyncio.AbstractServer | None = None

    async def start(self) -> Receiver:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            self._server = None

    @property
    def url(self) -> str:
        """Where a subscription points."""
        return f"http://127.0.0.1:{self.port}/hook"

    def counts(self) -> Counter[str]:
        """Deliveries per event id."""
        return Counter(d.event_id for d in self.deliveries)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from register.notifications.flows import verify

        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.in_flight += 1
                try:
                    # Recorded on arrival: a worker killed while waiting for the answer has sent it.
                    self.deliveries.append(
                        Delivery(
                            event_id=headers.get("x-register-event-id", ""),
                            event_type=headers.get("x-register-event-type", ""),
                            attempt=int(headers.get("x-register-attempt", "0")),
                            received_at=time.monotonic(),
                            signature_ok=bool(self.secret)
                            and verify(self.secret, body, headers.get("x-register-signature", "")),
                        )
                    )
                    await asyncio.sleep(self.delay)
                finally:
                    self.in_flight -= 1
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # Closing the receiver ends the workers' idle keep-alive connections.
            return
        finally:
            writer.close()


HAPROXY_CONFIG = """\
global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout queue 30s
    option forwardfor
    # A server that died before answering: try again, on the other server. Creating POSTs carry
    # an Idempotency-Key, so a request that reached a dying server is not written twice.
    # POST bodies are read whole before they are sent on, so a request can be sent again
    # (up to tune.bufsize, 16 kB: a larger upload cut by a dying server fails instead).
    option http-buffer-request
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout
frontend register
    bind 127.0.0.1:{port}
    default_backend servers
backend servers
    balance roundrobin
    option httpchk
    # The servers answer only the Host names they know (REGISTER_ALLOWED_HOSTS).
    http-check send meth GET uri /ready ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2
    http-response set-header X-Served-By %s
{servers}
"""


class Topology:
    """Primary + replica, migrate, servers, workers and HAProxy; `close()` stops every process."""

    def __init__(
        self,
        *,
        servers: int = 2,
        workers: int = 2,
        replica: bool = True,
        webhook_hosts: str = "127.0.0.1",
        extra_env: dict[str, str] | None = None,
        folder: Path | None = None,
    ) -> None:
        self._own_folder = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="register-topology-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.n_servers = servers
        self.n_workers = workers
        self.use_replica = replica
        self.webhook_hosts = webhook_hosts
        self.extra_env = extra_env or {}
        self.cluster = Cluster(database="register")
        self.servers: list[Process] = []
        self.server_ports: list[int] = []
        self.workers: list[Process] = []
        self.haproxy: Process | None = None
        self.haproxy_port = 0
        self.tokens: dict[str, str] = {}
        self.var_dir = self.folder / "var"
        self.witness = self.var_dir / "audit_witness.jsonl"

    # -- addresses -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """HAProxy's address: where clients go."""
        return f"http://127.0.0.1:{self.haproxy_port}"

    def server_url(self, index: int) -> str:
        """One app server's own address, behind HAProxy's back."""
        return f"http://127.0.0.1:{self.server_ports[index]}"

    def env(self, *, replica: bool | None = None) -> dict[str, str]:
        """The environment every register process gets: the same database, secrets and settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTER_")}
        env.update(
            PYTHONPATH=str(ROOT),
            REGISTER_ENV="development",
            REGISTER_DATABASE_URL=self.cluster.primary_dsn,
            REGISTER_VAR_DIR=str(self.var_dir),
            REGISTER_SECRET_KEY_FILE=str(self.var_dir / "secret.key"),
            REGISTER_KEYRING_FILE=str(self.var_dir / "keyring.json"),
            REGISTER_AUDIT_SIGNING_KEY_FILE=str(self.var_dir / "audit_signing.pem"),
            REGISTER_AUDIT_WITNESS_FILE=str(self.witness),
            REGISTER_ADMIN_EMAIL=PEOPLE["admin"],
            REGISTER_WORKER_IN_PROCESS="false",
            REGISTER_WEBHOOK_ALLOWED_HOSTS=self.webhook_hosts,
            REGISTER_FORWARDED_ALLOW_IPS="127.0.0.1",
            REGISTER_PG_POOL_MAX="6",
            # A killed worker's messages come back after 15 s instead of 2 minutes; the lease
            # must outlast the longest send, connect + 2 x read timeout.
            REGISTER_WEBHOOK_CONNECT_TIMEOUT="2",
            REGISTER_WEBHOOK_READ_TIMEOUT="5",
            REGISTER_OUTBOX_LEASE_SECONDS="15",
            REGISTER_OUTBOX_POLL_SECONDS="0.5",
            REGISTER_OUTBOX_BACKOFF_SECONDS="1",
            REGISTER_OUTBOX_BACKOFF_MAX_SECONDS="5",
        )
        if self.use_replica if replica is None else replica:
            env["REGISTER_DATABASE_REPLICA_URLS"] = self.cluster.replica_dsn
            env["REGISTER_REPLICA_MAX_LAG_SECONDS"] = "5"
        env.update(self.extra_env)
        return env

    # -- commands ------------------------------------------------------------------------------

    def register(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        """Run one `register` command to completion; its stdout (RuntimeError when it fails)."""
        done = subprocess.run(
            [str(VENV_BIN / "register"), *args],
            env=self.env(),
            cwd=self.folder,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"register {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return done.stdout + done.stderr if not check else done.stdout

    def sql(self, statement: str, *, replica: bool = False) -> str:
        """One statement on the register's database, through psql."""
        return self.cluster.sql(statement, replica=replica, database="register")

    def sql_rows(self, statement: str, *, replica: bool = False) -> list[list[str]]:
        """A query's rows as lists of strings."""
        out = self.sql(statement, replica=replica)
        return [line.split("|") for line in out.splitlines() if line]

    # -- life ----------------------------------------------------------------------------------

    def start(self) -> Topology:
        """Everything, in order; on any failure what was started is stopped."""
        try:
            self.cluster.start()
            self.var_dir.mkdir(exist_ok=True)
            self.register("migrate")
            for role, email in PEOPLE.items():
                self.register(
                    "user",
                    "create",
                    "--email",
                    email,
                    "--role",
                    role,
                    "--name",
                    f"{role} lead",
                    "--password-stdin",
                    stdin=PASSWORD + "\n",
                )
                self.tokens[role] = (
                    self.register(
                        "token", "create", "--email", email, "--name", "topology", "--quiet"
                    )
                    .strip()
                    .splitlines()[-1]
                )
            for n in range(self.n_servers):
                self.add_server(n)
            for n in range(self.n_workers):
                self.add_worker(n)
            self.wait_servers()
            self.start_haproxy()
        except BaseException:
            self.close()
            raise
        return self

    def add_server(self, n: int) -> Process:
        """Start `register serve` number n on its own port (migrations were applied once, before)."""
        port = free_port()
        argv = [
            str(VENV_BIN / "register"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-migrate",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        server = Process(f"server-{n + 1}", argv, self.env(), self.folder).start()
        self.servers.append(server)
        self.server_ports.append(port)
        return server

    def add_worker(self, n: int) -> Process:
        """Start `register worker` number n."""
        name = f"worker-{n + 1}"
        argv = [str(VENV_BIN / "register"), "worker", "--name", name]
        worker = Process(name, argv, self.env(), self.folder).start()
        self.workers.append(worker)
        return worker

    def wait_servers(self, timeout: float = 90) -> None:
        """Wait until every server answers /ready with 200."""
        deadline = time.monotonic() + timeout
        for n, server in enumerate(self.servers):
            while get_status(self.server_url(n) + "/ready") != 200:
                if not server.running:
                    raise RuntimeError(f"{server.name} exited:\n{server.log_tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{server.name} is not ready:\n{server.log_tail()}")
                time.sleep(0.2)

    def start_haproxy(self) -> None:
        """HAProxy in front of the servers, its configuration written into the folder."""
        self.haproxy_port = free_port()
        lines = "\n".join(
            f"    server app{n + 1} 127.0.0.1:{port} check"
            for n, port in enumerate(self.server_ports)
        )
        config = self.folder / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(port=self.haproxy_port, servers=lines))
        self.haproxy = Process(
            "haproxy", [HAPROXY, "-db", "-f", str(config)], dict(os.environ), self.folder
        )
        self.haproxy.start()
        self.wait_balanced()

    def wait_balanced(self, timeout: float = 30) -> None:
        """Wait until HAProxy sends requests to every server (each has passed its health check)."""
        deadline = time.monotonic() + timeout
        wanted = {f"app{n + 1}" for n in range(len(self.servers))}
        seen: set[str] = set()
        while seen != wanted:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"HAProxy reached only {sorted(seen)}:\n{self.haproxy.log_tail() if self.haproxy else ''}"
                )
            seen |= self.served_by("/health")
            time.sleep(0.1)

    def served_by(self, path: str) -> set[str]:
        """Which servers answered a few GETs through HAProxy."""
        names: set[str] = set()
        for _ in range(2 * len(self.servers)):
            try:
                names.add(httpx.get(self.url + path, timeout=2).headers.get("X-Served-By", ""))
            except httpx.HTTPError:
                pass
        return names

    def reconfigure(self, *, servers: int, replica: bool) -> None:
        """Stop HAProxy and the servers, start `servers` of them with or without the replica."""
        for proc in [self.haproxy, *self.servers]:
            if proc is not None:
                proc.stop()
        self.haproxy, self.servers, self.server_ports = None, [], []
        self.use_replica = replica
        for n in range(servers):
            self.add_server(n)
        self.wait_servers()
        self.start_haproxy()

    def restart_server(self, n: int) -> None:
        """Start server n again on its port and wait until it is ready."""
        server = self.servers[n]
        server.start()
        self.wait_servers()

    def close(self) -> None:
        """Stop every process this topology started and remove its folder."""
        for proc in [self.haproxy, *self.servers, *self.workers]:
            if proc is not None:
                try:
                    proc.stop()
                except Exception as exc:  # one that will not stop must not keep the rest running
                    print(f"could not stop {proc.name}: {exc}", file=sys.stderr)
        self.cluster.stop()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def logs(self) -> str:
        """The end of every process's log, for a failure's message."""
        procs = [p for p in [self.haproxy, *self.servers, *self.workers] if p is not None]
        return "\n".join(f"--- {p.name}\n{p.log_tail(15)}" for p in procs)

    def __enter__(self) -> Topology:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the database says ----------------------------------------------------------------

    def replica_transactions(self) -> int:
        """Transactions the replica has run on the register's database (its own statistics)."""
        return int(
            self.sql(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'register'",
                replica=True,
            )
        )

    def primary_counters(self) -> dict[str, int]:
        """The primary's cumulative write counters for the register's database, and audit events."""
        row = self.sql_rows(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, "
            "(SELECT count(*) FROM audit_event) FROM pg_stat_database WHERE datname = 'register'"
        )[0]
        keys = ("commits", "inserted", "updated", "deleted", "audit_events")
        return dict(zip(keys, map(int, row), strict=True))

    def node_reads(self) -> dict[str, Any]:
        """Each server's own count of reads per database node, as it reports them on /ready."""
        out: dict[str, Any] = {}
        for n in range(len(self.servers)):
            try:
                out[self.servers[n].name] = httpx.get(
                    self.server_url(n) + "/ready", timeout=5
                ).json()
            except (httpx.HTTPError, ValueError) as exc:
                out[self.servers[n].name] = {"error": str(exc)}
        return out


# The events the workload makes that the receiver is subscribed to.
EVENTS = ["incident.filed", "incident.escalated", "audit.checkpoint"]


async def seed(topo: Topology, receiver: Receiver, name: str) -> tuple[list[int], int]:
    """Custodians for the accounts, and the receiver's subscription, made through the API."""
    headers = {"Authorization": f"Bearer {topo.tokens['hr']}"}
    custodians = []
    async with httpx.AsyncClient(base_url=topo.url, timeout=30) as client:
        for n in range(5):
            resp = await client.post(
                "/api/v1/employees",
                headers=headers,
                json={"name": f"Custodian {n}", "work_email": f"custodian{n}@example.com"},
            )
            if resp.status_code != 201:
                raise RuntimeError(f"seeding a custodian: {resp.status_code} {resp.text[:300]}")
            custodians.append(resp.json()["id"])
        resp = await client.post(
            "/api/v1/subscriptions",
            headers={"Authorization": f"Bearer {topo.tokens['admin']}"},
            json={"name": name, "url": receiver.url, "format": "json", "event_types": EVENTS},
        )
        if resp.status_code != 201:
            raise RuntimeError(f"subscribing the receiver: {resp.status_code} {resp.text[:300]}")
        receiver.secret = resp.json()["signing_secret"]
        return custodians, resp.json()["subscription"]["id"]
