"""The `register` command line: serve, migrate, users, tokens, employees, audit, demo."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("PICCOLO_CONF", "register.piccolo_conf")

from register.actor import Actor
from register.commands.output import print_json
from register.enums import Role
from register.errors import RegisterError
from register.extensions import extensions
from register.settings import Settings, get_settings

Handler = Callable[[argparse.Namespace, Settings], Awaitable[int]]


async def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply pending migrations."""
    from register.db import get_engine
    from register.migrate import migrate
    from register.runtime import runtime

    async with runtime(settings):
        applied = await migrate(get_engine(), quiet=not args.verbose)
    print(
        f"migrations applied: {len(applied)}"
        + (f" ({', '.join(applied)})" if applied else " (up to date)")
    )
    return 0


async def _prepare_serving(settings: Settings, host: str, port: int) -> None:
    from register.bootstrap import ensure_first_admin, first_start_message
    from register.db import get_engine
    from register.migrate import migrate
    from register.runtime import runtime

    async with runtime(settings):
        applied = await migrate(get_engine(), quiet=True)
        if applied:
            print(f"applied {len(applied)} migration(s)", flush=True)
        created = await ensure_first_admin(settings)
        if created:
            print(first_start_message(created[0], created[1], f"http://{host}:{port}"), flush=True)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate, create the first admin on an empty database, and serve with granian."""
    from granian import Granian
    from granian.constants import Interfaces, Loops

    from register.logs import granian_logging_config

    if args.forwarded_allow_ips is not None:
        # Each worker builds the app from the environment: hand the flag on to them that way.
        os.environ["REGISTER_FORWARDED_ALLOW_IPS"] = args.forwarded_allow_ips
        get_settings.cache_clear()
        get_settings()  # a bad value stops here, once, rather than in every worker
    if not args.no_migrate:
        asyncio.run(_prepare_serving(settings, args.host, args.port))
    print(f"serving on http://{args.host}:{args.port}  (API docs: /schema)", flush=True)
    # A worker that does not stop (granian can wait for ever on a busy loop) is killed once the
    # longest webhook send and the shutdown checkpoint have had their time.
    longest_send = settings.webhook_connect_timeout + 2 * settings.webhook_read_timeout
    Granian(
        "register.asgi:app",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        loop=Loops.uvloop,
        websockets=False,
        log_level=args.log_level,
        # granian writes its access log through Python logging: escaping formatters keep every
        # line of it one line, whatever a request's path holds.
        log_dictconfig=granian_logging_config(),
        log_access=not args.no_access_log,
        workers_kill_timeout=min(1800, math.ceil(longest_send) + 15),
    ).serve()
    return 0


async def cmd_user_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create a user; prints a one-time password unless --password-stdin is given."""
    from register.runtime import runtime
    from register.services import create_user

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    async with runtime(settings):
        user, generated = await create_user(
            actor=Actor.system("cli"),
            email=args.email,
            role=Role(args.role),
            name=args.name or "",
            password=password,
        )
    print(f"created user {user['id']} {user['email']} ({user['role']})")
    if generated:
        print(f"one-time password (shown once, must be changed at first sign-in): {generated}")
    return 0


async def cmd_user_list(args: argparse.Namespace, settings: Settings) -> int:
    """List users."""
    from register.runtime import runtime
    from register.services import list_users

    users: list[dict[str, Any]] = []
    offset: int | None = 0
    async with runtime(settings, announce=False):
        # Page through all of them: a list that stops silently at one page would mislead.
        while offset is not None:
            page, offset = await list_users(limit=200, offset=offset)
            users += page
    if args.json:
        print_json(users)
        return 0
    for u in users:
        print(
            f"{u['id']:>5}  {u['email']:<40} {u['role']:<8} {'active' if u['active'] else 'inactive'}"
        )
    return 0


async def cmd_user_deactivate(args: argparse.Namespace, settings: Settings) -> int:
    """Deactivate a user; their sessions and tokens stop on their next request."""
    from register.runtime import runtime
    from register.services import deactivate_user

    async with runtime(settings, announce=False):
        user = await deactivate_user(actor=Actor.system("cli"), email=args.email)
    print(f"deactivated {user['email']}")
    return 0


async def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    """Issue a bearer token for a user; printed once."""
    from register.auth import issue_token
    from register.errors import NotFound
    from register.runtime import runtime
    from register.tables import User

    async with runtime(settings, announce=False):
        row = await User.select(User.id).where(User.email == args.email.strip().lower()).first()
        if not row:
            raise NotFound(f"no user with e-mail {args.email}")
        token = await issue_token(
            actor=Actor.system("cli"), user_id=row["id"], name=args.name, expires_in_days=args.days
        )
    if args.quiet:
        print(token.token)
    else:
        print(
            f"token {token.id} for {args.email} (expires {token.expires_at or 'never'}); shown once:\n{token.token}"
        )
    return 0


async def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke a token by id."""
    from register.auth import revoke_token
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        await revoke_token(actor=Actor.system("cli"), token_id=args.id, own_only=False)
    print(f"revoked token {args.id}")
    return 0


async def cmd_employee_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import employees from a CSV file, all or nothing."""
    from register.employee_import import import_employees
    from register.runtime import runtime

    try:
        content = await asyncio.to_thread(Path(args.file).read_bytes)
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    async with runtime(settings, announce=False):
        summary = await import_employees(
            actor=Actor.system("cli"),
            content=content,
            mapping=args.mapping,
            date_order=args.date_order,
        )
    print_json(summary)
    return 0


async def cmd_employee_sweep(args: argparse.Namespace, settings: Settings) -> int:
    """Mark everyone whose leaving date has passed as left (the server also does this hourly)."""
    from register.runtime import runtime
    from register.services import sweep_leavers

    async with runtime(settings, announce=False):
        left = await sweep_leavers(actor=Actor.system("cli"))
    print(f"{len(left)} employee(s) marked as left" + (f": {left}" if left else ""))
    return 0


async def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Verify the audit trail; exit 1 naming the first bad event."""
    from register import audit
    from register.keys import load_verify_key
    from register.runtime import database, runtime

    if args.public_key:
        # An auditor needs only the public key, and nothing secret is read or generated.
        key = load_verify_key(Path(args.public_key))
        async with database(settings):
            verdict = await audit.verify(key)
    else:
        # Never generate a signing key here: a new key would call every checkpoint forged.
        async with runtime(settings, announce=False, create_missing=False) as secrets:
            verdict = await audit.verify(secrets.verify_key)
    if args.json:
        print_json(verdict.as_dict())
    elif verdict.ok:
        print(f"audit trail OK: {verdict.events} events, {verdict.checkpoints} signed checkpoints")
    else:
        print(
            f"audit trail BROKEN at event {verdict.first_bad_seq}: {verdict.reason}",
            file=sys.stderr,
        )
    return 0 if verdict.ok else 1


def cmd_audit_public_key(args: argparse.Namespace, settings: Settings) -> int:
    """Print the public key that verifies checkpoints, for auditors."""
    from register.keys import load_secrets, public_key_pem

    secrets = load_secrets(settings, announce=False, create_missing=False)
    print(public_key_pem(secrets.verify_key), end="")
    return 0


async def cmd_audit_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    """Sign a checkpoint at the end of the chain now."""
    from register import audit
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        seq = await audit.checkpoint_now()
    print(f"checkpoint at event {seq}" if seq else "the trail is empty")
    return 0


async def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Fill an empty database with a small realistic company."""
    from register.commands.demo import run_demo
    from register.db import get_engine
    from register.migrate import migrate
    from register.runtime import runtime

    async with runtime(settings):
        await migrate(get_engine(), quiet=True)
        lines = await run_demo(settings)
    print("\n".join(lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="register", description="The social asset register.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate and serve HTTP")
    serve.add_argument("--host", default=os.environ.get("REGISTER_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("REGISTER_PORT", "8000")))
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes (one per CPU core is typical)"
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.add_argument("--no-access-log", action="store_true")
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    serve.add_argument(
        "--forwarded-allow-ips",
        help="proxies trusted for X-Forwarded-For/-Proto (default: REGISTER_FORWARDED_ALLOW_IPS)",
    )
    serve.set_defaults(sync_handler=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply pending migrations")
    migrate.add_argument("--verbose", action="store_true")
    migrate.set_defaults(handler=cmd_migrate)

    user = sub.add_parser("user", help="users who sign in").add_subparsers(
        dest="user_command", required=True
    )
    create = user.add_parser("create", help="create a user")
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(handler=cmd_user_create)
    listing = user.add_parser("list", help="list users")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_user_list)
    deactivate = user.add_parser("deactivate", help="deactivate a user")
    deactivate.add_argument("email")
    deactivate.set_defaults(handler=cmd_user_deactivate)

    token = sub.add_parser("token", help="API tokens").add_subparsers(
        dest="token_command", required=True
    )
    tcreate = token.add_parser("create", help="issue a token (printed once)")
    tcreate.add_argument("--email", required=True)
    tcreate.add_argument("--name", default="cli")
    tcreate.add_argument("--days", type=int, default=90, help="days until it expires")
    tcreate.add_argument("--quiet", action="store_true", help="print only the token")
    tcreate.set_defaults(handler=cmd_token_create)
    trevoke = token.add_parser("revoke", help="revoke a token")
    trevoke.add_argument("id", type=int)
    trevoke.set_defaults(handler=cmd_token_revoke)

    employee = sub.add_parser("employee", help="the staff directory").add_subparsers(
        dest="employee_command", required=True
    )
    eimport = employee.add_parser("import", help="import an HR CSV export, all or nothing")
    eimport.add_argument("file")
    eimport.add_argument(
        "--mapping", help='JSON object of header -> field, e.g. {"Mail": "work_email"}'
    )
    eimport.add_argument("--date-order", choices=["DMY", "MDY"])
    eimport.set_defaults(handler=cmd_employee_import)
    sweep = employee.add_parser("sweep", help="mark everyone whose leaving date has passed as left")
    sweep.set_defaults(handler=cmd_employee_sweep)

    audit_cmd = sub.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True
    )
    verify = audit_cmd.add_parser("verify", help="verify the hash chain and signed checkpoints")
    verify.add_argument("--json", action="store_true")
    verify.add_argument(
        "--public-key", help="PEM file of the public key (from 'register audit public-key')"
    )
    verify.set_defaults(handler=cmd_audit_verify)
    public_key = audit_cmd.add_parser(
        "public-key", help="print the public key that verifies checkpoints"
    )
    public_key.set_defaults(sync_handler=cmd_audit_public_key)
    checkpoint = audit_cmd.add_parser("checkpoint", help="sign a checkpoint now")
    checkpoint.set_defaults(handler=cmd_audit_checkpoint)

    demo = sub.add_parser("demo", help="fill an empty database with a small realistic company")
    demo.set_defaults(handler=cmd_demo)

    from register.commands.keys import add_commands as add_key_commands
    from register.worker import add_commands as add_worker_commands

    add_key_commands(sub)
    add_worker_commands(sub)
    extensions.load()
    for add_commands in extensions.cli_commands:
        add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `register` command."""
    args = build_parser().parse_args(argv)
    settings = get_settings()
    try:
        if getattr(args, "sync_handler", None):
            return args.sync_handler(args, settings)
        return asyncio.run(args.handler(args, settings))
    except RegisterError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        for item in exc.extra.get("errors", [])[:50]:
            where = f"line {item['line']}: " if item.get("line") else ""
            print(f"  {where}{item.get('field') or ''}: {item.get('message')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
