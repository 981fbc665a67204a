"""`register policies ...` and `register training import FILE`."""

from __future__ import annotations

import argparse
import sys

from register.actor import Actor
from register.commands import print_json, read_input_file
from register.runtime import runtime
from register.settings import Settings

CLI = Actor.system("cli")


async def cmd_policies_list(args: argparse.Namespace, settings: Settings) -> int:
    """Every policy with its current version and review date."""
    from register.policies.services import list_policies

    async with runtime(settings, announce=False):
        policies = await list_policies()
    for p in policies:
        current = p["current"]
        where = (
            f"version {current['number']}, review by {current['review_by']}"
            if current
            else "not published"
        )
        print(f"{p['id']}\t{p['kind']}\t{p['title']}\t{where}")
    return 0


async def cmd_policies_show(args: argparse.Namespace, settings: Settings) -> int:
    """One policy with its versions, as JSON."""
    from register.policies.services import get_policy

    async with runtime(settings, announce=False):
        policy = await get_policy(policy_id=args.policy_id)
    print_json(policy)
    return 0


async def cmd_policies_publish(args: argparse.Namespace, settings: Settings) -> int:
    """Publish a policy's draft, asking its people to acknowledge it."""
    from register.policies.flows import publish_version
    from register.policies.services import get_policy

    async with runtime(settings, announce=False):
        policy = await get_policy(policy_id=args.policy_id)
        draft = policy["draft"]
        if draft is None:
            print(f"error: policy {args.policy_id} has no draft to publish", file=sys.stderr)
            return 2
        published = await publish_version(
            actor=CLI, version_id=draft["id"], version=draft["version"]
        )
    print(
        f"published version {published['number']} of policy {args.policy_id}: "
        f"{published['asked']} people asked to acknowledge it"
    )
    return 0


async def cmd_policies_acknowledgements(args: argparse.Namespace, settings: Settings) -> int:
    """Who was asked to acknowledge a policy's current version, and when each did."""
    from register.policies.services import acknowledgements, get_policy

    async with runtime(settings, announce=False):
        policy = await get_policy(policy_id=args.policy_id)
        if policy["current"] is None:
            print(f"error: policy {args.policy_id} has no published version", file=sys.stderr)
            return 2
        rows = await acknowledgements(version_id=policy["current"]["id"])
    for r in rows:
        when = r["acknowledged_at"].isoformat() if r["acknowledged_at"] else "not yet"
        print(f"{r['name']}\t{when}")
    done = sum(1 for r in rows if r["acknowledged_at"])
    print(f"{done} of {len(rows)} acknowledged")
    return 0


async def cmd_training_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import completions from a CSV, all or nothing."""
    from register.policies.files import import_completions

    if (content := await read_input_file(args.file)) is None:
        return 2
    async with runtime(settings, announce=False):
        summary = await import_completions(actor=CLI, content=content, date_order=args.date_order)
    print_json(summary)
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be a positive id")
    return number


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `policies list|show|publish|acknowledgements` and `training import`."""
    policies = sub.add_parser("policies", help="policies staff acknowledge").add_subparsers(
        dest="policies_command", required=True
    )
    policies.add_parser("list", help="every policy").set_defaults(handler=cmd_policies_list)
    show = policies.add_parser("show", help="one policy with its versions, as JSON")
    show.add_argument("policy_id", type=_positive)
    show.set_defaults(handler=cmd_policies_show)
    publish = policies.add_parser("publish", help="publish a policy's draft")
    publish.add_argument("policy_id", type=_positive)
    publish.set_defaults(handler=cmd_policies_publish)
    acks = policies.add_parser(
        "acknowledgements", help="who has acknowledged a policy's current version"
    )
    acks.add_argument("policy_id", type=_positive)
    acks.set_defaults(handler=cmd_policies_acknowledgements)
    training = sub.add_parser("training", help="training records").add_subparsers(
        dest="training_command", required=True
    )
    timport = training.add_parser("import", help="import completions from a CSV, all or nothing")
    timport.add_argument("file")
    timport.add_argument("--date-order", choices=["DMY", "MDY"])
    timport.set_defaults(handler=cmd_training_import)
