from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from edge.errors import EvidenceError, ModelMismatchError, WatchlistError
from edge.evidence.model import canonical_bytes, event_hash
from edge.evidence.signing import generate_signing_key, sign_event, verify_event
from edge.health import CameraHealth, GatewayHealth
from edge.store.api_views import health_from_json
from edge.watchlist.types import Subject, WatchlistSnapshot
from edge.wire import mapping
from edge.wire.v1 import events_pb2, ingest_pb2, watchlist_pb2


def test_signed_event_survives_the_wire_byte_for_byte(make_event) -> None:
    key = generate_signing_key()
    e, blobs = make_event(9, "f" * 64, supersedes="0190c0de-0000-7000-8000-000000000001")
    sig = sign_event(key, e)
    wire = mapping.event_to_proto(e, sig, blobs).SerializeToString()
    got, got_sig, got_blobs = mapping.event_from_proto(events_pb2.SignedEvent.FromString(wire))
    assert got == e
    assert canonical_bytes(got) == canonical_bytes(e)
    assert event_hash(got) == event_hash(e)
    assert got_sig == sig and got_blobs == blobs
    verify_event(key.public_key(), got, got_sig)


def test_optional_fields_absent_stay_absent(make_event) -> None:
    e, blobs = make_event(1, location=None)
    face = dataclasses.replace(e.faces[0], crop=None)
    plate = dataclasses.replace(e.plates[0], color=None, crop=None)
    e = dataclasses.replace(e, faces=(face,), plates=(plate,))
    pb = mapping.event_to_proto(e, b"s" * 64, blobs)
    assert not pb.event.HasField("location") and not pb.event.HasField("supersedes")
    got, _, _ = mapping.event_from_proto(pb)
    assert got == e


def test_blob_content_must_match_blob_refs(make_event) -> None:
    e, blobs = make_event(1)
    with pytest.raises(EvidenceError, match="no content for blobs"):
        mapping.event_to_proto(e, b"", {k: v for k, v in blobs.items() if k != "scene.jpg"})
    pb = mapping.event_to_proto(e, b"", blobs)
    extra = events_pb2.SignedEvent()
    extra.CopyFrom(pb)
    extra.blobs.add(name="other.jpg", content=b"x")
    with pytest.raises(EvidenceError, match="do not match"):
        mapping.event_from_proto(extra)
    twice = events_pb2.SignedEvent()
    twice.CopyFrom(pb)
    twice.blobs.add(name="scene.jpg", content=b"x")
    with pytest.raises(EvidenceError, match="sent twice"):
        mapping.event_from_proto(twice)


def test_structural_problems_are_named(make_event) -> None:
    e, blobs = make_event(1)
    pb = mapping.event_to_proto(e, b"", blobs)
    pb.event.plates[0].kind = events_pb2.MATCH_KIND_UNSPECIFIED
    with pytest.raises(EvidenceError, match=r"plates\[0\]\.kind"):
        mapping.event_from_proto(pb)
    pb = mapping.event_to_proto(e, b"", blobs)
    pb.event.faces[0].ClearField("box")
    with pytest.raises(EvidenceError, match=r"faces\[0\]\.box is missing"):
        mapping.event_from_proto(pb)
    with pytest.raises(EvidenceError, match="event is missing"):
        mapping.event_from_proto(events_pb2.SignedEvent())


def test_enum_tables_cover_every_proto_value() -> None:
    assert set(mapping.INTEGRITY.values()) == set(events_pb2.IntegrityState.values()) - {0}
    assert set(mapping.VERDICTS.values()) == set(events_pb2.Verdict.values()) - {0}
    assert set(mapping.ACK_STATUSES.values()) == set(ingest_pb2.AckStatus.values()) - {0}
    assert mapping.optional_enum_from_proto(mapping.INTEGRITY, 0, "integrity") is None
    assert mapping.enum_from_proto(mapping.INTEGRITY, events_pb2.INTEGRITY_STATE_GAP, "i") == "gap"
    with pytest.raises(EvidenceError, match="not one of"):
        mapping.enum_to_proto(mapping.VERDICTS, "maybe", "verdict")


def test_heartbeat_round_trip() -> None:
    h = GatewayHealth(
        gateway_id="gw-1",
        sent_at_us=123,
        software_version="0.1.0",
        cameras=(
            CameraHealth("cam-1", True, 4.5, 1000, 3),
            CameraHealth("cam-2", False, 0.0, 0, 0, "stalled"),
            CameraHealth(
                "cam-3",
                True,
                2.5,
                frames_analysed=50,
                frames_dropped=7,
                frames_received=260,
                frames_decoded=255,
                dropped_by_reason=(("queue_full", 3), ("too_old", 4)),
                frame_age_p50_s=0.25,
                frame_age_p99_s=1.75,
                decode_errors=5,
                reconnects=2,
                lag_reason="too_old",
            ),
        ),
        queue_depth=2,
        outbox_events=5,
        outbox_bytes=4096,
        model_ids=("scrfd_500m", "w600k_mbf"),
        face_model_id="w600k_mbf",
        watchlist_version=7,
        last_sequence=42,
        started_at_us=100,
    )
    wire = mapping.health_to_proto(h).SerializeToString()
    assert mapping.health_from_proto(ingest_pb2.HeartbeatRequest.FromString(wire)) == h
    # the store keeps the last heartbeat as JSON (edge/store/ingest.py)
    assert health_from_json(json.dumps(dataclasses.asdict(h))) == h


def _snapshot(model: str | None = "w600k_mbf") -> WatchlistSnapshot:
    rng = np.random.default_rng(0)
    m = rng.normal(size=(3, 128)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return WatchlistSnapshot(
        version=12,
        face_model_id=model,
        subjects=(Subject("s1", "one"), Subject("s2", "two")),
        face_subject_ids=("s1", "s1", "s2"),
        face_matrix=m,
        plates=(("s2", "粤B12345"),),
    )


def test_snapshot_round_trip_keeps_matrix_exactly() -> None:
    snap = _snapshot()
    pb = mapping.snapshot_to_proto(snap, "w600k_mbf")
    assert pb.face_model_status == watchlist_pb2.FACE_MODEL_STATUS_MATCH
    mapping.check_face_model(pb.face_model_status, pb.message)
    got = mapping.snapshot_from_proto(
        watchlist_pb2.WatchlistSnapshot.FromString(pb.SerializeToString())
    )
    assert got.face_matrix.dtype == np.float32
    assert np.array_equal(got.face_matrix, snap.face_matrix)
    assert (got.version, got.face_model_id, got.subjects, got.face_subject_ids, got.plates) == (
        12,
        "w600k_mbf",
        snap.subjects,
        snap.face_subject_ids,
        snap.plates,
    )


def test_other_face_model_gets_no_templates_and_a_clear_message() -> None:
    pb = mapping.snapshot_to_proto(_snapshot(), "arcface_r100")
    assert pb.face_model_status == watchlist_pb2.FACE_MODEL_STATUS_MISMATCH
    assert "w600k_mbf" in pb.message and "arcface_r100" in pb.message
    assert not pb.HasField("faces")
    with pytest.raises(ModelMismatchError, match="arcface_r100"):
        mapping.check_face_model(pb.face_model_status, pb.message)
    got = mapping.snapshot_from_proto(pb)
    assert got.face_subject_ids == () and got.plates == (("s2", "粤B12345"),)


def test_truncated_face_matrix_is_refused() -> None:
    pb = mapping.snapshot_to_proto(_snapshot(), "w600k_mbf")
    pb.faces.face_matrix = pb.faces.face_matrix[:-4]
    with pytest.raises(WatchlistError, match="need 1536"):
        mapping.snapshot_from_proto(pb)
