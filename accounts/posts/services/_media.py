"""A post request's photos: stripped before they are kept, sealed like evidence, opened to its readers."""

from __future__ import annotations

import asyncio
import unicodedata
from typing import Any

from accounts.posts.files import Stripped, strip_photo
from accounts.posts.tables import PostMedia
from register import audit
from register.actor import Actor
from register.crypto import Envelope, open_bytes, seal_bytes
from register.db import write_transaction
from register.errors import InvalidInput, NotFound
from register.i18n import N_
from register.keys import KeyRing

MEDIA_KIND = "post_media"
MAX_MEDIA = 4


def media_box(keyring: KeyRing) -> Envelope:
    """The envelope that seals post media."""
    return Envelope(keyring=keyring, kind=MEDIA_KIND)


def media_record(post_request_id: int, media_id: int) -> str:
    """The record id sealed into every media ciphertext: post request and media together."""
    return f"{post_request_id}/{media_id}"


def shown_name(filename: str) -> str:
    """A file's name without control or direction marks, at most 255 characters."""
    # A right-to-left override would show "gpj.exe" as "exe.jpg" wherever the name is shown.
    shown = "".join(c for c in filename if unicodedata.category(c) not in ("Cc", "Cf")).strip()
    return (shown or "photo")[:255]


async def strip_upload(content: bytes, field_name: str = "file") -> Stripped:
    """Strip a photo off the event loop (decoding and encoding are CPU work)."""
    return await asyncio.to_thread(strip_photo, content, field_name=field_name)


async def store_media(
    *,
    actor: Actor,
    keyring: KeyRing,
    post_request_id: int,
    position: int,
    filename: str,
    photo: Stripped,
) -> int:
    """Keep one stripped photo, sealed, in the caller's transaction; its id."""
    rows = await PostMedia.insert(
        PostMedia(
            post_request=post_request_id,
            position=position,
            media_type=photo.media_type,
            received_format=photo.received_format,
            width=photo.width,
            height=photo.height,
            size=len(photo.content),
            sha256=photo.sha256,
            removed=photo.removed,
            uploaded_by=actor.user_id,
        )
    ).returning(PostMedia.id)
    media_id = rows[0]["id"]
    box = media_box(keyring)
    record = media_record(post_request_id, media_id)
    key, wrapped, key_version = box.new_data_key(record)
    await PostMedia.update(
        {
            PostMedia.wrapped_key: wrapped,
            PostMedia.key_version: key_version,
            PostMedia.filename_ct: box.seal(key, record, "filename", shown_name(filename)),
            PostMedia.content_ct: seal_bytes(box, key, record, "content", photo.content),
        }
    ).where(PostMedia.id == media_id)
    await audit.record(
        actor,
        "post_media.add",
        "post_media",
        media_id,
        {
            "post_request_id": [None, post_request_id],
            "sha256": [None, photo.sha256],
            "removed": [None, photo.removed],
        },
    )
    return media_id


def check_count(existing: int, adding: int) -> None:
    """Refuse more photos than a post takes."""
    if existing + adding > MAX_MEDIA:
        raise InvalidInput(
            N_("a post takes at most %(count)s photos"), field="file", params={"count": MAX_MEDIA}
        )


async def open_media(*, keyring: KeyRing, post_request_id: int, media_id: int) -> dict[str, Any]:
    """One stored photo: its file name, type, SHA-256 and (stripped) bytes."""
    row = (
        await PostMedia.select()
        .where((PostMedia.id == media_id) & (PostMedia.post_request == post_request_id))
        .first()
    )
    if not row:
        raise NotFound(
            N_("photo %(media)s does not exist on post request %(id)s"),
            params={"media": media_id, "id": post_request_id},
        )
    box = media_box(keyring)
    record = media_record(post_request_id, media_id)
    key = box.unwrap(row["wrapped_key"], record)
    return {
        "id": media_id,
        "media_type": row["media_type"],
        "sha256": row["sha256"],
        "filename": box.open(key, record, "filename", row["filename_ct"]),
        "content": open_bytes(box, key, record, "content", bytes(row["content_ct"])),
    }


async def media_contents(*, keyring: KeyRing, post_request_id: int) -> list[bytes]:
    """Every stored photo's bytes, in position order (for the approval's SHA-256)."""
    rows = (
        await PostMedia.select(PostMedia.id)
        .where(PostMedia.post_request == post_request_id)
        .order_by(PostMedia.position)
        .order_by(PostMedia.id)
    )
    return [
        (await open_media(keyring=keyring, post_request_id=post_request_id, media_id=r["id"]))[
            "content"
        ]
        for r in rows
    ]


async def remove_media_row(post_request_id: int, media_id: int) -> dict[str, Any]:
    """Delete one photo's row in the caller's transaction; its metadata."""
    row = (
        await PostMedia.select(PostMedia.id, PostMedia.sha256)
        .where((PostMedia.id == media_id) & (PostMedia.post_request == post_request_id))
        .first()
    )
    if not row:
        raise NotFound(
            N_("photo %(media)s does not exist on post request %(id)s"),
            params={"media": media_id, "id": post_request_id},
        )
    await PostMedia.delete().where(PostMedia.id == media_id)
    return row


async def rewrap_media(keyring: KeyRing, batch: int = 500) -> dict[str, int]:
    """Re-seal every post media data key under the current master key; returns counts."""
    box = media_box(keyring)
    rewrapped = 0
    while True:
        rows = (
            await PostMedia.select(PostMedia.id, PostMedia.post_request, PostMedia.wrapped_key)
            .where((PostMedia.key_version != keyring.current) & (PostMedia.wrapped_key != ""))
            .limit(batch)
        )
        if not rows:
            break
        async with write_transaction():
            for row in rows:
                record = media_record(row["post_request"], row["id"])
                done = (
                    await PostMedia.update(
                        {
                            PostMedia.wrapped_key: box.rewrap(row["wrapped_key"], record),
                            PostMedia.key_version: keyring.current,
                        }
                    )
                    .where(
                        (PostMedia.id == row["id"]) & (PostMedia.wrapped_key == row["wrapped_key"])
                    )
                    .returning(PostMedia.id)
                )
                rewrapped += len(done)
            await audit.record(
                Actor.system("keys rewrap"),
                "post_media.rewrap",
                "post_media",
                "",
                {"count": [None, len(rows)], "key_version": [None, keyring.current]},
            )
    current = await PostMedia.count().where(PostMedia.key_version == keyring.current)
    remaining = await PostMedia.count().where(PostMedia.key_version != keyring.current)
    return {
        "rewrapped": rewrapped,
        "already_current": current - rewrapped,
        "remaining_on_old_versions": remaining,
        "current_version": keyring.current,
    }
