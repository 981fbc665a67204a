"""The `register` command line, run as the real entry point against the test's database."""

from __future__ import annotations

import dataclasses
import io
import json
from contextlib import redirect_stdout
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from register import audit, cli
from register.cli import first_start_message
from register.enums import Role
from register.keys import public_key_pem
from register.policies.tables import PolicyAcknowledgement
from register.services import ensure_first_admin
from register.settings import Settings
from register.staff.tables import Employee
from register.tables import ApiToken, AuditCheckpoint, AuditEvent, User
from tests.cli import free_port, run_cli, serve_until_up, stop_server


def bearer(app: Any, token: str) -> httpx.AsyncClient:
    """A client of the app sending this bearer token."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    )


def browser(app: Any) -> httpx.AsyncClient:
    """A client of the app with no credentials."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def one_time_password(output: str) -> str:
    """The password after 'one-time password ...:' in the command's output."""
    for line in output.splitlines():
        if "one-time password" in line:
            return line.rsplit(":", 1)[1].strip()
    raise AssertionError(f"no one-time password in {output!r}")


# ---------------------------------------------------------------- users


async def test_user_create_prints_a_one_time_password(app, settings) -> None:
    """`user create` makes the user and prints a password that signs in once, to be changed."""
    result = await run_cli(
        settings,
        "user",
        "create",
        "--email",
        "New.Person@Example.com",
        "--role",
        "hr",
        "--name",
        "New Person",
    )
    assert result.code == 0, result
    row = await User.select().where(User.email == "new.person@example.com").first()
    assert row is not None
    assert (row["role"], row["name"], row["active"], row["must_change_password"]) == (
        "hr",
        "New Person",
        True,
        True,
    )
    assert f"created user {row['id']} new.person@example.com (hr)" in result.out
    password = one_time_password(result.out)
    assert len(password) >= 12
    assert password not in row["password_hash"]
    async with browser(app) as c:
        login = await c.post(
            "/api/v1/auth/login", json={"email": "new.person@example.com", "password": password}
        )
        assert login.status_code == 200, login.text
        assert login.json()["user"]["must_change_password"] is True
        # Until it is changed, the one-time password opens nothing but the password change.
        assert (await c.get("/api/v1/employees")).status_code == 403
    event = await AuditEvent.select().where(AuditEvent.action == "user.create").first()
    assert (event["actor"], event["object_id"]) == ("cli", str(row["id"]))
    assert password not in str(event)

    again = await run_cli(
        settings, "user", "create", "--email", "new.person@example.com", "--role", "it"
    )
    assert again.code == 2
    assert "already exists" in again.err
    assert "Traceback" not in again.err
    assert await User.count().where(User.email == "new.person@example.com") == 1


async def test_user_create_with_password_on_stdin(settings) -> None:
    """--password-stdin takes the password from standard input and prints none."""
    result = await run_cli(
        settings,
        "user",
        "create",
        "--email",
        "ops@example.com",
        "--role",
        "it",
        "--password-stdin",
        stdin="Operator-Password-1\n",
    )
    assert result.code == 0, result
    assert "one-time password" not in result.out
    assert "Operator-Password-1" not in result.out
    assert (
        await run_cli(
            settings,
            "user",
            "create",
            "--email",
            "x@example.com",
            "--role",
            "it",
            "--password-stdin",
            stdin="short\n",
        )
    ).code == 2


async def test_user_create_refuses_unknown_role(settings) -> None:
    """A role outside the five is a usage error."""
    result = await run_cli(settings, "user", "create", "--email", "a@example.com", "--role", "root")
    assert result.code == 2
    assert "invalid choice" in result.err


async def test_user_list(app, user_factory, settings) -> None:
    """`user list` shows every user with role and state; --json gives the same as data."""
    hr_user, _ = await user_factory(Role.hr)
    auditor, _ = await user_factory(Role.auditor)
    assert (await run_cli(settings, "user", "deactivate", auditor["email"])).code == 0
    result = await run_cli(settings, "user", "list")
    assert result.code == 0, result
    lines = {line.split()[1]: line.split() for line in result.out.splitlines()}
    assert lines[hr_user["email"]][2:] == ["hr", "active"]
    assert lines[auditor["email"]][2:] == ["auditor", "inactive"]
    as_json = await run_cli(settings, "user", "list", "--json")
    users = {u["email"]: u for u in json.loads(as_json.out)}
    assert set(users) == {hr_user["email"], auditor["email"]}
    assert users[auditor["email"]]["active"] is False
    assert "password_hash" not in as_json.out

    # More users than one page of the API: the command lists them all.
    stamp = audit.now()
    await User.insert(
        *[
            User(email=f"bulk{i}@example.com", role="it", created_at=stamp, updated_at=stamp)
            for i in range(250)
        ]
    )
    many = json.loads((await run_cli(settings, "user", "list", "--json")).out)
    assert len(many) == 252
    assert len({u["id"] for u in many}) == 252


async def test_user_deactivate_stops_their_token_at_once(app, user_factory, settings) -> None:
    """`user deactivate` ends the user's access on their very next request, and is audited."""
    user, c = await user_factory(Role.hr)
    assert (await c.get("/api/v1/auth/me")).status_code == 200
    result = await run_cli(settings, "user", "deactivate", user["email"].upper())
    assert result.code == 0, result
    assert f"deactivated {user['email']}" in result.out
    assert (await c.get("/api/v1/auth/me")).status_code == 401
    assert (await User.select(User.active).where(User.id == user["id"]).first())["active"] is False
    event = await AuditEvent.select().where(AuditEvent.action == "user.update").first()
    assert (event["actor"], event["object_id"]) == ("cli", str(user["id"]))
    assert json.loads(event["changes"]) == {"active": [True, False]}
    missing = await run_cli(settings, "user", "deactivate", "nobody@example.com")
    assert missing.code == 2
    assert "no user with e-mail nobody@example.com" in missing.err


# ---------------------------------------------------------------- tokens


async def test_token_create_and_revoke(app, user_factory, settings) -> None:
    """`token create --quiet` prints only a working token; `token revoke` stops it."""
    user, _ = await user_factory(Role.comms)
    result = await run_cli(
        settings,
        "token",
        "create",
        "--email",
        user["email"],
        "--name",
        "ci",
        "--days",
        "7",
        "--quiet",
        subprocess=True,
    )
    assert result.code == 0, result
    token = result.out.strip()
    assert result.out == token + "\n"
    assert token.startswith("sar_")
    row = await ApiToken.select().where(ApiToken.name == "ci").first()
    assert row["user"] == user["id"]
    assert row["token_hash"] != token and token not in str(row)
    async with bearer(app, token) as c:
        me = await c.get("/api/v1/auth/me")
        assert me.status_code == 200, me.text
        assert me.json()["email"] == user["email"]

        revoked = await run_cli(settings, "token", "revoke", str(row["id"]))
        assert revoked.code == 0, revoked
        assert f"revoked token {row['id']}" in revoked.out
        assert (await c.get("/api/v1/auth/me")).status_code == 401
    actions = [
        (e["action"], e["actor"])
        for e in await AuditEvent.select()
        .where(AuditEvent.object_type == "api_token")
        .where(AuditEvent.object_id == str(row["id"]))
        .order_by(AuditEvent.seq)
    ]
    assert actions == [("token.issue", "cli"), ("token.revoke", "cli")]
    assert token not in str(await AuditEvent.select())

    verbose = await run_cli(settings, "token", "create", "--email", user["email"])
    assert verbose.code == 0
    assert "shown once" in verbose.out
    assert (await run_cli(settings, "token", "create", "--email", "nobody@example.com")).code == 2
    assert (await run_cli(settings, "token", "revoke", "999999")).code == 2


# ---------------------------------------------------------------- employees


CSV = """Full Name,Email,Department,Job Title,Start Date,Manager Email
Ada Lovelace,Ada@Example.com,Engineering,Head of Engineering,2021-03-01,
Alan Turing,alan@example.com,Engineering,Engineer,2022-06-15,ada@example.com
"""


async def test_employee_import(app, settings, tmp_path) -> None:
    """`employee import FILE` loads a CSV export all or nothing and prints a summary."""
    good = tmp_path / "staff.csv"
    good.write_text(CSV)
    result = await run_cli(settings, "employee", "import", str(good))
    assert result.code == 0, result
    summary = json.loads(result.out)
    assert (summary["rows"], summary["created"], summary["updated"], summary["unchanged"]) == (
        2,
        2,
        0,
        0,
    )
    assert summary["mapping"]["Email"] == "work_email"
    people = {e["work_email"]: e for e in await Employee.select()}
    assert set(people) == {"ada@example.com", "alan@example.com"}
    assert people["alan@example.com"]["manager"] == people["ada@example.com"]["id"]
    assert str(people["ada@example.com"]["start_date"]) == "2021-03-01"
    events = await AuditEvent.select().order_by(AuditEvent.seq)
    assert sorted(e["action"] for e in events) == [
        "employee.create",
        "employee.create",
        "employee.import",
    ]
    assert {e["actor"] for e in events} == {"cli"}
    # Every value stored is in the trail, the manager link included.
    alan = next(
        json.loads(e["changes"])
        for e in events
        if e["object_id"] == str(people["alan@example.com"]["id"])
    )
    assert alan["manager_id"] == [None, people["ada@example.com"]["id"]]
    assert alan["work_email"] == [None, "alan@example.com"]

    bad = tmp_path / "bad.csv"
    bad.write_text("Full Name,Email\nGrace Hopper,grace@example.com\nNo Mail,not-an-email\n")
    failed = await run_cli(settings, "employee", "import", str(bad))
    assert failed.code == 2
    assert "nothing was imported" in failed.err
    assert "line 3: work_email:" in failed.err
    assert not await Employee.exists().where(Employee.work_email == "grace@example.com")
    absent = await run_cli(settings, "employee", "import", str(tmp_path / "absent.csv"))
    assert absent.code == 2
    assert "cannot read" in absent.err and "Traceback" not in absent.err


# Every command that reads a file the user names: a wrong path or a folder is one plain line.
FILE_COMMANDS = [
    ("employee", "import"),
    ("accounts", "import"),
    ("connections", "import", "--employee", "ada@example.com"),
    ("handover", "bulk"),
    ("handover", "verify"),
    ("training", "import"),
]


@pytest.mark.parametrize("command", FILE_COMMANDS, ids=lambda c: " ".join(c[:2]))
async def test_a_file_that_cannot_be_read_is_said_plainly(app, settings, tmp_path, command) -> None:
    """A missing file or a folder: exit 2, "cannot read" and the path, no traceback."""
    for target in (tmp_path / "absent.csv", tmp_path):
        result = await run_cli(settings, *command, str(target))
        assert result.code == 2, result
        assert f"error: cannot read {target}: " in result.err
        assert "Traceback" not in result.err and result.out == ""


# ---------------------------------------------------------------- audit


async def test_audit_verify_and_checkpoint_commands(app, user_factory, settings, secrets) -> None:
    """`audit checkpoint` signs the end of the chain; `audit verify` then checks it too."""
    await user_factory(Role.hr)
    count = await AuditEvent.count()
    signed = await run_cli(settings, "audit", "checkpoint")
    assert signed.code == 0, signed
    assert f"checkpoint at event {count}" in signed.out
    result = await run_cli(settings, "audit", "verify")
    assert result.code == 0, result
    assert f"audit trail OK: {count} events, 1 signed checkpoints" in result.out
    verdict = await audit.verify(secrets.verify_key)
    assert (verdict.ok, verdict.checkpoints) == (True, 1)


async def test_audit_verify_with_the_public_key_only(
    app, user_factory, settings, secrets, tmp_path
) -> None:
    """An auditor verifies with the exported public key; another key or a missing key file fails cleanly."""
    await user_factory(Role.hr)
    await audit.checkpoint_now()
    exported = await run_cli(settings, "audit", "public-key")
    assert exported.code == 0, exported
    assert exported.out.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in exported.out
    public = tmp_path / "audit.pub"
    public.write_text(exported.out)
    # No secret files at all: the public key is enough.
    absent = {
        "REGISTER_SECRET_KEY_FILE": tmp_path / "none.key",
        "REGISTER_KEYRING_FILE": tmp_path / "none.json",
        "REGISTER_AUDIT_SIGNING_KEY_FILE": tmp_path / "none.pem",
    }
    ok = await run_cli(
        settings,
        "audit",
        "verify",
        "--public-key",
        str(public),
        **{k: str(v) for k, v in absent.items()},
    )
    assert ok.code == 0, ok
    assert "audit trail OK" in ok.out
    assert not any(path.exists() for path in absent.values())

    other = tmp_path / "other.pub"
    other.write_text(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    wrong = await run_cli(settings, "audit", "verify", "--public-key", str(other))
    assert wrong.code == 1
    assert f"it names key {secrets.signing_key_id}" in wrong.err

    # Without the signing key file, verify refuses rather than generating a new key.
    missing = await run_cli(
        settings, "audit", "verify", REGISTER_AUDIT_SIGNING_KEY_FILE=str(tmp_path / "lost.pem")
    )
    assert missing.code == 1
    assert "missing secret files" in missing.err and "lost.pem" in missing.err
    assert not (tmp_path / "lost.pem").exists()


# ---------------------------------------------------------------- demo and first start


async def test_demo_fills_an_empty_database_once(app, settings, secrets) -> None:
    """`demo` creates a small company and its users; a database with employees is refused."""
    result = await run_cli(settings, "demo")
    assert result.code == 0, result
    employees = await Employee.select()
    assert len(employees) >= 10
    assert {e["status"] for e in employees} >= {"active", "leaving", "left"}
    assert sum(1 for e in employees if e["manager"] is not None) >= len(employees) - 1
    users = await User.select(User.email, User.role, User.must_change_password)
    assert {u["role"] for u in users} >= {"it", "hr", "comms", "legal", "auditor"}
    assert all(u["must_change_password"] for u in users)
    for user in users:
        assert user["email"] in result.out
    assert f"{len(employees)} employees" in result.out
    # Both policies the practitioners advise are published to everyone, with a course beside them.
    assert "2 policies published" in result.out
    assert await PolicyAcknowledgement.count() == 2 * len(
        [e for e in employees if e["status"] != "left"]
    )
    assert (await audit.verify(secrets.verify_key)).ok

    again = await run_cli(settings, "demo")
    assert again.code != 0
    assert "already has employees" in again.err
    assert await Employee.count() == len(employees)
    assert await User.count() == len(users)


def test_serve_kills_a_worker_that_will_notstop_server(settings, monkeypatch) -> None:
    """granian can wait for ever on a worker whose loop is busy: `register serve` gives it the
    longest webhook send plus the shutdown checkpoint's time, then kills it."""
    import granian

    given: dict[str, Any] = {}

    class Recorder:
        def __init__(self, target: str, **kwargs: Any) -> None:
            given.update(kwargs, target=target)

        def serve(self) -> None:
            given["served"] = True

    monkeypatch.setattr(granian, "Granian", Recorder)
    args = cli.build_parser().parse_args(["serve", "--no-migrate", "--port", "8999"])
    with redirect_stdout(io.StringIO()):
        assert cli.cmd_serve(args, settings) == 0
    longest_send = settings.webhook_connect_timeout + 2 * settings.webhook_read_timeout
    assert given["served"] and given["target"] == "register.asgi:app"
    assert longest_send < given["workers_kill_timeout"] <= 1800


FORGED = '[2026-01-01 00:00:00 +0000] 10.0.0.1 - "POST /api/v1/users HTTP/1.1" 201 1.0'


async def test_the_access_log_escapes_control_characters(app, settings) -> None:
    """Percent-encoded CR, LF, NUL and U+2028 in a path are written escaped, so no request can
    add a line of its own to the server's log."""
    port = free_port()
    proc, _ = await serve_until_up(settings, port, access_log=True)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            path = "/health%0D%0A" + quote(FORGED) + "%00%E2%80%A8end"
            assert (await c.get(path)).status_code == 404
            assert (await c.get("/health")).status_code == 200
    finally:
        await stop_server(proc)
    assert proc.stdout is not None
    output = (await proc.stdout.read()).decode()
    lines = output.splitlines()
    assert not any(line.startswith(FORGED[:30]) for line in lines), output
    assert "\x00" not in output and "\u2028" not in output
    logged = [line for line in lines if "GET /health\\r\\n" in line]
    assert len(logged) == 1, output
    assert "\\x00\\u2028end" in logged[0]
    assert any('"GET /health HTTP/1.1" 200' in line for line in lines), output


def test_serve_passes_escaping_log_formatters_and_the_access_log_switch(
    settings, monkeypatch
) -> None:
    """granian gets the escaping formatters for its own and its access log; --no-access-log
    still turns the access log off."""
    import logging.config

    import granian

    from register.logs import EscapingFormatter

    given: list[dict[str, Any]] = []

    class Recorder:
        def __init__(self, target: str, **kwargs: Any) -> None:
            given.append(kwargs)

        def serve(self) -> None:
            pass

    monkeypatch.setattr(granian, "Granian", Recorder)
    for flags in ([], ["--no-access-log"]):
        args = cli.build_parser().parse_args(["serve", "--no-migrate", *flags])
        with redirect_stdout(io.StringIO()):
            assert cli.cmd_serve(args, settings) == 0
    assert [g["log_access"] for g in given] == [True, False]
    config = given[0]["log_dictconfig"]
    assert {"granian.access", "_granian"} <= set(config["loggers"])
    for spec in config["formatters"].values():
        formatter = logging.config.DictConfigurator(config).configure_formatter(dict(spec))
        assert isinstance(formatter, EscapingFormatter)


async def test_serve_first_start_tells_how_to_sign_in_once(app, settings) -> None:
    """The first `register serve` on an empty database prints a working one-time admin password, once."""
    port = free_port()
    proc, output = await serve_until_up(settings, port, REGISTER_ADMIN_EMAIL="First@Example.com")
    try:
        assert "First start" in output and "first@example.com" in output
        password = next(
            line.split("password:")[1].split()[0]
            for line in output.splitlines()
            if "password:" in line
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            login = await c.post(
                "/api/v1/auth/login", json={"email": "first@example.com", "password": password}
            )
            assert login.status_code == 200, login.text
            assert login.json()["user"]["role"] == "admin"
            assert login.json()["user"]["must_change_password"] is True
    finally:
        await stop_server(proc)
    # The server shuts down gracefully on SIGTERM (running the lifespan's shutdown).
    assert proc.returncode in (0, -15)
    # Stopping the server signed the end of the chain (admin created, sign-in).
    last = await AuditEvent.select(AuditEvent.seq).order_by(AuditEvent.seq, ascending=False).first()
    assert await AuditCheckpoint.exists().where(AuditCheckpoint.seq == last["seq"])

    # The next start finds an admin and creates none (what serve runs before printing the message).
    assert (
        await ensure_first_admin(dataclasses.replace(settings, admin_email="other@example.com"))
        is None
    )
    assert await User.count() == 1


async def test_first_admin_is_created_once(app, settings) -> None:
    """On an empty database the first admin gets a one-time password; never again after."""
    created = await ensure_first_admin(settings)
    assert created is not None
    email, password = created
    assert email == "admin@localhost"
    row = await User.select().where(User.email == email).first()
    assert (row["role"], row["active"], row["must_change_password"]) == ("admin", True, True)
    assert await ensure_first_admin(settings) is None
    assert await User.count() == 1
    message = first_start_message(email, password, "http://127.0.0.1:8000")
    assert email in message and password in message and "/api/v1/auth/login" in message
    async with browser(app) as c:
        login = await c.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        assert login.json()["user"]["must_change_password"] is True


async def test_first_admin_email_from_environment(app, settings) -> None:
    """REGISTER_ADMIN_EMAIL names the first admin."""
    from_env = Settings.from_env(
        {"REGISTER_ADMIN_EMAIL": "Boss@Example.com"}, dotenv=settings.var_dir / "absent.env"
    )
    created = await ensure_first_admin(
        dataclasses.replace(settings, admin_email=from_env.admin_email)
    )
    assert created is not None
    assert created[0] == "boss@example.com"
    assert await User.exists().where((User.email == "boss@example.com") & (User.role == "admin"))
    assert await ensure_first_admin(settings) is None


async def test_development_generates_secrets_and_production_refuses(settings, tmp_path) -> None:
    """Development creates missing secret files (0600) and says so; production will not start without them."""
    keys = tmp_path / "keys"
    files = {
        "REGISTER_VAR_DIR": str(keys),
        "REGISTER_SECRET_KEY_FILE": str(keys / "secret.key"),
        "REGISTER_KEYRING_FILE": str(keys / "keyring.json"),
        "REGISTER_AUDIT_SIGNING_KEY_FILE": str(keys / "audit_signing.pem"),
    }
    refused = await run_cli(
        settings, "migrate", subprocess=True, REGISTER_ENV="production", **files
    )
    assert refused.code != 0
    assert "production mode: missing secret files" in refused.err
    assert not keys.exists() or not any(keys.iterdir())

    dev = await run_cli(settings, "migrate", subprocess=True, **files)
    assert dev.code == 0, dev
    assert "development mode: generated" in dev.out
    for name in ("secret.key", "keyring.json", "audit_signing.pem"):
        path = keys / name
        assert path.exists() and str(path) in dev.out
        assert path.stat().st_mode & 0o777 == 0o600
    again = await run_cli(settings, "migrate", **files)
    assert "development mode: generated" not in again.out
    assert (await run_cli(settings, "migrate", REGISTER_ENV="production", **files)).code == 0
