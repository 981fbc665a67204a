"""Photos of a post come out without location or identifying metadata, as independent readers
(Debian's exiftool, and exifread) see them; bad uploads are refused naming the field."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import exifread
import pytest
from PIL import Image

from tests.accounts.posts.conftest import World
from tests.accounts.posts.photos import (
    heic_with_gps,
    jpeg_with_gps,
    png_bomb,
    png_with_gps,
)
from tests.helpers import assert_problem

EXIFTOOL = shutil.which("exiftool") or ""
IDENTIFYING = ("GPS", "Serial", "OwnerName", "Artist", "Creator", "Comment", "Make", "Model")


def exiftool_tags(content: bytes, tmp_path: Path) -> dict[str, str]:
    """Every tag exiftool reads in the file, by group and name, its own File/System groups aside."""
    if not EXIFTOOL:
        if os.environ.get("CI") == "true":
            pytest.fail("exiftool is missing (Debian package libimage-exiftool-perl)")
        pytest.skip("exiftool is not installed")
    path = tmp_path / "photo.bin"
    path.write_bytes(content)
    out = subprocess.run(
        [EXIFTOOL, "-a", "-u", "-G1", "-s", "-j", str(path)], capture_output=True, check=True
    )
    import json

    tags = json.loads(out.stdout)[0]
    return {
        k: str(v)
        for k, v in tags.items()
        if not k.startswith(("ExifTool:", "System:", "File:", "SourceFile"))
    }


def exifread_tags(content: bytes) -> dict[str, str]:
    """Every EXIF tag exifread reads in the file."""
    return {k: str(v) for k, v in exifread.process_file(io.BytesIO(content), details=True).items()}


async def upload(world: World, name: str, content: bytes, kind: str) -> tuple[dict, bytes]:
    made = await world.submitter_c.post(
        "/api/v1/post-requests", json={"account_id": world.account["id"], "text": "Photo post"}
    )
    assert made.status_code == 201, made.text
    pr = made.json()["id"]
    added = await world.submitter_c.post(
        f"/api/v1/post-requests/{pr}/media",
        files={"file": (name, content, kind)},
        data={"version": "1"},
    )
    assert added.status_code == 200, added.text
    media = added.json()["media"][0]
    got = await world.approver_c.get(f"/api/v1/post-requests/{pr}/media/{media['id']}")
    assert got.status_code == 200
    return media, got.content


@pytest.mark.parametrize(
    ("name", "make", "kind", "stored"),
    [
        ("IMG_0001.jpg", jpeg_with_gps, "image/jpeg", "image/jpeg"),
        ("screenshot.png", png_with_gps, "image/png", "image/png"),
        ("IMG_0002.HEIC", heic_with_gps, "image/heic", "image/jpeg"),
    ],
)
async def test_gps_and_identifying_tags_are_gone(
    world: World, tmp_path: Path, name: str, make: object, kind: str, stored: str
) -> None:
    """The upload has GPS, a serial and an owner by both readers; what is stored has none."""
    original = make()  # type: ignore[operator]
    before = exiftool_tags(original, tmp_path)
    assert any("GPSLatitude" in k for k in before), before
    assert any("SerialNumber" in k for k in before), before
    if kind != "image/heic":
        # exifread cannot walk the EXIF box pillow-heif writes; exiftool above reads it.
        assert any(k.startswith("GPS") for k in exifread_tags(original))

    media, content = await upload(world, name, original, kind)

    assert media["media_type"] == stored
    after = exiftool_tags(content, tmp_path)
    left = {k: v for k, v in after.items() if any(word in k for word in IDENTIFYING)}
    assert not left, left
    assert not any(k.startswith(("GPS", "XMP")) for k in after)
    assert exifread_tags(content) == {}
    # The proof names what was removed, never the values.
    assert {"GPSLatitude", "GPSLongitude", "BodySerialNumber", "CameraOwnerName"} <= set(
        media["removed"]
    )
    assert not any("52" in r or "Jan" in r for r in media["removed"])
    # The picture itself survived: same size, the left half still red.
    image = Image.open(io.BytesIO(content))
    assert image.size == (64, 48)
    red, _green, blue = image.convert("RGB").getpixel((5, 24))
    assert red > 150 and blue < 100


async def test_xmp_gps_in_a_jpeg_is_named_and_gone(world: World, tmp_path: Path) -> None:
    """The XMP packet's GPS properties are named in the proof and absent from the stored file."""
    original = jpeg_with_gps()
    assert "XMP-exif:GPSLatitude" in exiftool_tags(original, tmp_path)
    media, content = await upload(world, "xmp.jpg", original, "image/jpeg")
    assert {"XMP", "XMP exif:GPSLatitude", "XMP dc:creator", "Comment"} <= set(media["removed"])
    assert not any(k.startswith("XMP") for k in exiftool_tags(content, tmp_path))


async def test_orientation_is_applied_not_kept(world: World, tmp_path: Path) -> None:
    """A photo the camera held upright (orientation 6) is stored turned, without the tag."""
    media, content = await upload(world, "upright.jpg", jpeg_with_gps(orientation=6), "image/jpeg")
    assert (media["width"], media["height"]) == (48, 64)
    assert "Orientation" in media["removed"]
    assert "IFD0:Orientation" not in exiftool_tags(content, tmp_path)
    # Turned 90 degrees clockwise: the red left half is now on top.
    red, _, blue = Image.open(io.BytesIO(content)).convert("RGB").getpixel((24, 5))
    assert red > 150 and blue < 100


async def bad_upload(world: World, content: bytes, name: str, kind: str) -> dict:
    made = await world.submitter_c.post(
        "/api/v1/post-requests", json={"account_id": world.account["id"], "text": "Bad photo"}
    )
    pr = made.json()["id"]
    resp = await world.submitter_c.post(
        f"/api/v1/post-requests/{pr}/media",
        files={"file": (name, content, kind)},
        data={"version": "1"},
    )
    body = assert_problem(resp, 422, "invalid-input", field="file")
    # Nothing half-written: the post request has no photo and is still at version 1.
    still = (await world.submitter_c.get(f"/api/v1/post-requests/{pr}")).json()
    assert still["media"] == [] and still["version"] == 1
    return body


async def test_a_file_that_is_not_an_image_is_refused_whatever_its_name(world: World) -> None:
    """Type is read from the bytes: a PDF called photo.jpg and sent as image/jpeg is refused."""
    body = await bad_upload(world, b"%PDF-1.7\n1 0 obj\n", "photo.jpg", "image/jpeg")
    assert "JPEG, PNG or HEIC" in body["detail"]


async def test_a_damaged_jpeg_is_refused(world: World) -> None:
    """JPEG magic then rubbish: cannot be read, said plainly."""
    body = await bad_upload(world, b"\xff\xd8\xff\xe0" + b"\x00" * 200, "x.jpg", "image/jpeg")
    assert "cannot be read" in body["detail"]


async def test_a_decompression_bomb_is_refused(world: World) -> None:
    """A PNG of a few hundred bytes claiming 900 megapixels is refused before it is decoded."""
    bomb = png_bomb()
    assert len(bomb) < 50_000
    body = await bad_upload(world, bomb, "bomb.png", "image/png")
    assert "decompression bomb" in body["detail"] or "megapixels" in body["detail"]


async def test_an_image_over_the_pixel_limit_is_refused(world: World) -> None:
    """A header claiming 60 megapixels (under Pillow's own guard, over ours) is refused with the size."""
    body = await bad_upload(world, png_bomb(10_000, 6_000), "huge.png", "image/png")
    assert "10000 by 6000 pixels" in body["detail"] and "50 megapixels" in body["detail"]


async def test_a_file_over_the_size_limit_is_refused(world: World) -> None:
    """Over 20 MB is refused naming the limit."""
    big = b"\xff\xd8\xff\xe0" + b"\x00" * (20 * 1024 * 1024)
    body = await bad_upload(world, big, "big.jpg", "image/jpeg")
    assert "20 MB" in body["detail"]
