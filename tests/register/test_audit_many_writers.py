"""The audit trail with many writers: several processes appending at once keep one chain.

Each writer is a process of its own (this file, run as a script), with its own engine and pool,
adding people to the staff directory through the real service and, now and then, signing the
chain's end as every delivery worker does. Afterwards the trail is one chain: seq contiguous from
1, each event's prev_hash the hash of the one before, every checkpoint signed, every checkpoint in
the shared witness file exactly once as a whole line, and `register audit verify --witness` OK,
also with the witness's lines in any order.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import sys
from pathlib import Path

from register import audit
from register.settings import Settings
from register.tables import AuditCheckpoint, AuditEvent
from tests.cli import cli_env, run_cli

WRITERS = 4
CHANGES = 24  # per writer
AT_ONCE = 3  # changes in flight in each writer (connections of its pool)
ROOT = Path(__file__).resolve().parents[2]


async def write(name: str) -> None:
    """One writer: CHANGES people added, AT_ONCE at a time, and a checkpoint every few."""
    from register.actor import Actor
    from register.runtime import runtime
    from register.settings import get_settings
    from register.staff.services import create_employee

    actor = Actor.system(f"writer {name}")
    async with runtime(get_settings(), announce=False, create_missing=False):
        gate = asyncio.Semaphore(AT_ONCE)

        async def one(n: int) -> None:
            async with gate:
                await create_employee(
                    actor=actor,
                    data={"name": f"Writer {name} {n}", "work_email": f"w{name}.{n}@example.com"},
                )
                if n % 4 == 3:
                    # What each delivery worker does on its tick: sign the end if it is unsigned.
                    await audit.checkpoint_if_unsigned()

        await asyncio.gather(*(one(n) for n in range(CHANGES)))


async def test_writers_in_several_processes_keep_one_chain(
    app: object, settings: Settings, tmp_path: Path
) -> None:
    env = cli_env(settings, PYTHONPATH=str(ROOT), REGISTER_WORKER_IN_PROCESS="false")
    writers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            str(n),
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for n in range(WRITERS)
    ]
    outputs = await asyncio.wait_for(
        asyncio.gather(*(w.communicate() for w in writers)), timeout=300
    )
    for writer, (out, _) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, out.decode()

    events = await AuditEvent.select(
        AuditEvent.seq, AuditEvent.hash, AuditEvent.prev_hash, AuditEvent.action
    ).order_by(AuditEvent.seq)
    added = [e for e in events if e["action"] == "employee.create"]
    assert len(added) == WRITERS * CHANGES, "every change audited once"
    # Contiguous: no gap, no seq twice.
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    # No fork: each event names the one before it.
    prev = audit.GENESIS
    for event in events:
        assert event["prev_hash"] == prev, f"event {event['seq']} forks the chain"
        prev = event["hash"]

    checkpoints = await AuditCheckpoint.select().order_by(AuditCheckpoint.seq)
    assert len(checkpoints) >= WRITERS, "the writers signed checkpoints"
    # The witness file all writers append to: whole lines, each checkpoint exactly once.
    witness = settings.audit_witness_file
    lines = witness.read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert all(set(e) == {"seq", "hash", "signed_at", "key_id", "signature"} for e in entries), (
        lines
    )
    assert sorted(e["seq"] for e in entries) == [c["seq"] for c in checkpoints]
    seqs = [e["seq"] for e in entries]
    print(
        f"{len(events)} events, {len(checkpoints)} checkpoints, witness lines out of seq order: "
        f"{sum(a > b for a, b in itertools.pairwise(seqs))}"
    )

    verified = await run_cli(settings, "audit", "verify", "--witness", str(witness))
    assert verified.code == 0, verified.err
    assert f"{len(checkpoints)} witnessed checkpoints found intact" in verified.out, verified.out
    # Lines may land in any order (a writer appends after its commit, another may be quicker):
    # the same checkpoints in reverse and shuffled verify the same.
    for order in ("reversed", "shuffled"):
        moved = list(reversed(lines)) if order == "reversed" else random.sample(lines, len(lines))
        other = tmp_path / f"witness-{order}.jsonl"
        other.write_text("\n".join(moved) + "\n")
        verdict = await run_cli(settings, "audit", "verify", "--witness", str(other), "--json")
        assert verdict.code == 0 and json.loads(verdict.out)["ok"], verdict.out + verdict.err


if __name__ == "__main__":
    os.environ.setdefault("PICCOLO_CONF", "register.piccolo_conf")
    asyncio.run(write(sys.argv[1]))
