"""edge.api types survive the wire both ways (through serialized bytes), and their JSON
shape is the one `review search --json` documents."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pytest

from edge.api.json_views import event_row_json
from edge.api.types import (
    Ack,
    AddFaceOutcome,
    AuditCheck,
    BlobContent,
    EventDetailView,
    EventQuery,
    EventRow,
    GatewayRow,
    PhotoUse,
    StatusView,
    VerdictView,
    WatchlistRow,
)
from edge.errors import EvidenceError, QueryError
from edge.health import CameraHealth, GatewayHealth
from edge.watchlist.delta import SubjectChange
from edge.watchlist.types import Subject
from edge.wire import admin_mapping as am
from edge.wire import review_mapping as rm
from edge.wire import watchlist_mapping as wm
from edge.wire.v1 import admin_pb2, review_pb2, watchlist_pb2
from tests.support.samples import Sample

T = TypeVar("T")


def _through_bytes(pb: Any, cls: Callable[[bytes], T]) -> T:
    return cls(pb.SerializeToString())


def _row(kind: str = "linked", **changes: Any) -> EventRow:
    values: dict[str, Any] = {
        "event_id": "0190-e",
        "gateway_id": "gw-1",
        "camera_id": "cam-1",
        "captured_at_us": 1_700_000_000_123_000,
        "kind": kind,
        "subject_ids": ("s1", "s2"),
        "plate_texts": ("粤B12345",),
        "best_similarity": 0.625,
        "verdict": "confirmed",
        "integrity": "gap",
        "received_at_us": 1_700_000_001_000_000,
        "sequence": 7,
        "photo_similarity": None,
        "label": "vendor 17",
    }
    values.update(changes)
    return EventRow(**values)


def test_event_rows_round_trip() -> None:
    row = _row()
    back = rm.summary_from_proto(
        _through_bytes(rm.summary_to_proto(row), review_pb2.EventSummary.FromString), False
    )
    assert back == row
    # a plate-only event has no face similarity; a photo search carries its own
    plate = _row("plate", best_similarity=None, photo_similarity=0.5, label=None)
    wire = _through_bytes(rm.summary_to_proto(plate), review_pb2.EventSummary.FromString)
    assert rm.summary_from_proto(wire, True) == plate


def test_event_detail_round_trips_with_the_event_byte_exact(
    make_event: Callable[..., Sample],
) -> None:
    event, _ = make_event(3)
    detail = EventDetailView(
        event=event,
        signature=b"s" * 64,
        event_hash="ab" * 32,
        integrity="ok",
        integrity_detail="",
        received_at_us=5,
        verdict="rejected",
        verdicts=(
            VerdictView("confirmed", "seen", "ann", 3),
            VerdictView("rejected", "no", "bo", 4),
        ),
        gateway_key_fingerprint="cd" * 32,
        label=None,
    )
    wire = _through_bytes(rm.detail_to_proto(detail), review_pb2.EventDetail.FromString)
    assert rm.detail_from_proto(wire) == detail


def test_unknown_states_are_refused_by_name() -> None:
    with pytest.raises(EvidenceError, match="'sideways' is not one of"):
        rm.summary_to_proto(_row(verdict="sideways"))
    with pytest.raises(QueryError, match="verdict must be CONFIRMED or REJECTED"):
        rm.verdict_value_from_proto(0)


def test_query_ack_and_blob_round_trip() -> None:
    q = EventQuery(plate="粤B12345", subject_ids=("s1",), verdict="pending", limit=20, cursor="c")
    back, photo, sim = rm.query_from_proto(
        _through_bytes(rm.query_to_proto(q, b"jpeg", 0.4), review_pb2.SearchRequest.FromString)
    )
    assert (back, photo, sim) == (q, b"jpeg", pytest.approx(0.4))
    ack = Ack("e1", "stored", "gap", "chain gap before 7", 7)
    assert rm.ack_from_proto(rm.ack_to_proto(ack)) == ack
    blob = BlobContent("scene.jpg", "image/jpeg", "ef" * 32, b"\xff\xd8 bytes")
    wire = _through_bytes(rm.blob_to_proto(blob), review_pb2.BlobContent.FromString)
    assert rm.blob_from_proto(wire) == blob


def _health() -> GatewayHealth:
    return GatewayHealth(
        gateway_id="gw-1",
        sent_at_us=9,
        software_version="0.1.0",
        cameras=(CameraHealth("cam-1", True, 4.5, 100, 2, ""),),
        queue_depth=1,
        outbox_events=3,
        outbox_bytes=300,
        model_ids=("a", "b"),
        face_model_id="b",
        watchlist_version=4,
        last_sequence=8,
        started_at_us=1,
    )


def test_status_with_gateways_and_audit_round_trip() -> None:
    gateway = GatewayRow(
        gateway_id="gw-1",
        public_key_pem="-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n",
        public_key_fingerprint="01" * 32,
        cert_fingerprint=None,
        revoked=False,
        registered_at_us=1,
        last_seen_us=None,
        last_sequence=8,
        last_hash="02" * 32,
        problems=("gap before 3",),
        health=_health(),
    )
    status = StatusView(
        software_version="0.1.0",
        database="sqlite",
        database_ok=True,
        events_stored=10,
        events_pending_review=4,
        events_by_integrity={"ok": 9, "gap": 1},
        watchlist_version=4,
        gateways=(gateway, dataclasses.replace(gateway, gateway_id="gw-2", health=None)),
        server_time_us=11,
    )
    wire = _through_bytes(am.status_to_proto(status), admin_pb2.StatusReply.FromString)
    assert am.status_from_proto(wire) == status
    check = AuditCheck(False, 12, ("entry 5: hash mismatch",), "03" * 32)
    assert am.audit_from_proto(am.audit_to_proto(check)) == check


def test_watchlist_rows_and_enrolment_outcome_round_trip() -> None:
    row = WatchlistRow("s1", "vendor 17", 2, ("粤B12345",), 5, "m1,m2")
    wire = _through_bytes(am.entry_to_proto(row), watchlist_pb2.WatchlistEntry.FromString)
    assert am.entry_from_proto(wire) == row
    outcome = AddFaceOutcome(
        "s1", 6, 1, "m1", (PhotoUse(0, True, ""), PhotoUse(1, False, "no face"))
    )
    wire2 = _through_bytes(am.add_face_to_proto(outcome), watchlist_pb2.AddFaceReply.FromString)
    assert am.add_face_from_proto(wire2) == outcome


def test_sync_changes_round_trip_and_withhold_faces_of_another_model() -> None:
    faces = np.eye(2, 4, dtype=np.float32)
    changes = [
        SubjectChange(3, "upsert", Subject("s1", "one"), faces, ("粤B12345",)),
        SubjectChange(4, "remove", Subject("s2", ""), np.zeros((0, 0), np.float32), ()),
    ]
    reply = wm.deltas_to_proto(4, changes, False, "m1", 2, "m1")
    back = wm.changes_from_proto(_through_bytes(reply, watchlist_pb2.GetDeltasReply.FromString))
    assert [(c.version, c.op, c.subject, c.plates) for c in back] == [
        (c.version, c.op, c.subject, c.plates) for c in changes
    ]
    assert np.array_equal(back[0].faces, faces) and back[1].faces.shape[0] == 0
    other = wm.deltas_to_proto(4, changes, False, "m1", 2, "m2")
    assert other.face_model_status == watchlist_pb2.FACE_MODEL_STATUS_MISMATCH
    assert not wm.changes_from_proto(other)[0].faces.shape[0]  # plates still sent
    assert wm.changes_from_proto(other)[0].plates == ("粤B12345",)


def test_row_json_has_the_documented_fields() -> None:
    j = event_row_json(_row())
    assert j == {
        "id": "0190-e",
        "time": "2023-11-14T22:13:20.123+00:00",
        "gateway_id": "gw-1",
        "camera_id": "cam-1",
        "kind": "linked",
        "plate": "粤B12345",
        "subject_id": "s1",
        "label": "vendor 17",
        "similarity": 0.625,
        "verdict": "confirmed",
        "integrity": "gap",
        "sequence": 7,
        "plates": ["粤B12345"],
        "subject_ids": ["s1", "s2"],
    }
