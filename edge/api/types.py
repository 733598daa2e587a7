"""Request and response types of the store's services (frozen values, no protobuf).

The store builds them from its own records (edge/store/api_views.py); clients get
them from edge/wire/*_mapping.py. Importing this module loads no store, vision or I/O
code, so the reviewer CLI stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge.evidence.model import MatchEvent
from edge.health import GatewayHealth

#: what a person may do: viewer (search, view), reviewer (+ verdicts, export), admin
Role = Literal["viewer", "reviewer", "admin"]
#: what a reviewer decides about a match
Verdict = Literal["confirmed", "rejected"]
#: what the store did with one delivered event
AckStatus = Literal["stored", "duplicate", "rejected"]


# --- ingest (gateways) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ack:
    event_id: str
    status: AckStatus
    integrity: str | None  # as recorded; None when nothing was recorded
    message: str  # for the gateway's log: no personal data
    sequence: int


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    server_time_us: int
    watchlist_version: int
    last_stored_sequence: int


# --- review ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Search filters; every value is bound as a query parameter, never spliced."""

    plate: str | None = None
    subject_ids: tuple[str, ...] = ()
    camera_id: str | None = None
    gateway_id: str | None = None
    since_us: int | None = None
    until_us: int | None = None
    verdict: str | None = None  # "pending" (no verdict yet), "confirmed" or "rejected"
    integrity: str | None = None  # ok, gap, fork, replay, bad_signature, bad_blob
    plate_exact: bool = False  # only the exact normalised text, not confusable reads
    limit: int = 50
    cursor: str | None = None  # opaque keyset cursor from the previous page


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
    verdict: str  # "confirmed" | "rejected"
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
class BlobContent:
    """One attachment of an event, with its bytes."""

    name: str
    media_type: str
    sha256: str
    content: bytes


# --- admin -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GatewayRow:
    gateway_id: str
    public_key_pem: str
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
    role: Role
    created_at_us: int
    revoked: bool


@dataclass(frozen=True, slots=True)
class PlatformLink:
    """The state of one of the store's links to an outside platform."""

    name: str  # "viid" (GA/T 1400 platform) or "webhook" (case dispatch)
    target: str  # base URL (no credentials)
    device_id: str  # our ID at the platform ("" for the webhook)
    state: str  # starting | registered | unregistered | failing | stopped | active
    since_us: int  # when the state was entered
    last_ok_us: int | None  # last answered request
    last_error: str  # short, no personal data
    pending: int  # queued, not delivered yet
    delivered: int
    refused: int  # answered "never as sent" (viid) or gave up (webhook)
    oldest_pending_us: int | None
    attempts: int  # push attempts since the store started


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


# --- watchlist administration ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WatchlistRow:
    subject_id: str
    label: str
    face_templates: int
    plates: tuple[str, ...]
    created_at_us: int
    face_model_id: str | None


@dataclass(frozen=True, slots=True)
class PhotoUse:
    """Whether one enrolment photo gave a template, and why not."""

    index: int
    used: bool
    reason: str


@dataclass(frozen=True, slots=True)
class AddFaceOutcome:
    subject_id: str
    version: int
    templates_added: int
    face_model_id: str
    photos: tuple[PhotoUse, ...]
