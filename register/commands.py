"""The core's CLI commands (users, tokens, the audit trail, the key ring) and the JSON they print."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from register.actor import Actor
from register.enums import Role
from register.extensions import extensions
from register.i18n import N_
from register.keys import KeyRing, write_private
from register.settings import Settings


async def read_input_file(name: str) -> bytes | None:
    """The bytes of a file named on the command line, or None after printing why not."""
    try:
        return await asyncio.to_thread(Path(name).read_bytes)
    except OSError as exc:
        print(f"error: cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
        return None


async def open_input_file(name: str) -> BinaryIO | None:
    """A file named on the command line opened for reading, or None after printing why not."""
    try:
        return await asyncio.to_thread(Path(name).open, "rb")
    except OSError as exc:
        print(f"error: cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
        return None


def print_json(value: Any) -> None:
    """Indented JSON on stdout; times as RFC 3339 in UTC with "Z", as the API writes them."""
    encoded = msgspec.json.encode(value, enc_hook=str)
    print(msgspec.json.format(encoded, indent=2).decode())


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
    from register.db import rfc3339
    from register.errors import NotFound
    from register.runtime import runtime
    from register.tables import User

    async with runtime(settings, announce=False):
        row = await User.select(User.id).where(User.email == args.email.strip().lower()).first()
        if not row:
            raise NotFound(N_("no user with e-mail %(email)s"), params={"email": args.email})
        token = await issue_token(
            actor=Actor.system("cli"), user_id=row["id"], name=args.name, expires_in_days=args.days
        )
    if args.quiet:
        print(token.token)
    else:
        print(
            f"token {token.id} for {args.email} (expires "
            f"{rfc3339(token.expires_at) if token.expires_at else 'never'}); shown once:\n{token.token}"
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


async def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Verify the audit trail, against a witness file if given; exit 1 naming the first bad event."""
    from register import audit
    from register.keys import load_verify_key
    from register.runtime import database, runtime

    witness = audit.read_witness(Path(args.witness)) if args.witness else []
    if args.public_key:
        # An auditor needs only the public key, and nothing secret is read or generated.
        key = load_verify_key(Path(args.public_key))
        async with database(settings):
            verdict = await audit.verify(key, witness=witness)
    else:
        # Never generate a signing key here: a new key would call every checkpoint forged.
        async with runtime(settings, announce=False, create_missing=False) as secrets:
            verdict = await audit.verify(
                secrets.verify_key, mac_key=secrets.audit_mac_key, witness=witness
            )
    if args.json:
        print_json(verdict.as_dict())
    elif verdict.ok:
        print(
            f"audit trail OK: {verdict.events} events, {verdict.checkpoints} signed checkpoints"
            + (f", {verdict.witnessed} witnessed checkpoints found intact" if args.witness else "")
            + ("" if verdict.macs_checked else "; MACs not checked (they need the secret key file)")
        )
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


def rotate(settings: Settings) -> KeyRing:
    """Add a new master key version to the key ring file and make it current."""
    ring = KeyRing.from_json(settings.keyring_file.read_text()).rotated()
    write_private(settings.keyring_file, ring.to_json().encode())
    return ring


async def rewrap(settings: Settings) -> dict[str, dict[str, int]]:
    """Re-seal every kind's data keys under the current master key; counts per kind."""
    from register.runtime import runtime

    handlers = extensions.rewrap_handlers
    async with runtime(settings, announce=False) as secrets:
        return {kind: await handler(secrets.keyring) for kind, handler in sorted(handlers.items())}


async def cmd_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Add a master key version."""
    ring = rotate(settings)
    print(
        f"key ring {settings.keyring_file}: version {ring.current} is now current (versions {sorted(ring.keys)})."
    )
    print(
        "Running servers seal new credentials with it at once; run 'register keys rewrap' to move every existing data key to it."
    )
    return 0


async def cmd_rewrap(args: argparse.Namespace, settings: Settings) -> int:
    """Re-wrap every data key and report counts."""
    counts = await rewrap(settings)
    print_json(counts)
    return 0 if all(c.get("remaining_on_old_versions", 0) == 0 for c in counts.values()) else 1


def add_key_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `keys rotate` and `keys rewrap` to the CLI."""
    keys = sub.add_parser("keys", help="the master key ring").add_subparsers(
        dest="keys_command", required=True
    )
    keys.add_parser("rotate", help="add a new master key version and make it current").set_defaults(
        handler=cmd_rotate
    )
    keys.add_parser(
        "rewrap", help="re-seal every data key under the current master key"
    ).set_defaults(handler=cmd_rewrap)


def add_user_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `user` and `token` to the CLI."""
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


def add_audit_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `audit verify`, `audit public-key` and `audit checkpoint` to the CLI."""
    audit_cmd = sub.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True
    )
    verify = audit_cmd.add_parser("verify", help="verify the hash chain and signed checkpoints")
    verify.add_argument("--json", action="store_true")
    verify.add_argument(
        "--public-key", help="PEM file of the public key (from 'register audit public-key')"
    )
    verify.add_argument(
        "--witness",
        metavar="FILE",
        help="witnessed checkpoints (REGISTER_AUDIT_WITNESS_FILE, or audit.checkpoint events a "
        "receiver kept, one per line): refuse a trail shorter than or different from any of them",
    )
    verify.set_defaults(handler=cmd_audit_verify)
    public_key = audit_cmd.add_parser(
        "public-key", help="print the public key that verifies checkpoints"
    )
    public_key.set_defaults(sync_handler=cmd_audit_public_key)
    checkpoint = audit_cmd.add_parser("checkpoint", help="sign a checkpoint now")
    checkpoint.set_defaults(handler=cmd_audit_checkpoint)
