"""Central face enrolment, sync to gateways and search by photo, with the real model pack."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edge.errors import QueryError, WatchlistError
from edge.evidence.signing import sign_event
from edge.review.watchlist_client import StoreWatchlistAdmin
from edge.store.repository import EventQuery
from edge.store.server import StoreServer
from edge.wire.mapping import snapshot_from_proto
from edge.wire.v1 import watchlist_pb2, watchlist_pb2_grpc
from tests.support.loadgen import Deployment, SignedSample, signed_chain

pytestmark = pytest.mark.models

JOLIE = "faces/deepface/angelina_jolie"


@pytest.fixture
def face_store(deployment: Deployment, models_dir: Path) -> Iterator[Deployment]:
    server = StoreServer(deployment.store_config(), models_dir=models_dir)
    server.start()
    try:
        yield deployment
    finally:
        server.stop(grace=2.0)


def _sync(dep: Deployment, model: str) -> watchlist_pb2.WatchlistSnapshot:
    with dep.gateway(1) as gw:
        assert gw._channel is not None
        stub = watchlist_pb2_grpc.WatchlistSyncStub(gw._channel)
        snap: watchlist_pb2.WatchlistSnapshot = stub.GetSnapshot(
            watchlist_pb2.GetSnapshotRequest(face_model_id=model), timeout=30
        )
        deltas = stub.GetDeltas(
            watchlist_pb2.GetDeltasRequest(since_version=1, face_model_id=model), timeout=30
        )
    assert deltas.version == snap.version
    return snap


def test_enrol_sync_and_search_by_photo(face_store: Deployment, eval_dir: Path) -> None:
    admin = StoreWatchlistAdmin(face_store.person("admin"))
    photos = [eval_dir / JOLIE / "img1.jpg", eval_dir / JOLIE / "img2.jpg"]
    added = admin.add_face_photos("vendor 12", photos, largest=False)
    assert (added.templates_added, added.face_model_id) == (2, "mobilefacenet_128")
    sid = added.subject_id
    plate_sid = admin.add_plate_subject("cart", ["粤B12345"])
    admin.close()

    snap = _sync(face_store, "mobilefacenet_128")
    assert snap.face_model_status == watchlist_pb2.FACE_MODEL_STATUS_MATCH
    domain = snapshot_from_proto(snap)
    assert domain.face_matrix.shape == (2, 128) and set(domain.face_subject_ids) == {sid}
    assert np.allclose(np.linalg.norm(domain.face_matrix, axis=1), 1.0, atol=1e-4)
    other = _sync(face_store, "w600k_r50")
    assert other.face_model_status == watchlist_pb2.FACE_MODEL_STATUS_MISMATCH
    assert "mobilefacenet_128" in other.message and "w600k_r50" in other.message
    assert not other.HasField("faces") and [p.subject_id for p in other.plates] == [plate_sid]

    [sample] = signed_chain(face_store.signing_key(1), "gw-1", 1)
    face = dataclasses.replace(sample.event.faces[0], subject_id=sid)
    event = dataclasses.replace(sample.event, faces=(face,), plates=())
    with face_store.gateway(1) as gw:
        [ack] = gw.deliver([SignedSample(event, sign_event(face_store.signing_key(1), event),
                                         sample.blobs)])  # fmt: skip
    assert ack.status == "stored"
    with face_store.person("viewer") as viewer:
        probe = (eval_dir / JOLIE / "img4.jpg").read_bytes()
        rows, _ = viewer.search(EventQuery(), face_photo=probe)
        assert [r.event_id for r in rows] == [event.event_id]
        assert rows[0].photo_similarity is not None and rows[0].photo_similarity > 0.36
        assert rows[0].label == "vendor 12"
        stranger = (eval_dir / "faces/lfw/anthony_hopkins/Anthony_Hopkins_0001.jpg").read_bytes()
        assert viewer.search(EventQuery(), face_photo=stranger)[0] == []
        with pytest.raises(QueryError, match="no face"):
            viewer.search(EventQuery(), face_photo=_blank_jpeg())


def test_group_photo_needs_largest(face_store: Deployment, eval_dir: Path) -> None:
    admin = StoreWatchlistAdmin(face_store.person("admin"))
    group = eval_dir / "faces/multi/deepface_couple.jpg"
    with pytest.raises(WatchlistError, match="2 faces"):
        admin.add_face_photos("pair", [group], largest=False)
    assert admin.add_face_photos("pair", [group], largest=True).templates_added == 1
    admin.close()


def _blank_jpeg() -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", np.full((200, 200, 3), 128, np.uint8))
    assert ok
    return bytes(buf)
