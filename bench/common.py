"""Benchmark plumbing shared by every scenario: settings, databases, servers, wrk, reports."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
# Databases, secrets and server logs of the last run; under results/ so git ignores them.
RUN_DIR = RESULTS_DIR / "run"
VENV_BIN = Path(sys.executable).parent
WRK_SCRIPT = BENCH_DIR / "wrk.lua"
BENCH_EMAIL = "bench-admin@example.com"
BENCH_PASSWORD = "bench-password-not-secret"


class BenchError(RuntimeError):
    """Something broke: the run cannot give trustworthy figures."""


def log(message: str) -> None:
    """Progress on stderr, so stdout stays the report."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_seconds(value: str) -> int:
    """'10', '10s', '2m' -> seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([smh]?)\s*", value)
    if not match:
        raise BenchError(f"not a duration: {value!r} (use e.g. 10s or 2m)")
    return int(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


@dataclass(frozen=True)
class BenchConfig:
    """How long and how hard to drive the servers; read from BENCH_* variables."""

    duration: int = 10
    warmup: int = 2
    connections: int = 64
    threads: int = 2
    # One server process per core, as the register is deployed; baselines get the same.
    workers: int = os.cpu_count() or 1
    # Each cell is measured this often, interleaved; the median round stands for it.
    rounds: int = 1
    databases: tuple[str, ...] = ("sqlite", "postgres")
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/register_bench"
    # Under CI a missing PostgreSQL is an error; elsewhere its rows are skipped with a note.
    require_postgres: bool = False

    @classmethod
    def from_env(cls) -> BenchConfig:
        """Settings from the environment, with the defaults above."""
        env = os.environ
        databases = tuple(
            d.strip() for d in env.get("BENCH_DATABASES", "sqlite,postgres").split(",") if d.strip()
        )
        unknown = set(databases) - {"sqlite", "postgres"}
        if unknown:
            raise BenchError(f"BENCH_DATABASES: unknown {sorted(unknown)} (use sqlite, postgres)")
        return cls(
            duration=parse_seconds(env.get("BENCH_DURATION", "10s")),
            warmup=parse_seconds(env.get("BENCH_WARMUP", "2s")),
            connections=int(env.get("BENCH_CONNECTIONS", "64")),
            threads=int(env.get("BENCH_THREADS", "2")),
            workers=int(env.get("BENCH_WORKERS", str(cls.workers))),
            rounds=max(1, int(env.get("BENCH_ROUNDS", "1"))),
            databases=databases,
            postgres_url=env.get("BENCH_POSTGRES_URL", cls.postgres_url),
            require_postgres=env.get("CI", "").lower() == "true"
            or env.get("BENCH_REQUIRE_POSTGRES") == "1",
        )


# ---------------------------------------------------------------- processes


_live: list[Server] = []


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    """Whether something accepts connections on the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def run_command(
    argv: Sequence[str],
    env: dict[str, str],
    *,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
) -> str:
    """Run a command to completion; its stdout, or BenchError with its output."""
    proc = subprocess.run(
        list(argv),
        env=env,
        cwd=cwd or RUN_DIR,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(
            f"{' '.join(argv[:3])}... exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return proc.stdout


class Server:
    """One HTTP server process in its own process group, killed with its workers on stop."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], port: int) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.port = port
        self.log_path = RUN_DIR / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str = "/health", timeout: float = 90) -> Server:
        """Start the server and wait until `ready_path` answers 200."""
        if port_open(self.port):
            raise BenchError(f"port {self.port} is taken before starting {self.name}")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as out:
            # A new session makes the server the leader of its own group: stop() ends it and
            # every worker it forked, and nothing else.
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=RUN_DIR,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _live.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.name} exited with {self.proc.returncode} before it was ready:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.url + ready_path, timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise BenchError(
            f"{self.name} did not answer {ready_path} within {timeout:.0f}s:\n{self.log_tail()}"
        )

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) used so far by every process of the server's group."""
        if self.proc is None or not Path("/proc/self/stat").exists():
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # The command name may hold spaces; the fields after its closing parenthesis do not.
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid:  # process group
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's output, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the group, SIGKILL it if it lingers, and wait until the port is free."""
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        if self in _live:
            _live.remove(self)
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} ignored SIGTERM; killing it")
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_all_servers() -> None:
    """Stop every server this run started and has not stopped yet."""
    for server in list(_live):
        try:
            server.stop()
        except Exception as exc:
            log(f"could not stop {server.name}: {exc}")


def server_argv(app: str, port: int, workers: int, *, factory: bool = False) -> list[str]:
    """granian serving a baseline app with the options `register serve` uses."""
    argv = [
        str(VENV_BIN / "granian"),
        "--interface",
        "asgi",
        "--loop",
        "uvloop",
        "--no-ws",
        "--working-dir",
        str(ROOT),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "info",
    ]
    return [*argv, "--factory", app] if factory else [*argv, app]


def auth_headers(token: str | None) -> dict[str, str]:
    """A bearer token's header, or a browser's session cookie given as "cookie:NAME=VALUE"."""
    if not token:
        return {}
    if token.startswith("cookie:"):
        return {"Cookie": token.removeprefix("cookie:")}
    return {"Authorization": f"Bearer {token}"}


def http_get(url: str, token: str | None = None) -> tuple[int, Any]:
    """One GET with an optional bearer token or cookie; (status, parsed JSON or HTML text)."""
    request = urllib.request.Request(url, headers=auth_headers(token))
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            body = resp.read()
            if resp.headers.get_content_type() == "text/html":
                return resp.status, body.decode()
            return resp.status, json.loads(body or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


# ---------------------------------------------------------------- databases


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def _recreate_postgres(url: str) -> None:
    import asyncpg

    name = urlsplit(url).path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or "bench" not in name:
        raise BenchError(
            f"refusing to drop {name!r}: the benchmark database name must contain 'bench'"
        )
    conn = await asyncpg.connect(_with_database(url, "postgres"), timeout=5)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def postgres_reachable(url: str) -> str | None:
    """None if PostgreSQL answers at the URL's server, else why not."""
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(_with_database(url, "postgres"), timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass
class BenchDatabase:
    """A fresh, migrated register database with an admin and a bearer token."""

    kind: str
    url: str
    var_dir: Path
    token: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def register(self, *args: str, stdin: str | None = None) -> str:
        """Run the `register` command against this database."""
        return run_command([str(VENV_BIN / "register"), *args], self.env, stdin=stdin)

    def python(self, *args: str) -> str:
        """Run a Python module of the benchmarks against this database."""
        return run_command([str(VENV_BIN / "python"), *args], self.env)

    def server(self, port: int, workers: int) -> Server:
        """The real server, exactly as `register serve` runs it."""
        argv = [
            str(VENV_BIN / "register"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ]
        if workers != 1:
            argv += ["--workers", str(workers)]
        return Server(f"register-{self.kind}", argv, self.env, port)


def register_env(kind: str, url: str, var_dir: Path) -> dict[str, str]:
    """The environment of register commands for a benchmark database; nothing else leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTER_")}
    env.update(
        REGISTER_DATABASE_URL=url,
        REGISTER_ENV="development",
        REGISTER_VAR_DIR=str(var_dir),
        REGISTER_SECRET_KEY_FILE=str(var_dir / "secret.key"),
        REGISTER_KEYRING_FILE=str(var_dir / "keyring.json"),
        REGISTER_AUDIT_SIGNING_KEY_FILE=str(var_dir / "audit_signing.pem"),
        REGISTER_ADMIN_EMAIL=BENCH_EMAIL,
        PYTHONPATH=str(ROOT),
    )
    return env


def prepare_database(kind: str, config: BenchConfig) -> BenchDatabase:
    """Recreate the benchmark database, migrate it, and create an admin with a token."""
    var_dir = RUN_DIR / kind
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    if kind == "sqlite":
        url = f"sqlite:///{var_dir / 'register.db'}"
    else:
        url = config.postgres_url
        asyncio.run(_recreate_postgres(url))
    db = BenchDatabase(kind=kind, url=url, var_dir=var_dir, env=register_env(kind, url, var_dir))
    log(f"{kind}: migrating {url}")
    db.register("migrate")
    db.register(
        "user",
        "create",
        "--email",
        BENCH_EMAIL,
        "--role",
        "admin",
        "--name",
        "Bench Admin",
        "--password-stdin",
        stdin=BENCH_PASSWORD + "\n",
    )
    db.token = (
        db.register(
            "token", "create", "--email", BENCH_EMAIL, "--name", "bench", "--days", "1", "--quiet"
        )
        .strip()
        .splitlines()[-1]
    )
    if not db.token.startswith("sar_"):
        raise BenchError(f"unexpected token output: {db.token!r}")
    return db


# ---------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    """What one wrk run measured."""

    rps: float
    requests: int
    duration_s: float
    latency_ms: dict[str, float]
    errors: dict[str, int]
    # CPU the server spent per request: steadier than rps on a machine that does other work.
    server_cpu_us_per_request: float | None = None

    @property
    def failed_requests(self) -> int:
        """Requests that did not get a 2xx/3xx answer or no answer at all."""
        return sum(self.errors.values())


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise BenchError(f"cannot read wrk latency {text!r}")
    return float(match[1]) * _UNITS_MS[match[2]]


def parse_wrk(output: str) -> WrkResult:
    """Read wrk's --latency text and the JSON line of wrk.lua's done()."""
    rps_match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not rps_match:
        raise BenchError(f"no Requests/sec in wrk output:\n{output}")
    text_latency = {
        f"p{p}": _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.M)
    }
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors.update(
            zip(
                ("connect", "read", "write", "timeout"),
                map(int, socket_errors.groups()),
                strict=True,
            )
        )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors["status"] = int(non_2xx[1])
    summary_line = next(
        (line for line in output.splitlines() if line.startswith("BENCH_JSON ")), None
    )
    if summary_line:
        summary = json.loads(summary_line.removeprefix("BENCH_JSON "))
        latency = {k: round(v / 1000, 3) for k, v in summary["latency_us"].items()}
        requests = int(summary["requests"])
        duration_s = summary["duration_us"] / 1e6
        errors = {k: int(v) for k, v in summary["errors"].items()}
    else:
        latency = text_latency
        done = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
        requests = int(done[1]) if done else 0
        duration_s = float(done[2]) * _UNITS_MS.get(done[3], 1000) / 1000 if done else 0.0
    return WrkResult(
        rps=float(rps_match[1]),
        requests=requests,
        duration_s=round(duration_s, 3),
        latency_ms=latency,
        errors=errors,
    )


def wrk_version() -> str:
    """wrk's version line."""
    if shutil.which("wrk") is None:
        # Scenarios that do not drive load (connections_memory) run without it.
        return "wrk not installed"
    proc = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (
        (proc.stdout or proc.stderr).splitlines()[0].split(" Copyright")[0]
        if (proc.stdout or proc.stderr)
        else "?"
    )


def run_wrk(
    url: str,
    template: str,
    values: Sequence[str],
    *,
    token: str | None,
    config: BenchConfig,
    duration: int,
) -> WrkResult:
    """Drive `url` + `template` with wrk for `duration` seconds."""
    argv = [
        "wrk",
        f"-t{config.threads}",
        f"-c{config.connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        url,
        "--",
        template,
        token or "-",
        *values,
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=False)
    if proc.returncode != 0:
        raise BenchError(f"wrk exited {proc.returncode}: {proc.stderr or proc.stdout}")
    return parse_wrk(proc.stdout)


def measure(
    server: Server, template: str, values: Sequence[str], *, token: str | None, config: BenchConfig
) -> WrkResult:
    """A warm-up run that is thrown away, then the measured run with the server's CPU time."""
    if config.warmup > 0:
        run_wrk(server.url, template, values, token=token, config=config, duration=config.warmup)
    cpu_before = server.cpu_seconds()
    result = run_wrk(
        server.url, template, values, token=token, config=config, duration=config.duration
    )
    cpu_after = server.cpu_seconds()
    if cpu_before is not None and cpu_after is not None and result.requests:
        result.server_cpu_us_per_request = round(
            (cpu_after - cpu_before) / result.requests * 1e6, 1
        )
    if result.failed_requests:
        log(f"  {result.failed_requests} failed requests on {template}: {result.errors}")
    return result


def measure_cell(
    server: Server,
    label: str,
    template: str,
    values: Sequence[str],
    *,
    token: str | None,
    config: BenchConfig,
) -> WrkResult:
    """measure(), announcing the cell and logging its figures."""
    log(f"{label} ({config.warmup}s warm-up + {config.duration}s)")
    result = measure(server, template, values, token=token, config=config)
    log(
        f"  {result.rps:,.0f} rps, p50 {result.latency_ms['p50']:.1f} ms, "
        f"p95 {result.latency_ms['p95']:.1f} ms, p99 {result.latency_ms['p99']:.1f} ms, "
        f"{result.server_cpu_us_per_request or 0:,.0f} us CPU/request"
    )
    return result


def timed_get(server: Server, path: str, token: str | None) -> float:
    """One GET on its own, in ms; BenchError unless it answers 200."""
    started = time.perf_counter()
    status, body = http_get(server.url + path, token)
    elapsed = (time.perf_counter() - started) * 1000
    if status != 200:
        raise BenchError(f"GET {path}: {status} {str(body)[:300]}")
    return elapsed


def unloaded(
    server: Server, paths: Sequence[str], token: str | None, count: int = 15
) -> dict[str, float]:
    """Latency of one request at a time over `paths` in turn: the cost before any queueing."""
    times = sorted(timed_get(server, paths[n % len(paths)], token) for n in range(count))
    return {"median": round(statistics.median(times), 2), "max": round(times[-1], 2)}


def same_page(
    real: Server, raw: Server, path: str, token: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both apps' items of a page; BenchError unless they list the same rows with the same keys."""
    real_status, real_body = http_get(real.url + path, token)
    raw_status, raw_body = http_get(raw.url + path)
    if real_status != 200 or raw_status != 200:
        raise BenchError(
            f"GET {path}: register {real_status} {str(real_body)[:300]}, raw {raw_status} {str(raw_body)[:300]}"
        )
    if set(real_body) != set(raw_body) or real_body["next_offset"] != raw_body["next_offset"]:
        raise BenchError(
            f"GET {path}: pages differ: {sorted(real_body)} next {real_body.get('next_offset')} "
            f"vs {sorted(raw_body)} next {raw_body.get('next_offset')}"
        )
    real_items, raw_items = real_body["items"], raw_body["items"]
    if not real_items or [i["id"] for i in real_items] != [i["id"] for i in raw_items]:
        raise BenchError(f"GET {path}: the register and the raw baseline list different rows")
    for mine, theirs in zip(real_items, raw_items, strict=True):
        if set(mine) != set(theirs):
            raise BenchError(f"GET {path}: item shapes differ: {sorted(set(mine) ^ set(theirs))}")
    return real_items, raw_items


def paired_ratios(real: Sequence[WrkResult], raw: Sequence[WrkResult]) -> list[float]:
    """register/raw rps of each round; the two cells of a round ran back to back."""
    return [round(a.rps / b.rps, 3) for a, b in zip(real, raw, strict=True) if b.rps]


def rps_ratio(paired: Sequence[float] | None, real: WrkResult, raw: WrkResult) -> float:
    """register/raw rps: the median of the paired rounds, which resists drift of the machine."""
    if paired:
        return statistics.median(paired)
    return real.rps / raw.rps if raw.rps else 0.0


def cpu_ratio(real: WrkResult, raw: WrkResult) -> float | None:
    """raw/register server CPU per request: what real/raw would be if the server alone limited."""
    if raw.server_cpu_us_per_request and real.server_cpu_us_per_request:
        return round(raw.server_cpu_us_per_request / real.server_cpu_us_per_request, 3)
    return None


# ---------------------------------------------------------------- reports


@dataclass
class Row:
    """One measured (database, endpoint, app) cell of a report."""

    database: str
    endpoint: str
    app: str
    result: WrkResult | None = None
    note: str = ""
    samples_rps: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON."""
        out: dict[str, Any] = {
            "samples_rps": self.samples_rps,
            "database": self.database,
            "endpoint": self.endpoint,
            "app": self.app,
            "note": self.note,
        }
        if self.result:
            out |= asdict(self.result)
            out["rps"] = round(self.result.rps, 1)
        return out


def median_row(database: str, endpoint: str, app: str, results: list[WrkResult]) -> Row:
    """The round with the median rps stands for the cell; every round's rps is kept."""
    ordered = sorted(results, key=lambda r: r.rps)
    row = Row(database, endpoint, app, result=ordered[(len(ordered) - 1) // 2])
    row.samples_rps = [round(r.rps, 1) for r in results]
    return row


def fmt(value: float | None, digits: int = 1) -> str:
    """A figure with thousands separators, or "-" when there is none."""
    return "-" if value is None else f"{value:,.{digits}f}"


# The columns every scenario with a raw baseline reports a measured cell under.
MEASURED_COLUMNS = [
    "database",
    "endpoint",
    "app",
    "rps",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "failed",
    "server CPU us/req",
    "real/raw",
    "raw/real CPU",
]


def measured_cells(row: Row, ratio: dict[str, Any] | None) -> list[Any]:
    """A cell's figures under MEASURED_COLUMNS; `ratio` (real_over_raw, cpu_raw_over_real) or None."""
    res = row.result if row.result and row.result.requests else None
    return [
        row.database,
        row.endpoint,
        row.app,
        fmt(res.rps, 0) if res else "-",
        fmt(res.latency_ms["p50"], 2) if res else "-",
        fmt(res.latency_ms["p95"], 2) if res else "-",
        fmt(res.latency_ms["p99"], 2) if res else "-",
        row.result.failed_requests if row.result else "-",
        fmt(res.server_cpu_us_per_request, 0) if res else "-",
        f"{ratio['real_over_raw']:.2f}x" if ratio else "",
        f"{ratio['cpu_raw_over_real']:.2f}x" if ratio and ratio.get("cpu_raw_over_real") else "",
    ]


def run_conditions(meta: dict[str, Any], sqlite_mode: str) -> str:
    """How a run was driven, for the first line of a report."""
    where = "in the handler on the event loop" if sqlite_mode == "sync" else "in a thread pool"
    return (
        f"{meta['machine']}; Python {meta['python']}, Litestar {meta['litestar']}, {meta['wrk']}; "
        f"{meta['connections']} connections, {meta['wrk_threads']} wrk threads, "
        f"{meta['server_workers']} server worker(s), {meta['warmup_s']}s warm-up + "
        f"{meta['duration_s']}s per cell, {meta['rounds']} round(s) (median shown); "
        f"SQLite raw baseline: sqlite3 {where}; load average at start "
        f"{meta['load_average_at_start']}"
    )


@dataclass
class Target:
    """A pass/fail target of a scenario."""

    database: str
    endpoint: str
    description: str
    value: float | None
    limit: float
    passed: bool | None
    detail: str = ""

    @property
    def verdict(self) -> str:
        """PASS, FAIL or SKIP."""
        return "SKIP" if self.passed is None else ("PASS" if self.passed else "FAIL")


@dataclass
class Report:
    """What a scenario hands back: rows, targets, derived figures and notes."""

    scenario: str
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return ""


def environment(config: BenchConfig) -> dict[str, Any]:
    """Where and how the figures were taken."""
    from importlib.metadata import version

    commit = _git("rev-parse", "--short", "HEAD")
    # The figures describe the working tree, which may differ from the commit.
    if commit and _git(
        "status", "--porcelain", "--untracked-files=no", "--", "register", "accounts", "incidents"
    ):
        commit += "+modified"
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "litestar": version("litestar"),
        "wrk": wrk_version(),
        "duration_s": config.duration,
        "warmup_s": config.warmup,
        "connections": config.connections,
        "wrk_threads": config.threads,
        "server_workers": config.workers,
        "rounds": config.rounds,
        # Other work on the machine skews absolute figures; the interleaved ratios suffer less.
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def write_report(report: Report, meta: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write results/<scenario>.json and .md."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS_DIR / f"{report.scenario}.json"
    md_path = RESULTS_DIR / f"{report.scenario}.md"
    payload = {
        "scenario": report.scenario,
        "environment": meta,
        "rows": [r.as_dict() for r in report.rows],
        "targets": [asdict(t) | {"verdict": t.verdict} for t in report.targets],
        "notes": report.notes,
        **report.extra,
    }
    json_path.write_text(json.dumps(payload, indent=2) + "\n")
    md_path.write_text(markdown)
    return json_path, md_path


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; numbers right-aligned."""

    def align(i: int) -> str:
        return (
            "---:"
            if rows
            and all(
                isinstance(r[i], (int, float))
                or str(r[i])
                .replace(",", "")
                .replace(".", "")
                .replace("x", "")
                .replace("-", "")
                .isdigit()
                for r in rows
            )
            else "---"
        )

    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(align(i) for i in range(len(header))) + " |",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


@contextmanager
def cleanup_on_exit() -> Iterator[None]:
    """Stop every server on the way out, also on Ctrl-C and SIGTERM."""

    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        yield
    finally:
        stop_all_servers()
        signal.signal(signal.SIGTERM, previous)


def databases_to_measure(
    config: BenchConfig,
    report: Report,
    skipped: Sequence[str] = (),
    targets: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """The configured databases, PostgreSQL left out with a note when it is not reachable.

    Under CI (`require_postgres`) an unreachable PostgreSQL is an error, not a skip; `skipped`
    names the endpoints that get a "skipped" row in its place, `targets` the (endpoint, target)
    pairs reported as SKIP.
    """
    databases = list(config.databases)
    if "postgres" in databases:
        problem = postgres_reachable(config.postgres_url)
        if problem:
            if config.require_postgres:
                raise BenchError(f"PostgreSQL is required here but not reachable: {problem}")
            databases.remove("postgres")
            report.notes.append(
                f"PostgreSQL skipped: not reachable at {config.postgres_url} ({problem})"
            )
            report.rows.extend(
                Row("postgres", e, "register", note="skipped: PostgreSQL not reachable")
                for e in skipped
            )
            report.targets.extend(
                Target("postgres", e, what, None, 0, None, "not reachable") for e, what in targets
            )
    return databases


def targets_and_notes(
    report: Report, measured: Callable[[Target], str], what: str = "endpoint"
) -> list[str]:
    """The report's targets as a table (`measured` writes a target's value) and its notes."""
    out = [
        "### Targets\n",
        md_table(
            ["database", what, "target", "measured", "verdict"],
            [
                [
                    t.database,
                    t.endpoint,
                    t.description,
                    "-" if t.value is None else measured(t),
                    t.verdict + (f" ({t.detail})" if t.detail else ""),
                ]
                for t in report.targets
            ],
        ),
    ]
    if report.notes:
        out += ["### Notes\n", *[f"- {n}" for n in report.notes], ""]
    return out
