"""Ingest: verify a delivered event, persist it durably, say what happened.

Order matters for "never lose what was acked": every check runs first (gateway
identity, limits, Ed25519 signature with the gateway's registered key, each blob's
sha256 and size, image headers), then every blob is fsynced into the blob store, then
one database transaction stores the event with its chain link, and only then does the
caller send the ack. A crash anywhere before the commit loses nothing the gateway
believes delivered; it resends, and the event id makes the resend idempotent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image, UnidentifiedImageError

from edge.errors import EvidenceError
from edge.evidence.model import MatchEvent, canonical_bytes, event_hash
from edge.evidence.signing import verify_event
from edge.health import GatewayHealth
from edge.store.blobs import BlobStore
from edge.store.config import Limits
from edge.store.linking import classify_link
from edge.store.repository import NewEvent, Repository, StoredBlob

log = logging.getLogger(__name__)

AckStatus = Literal["stored", "duplicate", "rejected"]
#: one delivered event: (event, signature, blob bytes by name)
Delivery = tuple[MatchEvent, bytes, Mapping[str, bytes]]
_IMAGE_FORMATS = frozenset({"JPEG", "PNG"})


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


class _RejectedError(Exception):
    def __init__(self, message: str, integrity: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.integrity = integrity


def now_us() -> int:
    return time.time_ns() // 1000


def image_pixels(data: bytes) -> tuple[str, int]:
    """(format, width*height) from the image header, without decoding pixels."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:
                return str(img.format), int(img.width) * int(img.height)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            return "unknown", 0
        except Image.DecompressionBombError:
            return "bomb", 1 << 62


class IngestService:
    def __init__(
        self, repo: Repository, blobs: BlobStore, limits: Limits, clock: Callable[[], int] = now_us
    ) -> None:
        self._repo = repo
        self._blobs = blobs
        self._limits = limits
        self._clock = clock
        self._keys: dict[bytes, Ed25519PublicKey] = {}

    def deliver(
        self, gateway_id: str, event: MatchEvent, signature: bytes, contents: Mapping[str, bytes]
    ) -> Ack:
        """Verify and store one event delivered by the authenticated ``gateway_id``."""
        return self.deliver_many(gateway_id, [(event, signature, contents)])[0]

    def deliver_many(self, gateway_id: str, items: Sequence[Delivery]) -> list[Ack]:
        """Verify each event, then store all good ones together (group commit).

        Blobs of the whole batch are fsynced first, then one database transaction
        stores the events in order; the acks are valid once this returns.
        """
        acks: list[Ack | None] = [None] * len(items)
        ready: list[int] = []
        for i, (event, signature, contents) in enumerate(items):
            try:
                self._check_shape(gateway_id, event, contents)
                self._check_signature(event, signature)
                self._check_blobs(event, contents)
                ready.append(i)
            except _RejectedError as r:
                acks[i] = self._rejected(event, r)
        for i, ack in zip(ready, self._persist([items[i] for i in ready]), strict=True):
            acks[i] = ack
        return [a for a in acks if a is not None]

    def _rejected(self, event: MatchEvent, r: _RejectedError) -> Ack:
        log.warning(
            "event rejected",
            extra={"event_id": event.event_id, "gateway": event.gateway_id, "reason": r.message},
        )
        return Ack(event.event_id, "rejected", r.integrity, r.message[:500], event.sequence)

    def _problem(self, event: MatchEvent, integrity: str, message: str) -> _RejectedError:
        self._repo.gateways.add_problem(
            event.gateway_id, f"event {event.event_id} seq {event.sequence}: {message}"
        )
        return _RejectedError(message, integrity)

    def _check_shape(
        self, gateway_id: str, event: MatchEvent, contents: Mapping[str, bytes]
    ) -> None:
        if event.gateway_id != gateway_id:
            raise _RejectedError(
                f"gateway {gateway_id} cannot deliver events of gateway {event.gateway_id}"
            )
        lim = self._limits
        if len(event.blobs) > lim.max_blobs_per_event:
            raise _RejectedError(
                f"event has {len(event.blobs)} blobs; the limit is {lim.max_blobs_per_event}"
            )
        for ref in event.blobs:
            size = len(contents.get(ref.name, b""))
            if max(size, ref.size) > lim.max_blob_bytes:
                raise _RejectedError(
                    f"blob {ref.name!r} is {max(size, ref.size)} bytes; "
                    f"the limit is {lim.max_blob_bytes}"
                )

    def _public_key(self, event: MatchEvent) -> Ed25519PublicKey:
        info = self._repo.gateways.get_gateway(event.gateway_id)
        if info is None:
            raise _RejectedError(f"gateway {event.gateway_id} is not registered")
        key = self._keys.get(info.public_key)
        if key is None:
            key = Ed25519PublicKey.from_public_bytes(info.public_key)
            self._keys[info.public_key] = key
        return key

    def _check_signature(self, event: MatchEvent, signature: bytes) -> None:
        key = self._public_key(event)
        try:
            verify_event(key, event, signature)
        except EvidenceError as e:
            raise self._problem(event, "bad_signature", str(e)) from None

    def _check_blobs(self, event: MatchEvent, contents: Mapping[str, bytes]) -> None:
        for ref in event.blobs:
            data = contents[ref.name]
            actual = hashlib.sha256(data).hexdigest()
            if actual != ref.sha256 or len(data) != ref.size:
                raise self._problem(
                    event,
                    "bad_blob",
                    f"blob {ref.name!r} is {len(data)} bytes with sha256 {actual[:16]}; "
                    f"the signed event says {ref.size} bytes, {ref.sha256[:16]}",
                )
            fmt, pixels = image_pixels(data)
            if fmt not in _IMAGE_FORMATS:
                raise _RejectedError(f"blob {ref.name!r} is not a JPEG or PNG image (got {fmt})")
            if pixels > self._limits.max_image_pixels:
                raise _RejectedError(
                    f"blob {ref.name!r} has {pixels} pixels; "
                    f"the limit is {self._limits.max_image_pixels}"
                )

    def _persist(self, items: Sequence[Delivery]) -> list[Ack]:
        if not items:
            return []
        self._blobs.put_many(  # fsynced before the commit
            [(ref.sha256, contents[ref.name]) for e, _, contents in items for ref in e.blobs]
        )
        now = self._clock()
        rows = [
            (
                NewEvent(event, canonical_bytes(event), event_hash(event), signature, now),
                [StoredBlob(b.name, b.role, b.media_type, b.sha256, b.size) for b in event.blobs],
                partial(classify_link, event),
            )
            for event, signature, _ in items
        ]
        outcomes = self._repo.events.insert_events(rows)
        acks = []
        for (event, _, _), outcome in zip(items, outcomes, strict=True):
            if outcome.status == "conflict":
                problem = "event id already stored with different content; not replaced"
                acks.append(self._rejected(event, self._problem(event, "fork", problem)))
                continue
            status: AckStatus = "stored" if outcome.status == "inserted" else "duplicate"
            log.info(
                "event ingested",
                extra={
                    "event_id": event.event_id,
                    "gateway": event.gateway_id,
                    "sequence": event.sequence,
                    "status": status,
                    "integrity": outcome.integrity,
                },
            )
            acks.append(
                Ack(event.event_id, status, outcome.integrity, outcome.note[:500], event.sequence)
            )
        return acks

    def heartbeat(self, gateway_id: str, health: GatewayHealth) -> HeartbeatResult:
        now = self._clock()
        health_json = json.dumps(dataclasses.asdict(health), separators=(",", ":"))
        self._repo.gateways.record_heartbeat(gateway_id, now, health_json, health.face_model_id)
        info = self._repo.gateways.get_gateway(gateway_id)
        last = info.head.last_sequence if info else 0
        return HeartbeatResult(now, self._repo.watchlist.version(), last)
