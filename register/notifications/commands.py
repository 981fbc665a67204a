"""`register worker` and `register digest`: deliver the outbox, queue the daily digest."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from register.runtime import runtime
from register.settings import Settings


async def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run delivery until SIGINT/SIGTERM (or one batch with --once)."""
    from register.keys import KeyRingSource
    from register.notifications.flows import Worker

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    async with runtime(settings, announce=False) as secrets:
        ring = KeyRingSource(settings.keyring_file, secrets.keyring)
        worker = Worker(settings, ring.get, name=args.name)
        if args.once:
            try:
                result = await worker.run_once()
            finally:
                await worker.close()
            print(f"delivered {result.delivered}, retrying {result.retrying}, dead {result.dead}")
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"outbox worker {worker.name} running (Ctrl-C stops it)", flush=True)
        await worker.run(stop)
    return 0


async def cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    """Publish the daily digest now, whether or not one went out today."""
    from register.notifications.flows import publish_digest

    async with runtime(settings, announce=False):
        ids = await publish_digest(force=True, hour=settings.digest_hour_utc)
    print(
        f"digest queued for {len(ids)} role(s)"
        if ids
        else "no active subscription takes the daily digest"
    )
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `worker` and `digest` to the CLI."""
    worker = sub.add_parser("worker", help="deliver notifications from the outbox")
    worker.add_argument("--once", action="store_true", help="deliver one batch and exit")
    worker.add_argument("--name", help="worker name shown on the messages it claims")
    worker.set_defaults(handler=cmd_worker)
    digest = sub.add_parser("digest", help="queue the daily digest now")
    digest.set_defaults(handler=cmd_digest)
