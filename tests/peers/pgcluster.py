"""A PostgreSQL 15 primary and a streaming replica, started for tests in a temporary folder.

Both listen on free loopback ports; the replica is made by `pg_basebackup -R` and follows the
primary by streaming replication (hot standby, so it answers reads). initdb and postgres refuse to
run as root: as root (here and in CI) they run as the `postgres` OS user, who is given the folder.
Without the binaries the tests that need the cluster are skipped, except under CI=true, where they
fail.

    with Cluster() as cluster:
        cluster.primary_dsn, cluster.replica_dsn
        cluster.pause_replay(); ...; cluster.resume_replay(); cluster.wait_caught_up()
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

import pytest

from tests.cli import free_port

PG_BIN = Path(os.environ.get("REGISTER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"
SUPERUSER = "postgres"
REPLICATION_USER = "replicator"
# Small and unsafe on purpose: a test cluster starts in about a second and a crash loses nothing.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "wal_level": "replica",
    "max_wal_senders": "5",
    "hot_standby": "on",
    "max_connections": "100",
    "shared_buffers": "16MB",
    "fsync": "off",
    "full_page_writes": "off",
    # The replica tells the primary how far it has replayed every second, not every ten.
    "wal_receiver_status_interval": "1s",
    "log_min_messages": "warning",
}
HBA = f"""\
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    replication     {REPLICATION_USER}      127.0.0.1/32            trust
"""


class ClusterUnavailable(RuntimeError):
    """The machine cannot run a PostgreSQL cluster (no binaries, no `postgres` user)."""


def _as_os_user(args: list[str]) -> list[str]:
    """The command run as the `postgres` OS user when we are root (initdb and postgres refuse root)."""
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", OS_USER, "--", *args]


def _base_folder() -> str:
    """The temporary folder, or /tmp when the `postgres` user could not reach into it (root's)."""
    base = Path(tempfile.gettempdir()).resolve()
    if os.geteuid() != 0:
        return str(base)
    reachable = all(folder.stat().st_mode & 0o001 for folder in (base, *base.parents))
    return str(base) if reachable else "/tmp"


def _conf_lines(settings: dict[str, str]) -> str:
    return "".join(f"{name} = {value}\n" for name, value in settings.items())


class Cluster:
    """A primary and one streaming replica in a temporary folder, on free loopback ports."""

    def __init__(self, database: str = "postgres") -> None:
        for tool in ("initdb", "pg_ctl", "pg_basebackup", "postgres", "psql"):
            if not (PG_BIN / tool).exists():
                raise ClusterUnavailable(f"{PG_BIN / tool} is missing (Debian: postgresql-15)")
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            raise ClusterUnavailable("running as root needs runuser to start postgres as its user")
        self.database = database
        self.folder = Path(tempfile.mkdtemp(prefix="register-pg-", dir=_base_folder()))
        self.primary_dir = self.folder / "primary"
        self.replica_dir = self.folder / "replica"
        self.primary_port = free_port()
        self.replica_port = free_port()
        while self.replica_port == self.primary_port:
            self.replica_port = free_port()
        self._started: list[Path] = []

    # -- addresses ---------------------------------------------------------------------------

    def dsn(self, database: str | None = None, *, replica: bool = False) -> str:
        """A postgresql:// URL of one database on the primary or the replica."""
        port = self.replica_port if replica else self.primary_port
        return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database or self.database}"

    @property
    def primary_dsn(self) -> str:
        """The primary's URL (the cluster's database)."""
        return self.dsn()

    @property
    def replica_dsn(self) -> str:
        """The replica's URL (the cluster's database)."""
        return self.dsn(replica=True)

    # -- running commands --------------------------------------------------------------------

    def _run(self, args: list[str], *, as_os_user: bool = True) -> str:
        command = _as_os_user(args) if as_os_user else args
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip() or done.stdout}"
            )
        return done.stdout

    def sql(self, statement: str, *, replica: bool = False, database: str | None = None) -> str:
        """Run one statement with psql on the primary or the replica; its output, unaligned."""
        port = self.replica_port if replica else self.primary_port
        return self._run(
            [
                str(PG_BIN / "psql"),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                SUPERUSER,
                "-d",
                database or "postgres",
                "-c",
                statement,
            ],
            as_os_user=False,
        ).strip()

    def _pg_ctl(self, data_dir: Path, action: str) -> None:
        args = [str(PG_BIN / "pg_ctl"), "-D", str(data_dir), "-w", "-t", "60"]
        if action == "start":
            args += ["-l", str(data_dir.parent / f"{data_dir.name}.log"), "start"]
        else:
            args += ["-m", "fast", "stop"]
        self._run(args)

    def log(self, *, replica: bool = False) -> str:
        """The server log of the primary or the replica (for a failing test's message)."""
        path = self.folder / ("replica.log" if replica else "primary.log")
        return path.read_text(errors="replace") if path.exists() else ""

    # -- life ----------------------------------------------------------------------------------

    def start(self) -> Cluster:
        """Create and start the primary, copy it into a replica with pg_basebackup, start that."""
        try:
            if os.geteuid() == 0:
                shutil.chown(self.folder, OS_USER, OS_USER)
            self._run(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.primary_dir),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ]
            )
            with (self.primary_dir / "postgresql.conf").open("a") as conf:
                conf.write(
                    _conf_lines(
                        SETTINGS
                        | {
                            "port": str(self.primary_port),
                            "unix_socket_directories": f"'{self.folder}'",
                        }
                    )
                )
            (self.primary_dir / "pg_hba.conf").write_text(HBA)
            self._pg_ctl(self.primary_dir, "start")
            self._started.append(self.primary_dir)
            self.sql(f"CREATE ROLE {REPLICATION_USER} WITH REPLICATION LOGIN")
            if self.database != "postgres":
                self.sql(f'CREATE DATABASE "{self.database}"')
            self._run(
                [
                    str(PG_BIN / "pg_basebackup"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.primary_port),
                    "-U",
                    REPLICATION_USER,
                    "-D",
                    str(self.replica_dir),
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                    "--no-sync",
                ]
            )
            # The copied postgresql.conf names the primary's port; a later line wins.
            with (self.replica_dir / "postgresql.conf").open("a") as conf:
                conf.write(_conf_lines({"port": str(self.replica_port)}))
            self.start_replica()
            self.wait_caught_up()
        except BaseException:
            self.stop()
            raise
        return self

    def start_replica(self) -> None:
        """Start the replica (again) and wait until it accepts connections."""
        self._pg_ctl(self.replica_dir, "start")
        if self.replica_dir not in self._started:
            self._started.append(self.replica_dir)
        self._wait(lambda: self.sql("SELECT pg_is_in_recovery()", replica=True) == "t", "replica")

    @property
    def replica_running(self) -> bool:
        """Whether the replica was started and not stopped since."""
        return self.replica_dir in self._started

    def stop_replica(self) -> None:
        """Stop the replica (fast shutdown); reads sent to it now fail to connect."""
        self._pg_ctl(self.replica_dir, "stop")
        self._started.remove(self.replica_dir)

    def stop(self) -> None:
        """Stop both servers and remove the folder."""
        for data_dir in reversed(self._started):
            try:
                self._pg_ctl(data_dir, "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        self._started.clear()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- replay ------------------------------------------------------------------------------

    def pause_replay(self) -> None:
        """Stop applying the primary's changes on the replica (it still receives them)."""
        self.sql("SELECT pg_wal_replay_pause()", replica=True)
        self._wait(
            lambda: self.sql("SELECT pg_get_wal_replay_pause_state()", replica=True) == "paused",
            "replay to pause",
        )

    def resume_replay(self) -> None:
        """Apply the primary's changes on the replica again."""
        self.sql("SELECT pg_wal_replay_resume()", replica=True)

    def wait_caught_up(self, timeout: float = 60.0) -> None:
        """Wait until the replica has replayed everything the primary has written so far."""
        # A record of its own first: the primary may stand at the start of a fresh WAL segment
        # (after pg_basebackup's switch), a point the replica only passes with the next record.
        lsn = self.sql(
            "SELECT pg_current_wal_insert_lsn()"
            " FROM (SELECT pg_logical_emit_message(false, 'register-test', 'caught up?')) AS m"
        )
        self._wait(
            lambda: (
                self.sql(
                    f"SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '{lsn}') >= 0",
                    replica=True,
                )
                == "t"
            ),
            "replica to catch up",
            timeout,
        )

    def _wait(self, ready: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except RuntimeError as exc:
                last = str(exc)
            time.sleep(0.05)
        raise RuntimeError(
            f"waited {timeout:.0f} s for the {what}: {last}\n{self.log(replica=True)[-2000:]}"
        )


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the PostgreSQL cluster is needed under CI: {reason}")
    warnings.warn(f"POSTGRESQL CLUSTER TESTS SKIPPED: {reason}", stacklevel=2)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A running primary and streaming replica for the whole session (import it into a test module)."""
    try:
        cluster = Cluster()
    except ClusterUnavailable as exc:
        _unavailable(str(exc))
        raise  # pragma: no cover - _unavailable never returns
    with cluster:
        yield cluster
