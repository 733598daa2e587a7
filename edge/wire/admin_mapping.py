"""Proto <-> edge.api types for the store's Admin and WatchlistAdmin services.

Companion of edge/wire/mapping.py, whose enum tables and health mapping it reuses;
servicers and clients convert only through these functions. It imports no store
module: the reviewer CLI loads it without the store or the vision stack.
"""

from __future__ import annotations

from collections.abc import Sequence

from edge.api.types import (
    AddFaceOutcome,
    AuditCheck,
    GatewayRow,
    PhotoUse,
    PlatformLink,
    StatusView,
    UserRow,
    WatchlistRow,
)
from edge.wire.mapping import ROLES, enum_to_proto, health_from_proto, health_to_proto
from edge.wire.v1 import admin_pb2, watchlist_pb2

# --- gateways, users, status, audit --------------------------------------------------


def gateway_to_proto(g: GatewayRow) -> admin_pb2.GatewayInfo:
    pb = admin_pb2.GatewayInfo(
        gateway_id=g.gateway_id,
        public_key_pem=g.public_key_pem,
        public_key_fingerprint=g.public_key_fingerprint,
        cert_fingerprint=g.cert_fingerprint or "",
        revoked=g.revoked,
        registered_at_us=g.registered_at_us,
        last_seen_us=g.last_seen_us or 0,
        last_sequence=g.last_sequence,
        last_hash=g.last_hash,
        problems=list(g.problems),
    )
    if g.health is not None:
        pb.last_heartbeat.CopyFrom(health_to_proto(g.health))
    return pb


def gateway_from_proto(pb: admin_pb2.GatewayInfo) -> GatewayRow:
    return GatewayRow(
        gateway_id=pb.gateway_id,
        public_key_pem=pb.public_key_pem,
        public_key_fingerprint=pb.public_key_fingerprint,
        cert_fingerprint=pb.cert_fingerprint or None,
        revoked=pb.revoked,
        registered_at_us=pb.registered_at_us,
        last_seen_us=pb.last_seen_us or None,
        last_sequence=pb.last_sequence,
        last_hash=pb.last_hash,
        problems=tuple(pb.problems),
        health=health_from_proto(pb.last_heartbeat) if pb.HasField("last_heartbeat") else None,
    )


def user_to_proto(u: UserRow) -> admin_pb2.User:
    return admin_pb2.User(
        name=u.name,
        role=enum_to_proto(ROLES, u.role, "role"),  # type: ignore[arg-type]
        created_at_us=u.created_at_us,
        revoked=u.revoked,
    )


def status_to_proto(s: StatusView) -> admin_pb2.StatusReply:
    return admin_pb2.StatusReply(
        software_version=s.software_version,
        database=s.database,
        events_stored=s.events_stored,
        events_pending_review=s.events_pending_review,
        watchlist_version=s.watchlist_version,
        gateways=[gateway_to_proto(g) for g in s.gateways],
        server_time_us=s.server_time_us,
        database_ok=s.database_ok,
        events_by_integrity=s.events_by_integrity,
        links=[link_to_proto(link) for link in s.links],
    )


def link_to_proto(link: PlatformLink) -> admin_pb2.PlatformLink:
    return admin_pb2.PlatformLink(
        name=link.name,
        target=link.target,
        device_id=link.device_id,
        state=link.state,
        since_us=link.since_us,
        last_ok_us=link.last_ok_us or 0,
        last_error=link.last_error,
        pending=link.pending,
        delivered=link.delivered,
        refused=link.refused,
        oldest_pending_us=link.oldest_pending_us or 0,
        attempts=link.attempts,
    )


def link_from_proto(pb: admin_pb2.PlatformLink) -> PlatformLink:
    return PlatformLink(
        name=pb.name,
        target=pb.target,
        device_id=pb.device_id,
        state=pb.state,
        since_us=pb.since_us,
        last_ok_us=pb.last_ok_us or None,
        last_error=pb.last_error,
        pending=pb.pending,
        delivered=pb.delivered,
        refused=pb.refused,
        oldest_pending_us=pb.oldest_pending_us or None,
        attempts=pb.attempts,
    )


def status_from_proto(pb: admin_pb2.StatusReply) -> StatusView:
    return StatusView(
        software_version=pb.software_version,
        database=pb.database,
        database_ok=pb.database_ok,
        events_stored=pb.events_stored,
        events_pending_review=pb.events_pending_review,
        events_by_integrity=dict(pb.events_by_integrity),
        watchlist_version=pb.watchlist_version,
        gateways=tuple(gateway_from_proto(g) for g in pb.gateways),
        server_time_us=pb.server_time_us,
        links=tuple(link_from_proto(link) for link in pb.links),
    )


def audit_to_proto(a: AuditCheck) -> admin_pb2.AuditVerifyReply:
    return admin_pb2.AuditVerifyReply(
        ok=a.ok, entries_checked=a.entries_checked, problems=list(a.problems), head_hash=a.head_hash
    )


def audit_from_proto(pb: admin_pb2.AuditVerifyReply) -> AuditCheck:
    return AuditCheck(pb.ok, pb.entries_checked, tuple(pb.problems), pb.head_hash)


# --- watchlist administration ----------------------------------------------------------


def entry_to_proto(r: WatchlistRow) -> watchlist_pb2.WatchlistEntry:
    return watchlist_pb2.WatchlistEntry(
        subject_id=r.subject_id,
        label=r.label,
        face_templates=r.face_templates,
        plates=list(r.plates),
        created_at_us=r.created_at_us,
        face_model_id=r.face_model_id or "",
    )


def entry_from_proto(pb: watchlist_pb2.WatchlistEntry) -> WatchlistRow:
    return WatchlistRow(
        pb.subject_id,
        pb.label,
        pb.face_templates,
        tuple(pb.plates),
        pb.created_at_us,
        pb.face_model_id or None,
    )


def add_face_to_proto(r: AddFaceOutcome) -> watchlist_pb2.AddFaceReply:
    return watchlist_pb2.AddFaceReply(
        subject_id=r.subject_id,
        version=r.version,
        templates_added=r.templates_added,
        face_model_id=r.face_model_id,
        photos=[
            watchlist_pb2.PhotoResult(index=p.index, used=p.used, reason=p.reason) for p in r.photos
        ],
    )


def add_face_from_proto(pb: watchlist_pb2.AddFaceReply) -> AddFaceOutcome:
    return AddFaceOutcome(
        pb.subject_id,
        pb.version,
        pb.templates_added,
        pb.face_model_id,
        tuple(PhotoUse(p.index, p.used, p.reason) for p in pb.photos),
    )


def photos_request(
    subject_id: str | None, label: str, photos: Sequence[bytes], largest: bool
) -> watchlist_pb2.AddFaceRequest:
    return watchlist_pb2.AddFaceRequest(
        subject_id=subject_id or "", label=label, photos=list(photos), largest=largest
    )
