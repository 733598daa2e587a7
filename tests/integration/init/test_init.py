from __future__ import annotations

import socket
import stat
import subprocess
import sys
from pathlib import Path

import yaml
from cryptography import x509

from edge.config import load_model
from edge.evidence.signing import load_private_key, load_public_key, public_key_fingerprint
from edge.gateway.config import GatewayConfig
from edge.pki import Peer, cert_fingerprint, peer_from_cert, token_matches
from edge.review.config import ClientConfig
from edge.store.config import StoreConfig

SECRETS = [
    "ca.key", "store.key", "gw-1.key", "gw-2.key", "gw-1.signing.key", "gw-2.signing.key",
    "admin.key", "reviewer.key", "viewer.key",
    "store.yaml", "gateway-1.yaml", "gateway-2.yaml", "admin.yaml", "reviewer.yaml", "viewer.yaml",
]  # fmt: skip


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", *args], capture_output=True, text=True, timeout=120
    )


def test_every_file_exists_and_secrets_are_owner_only(deployment) -> None:
    root, out = deployment
    for name in SECRETS:
        assert stat.S_IMODE((root / name).stat().st_mode) == 0o600, name
    for name in ["ca.pem", "store.pem", "gw-1.pem", "gw-1.signing.pub", "revoked.txt"]:
        assert (root / name).is_file(), name
    assert (root / "gw-2" / "drop").is_dir()
    assert not (root / "blobs").exists()  # evidence images live in the database
    assert not (root / "gateway-3.yaml").exists()
    assert f"edgewatch store serve --config {root / 'store.yaml'}" in out
    assert "gateway-2.yaml" in out


def test_configs_pass_config_check_and_agree(deployment) -> None:
    root, _ = deployment
    result = _run("config", "check", *(str(p) for p in sorted(root.glob("*.yaml"))))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok") == 6

    store = load_model(StoreConfig, root / "store.yaml")
    assert store.database.kind == "sqlite" and store.database.path == root / "store.db"
    assert {u.name: u.role for u in store.users} == {
        "admin": "admin", "reviewer": "reviewer", "viewer": "viewer",
    }  # fmt: skip
    for n in (1, 2):
        gw = load_model(GatewayConfig, root / f"gateway-{n}.yaml")
        assert gw.store == store.listen and gw.gateway_id == f"gw-{n}"
        entry = next(g for g in store.gateways if g.id == gw.gateway_id)
        assert entry.public_key_file is not None
        pub = load_public_key(entry.public_key_file)
        assert public_key_fingerprint(load_private_key(gw.signing_key)) == public_key_fingerprint(
            pub
        )
        assert entry.cert_fingerprint == cert_fingerprint(gw.tls.cert.read_bytes())
        assert peer_from_cert(gw.tls.cert.read_bytes()) == Peer("gateway", gw.gateway_id)
    for name in ("admin", "reviewer", "viewer"):
        client = load_model(ClientConfig, root / f"{name}.yaml")
        token = client.token.get_secret_value()
        user = next(u for u in store.users if u.name == name)
        assert token_matches(token, user.token_sha256)
        assert token not in (root / "store.yaml").read_text()
        assert peer_from_cert(client.cert.read_bytes()) == Peer("user", name)


def test_certificates_chain_to_the_ca(deployment) -> None:
    root, _ = deployment
    ca = x509.load_pem_x509_certificate((root / "ca.pem").read_bytes())
    for name in ["store", "gw-1", "gw-2", "admin", "reviewer", "viewer"]:
        cert = x509.load_pem_x509_certificate((root / f"{name}.pem").read_bytes())
        cert.verify_directly_issued_by(ca)  # raises if the signature or issuer is wrong
    store = x509.load_pem_x509_certificate((root / "store.pem").read_bytes())
    san = store.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_ports_are_loopback_distinct_and_free(deployment) -> None:
    root, _ = deployment
    doc = yaml.safe_load((root / "store.yaml").read_text())
    host, port = doc["listen"].rsplit(":", 1)
    web_port = doc["web"]["port"]
    assert host == "127.0.0.1" and doc["web"]["host"] == "127.0.0.1"
    assert int(port) != web_port
    for p in (int(port), web_port):
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))  # fails if something holds the port


def test_refuses_non_empty_folder_without_force_and_checks_arguments(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    result = _run("init", str(tmp_path))
    assert result.returncode == 1 and "not empty" in result.stderr and "--force" in result.stderr
    assert _run("init", str(tmp_path), "--force").returncode == 0
    assert (tmp_path / "keep.txt").read_text() == "x"
    bad = _run("init", str(tmp_path / "x"), "--database-url", "mysql://a")
    assert bad.returncode == 1 and "postgresql://" in bad.stderr
    assert _run("init", str(tmp_path / "y"), "--gateways", "0").returncode == 1


def test_postgres_url_goes_into_the_store_config(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/edgewatch"
    assert _run("init", str(tmp_path / "pg"), "--database-url", url).returncode == 0
    store = load_model(StoreConfig, tmp_path / "pg" / "store.yaml")
    assert store.database.kind == "postgresql" and store.database.url == url
    assert not (tmp_path / "pg" / "store.db").exists()
