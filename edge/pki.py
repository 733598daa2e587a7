"""Deployment PKI: a private CA, TLS certificates, revocation list, person tokens.

TLS keys are ECDSA P-256 (what every TLS stack accepts); event signing keys are
Ed25519 (edge/evidence/signing.py) and never double as TLS keys.

Identities live in the certificate's URI SAN, the one place the store reads them:

- the store: DNS ``localhost`` + IP ``127.0.0.1`` (plus any extra hosts given);
- a gateway: ``spiffe://edgewatch/gateway/<gateway-id>`` (CN = the gateway id);
- a person: ``spiffe://edgewatch/user/<name>`` (CN = the name). The person's role
  comes from their bearer token, not the certificate.

Revocation is a text file listed in the store config: one certificate serial (hex)
or sha256 fingerprint of the DER certificate (hex) per line, ``#`` starts a comment.

Person tokens are 32 random bytes (urlsafe base64). They carry 256 bits of entropy,
so the store keeps only their sha256: a slow password hash buys nothing here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edge.errors import ConfigError
from edge.evidence.signing import write_secret

log = logging.getLogger(__name__)

SPIFFE_PREFIX = "spiffe://edgewatch/"
PeerKind = Literal["gateway", "user"]


@dataclass(frozen=True, slots=True)
class CertKey:
    """A PEM certificate and its PEM (PKCS#8, unencrypted) private key."""

    cert_pem: bytes
    key_pem: bytes

    def save(self, cert_path: Path, key_path: Path) -> None:
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        cert_path.write_bytes(self.cert_pem)
        write_secret(key_path, self.key_pem)

    @staticmethod
    def load(cert_path: Path, key_path: Path) -> CertKey:
        try:
            return CertKey(cert_path.read_bytes(), key_path.read_bytes())
        except OSError as e:
            raise ConfigError(f"{e.filename}: cannot be read: {e.strerror}") from None


@dataclass(frozen=True, slots=True)
class Peer:
    """Who a client certificate says it is."""

    kind: PeerKind
    name: str  # gateway id or user name


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load(ca: CertKey) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(ca.cert_pem)
    key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError("CA key must be an ECDSA key")
    return cert, key


def create_ca(common_name: str = "EdgeWatch deployment CA", days: int = 3650) -> CertKey:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return CertKey(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _issue(
    ca: CertKey,
    common_name: str,
    sans: list[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    days: int,
    not_before: dt.datetime | None,
) -> CertKey:
    ca_cert, ca_key = _load(ca)
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or (_now() - dt.timedelta(minutes=5))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return CertKey(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue_server_cert(
    ca: CertKey,
    hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
    days: int = 825,
    not_before: dt.datetime | None = None,
) -> CertKey:
    """The store's certificate; each host becomes an IP or DNS SAN."""
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    return _issue(ca, "edgewatch-store", sans, ExtendedKeyUsageOID.SERVER_AUTH, days, not_before)


def peer_uri(kind: PeerKind, name: str) -> str:
    return f"{SPIFFE_PREFIX}{kind}/{name}"


def issue_client_cert(
    ca: CertKey,
    kind: PeerKind,
    name: str,
    days: int = 825,
    not_before: dt.datetime | None = None,
) -> CertKey:
    """A gateway's or person's client certificate. ``not_before`` + ``days`` control
    validity (tests issue already-expired ones)."""
    sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(peer_uri(kind, name))]
    return _issue(ca, name, sans, ExtendedKeyUsageOID.CLIENT_AUTH, days, not_before)


def peer_from_cert(cert_pem: bytes) -> Peer | None:
    """The identity in a client certificate's URI SAN (None when it has none of ours)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(SPIFFE_PREFIX):
            kind, _, name = uri[len(SPIFFE_PREFIX) :].partition("/")
            if kind in ("gateway", "user") and name and "/" not in name:
                return Peer(kind, name)  # type: ignore[arg-type]
    return None


def cert_fingerprint(cert_pem: bytes) -> str:
    """sha256 hex of the certificate's DER encoding."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def cert_serial_hex(cert_pem: bytes) -> str:
    return format(x509.load_pem_x509_certificate(cert_pem).serial_number, "x")


def load_revoked(path: Path | None) -> frozenset[str]:
    """Revoked serials/fingerprints, lowercased; a missing ``path`` (None) is empty."""
    if path is None:
        return frozenset()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"revocation list {str(path)!r} cannot be read: {e.strerror}") from None
    entries = set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip().lower()
        if not line:
            continue
        if any(c not in "0123456789abcdef" for c in line):
            raise ConfigError(f"{path}:{n}: {line!r} is not a hex serial or sha256 fingerprint")
        entries.add(line.lstrip("0") if len(line) != 64 else line)
    return frozenset(entries)


def is_revoked(cert_pem: bytes, revoked: frozenset[str]) -> bool:
    return cert_serial_hex(cert_pem) in revoked or cert_fingerprint(cert_pem) in revoked


def new_token() -> str:
    """A person's bearer token: 32 random bytes, urlsafe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, expected_sha256: str) -> bool:
    return hmac.compare_digest(token_sha256(token), expected_sha256)


class RevocationList:
    """The revocation file, re-read when it changes, so revoking a certificate takes
    effect within ``interval_s`` without restarting the store."""

    def __init__(self, path: Path | None, interval_s: float = 2.0) -> None:
        self._path = path
        self._interval = interval_s
        self._lock = threading.Lock()
        self._revoked: frozenset[str] = frozenset()
        self._stamp: tuple[int, int] | None = None
        self._next_check = 0.0

    def load(self) -> None:
        """First read at start: a bad file is a config error, as before."""
        self._revoked = load_revoked(self._path)
        self._stamp = self._stat()
        self._next_check = time.monotonic() + self._interval

    def _stat(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        try:
            st = self._path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def current(self) -> frozenset[str]:
        now = time.monotonic()
        if self._path is None or now < self._next_check:
            return self._revoked
        with self._lock:
            self._next_check = now + self._interval
            stamp = self._stat()
            if stamp != self._stamp:
                try:
                    self._revoked = load_revoked(self._path)
                    self._stamp = stamp
                    log.warning("revocation list reloaded", extra={"entries": len(self._revoked)})
                except ConfigError as e:
                    # keep enforcing the last good list; never fall open
                    log.error("revocation list unreadable; keeping the previous one: %s", e)
            return self._revoked
