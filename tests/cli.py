"""Running the `register` command line in tests: in-process, or as a real process for serve."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from register import audit, cli
from register.db import bind_engine, get_engine
from register.settings import Settings, get_settings

REGISTER_BIN = Path(sys.executable).with_name("register")


@dataclass(frozen=True)
class CliResult:
    """What one run of the command printed and returned."""

    code: int
    out: str
    err: str


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that points the command at the test's database and secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTER_")}
    env.update(
        REGISTER_ENV="development",
        REGISTER_DATABASE_URL=settings.database_url,
        REGISTER_VAR_DIR=str(settings.var_dir),
        REGISTER_SECRET_KEY_FILE=str(settings.secret_key_file),
        REGISTER_KEYRING_FILE=str(settings.keyring_file),
        REGISTER_AUDIT_SIGNING_KEY_FILE=str(settings.audit_signing_key_file),
        REGISTER_AUDIT_WITNESS_FILE=str(settings.audit_witness_file),
        REGISTER_WORK_EMAIL_DOMAINS=",".join(settings.work_email_domains),
    )
    env.update(extra)
    return env


@contextmanager
def _process_state(env: dict[str, str], stdin: str) -> Iterator[tuple[io.StringIO, io.StringIO]]:
    saved_env = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        with redirect_stdout(out), redirect_stderr(err), _stdin(stdin):
            yield out, err
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        get_settings.cache_clear()


@contextmanager
def _stdin(text: str) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


def _main_in_thread(args: tuple[str, ...], env: dict[str, str], stdin: str) -> CliResult:
    with _process_state(env, stdin) as (out, err):
        try:
            code = cli.main(list(args))
        except SystemExit as exc:
            # What the interpreter would do with it at the top of a real process.
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
    return CliResult(code, out.getvalue(), err.getvalue())


async def run_cli(
    settings: Settings, *args: str, stdin: str = "", subprocess: bool = False, **env: str
) -> CliResult:
    """Run `register ARGS...` against the test's database and secrets.

    By default cli.main runs in a worker thread with the environment swapped in (its own event
    loop, engine and pool, as in a process of its own); subprocess=True runs the installed entry point.
    """
    if subprocess:
        return await _run_subprocess(settings, args, stdin, env)
    try:
        engine: Any = get_engine()
    except RuntimeError:
        engine = None
    signing_key, mac_key = audit._signer.key, audit._signer.mac_key
    witness_file = audit._signer.witness_file
    try:
        return await asyncio.to_thread(_main_in_thread, args, cli_env(settings, **env), stdin)
    finally:
        # The command bound the tables to its own (now closed) engine; give them back to the test's.
        if engine is not None:
            bind_engine(engine)
        if signing_key is not None and mac_key is not None:
            audit.configure(signing_key, mac_key, witness_file)


async def _run_subprocess(
    settings: Settings, args: tuple[str, ...], stdin: str, env: dict[str, str]
) -> CliResult:
    executable = str(REGISTER_BIN) if REGISTER_BIN.exists() else shutil.which("register")
    assert executable, "the register entry point is not installed"
    proc = await asyncio.create_subprocess_exec(
        executable,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(settings, **env),
        cwd=settings.var_dir,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout=120)
    assert proc.returncode is not None
    return CliResult(proc.returncode, out.decode(), err.decode())


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def serve_until_up(
    settings: Settings, port: int, access_log: bool = False, **env: str
) -> tuple[asyncio.subprocess.Process, str]:
    """Start `register serve` and read its output until it says where it serves."""
    executable = str(REGISTER_BIN) if REGISTER_BIN.exists() else shutil.which("register")
    assert executable
    proc = await asyncio.create_subprocess_exec(
        executable,
        "serve",
        "--port",
        str(port),
        *([] if access_log else ["--no-access-log"]),
        "--log-level",
        "warning",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=cli_env(settings, **env),
        cwd=settings.var_dir,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or "serving on" not in lines[-1]:
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=60)).decode()
        assert line, "register serve exited early:\n" + "".join(lines)
        lines.append(line)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
        for _ in range(100):
            try:
                if (await c.get("/health")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    return proc, "".join(lines)


async def stop_server(proc: asyncio.subprocess.Process) -> None:
    """Stop a server started by serve_until_up."""
    if proc.returncode is None:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=30)
