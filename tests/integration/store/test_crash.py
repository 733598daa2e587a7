"""Durability: a store killed mid-delivery loses nothing it acked; SIGTERM is graceful."""

from __future__ import annotations

import contextlib
import hashlib
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import grpc

from edge.api.types import Ack
from edge.wire.v1 import ingest_pb2
from tests.support.loadgen import Deployment, SignedSample, signed_chain

Spawn = Callable[[Deployment], AbstractContextManager[subprocess.Popen[str]]]
N = 120


def _deliver_until_killed(
    dep: Deployment, chain: list[SignedSample], proc: subprocess.Popen[str], kill_after: int
) -> list[Ack]:
    acks: list[Ack] = []

    def requests() -> Iterator[ingest_pb2.DeliverRequest]:
        for s in chain:
            yield s.to_proto()

    with dep.gateway(1) as gw:
        try:
            for ack in gw.deliver_stream(requests()):
                acks.append(ack)
                if len(acks) == kill_after:
                    proc.send_signal(signal.SIGKILL)  # no chance to flush anything
        except grpc.RpcError:
            pass
    return acks


def test_sigkill_mid_stream_loses_nothing_acked(deployment: Deployment, spawn_store: Spawn) -> None:
    chain = signed_chain(deployment.signing_key(1), "gw-1", N, scene_bytes=50_000)
    with spawn_store(deployment) as proc:
        acks = _deliver_until_killed(deployment, chain, proc, kill_after=25)
        assert proc.wait(30) == -signal.SIGKILL
    acked = [a.event_id for a in acks if a.status == "stored"]
    assert 25 <= len(acked) < N
    by_id = {s.event.event_id: s for s in chain}
    with spawn_store(deployment), deployment.person("reviewer") as reviewer:
        for eid in acked:
            detail = reviewer.get_event(eid)
            assert detail.integrity == "ok"
            scene = reviewer.get_blob(eid, "scene.jpg")
            assert scene == by_id[eid].blobs["scene.jpg"]
            assert hashlib.sha256(scene).hexdigest() == detail.event.blobs[0].sha256
        # the gateway resends everything it holds: acked ones are duplicates, the rest lands
        with deployment.gateway(1) as gw:
            again = gw.deliver(chain)
        assert all(a.status == "duplicate" for a in again if a.event_id in set(acked))
        assert {a.status for a in again} <= {"duplicate", "stored"}
        assert all(a.integrity == "ok" for a in again)
        with deployment.person("admin") as admin:
            status = admin.status()
    assert status.events_stored == N
    assert status.events_by_integrity == {"ok": N}


def test_sigterm_finishes_in_flight_delivery_and_exits_zero(
    deployment: Deployment, spawn_store: Spawn
) -> None:
    chain = signed_chain(deployment.signing_key(1), "gw-1", 40, scene_bytes=20_000)
    with spawn_store(deployment) as proc:
        acks: list[Ack] = []
        with deployment.gateway(1) as gw:
            stream = gw.deliver_stream(iter([s.to_proto() for s in chain]))
            acks.append(next(stream))
            stopper = threading.Thread(target=proc.send_signal, args=(signal.SIGTERM,))
            stopper.start()
            # the grace period may end the stream; what was acked is stored
            with contextlib.suppress(grpc.RpcError):
                acks.extend(stream)
            stopper.join()
        assert proc.wait(60) == 0
    with spawn_store(deployment), deployment.person("viewer") as viewer:
        for a in acks:
            assert viewer.get_event(a.event_id).event.event_id == a.event_id
