"""docker/: what can be checked without a Docker engine (none runs on our machines).

The compose file is parsed and checked (services, order, commands, secrets, scaling, health
checks), HAProxy checks its own configuration, the Dockerfile is read stage by stage, and the
image's entrypoint is run here as a process, with the environment compose gives it and secret
files made by docker/make-secrets.sh, against the test's database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
import yaml

from register import cli
from register.settings import Settings
from tests.cli import free_port

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
HAPROXY = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
)
REGISTER_SERVICES = ("migrate", "app", "worker")
SECRETS_AT = "/run/secrets/"
# Names of settings whose value would be a secret; each must be given as a file instead.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY($|_)|PRIVATE", re.I)
# What a secret looks like: a long run of hex or base64, or a URL with a password in it.
SECRET_VALUE = re.compile(r"\b[A-Fa-f0-9]{32,}\b|[A-Za-z0-9+_-]{40,}|://[^/@\s]*:[^/@\s]+@")


def compose() -> dict[str, Any]:
    """docker/compose.yaml as compose reads it (anchors and merge keys resolved)."""
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def interpolate(value: str) -> str:
    """A compose value with ${NAME:-default} read as its default (nothing is set here)."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, whichever way compose.yaml writes it."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v)) for k, v in env.items()}


def secret_names(service: dict[str, Any]) -> set[str]:
    """The secrets a service mounts."""
    return {s if isinstance(s, str) else s["source"] for s in service.get("secrets") or []}


# ------------------------------------------------------------------ the Dockerfile


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each a list of (instruction, arguments), continuations joined."""
    text = (DOCKER / "Dockerfile").read_text()
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    stages: list[list[tuple[str, str]]] = []
    for line in logical:
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        assert stages, f"an instruction before FROM: {line}"
        stages[-1].append((instruction.upper(), args.strip()))
    return stages


def exec_form(args: str) -> list[str]:
    """An instruction's JSON (exec) form: ENTRYPOINT ["register"] -> ["register"]."""
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def image_command() -> tuple[list[str], list[str], dict[str, str], list[str]]:
    """The final stage's ENTRYPOINT, CMD, ENV and HEALTHCHECK command."""
    final = dockerfile_stages()[-1]
    entrypoint = [exec_form(a) for i, a in final if i == "ENTRYPOINT"][-1]
    command = [exec_form(a) for i, a in final if i == "CMD"][-1]
    env: dict[str, str] = {}
    for instruction, args in final:
        if instruction == "ENV":
            for pair in shlex.split(args):
                name, _, value = pair.partition("=")
                env[name] = value
    health = [a for i, a in final if i == "HEALTHCHECK"][-1]
    check = exec_form(health[health.index("CMD ") + 4 :])
    return entrypoint, command, env, check


def test_the_dockerfile_builds_in_stages_and_runs_unprivileged() -> None:
    """A builder stage and a slim final one with no compiler, a non-root user, a health check."""
    stages = dockerfile_stages()
    assert len(stages) >= 2, "one stage builds, the last one runs"
    final = stages[-1]
    assert final[0] == ("FROM", "python:3.11-slim"), final[0]
    users = [a for i, a in final if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert any(i == "HEALTHCHECK" and "/health" in a for i, a in final)
    # Only the builder's virtual environment is copied in: no source tree, no pip, no compiler.
    copies = [a for i, a in final if i in ("COPY", "ADD")]
    assert copies and all(a.startswith("--from=") for a in copies), copies
    runs = " ".join(a for i, a in final if i == "RUN")
    for tool in ("gcc", "build-essential", "apt-get install", "pip install"):
        assert tool not in runs, f"the final stage installs {tool}"
    entrypoint, *_ = image_command()
    assert entrypoint == ["register"], "the image's entrypoint is the register command line"


def test_no_secret_is_copied_into_the_image() -> None:
    """Every COPY names the code to build; secrets, .env and databases stay out of the context."""
    for stage in dockerfile_stages():
        for instruction, args in stage:
            if instruction not in ("COPY", "ADD"):
                continue
            assert instruction == "COPY", "ADD could fetch or unpack; COPY only copies"
            sources = [a for a in shlex.split(args) if not a.startswith("--")][:-1]
            for source in sources:
                assert not re.search(r"secret|\.env|\.pem|\.key|keyring|var/|\.db", source), source
        for instruction, args in stage:
            if instruction in ("ENV", "ARG"):
                for pair in shlex.split(args):
                    name, _, value = pair.partition("=")
                    assert not SECRET_NAME.search(name) or name.endswith("_FILE"), name
                    assert not SECRET_VALUE.search(value), pair
    ignore = [
        line
        for line in (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert ignore[0] == "*", "the build context is allow-listed"
    assert not any("secret" in line or ".env" in line for line in ignore if line.startswith("!"))
    assert "secrets/" in (DOCKER / ".gitignore").read_text()


def test_the_builder_compiles_the_message_catalogues(tmp_path: Path) -> None:
    """The builder's pybabel command, run here on a copy of the catalogues, makes every .mo."""
    builder = " ".join(a for i, a in dockerfile_stages()[0] if i == "RUN")
    command = next(
        part.strip() for part in builder.split("&&") if "pybabel compile" in part
    ).split()
    assert command[0].endswith("/pybabel")
    shutil.copytree(ROOT / "register" / "locale", tmp_path / "register" / "locale")
    for mo in (tmp_path / "register" / "locale").rglob("*.mo"):
        mo.unlink()  # not in git: the image must make its own
    pybabel = Path(sys.executable).with_name("pybabel")
    done = subprocess.run(
        [str(pybabel), *command[1:]], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    catalogues = sorted((tmp_path / "register" / "locale").glob("*/LC_MESSAGES/messages.po"))
    assert catalogues
    for po in catalogues:
        assert po.with_suffix(".mo").stat().st_size > 1000, po


# ------------------------------------------------------------------ compose.yaml


def test_the_services_start_in_order() -> None:
    """Primary, replica from it, migrate once, then app and worker, HAProxy before the apps."""
    services = compose()["services"]
    assert {"db", "replica", "migrate", "app", "worker", "haproxy"} <= set(services)

    def waits(name: str) -> dict[str, str]:
        depends = services[name].get("depends_on") or {}
        return {k: v["condition"] for k, v in depends.items()}

    assert waits("replica") == {"db": "service_healthy"}
    assert waits("migrate") == {"db": "service_healthy"}
    assert waits("app")["migrate"] == "service_completed_successfully"
    assert waits("worker")["migrate"] == "service_completed_successfully"
    assert waits("haproxy") == {"app": "service_healthy"}
    assert services["migrate"].get("restart") == "no"
    images = {services[name]["image"] for name in REGISTER_SERVICES}
    assert len(images) == 1, "migrate, app and worker run the same image"
    assert services["replica"]["entrypoint"][-1].endswith("replica-start.sh")
    mounts = " ".join(services["db"]["volumes"])
    assert "primary-init.sh:/docker-entrypoint-initdb.d/" in mounts


@pytest.mark.parametrize("name", REGISTER_SERVICES)
def test_every_command_exists_in_the_command_line(name: str) -> None:
    """migrate, app and worker run commands the register's own parser accepts."""
    command = compose()["services"][name]["command"]
    try:
        args = cli.build_parser().parse_args(command)
    except SystemExit as exc:  # argparse's way of refusing
        raise AssertionError(f"register {' '.join(command)}: not a command ({exc})") from exc
    assert getattr(args, "handler", None) or getattr(args, "sync_handler", None)
    expected = {"migrate": "migrate", "app": "serve", "worker": "worker"}[name]
    assert args.command == expected
    if name == "app":
        assert args.no_migrate, "servers started together must not race to migrate"


def test_the_app_is_scalable_behind_haproxy() -> None:
    """No fixed name or host port on the app; HAProxy publishes the port and finds every replica."""
    services = compose()["services"]
    app = services["app"]
    assert "container_name" not in app and "ports" not in app
    assert not any("container_name" in s for s in services.values())
    assert services["haproxy"]["ports"], "HAProxy publishes the register's port"
    env = environment(app)
    assert env["REGISTER_WORKER_IN_PROCESS"] == "false"
    assert environment(services["worker"])["REGISTER_WORKER_IN_PROCESS"] == "false"
    assert urlsplit(env["REGISTER_DATABASE_URL"]).hostname == "db"
    assert [urlsplit(u).hostname for u in env["REGISTER_DATABASE_REPLICA_URLS"].split(",")] == [
        "replica"
    ]
    haproxy = (DOCKER / "haproxy.cfg").read_text()
    assert re.search(r"^\s*nameserver \S+ 127\.0\.0\.11:53", haproxy, re.M), "Docker's DNS"
    assert re.search(r"^\s*server-template app \d+ app:8000", haproxy, re.M)
    assert re.search(r"http-check send meth GET uri /ready", haproxy)
    # The one proxy the servers believe is HAProxy, at its fixed address.
    address = services["haproxy"]["networks"]["register"]["ipv4_address"]
    assert env["REGISTER_FORWARDED_ALLOW_IPS"] == address


def test_every_long_running_service_has_a_health_check() -> None:
    services = compose()["services"]
    for name in ("db", "replica", "app", "haproxy"):
        check = services[name].get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), name
    assert "/health" in " ".join(services["app"]["healthcheck"]["test"])


def test_production_mode_and_secrets_only_as_files(tmp_path: Path) -> None:
    """No secret in an environment value; every secret a file, made by make-secrets.sh."""
    spec = compose()
    services = spec["services"]
    declared = spec["secrets"]
    for name, secret in declared.items():
        assert set(secret) == {"file"}, f"secret {name} must come from a file"
        assert secret["file"].startswith("./secrets/"), secret
    for name, service in services.items():
        env = environment(service)
        for key, value in env.items():
            assert not SECRET_VALUE.search(value), f"{name}: {key} holds what looks like a secret"
            if SECRET_NAME.search(key):
                assert key.endswith("_FILE") and value.startswith(SECRETS_AT), (name, key, value)
            if value.startswith(SECRETS_AT):
                mounted = value.removeprefix(SECRETS_AT)
                assert mounted in secret_names(service), f"{name}: {value} is not mounted"
        if name in REGISTER_SERVICES:
            assert env["REGISTER_ENV"] == "production", name
            for setting in (
                "REGISTER_SECRET_KEY_FILE",
                "REGISTER_KEYRING_FILE",
                "REGISTER_AUDIT_SIGNING_KEY_FILE",
                "REGISTER_DATABASE_PASSWORD_FILE",
            ):
                assert env[setting].startswith(SECRETS_AT), (name, setting)
        for secret in secret_names(service):
            assert secret in declared, f"{name} mounts an undeclared secret {secret}"
    # The script makes exactly the files compose mounts, readable by the containers' users.
    made = subprocess.run(
        ["sh", str(DOCKER / "make-secrets.sh"), str(tmp_path / "secrets")],
        capture_output=True,
        text=True,
        check=True,
    )
    files = {p.name for p in (tmp_path / "secrets").iterdir()}
    assert files == {Path(s["file"]).name for s in declared.values()}, made.stdout
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    # Run again, it keeps every key: they must outlive the database.
    before = {p.name: p.read_bytes() for p in (tmp_path / "secrets").iterdir()}
    subprocess.run(["sh", str(DOCKER / "make-secrets.sh"), str(tmp_path / "secrets")], check=True)
    assert before == {p.name: p.read_bytes() for p in (tmp_path / "secrets").iterdir()}


def test_the_database_password_comes_from_its_file(tmp_path: Path) -> None:
    """REGISTER_DATABASE_PASSWORD_FILE puts the password, any characters, into the URLs."""
    password_file = tmp_path / "database_password"
    password_file.write_text("p@ss:w/rd %?\n")
    settings = Settings.from_env(
        {
            "REGISTER_DATABASE_URL": "postgresql://register@db:5432/register",
            "REGISTER_DATABASE_REPLICA_URLS": "postgresql://register@replica:5432/register",
            "REGISTER_DATABASE_PASSWORD_FILE": str(password_file),
        },
        dotenv=tmp_path / "none",
    )
    for given, host in (
        (settings.database_url, "db"),
        (*settings.database_replica_urls, "replica"),
    ):
        url = urlsplit(given)
        assert (url.username, unquote(url.password or ""), url.hostname) == (
            "register",
            "p@ss:w/rd %?",
            host,
        )
    with pytest.raises(SystemExit, match="take the password out"):
        Settings.from_env(
            {
                "REGISTER_DATABASE_URL": "postgresql://register:x@db/register",
                "REGISTER_DATABASE_PASSWORD_FILE": str(password_file),
            },
            dotenv=tmp_path / "none",
        )


def test_haproxy_accepts_its_configuration(tmp_path: Path) -> None:
    """`haproxy -c` on docker/haproxy.cfg as it is: nothing needs Docker to be checked.

    Docker's DNS (127.0.0.11) is only asked at run time, and `init-addr none` lets the servers
    start unresolved, so the file is checked unchanged.
    """
    if HAPROXY is None:
        if os.environ.get("CI") == "true":
            pytest.fail("haproxy is not installed: under CI=true this is a failure")
        pytest.skip("haproxy is not installed")
    done = subprocess.run(
        [HAPROXY, "-c", "-f", str(DOCKER / "haproxy.cfg")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Configuration file is valid" in done.stdout + done.stderr


def test_the_postgres_scripts_are_valid_shell() -> None:
    for script in (DOCKER / "postgres").glob("*.sh"):
        done = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, (script, done.stderr)
    replica = (DOCKER / "postgres" / "replica-start.sh").read_text()
    assert "pg_basebackup" in replica and "--write-recovery-conf" in replica
    primary = (DOCKER / "postgres" / "primary-init.sh").read_text()
    assert "REPLICATION" in primary and "pg_hba.conf" in primary


# ------------------------------------------------------------------ the entrypoint, run here


def local_environment(settings: Settings, secrets: Path, service: str) -> dict[str, str]:
    """What the image and compose give a service, with its Docker-only parts made local.

    Substituted: /run/secrets/NAME by the file make-secrets.sh made; the database URL (host
    `db`) by the test's database; the folder of the witness by a temporary one; the address and
    port by 127.0.0.1 and a free port. Left out: the replica URLs (no replica runs here).
    """
    spec = compose()
    files = {name: Path(s["file"]).name for name, s in spec["secrets"].items()}
    _, _, image_env, _ = image_command()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTER_")}
    env.update(image_env)
    env.update(environment(spec["services"][service]))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    for key, value in list(env.items()):
        if value.startswith(SECRETS_AT):
            env[key] = str(secrets / files[value.removeprefix(SECRETS_AT)])
    local = urlsplit(settings.database_url)
    env["REGISTER_DATABASE_URL"] = settings.database_url
    if local.scheme == "sqlite":
        del env["REGISTER_DATABASE_PASSWORD_FILE"]  # a file has no password
    env.pop("REGISTER_DATABASE_REPLICA_URLS", None)
    env["REGISTER_VAR_DIR"] = str(secrets.parent / "var")
    env["REGISTER_AUDIT_WITNESS_FILE"] = str(secrets.parent / "witness" / "audit_witness.jsonl")
    env["REGISTER_HOST"] = "127.0.0.1"
    return env


async def test_the_image_entrypoint_runs_when_invoked_directly(
    settings: Settings, tmp_path: Path
) -> None:
    """make-secrets.sh, then compose's migrate, then the image's ENTRYPOINT + CMD: it serves,
    its HEALTHCHECK passes, /ready is ready, the first admin signs in; it stops on SIGTERM."""
    secrets = tmp_path / "secrets"
    subprocess.run(["sh", str(DOCKER / "make-secrets.sh"), str(secrets)], check=True)
    migrate_env = local_environment(settings, secrets, "migrate")
    command = compose()["services"]["migrate"]["command"]
    entrypoint, cmd, _, health = image_command()
    migrated = await asyncio.create_subprocess_exec(
        *entrypoint,
        *command,
        env=migrate_env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out = (await asyncio.wait_for(migrated.communicate(), timeout=120))[0].decode()
    assert migrated.returncode == 0, out
    password = next(
        line.split("password:")[1].split()[0] for line in out.splitlines() if "password:" in line
    )
    port = free_port()
    env = local_environment(settings, secrets, "app")
    env["REGISTER_PORT"] = str(port)
    proc = await asyncio.create_subprocess_exec(
        *entrypoint,
        *cmd,
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        healthy = False
        for _ in range(300):
            check = await asyncio.create_subprocess_exec(
                *health,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            if await check.wait() == 0:
                healthy = True
                break
            assert proc.returncode is None, "the entrypoint exited"
            await asyncio.sleep(0.2)
        assert healthy, "the image's HEALTHCHECK never passed"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            ready = await client.get("/ready")
            assert ready.status_code == 200 and ready.json()["status"] == "ok", ready.text
            signed_in = await client.post(
                "/api/v1/auth/login",
                json={"email": env["REGISTER_ADMIN_EMAIL"], "password": password},
            )
            assert signed_in.status_code in (200, 201), signed_in.text
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        output = (await asyncio.wait_for(proc.communicate(), timeout=60))[0].decode()
    assert proc.returncode == 0, output
    assert "serving on http://127.0.0.1:" in output
    # Production mode made no secret of its own: the ones given are the only ones.
    assert not (tmp_path / "var").exists() or not any((tmp_path / "var").iterdir())


# ------------------------------------------------------------------ the PostgreSQL scripts, run here

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres_user(root: Path) -> list[str]:
    """The prefix that runs a command as a user PostgreSQL accepts (it refuses to run as root)."""
    if os.geteuid() != 0:
        return []
    import pwd

    account = pwd.getpwnam("postgres")
    for path in [root, *root.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


async def test_the_postgres_scripts_make_a_streaming_replica() -> None:
    """primary-init.sh and replica-start.sh, run with PostgreSQL 15's own binaries as the image
    runs them (initdb with the password file, the init script, then the replica's start): the
    replica copies the primary, streams what is written after, and holds no password.

    Substituted, since no container runs them: the data folders, ports and sockets (temporary),
    the primary's host (127.0.0.1 for `db`), and the secrets folder (SECRETS_DIR for /run/secrets).
    """
    if os.environ.get("REGISTER_TEST_DATABASE") != "postgres":
        pytest.skip("run with the PostgreSQL suite, where PostgreSQL's binaries are installed")
    if not (PG_BIN / "initdb").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL 15's binaries are missing: under CI=true this is a failure")
        pytest.skip("PostgreSQL 15's binaries are not installed")
    import tempfile

    import asyncpg

    root = Path(tempfile.mkdtemp(prefix="register-docker-pg-"))
    # The postgres user must reach the folder (it is made 0700 for root).
    os.chmod(root, 0o755)  # noqa: S103
    secrets = root / "secrets"
    subprocess.run(["sh", str(DOCKER / "make-secrets.sh"), str(secrets)], check=True)
    primary, replica, sockets = root / "primary", root / "replica", root / "sockets"
    sockets.mkdir()
    (root / "scripts").mkdir()
    for script in ("primary-init.sh", "replica-start.sh"):
        shutil.copy(DOCKER / "postgres" / script, root / "scripts" / script)
    user = _as_postgres_user(root)
    port, replica_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PG")},
        "PATH": f"{PG_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "SECRETS_DIR": str(secrets),
    }
    password = (secrets / "database_password").read_text().strip()

    def run(*command: str, **extra: str) -> str:
        done = subprocess.run(
            [*user, "env", *(f"{k}={v}" for k, v in extra.items()), *command],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=root,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        return done.stdout

    server = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"
    # What the official image's entrypoint does, in short.
    run(
        "initdb", "-D", str(primary), "--username=register", "--auth-local=trust",
        "--auth-host=scram-sha-256", f"--pwfile={secrets / 'database_password'}",
    )  # fmt: skip
    with (primary / "pg_hba.conf").open("a") as hba:
        hba.write("host all all all scram-sha-256\n")
    # With its own log file: a server holding our pipes open would never let run() return.
    run("pg_ctl", "-D", str(primary), "-l", str(root / "primary.log"), "-o", server, "-w", "start")
    standby = None
    stack = contextlib.ExitStack()
    try:
        run("createdb", "-h", str(sockets), "-p", str(port), "-U", "register", "register")
        run(
            "sh", str(root / "scripts" / "primary-init.sh"),
            POSTGRES_USER="register", POSTGRES_DB="register", PGDATA=str(primary),
            PGHOST=str(sockets), PGPORT=str(port),
        )  # fmt: skip
        run("pg_ctl", "-D", str(primary), "reload")  # the image restarts it after the scripts
        dsn = f"postgresql://register:{password}@127.0.0.1:{port}/register"
        conn = await asyncpg.connect(dsn)
        await conn.execute("CREATE TABLE copied (n int); INSERT INTO copied VALUES (1)")
        await conn.close()
        replica_log = stack.enter_context((root / "replica.log").open("wb"))
        standby = subprocess.Popen(
            [
                *user, "env", "PRIMARY_HOST=127.0.0.1", f"PRIMARY_PORT={port}",
                f"PGDATA={replica}", f"PASSFILE={root / 'replication.pgpass'}",
                "sh", str(root / "scripts" / "replica-start.sh"),
                "-p", str(replica_port), "-k", str(sockets), "-c", "listen_addresses=127.0.0.1",
            ],
            env=env, cwd=root, stdout=replica_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        replica_dsn = f"postgresql://register:{password}@127.0.0.1:{replica_port}/register"
        conn = None
        for _ in range(300):
            assert standby.poll() is None, (root / "replica.log").read_text()
            try:
                conn = await asyncpg.connect(replica_dsn)
                break
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(0.2)
        assert conn is not None, "the replica never answered"
        try:
            assert await conn.fetchval("SELECT pg_is_in_recovery()")
            assert await conn.fetchval("SELECT count(*) FROM copied") == 1
            writer = await asyncpg.connect(dsn)
            await writer.execute("INSERT INTO copied VALUES (2)")
            await writer.close()
            for _ in range(100):
                if await conn.fetchval("SELECT count(*) FROM copied") == 2:
                    break
                await asyncio.sleep(0.1)
            assert await conn.fetchval("SELECT count(*) FROM copied") == 2, "not streamed"
        finally:
            await conn.close()
        replication_password = (secrets / "replication_password").read_text().strip()
        written = (replica / "postgresql.auto.conf").read_text()
        assert "primary_conninfo" in written and "passfile=" in written, written
        assert replication_password not in written
        assert (replica / "standby.signal").exists()
    finally:
        if standby is not None and standby.poll() is None:
            standby.terminate()
            standby.wait(timeout=30)
        subprocess.run(
            [*user, "pg_ctl", "-D", str(primary), "-m", "fast", "stop"], env=env, check=False
        )
        shutil.rmtree(root, ignore_errors=True)
