"""Proto <-> domain for the Admin and WatchlistAdmin/WatchlistSync services of the store.

Companion of edge/wire/mapping.py, whose enum tables and snapshot/face-matrix helpers
it reuses; servicers and clients convert only through these functions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.evidence.signing import public_key_pem
from edge.health import CameraHealth, GatewayHealth
from edge.links import PlatformLink
from edge.review.types import (
    AddFaceOutcome,
    AuditCheck,
    GatewayRow,
    StatusView,
    UserRow,
    WatchlistRow,
)
from edge.store.admin_service import StoreStatus
from edge.store.audit_chain import AuditVerification
from edge.store.repository import GatewayInfo, Subject, User, WatchlistChange
from edge.store.watchlist_service import AddFaceResult, Deltas
from edge.wire.mapping import (
    ROLES,
    enum_from_proto,
    face_matrix_to_proto,
    face_model_status,
    health_from_proto,
    health_to_proto,
)
from edge.wire.v1 import admin_pb2, watchlist_pb2

# --- gateways, users, status, audit --------------------------------------------------


def health_from_json(text: str) -> GatewayHealth | None:
    d = json.loads(text or "{}")
    if not d:
        return None
    cameras = tuple(CameraHealth(**c) for c in d.pop("cameras", []))
    d["model_ids"] = tuple(d.get("model_ids", ()))
    return GatewayHealth(cameras=cameras, **d)


def gateway_to_proto(g: GatewayInfo) -> admin_pb2.GatewayInfo:
    pem = public_key_pem(Ed25519PublicKey.from_public_bytes(g.public_key)).decode("ascii")
    health = health_from_json(g.health_json) if g.last_heartbeat_us else None
    pb = admin_pb2.GatewayInfo(
        gateway_id=g.gateway_id,
        public_key_pem=pem,
        public_key_fingerprint=hashlib.sha256(g.public_key).hexdigest(),
        cert_fingerprint=g.cert_fingerprint or "",
        revoked=g.revoked,
        registered_at_us=g.registered_at_us,
        last_seen_us=g.last_seen_us or 0,
        last_sequence=g.head.last_sequence,
        last_hash=g.head.last_hash,
        problems=list(g.problems),
    )
    if health is not None:
        pb.last_heartbeat.CopyFrom(health_to_proto(health))
    return pb


def gateway_from_proto(pb: admin_pb2.GatewayInfo) -> GatewayRow:
    return GatewayRow(
        gateway_id=pb.gateway_id,
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


def user_to_proto(u: User) -> admin_pb2.User:
    return admin_pb2.User(
        name=u.name, role=ROLES[u.role], created_at_us=u.created_at_us, revoked=u.revoked
    )


def user_from_proto(pb: admin_pb2.User) -> UserRow:
    return UserRow(
        pb.name, enum_from_proto(ROLES, pb.role, "User.role"), pb.created_at_us, pb.revoked
    )


def status_to_proto(s: StoreStatus) -> admin_pb2.StatusReply:
    return admin_pb2.StatusReply(
        software_version=s.software_version,
        database=s.database,
        events_stored=s.events_stored,
        events_pending_review=s.events_pending_review,
        watchlist_version=s.watchlist_version,
        gateways=[gateway_to_proto(g) for g in s.gateways],
        server_time_us=s.server_time_us,
        database_ok=s.healthy,
        events_by_integrity=s.by_integrity,
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


def audit_to_proto(v: AuditVerification) -> admin_pb2.AuditVerifyReply:
    return admin_pb2.AuditVerifyReply(
        ok=v.ok,
        entries_checked=v.entries,
        problems=[v.problem] if v.problem else [],
        head_hash=v.head_hash,
    )


def audit_from_proto(pb: admin_pb2.AuditVerifyReply) -> AuditCheck:
    return AuditCheck(pb.ok, pb.entries_checked, tuple(pb.problems), pb.head_hash)


# --- watchlist ------------------------------------------------------------------------


def _faces_of(subject: Subject, model_id: str) -> tuple[list[str], np.ndarray]:
    rows = [t for t in subject.templates if t.model_id == model_id]
    if not rows:
        return [], np.zeros((0, 0), dtype=np.float32)
    matrix = np.stack([np.frombuffer(t.vector, dtype="<f4") for t in rows]).astype(np.float32)
    return [subject.subject_id] * len(rows), matrix


def change_to_proto(
    c: WatchlistChange, store_model_id: str, send_faces: bool
) -> watchlist_pb2.WatchlistChange:
    op = (
        watchlist_pb2.WatchlistChange.OP_UPSERT
        if c.op == "upsert"
        else (watchlist_pb2.WatchlistChange.OP_REMOVE)
    )
    pb = watchlist_pb2.WatchlistChange(version=c.version, op=op)
    pb.subject.subject_id = c.subject_id
    if c.subject is not None:
        pb.subject.label = c.subject.label
        pb.plates.extend(
            watchlist_pb2.PlateEntry(subject_id=c.subject_id, text=t) for t in c.subject.plates
        )
        ids, matrix = _faces_of(c.subject, store_model_id)
        if send_faces and ids:
            pb.faces.CopyFrom(face_matrix_to_proto(ids, matrix))
    return pb


def deltas_to_proto(
    d: Deltas, store_model_id: str, templates: int, gateway_model_id: str | None
) -> watchlist_pb2.GetDeltasReply:
    status, message = face_model_status(store_model_id, templates, gateway_model_id)
    send = status == watchlist_pb2.FACE_MODEL_STATUS_MATCH
    return watchlist_pb2.GetDeltasReply(
        version=d.version,
        face_model_id=store_model_id if templates else "",
        face_model_status=status,  # type: ignore[arg-type]
        message=message,
        snapshot_required=d.snapshot_required,
        changes=[change_to_proto(c, store_model_id, send) for c in d.changes],
    )


def entry_to_proto(s: Subject, model_id: str) -> watchlist_pb2.WatchlistEntry:
    models = sorted({t.model_id for t in s.templates})
    return watchlist_pb2.WatchlistEntry(
        subject_id=s.subject_id,
        label=s.label,
        face_templates=sum(1 for t in s.templates if t.model_id == model_id),
        plates=list(s.plates),
        created_at_us=s.created_at_us,
        face_model_id=",".join(models),
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


def add_face_to_proto(r: AddFaceResult) -> watchlist_pb2.AddFaceReply:
    return watchlist_pb2.AddFaceReply(
        subject_id=r.subject_id,
        version=r.version,
        templates_added=r.templates_added,
        face_model_id=r.model_id,
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
        tuple((p.index, p.used, p.reason) for p in pb.photos),
    )


def photos_request(
    subject_id: str | None, label: str, photos: Sequence[bytes], largest: bool
) -> watchlist_pb2.AddFaceRequest:
    return watchlist_pb2.AddFaceRequest(
        subject_id=subject_id or "", label=label, photos=list(photos), largest=largest
    )
