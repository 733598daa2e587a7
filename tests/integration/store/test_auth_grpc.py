"""Who may call what, with real certificates, tokens and a real store process."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
import yaml

from edge.errors import AuthError, TransportError
from edge.pki import CertKey, cert_serial_hex, create_ca, issue_client_cert
from edge.store.repository import EventQuery
from edge.wire.v1 import review_pb2, review_pb2_grpc
from tests.support.loadgen import (
    Deployment,
    GatewayClient,
    client_credentials,
    serving,
    signed_chain,
)


def _gateway_with(dep: Deployment, ck: CertKey, tmp: Path) -> GatewayClient:
    ck.save(tmp / "c.pem", tmp / "c.key")
    return GatewayClient(
        dep.address, client_credentials(dep.path("ca.pem"), tmp / "c.pem", tmp / "c.key")
    )


def _deliver_code(gw: GatewayClient, dep: Deployment) -> tuple[grpc.StatusCode, str]:
    chain = signed_chain(dep.signing_key(1), "gw-1", 1)
    with gw, pytest.raises(grpc.RpcError) as err:
        gw.deliver(chain, timeout=10)
    return err.value.code(), err.value.details() or ""


def test_certificate_from_another_ca_fails_the_handshake(store: Deployment, tmp_path: Path) -> None:
    other = issue_client_cert(create_ca("someone else"), "gateway", "gw-1")
    code, _ = _deliver_code(_gateway_with(store, other, tmp_path), store)
    assert code == grpc.StatusCode.UNAVAILABLE


def test_expired_gateway_certificate_fails_the_handshake(store: Deployment, tmp_path: Path) -> None:
    ca = CertKey.load(store.path("ca.pem"), store.path("ca.key"))
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    expired = issue_client_cert(ca, "gateway", "gw-1", days=1, not_before=start)
    code, _ = _deliver_code(_gateway_with(store, expired, tmp_path), store)
    assert code == grpc.StatusCode.UNAVAILABLE


def test_revoked_gateway_certificate_is_refused(deployment: Deployment) -> None:
    serial = cert_serial_hex(deployment.path("gw-1.pem").read_bytes())
    with deployment.path("revoked.txt").open("a") as f:
        f.write(f"{serial}  # stolen box\n")
    with serving(deployment):
        code, details = _deliver_code(deployment.gateway(1), deployment)
    assert code == grpc.StatusCode.UNAUTHENTICATED and "revoked" in details


def test_unregistered_certificate_of_a_known_gateway_is_refused(
    store: Deployment, tmp_path: Path
) -> None:
    ca = CertKey.load(store.path("ca.pem"), store.path("ca.key"))
    second = issue_client_cert(ca, "gateway", "gw-1")  # valid, but not the pinned one
    code, details = _deliver_code(_gateway_with(store, second, tmp_path), store)
    assert code == grpc.StatusCode.UNAUTHENTICATED and "not the one registered" in details


def test_missing_and_wrong_tokens_are_unauthenticated(store: Deployment) -> None:
    with store.person("viewer") as viewer:
        stub = review_pb2_grpc.ReviewStub(viewer.channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.Search(review_pb2.SearchRequest(), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "missing bearer token" in (err.value.details() or "")
    cfg = yaml.safe_load(store.path("viewer.yaml").read_text())
    cfg["token"] = "x" * 43
    store.path("wrong.yaml").write_text(yaml.safe_dump(cfg))
    from edge.review.client import open_client

    with open_client(store.path("wrong.yaml")) as wrong, pytest.raises(AuthError) as e:
        wrong.search(EventQuery())
    assert "bearer token is not valid" in str(e.value)


def test_gateway_cannot_search(store: Deployment) -> None:
    with store.gateway(1) as gw:
        assert gw._channel is not None
        stub = review_pb2_grpc.ReviewStub(gw._channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.Search(review_pb2.SearchRequest(), timeout=10)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "gateway gw-1 may only deliver events" in (err.value.details() or "")


def test_person_cannot_deliver(store: Deployment) -> None:
    with store.person("admin") as admin:
        gw = GatewayClient(store.address, grpc.ssl_channel_credentials())
        gw._channel = admin.channel
        with pytest.raises(grpc.RpcError) as err:
            gw.deliver(signed_chain(store.signing_key(1), "gw-1", 1), timeout=10)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_role_ladder(store: Deployment) -> None:
    [sample] = signed_chain(store.signing_key(1), "gw-1", 1)
    with store.gateway(1) as gw:
        gw.deliver([sample])
    eid = sample.event.event_id
    with store.person("viewer") as viewer:
        assert viewer.get_event(eid).event.event_id == eid
        with pytest.raises(AuthError, match="role viewer; Review/SetVerdict needs reviewer"):
            viewer.set_verdict(eid, "confirmed", "x")
        with pytest.raises(AuthError, match="Review/Export needs reviewer"):
            viewer.export([eid], store.root / "out")
    with store.person("reviewer") as reviewer:
        assert reviewer.set_verdict(eid, "confirmed", "plate clear").verdict == "confirmed"
        with pytest.raises(AuthError, match="Admin/Status needs admin"):
            reviewer.status()
        with pytest.raises(AuthError, match="Admin/AuditVerify needs admin"):
            reviewer.audit_verify()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", *args], capture_output=True, text=True, timeout=60
    )


def test_cli_refusals_are_one_clear_line(store: Deployment, tmp_path: Path) -> None:
    cfg = yaml.safe_load(store.path("viewer.yaml").read_text())
    cfg["token"] = "y" * 43
    store.path("wrong.yaml").write_text(yaml.safe_dump(cfg))
    other = issue_client_cert(create_ca("other"), "user", "viewer")
    other.save(tmp_path / "o.pem", tmp_path / "o.key")
    cfg2 = {
        **yaml.safe_load(store.path("viewer.yaml").read_text()),
        "cert": str(tmp_path / "o.pem"),
        "key": str(tmp_path / "o.key"),
    }
    store.path("otherca.yaml").write_text(yaml.safe_dump(cfg2))
    cases = [
        (("review", "search", "--config", str(store.path("wrong.yaml"))), "not authenticated"),
        (
            (
                "review",
                "verdict",
                "x",
                "confirm",
                "--note",
                "n",
                "--config",
                str(store.path("viewer.yaml")),
            ),
            "not allowed: user viewer has role viewer",
        ),
        (("status", "--config", str(store.path("reviewer.yaml"))), "needs admin"),
        (
            ("status", "--config", str(store.path("otherca.yaml"))),
            f"refused this client's certificate (cert {tmp_path / 'o.pem'}): it is not signed "
            "by the deployment CA in ca",
        ),
    ]
    for args, expected in cases:
        r = _cli(*args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith("edgewatch: error:")]
        assert len(lines) == 1 and expected in lines[0], (args, r.stderr)


def test_status_exit_code_when_store_is_down(deployment: Deployment) -> None:
    r = _cli("status", "--config", str(deployment.path("admin.yaml")))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"the store at {deployment.address} is not reachable (connection refused)" in r.stderr


def test_transport_error_type(deployment: Deployment) -> None:
    with deployment.person("admin") as admin, pytest.raises(TransportError):
        admin.status()
