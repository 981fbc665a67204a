"""`register scim token`: the identity provider's bearer tokens, created (shown once), listed, revoked."""

from __future__ import annotations

import argparse

from register.actor import Actor
from register.commands import print_json
from register.db import rfc3339
from register.runtime import runtime
from register.settings import Settings


async def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create a SCIM token; printed once."""
    from register.scim.services import create_token

    async with runtime(settings, announce=False):
        row, token = await create_token(actor=Actor.system("cli"), name=args.name)
    if args.quiet:
        print(token)
    else:
        where = f"{settings.public_url}/scim/v2" if settings.public_url else "/scim/v2"
        print(f"SCIM token {row['id']} '{row['name']}' for {where}; shown once:\n{token}")
    return 0


async def cmd_token_list(args: argparse.Namespace, settings: Settings) -> int:
    """List SCIM tokens (never the tokens themselves)."""
    from register.scim.services import list_tokens

    async with runtime(settings, announce=False):
        tokens = await list_tokens()
    if args.json:
        print_json(tokens)
        return 0
    for t in tokens:
        state = f"revoked {rfc3339(t['revoked_at'])}" if t["revoked_at"] else "active"
        used = rfc3339(t["last_used_at"]) if t["last_used_at"] else "never"
        print(f"{t['id']}\t{t['prefix']}…\t{t['name']}\t{state}\tlast used {used}")
    return 0


async def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke a SCIM token by id: the provider's next request is refused."""
    from register.scim.services import revoke_token

    async with runtime(settings, announce=False):
        await revoke_token(actor=Actor.system("cli"), token_id=args.id)
    print(f"revoked SCIM token {args.id}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `scim token create|list|revoke` to the CLI."""
    scim = sub.add_parser("scim", help="SCIM provisioning").add_subparsers(
        dest="scim_command", required=True
    )
    token = scim.add_parser("token", help="the identity provider's tokens").add_subparsers(
        dest="scim_token_command", required=True
    )
    create = token.add_parser("create", help="create a token for a provider (printed once)")
    create.add_argument("--name", required=True, help="which provider holds it, e.g. okta")
    create.add_argument("--quiet", action="store_true", help="print only the token")
    create.set_defaults(handler=cmd_token_create)
    listing = token.add_parser("list", help="list tokens")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_token_list)
    revoke = token.add_parser("revoke", help="revoke a token")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(handler=cmd_token_revoke)
