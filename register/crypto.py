"""Envelope encryption: AES-256-GCM data keys per record, wrapped by versioned master keys.

A record (a credential, an evidence file) gets its own random data key. Each field is sealed with
that key and associated data naming the record and field, so a ciphertext copied to another row
or field fails to open. The data key is sealed by the key ring's current master key, with
associated data naming the record; `rewrap` moves data keys to a newer master key without
touching the fields.

    wrapped key:  k<version>.<base64(nonce | ciphertext+tag)>
    sealed field: g1.<base64(nonce | ciphertext+tag)>
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from register.errors import RegisterError
from register.i18n import N_
from register.keys import KeyRing

FIELD_PREFIX = "g1."
NONCE_BYTES = 12


class VaultError(RegisterError):
    """A ciphertext failed to open: tampered, moved, or its master key is missing."""

    status = 500
    type = "internal"
    title = "Internal server error"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < NONCE_BYTES + 16:
        raise VaultError(N_("ciphertext too short"))
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise VaultError(N_("ciphertext failed authentication")) from exc


@dataclass(frozen=True)
class Envelope:
    """Seals and opens the fields of one kind of record (e.g. 'credential')."""

    keyring: KeyRing
    kind: str

    def _key_aad(self, record_id: int | str) -> bytes:
        return f"dek|{self.kind}|{record_id}".encode()

    def _field_aad(self, record_id: int | str, field: str) -> bytes:
        return f"field|{self.kind}|{record_id}|{field}".encode()

    def new_data_key(self, record_id: int | str) -> tuple[bytes, str, int]:
        """A fresh data key, wrapped by the current master key: (key, wrapped, version)."""
        key = AESGCM.generate_key(bit_length=256)
        return key, self.wrap(key, record_id), self.keyring.current

    def wrap(self, data_key: bytes, record_id: int | str, version: int | None = None) -> str:
        """Seal a data key with a master key (the current one by default)."""
        version = self.keyring.current if version is None else version
        return f"k{version}." + _b64(
            _seal(self.keyring.key(version), data_key, self._key_aad(record_id))
        )

    def unwrap(self, wrapped: str, record_id: int | str) -> bytes:
        """Open a wrapped data key; VaultError if it was moved, altered, or its version is gone."""
        try:
            head, body = wrapped.split(".", 1)
            version = int(head.removeprefix("k"))
            master = self.keyring.key(version)
        except (ValueError, KeyError) as exc:
            raise VaultError(
                N_("wrapped key unreadable or its master key version is missing")
            ) from exc
        return _open(master, _unb64(body), self._key_aad(record_id))

    @staticmethod
    def version_of(wrapped: str) -> int:
        """The master key version a wrapped key uses."""
        return int(wrapped.split(".", 1)[0].removeprefix("k"))

    def seal(self, data_key: bytes, record_id: int | str, field: str, plaintext: str) -> str:
        """Encrypt one field's value."""
        return FIELD_PREFIX + _b64(
            _seal(data_key, plaintext.encode(), self._field_aad(record_id, field))
        )

    def open(self, data_key: bytes, record_id: int | str, field: str, sealed: str) -> str:
        """Decrypt one field's value; VaultError rather than garbage on any tampering."""
        if not sealed.startswith(FIELD_PREFIX):
            raise VaultError(N_("unknown ciphertext format"))
        try:
            return _open(
                data_key, _unb64(sealed[len(FIELD_PREFIX) :]), self._field_aad(record_id, field)
            ).decode()
        except UnicodeDecodeError as exc:
            raise VaultError(N_("plaintext is not text")) from exc
        except (ValueError, TypeError) as exc:
            raise VaultError(N_("ciphertext is not valid base64")) from exc

    def rewrap(self, wrapped: str, record_id: int | str) -> str:
        """Re-seal a data key under the current master key."""
        return self.wrap(self.unwrap(wrapped, record_id), record_id)


def seal_bytes(
    envelope: Envelope, data_key: bytes, record_id: int | str, field: str, data: bytes
) -> bytes:
    """Encrypt binary content (evidence files): nonce | ciphertext+tag."""
    return _seal(data_key, data, envelope._field_aad(record_id, field))


def open_bytes(
    envelope: Envelope, data_key: bytes, record_id: int | str, field: str, blob: bytes
) -> bytes:
    """Decrypt binary content sealed by seal_bytes."""
    return _open(data_key, blob, envelope._field_aad(record_id, field))
