"""A package streamed over real gRPC (Review.Export shape) arrives verifiable."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from edge.errors import TransportError
from edge.evidence.package import ChainLink, PackageItem, package_files, verify_package
from edge.evidence.signing import generate_signing_key, public_key_pem, sign_event
from edge.wire.export import package_to_chunks, write_package_chunks
from edge.wire.v1 import review_pb2, review_pb2_grpc
from tests.support.samples import sample_chain


class _ExportOnly(review_pb2_grpc.ReviewServicer):
    def __init__(self, files: dict[str, bytes]) -> None:
        self._files = files

    def Export(  # noqa: N802 - gRPC method name
        self, request: review_pb2.ExportRequest, context: grpc.ServicerContext
    ) -> Iterator[review_pb2.ExportChunk]:
        # small chunks so every file is split: offsets and eof are exercised
        return package_to_chunks(self._files, chunk_bytes=1000)


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    key = generate_signing_key()
    signed = [(e, sign_event(key, e), b) for e, b in sample_chain(2)]
    item = PackageItem(
        signed[1][0],
        signed[1][1],
        signed[1][2],
        "ok",
        predecessor=ChainLink(signed[0][0], signed[0][1]),
    )
    return package_files([item], [], {"gw-1": public_key_pem(key.public_key())}, 1)


def test_streamed_package_is_written_and_verifies(files: dict[str, bytes], tmp_path: Path) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    review_pb2_grpc.add_ReviewServicer_to_server(_ExportOnly(files), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = review_pb2_grpc.ReviewStub(channel)
            stream = stub.Export(review_pb2.ExportRequest(event_ids=["x"]), timeout=30)
            written = write_package_chunks(tmp_path / "pkg", stream)
    finally:
        server.stop(grace=None)
    assert written == sorted(files)
    assert verify_package(tmp_path / "pkg") == []


def test_unsafe_or_broken_streams_are_refused(files: dict[str, bytes], tmp_path: Path) -> None:
    chunks = list(package_to_chunks(files, chunk_bytes=1000))
    with pytest.raises(TransportError, match="unsafe"):
        write_package_chunks(tmp_path / "a", [review_pb2.ExportChunk(path="../x", eof=True)])
    with pytest.raises(TransportError, match="were complete"):
        write_package_chunks(tmp_path / "b", [c for c in chunks if not c.eof])
    with pytest.raises(TransportError, match="out of order"):
        write_package_chunks(tmp_path / "c", list(reversed(chunks)))
