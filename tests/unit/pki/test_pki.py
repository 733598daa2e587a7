from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509

from edge.errors import ConfigError
from edge.pki import (
    CertKey,
    Peer,
    cert_fingerprint,
    cert_serial_hex,
    create_ca,
    is_revoked,
    issue_client_cert,
    issue_server_cert,
    load_revoked,
    new_token,
    peer_from_cert,
    token_matches,
    token_sha256,
)


@pytest.fixture(scope="module")
def ca() -> CertKey:
    return create_ca("test CA")


def test_client_identity_is_in_the_uri_san(ca: CertKey) -> None:
    gw = issue_client_cert(ca, "gateway", "gw-3")
    assert peer_from_cert(gw.cert_pem) == Peer("gateway", "gw-3")
    assert peer_from_cert(issue_client_cert(ca, "user", "alice").cert_pem) == Peer("user", "alice")
    # the store certificate carries no client identity
    assert peer_from_cert(issue_server_cert(ca).cert_pem) is None
    cert = x509.load_pem_x509_certificate(gw.cert_pem)
    assert cert.subject.rfc4514_string() == "CN=gw-3"
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.cert_pem))


def test_validity_can_be_set_in_the_past(ca: CertKey) -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    cert = x509.load_pem_x509_certificate(
        issue_client_cert(ca, "gateway", "gw-1", days=1, not_before=start).cert_pem
    )
    assert cert.not_valid_after_utc < dt.datetime.now(dt.UTC)


def test_revocation_list_matches_serial_or_fingerprint(ca: CertKey, tmp_path: Path) -> None:
    a = issue_client_cert(ca, "gateway", "gw-1")
    b = issue_client_cert(ca, "gateway", "gw-2")
    c = issue_client_cert(ca, "gateway", "gw-3")
    path = tmp_path / "revoked.txt"
    path.write_text(
        f"# revoked\n00{cert_serial_hex(a.cert_pem).upper()}  # leading zeros, upper case\n"
        f"\n{cert_fingerprint(b.cert_pem)}\n"
    )
    revoked = load_revoked(path)
    assert is_revoked(a.cert_pem, revoked)
    assert is_revoked(b.cert_pem, revoked)
    assert not is_revoked(c.cert_pem, revoked)
    assert load_revoked(None) == frozenset()
    path.write_text("not-hex\n")
    with pytest.raises(ConfigError, match=r"revoked\.txt:1: 'not-hex'"):
        load_revoked(path)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_revoked(tmp_path / "missing.txt")


def test_tokens_are_random_and_only_their_hash_is_compared() -> None:
    t1, t2 = new_token(), new_token()
    assert t1 != t2 and len(t1) == 43
    h = token_sha256(t1)
    assert len(h) == 64 and t1 not in h
    assert token_matches(t1, h)
    assert not token_matches(t2, h)


def test_cert_key_files_keep_the_key_private(ca: CertKey, tmp_path: Path) -> None:
    ca.save(tmp_path / "ca.pem", tmp_path / "ca.key")
    assert (tmp_path / "ca.key").stat().st_mode & 0o777 == 0o600
    assert CertKey.load(tmp_path / "ca.pem", tmp_path / "ca.key") == ca
    with pytest.raises(ConfigError, match="cannot be read"):
        CertKey.load(tmp_path / "nope.pem", tmp_path / "ca.key")
