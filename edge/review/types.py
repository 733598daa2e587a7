"""What a person's client of the store receives (frozen values, no protobuf)."""

from __future__ import annotations

from dataclasses import dataclass

from edge.evidence.model import MatchEvent
from edge.health import GatewayHealth
from edge.links import PlatformLink


@dataclass(frozen=True, slots=True)
class EventRow:
    """One search result."""

    event_id: str
    gateway_id: str
    camera_id: str
    captured_at_us: int
    kind: str
    subject_ids: tuple[str, ...]
    plate_texts: tuple[str, ...]
    best_similarity: float | None
    verdict: str  # "pending" | "confirmed" | "rejected"
    integrity: str
    received_at_us: int
    sequence: int
    photo_similarity: float | None
    label: str | None


@dataclass(frozen=True, slots=True)
class VerdictView:
    verdict: str
    note: str
    reviewer: str
    at_us: int


@dataclass(frozen=True, slots=True)
class EventDetailView:
    event: MatchEvent
    signature: bytes
    event_hash: str
    integrity: str
    integrity_detail: str
    received_at_us: int
    verdict: str
    verdicts: tuple[VerdictView, ...]
    gateway_key_fingerprint: str
    label: str | None


@dataclass(frozen=True, slots=True)
class GatewayRow:
    gateway_id: str
    public_key_fingerprint: str
    cert_fingerprint: str | None
    revoked: bool
    registered_at_us: int
    last_seen_us: int | None
    last_sequence: int
    last_hash: str
    problems: tuple[str, ...]
    health: GatewayHealth | None


@dataclass(frozen=True, slots=True)
class UserRow:
    name: str
    role: str
    created_at_us: int
    revoked: bool


@dataclass(frozen=True, slots=True)
class StatusView:
    software_version: str
    database: str
    database_ok: bool
    events_stored: int
    events_pending_review: int
    events_by_integrity: dict[str, int]
    watchlist_version: int
    gateways: tuple[GatewayRow, ...]
    server_time_us: int
    links: tuple[PlatformLink, ...] = ()


@dataclass(frozen=True, slots=True)
class AuditCheck:
    ok: bool
    entries_checked: int
    problems: tuple[str, ...]
    head_hash: str


@dataclass(frozen=True, slots=True)
class WatchlistRow:
    subject_id: str
    label: str
    face_templates: int
    plates: tuple[str, ...]
    created_at_us: int
    face_model_id: str | None


@dataclass(frozen=True, slots=True)
class AddFaceOutcome:
    subject_id: str
    version: int
    templates_added: int
    face_model_id: str
    photos: tuple[tuple[int, bool, str], ...]  # (index, used, reason)
