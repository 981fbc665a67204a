"""Photos of a post request: read from their bytes, stripped of location and other identifying
metadata by re-encoding their pixels alone, with the names of what was removed kept as proof.

A photo can tell where it was taken (EXIF and XMP GPS tags), with what (camera and lens serial
numbers, maker notes) and by whom (owner and artist names, IPTC, comments), and a thumbnail can
keep a picture of what was cropped out. None of it is copied: the pixels, turned the way the
camera's orientation tag says, go into a new image with no metadata at all, which is encoded
again. Only the colour profile is kept, so colours stay as shot. The upload itself is never kept.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass, field

from PIL import ExifTags, Image, ImageOps
from pillow_heif import register_heif_opener

from register.errors import InvalidInput
from register.i18n import N_

# HEIC (iPhones' own format) is read through pillow-heif, a maintained binding of libheif.
register_heif_opener()

MAX_PHOTO_BYTES = 20 * 1024 * 1024
# 50 megapixels: above any phone or most cameras; a larger claim is a decompression bomb.
MAX_PIXELS = 50_000_000
JPEG_QUALITY = 90

# What a file is, from its first bytes (never its name or the type its sender claims).
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "HEIF": "image/jpeg"}
# The EXIF tags that say where a photo was taken, by whom or with what: named in the proof.
_IDENTIFYING_EXIF = {
    "Artist",
    "BodySerialNumber",
    "CameraOwnerName",
    "CameraSerialNumber",
    "Copyright",
    "HostComputer",
    "ImageDescription",
    "ImageUniqueID",
    "LensSerialNumber",
    "MakerNote",
    "Make",
    "Model",
    "Software",
    "UserComment",
    "XPAuthor",
    "XPComment",
}
_XMP_NAME = re.compile(r"<([A-Za-z][\w.-]*:[A-Za-z][\w.-]*)|\s([A-Za-z][\w.-]*:[A-Za-z][\w.-]*)=")
_XMP_SYNTAX = ("rdf:", "x:", "xmlns:", "xml:", "xmpmeta")


@dataclass
class Stripped:
    """A photo as it is stored: its bytes, what it is, and what was taken out of it."""

    content: bytes
    media_type: str
    received_format: str
    width: int
    height: int
    removed: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        """SHA-256 of the stored bytes."""
        return hashlib.sha256(self.content).hexdigest()


def sniff(content: bytes) -> str | None:
    """The image format the bytes begin with (JPEG, PNG, HEIF), or None."""
    if content.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if content[4:8] == b"ftyp" and content[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


def _refuse(message: str, field_name: str, **params: object) -> InvalidInput:
    return InvalidInput(message, field=field_name, params=params or None)


def _exif_names(image: Image.Image) -> list[str]:
    """Names of the EXIF tags the photo carries: GPS ones each, identifying ones each, the rest counted."""
    exif = image.getexif()
    if not exif and not image.info.get("exif"):
        return []
    names: set[str] = {"EXIF"}
    ifds = {
        "GPS": (ExifTags.IFD.GPSInfo, ExifTags.GPSTAGS),
        "Exif": (ExifTags.IFD.Exif, ExifTags.TAGS),
        "IFD1": (ExifTags.IFD.IFD1, ExifTags.TAGS),
    }
    for tag in exif:
        name = ExifTags.TAGS.get(tag, "")
        if name in _IDENTIFYING_EXIF or name == "Orientation":
            names.add(name)
    for label, (ifd, table) in ifds.items():
        try:
            found = exif.get_ifd(ifd)
        except Exception:  # noqa: S112 - a damaged directory is dropped with the rest
            continue
        if not found:
            continue
        if label == "IFD1":
            names.add("ThumbnailImage")
            continue
        for tag in found:
            name = table.get(tag, f"{tag:#06x}")
            if label == "GPS":
                names.add(name if name.startswith("GPS") else f"GPS{name}")
            elif name in _IDENTIFYING_EXIF:
                names.add(name)
    return sorted(names)


def _xmp_names(packet: bytes | str) -> list[str]:
    """The XMP properties a packet names (qualified names, never their values)."""
    text = packet.decode("utf-8", "replace") if isinstance(packet, bytes) else packet
    found = {a or b for a, b in _XMP_NAME.findall(text[:1_000_000])}
    return sorted(f"XMP {n}" for n in found if not n.startswith(_XMP_SYNTAX))


def removed_names(image: Image.Image) -> list[str]:
    """Everything identifying the decoder found in the photo, by name."""
    info = image.info
    names = _exif_names(image)
    xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
    if xmp:
        names += ["XMP", *_xmp_names(xmp)]
    if info.get("photoshop") or info.get("iptc"):
        names.append("IPTC")
    if info.get("comment"):
        names.append("Comment")
    text_chunks = getattr(image, "text", None) or {}
    names += [f"PNG text {k}" for k in text_chunks if k != "XML:com.adobe.xmp"]
    if info.get("thumbnail") or info.get("thumbnails"):
        names.append("ThumbnailImage")
    return sorted(set(names))


def _clean(image: Image.Image, fmt: str) -> Image.Image:
    """The pixels alone in a new image: no info, no EXIF, no text; turned as the camera meant."""
    turned = ImageOps.exif_transpose(image) or image
    keep = ("RGB", "L", "CMYK") if fmt == "JPEG" else ("RGB", "RGBA", "L", "LA", "I;16")
    if turned.mode not in keep:
        has_alpha = turned.mode in ("P", "PA", "LA", "RGBa") and (
            fmt == "PNG" and ("transparency" in turned.info or turned.mode.endswith("A"))
        )
        turned = turned.convert("RGBA" if has_alpha else "RGB")
    return Image.frombytes(turned.mode, turned.size, turned.tobytes())


def strip_photo(content: bytes, *, field_name: str = "file") -> Stripped:
    """Read a photo from its bytes and return it re-encoded without metadata, or refuse it (422)."""
    if not content:
        raise _refuse(N_("the file is empty"), field_name)
    if len(content) > MAX_PHOTO_BYTES:
        raise _refuse(
            N_("photos are limited to %(size)s MB"),
            field_name,
            size=MAX_PHOTO_BYTES // (1024 * 1024),
        )
    fmt = sniff(content)
    if fmt is None:
        raise _refuse(
            N_("this file is not a photo the register takes: send a JPEG, PNG or HEIC image"),
            field_name,
        )
    with warnings.catch_warnings():
        # Pillow's own bomb check warns first; here a warning is a refusal.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(content), formats=[fmt])
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise _refuse(
                    N_(
                        "the image claims %(width)s by %(height)s pixels; photos are limited to "
                        "%(megapixels)s megapixels"
                    ),
                    field_name,
                    width=width,
                    height=height,
                    megapixels=MAX_PIXELS // 1_000_000,
                )
            image.load()
            removed = removed_names(image)
            icc = image.info.get("icc_profile")
            clean = _clean(image, "JPEG" if fmt == "HEIF" else fmt)
        except InvalidInput:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _refuse(
                N_("the image is too large to open safely (a decompression bomb)"), field_name
            ) from exc
        except Exception as exc:
            # Whatever a damaged or hostile file makes the decoder raise, it is not a photo.
            raise _refuse(
                N_("the %(format)s image cannot be read: it is damaged or not what it claims"),
                field_name,
                format=fmt,
            ) from exc
    out = io.BytesIO()
    stored = "JPEG" if fmt == "HEIF" else fmt
    if stored == "JPEG":
        clean.save(out, format="JPEG", quality=JPEG_QUALITY, icc_profile=icc or None)
    else:
        clean.save(out, format="PNG", icc_profile=icc or None)
    data = out.getvalue()
    _check_clean(data, stored)
    return Stripped(
        content=data,
        media_type=FORMATS[fmt],
        received_format=fmt,
        width=clean.width,
        height=clean.height,
        removed=removed,
    )


def _check_clean(data: bytes, fmt: str) -> None:
    """The encoded file is read back: anything identifying left in it stops the upload (a bug)."""
    again = Image.open(io.BytesIO(data), formats=[fmt])
    left = [n for n in removed_names(again) if n != "Orientation"]
    if left:
        raise RuntimeError(f"metadata survived re-encoding: {left}")
