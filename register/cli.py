"""The `register` command line: serve, migrate and demo here; the core's and every part's commands."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from collections.abc import Awaitable, Callable
from itertools import chain

os.environ.setdefault("PICCOLO_CONF", "register.piccolo_conf")

from register.commands import add_audit_commands, add_key_commands, add_user_commands
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
        created = None
        if args.first_admin:
            from register.services import ensure_first_admin

            created = await ensure_first_admin(settings)
    print(
        f"migrations applied: {len(applied)}"
        + (f" ({', '.join(applied)})" if applied else " (up to date)")
    )
    if created:
        url = settings.public_url or "http://<the register's address>"
        print(first_start_message(created[0], created[1], url), flush=True)
    return 0


def first_start_message(email: str, password: str, url: str) -> str:
    """What the person starting the register for the first time reads."""
    line = "=" * 72
    return (
        f"\n{line}\n  First start: an administrator was created.\n\n"
        f"  Sign in at {url}/sign-in (or POST {url}/api/v1/auth/login) with\n"
        f"      e-mail:   {email}\n      password: {password}   (one-time: shown only now)\n\n"
        f"  You must change it at first sign-in (the page asks; POST /api/v1/auth/password).\n"
        f"  For scripts: register token create --email {email} --name cli\n{line}\n"
    )


async def _prepare_serving(settings: Settings, host: str, port: int) -> None:
    from register.db import get_engine
    from register.migrate import migrate
    from register.runtime import runtime
    from register.services import ensure_first_admin

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


async def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Fill an empty database with a small realistic company."""
    from register.db import get_engine
    from register.demo import run_demo
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
    migrate.add_argument(
        "--first-admin",
        action="store_true",
        help="on a database with no admin, create the first one and print its one-time password "
        "(what `serve` does, for servers started with --no-migrate)",
    )
    migrate.set_defaults(handler=cmd_migrate)

    # The order `register --help` lists commands in: signing in, the staff directory, the audit
    # trail and the key ring, then the other parts from the bottom up (as before the directory
    # and notifications became parts).
    extensions.load()
    parts = dict(extensions.cli_commands)
    add_user_commands(sub)
    for add_commands in parts.pop("staff", []):
        add_commands(sub)
    add_audit_commands(sub)

    demo = sub.add_parser("demo", help="fill an empty database with a small realistic company")
    demo.set_defaults(handler=cmd_demo)

    add_key_commands(sub)
    for add_commands in chain.from_iterable(parts.values()):
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
