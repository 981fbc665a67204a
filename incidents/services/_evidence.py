"""Evidence: links and files sealed with envelope encryption, their SHA-256, audited reads, rewrap."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from typing import Any

from incidents.enums import EvidenceKind, TimelineKind
from incidents.services._checks import clean_text, clean_url, given_time
from incidents.services._records import incident_row
from incidents.services._timeline import say, timeline
from incidents.tables import Evidence
from register import audit
from register.actor import Actor
from register.crypto import Envelope, open_bytes, seal_bytes
from register.db import fetch, now, write_transaction
from register.errors import InvalidInput, NotFound
from register.i18n import N_
from register.keys import KeyRing

EVIDENCE_KIND = "evidence"
MAX_FILE_BYTES = 10 * 1024 * 1024


def evidence_box(keyring: KeyRing) -> Envelope:
    """The envelope that seals evidence."""
    return Envelope(keyring=keyring, kind=EVIDENCE_KIND)


def evidence_record(incident_id: int, evidence_id: int) -> str:
    """The record id sealed into every evidence ciphertext: incident and evidence together."""
    return f"{incident_id}/{evidence_id}"


EVIDENCE_COLUMNS = (
    '"id", "incident" AS "incident_id", "kind", "media_type", "size", "sha256", "description", '
    '"captured_by", "captured_by_email", "captured_at", "created_at"'
)


async def list_evidence(*, incident_id: int) -> list[dict[str, Any]]:
    """What was captured for an incident (metadata; contents through the audited reads)."""
    await incident_row(incident_id)
    return await fetch(
        f'SELECT {EVIDENCE_COLUMNS} FROM "evidence" WHERE "incident" = $1 ORDER BY "id"',
        incident_id,
    )


async def add_evidence(
    *,
    actor: Actor,
    keyring: KeyRing,
    incident_id: int,
    kind: EvidenceKind,
    description: str = "",
    captured_at: dt.datetime | None = None,
    url: str | None = None,
    filename: str = "",
    media_type: str = "",
    content: bytes | None = None,
) -> dict[str, Any]:
    """Store a URL or a file as evidence, sealed, with its SHA-256 and who captured it when."""
    description = clean_text(description, "description", 2000)
    if kind == EvidenceKind.url:
        url = clean_url(url or "", "url")
        digest = hashlib.sha256(url.encode()).hexdigest()
        size = len(url.encode())
    else:
        if not content:
            raise InvalidInput(N_("the file is empty"), field="file")
        if len(content) > MAX_FILE_BYTES:
            raise InvalidInput(
                N_("files are limited to %(size)s MB"),
                field="file",
                params={"size": MAX_FILE_BYTES // (1024 * 1024)},
            )
        # Control and direction marks go: a right-to-left override would show "gnp.exe" as
        # "exe.png" wherever the name is displayed.
        shown = "".join(c for c in filename if unicodedata.category(c) not in ("Cc", "Cf"))
        filename = shown.strip() or "evidence"
        if len(filename) > 255:
            raise InvalidInput(N_("the file's name is longer than 255 characters"), field="file")
        media_type = clean_text(media_type or "application/octet-stream", "file", 120)
        digest = hashlib.sha256(content).hexdigest()
        size = len(content)
    stamp = now()
    captured = given_time(captured_at, "captured_at") or stamp
    if captured > stamp + dt.timedelta(minutes=5):
        raise InvalidInput(N_("captured_at is in the future"), field="captured_at")
    box = evidence_box(keyring)
    async with write_transaction():
        incident = await incident_row(incident_id)
        rows = await Evidence.insert(
            Evidence(
                incident=incident_id,
                kind=kind.value,
                media_type=media_type if kind == EvidenceKind.file else "text/uri-list",
                size=size,
                sha256=digest,
                description=description,
                captured_by=actor.user_id,
                captured_by_email=actor.email,
                captured_at=captured,
                created_at=stamp,
            )
        ).returning(Evidence.id)
        evidence_id = rows[0]["id"]
        record = evidence_record(incident_id, evidence_id)
        key, wrapped, key_version = box.new_data_key(record)
        values: dict[Any, Any] = {Evidence.wrapped_key: wrapped, Evidence.key_version: key_version}
        if kind == EvidenceKind.url:
            values[Evidence.url_ct] = box.seal(key, record, "url", url or "")
        else:
            values[Evidence.filename_ct] = box.seal(key, record, "filename", filename)
            values[Evidence.content_ct] = seal_bytes(box, key, record, "content", content or b"")
        await Evidence.update(values).where(Evidence.id == evidence_id)
        await timeline(
            actor,
            incident_id,
            TimelineKind.evidence,
            f"evidence added ({kind.value}, sha256 {digest[:12]}...)",
            {"evidence_id": evidence_id, "sha256": digest},
            at=stamp,
            said=say(
                N_("evidence added (%(evidence_kind)s, SHA-256 %(digest)s...)"),
                evidence_kind=kind.value,
                digest=digest[:12],
            ),
        )
        await audit.record(
            actor,
            "evidence.add",
            "evidence",
            evidence_id,
            {
                "incident": [None, incident["reference"]],
                "kind": [None, kind.value],
                "sha256": [None, digest],
            },
        )
    return await evidence_meta(incident_id, evidence_id)


async def evidence_meta(incident_id: int, evidence_id: int) -> dict[str, Any]:
    """One evidence item's metadata, or NotFound."""
    rows = await fetch(
        f'SELECT {EVIDENCE_COLUMNS} FROM "evidence" WHERE "id" = $1 AND "incident" = $2',
        evidence_id,
        incident_id,
    )
    if not rows:
        raise NotFound(
            N_("evidence %(evidence)s does not exist on incident %(incident)s"),
            params={"evidence": evidence_id, "incident": incident_id},
        )
    return rows[0]


async def open_evidence(
    *, actor: Actor, keyring: KeyRing, incident_id: int, evidence_id: int
) -> dict[str, Any]:
    """Decrypt one evidence item for the caller, audited: url, or filename and content."""
    meta = await evidence_meta(incident_id, evidence_id)
    raw = (
        await Evidence.select(
            Evidence.wrapped_key, Evidence.url_ct, Evidence.filename_ct, Evidence.content_ct
        )
        .where(Evidence.id == evidence_id)
        .first()
    )
    box = evidence_box(keyring)
    record = evidence_record(incident_id, evidence_id)
    key = box.unwrap(raw["wrapped_key"], record)
    out = dict(meta)
    if meta["kind"] == EvidenceKind.url.value:
        out["url"] = box.open(key, record, "url", raw["url_ct"])
    else:
        out["filename"] = box.open(key, record, "filename", raw["filename_ct"])
        out["content"] = open_bytes(box, key, record, "content", bytes(raw["content_ct"]))
    async with write_transaction():
        await audit.record(
            actor,
            "evidence.download" if meta["kind"] == EvidenceKind.file.value else "evidence.view",
            "evidence",
            evidence_id,
            {"incident_id": [None, incident_id], "sha256": [None, meta["sha256"]]},
        )
    return out


async def rewrap_evidence(keyring: KeyRing, batch: int = 500) -> dict[str, int]:
    """Re-seal every evidence data key under the current master key; returns counts."""
    box = evidence_box(keyring)
    rewrapped = 0
    while True:
        rows = (
            await Evidence.select(Evidence.id, Evidence.incident, Evidence.wrapped_key)
            .where((Evidence.key_version != keyring.current) & (Evidence.wrapped_key != ""))
            .limit(batch)
        )
        if not rows:
            break
        async with write_transaction():
            for row in rows:
                record = evidence_record(row["incident"], row["id"])
                done = (
                    await Evidence.update(
                        {
                            Evidence.wrapped_key: box.rewrap(row["wrapped_key"], record),
                            Evidence.key_version: keyring.current,
                        }
                    )
                    .where(
                        (Evidence.id == row["id"]) & (Evidence.wrapped_key == row["wrapped_key"])
                    )
                    .returning(Evidence.id)
                )
                rewrapped += len(done)
            await audit.record(
                Actor.system("keys rewrap"),
                "evidence.rewrap",
                "evidence",
                "",
                {"count": [None, len(rows)], "key_version": [None, keyring.current]},
            )
    current = await Evidence.count().where(Evidence.key_version == keyring.current)
    remaining = await Evidence.count().where(Evidence.key_version != keyring.current)
    return {
        "rewrapped": rewrapped,
        "already_current": current - rewrapped,
        "remaining_on_old_versions": remaining,
        "current_version": keyring.current,
    }
