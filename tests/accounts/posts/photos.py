"""Photos made by the tests, carrying real location and identifying metadata, and a bomb."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image

# Amsterdam, Dam Square: what the stripped file must no longer tell.
LATITUDE = (52.0, 22.0, 24.6)
LONGITUDE = (4.0, 53.0, 22.8)
XMP_GPS = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'exif:GPSLatitude="52,22.41N" exif:GPSLongitude="4,53.38E">'
    "<dc:creator><rdf:Seq><rdf:li>Jan Fotograaf</rdf:li></rdf:Seq></dc:creator>"
    "</rdf:Description></rdf:RDF></x:xmpmeta>"
    '<?xpacket end="w"?>'
)


def gps_exif(orientation: int = 1) -> Image.Exif:
    """EXIF with a GPS IFD (Dam Square), a camera serial, an owner's name and an orientation."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Testcam"
    exif[ExifTags.Base.Model] = "TC-1"
    exif[ExifTags.Base.Artist] = "Jan Fotograaf"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = LONGITUDE
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.BodySerialNumber] = "SN-0042-1337"
    details[ExifTags.Base.CameraOwnerName] = "Jan Fotograaf"
    return exif


def picture(width: int = 64, height: int = 48) -> Image.Image:
    """A small picture whose left half is red and right half blue (so a turn can be seen)."""
    image = Image.new("RGB", (width, height), (200, 20, 20))
    image.paste((20, 20, 200), (width // 2, 0, width, height))
    return image


def jpeg_with_gps(orientation: int = 1, width: int = 64, height: int = 48) -> bytes:
    """A JPEG with EXIF GPS, serial and owner, an XMP packet with GPS, and a comment."""
    out = io.BytesIO()
    picture(width, height).save(
        out,
        format="JPEG",
        exif=gps_exif(orientation),
        xmp=XMP_GPS.encode(),
        comment=b"shot at the office party",
    )
    return out.getvalue()


def png_with_gps() -> bytes:
    """A PNG with an eXIf chunk holding GPS and an iTXt XMP packet."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP_GPS)
    info.add_text("Author", "Jan Fotograaf")
    out = io.BytesIO()
    picture().save(out, format="PNG", exif=gps_exif(), pnginfo=info)
    return out.getvalue()


def heic_with_gps() -> bytes:
    """An HEIC (as iPhones make them) with EXIF GPS."""
    out = io.BytesIO()
    picture().save(out, format="HEIF", exif=gps_exif().tobytes(), quality=80)
    return out.getvalue()


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid PNG header claiming 900 megapixels with a few bytes of compressed rows."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )
