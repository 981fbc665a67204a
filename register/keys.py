"""Secrets kept outside the database: session secret, master key ring, audit signing key."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from register.settings import Settings

log = logging.getLogger("register.keys")

# HKDF's info label for the audit trail's MAC key: whatever else is derived from secret.key
# uses another label, so no other use of the file can produce or reveal this key.
AUDIT_MAC_INFO = b"register audit trail: HMAC-SHA-256 event chain, v1"


@dataclass(frozen=True)
class KeyRing:
    """Versioned 32-byte master keys; `current` wraps new data keys."""

    current: int
    keys: dict[int, bytes]

    def key(self, version: int) -> bytes:
        """The master key of one version."""
        try:
            return self.keys[version]
        except KeyError as exc:
            raise KeyError(f"master key version {version} is not in the key ring") from exc

    def to_json(self) -> str:
        """The ring as stored on disk."""
        return json.dumps(
            {
                "current": self.current,
                "keys": {
                    str(v): base64.b64encode(k).decode() for v, k in sorted(self.keys.items())
                },
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> KeyRing:
        """Parse a stored ring, checking every key is 32 bytes."""
        data = json.loads(text)
        keys = {int(v): base64.b64decode(k) for v, k in data["keys"].items()}
        if any(len(k) != 32 for k in keys.values()):
            raise ValueError("every master key must be 32 bytes (AES-256)")
        current = int(data["current"])
        if current not in keys:
            raise ValueError("the current version is not in the key ring")
        return cls(current=current, keys=keys)

    def rotated(self) -> KeyRing:
        """A ring with one new version that becomes current."""
        version = max(self.keys) + 1
        return KeyRing(current=version, keys={**self.keys, version: secrets.token_bytes(32)})


@dataclass(frozen=True)
class Secrets:
    """Everything secret the service needs at run time."""

    secret_key: bytes
    keyring: KeyRing
    signing_key: Ed25519PrivateKey

    @property
    def verify_key(self) -> Ed25519PublicKey:
        """The public half of the signing key."""
        return self.signing_key.public_key()

    @property
    def signing_key_id(self) -> str:
        """A short fingerprint of the public key."""
        return public_key_id(self.verify_key)

    @property
    def audit_mac_key(self) -> bytes:
        """The key the audit events are chained with (HMAC-SHA-256); the database never holds it."""
        return derive_audit_mac_key(self.secret_key)


def derive_audit_mac_key(secret_key: bytes) -> bytes:
    """HKDF-SHA-256 of the secret key under the audit trail's own label: 32 bytes."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=AUDIT_MAC_INFO).derive(
        secret_key
    )


def public_key_id(key: Ed25519PublicKey) -> str:
    """SHA-256 fingerprint (first 16 hex) of a raw Ed25519 public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file readable by its owner only (0600), atomically, in a 0700 folder."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _generate(settings: Settings) -> list[Path]:
    created = []
    if not settings.secret_key_file.exists():
        write_private(settings.secret_key_file, secrets.token_hex(32).encode())
        created.append(settings.secret_key_file)
    if not settings.keyring_file.exists():
        ring = KeyRing(current=1, keys={1: secrets.token_bytes(32)})
        write_private(settings.keyring_file, ring.to_json().encode())
        created.append(settings.keyring_file)
    if not settings.audit_signing_key_file.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private(settings.audit_signing_key_file, pem)
        created.append(settings.audit_signing_key_file)
    return created


def load_secrets(
    settings: Settings, *, announce: bool = True, create_missing: bool = True
) -> Secrets:
    """Load the secrets; in development create missing ones, in production refuse to start."""
    files = (settings.secret_key_file, settings.keyring_file, settings.audit_signing_key_file)
    missing = [p for p in files if not p.exists()]
    if missing and (settings.is_production or not create_missing):
        names = ", ".join(str(p) for p in missing)
        mode = "production mode" if settings.is_production else "nothing was generated"
        raise SystemExit(
            f"{mode}: missing secret files {names}. Provide them (see README, 'Secrets') "
            "or set REGISTER_SECRET_KEY_FILE, REGISTER_KEYRING_FILE, REGISTER_AUDIT_SIGNING_KEY_FILE."
        )
    if missing:
        created = _generate(settings)
        if announce and created:
            msg = (
                "development mode: generated " + ", ".join(str(p) for p in created) + " (mode 0600)"
            )
            print(msg, flush=True)
    secret_key = settings.secret_key_file.read_bytes().strip()
    if len(secret_key) < 32:
        raise SystemExit(f"{settings.secret_key_file}: the secret key must be at least 32 bytes")
    keyring = KeyRing.from_json(settings.keyring_file.read_text())
    key = serialization.load_pem_private_key(
        settings.audit_signing_key_file.read_bytes(), password=None
    )
    if not isinstance(key, Ed25519PrivateKey):
        raise SystemExit(f"{settings.audit_signing_key_file}: not an Ed25519 private key")
    return Secrets(secret_key=secret_key, keyring=keyring, signing_key=key)


def public_key_pem(key: Ed25519PublicKey) -> str:
    """The public half of the audit signing key as PEM, to hand to auditors."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_verify_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (a private key file gives its public half)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SystemExit(f"{path}: cannot read the public key: {exc.strerror}") from exc
    try:
        key: object = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise SystemExit(f"{path}: not a PEM Ed25519 key") from exc
        if isinstance(key, Ed25519PrivateKey):
            key = key.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise SystemExit(f"{path}: not an Ed25519 key")
    return key


class KeyRingSource:
    """The key ring file, re-read when it changes, so `register keys rotate` needs no restart."""

    def __init__(self, path: Path, initial: KeyRing) -> None:
        self.path = path
        self._ring = initial
        self._stamp = self._mtime()

    def _mtime(self) -> float | None:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    def get(self) -> KeyRing:
        """The current ring (one stat per call; reloaded only after the file changed)."""
        stamp = self._mtime()
        if stamp is not None and stamp != self._stamp:
            try:
                self._ring = KeyRing.from_json(self.path.read_text())
                self._stamp = stamp
            except (OSError, ValueError, KeyError):
                log.error(
                    "key ring %s changed but cannot be read; keeping the previous one", self.path
                )
        return self._ring
