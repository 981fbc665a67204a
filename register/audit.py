"""The audit trail: append-only events, hash-chained and keyed, with Ed25519-signed checkpoints.

Each event's `hash` is SHA-256 over its content and the previous hash, so anyone can check the
chain and, with the public key, the checkpoints that sign it. Each event also carries `mac`,
HMAC-SHA-256 of that hash under a key derived from the secret key file, which the database does
not hold: since the hash covers everything before it, one MAC vouches for the whole trail up to
its event, and someone who can write the database cannot recompute it after an edit, a deletion
or an insertion, even after the last checkpoint, where no signature covers the events yet.

Events written before the trail was keyed have no MAC and verify as before (SHA-256 chain and
checkpoints). A keyed event says so inside what its hash covers, so its MAC cannot be stripped
to pass it off as an old one; no event without a MAC may follow one with a MAC; and the first
keyed event is signed in a checkpoint at once, which closes the old part under a signature.

Every checkpoint is also given to witnesses outside the database, once it has committed: a line
in the witness file (REGISTER_AUDIT_WITNESS_FILE) and an `audit.checkpoint` event to the
subscriptions that take it (a SIEM keeps them). `verify(..., witness=...)` then refuses a trail
that was cut or wiped along with its checkpoints, which nothing inside the database can show.
"""

from __future__ import annotations

import base64
import contextvars
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from piccolo.columns.combination import WhereRaw

from register.actor import Actor
from register.db import (
    as_utc,
    fetch,
    get_engine,
    is_postgres,
    json_default,
    now,
    on_commit,
    write_transaction,
)
from register.errors import Conflict, InvalidInput
from register.extensions import extensions
from register.i18n import N_
from register.keys import public_key_id
from register.tables import AuditCheckpoint, AuditEvent

log = logging.getLogger("register.audit")

GENESIS = "0" * 64
# A checkpoint is signed with every CHECKPOINT_EVERY-th event; with the first event appended once
# the oldest unsigned one is CHECKPOINT_SECONDS old; and by every delivery worker each
# CHECKPOINT_SECONDS (the delivery worker), so a quiet trail is signed too. An event thus waits at
# most 99 events, and about a minute (this plus the worker's batch in flight), for its signature.
CHECKPOINT_EVERY = 100
CHECKPOINT_SECONDS = 30.0
# Any 64-bit constant: the advisory lock that serialises appends to the chain on PostgreSQL.
CHAIN_LOCK_KEY = 0x5A5245474155
# Inside the hashed content of every keyed event (see event_hash).
KEYED_CHAIN = "hmac-sha256"


class _Signer:
    key: Ed25519PrivateKey | None = None
    mac_key: bytes | None = None
    witness_file: Path | None = None


_signer = _Signer()

# Set to a list, what each event recorded in the context names, with the transaction that wrote
# it: a request with an Idempotency-Key tells what its change was (register.http).
NOTES: contextvars.ContextVar[list[tuple[Any, dict[str, str]]] | None] = contextvars.ContextVar(
    "register_audit_notes", default=None
)


def configure(
    signing_key: Ed25519PrivateKey, mac_key: bytes, witness_file: Path | None = None
) -> None:
    """Give the trail its keys (checkpoints, events) and the file that witnesses checkpoints."""
    _signer.key = signing_key
    _signer.mac_key = mac_key
    _signer.witness_file = witness_file


def canonical(value: Any) -> str:
    """The one JSON form that is hashed and signed (times as the API writes them)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=json_default
    )


def event_hash(event: Mapping[str, Any], keyed: bool | None = None) -> str:
    """SHA-256 over the previous hash and the event's canonical content (keyed: it has a MAC)."""
    body = {
        "seq": event["seq"],
        "at": as_utc(event["at"]).isoformat(timespec="microseconds"),
        "actor_id": event["actor_id"],
        "actor": event["actor"],
        "action": event["action"],
        "object_type": event["object_type"],
        "object_id": event["object_id"],
        "changes": event["changes"],
        "request_id": event["request_id"],
        "client_address": event["client_address"],
        "prev_hash": event["prev_hash"],
    }
    if keyed is None:
        keyed = event.get("mac") is not None
    if keyed:
        # Events written before the trail was keyed hash without this field, so their hashes
        # are unchanged; a keyed event whose MAC is removed no longer matches its own hash.
        body["chain"] = KEYED_CHAIN
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def event_mac(mac_key: bytes, hash_: str) -> str:
    """HMAC-SHA-256 of an event's chained hash: only the holder of the key can write it."""
    return hmac.new(mac_key, hash_.encode(), hashlib.sha256).hexdigest()


def diff(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], secret: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Changed fields as {field: [old, new]}; secret fields show only that they changed."""
    changes: dict[str, Any] = {}
    for key, new in after.items():
        old = None if before is None else before.get(key)
        if before is not None and old == new:
            continue
        changes[key] = ["***", "***"] if key in secret else [old, new]
    return changes


async def lock_chain() -> None:
    """Take the chain's lock now (PostgreSQL; SQLite writers are serial anyway).

    A transaction that changes many rows and audits each one takes it first: holding row locks
    while queueing for the chain, behind someone who holds the chain and wants one of those
    rows, is a deadlock.
    """
    if is_postgres():
        await get_engine().run_ddl(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK_KEY})")


async def _last() -> dict[str, Any] | None:
    # Hand-written: read on every list of accounts (see accounts.risks), where building the
    # Piccolo query cost more than running it.
    rows = await fetch('SELECT "seq", "hash" FROM "audit_event" ORDER BY "seq" DESC LIMIT 1')
    return rows[0] if rows else None


async def _chain_end() -> dict[str, Any] | None:
    """The last event (seq, hash, mac) and when the oldest event no checkpoint covers was written."""
    rows = await fetch(
        'SELECT e."seq", e."hash", e."mac", ('
        '  SELECT u."at" FROM "audit_event" u'
        '  WHERE u."seq" > (SELECT COALESCE(MAX(c."seq"), 0) FROM "audit_checkpoint" c)'
        '  ORDER BY u."seq" LIMIT 1'
        ') AS "unsigned_since" '
        'FROM "audit_event" e ORDER BY e."seq" DESC LIMIT 1'
    )
    return rows[0] if rows else None


def _checkpoint_due(seq: int, last: Mapping[str, Any] | None, at: dt.datetime) -> bool:
    """Whether appending event `seq` at `at` also signs a checkpoint (see CHECKPOINT_EVERY)."""
    if seq % CHECKPOINT_EVERY == 0:
        return True
    if last is None:
        return False
    if last["mac"] is None:
        # The first keyed event after unkeyed ones (the upgrade) is signed at once, so the
        # unkeyed part of the trail is closed under a signature before anything else is added.
        return True
    since = last["unsigned_since"]
    if since is None:
        return False
    # A subquery's column has no declared type, so SQLite hands the time back as text.
    oldest = as_utc(dt.datetime.fromisoformat(since) if isinstance(since, str) else since)
    return (at - oldest).total_seconds() >= CHECKPOINT_SECONDS


async def record(
    actor: Actor | None,
    action: str,
    object_type: str = "",
    object_id: str | int = "",
    changes: Mapping[str, Any] | None = None,
) -> int:
    """Append one event in the caller's transaction; if this fails, the change fails with it."""
    actor = actor or Actor.system()
    if _signer.mac_key is None:
        raise RuntimeError("audit MAC key not configured")
    async with write_transaction():
        await lock_chain()
        last = await _chain_end()
        seq = (last["seq"] + 1) if last else 1
        event = {
            "seq": seq,
            "at": now(),
            "actor_id": actor.user_id,
            "actor": actor.email,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "changes": canonical(dict(changes or {})),
            "request_id": actor.request_id,
            "client_address": actor.client_address,
            "prev_hash": last["hash"] if last else GENESIS,
        }
        event["hash"] = event_hash(event, keyed=True)
        event["mac"] = event_mac(_signer.mac_key, event["hash"])
        await AuditEvent.insert(AuditEvent(**event))
        notes = NOTES.get()
        if notes is not None:
            named = {k: event[k] for k in ("action", "object_type", "object_id")}
            notes.append((get_engine().current_transaction.get(), named))
        if _checkpoint_due(seq, last, event["at"]):
            try:
                await _write_checkpoint(seq, event["hash"])
            except Conflict as exc:
                # Failing the change would let whoever forged the tail stop every change;
                # the events stay unsigned and `register audit verify` names the forgery.
                log.error("audit trail: %s", exc.detail)
    return seq


def checkpoint_message(seq: int, hash_: str, signed_at: dt.datetime) -> bytes:
    """The bytes a checkpoint signs."""
    return canonical(
        {
            "seq": seq,
            "hash": hash_,
            "signed_at": as_utc(signed_at).isoformat(timespec="microseconds"),
        }
    ).encode()


def witness_entry(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint as witnesses keep it: enough to check its signature with the public key alone."""
    return {
        "seq": checkpoint["seq"],
        "hash": checkpoint["hash"],
        "signed_at": as_utc(checkpoint["signed_at"]).isoformat(timespec="microseconds"),
        "key_id": checkpoint["key_id"],
        "signature": checkpoint["signature"],
    }


def append_witness(path: Path, entry: Mapping[str, Any]) -> None:
    """Append one checkpoint to the witness file as one JSON line (created 0600)."""
    line = (canonical(entry) + "\n").encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One write() on an O_APPEND descriptor lands whole at the end of the file, so the
        # lines of several processes appending at once never interleave.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            written = os.write(fd, line)
        finally:
            os.close(fd)
        if written != len(line):
            raise OSError(f"only {written} of {len(line)} bytes written")
    except OSError:
        # The checkpoint has committed with the change it closes; failing that change now
        # would report as lost what was saved. The trail stays verifiable without this line.
        log.exception("could not append the checkpoint at event %s to %s", entry["seq"], path)


async def _unsigned_tail_refusal(upto: int, public: Ed25519PublicKey, mac_key: bytes) -> str:
    """Why the events after the last good checkpoint, up to `upto`, must not be signed ('' if so)."""
    start = 0
    # The newest checkpoint this key really signed: a forged row must not shorten the check.
    for cp in await fetch(
        'SELECT "seq", "hash", "signed_at", "signature" FROM "audit_checkpoint" '
        'WHERE "seq" <= $1 ORDER BY "seq" DESC LIMIT 20',
        upto,
    ):
        try:
            public.verify(
                base64.b64decode(cp["signature"]),
                checkpoint_message(cp["seq"], cp["hash"], cp["signed_at"]),
            )
        except (InvalidSignature, ValueError):
            continue
        start = cp["seq"]
        break
    rows = await fetch(
        'SELECT "seq", "hash", "mac" FROM "audit_event" WHERE "seq" > $1 AND "seq" <= $2 '
        'ORDER BY "seq"',
        start,
        upto,
    )
    keyed = False
    for row in rows:
        if row["mac"] is None:
            if keyed:
                return f"event {row['seq']} has no MAC though an event before it has one"
            continue
        keyed = True
        if not hmac.compare_digest(row["mac"], event_mac(mac_key, row["hash"])):
            return f"the MAC of event {row['seq']} does not match (altered or forged)"
    return ""


async def _write_checkpoint(seq: int, hash_: str) -> None:
    if _signer.key is None or _signer.mac_key is None:
        raise RuntimeError("audit signing key not configured")
    # A signature over events whose MACs fail would make a forgery look sound to whoever checks
    # with the public key only; left unsigned, it shows at the next 100th event at the latest.
    refusal = await _unsigned_tail_refusal(seq, _signer.key.public_key(), _signer.mac_key)
    if refusal:
        raise Conflict(
            N_("not signing a checkpoint at event %(seq)s: %(refusal)s"),
            params={"seq": seq, "refusal": refusal},
        )
    signed_at = now()
    signature = _signer.key.sign(checkpoint_message(seq, hash_, signed_at))
    checkpoint = {
        "seq": seq,
        "hash": hash_,
        "signed_at": signed_at,
        "key_id": public_key_id(_signer.key.public_key()),
        "signature": base64.b64encode(signature).decode(),
    }
    await AuditCheckpoint.insert(AuditCheckpoint(**checkpoint))
    entry = witness_entry(checkpoint)
    path = _signer.witness_file
    if path is not None:
        # After the commit only: a witnessed checkpoint that a rollback undid would read as a
        # cut trail.
        on_commit(lambda: append_witness(path, entry))
    # Notifications send it to the subscriptions that take audit.checkpoint (a SIEM keeps it),
    # in this transaction like any event; the core does not import them.
    extensions.load()
    for witness in extensions.on_checkpoint:
        await witness(entry)


async def checkpoint_now() -> int | None:
    """Sign a checkpoint at the chain's end unless one is there already (shutdown, CLI)."""
    async with write_transaction():
        await lock_chain()
        last = await _last()
        if not last:
            return None
        done = await AuditCheckpoint.exists().where(AuditCheckpoint.seq == last["seq"])
        if not done:
            await _write_checkpoint(last["seq"], last["hash"])
        return last["seq"]


async def checkpoint_if_unsigned() -> int | None:
    """Sign the chain's end if events came after the last checkpoint (the delivery worker's tick)."""
    # Read without the chain's lock first: on a quiet trail the tick then costs one cheap read.
    rows = await fetch(
        'SELECT (SELECT MAX("seq") FROM "audit_event") AS "last", '
        '(SELECT MAX("seq") FROM "audit_checkpoint") AS "signed"'
    )
    last, signed = rows[0]["last"], rows[0]["signed"]
    if last is None or (signed is not None and signed >= last):
        return None
    return await checkpoint_now()


@dataclass(frozen=True)
class Verdict:
    """The outcome of verifying the trail."""

    ok: bool
    events: int
    checkpoints: int
    first_bad_seq: int | None = None
    reason: str = ""
    # Whether every event's MAC was checked (needs the secret key; the public key checks the rest).
    macs_checked: bool = False
    # Checkpoints of a witness file found intact in the trail (0 when none was given).
    witnessed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "ok": self.ok,
            "events": self.events,
            "checkpoints": self.checkpoints,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
            "macs_checked": self.macs_checked,
            "witnessed": self.witnessed,
        }


@dataclass(frozen=True)
class Witnessed:
    """One checkpoint as a witness holds it, and the line of the witness file it is on."""

    line: int
    seq: int
    hash: str
    signed_at: dt.datetime
    key_id: str
    signature: str

    def named(self) -> str:
        """How a verdict names it."""
        when = self.signed_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        return (
            f"the witnessed checkpoint at event {self.seq} signed {when} (witness line {self.line})"
        )


def read_witness(path: Path) -> list[Witnessed]:
    """The checkpoints of a witness file: its own lines, or `audit.checkpoint` events as sent."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            N_("%(path)s: cannot read the witness file: %(exc)s"),
            field="witness",
            params={"path": path, "exc": exc},
        ) from exc
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            if "payload" in data:
                data = data["payload"]  # an audit.checkpoint event kept by a receiver
            entries.append(
                Witnessed(
                    line=number,
                    seq=int(data["seq"]),
                    hash=str(data["hash"]),
                    signed_at=as_utc(dt.datetime.fromisoformat(data["signed_at"])),
                    key_id=str(data["key_id"]),
                    signature=str(data["signature"]),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(
                N_(
                    "%(path)s, line %(number)s: not a witnessed checkpoint (one JSON object with seq, hash, signed_at, key_id and signature per line)"
                ),
                field="witness",
                params={"path": path, "number": number},
            ) from exc
    return entries


async def head() -> tuple[int, str]:
    """The last event's (seq, hash): it changes with every change to the register."""
    last = await _last()
    return (int(last["seq"]), str(last["hash"])) if last else (0, GENESIS)


async def _last_seq() -> int:
    last = await _last()
    return int(last["seq"]) if last else 0


async def _walk(
    upto: int, wanted: set[int], batch: int, mac_key: bytes | None
) -> tuple[int, dict[int, str], tuple[int, str] | None]:
    """Check every link up to event `upto`: (events seen, hashes of `wanted`, first break)."""
    expected, prev_hash, count, after = 1, GENESIS, 0, 0
    hashes: dict[int, str] = {}
    first_keyed: int | None = None
    while True:
        rows = (
            await AuditEvent.select()
            .where((AuditEvent.seq > after) & (AuditEvent.seq <= upto))
            .order_by(AuditEvent.seq)
            .limit(batch)
        )
        if not rows:
            return count, hashes, None
        for row in rows:
            count += 1
            seq = row["seq"]
            if seq != expected:
                gap = f"event {expected} is missing: the chain jumps from {expected - 1} to {seq}"
                return count, hashes, (expected, gap)
            own = event_hash(row)
            if own != row["hash"]:
                return (
                    count,
                    hashes,
                    (seq, f"event {seq} was altered: its content no longer matches its hash"),
                )
            if row["mac"] is None and first_keyed is not None:
                return (
                    count,
                    hashes,
                    (
                        seq,
                        f"event {seq} has no MAC though event {first_keyed} before it has one: "
                        "it was written or rewritten without the trail's key",
                    ),
                )
            if row["mac"] is not None:
                first_keyed = first_keyed or seq
                if mac_key is not None and not hmac.compare_digest(
                    row["mac"], event_mac(mac_key, own)
                ):
                    # Its hash is consistent, so the chain was recomputed by someone without
                    # the key: an edit, a deletion or an insertion at or before this event.
                    return (
                        count,
                        hashes,
                        (
                            seq,
                            f"event {seq} was altered or forged: its MAC does not match "
                            "(the chain was recomputed without the trail's key)",
                        ),
                    )
            if row["prev_hash"] != prev_hash:
                # This event is consistent in itself, so the one before it changed after the fact.
                return (
                    count,
                    hashes,
                    (
                        seq - 1,
                        f"event {seq - 1} was altered: event {seq} recorded a different hash for it",
                    ),
                )
            if seq in wanted:
                hashes[seq] = own
            prev_hash = own
            expected += 1
            after = seq


def _check_witness(
    witness: Sequence[Witnessed],
    verify_key: Ed25519PublicKey,
    checkpoints: list[dict[str, Any]],
    hashes: dict[int, str],
    span: tuple[int, int, int],
) -> tuple[list[tuple[int, str]], int]:
    """Problems with the trail against a witness, and how many witnessed checkpoints matched.

    `span` is (events verified, end of the trail now, first bad event or 0).
    """
    upto, end_now, bad = span
    key_id = public_key_id(verify_key)
    stored = {(cp["seq"], cp["signature"]) for cp in checkpoints}
    problems: list[tuple[int, str]] = []
    matched = 0
    for w in witness:
        try:
            verify_key.verify(
                base64.b64decode(w.signature), checkpoint_message(w.seq, w.hash, w.signed_at)
            )
        except (InvalidSignature, ValueError):
            reason = f"{w.named()} has an invalid signature: the witness is damaged or forged"
            if w.key_id != key_id:
                reason += f"; it names key {w.key_id}, this check used key {key_id}"
            problems.append((w.seq, reason))
            continue
        if w.seq > end_now:
            ends = "the trail is empty" if end_now == 0 else f"the trail ends at event {end_now}"
            problems.append((w.seq, f"event {w.seq} is missing: {ends}, short of {w.named()}"))
        elif w.seq > upto or (bad and w.seq >= bad):
            continue  # appended since this run started, or beyond a break already reported
        elif hashes.get(w.seq) != w.hash:
            problems.append(
                (w.seq, f"event {w.seq} differs from {w.named()}: the trail was rewritten")
            )
        elif (w.seq, w.signature) not in stored:
            problems.append((w.seq, f"{w.named()} is missing from the database (deleted)"))
        else:
            matched += 1
    return problems, matched


async def _held_without_trail() -> str:
    """What the database holds that an empty trail would have recorded ('' if nothing)."""
    # Every user and token, and every record a part counts here, was made by an audited change.
    counts = await fetch(
        'SELECT (SELECT COUNT(*) FROM "register_user") AS "user", '
        '(SELECT COUNT(*) FROM "api_token") AS "API token"'
    )
    held = [(counts[0]["user"], "user"), (counts[0]["API token"], "API token")]
    extensions.load()
    for name, count in extensions.audited_records.items():
        held.append((await count(), name))
    return ", ".join(f"{n} {name}{'' if n == 1 else 's'}" for n, name in held if n)


async def verify(
    verify_key: Ed25519PublicKey,
    *,
    mac_key: bytes | None = None,
    witness: Sequence[Witnessed] = (),
    batch: int = 5000,
) -> Verdict:
    """Walk the whole chain and every checkpoint, against a witness if given; name the first bad event.

    Without `mac_key` (an auditor holding only the public key) the MACs are not checked: the
    events after the last checkpoint are then covered by the SHA-256 chain alone.
    """
    # The service keeps appending while this runs. Verify the chain as far as it reached at the
    # start (`upto`); checkpoints are read after that point, so every one due by then is seen.
    upto = await _last_seq()
    checkpoints = await AuditCheckpoint.select().order_by(AuditCheckpoint.seq)
    end_now = await _last_seq()
    key_id = public_key_id(verify_key)
    # Only hashes that checkpoints vouch for are kept, so memory stays flat on a long trail.
    wanted = {cp["seq"] for cp in checkpoints} | {w.seq for w in witness}
    count, hashes, bad = await _walk(upto, wanted, batch, mac_key)
    # Every problem found, by the event it concerns; the earliest is the one reported.
    problems: list[tuple[int, str]] = [bad] if bad is not None else []
    signed: set[int] = set()
    last_good = 0
    for cp in checkpoints:
        seq = cp["seq"]
        try:
            verify_key.verify(
                base64.b64decode(cp["signature"]),
                checkpoint_message(seq, cp["hash"], cp["signed_at"]),
            )
        except (InvalidSignature, ValueError):
            reason = f"checkpoint at event {seq} has an invalid signature (forged or altered)"
            if cp["key_id"] != key_id:
                # Says which key it claims, so an operator holding the wrong key file can tell.
                reason += f"; it names key {cp['key_id']}, this check used key {key_id}"
            problems.append((seq, reason))
            continue
        signed.add(seq)
        if seq > end_now:
            problems.append((seq, f"event {seq}, signed in a checkpoint, is missing"))
        elif seq > upto or (bad is not None and seq >= bad[0]):
            continue  # appended since this run started, or beyond a break already reported
        elif hashes.get(seq) != cp["hash"]:
            # The chain is consistent but not the one that was signed: it was rebuilt after
            # the last checkpoint that still matches.
            problems.append(
                (
                    seq,
                    f"event {seq} does not match its signed checkpoint: the chain was rewritten "
                    f"between events {last_good + 1} and {seq}",
                )
            )
        else:
            last_good = max(last_good, seq)
    # A checkpoint is signed with every CHECKPOINT_EVERY-th event in the same transaction, so
    # one that is absent was removed (to hide a rewrite of the chain before it).
    verified_up_to = bad[0] - 1 if bad is not None else upto
    for seq in range(CHECKPOINT_EVERY, verified_up_to + 1, CHECKPOINT_EVERY):
        if seq not in signed:
            problems.append(
                (seq, f"the signed checkpoint at event {seq} is missing (deleted or forged)")
            )
            break
    against_witness, witnessed = _check_witness(
        witness, verify_key, checkpoints, hashes, (upto, end_now, bad[0] if bad else 0)
    )
    problems += against_witness
    if count == 0 and end_now == 0:
        # An empty trail is intact only on an empty register: a wipe leaves no break to find.
        held = await _held_without_trail()
        if held:
            problems.append((1, f"the trail is empty, yet the database holds {held}: it was wiped"))
    macs_checked = mac_key is not None
    if problems:
        first_seq, reason = min(problems, key=lambda p: p[0])
        # The walk stopped at the break; report the size of the whole trail all the same.
        total = await AuditEvent.count() if bad is not None else count
        return Verdict(False, total, len(checkpoints), first_seq, reason, macs_checked, witnessed)
    return Verdict(True, count, len(checkpoints), None, "", macs_checked, witnessed)


def event_out(row: dict[str, Any]) -> dict[str, Any]:
    """An event row as the API shows it."""
    changes = row["changes"]
    return {
        "seq": row["seq"],
        "at": row["at"],
        "actor_id": row["actor_id"],
        "actor": row["actor"],
        "action": row["action"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "changes": json.loads(changes) if isinstance(changes, str) else (changes or {}),
        "request_id": row["request_id"],
        "client_address": row["client_address"],
        "hash": row["hash"],
    }


async def list_events(
    *,
    limit: int,
    offset: int,
    actor_id: int | None = None,
    actor_ids: Sequence[int] | None = None,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    upto_seq: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Events newest first; `action` ending in '.' or '*' matches a prefix.

    `actor_ids` matches any of those users, or, given with `actor`, also the actor so named (the
    page's "who": the users of that name, or the register itself under that label).
    """
    query = AuditEvent.select()
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if upto_seq is not None:
        query = query.where(AuditEvent.seq <= upto_seq)
    if actor_ids is not None:
        # An empty list matches nothing, as a name that nobody has should.
        by_id = AuditEvent.actor_id.is_in(list(actor_ids) or [-1])
        if actor:
            query = query.where(by_id | (AuditEvent.actor == actor.strip().lower()))
        else:
            query = query.where(by_id)
    elif actor:
        query = query.where(AuditEvent.actor == actor.strip().lower())
    if action:
        if action.endswith(("*", ".")):
            # A literal, case-sensitive prefix on both engines (LIKE folds case on SQLite only).
            prefix = action.rstrip("*")
            query = query.where(WhereRaw('substr("action", 1, {}) = {}', len(prefix), prefix))
        else:
            query = query.where(AuditEvent.action == action)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    if since is not None:
        query = query.where(AuditEvent.at >= as_utc(since))
    if until is not None:
        query = query.where(AuditEvent.at < as_utc(until))
    rows = await query.order_by(AuditEvent.seq, ascending=False).limit(limit + 1).offset(offset)
    if len(rows) > limit:
        return [event_out(r) for r in rows[:limit]], offset + limit
    return [event_out(r) for r in rows], None


async def recorded(column: str) -> list[str]:
    """The distinct actions (or object types) the trail holds, sorted: what filters can offer."""
    if column not in ("action", "object_type"):
        raise ValueError(column)
    # A loose index scan: one index probe per distinct value, not a pass over every event.
    rows = await fetch(
        f'WITH RECURSIVE v("value") AS (SELECT MIN("{column}") FROM "audit_event" UNION ALL '
        f'SELECT (SELECT MIN("{column}") FROM "audit_event" WHERE "{column}" > v."value") '
        'FROM v WHERE v."value" IS NOT NULL) SELECT "value" FROM v WHERE "value" IS NOT NULL'
    )
    return [r["value"] for r in rows if r["value"]]


def witness_of(path: Path | None) -> list[Witnessed] | None:
    """The checkpoints of the configured witness file; None when there is no file to read."""
    if path is None or not path.exists():
        return None
    return read_witness(path)


async def action_counts(
    action: str, *, actor_ids: list[int], since: dt.datetime
) -> list[dict[str, Any]]:
    """How often these users did one action to each object since a moment, and when last."""
    if not actor_ids:
        return []
    marks = ", ".join(f"${n + 3}" for n in range(len(actor_ids)))
    rows = await fetch(
        'SELECT "object_id", COUNT(*) AS "n", MAX("at") AS "last_at" FROM "audit_event" '
        f'WHERE "action" = $1 AND "at" >= $2 AND "actor_id" IN ({marks}) GROUP BY "object_id"',
        action,
        since,
        *actor_ids,
    )
    for r in rows:
        # MAX() loses the column's type on SQLite.
        if isinstance(r["last_at"], str):
            r["last_at"] = dt.datetime.fromisoformat(r["last_at"])
    return rows
