"""`register posts ...`: post requests listed and shown, as the CLI operator (who sees all)."""

from __future__ import annotations

import argparse

from register.actor import Actor
from register.commands import print_json
from register.settings import Settings


async def cmd_posts_list(args: argparse.Namespace, settings: Settings) -> int:
    """List post requests, newest first (by state or account)."""
    from accounts.posts.enums import PostState
    from accounts.posts.services import list_post_requests
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        items, _ = await list_post_requests(
            actor=Actor.system("cli"),
            state=PostState(args.state) if args.state else None,
            account_id=args.account_id,
            limit=args.limit,
        )
    if args.json:
        print_json(items)
        return 0
    for item in items:
        first_line = item["text"].splitlines()[0][:60] if item["text"] else ""
        print(
            f"{item['id']:>6}  {item['state']:<10} {item['account']['platform']}:"
            f"{item['account']['handle']:<24} {item['submitted_by_email']:<28} {first_line}"
        )
    if not items:
        print("no post requests")
    return 0


async def cmd_posts_show(args: argparse.Namespace, settings: Settings) -> int:
    """Print one post request with its photos' proof and its history, as JSON."""
    from accounts.posts.services import get_post_request
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        found = await get_post_request(actor=Actor.system("cli"), post_request_id=args.id)
    print_json(found)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `posts ...` to the CLI."""
    from accounts.posts.enums import PostState

    posts = sub.add_parser(
        "posts", help="posts from company accounts and their approval"
    ).add_subparsers(dest="posts_command", required=True)
    listing = posts.add_parser("list", help="post requests, newest first")
    listing.add_argument("--state", choices=[s.value for s in PostState], default="")
    listing.add_argument("--account-id", dest="account_id", type=int, default=None)
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="as JSON")
    listing.set_defaults(handler=cmd_posts_list)
    show = posts.add_parser("show", help="one post request: text, photos' proof, history")
    show.add_argument("id", type=int)
    show.set_defaults(handler=cmd_posts_show)
