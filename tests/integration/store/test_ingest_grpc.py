"""Ingest over real gRPC with mutual TLS against a real store on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib

import grpc
import pytest

from edge.evidence.signing import generate_signing_key, sign_event
from edge.store.repository import EventQuery
from edge.wire.v1 import ingest_pb2
from tests.support.loadgen import Deployment, SignedSample, serving, signed_chain
from tests.support.samples import sample_jpeg


def test_delivery_is_acked_stored_and_idempotent(store: Deployment) -> None:
    chain = signed_chain(store.signing_key(1), "gw-1", 3)
    with store.gateway(1) as gw:
        acks = gw.deliver(chain)
        again = gw.deliver(chain)
    assert [(a.status, a.integrity) for a in acks] == [("stored", "ok")] * 3
    assert [a.status for a in again] == ["duplicate"] * 3
    with store.person("viewer") as viewer:
        rows, _ = viewer.search(EventQuery(gateway_id="gw-1"))
    assert [r.event_id for r in rows] == [s.event.event_id for s in reversed(chain)]


def test_gap_is_stored_flagged_and_shown(store: Deployment) -> None:
    chain = signed_chain(store.signing_key(1), "gw-1", 3)
    with store.gateway(1) as gw:
        acks = gw.deliver([chain[0], chain[2]])
    assert acks[1].status == "stored" and acks[1].integrity == "gap"
    assert "expected sequence 2, got 3" in acks[1].message
    with store.person("admin") as admin:
        status = admin.status()
        detail = admin.get_event(chain[2].event.event_id)
    gw1 = next(g for g in status.gateways if g.gateway_id == "gw-1")
    assert gw1.last_sequence == 3 and any("gap" in p for p in gw1.problems)
    assert detail.integrity == "gap" and "expected sequence 2" in detail.integrity_detail


def test_bad_signature_and_altered_blob_are_rejected_and_recorded(store: Deployment) -> None:
    [forged] = signed_chain(generate_signing_key(), "gw-1", 1)
    [good] = signed_chain(store.signing_key(1), "gw-1", 1)
    altered = SignedSample(
        good.event, good.signature, {**good.blobs, "scene.jpg": sample_jpeg(99, 96, 64)}
    )
    with store.gateway(1) as gw:
        bad_sig, bad_blob = gw.deliver([forged, altered])
    assert (bad_sig.status, bad_sig.integrity) == ("rejected", "bad_signature")
    assert "does not verify" in bad_sig.message
    assert (bad_blob.status, bad_blob.integrity) == ("rejected", "bad_blob")
    assert "scene.jpg" in bad_blob.message
    with store.person("admin") as admin:
        status = admin.status()
    assert status.events_stored == 0
    problems = next(g for g in status.gateways if g.gateway_id == "gw-1").problems
    assert len(problems) == 2


def test_gateway_cannot_deliver_for_another_gateway(store: Deployment) -> None:
    chain = signed_chain(store.signing_key(1), "gw-1", 1)
    with store.gateway(2) as gw2:
        [ack] = gw2.deliver(chain)
    assert ack.status == "rejected" and "gw-2 cannot deliver events of gateway gw-1" in ack.message


def test_limits_on_blob_count_and_pixels(deployment: Deployment) -> None:
    deployment.edit_store_config(limits={"max_blobs_per_event": 2, "max_image_pixels": 1_000_000})
    key = deployment.signing_key(1)
    [three_blobs] = signed_chain(key, "gw-1", 1)
    big = sample_jpeg(5, 1100, 1000)  # 1.1 megapixels
    [e2] = signed_chain(key, "gw-1", 1)
    blobs = {"scene.jpg": big}
    ref = dataclasses.replace(
        e2.event.blobs[0], sha256=hashlib.sha256(big).hexdigest(), size=len(big)
    )
    event = dataclasses.replace(
        e2.event,
        blobs=(ref,),
        faces=(),
        plates=(dataclasses.replace(e2.event.plates[0], crop=None),),
    )
    huge = SignedSample(event, sign_event(key, event), blobs)
    with serving(deployment), deployment.gateway(1) as gw:
        too_many, too_big = gw.deliver([three_blobs, huge])
    assert too_many.status == "rejected" and "3 blobs; the limit is 2" in too_many.message
    assert (
        too_big.status == "rejected" and "1100000 pixels; the limit is 1000000" in too_big.message
    )


def test_oversized_message_is_resource_exhausted(deployment: Deployment) -> None:
    deployment.edit_store_config(limits={"max_message_bytes": 1 << 20})
    [big] = signed_chain(deployment.signing_key(1), "gw-1", 1, scene_bytes=1_500_000)
    with serving(deployment), deployment.gateway(1) as gw, pytest.raises(grpc.RpcError) as err:
        gw.deliver([big])
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_malformed_bytes_are_invalid_argument(store: Deployment) -> None:
    with store.gateway(1) as gw:
        channel = gw._channel
        assert channel is not None
        call = channel.unary_unary("/edge.v1.Ingest/Heartbeat")
        with pytest.raises(grpc.RpcError) as err:
            call(b"\xff\xff\xff\x0f not protobuf", timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid protobuf message" in (err.value.details() or "")


def test_structurally_broken_event_is_rejected_not_fatal(store: Deployment) -> None:
    chain = signed_chain(store.signing_key(1), "gw-1", 2)
    broken = chain[0].to_proto()
    del broken.events[0].blobs[:]  # the event names 3 blobs, none sent
    with store.gateway(1) as gw:
        acks = list(gw.deliver_stream(iter([broken, chain[0].to_proto()])))
    assert acks[0].status == "rejected" and "do not match" in acks[0].message
    assert acks[1].status == "stored"


def test_heartbeat_is_stored_and_answered(store: Deployment) -> None:
    req = ingest_pb2.HeartbeatRequest(
        gateway_id="gw-1",
        sent_at_us=1,
        software_version="t",
        queue_depth=4,
        model_ids=["scrfd_500m_bnkps"],
        face_model_id="mobilefacenet_128",
        last_sequence=7,
        cameras=[ingest_pb2.CameraHealth(camera_id="cam-1", up=True, fps=4.5)],
    )
    with store.gateway(1) as gw:
        reply = gw.stub.Heartbeat(req, timeout=10)
    assert reply.server_time_us > 0 and reply.watchlist_version == 0
    with store.person("admin") as admin:
        gw1 = next(g for g in admin.status().gateways if g.gateway_id == "gw-1")
    assert gw1.health is not None and gw1.health.queue_depth == 4
    assert gw1.health.face_model_id == "mobilefacenet_128" and gw1.health.cameras[0].up


@pytest.mark.postgres
def test_delivery_on_postgresql(pg_deployment: Deployment) -> None:
    chain = signed_chain(pg_deployment.signing_key(1), "gw-1", 4)
    with serving(pg_deployment), pg_deployment.gateway(1) as gw:
        acks = gw.deliver(chain)
        assert [a.status for a in gw.deliver(chain[:2])] == ["duplicate"] * 2
        with pg_deployment.person("reviewer") as r:
            rows, first = r.search(EventQuery(plate="粤B12345", limit=2))
            page2, cursor = r.search(EventQuery(plate="粤B12345", limit=2, cursor=first))
    assert [a.status for a in acks] == ["stored"] * 4
    assert [x.sequence for x in rows + page2] == [4, 3, 2, 1] and cursor is None
