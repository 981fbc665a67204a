"""Someone who can write the database tampers with the audit trail, and verification refuses it.

Every case runs on the test's database (SQLite or PostgreSQL), with the attacker getting past the
append-only triggers as tests/register/test_audit.py's `attacker` does.
"""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from register import audit
from register.actor import Actor
from register.db import write_transaction
from register.keys import Secrets
from register.notifications.tables import OutboxMessage
from register.settings import Settings
from register.tables import AuditCheckpoint, AuditEvent
from tests.cli import run_cli
from tests.register.conftest import Execute, attacker, record_events

# ---------------------------------------------------------------- helpers


async def assert_refused(
    settings: Settings, secrets: Secrets, seq: int, words: str, witness: Path | None = None
) -> None:
    """`register audit verify [--witness]` exits 1 and verify() with the MAC key names event `seq`."""
    args = ("--witness", str(witness)) if witness else ()
    result = await run_cli(settings, "audit", "verify", *args)
    assert result.code == 1, result
    assert f"BROKEN at event {seq}:" in result.err, result.err
    verdict = await audit.verify(
        secrets.verify_key,
        mac_key=secrets.audit_mac_key,
        witness=audit.read_witness(witness) if witness else (),
    )
    assert not verdict.ok
    assert verdict.first_bad_seq == seq, verdict
    assert words in verdict.reason, verdict.reason


async def rewrite(
    settings: Settings, execute: Execute, rows: list[dict[str, Any]], prev_hash: str
) -> None:
    """Store `rows` (renumbered, edited or new) with the SHA-256 chain recomputed from `prev_hash`.

    What an attacker can do without the trail's key: the hashes are right, the MACs are not.
    """
    for row in rows:
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = audit.event_hash(row)
        values = {
            **{k: v for k, v in row.items() if k != "id"},
            "at": row["at"].isoformat() if settings.is_sqlite else row["at"],
            "changes": row["changes"]
            if isinstance(row["changes"], str)
            else audit.canonical(row["changes"]),
        }
        await execute(
            f"INSERT INTO audit_event ({', '.join(values)}) "
            f"VALUES ({', '.join('?' for _ in values)})",
            *values.values(),
        )


async def events_from(seq: int) -> list[dict[str, Any]]:
    """The stored events from `seq` on, oldest first."""
    return await AuditEvent.select().where(AuditEvent.seq >= seq).order_by(AuditEvent.seq)


async def hash_of(seq: int) -> str:
    """The stored hash of one event."""
    row = await AuditEvent.select(AuditEvent.hash).where(AuditEvent.seq == seq).first()
    return str(row["hash"])


async def signed_trail(secrets: Secrets, events: int, checkpoint_at: int) -> None:
    """`events` intact events with a signed checkpoint at event `checkpoint_at`, none after it."""
    await record_events(checkpoint_at)
    assert await audit.checkpoint_now() == checkpoint_at
    await record_events(events - checkpoint_at)
    assert (await audit.verify(secrets.verify_key, mac_key=secrets.audit_mac_key)).ok


# ---------------------------------------------------------------- a wipe


async def test_wiped_trail_is_refused(app, user_factory, settings, secrets) -> None:
    """Every event and checkpoint deleted: the register's users say there was a trail."""
    await user_factory()
    await record_events(3)
    await audit.checkpoint_now()
    async with attacker(settings) as execute:
        await execute("DELETE FROM audit_checkpoint")
        await execute("DELETE FROM audit_event")
    assert await AuditEvent.count() == 0
    await assert_refused(
        settings, secrets, 1, "the trail is empty, yet the database holds 1 user, 1 API token"
    )
    result = await run_cli(settings, "audit", "verify", "--json")
    assert json.loads(result.out)["events"] == 0

    # Wiping the register's data with it leaves the witness to tell.
    async with attacker(settings) as execute:
        for table in ("user_session", "api_token", "register_user"):
            await execute(f'DELETE FROM "{table}"')
    assert (await audit.verify(secrets.verify_key, mac_key=secrets.audit_mac_key)).ok
    last = witness_lines(settings)[-1]["seq"]
    await assert_refused(
        settings,
        secrets,
        last,
        f"event {last} is missing: the trail is empty, short of the witnessed checkpoint",
        witness=settings.audit_witness_file,
    )


# ---------------------------------------------------------------- after the last checkpoint


async def test_edit_after_last_checkpoint_with_recomputed_chain(app, settings, secrets) -> None:
    """An event edited after the last checkpoint, every later hash recomputed, fails its MAC."""
    await signed_trail(secrets, events=9, checkpoint_at=4)
    rows = await events_from(6)
    rows[0]["actor"] = "someone-else"
    async with attacker(settings) as execute:
        await execute("DELETE FROM audit_event WHERE seq >= ?", 6)
        await rewrite(settings, execute, rows, await hash_of(5))
    # Without the key the forgery is a consistent chain: only the MAC tells.
    assert (await audit.verify(secrets.verify_key)).ok
    await assert_refused(settings, secrets, 6, "event 6 was altered or forged: its MAC")


async def test_delete_after_last_checkpoint_with_recomputed_chain(app, settings, secrets) -> None:
    """An event deleted after the last checkpoint, the rest renumbered and rehashed, fails."""
    await signed_trail(secrets, events=9, checkpoint_at=4)
    rows = await events_from(7)
    for row in rows:
        row["seq"] -= 1
    async with attacker(settings) as execute:
        await execute("DELETE FROM audit_event WHERE seq >= ?", 6)
        await rewrite(settings, execute, rows, await hash_of(5))
    assert await AuditEvent.count() == 8
    assert (await audit.verify(secrets.verify_key)).ok
    await assert_refused(settings, secrets, 6, "its MAC does not match")


async def test_event_appended_without_a_mac(app, settings, secrets) -> None:
    """An event added at the end with a correct SHA-256 link but no MAC is refused."""
    await signed_trail(secrets, events=6, checkpoint_at=4)
    forged = (await events_from(6))[0]
    forged.update(seq=7, action="user.delete", object_id="42", mac=None)
    async with attacker(settings) as execute:
        await rewrite(settings, execute, [forged], await hash_of(6))
    await assert_refused(settings, secrets, 7, "event 7 has no MAC though event 1 before it has")


async def test_event_appended_with_a_borrowed_mac(app, settings, secrets) -> None:
    """An added event cannot borrow another event's MAC: it covers that event's hash only."""
    await signed_trail(secrets, events=6, checkpoint_at=4)
    forged = (await events_from(6))[0]
    forged.update(seq=7, action="user.delete", object_id="42")
    async with attacker(settings) as execute:
        await rewrite(settings, execute, [forged], await hash_of(6))
    assert (await audit.verify(secrets.verify_key)).ok
    await assert_refused(settings, secrets, 7, "event 7 was altered or forged: its MAC")


async def test_stripped_macs_do_not_pass_for_an_old_trail(app, settings, secrets) -> None:
    """Removing every MAC and rehashing the unsigned tail as before the upgrade is refused."""
    await signed_trail(secrets, events=8, checkpoint_at=4)
    rows = await events_from(5)
    for row in rows:
        row["mac"] = None
    async with attacker(settings) as execute:
        await execute("UPDATE audit_event SET mac = NULL")
        await execute("DELETE FROM audit_event WHERE seq >= ?", 5)
        await rewrite(settings, execute, rows, await hash_of(4))
    # Event 1 hashed with its keyed marker; without its MAC its hash no longer matches.
    await assert_refused(settings, secrets, 1, "event 1 was altered")


async def test_stripped_macs_of_the_tail_only(app, settings, secrets) -> None:
    """Rehashing only the unsigned tail as MAC-less events: the signed keyed events before it tell."""
    await signed_trail(secrets, events=8, checkpoint_at=4)
    rows = await events_from(6)
    rows[0]["action"] = "nothing.happened"
    for row in rows:
        row["mac"] = None
    async with attacker(settings) as execute:
        await execute("DELETE FROM audit_event WHERE seq >= ?", 6)
        await rewrite(settings, execute, rows, await hash_of(5))
    await assert_refused(settings, secrets, 6, "event 6 has no MAC though event 1 before it has")


async def test_register_does_not_sign_over_a_forged_tail(app, settings, secrets) -> None:
    """No checkpoint covers an event whose MAC fails, so even the public key alone finds out."""
    await signed_trail(secrets, events=6, checkpoint_at=4)
    rows = await events_from(6)
    rows[0]["actor"] = "someone-else"
    async with attacker(settings) as execute:
        await execute("DELETE FROM audit_event WHERE seq >= ?", 6)
        await rewrite(settings, execute, rows, await hash_of(5))
    result = await run_cli(settings, "audit", "checkpoint")
    assert result.code == 2, result
    assert "not signing a checkpoint at event 6: the MAC of event 6 does not match" in result.err
    # Changes go on, unsigned; the 100th event's checkpoint is missing, which the public key sees.
    await record_events(94)
    checkpoints = await AuditCheckpoint.select(AuditCheckpoint.seq)
    assert [c["seq"] for c in checkpoints] == [4]
    assert [line["seq"] for line in witness_lines(settings)] == [4]
    verdict = await audit.verify(secrets.verify_key)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 100), verdict
    assert "the signed checkpoint at event 100 is missing" in verdict.reason
    await assert_refused(settings, secrets, 6, "event 6 was altered or forged: its MAC")


# ---------------------------------------------------------------- trails written before the upgrade


async def legacy_events(n: int) -> None:
    """Append n events as the register wrote them before the trail was keyed (SHA-256 only)."""
    async with write_transaction():
        last = await AuditEvent.select().order_by(AuditEvent.seq, ascending=False).first()
        prev, seq = (last["hash"], last["seq"]) if last else (audit.GENESIS, 0)
        for i in range(n):
            seq += 1
            event = {
                "seq": seq,
                "at": audit.now(),
                "actor_id": None,
                "actor": "legacy",
                "action": "test.legacy",
                "object_type": "thing",
                "object_id": str(i),
                "changes": audit.canonical({"n": [i, i + 1]}),
                "request_id": "",
                "client_address": "",
                "prev_hash": prev,
            }
            event["hash"] = prev = audit.event_hash(event, keyed=False)
            await AuditEvent.insert(AuditEvent(**event))


async def test_trail_written_before_the_upgrade_still_verifies(app, settings, secrets) -> None:
    """Old SHA-256 events verify; the first keyed event after them is signed at once."""
    await legacy_events(3)
    assert await audit.checkpoint_now() == 3
    await legacy_events(2)
    rows = await AuditEvent.select(AuditEvent.seq, AuditEvent.mac).order_by(AuditEvent.seq)
    assert [r["mac"] for r in rows] == [None] * 5
    assert (await audit.verify(secrets.verify_key, mac_key=secrets.audit_mac_key)).ok

    await record_events(3)
    rows = await AuditEvent.select(AuditEvent.seq, AuditEvent.mac).order_by(AuditEvent.seq)
    assert [r["mac"] is not None for r in rows] == [False] * 5 + [True] * 3
    checkpoints = await AuditCheckpoint.select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)
    assert [c["seq"] for c in checkpoints] == [3, 6]
    verdict = await audit.verify(secrets.verify_key, mac_key=secrets.audit_mac_key)
    assert (verdict.ok, verdict.events, verdict.macs_checked) == (True, 8, True), verdict
    assert (await audit.verify(secrets.verify_key)).ok
    result = await run_cli(settings, "audit", "verify")
    assert result.code == 0, result
    assert "audit trail OK: 8 events, 2 signed checkpoints" in result.out


async def test_old_events_cannot_follow_keyed_ones(app, settings, secrets) -> None:
    """An event written the old way after keyed ones (an old version writing on) is refused."""
    await record_events(2)
    await legacy_events(1)
    await assert_refused(settings, secrets, 3, "event 3 has no MAC though event 1 before it has")


async def test_a_mac_from_another_key_is_refused(app, settings, secrets) -> None:
    """MACs made with another secret key file (the wrong file, or a forger's) do not verify."""
    await record_events(3)
    verdict = await audit.verify(secrets.verify_key, mac_key=b"\x01" * 32)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 1), verdict
    assert "its MAC does not match" in verdict.reason


async def test_record_refuses_without_the_mac_key(app, secrets) -> None:
    """No event is written unkeyed because the key was not given to the trail."""
    saved = audit._signer.mac_key
    audit._signer.mac_key = None
    try:
        with pytest.raises(RuntimeError, match="MAC key"):
            await audit.record(Actor.system("test"), "test.event")
    finally:
        audit._signer.mac_key = saved
    assert await AuditEvent.count() == 0


# ---------------------------------------------------------------- the witness outside the database


def witness_lines(settings: Settings) -> list[dict[str, Any]]:
    """The witness file's lines, parsed."""
    path = settings.audit_witness_file
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_each_checkpoint_is_witnessed_once_committed(app, settings, secrets) -> None:
    """Every signed checkpoint lands in the witness file (0600), one JSON line, after its commit."""
    await record_events(3)
    await audit.checkpoint_now()
    await record_events(2)
    await audit.checkpoint_now()
    path = settings.audit_witness_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = await AuditCheckpoint.select().order_by(AuditCheckpoint.seq)
    assert witness_lines(settings) == [audit.witness_entry(cp) for cp in stored]
    assert set(witness_lines(settings)[0]) == {"seq", "hash", "signed_at", "key_id", "signature"}
    verdict = await audit.verify(secrets.verify_key, witness=audit.read_witness(path))
    assert (verdict.ok, verdict.witnessed) == (True, 2), verdict
    result = await run_cli(settings, "audit", "verify", "--witness", str(path))
    assert result.code == 0, result
    assert "audit trail OK: 5 events, 2 signed checkpoints, 2 witnessed checkpoints found" in (
        result.out
    )

    # A checkpoint undone with its transaction, or with a savepoint inside one, is not witnessed.
    with pytest.raises(RuntimeError, match="change refused"):
        async with write_transaction():
            await record_events(1)
            await audit.checkpoint_now()
            raise RuntimeError("change refused")
    async with write_transaction():
        with pytest.raises(RuntimeError, match="part refused"):
            async with write_transaction():
                await record_events(1)
                await audit.checkpoint_now()
                raise RuntimeError("part refused")
        await record_events(1)
    assert await AuditCheckpoint.count() == 2
    assert len(witness_lines(settings)) == 2
    assert (await audit.verify(secrets.verify_key, witness=audit.read_witness(path))).ok


def test_witness_lines_from_many_writers_stay_whole(tmp_path) -> None:
    """Writers appending at once (threads here, processes alike) never interleave their lines."""
    path = tmp_path / "witness.jsonl"
    entry = {"seq": 1, "hash": "a" * 64, "signed_at": "x", "key_id": "k", "signature": "s" * 88}

    def append_many(writer: int) -> None:
        for i in range(300):
            audit.append_witness(path, {**entry, "seq": writer * 1000 + i})

    threads = [threading.Thread(target=append_many, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [json.loads(line)["seq"] for line in path.read_text().splitlines()]
    assert sorted(seqs) == sorted(w * 1000 + i for w in range(8) for i in range(300))


async def test_checkpoints_are_sent_to_subscribers(app, admin, settings, secrets, tmp_path) -> None:
    """Subscriptions may choose audit.checkpoint; what they keep is a witness `verify` reads."""
    schema = (await admin.get("/schema/openapi.json")).json()
    assert "audit.checkpoint" in json.dumps(schema["components"]["schemas"])
    resp = await admin.post(
        "/api/v1/subscriptions",
        json={
            "name": "SIEM",
            "url": "http://127.0.0.1:9/siem",
            "format": "json",
            "event_types": ["audit.checkpoint"],
        },
    )
    assert resp.status_code == 201, resp.text
    await record_events(2)
    await audit.checkpoint_now()
    messages = await OutboxMessage.select().where(OutboxMessage.event_type == "audit.checkpoint")
    assert len(messages) == 1
    event = json.loads(messages[0]["event"])
    assert event["type"] == "audit.checkpoint"
    assert event["payload"] == witness_lines(settings)[-1]
    kept = tmp_path / "siem.jsonl"
    kept.write_text(messages[0]["event"] + "\n")
    verdict = await audit.verify(secrets.verify_key, witness=audit.read_witness(kept))
    assert (verdict.ok, verdict.witnessed) == (True, 1), verdict


async def test_cut_together_with_its_checkpoint_is_refused_by_the_witness(
    app, settings, secrets
) -> None:
    """Deleting the newest events and the checkpoint that signed them leaves a valid prefix, but
    not the witness's."""
    await signed_trail(secrets, events=7, checkpoint_at=3)
    await audit.checkpoint_now()
    await record_events(2)
    async with attacker(settings) as execute:
        await execute("DELETE FROM audit_checkpoint WHERE seq = ?", 7)
        await execute("DELETE FROM audit_event WHERE seq >= ?", 5)
    # Inside the database nothing is left to tell.
    assert (await audit.verify(secrets.verify_key, mac_key=secrets.audit_mac_key)).ok
    await assert_refused(
        settings,
        secrets,
        7,
        "event 7 is missing: the trail ends at event 4, short of the witnessed checkpoint at "
        "event 7 signed",
        witness=settings.audit_witness_file,
    )


async def test_deleted_checkpoint_is_refused_by_the_witness(app, settings, secrets) -> None:
    """A checkpoint removed from the database, its events left, is named."""
    await signed_trail(secrets, events=5, checkpoint_at=3)
    async with attacker(settings) as execute:
        await execute("DELETE FROM audit_checkpoint WHERE seq = ?", 3)
    assert (await audit.verify(secrets.verify_key, mac_key=secrets.audit_mac_key)).ok
    await assert_refused(
        settings, secrets, 3, "is missing from the database", witness=settings.audit_witness_file
    )


async def test_rewrite_under_a_deleted_checkpoint_is_refused_by_the_witness(
    app, settings, secrets, tmp_path
) -> None:
    """With the public key only (no MACs), a chain rebuilt under a deleted checkpoint is named."""
    await signed_trail(secrets, events=6, checkpoint_at=6)
    rows = await events_from(3)
    rows[0]["actor"] = "someone-else"
    async with attacker(settings) as execute:
        await execute("DELETE FROM audit_checkpoint WHERE seq = ?", 6)
        await execute("DELETE FROM audit_event WHERE seq >= ?", 3)
        await rewrite(settings, execute, rows, await hash_of(2))
    assert (await audit.verify(secrets.verify_key)).ok
    witness = audit.read_witness(settings.audit_witness_file)
    verdict = await audit.verify(secrets.verify_key, witness=witness)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 6), verdict
    assert "event 6 differs from the witnessed checkpoint at event 6" in verdict.reason
    public = tmp_path / "audit.pub"
    public.write_text((await run_cli(settings, "audit", "public-key")).out)
    result = await run_cli(
        settings,
        "audit",
        "verify",
        "--public-key",
        str(public),
        "--witness",
        str(settings.audit_witness_file),
    )
    assert result.code == 1, result
    assert "BROKEN at event 6: event 6 differs from the witnessed checkpoint" in result.err


async def test_altered_or_unreadable_witness_is_refused(app, settings, secrets, tmp_path) -> None:
    """A witness line that its signature does not cover is refused; a line that is no
    checkpoint at all stops the command."""
    await signed_trail(secrets, events=3, checkpoint_at=3)
    line = witness_lines(settings)[0]
    forged = tmp_path / "forged.jsonl"
    forged.write_text(json.dumps({**line, "hash": "f" * 64}) + "\n")
    await assert_refused(settings, secrets, 3, "has an invalid signature", witness=forged)
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(line) + "\n" + "not json\n")
    result = await run_cli(settings, "audit", "verify", "--witness", str(broken))
    assert result.code == 2, result
    assert "line 2: not a witnessed checkpoint" in result.err
    missing = await run_cli(settings, "audit", "verify", "--witness", str(tmp_path / "none"))
    assert missing.code == 2, missing
    assert "cannot read the witness file" in missing.err
