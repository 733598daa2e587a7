"""Real gRPC over mutual TLS on 127.0.0.1 with the certificates `edgewatch init` made."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from edge.pki import CertKey, create_ca, issue_client_cert, peer_from_cert

METHOD = "/edge.test.Echo/WhoAmI"


def _who_am_i(request: bytes, context: grpc.ServicerContext) -> bytes:
    pem = context.auth_context()["x509_pem_cert"][0]
    peer = peer_from_cert(pem)
    return f"{peer.kind}:{peer.name}".encode() if peer else b"unknown"


@pytest.fixture(scope="module")
def server(deployment) -> Iterator[tuple[Path, int]]:
    root, _ = deployment
    creds = grpc.ssl_server_credentials(
        [((root / "store.key").read_bytes(), (root / "store.pem").read_bytes())],
        root_certificates=(root / "ca.pem").read_bytes(),
        require_client_auth=True,
    )
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.method_handlers_generic_handler(
        "edge.test.Echo", {"WhoAmI": grpc.unary_unary_rpc_method_handler(_who_am_i)}
    )
    srv.add_generic_rpc_handlers((handler,))
    port = srv.add_secure_port("127.0.0.1:0", creds)
    srv.start()
    yield root, port
    srv.stop(grace=None)


def _call(root: Path, port: int, client: CertKey, host: str = "127.0.0.1") -> bytes:
    creds = grpc.ssl_channel_credentials(
        root_certificates=(root / "ca.pem").read_bytes(),
        private_key=client.key_pem,
        certificate_chain=client.cert_pem,
    )
    with grpc.secure_channel(f"{host}:{port}", creds) as channel:
        call = channel.unary_unary(METHOD)
        return call(b"", timeout=10)  # type: ignore[no-any-return]


def test_gateway_and_person_certificates_are_accepted_with_their_identity(server) -> None:
    root, port = server
    gw = CertKey.load(root / "gw-1.pem", root / "gw-1.key")
    assert _call(root, port, gw) == b"gateway:gw-1"
    assert _call(root, port, gw, host="localhost") == b"gateway:gw-1"
    person = CertKey.load(root / "reviewer.pem", root / "reviewer.key")
    assert _call(root, port, person) == b"user:reviewer"


def test_certificate_from_another_ca_is_refused(server) -> None:
    root, port = server
    stranger = issue_client_cert(create_ca("someone else"), "gateway", "gw-1")
    with pytest.raises(grpc.RpcError) as err:
        _call(root, port, stranger)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_expired_certificate_is_refused(server) -> None:
    root, port = server
    ca = CertKey.load(root / "ca.pem", root / "ca.key")
    expired = issue_client_cert(
        ca, "gateway", "gw-1", days=1, not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    )
    with pytest.raises(grpc.RpcError) as err:
        _call(root, port, expired)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    fresh = issue_client_cert(ca, "gateway", "gw-9")
    assert _call(root, port, fresh) == b"gateway:gw-9"


def test_client_without_certificate_is_refused(server) -> None:
    root, port = server
    creds = grpc.ssl_channel_credentials(root_certificates=(root / "ca.pem").read_bytes())
    with (
        grpc.secure_channel(f"127.0.0.1:{port}", creds) as channel,
        pytest.raises(grpc.RpcError) as err,
    ):
        channel.unary_unary(METHOD)(b"", timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
