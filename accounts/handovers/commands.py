"""CLI of offboarding handovers: `register handover verify|bulk|overdue|sync|footprint|certificate`,
and the leaver's one-time links: `register handover attestation-link create|list|revoke`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path

from register.actor import Actor
from register.commands import print_json, read_input_file
from register.settings import Settings


async def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Check a certificate file offline against the register's public key; any edited byte fails."""
    from accounts.handovers.files import sha256_hex, verify_certificate
    from register.keys import load_verify_key

    key_path = Path(args.public_key) if args.public_key else settings.audit_signing_key_file
    key = load_verify_key(key_path)
    if (data := await read_input_file(args.file)) is None:
        return 2
    check = verify_certificate(data, key)
    if not check.ok:
        print(f"INVALID: {check.reason}", file=sys.stderr)
        return 1
    cert = check.certificate or {}
    handover = cert["handover"]
    print(
        f"valid: handover {handover['id']} of {handover['employee']['name']}, completed "
        f"{handover['completed_at']}, {len(cert['items'])} items, signed by key {cert['key_id']} "
        f"(file SHA-256 {sha256_hex(data)})"
    )
    return 0


async def cmd_bulk(args: argparse.Namespace, settings: Settings) -> int:
    """Start one handover per CSV row, all or nothing."""
    from accounts.handovers.flows import bulk_start
    from register.runtime import runtime

    if (content := await read_input_file(args.file)) is None:
        return 2
    async with runtime(settings, announce=False):
        result = await bulk_start(
            actor=Actor.system("cli"),
            settings=settings,
            content=content,
            default_successor_email=args.successor or "",
            leaving_date=dt.date.fromisoformat(args.leaving_date) if args.leaving_date else None,
            open_now=not args.draft,
        )
    print_json(result)
    return 0


async def cmd_overdue(args: argparse.Namespace, settings: Settings) -> int:
    """List overdue handovers and items; with --notify, publish handover.item_overdue for new ones."""
    from accounts.handovers.flows import notify_overdue
    from accounts.handovers.services import overdue_handovers, overdue_items
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        notified = await notify_overdue(actor=Actor.system("cli")) if args.notify else 0
        handovers = await overdue_handovers()
        items = await overdue_items()
    if args.json:
        print_json({"handovers": handovers, "items": items})
        return 0
    print(f"{len(handovers)} overdue handover(s), {len(items)} overdue item(s)")
    for i in items:
        print(
            f"  handover {i['handover_id']:>5}  {i['employee_name']:<28} due {i['due_date']}  "
            f"[{i['owner_role']}] {i['title']}"
        )
    if args.notify:
        print(f"notified {notified} newly overdue item(s)")
    return 0


async def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke the grants due, and complete every item whose evidence the register sees."""
    from accounts.handovers.flows import revoke_due_grants, sync_open_handovers
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        actor = Actor.system("cli")
        revoked = await revoke_due_grants(actor=actor)
        done = await sync_open_handovers(actor=actor)
    print(f"grants revoked on the leaving date: {revoked}; items completed from evidence: {done}")
    return 0


async def cmd_footprint(args: argparse.Namespace, settings: Settings) -> int:
    """Print a person's footprint as JSON."""
    from accounts.handovers.services import footprint
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        data = await footprint(
            employee_id=args.employee_id,
            reveal_days=args.days or settings.handover_reveal_days,
            emails=args.email or [],
            phones=args.phone or [],
        )
    print_json(data)
    return 0


async def cmd_certificate(args: argparse.Namespace, settings: Settings) -> int:
    """Write a completed handover's certificate file (and optionally its printable page)."""
    from accounts.handovers.files import certificate_html
    from accounts.handovers.flows import certificate
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        data = await certificate(handover_id=args.handover_id)
    if args.output in (None, "-"):
        sys.stdout.buffer.write(data)
    else:
        await asyncio.to_thread(Path(args.output).write_bytes, data)
    if args.html:
        await asyncio.to_thread(
            Path(args.html).write_text, certificate_html(data), encoding="utf-8"
        )
    return 0


async def cmd_link_create(args: argparse.Namespace, settings: Settings) -> int:
    """Make the leaver's one-time attestation link and print its address, this once."""
    from accounts.handovers.flows import create_attestation_link, link_url
    from register.runtime import runtime

    if not settings.public_url:
        # Refused before anything is made: a link whose address cannot be printed helps nobody.
        print(
            "error: set REGISTER_PUBLIC_URL to the register's address as the leaver reaches it "
            "(https://register.example.com): the link is made from it",
            file=sys.stderr,
        )
        return 2
    async with runtime(settings, announce=False) as secrets:
        made = await create_attestation_link(
            actor=Actor.system("cli"),
            secret=secrets.secret_key,
            handover_id=args.handover_id,
            days=args.days,
        )
    print(link_url(made["token"], public_url=settings.public_url))
    print(
        f"link {made['id']}, valid until {made['expires_at']:%Y-%m-%d %H:%M} UTC, works once. "
        "It is shown only now: send it to the leaver's personal e-mail.",
        file=sys.stderr,
    )
    return 0


def _when(value: dt.datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


async def cmd_link_list(args: argparse.Namespace, settings: Settings) -> int:
    """List a handover's attestation links (never their tokens)."""
    from accounts.handovers.flows import attestation_links
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        links = await attestation_links(handover_id=args.handover_id)
    if args.json:
        print_json(links)
        return 0
    print(f"{len(links)} attestation link(s) of handover {args.handover_id} (times in UTC)")
    for x in links:
        print(
            f"  link {x['id']:>5}  {x['state']:<8} made {_when(x['created_at'])} by "
            f"{x['created_by_email']}, valid until {_when(x['expires_at'])}, opened "
            f"{_when(x['opened_at'])}, used {_when(x['used_at'])}"
            + (
                f", revoked {_when(x['revoked_at'])} by {x['revoked_by_email']}"
                if x["revoked_at"]
                else ""
            )
        )
    return 0


async def cmd_link_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke an unused attestation link: it then opens nothing."""
    from accounts.handovers.flows import revoke_attestation_link
    from register.runtime import runtime

    async with runtime(settings, announce=False):
        link = await revoke_attestation_link(
            actor=Actor.system("cli"), handover_id=args.handover_id, link_id=args.link_id
        )
    print(f"link {link['id']} of handover {args.handover_id} revoked: it opens nothing now")
    return 0


def _add_link_commands(handover: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`register handover attestation-link create|list|revoke`."""
    from accounts.handovers.flows import DEFAULT_DAYS, MAX_DAYS

    links = handover.add_parser(
        "attestation-link",
        help="the leaver's one-time link to attest without an account",
    ).add_subparsers(dest="link_command", required=True)
    create = links.add_parser(
        "create",
        help="make a link and print its address once (needs REGISTER_PUBLIC_URL, the register's "
        "address as the leaver reaches it, such as https://register.example.com)",
    )
    create.add_argument("handover_id", type=int)
    create.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        help=f"days the link is valid, 1 to {MAX_DAYS} (default {DEFAULT_DAYS})",
    )
    create.set_defaults(handler=cmd_link_create)
    listing = links.add_parser("list", help="a handover's links: made, valid until, opened, used")
    listing.add_argument("handover_id", type=int)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_link_list)
    revoke = links.add_parser("revoke", help="revoke an unused link: it then opens nothing")
    revoke.add_argument("handover_id", type=int)
    revoke.add_argument("link_id", type=int)
    revoke.set_defaults(handler=cmd_link_revoke)


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `register handover ...` to the CLI."""
    handover = sub.add_parser("handover", help="offboarding handovers").add_subparsers(
        dest="handover_command", required=True
    )
    verify = handover.add_parser("verify", help="check a handover certificate file offline")
    verify.add_argument("file")
    verify.add_argument(
        "--public-key",
        help="PEM public key (default: the public half of REGISTER_AUDIT_SIGNING_KEY_FILE)",
    )
    verify.set_defaults(handler=cmd_verify)
    bulk = handover.add_parser("bulk", help="start one handover per CSV row (all or nothing)")
    bulk.add_argument("file", help="CSV: work_email, leaving_date, successor_email, ...")
    bulk.add_argument("--successor", help="default successor's work e-mail")
    bulk.add_argument("--leaving-date", help="default leaving date (YYYY-MM-DD)")
    bulk.add_argument("--draft", action="store_true", help="leave them as drafts")
    bulk.set_defaults(handler=cmd_bulk)
    overdue = handover.add_parser("overdue", help="overdue handovers and items")
    overdue.add_argument("--notify", action="store_true", help="publish handover.item_overdue")
    overdue.add_argument("--json", action="store_true")
    overdue.set_defaults(handler=cmd_overdue)
    sync = handover.add_parser(
        "sync", help="revoke grants due and complete items whose evidence is seen"
    )
    sync.set_defaults(handler=cmd_sync)
    fp = handover.add_parser("footprint", help="a person's footprint (JSON)")
    fp.add_argument("employee_id", type=int)
    fp.add_argument("--email", action="append", help="another e-mail of the person")
    fp.add_argument("--phone", action="append", help="a phone number of the person")
    fp.add_argument("--days", type=int, help="reveals within this many days")
    fp.set_defaults(handler=cmd_footprint)
    cert = handover.add_parser("certificate", help="write a completed handover's certificate")
    cert.add_argument("handover_id", type=int)
    cert.add_argument("--output", "-o")
    cert.add_argument("--html", help="also write the printable page here")
    cert.set_defaults(handler=cmd_certificate)
    _add_link_commands(handover)
