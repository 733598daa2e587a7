"""Several events per Deliver request: one reply per request, one ack per event, in order."""

from __future__ import annotations

import grpc
import pytest

from edge.evidence.signing import generate_signing_key, sign_event
from edge.store.repository import EventQuery
from edge.wire.v1 import ingest_pb2
from tests.support.loadgen import Deployment, SignedSample, batched, serving, signed_chain


def test_each_request_gets_one_reply_with_its_acks_in_order(store: Deployment) -> None:
    chain = signed_chain(store.signing_key(1), "gw-1", 50, scene_bytes=20_000)
    requests = batched(chain, 16)  # 16 + 16 + 16 + 2
    with store.gateway(1) as gw:
        replies = list(gw.stub.Deliver(iter(requests), timeout=60))
    assert [len(r.acks) for r in replies] == [16, 16, 16, 2]
    acks = [a for r in replies for a in r.acks]
    assert [a.event_id for a in acks] == [s.event.event_id for s in chain]
    assert {a.status for a in acks} == {ingest_pb2.ACK_STATUS_STORED}
    assert [a.sequence for a in acks] == list(range(1, 51))
    with store.person("admin") as admin:
        status = admin.status()
    assert status.events_by_integrity == {"ok": 50}


def test_a_bad_event_inside_a_batch_is_rejected_alone(store: Deployment) -> None:
    chain = signed_chain(store.signing_key(1), "gw-1", 5)
    wrong_key = generate_signing_key()
    forged = SignedSample(chain[2].event, sign_event(wrong_key, chain[2].event), chain[2].blobs)
    with store.gateway(1) as gw:
        acks = gw.deliver([*chain[:2], forged, *chain[3:]], batch=5)
        again = gw.deliver(chain, batch=5)  # a resend of the whole batch is idempotent
    assert [(a.status, a.integrity) for a in acks] == [
        ("stored", "ok"),
        ("stored", "ok"),
        ("rejected", "bad_signature"),
        ("stored", "gap"),  # sequence 4 follows 2: the missing 3 is recorded, not hidden
        ("stored", "ok"),
    ]
    assert [a.status for a in again] == ["duplicate"] * 2 + ["stored"] + ["duplicate"] * 2
    with store.person("viewer") as viewer:
        rows, _ = viewer.search(EventQuery(gateway_id="gw-1", limit=10))
    assert len(rows) == 5


def test_too_many_events_in_one_request_is_resource_exhausted(deployment: Deployment) -> None:
    deployment.edit_store_config(limits={"max_events_per_message": 4})
    chain = signed_chain(deployment.signing_key(1), "gw-1", 9)
    with serving(deployment), deployment.gateway(1) as gw:
        got = []
        with pytest.raises(grpc.RpcError) as err:
            for ack in gw.deliver_stream(iter(batched(chain, 4) + batched(chain[:5], 5))):
                got.append(ack.status)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "holds 5 events; the store accepts at most 4" in (err.value.details() or "")
    assert "limits.max_events_per_message" in (err.value.details() or "")
    assert got == ["stored"] * 9  # the requests before the oversized one were answered


def test_an_empty_request_is_invalid_argument(store: Deployment) -> None:
    with store.gateway(1) as gw, pytest.raises(grpc.RpcError) as err:
        list(gw.stub.Deliver(iter([ingest_pb2.DeliverRequest()]), timeout=30))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "holds no events" in (err.value.details() or "")
