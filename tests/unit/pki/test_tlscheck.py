"""edge/tlscheck.py before any network: files that cannot be used are named as such.
(The handshake cases run against a real store: tests/integration/gateway/test_uplink_tls.py.)"""

from __future__ import annotations

from pathlib import Path

from edge.pki import create_ca, issue_client_cert
from edge.tlscheck import TlsFiles, check_tls


def _files(tmp_path: Path) -> TlsFiles:
    ca = create_ca()
    ca.save(tmp_path / "ca.pem", tmp_path / "ca.key")
    issue_client_cert(ca, "gateway", "gw-1").save(tmp_path / "gw.pem", tmp_path / "gw.key")
    return TlsFiles(tmp_path / "ca.pem", tmp_path / "gw.pem", tmp_path / "gw.key")


def test_a_ca_file_without_a_certificate(tmp_path: Path) -> None:
    files = _files(tmp_path)
    files.ca.write_text("not a certificate\n")
    v = check_tls("127.0.0.1:9", files)
    assert v.outcome == "local_files" and v.refused
    assert v.message.startswith(f"tls.ca ({files.ca}) holds no usable PEM certificate")


def test_a_key_that_is_not_the_certificates(tmp_path: Path) -> None:
    files = _files(tmp_path)
    other = issue_client_cert(create_ca(), "gateway", "gw-2")
    files.key.write_bytes(other.key_pem)
    v = check_tls("127.0.0.1:9", files)
    assert v.outcome == "local_files"
    assert v.message.startswith(
        f"tls.cert ({files.cert}) and tls.key ({files.key}) are not a usable certificate "
        "and its key"
    )


def test_a_missing_file_and_a_bad_address(tmp_path: Path) -> None:
    files = TlsFiles(
        tmp_path / "nope.pem", tmp_path / "c.pem", tmp_path / "k.pem", "", "this client"
    )
    v = check_tls("127.0.0.1:9", files)
    assert v.outcome == "local_files" and v.message.startswith(f"ca ({files.ca}) holds no usable")
    assert (
        check_tls("no-port", _files(tmp_path)).message == "store address 'no-port' is not host:port"
    )
