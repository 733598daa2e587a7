"""Proto <-> edge.api types for the store's ingest acks and the Review service.

Companion of edge/wire/mapping.py (events, heartbeats, snapshots), whose enum tables it
reuses; servicers and clients convert only through these functions. It imports no
store module: the reviewer CLI loads it without the store or the vision stack.
"""

from __future__ import annotations

from edge.api.types import (
    Ack,
    BlobContent,
    EventDetailView,
    EventQuery,
    EventRow,
    HeartbeatResult,
    Verdict,
    VerdictView,
)
from edge.errors import QueryError
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


def summary_to_proto(r: EventRow) -> review_pb2.EventSummary:
    return review_pb2.EventSummary(
        event_id=r.event_id,
        gateway_id=r.gateway_id,
        camera_id=r.camera_id,
        captured_at_us=r.captured_at_us,
        kind=r.kind,
        subject_ids=list(r.subject_ids),
        plate_texts=list(r.plate_texts),
        best_similarity=r.best_similarity or 0.0,
        verdict=enum_to_proto(VERDICTS, r.verdict, "verdict"),  # type: ignore[arg-type]
        integrity=enum_to_proto(INTEGRITY, r.integrity, "integrity"),  # type: ignore[arg-type]
        received_at_us=r.received_at_us,
        sequence=r.sequence,
        photo_similarity=r.photo_similarity or 0.0,
        label=r.label or "",
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


def verdict_to_proto(v: VerdictView) -> review_pb2.VerdictRecord:
    return review_pb2.VerdictRecord(
        verdict=enum_to_proto(VERDICTS, v.verdict, "verdict"),  # type: ignore[arg-type]
        note=v.note,
        reviewer=v.reviewer,
        at_us=v.at_us,
    )


def verdict_from_proto(pb: review_pb2.VerdictRecord) -> VerdictView:
    return VerdictView(
        enum_from_proto(VERDICTS, pb.verdict, "VerdictRecord.verdict"),
        pb.note,
        pb.reviewer,
        pb.at_us,
    )


def detail_to_proto(d: EventDetailView) -> review_pb2.EventDetail:
    return review_pb2.EventDetail(
        event=match_event_to_proto(d.event),
        signature=d.signature,
        event_hash=d.event_hash,
        integrity=enum_to_proto(INTEGRITY, d.integrity, "integrity"),  # type: ignore[arg-type]
        integrity_detail=d.integrity_detail,
        received_at_us=d.received_at_us,
        verdict=enum_to_proto(VERDICTS, d.verdict, "verdict"),  # type: ignore[arg-type]
        verdicts=[verdict_to_proto(v) for v in d.verdicts],
        gateway_key_fingerprint=d.gateway_key_fingerprint,
        label=d.label or "",
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


def blob_to_proto(b: BlobContent) -> review_pb2.BlobContent:
    return review_pb2.BlobContent(
        name=b.name, media_type=b.media_type, sha256=b.sha256, content=b.content
    )


def blob_from_proto(pb: review_pb2.BlobContent) -> BlobContent:
    return BlobContent(pb.name, pb.media_type, pb.sha256, bytes(pb.content))


def verdict_value_from_proto(value: int) -> Verdict:
    """A verdict a reviewer can set: confirmed or rejected (QueryError otherwise)."""
    if value == VERDICTS["confirmed"]:
        return "confirmed"
    if value == VERDICTS["rejected"]:
        return "rejected"
    raise QueryError("verdict must be CONFIRMED or REJECTED")
