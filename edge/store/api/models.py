"""What the REST API answers: JSON shapes and their mapping from the store's values.

An event row has exactly the fields of ``edgewatch review search --json`` and an event
detail those of ``edgewatch review show --json`` (plus links to its blobs): both are
made by edge/api/json_views.py from the edge.api types the gRPC Review servicer sends
(edge/store/api_views.py), so the two interfaces cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from edge.api.json_views import event_detail_json, event_row_json, us_to_iso
from edge.api.types import PlatformLink
from edge.config import StrictModel
from edge.store import api_views as views
from edge.store.admin_service import StoreStatus
from edge.store.repository import StoredBlob, Subject
from edge.store.review_service import EventView, SearchHit
from edge.store.viid_queue import PushRecord
from edge.store.watchlist_service import AddFaceResult


def iso_to_us(t: datetime | None) -> int | None:
    """A query time as UTC microseconds; a time without zone is UTC (as for the CLI)."""
    if t is None:
        return None
    return int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp() * 1_000_000)


class EventRow(BaseModel):
    id: str
    time: str = Field(description="capture time, ISO 8601 UTC")
    gateway_id: str
    camera_id: str
    kind: str = Field(description="face, plate or linked")
    plate: str | None
    subject_id: str | None
    label: str | None = Field(description="watchlist label of the first subject")
    similarity: float | None = Field(description="face similarity (photo search: to the photo)")
    verdict: Literal["pending", "confirmed", "rejected"]
    integrity: str
    sequence: int
    plates: list[str]
    subject_ids: list[str]


class EventPage(BaseModel):
    events: list[EventRow]
    next: str | None = Field(description="cursor of the next page; null on the last page")


def event_row(hit: SearchHit, photo: bool = False) -> EventRow:
    """The row `review search --json` prints for this hit.

    The CLI receives the Review servicer's row through protobuf, whose scalars cannot be
    absent: it reads a face similarity only for events with a face and a photo
    similarity only for a photo search, and an empty label as none. The same here.
    """
    row = views.event_row(hit)
    row = dataclasses.replace(
        row,
        best_similarity=None if row.kind == "plate" else (row.best_similarity or 0.0),
        photo_similarity=(row.photo_similarity or 0.0) if photo else None,
        label=row.label or None,
    )
    return EventRow.model_validate(event_row_json(row))


class VerdictOut(BaseModel):
    verdict: str
    note: str
    reviewer: str
    at: str


class BlobOut(BaseModel):
    name: str
    role: str
    media_type: str
    sha256: str
    size: int
    url: str = Field(description="path of its bytes on this API")


class EventDetail(BaseModel):
    event: dict[str, Any] = Field(description="the signed event (canonical field names)")
    event_hash: str
    signature: str = Field(description="Ed25519 signature, hex")
    gateway_key_fingerprint: str
    integrity: str
    integrity_detail: str
    received_at: str
    verdict: str
    verdicts: list[VerdictOut]
    label: str | None
    blobs: list[BlobOut]


def event_detail(view: EventView, blobs: tuple[StoredBlob, ...]) -> EventDetail:
    """What `review show --json` prints for this event, plus links to its blobs."""
    detail = views.event_detail(view)
    shown = event_detail_json(dataclasses.replace(detail, label=detail.label or None))
    event_id = detail.event.event_id
    links = [
        BlobOut(
            name=b.name,
            role=b.role,
            media_type=b.media_type,
            sha256=b.sha256,
            size=b.size,
            url=f"/api/v1/events/{event_id}/blobs/{b.name}",
        )
        for b in blobs
    ]
    return EventDetail.model_validate({**shown, "blobs": links})


class VerdictIn(StrictModel):
    verdict: Literal["confirmed", "rejected"]
    note: str = Field(min_length=1, max_length=2000, description="why (kept with the evidence)")


class SubjectOut(BaseModel):
    subject_id: str
    label: str
    plates: list[str]
    face_templates: int
    created_at: str | None


class WatchlistOut(BaseModel):
    version: int
    subjects: list[SubjectOut]


def subject_out(s: Subject) -> SubjectOut:
    return SubjectOut(
        subject_id=s.subject_id,
        label=s.label,
        plates=list(s.plates),
        face_templates=len(s.templates),
        created_at=us_to_iso(s.created_at_us) if s.created_at_us else None,
    )


class PlateIn(StrictModel):
    subject_id: str | None = Field(default=None, description="add to this subject (or a new one)")
    label: str = Field(default="", max_length=200, description="required for a new subject")
    plate: str = Field(min_length=1, max_length=32, examples=["粤B12345"])


class PlateAdded(BaseModel):
    subject_id: str
    version: int
    plate: str = Field(description="the plate as normalised and stored")


class PhotoOut(BaseModel):
    index: int
    used: bool
    reason: str


class FaceAdded(BaseModel):
    subject_id: str
    version: int
    templates_added: int
    face_model_id: str
    photos: list[PhotoOut]


def face_added(r: AddFaceResult) -> FaceAdded:
    return FaceAdded(
        subject_id=r.subject_id,
        version=r.version,
        templates_added=r.templates_added,
        face_model_id=r.model_id,
        photos=[PhotoOut(index=p.index, used=p.used, reason=p.reason) for p in r.photos],
    )


class Removed(BaseModel):
    subject_id: str
    version: int


class GatewayOut(BaseModel):
    gateway_id: str
    revoked: bool
    registered_at: str
    last_heartbeat: str | None
    last_seen: str | None
    last_sequence: int
    problems: int


class LinkOut(BaseModel):
    """One link to an outside platform, as `edgewatch status` shows it."""

    name: str = Field(description="viid (GA/T 1400 platform) or webhook (case dispatch)")
    target: str = Field(description="base URL, no credentials")
    device_id: str | None = Field(description="our GA/T 1400 device ID at the platform")
    state: str = Field(description="starting, registered, unregistered, failing, stopped, active")
    since: str | None
    last_ok: str | None = Field(description="last answered request")
    last_error: str | None
    pending: int
    delivered: int
    refused: int
    oldest_pending: str | None
    attempts: int = Field(description="push attempts since the store process started")


def _iso_or_none(us: int | None) -> str | None:
    return us_to_iso(us) if us else None


def link_out(x: PlatformLink) -> LinkOut:
    return LinkOut(
        name=x.name,
        target=x.target,
        device_id=x.device_id or None,
        state=x.state,
        since=_iso_or_none(x.since_us),
        last_ok=_iso_or_none(x.last_ok_us),
        last_error=x.last_error or None,
        pending=x.pending,
        delivered=x.delivered,
        refused=x.refused,
        oldest_pending=_iso_or_none(x.oldest_pending_us),
        attempts=x.attempts,
    )


class StatusOut(BaseModel):
    software_version: str
    database: str
    database_ok: bool
    events_stored: int
    events_pending_review: int
    events_by_integrity: dict[str, int]
    watchlist_version: int
    gateways: list[GatewayOut]
    server_time: str
    links: list[LinkOut] = Field(description="outside platforms (GA/T 1400, webhook)")


def status_out(s: StoreStatus) -> StatusOut:
    return StatusOut(
        software_version=s.software_version,
        database=s.database,
        database_ok=s.healthy,
        events_stored=s.events_stored,
        events_pending_review=s.events_pending_review,
        events_by_integrity=dict(s.by_integrity),
        watchlist_version=s.watchlist_version,
        gateways=[
            GatewayOut(
                gateway_id=g.gateway_id,
                revoked=g.revoked,
                registered_at=us_to_iso(g.registered_at_us),
                last_heartbeat=us_to_iso(g.last_heartbeat_us) if g.last_heartbeat_us else None,
                last_seen=us_to_iso(g.last_seen_us) if g.last_seen_us else None,
                last_sequence=g.head.last_sequence,
                problems=len(g.problems),
            )
            for g in s.gateways
        ],
        server_time=us_to_iso(s.server_time_us),
        links=[link_out(x) for x in s.links],
    )


class PushOut(BaseModel):
    """One GA/T 1400 object of an event in the store's push queue."""

    push_id: str
    kind: str = Field(description="MotorVehicle or Face; delete:<kind> withdraws a pushed one")
    reason: str = Field(description="confirmed, all, rule:<id>, transfer or reject")
    state: str = Field(description="pending, delivered, refused or cancelled")
    attempts: int
    last_status: str = Field(description="the platform's last answer (status codes, no data)")
    created_at: str
    created_by: str = Field(description="who queued it: person:<user>, rule:<id>, system:viid")
    delivered_at: str | None
    object_ids: list[str] = Field(description="the IDs the platform keys the objects by")


class TransferOut(BaseModel):
    event_id: str
    pushes: list[PushOut] = Field(description="every push row of the event, oldest first")


def transfer_out(event_id: str, rows: list[PushRecord]) -> TransferOut:
    pushes = [
        PushOut(
            push_id=r.push_id,
            kind=r.kind,
            reason=r.reason,
            state=r.state,
            attempts=r.attempts,
            last_status=r.last_status,
            created_at=us_to_iso(r.created_at_us),
            created_by=r.created_by,
            delivered_at=_iso_or_none(r.delivered_at_us),
            object_ids=list(r.object_ids),
        )
        for r in rows
    ]
    return TransferOut(event_id=event_id, pushes=pushes)


class Problem(BaseModel):
    """Every refusal: 400/401/403/404/409/413/422/500."""

    detail: Any = Field(description="what is wrong and what is allowed")
