"""A minimal gateway-side client of the store, for tests and benchmarks.

Builds real signed, chained events with real JPEG blobs and delivers them over the
real Ingest stream with the gateway's mTLS certificate. (The production gateway uplink
is edge/gateway/uplink.py; this one is synchronous and tiny on purpose.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.api.types import Ack
from edge.config import load_model
from edge.evidence.model import GENESIS_HASH, MatchEvent, event_hash
from edge.evidence.signing import load_private_key, sign_event
from edge.review.client import StoreClient
from edge.review.config import ClientConfig
from edge.store.config import StoreConfig
from edge.store.server import StoreServer
from edge.wire.mapping import event_to_proto
from edge.wire.review_mapping import ack_from_proto
from edge.wire.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc
from tests.support.samples import sample_event, sample_jpeg, with_scene


@dataclass(frozen=True, slots=True)
class SignedSample:
    event: MatchEvent
    signature: bytes
    blobs: dict[str, bytes]

    def to_signed(self) -> events_pb2.SignedEvent:
        return event_to_proto(self.event, self.signature, self.blobs)

    def to_proto(self) -> ingest_pb2.DeliverRequest:
        """A request holding this one event."""
        return ingest_pb2.DeliverRequest(events=[self.to_signed()])


def batched(samples: Sequence[SignedSample], size: int) -> list[ingest_pb2.DeliverRequest]:
    """Requests of up to ``size`` events each, in order."""
    return [
        ingest_pb2.DeliverRequest(events=[s.to_signed() for s in samples[i : i + size]])
        for i in range(0, len(samples), size)
    ]


@functools.lru_cache(maxsize=16)
def _scene_side(target_bytes: int) -> int:
    """The largest square side whose noise JPEG stays within ``target_bytes``."""
    lo, hi = 8, 4096
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(sample_jpeg(0, mid, mid)) <= target_bytes:
            lo = mid
        else:
            hi = mid - 1
    return lo


def padded_scene(seed: int, target_bytes: int) -> bytes:
    """A real JPEG of about ``target_bytes`` (noise compresses badly, so size is easy;
    within ~1 % of the target)."""
    return sample_jpeg(seed, _scene_side(target_bytes), _scene_side(target_bytes))


def signed_chain(
    key: Ed25519PrivateKey,
    gateway_id: str,
    n: int,
    start: int = 1,
    prev_hash: str = GENESIS_HASH,
    scene_bytes: int = 0,
    first_at_us: int | None = None,
    **changes: object,
) -> list[SignedSample]:
    """``n`` linked events of ``gateway_id`` signed with ``key`` (sequences start..).

    Capture times are one millisecond apart and end now (so retention keeps them),
    unless ``first_at_us`` is given.
    """
    out: list[SignedSample] = []
    prev = prev_hash
    t0 = first_at_us if first_at_us is not None else time.time_ns() // 1000 - n * 1000
    for i, seq in enumerate(range(start, start + n)):
        event, blobs = sample_event(seq, prev, gateway_id, captured_at_us=t0 + i * 1000)
        if scene_bytes:
            event, blobs = with_scene(event, blobs, padded_scene(seq, scene_bytes))
        if changes:
            event = dataclasses.replace(event, **changes)  # type: ignore[arg-type]
        out.append(SignedSample(event, sign_event(key, event), blobs))
        prev = event_hash(event)
    return out


def client_credentials(ca: Path, cert: Path, key: Path) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=key.read_bytes(),
        certificate_chain=cert.read_bytes(),
    )


class GatewayClient:
    """Deliver and heartbeat as one gateway (identity = its client certificate)."""

    def __init__(self, address: str, credentials: grpc.ChannelCredentials) -> None:
        self._address = address
        self._credentials = credentials
        self._channel: grpc.Channel | None = None

    def __enter__(self) -> GatewayClient:
        self._channel = grpc.secure_channel(
            self._address,
            self._credentials,
            options=[("grpc.max_send_message_length", 256 << 20)],
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._channel is not None:
            self._channel.close()

    @property
    def stub(self) -> ingest_pb2_grpc.IngestStub:
        assert self._channel is not None, "use GatewayClient as a context manager"
        return ingest_pb2_grpc.IngestStub(self._channel)

    def deliver_stream(
        self, requests: Iterator[ingest_pb2.DeliverRequest], timeout: float = 120.0
    ) -> Iterator[Ack]:
        """The acks of every event of every request, in order."""
        for reply in self.stub.Deliver(requests, timeout=timeout):
            for pb in reply.acks:
                yield ack_from_proto(pb)

    def deliver(
        self, samples: Sequence[SignedSample], timeout: float = 120.0, batch: int = 1
    ) -> list[Ack]:
        """Send all on one stream, ``batch`` events per request; one ack per event."""
        return list(self.deliver_stream(iter(batched(samples, batch)), timeout))


@dataclasses.dataclass
class Deployment:
    """A local deployment made by `edgewatch init` (paths and the store address)."""

    root: Path
    address: str

    def path(self, name: str) -> Path:
        return self.root / name

    def store_config(self) -> StoreConfig:
        return load_model(StoreConfig, self.root / "store.yaml")

    def signing_key(self, n: int = 1) -> Ed25519PrivateKey:
        return load_private_key(self.root / f"gw-{n}.signing.key")

    def gateway(self, n: int = 1) -> GatewayClient:
        creds = client_credentials(
            self.root / "ca.pem", self.root / f"gw-{n}.pem", self.root / f"gw-{n}.key"
        )
        return GatewayClient(self.address, creds)

    def person(self, name: str) -> StoreClient:
        return StoreClient(load_model(ClientConfig, self.root / f"{name}.yaml"))

    def edit_store_config(self, **changes: Any) -> None:
        """Rewrite store.yaml with top-level keys replaced (e.g. limits=...)."""
        path = self.root / "store.yaml"
        data = yaml.safe_load(path.read_text())
        data.update(changes)
        path.write_text(yaml.safe_dump(data, allow_unicode=True))


@contextlib.contextmanager
def serving(dep: Deployment) -> Iterator[StoreServer]:
    server = StoreServer(dep.store_config())
    server.start()
    try:
        yield server
    finally:
        server.stop(grace=2.0)


@contextlib.contextmanager
def store_serving(config: Path, log: Path) -> Iterator[tuple[str, str]]:
    """`edgewatch store serve` as a child process; yields (gRPC address, web URL)."""
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "store", "serve", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "serving" not in line:
            proc.kill()
            raise AssertionError(f"store did not start: {line} {log.read_text()[-2000:]}")
        port = line.rsplit("port", 1)[1].strip(" )\n")
        web = proc.stdout.readline().split(": ", 1)[1].strip().rstrip("/")
        yield f"127.0.0.1:{port}", web
    finally:
        proc.terminate()  # graceful: SIGTERM
        proc.wait(30)
