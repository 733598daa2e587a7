"""Ed25519 signatures over ``canonical_bytes(event)``, and the key files they use.

Private keys are PEM PKCS#8 files written with mode 0600; public keys are PEM
SubjectPublicKeyInfo. A key's fingerprint is the sha256 hex of its raw 32 bytes, the
same value on the gateway, in the store and in an exported package.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from edge.errors import ConfigError, EvidenceError
from edge.evidence.model import MatchEvent, canonical_bytes

log = logging.getLogger(__name__)

SIGNATURE_SIZE = 64


def generate_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def write_secret(path: Path, data: bytes) -> None:
    """Write ``data`` to a new or existing file that only its owner can read (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode otherwise
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def save_private_key(key: Ed25519PrivateKey, path: Path) -> None:
    write_secret(path, private_key_pem(key))


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load a signing key; ConfigError names the file and what is wrong with it."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"signing key {str(path)!r} cannot be read: {e.strerror}") from None
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("signing key readable by others", extra={"path": str(path), "mode": oct(mode)})
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"signing key {str(path)!r} is not an unencrypted PEM key: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(
            f"signing key {str(path)!r} is a {type(key).__name__}; an Ed25519 key is required"
        )
    return key


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def save_public_key(key: Ed25519PublicKey, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(public_key_pem(key))


def load_public_key_pem(pem: bytes | str, source: str = "public key") -> Ed25519PublicKey:
    """Parse a PEM Ed25519 public key; EvidenceError names ``source`` when it is not one."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        raise EvidenceError(f"{source}: not a PEM public key ({e})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceError(f"{source}: is a {type(key).__name__}, not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise EvidenceError(f"public key {str(path)!r} cannot be read: {e.strerror}") from None
    return load_public_key_pem(data, source=str(path))


def public_key_fingerprint(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """sha256 hex of the raw 32-byte public key."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign_event(key: Ed25519PrivateKey, event: MatchEvent) -> bytes:
    return key.sign(canonical_bytes(event))


def verify_event(public_key: Ed25519PublicKey, event: MatchEvent, signature: bytes) -> None:
    """Raise EvidenceError naming the event and gateway when the signature fails."""
    who = f"event {event.event_id} (gateway {event.gateway_id}, sequence {event.sequence})"
    if len(signature) != SIGNATURE_SIZE:
        raise EvidenceError(
            f"signature of {who} is {len(signature)} bytes; an Ed25519 signature is 64"
        )
    try:
        public_key.verify(signature, canonical_bytes(event))
    except InvalidSignature:
        raise EvidenceError(
            f"signature of {who} does not verify with key "
            f"{public_key_fingerprint(public_key)[:16]}: content or key differs"
        ) from None
