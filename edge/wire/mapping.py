"""The one place where protobuf messages and domain values are converted.

Servicers and clients call these functions and nothing else touches generated
classes' fields for domain data. Every ``*_from_proto`` validates structure (enums
set, required sub-messages present, blob names consistent) and raises an EdgeError
naming the bad field; content checks (hashes, signatures, chain) are not done here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from edge.errors import EvidenceError, ModelMismatchError, WatchlistError
from edge.evidence.model import BlobRef, FaceHit, MatchEvent, PlateHit
from edge.health import CameraHealth, GatewayHealth
from edge.watchlist.types import Subject, WatchlistSnapshot
from edge.wire.v1 import admin_pb2, events_pb2, ingest_pb2, watchlist_pb2

K = TypeVar("K")

BLOB_ROLES = {
    "scene": events_pb2.BLOB_ROLE_SCENE,
    "face_crop": events_pb2.BLOB_ROLE_FACE_CROP,
    "plate_crop": events_pb2.BLOB_ROLE_PLATE_CROP,
}
MATCH_KINDS = {"exact": events_pb2.MATCH_KIND_EXACT, "fuzzy": events_pb2.MATCH_KIND_FUZZY}
INTEGRITY = {
    "ok": events_pb2.INTEGRITY_STATE_OK,
    "gap": events_pb2.INTEGRITY_STATE_GAP,
    "fork": events_pb2.INTEGRITY_STATE_FORK,
    "replay": events_pb2.INTEGRITY_STATE_REPLAY,
    "bad_signature": events_pb2.INTEGRITY_STATE_BAD_SIGNATURE,
    "bad_blob": events_pb2.INTEGRITY_STATE_BAD_BLOB,
}
VERDICTS = {
    "pending": events_pb2.VERDICT_PENDING,
    "confirmed": events_pb2.VERDICT_CONFIRMED,
    "rejected": events_pb2.VERDICT_REJECTED,
}
ROLES = {
    "viewer": admin_pb2.ROLE_VIEWER,
    "reviewer": admin_pb2.ROLE_REVIEWER,
    "admin": admin_pb2.ROLE_ADMIN,
}
ACK_STATUSES = {
    "stored": ingest_pb2.ACK_STATUS_STORED,
    "duplicate": ingest_pb2.ACK_STATUS_DUPLICATE,
    "rejected": ingest_pb2.ACK_STATUS_REJECTED,
}


def _reverse(table: Mapping[K, int], value: int, what: str) -> K:
    for k, v in table.items():
        if v == value:
            return k
    allowed = ", ".join(str(k) for k in table)
    raise EvidenceError(f"{what}: enum value {value} is not one of {allowed}")


def enum_to_proto(table: Mapping[str, int], value: str, what: str) -> int:
    """Domain string -> proto enum number (e.g. ``enum_to_proto(INTEGRITY, "gap", ...)``)."""
    if value not in table:
        raise EvidenceError(f"{what}: {value!r} is not one of {', '.join(table)}")
    return table[value]


def enum_from_proto(table: Mapping[str, int], value: int, what: str) -> str:
    """Proto enum number -> domain string; UNSPECIFIED (0) is an error."""
    return _reverse(table, value, what)


def optional_enum_from_proto(table: Mapping[str, int], value: int, what: str) -> str | None:
    """For filters: UNSPECIFIED (0) means "any" and maps to None."""
    return None if value == 0 else _reverse(table, value, what)


# --- events -----------------------------------------------------------------------


def _box_to_proto(b: tuple[float, float, float, float]) -> events_pb2.Box:
    return events_pb2.Box(x1=b[0], y1=b[1], x2=b[2], y2=b[3])


def _box_from_proto(parent: Any, what: str) -> tuple[float, float, float, float]:
    if not parent.HasField("box"):
        raise EvidenceError(f"{what}.box is missing")
    b = parent.box
    return (b.x1, b.y1, b.x2, b.y2)


def _face_to_proto(f: FaceHit) -> events_pb2.FaceHit:
    return events_pb2.FaceHit(
        subject_id=f.subject_id,
        similarity=f.similarity,
        box=_box_to_proto(f.box),
        quality=f.quality,
        model_id=f.model_id,
        crop=f.crop,
    )


def _plate_to_proto(p: PlateHit) -> events_pb2.PlateHit:
    return events_pb2.PlateHit(
        subject_id=p.subject_id,
        text=p.text,
        listed_text=p.listed_text,
        kind=enum_to_proto(MATCH_KINDS, p.kind, "plate.kind"),  # type: ignore[arg-type]
        confidence=p.confidence,
        color=p.color,
        box=_box_to_proto(p.box),
        model_id=p.model_id,
        crop=p.crop,
    )


def _blob_to_proto(b: BlobRef) -> events_pb2.BlobRef:
    return events_pb2.BlobRef(
        name=b.name,
        role=enum_to_proto(BLOB_ROLES, b.role, f"blob {b.name!r} role"),  # type: ignore[arg-type]
        media_type=b.media_type,
        sha256=b.sha256,
        size=b.size,
    )


def match_event_to_proto(e: MatchEvent) -> events_pb2.MatchEvent:
    pb = events_pb2.MatchEvent(
        event_id=e.event_id,
        gateway_id=e.gateway_id,
        camera_id=e.camera_id,
        captured_at_us=e.captured_at_us,
        sequence=e.sequence,
        prev_hash=e.prev_hash,
        models=list(e.models),
    )
    pb.faces.extend(_face_to_proto(f) for f in e.faces)
    pb.plates.extend(_plate_to_proto(p) for p in e.plates)
    pb.blobs.extend(_blob_to_proto(b) for b in e.blobs)
    if e.location is not None:
        pb.location.CopyFrom(events_pb2.Location(lat=e.location[0], lon=e.location[1]))
    if e.supersedes is not None:
        pb.supersedes = e.supersedes
    return pb


def _opt(msg: Any, field: str) -> str | None:
    return str(getattr(msg, field)) if msg.HasField(field) else None


def _faces_from_proto(pb: events_pb2.MatchEvent) -> tuple[FaceHit, ...]:
    return tuple(
        FaceHit(
            subject_id=f.subject_id,
            similarity=f.similarity,
            box=_box_from_proto(f, f"faces[{i}]"),
            quality=f.quality,
            model_id=f.model_id,
            crop=_opt(f, "crop"),
        )
        for i, f in enumerate(pb.faces)
    )


def _plates_from_proto(pb: events_pb2.MatchEvent) -> tuple[PlateHit, ...]:
    return tuple(
        PlateHit(
            subject_id=p.subject_id,
            text=p.text,
            listed_text=p.listed_text,
            kind=enum_from_proto(MATCH_KINDS, p.kind, f"plates[{i}].kind"),  # type: ignore[arg-type]
            confidence=p.confidence,
            color=_opt(p, "color"),
            box=_box_from_proto(p, f"plates[{i}]"),
            model_id=p.model_id,
            crop=_opt(p, "crop"),
        )
        for i, p in enumerate(pb.plates)
    )


def _blobs_from_proto(pb: events_pb2.MatchEvent) -> tuple[BlobRef, ...]:
    return tuple(
        BlobRef(
            name=b.name,
            role=enum_from_proto(BLOB_ROLES, b.role, f"blobs[{i}].role"),  # type: ignore[arg-type]
            media_type=b.media_type,
            sha256=b.sha256,
            size=b.size,
        )
        for i, b in enumerate(pb.blobs)
    )


def match_event_from_proto(pb: events_pb2.MatchEvent) -> MatchEvent:
    faces = _faces_from_proto(pb)
    plates = _plates_from_proto(pb)
    blobs = _blobs_from_proto(pb)
    if not pb.event_id or not pb.gateway_id:
        raise EvidenceError("event_id and gateway_id must not be empty")
    return MatchEvent(
        event_id=pb.event_id,
        gateway_id=pb.gateway_id,
        camera_id=pb.camera_id,
        captured_at_us=pb.captured_at_us,
        sequence=pb.sequence,
        prev_hash=pb.prev_hash,
        faces=faces,
        plates=plates,
        blobs=blobs,
        models=tuple(pb.models),
        location=(pb.location.lat, pb.location.lon) if pb.HasField("location") else None,
        supersedes=_opt(pb, "supersedes"),
    )


def event_to_proto(
    event: MatchEvent, signature: bytes, blobs: Mapping[str, bytes]
) -> events_pb2.SignedEvent:
    """The SignedEvent a gateway delivers; ``blobs`` must hold every BlobRef's bytes."""
    missing = [b.name for b in event.blobs if b.name not in blobs]
    if missing:
        raise EvidenceError(f"event {event.event_id}: no content for blobs {missing}")
    return events_pb2.SignedEvent(
        event=match_event_to_proto(event),
        signature=signature,
        blobs=[events_pb2.Blob(name=b.name, content=blobs[b.name]) for b in event.blobs],
    )


def event_from_proto(
    pb: events_pb2.SignedEvent,
) -> tuple[MatchEvent, bytes, dict[str, bytes]]:
    """(event, signature, blob bytes by name); blob names must match the BlobRefs 1:1."""
    if not pb.HasField("event"):
        raise EvidenceError("SignedEvent.event is missing")
    event = match_event_from_proto(pb.event)
    contents: dict[str, bytes] = {}
    for blob in pb.blobs:
        if blob.name in contents:
            raise EvidenceError(f"event {event.event_id}: blob {blob.name!r} sent twice")
        contents[blob.name] = blob.content
    refs = [b.name for b in event.blobs]
    if len(set(refs)) != len(refs):
        raise EvidenceError(f"event {event.event_id}: duplicate BlobRef names {refs}")
    if set(refs) != set(contents):
        raise EvidenceError(
            f"event {event.event_id}: blob contents {sorted(contents)} "
            f"do not match the event's BlobRefs {sorted(refs)}"
        )
    return event, pb.signature, contents


# --- heartbeat --------------------------------------------------------------------


def health_to_proto(h: GatewayHealth) -> ingest_pb2.HeartbeatRequest:
    return ingest_pb2.HeartbeatRequest(
        gateway_id=h.gateway_id,
        sent_at_us=h.sent_at_us,
        software_version=h.software_version,
        cameras=[
            ingest_pb2.CameraHealth(
                camera_id=c.camera_id,
                up=c.up,
                fps=c.fps,
                frames_analysed=c.frames_analysed,
                frames_dropped=c.frames_dropped,
                last_error=c.last_error,
                frames_received=c.frames_received,
                frames_decoded=c.frames_decoded,
                dropped=[ingest_pb2.FrameDrops(reason=r, count=n) for r, n in c.dropped_by_reason],
                frame_age_p50_s=c.frame_age_p50_s,
                frame_age_p99_s=c.frame_age_p99_s,
                decode_errors=c.decode_errors,
                reconnects=c.reconnects,
                lag_reason=c.lag_reason,
            )
            for c in h.cameras
        ],
        queue_depth=h.queue_depth,
        outbox_events=h.outbox_events,
        outbox_bytes=h.outbox_bytes,
        model_ids=list(h.model_ids),
        face_model_id=h.face_model_id or "",
        watchlist_version=h.watchlist_version,
        last_sequence=h.last_sequence,
        started_at_us=h.started_at_us,
    )


def _camera_health_from_proto(c: ingest_pb2.CameraHealth) -> CameraHealth:
    return CameraHealth(
        camera_id=c.camera_id,
        up=c.up,
        fps=c.fps,
        frames_analysed=c.frames_analysed,
        frames_dropped=c.frames_dropped,
        last_error=c.last_error,
        frames_received=c.frames_received,
        frames_decoded=c.frames_decoded,
        dropped_by_reason=tuple((d.reason, d.count) for d in c.dropped),
        frame_age_p50_s=c.frame_age_p50_s,
        frame_age_p99_s=c.frame_age_p99_s,
        decode_errors=c.decode_errors,
        reconnects=c.reconnects,
        lag_reason=c.lag_reason,
    )


def health_from_proto(pb: ingest_pb2.HeartbeatRequest) -> GatewayHealth:
    return GatewayHealth(
        gateway_id=pb.gateway_id,
        sent_at_us=pb.sent_at_us,
        software_version=pb.software_version,
        cameras=tuple(_camera_health_from_proto(c) for c in pb.cameras),
        queue_depth=pb.queue_depth,
        outbox_events=pb.outbox_events,
        outbox_bytes=pb.outbox_bytes,
        model_ids=tuple(pb.model_ids),
        face_model_id=pb.face_model_id or None,
        watchlist_version=pb.watchlist_version,
        last_sequence=pb.last_sequence,
        started_at_us=pb.started_at_us,
    )


# --- watchlist --------------------------------------------------------------------


def face_matrix_to_proto(
    subject_ids: Sequence[str], matrix: NDArray[np.float32]
) -> watchlist_pb2.FaceMatrix:
    if matrix.ndim != 2 or matrix.shape[0] != len(subject_ids):
        raise WatchlistError(
            f"face matrix shape {matrix.shape} does not fit {len(subject_ids)} subject ids"
        )
    data = np.ascontiguousarray(matrix, dtype="<f4").tobytes()
    return watchlist_pb2.FaceMatrix(
        face_dim=matrix.shape[1], face_subject_ids=list(subject_ids), face_matrix=data
    )


def face_matrix_from_proto(
    pb: watchlist_pb2.FaceMatrix,
) -> tuple[tuple[str, ...], NDArray[np.float32]]:
    n, dim = len(pb.face_subject_ids), pb.face_dim
    if len(pb.face_matrix) != n * dim * 4:
        raise WatchlistError(
            f"face matrix has {len(pb.face_matrix)} bytes; {n} rows x {dim} float32 "
            f"need {n * dim * 4}"
        )
    if n and dim == 0:
        raise WatchlistError(f"face matrix has {n} rows but face_dim 0")
    matrix = np.frombuffer(pb.face_matrix, dtype="<f4").astype(np.float32).reshape(n, dim)
    return tuple(pb.face_subject_ids), matrix


def snapshot_to_proto(
    snap: WatchlistSnapshot, gateway_face_model_id: str | None
) -> watchlist_pb2.WatchlistSnapshot:
    """What the store sends a gateway; no templates when the face models differ."""
    status, message = face_model_status(
        snap.face_model_id, len(snap.face_subject_ids), gateway_face_model_id
    )
    pb = watchlist_pb2.WatchlistSnapshot(
        version=snap.version,
        face_model_id=snap.face_model_id or "",
        face_model_status=status,  # type: ignore[arg-type]
        message=message,
        subjects=[
            watchlist_pb2.Subject(subject_id=s.subject_id, label=s.label) for s in snap.subjects
        ],
        plates=[watchlist_pb2.PlateEntry(subject_id=sid, text=t) for sid, t in snap.plates],
    )
    if status == watchlist_pb2.FACE_MODEL_STATUS_MATCH:
        pb.faces.CopyFrom(face_matrix_to_proto(snap.face_subject_ids, snap.face_matrix))
    return pb


def face_model_status(
    store_model_id: str | None, templates: int, gateway_model_id: str | None
) -> tuple[int, str]:
    """(FaceModelStatus, message) for a gateway running ``gateway_model_id``."""
    if templates == 0:
        return watchlist_pb2.FACE_MODEL_STATUS_NO_FACES, ""
    if store_model_id != gateway_model_id:
        return watchlist_pb2.FACE_MODEL_STATUS_MISMATCH, (
            f"face templates were built with model {store_model_id!r} but the gateway runs "
            f"{gateway_model_id or 'no face model'!r}; face templates withheld, plates sent"
        )
    return watchlist_pb2.FACE_MODEL_STATUS_MATCH, ""


def check_face_model(status: int, message: str) -> None:
    """Raise ModelMismatchError (with the store's explanation) on a MISMATCH status."""
    if status == watchlist_pb2.FACE_MODEL_STATUS_MISMATCH:
        raise ModelMismatchError(message or "store face templates are for another face model")


def snapshot_from_proto(pb: watchlist_pb2.WatchlistSnapshot) -> WatchlistSnapshot:
    """The snapshot as received (faces empty when withheld; see ``check_face_model``)."""
    if pb.HasField("faces"):
        ids, matrix = face_matrix_from_proto(pb.faces)
    else:
        ids, matrix = (), np.zeros((0, 0), dtype=np.float32)
    known = {s.subject_id for s in pb.subjects}
    unknown = sorted({*ids, *(p.subject_id for p in pb.plates)} - known)
    if unknown:
        raise WatchlistError(f"snapshot v{pb.version} refers to unknown subjects {unknown[:5]}")
    return WatchlistSnapshot(
        version=pb.version,
        face_model_id=(pb.face_model_id or None) if ids else None,
        subjects=tuple(Subject(s.subject_id, s.label) for s in pb.subjects),
        face_subject_ids=ids,
        face_matrix=matrix,
        plates=tuple((p.subject_id, p.text) for p in pb.plates),
    )
