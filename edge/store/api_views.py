"""The store's records as edge.api response types (what servicers and APIs send).

The one place where the store's own dataclasses become the types its clients see;
edge/wire/*_mapping.py then turns those into protobuf.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.api.types import (
    AddFaceOutcome,
    AuditCheck,
    BlobContent,
    EventDetailView,
    EventRow,
    GatewayRow,
    PhotoUse,
    StatusView,
    UserRow,
    VerdictView,
    WatchlistRow,
)
from edge.evidence.signing import public_key_pem
from edge.health import CameraHealth, GatewayHealth
from edge.store.admin_service import StoreStatus
from edge.store.audit_chain import AuditVerification
from edge.store.repository import (
    GatewayInfo,
    StoredBlob,
    Subject,
    User,
    VerdictRecord,
    WatchlistChange,
)
from edge.store.review_service import EventView, SearchHit
from edge.store.watchlist_service import AddFaceResult, template_matrix
from edge.watchlist import types as wl
from edge.watchlist.delta import SubjectChange


def event_row(hit: SearchHit) -> EventRow:
    s = hit.stored
    e = s.event
    return EventRow(
        event_id=e.event_id,
        gateway_id=e.gateway_id,
        camera_id=e.camera_id,
        captured_at_us=e.captured_at_us,
        kind=e.kind,
        subject_ids=s.subject_ids,
        plate_texts=s.plate_texts,
        best_similarity=s.best_similarity,
        verdict=s.verdict or "pending",
        integrity=s.integrity,
        received_at_us=s.received_at_us,
        sequence=e.sequence,
        photo_similarity=hit.photo_similarity,
        label=s.label,
    )


def verdict_view(v: VerdictRecord) -> VerdictView:
    return VerdictView(v.verdict, v.note, v.reviewer, v.at_us)


def event_detail(view: EventView) -> EventDetailView:
    s = view.stored
    return EventDetailView(
        event=s.event,
        signature=s.signature,
        event_hash=s.event_hash,
        integrity=s.integrity,
        integrity_detail=s.integrity_note,
        received_at_us=s.received_at_us,
        verdict=s.verdict or "pending",
        verdicts=tuple(verdict_view(v) for v in view.verdicts),
        gateway_key_fingerprint=view.gateway_key_fingerprint,
        label=s.label,
    )


def blob_content(blob: StoredBlob, data: bytes) -> BlobContent:
    return BlobContent(blob.name, blob.media_type, blob.sha256, data)


def _camera_health(c: dict[str, Any]) -> CameraHealth:
    # JSON has no tuples: the (reason, count) pairs come back as lists
    pairs = tuple((str(r), int(n)) for r, n in c.pop("dropped_by_reason", ()))
    return CameraHealth(dropped_by_reason=pairs, **c)


def health_from_json(text: str) -> GatewayHealth | None:
    """A gateway's last heartbeat as the repository keeps it (JSON object text)."""
    d = json.loads(text or "{}")
    if not d:
        return None
    cameras = tuple(_camera_health(c) for c in d.pop("cameras", []))
    d["model_ids"] = tuple(d.get("model_ids", ()))
    return GatewayHealth(cameras=cameras, **d)


def gateway_row(g: GatewayInfo) -> GatewayRow:
    pem = public_key_pem(Ed25519PublicKey.from_public_bytes(g.public_key)).decode("ascii")
    return GatewayRow(
        gateway_id=g.gateway_id,
        public_key_pem=pem,
        public_key_fingerprint=hashlib.sha256(g.public_key).hexdigest(),
        cert_fingerprint=g.cert_fingerprint,
        revoked=g.revoked,
        registered_at_us=g.registered_at_us,
        last_seen_us=g.last_seen_us,
        last_sequence=g.head.last_sequence,
        last_hash=g.head.last_hash,
        problems=g.problems,
        health=health_from_json(g.health_json) if g.last_heartbeat_us else None,
    )


def user_row(u: User) -> UserRow:
    return UserRow(u.name, u.role, u.created_at_us, u.revoked)


def status_view(s: StoreStatus) -> StatusView:
    return StatusView(
        software_version=s.software_version,
        database=s.database,
        database_ok=s.healthy,
        events_stored=s.events_stored,
        events_pending_review=s.events_pending_review,
        events_by_integrity=dict(s.by_integrity),
        watchlist_version=s.watchlist_version,
        gateways=tuple(gateway_row(g) for g in s.gateways),
        server_time_us=s.server_time_us,
        links=s.links,
    )


def audit_check(v: AuditVerification) -> AuditCheck:
    return AuditCheck(v.ok, v.entries, (v.problem,) if v.problem else (), v.head_hash)


def watchlist_row(s: Subject, model_id: str) -> WatchlistRow:
    """``face_templates`` counts the templates of the store's model ``model_id``."""
    models = sorted({t.model_id for t in s.templates})
    return WatchlistRow(
        subject_id=s.subject_id,
        label=s.label,
        face_templates=sum(1 for t in s.templates if t.model_id == model_id),
        plates=s.plates,
        created_at_us=s.created_at_us,
        face_model_id=",".join(models) or None,
    )


def add_face_outcome(r: AddFaceResult) -> AddFaceOutcome:
    photos = tuple(PhotoUse(p.index, p.used, p.reason) for p in r.photos)
    return AddFaceOutcome(r.subject_id, r.version, r.templates_added, r.model_id, photos)


def subject_change(c: WatchlistChange, model_id: str) -> SubjectChange:
    """One sync change; face rows of the store's model ``model_id`` only. A subject
    removed since (``c.subject`` None) goes out empty, as the remove that follows."""
    if c.subject is None:
        return SubjectChange(c.version, c.op, wl.Subject(c.subject_id, ""), wl.empty_matrix(), ())
    rows = [t for t in c.subject.templates if t.model_id == model_id]
    return SubjectChange(
        version=c.version,
        op=c.op,
        subject=wl.Subject(c.subject_id, c.subject.label),
        faces=template_matrix(rows),
        plates=c.subject.plates,
    )
