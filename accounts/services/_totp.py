"""RFC 6238 time-based one-time passwords, so a custodian can sign in without seeing the seed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time

from register.errors import InvalidValue
from register.i18n import N_

STEP = 30
DIGITS = 6


def parse_seed(seed: str) -> bytes:
    """Decode a base32 TOTP seed as platforms show it (spaces, lower case, no padding)."""
    cleaned = seed.replace(" ", "").replace("-", "").upper()
    if not cleaned or len(cleaned) < 16:
        raise InvalidValue(N_("a TOTP seed is at least 16 base32 characters"))
    try:
        return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (ValueError, base64.binascii.Error) as exc:
        raise InvalidValue(N_("a TOTP seed is base32 (letters A-Z and digits 2-7)")) from exc


def code_at(
    seed: str, at: float | None = None, digits: int = DIGITS, step: int = STEP
) -> tuple[str, int]:
    """The code valid at a moment and the seconds it stays valid."""
    moment = time.time() if at is None else at
    counter = int(moment // step)
    digest = hmac.new(parse_seed(seed), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % (10**digits)
    return str(value).zfill(digits), step - int(moment % step)
