"""Proto <-> domain for the store's ingest acks and the Review service.

Companion of edge/wire/mapping.py (events, heartbeats, snapshots), whose enum tables it
reuses; servicers and clients convert only through these functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from edge.errors import QueryError
from edge.review.types import EventDetailView, EventRow, VerdictView
from edge.store.ingest import Ack, HeartbeatResult
from edge.store.repository import EventQuery, StoredBlob, Verdict, VerdictRecord
from edge.store.review_service import EventView, SearchHit
from edge.wire.mapping import (
    ACK_STATUSES,
    INTEGRITY,
    VERDICTS,
    enum_from_proto,
    enum_to_proto,
    match_event_from_proto,
    match_event_to_proto,
    optional_enum_from_proto,
)
from edge.wire.v1 import ingest_pb2, review_pb2

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
CHUNK = 1 << 20

# --- ingest -----------------------------------------------------------------------


def ack_to_proto(ack: Ack) -> ingest_pb2.DeliverAck:
    return ingest_pb2.DeliverAck(
        event_id=ack.event_id,
        status=enum_to_proto(ACK_STATUSES, ack.status, "ack status"),  # type: ignore[arg-type]
        integrity=INTEGRITY.get(ack.integrity or "", 0),  # type: ignore[arg-type]
        message=ack.message[:500],
        sequence=ack.sequence,
    )


def ack_from_proto(pb: ingest_pb2.DeliverAck) -> Ack:
    status = enum_from_proto(ACK_STATUSES, pb.status, "DeliverAck.status")
    integrity = optional_enum_from_proto(INTEGRITY, pb.integrity, "DeliverAck.integrity")
    return Ack(pb.event_id, status, integrity, pb.message, pb.sequence)  # type: ignore[arg-type]


def heartbeat_reply_to_proto(r: HeartbeatResult) -> ingest_pb2.HeartbeatReply:
    return ingest_pb2.HeartbeatReply(
        server_time_us=r.server_time_us,
        watchlist_version=r.watchlist_version,
        last_stored_sequence=r.last_stored_sequence,
    )


# --- search -----------------------------------------------------------------------


def query_from_proto(pb: review_pb2.SearchRequest) -> tuple[EventQuery, bytes | None, float]:
    """(filters, face photo or None, min similarity); QueryError names a bad field."""
    limit = pb.limit or DEFAULT_LIMIT
    if limit > MAX_LIMIT:
        raise QueryError(f"limit must be 1..{MAX_LIMIT} (got {limit})")
    try:
        verdict = optional_enum_from_proto(VERDICTS, pb.verdict, "verdict")
        integrity = optional_enum_from_proto(INTEGRITY, pb.integrity, "integrity")
    except Exception as e:  # EvidenceError from the enum tables: a bad filter value
        raise QueryError(str(e)) from None
    if not -1.0 <= pb.min_similarity <= 1.0:
        raise QueryError(f"min_similarity must be -1..1 (got {pb.min_similarity})")
    query = EventQuery(
        plate=pb.plate or None,
        subject_ids=(pb.subject_id,) if pb.subject_id else (),
        camera_id=pb.camera_id or None,
        gateway_id=pb.gateway_id or None,
        since_us=pb.since_us or None,
        until_us=pb.until_us or None,
        verdict=verdict,
        integrity=integrity,
        limit=limit,
        cursor=pb.page_token or None,
    )
    return query, pb.face_photo or None, pb.min_similarity


def query_to_proto(
    q: EventQuery, face_photo: bytes | None = None, min_similarity: float = 0.0
) -> review_pb2.SearchRequest:
    if len(q.subject_ids) > 1:
        raise QueryError("search one subject id at a time")
    return review_pb2.SearchRequest(
        plate=q.plate or "",
        subject_id=q.subject_ids[0] if q.subject_ids else "",
        camera_id=q.camera_id or "",
        gateway_id=q.gateway_id or "",
        since_us=q.since_us or 0,
        until_us=q.until_us or 0,
        verdict=VERDICTS[q.verdict] if q.verdict else 0,  # type: ignore[arg-type]
        integrity=INTEGRITY[q.integrity] if q.integrity else 0,  # type: ignore[arg-type]
        face_photo=face_photo or b"",
        limit=q.limit,
        page_token=q.cursor or "",
        min_similarity=min_similarity,
    )


def summary_to_proto(hit: SearchHit) -> review_pb2.EventSummary:
    s = hit.stored
    e = s.event
    return review_pb2.EventSummary(
        event_id=e.event_id,
        gateway_id=e.gateway_id,
        camera_id=e.camera_id,
        captured_at_us=e.captured_at_us,
        kind=e.kind,
        subject_ids=list(s.subject_ids),
        plate_texts=list(s.plate_texts),
        best_similarity=s.best_similarity or 0.0,
        verdict=VERDICTS[s.verdict or "pending"],
        integrity=INTEGRITY[s.integrity],
        received_at_us=s.received_at_us,
        sequence=e.sequence,
        photo_similarity=hit.photo_similarity or 0.0,
        label=s.label or "",
    )


def summary_from_proto(pb: review_pb2.EventSummary, with_photo: bool) -> EventRow:
    return EventRow(
        event_id=pb.event_id,
        gateway_id=pb.gateway_id,
        camera_id=pb.camera_id,
        captured_at_us=pb.captured_at_us,
        kind=pb.kind,
        subject_ids=tuple(pb.subject_ids),
        plate_texts=tuple(pb.plate_texts),
        best_similarity=pb.best_similarity if pb.kind != "plate" else None,
        verdict=enum_from_proto(VERDICTS, pb.verdict, "EventSummary.verdict"),
        integrity=enum_from_proto(INTEGRITY, pb.integrity, "EventSummary.integrity"),
        received_at_us=pb.received_at_us,
        sequence=pb.sequence,
        photo_similarity=pb.photo_similarity if with_photo else None,
        label=pb.label or None,
    )


# --- event detail, verdicts, blobs --------------------------------------------------


def verdict_to_proto(v: VerdictRecord) -> review_pb2.VerdictRecord:
    return review_pb2.VerdictRecord(
        verdict=VERDICTS[v.verdict], note=v.note, reviewer=v.reviewer, at_us=v.at_us
    )


def verdict_from_proto(pb: review_pb2.VerdictRecord) -> VerdictView:
    return VerdictView(
        enum_from_proto(VERDICTS, pb.verdict, "VerdictRecord.verdict"),
        pb.note,
        pb.reviewer,
        pb.at_us,
    )


def detail_to_proto(view: EventView) -> review_pb2.EventDetail:
    s = view.stored
    return review_pb2.EventDetail(
        event=match_event_to_proto(s.event),
        signature=s.signature,
        event_hash=s.event_hash,
        integrity=INTEGRITY[s.integrity],
        integrity_detail=s.integrity_note,
        received_at_us=s.received_at_us,
        verdict=VERDICTS[s.verdict or "pending"],
        verdicts=[verdict_to_proto(v) for v in view.verdicts],
        gateway_key_fingerprint=view.gateway_key_fingerprint,
        label=s.label or "",
    )


def detail_from_proto(pb: review_pb2.EventDetail) -> EventDetailView:
    return EventDetailView(
        event=match_event_from_proto(pb.event),
        signature=pb.signature,
        event_hash=pb.event_hash,
        integrity=enum_from_proto(INTEGRITY, pb.integrity, "EventDetail.integrity"),
        integrity_detail=pb.integrity_detail,
        received_at_us=pb.received_at_us,
        verdict=enum_from_proto(VERDICTS, pb.verdict, "EventDetail.verdict"),
        verdicts=tuple(verdict_from_proto(v) for v in pb.verdicts),
        gateway_key_fingerprint=pb.gateway_key_fingerprint,
        label=pb.label or None,
    )


def verdict_request(event_id: str, verdict: str, note: str) -> review_pb2.SetVerdictRequest:
    return review_pb2.SetVerdictRequest(
        event_id=event_id,
        verdict=enum_to_proto(VERDICTS, verdict, "verdict"),  # type: ignore[arg-type]
        note=note,
    )


def blob_to_proto(blob: StoredBlob, data: bytes) -> review_pb2.BlobContent:
    return review_pb2.BlobContent(
        name=blob.name, media_type=blob.media_type, sha256=blob.sha256, content=data
    )


def export_chunks(files: Mapping[str, bytes]) -> Iterator[review_pb2.ExportChunk]:
    """Each file in order, cut into <= 1 MiB chunks; ``eof`` on each file's last."""
    for path in sorted(files):
        data = files[path]
        offset = 0
        while True:
            part = data[offset : offset + CHUNK]
            last = offset + len(part) >= len(data)
            yield review_pb2.ExportChunk(path=path, offset=offset, data=part, eof=last)
            offset += len(part)
            if last:
                break


def verdict_value_from_proto(value: int) -> Verdict:
    """A verdict a reviewer can set: confirmed or rejected (QueryError otherwise)."""
    if value == VERDICTS["confirmed"]:
        return "confirmed"
    if value == VERDICTS["rejected"]:
        return "rejected"
    raise QueryError("verdict must be CONFIRMED or REJECTED")
