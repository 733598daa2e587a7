"""Reviewer operations: search, view, judge, export; each one audited before it answers."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.errors import NotFoundError, QueryError
from edge.evidence.package import ChainLink, PackageItem, PackageVerdict, package_files
from edge.evidence.signing import public_key_pem
from edge.store.audit import Auditor
from edge.store.auth import Principal
from edge.store.blobs import BlobStore
from edge.store.faces import CentralFaces, FaceSearchIndex
from edge.store.repository import (
    EventQuery,
    Repository,
    StoredBlob,
    StoredEvent,
    Verdict,
    VerdictRecord,
)

log = logging.getLogger(__name__)

MAX_NOTE = 2000
MAX_EXPORT = 100
MAX_PHOTO_BYTES = 10 << 20
FACE_TOP_K = 50


@dataclass(frozen=True, slots=True)
class SearchHit:
    stored: StoredEvent
    photo_similarity: float | None = None


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: tuple[SearchHit, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class EventView:
    stored: StoredEvent
    verdicts: tuple[VerdictRecord, ...]
    gateway_key_fingerprint: str


def _filters(q: EventQuery) -> dict[str, Any]:
    shown = dataclasses.asdict(q)
    return {k: v for k, v in shown.items() if v not in (None, (), False) and k != "limit"}


class ReviewService:
    def __init__(
        self,
        repo: Repository,
        blobs: BlobStore,
        faces: CentralFaces,
        face_index: FaceSearchIndex,
        auditor: Auditor,
        clock: Callable[[], int],
        face_threshold: float,
        on_verdict: Callable[[Principal, str, Verdict, str], None] | None = None,
    ) -> None:
        self._repo = repo
        #: platform integration: pushes on confirmation, withdrawals on rejection
        self._on_verdict = on_verdict
        self._blobs = blobs
        self._faces = faces
        self._face_index = face_index
        self._auditor = auditor
        self._clock = clock
        self._face_threshold = face_threshold

    def search(
        self, who: Principal, query: EventQuery, face_photo: bytes | None, min_similarity: float
    ) -> SearchResult:
        if face_photo:
            result = self._face_search(query, face_photo, min_similarity or self._face_threshold)
        else:
            page = self._repo.events.search(query)
            result = SearchResult(tuple(SearchHit(s) for s in page.events), page.next_cursor)
        detail = {
            **_filters(query),
            "face_photo": bool(face_photo),
            "results": len(result.hits),
            "event_ids": [h.stored.event.event_id for h in result.hits],
        }
        self._auditor.record(who, "review.search", detail)
        return result

    def _face_search(self, query: EventQuery, photo: bytes, min_similarity: float) -> SearchResult:
        if len(photo) > MAX_PHOTO_BYTES:
            raise QueryError(f"face photo is {len(photo)} bytes; at most {MAX_PHOTO_BYTES}")
        outcome = self._faces.embed_photo(photo, "query photo", largest=True)
        if outcome.embedding is None:
            raise QueryError(f"face photo cannot be searched: {outcome.reason}")
        matches = self._face_index.search(outcome.embedding, FACE_TOP_K, min_similarity)
        sims = {m.subject_id: m.similarity for m in matches}
        if query.subject_ids:
            sims = {s: v for s, v in sims.items() if s in query.subject_ids}
        if not sims:
            return SearchResult((), None)
        page = self._repo.events.search(dataclasses.replace(query, subject_ids=tuple(sims)))
        hits = [
            SearchHit(s, max(sims.get(sid, -1.0) for sid in s.subject_ids)) for s in page.events
        ]
        hits.sort(key=lambda h: -(h.photo_similarity or 0.0))  # stable: newest first on ties
        return SearchResult(tuple(hits), page.next_cursor)

    def _stored(self, event_id: str) -> StoredEvent:
        stored = self._repo.events.get_event(event_id)
        if stored is None:
            raise NotFoundError(f"no event {event_id!r} in the store")
        return stored

    def _key(self, gateway_id: str) -> bytes:
        info = self._repo.gateways.get_gateway(gateway_id)
        if info is None:
            raise NotFoundError(f"gateway {gateway_id!r} is not registered")
        return info.public_key

    def get_event(self, who: Principal, event_id: str) -> EventView:
        stored = self._stored(event_id)
        fingerprint = hashlib.sha256(self._key(stored.event.gateway_id)).hexdigest()
        view = EventView(stored, self._repo.events.verdict_history(event_id), fingerprint)
        self._auditor.record(who, "review.view", {"event_id": event_id})
        return view

    def get_blob(self, who: Principal, event_id: str, name: str) -> tuple[StoredBlob, bytes]:
        for blob in self._repo.events.event_blobs(event_id):
            if blob.name == name:
                data = self._blobs.get(blob.sha256)
                self._auditor.record(who, "review.blob", {"event_id": event_id, "name": name})
                return blob, data
        raise NotFoundError(f"event {event_id!r} has no blob {name!r}")

    def set_verdict(
        self, who: Principal, event_id: str, verdict: Verdict, note: str
    ) -> VerdictRecord:
        if verdict not in ("confirmed", "rejected"):
            raise QueryError(f"verdict must be confirmed or rejected (got {verdict!r})")
        if len(note) > MAX_NOTE:
            raise QueryError(f"note is {len(note)} characters; at most {MAX_NOTE}")
        at = self._clock()
        self._repo.events.set_verdict(event_id, verdict, note, who.name, at)
        self._auditor.record(
            who, "review.verdict", {"event_id": event_id, "verdict": verdict, "note": note}
        )
        if self._on_verdict is not None:
            self._on_verdict(who, event_id, verdict, note)
        return VerdictRecord(verdict, note, who.name, at)

    def _item(self, stored: StoredEvent) -> PackageItem:
        e = stored.event
        blobs = {
            b.name: self._blobs.get(b.sha256) for b in self._repo.events.event_blobs(e.event_id)
        }
        predecessor, missing = None, None
        if e.sequence > 1:
            found = [
                p
                for p in self._repo.events.events_of_chain(
                    e.gateway_id, e.sequence - 1, e.sequence - 1
                )
                if p.event_hash == e.prev_hash
            ]
            if found:
                predecessor = ChainLink(found[0].event, found[0].signature)
            else:
                missing = (
                    f"sequence {e.sequence - 1} is not in the store (integrity at ingest: "
                    f"{stored.integrity}; a gap, or purged by retention)"
                )
        verdicts = tuple(
            PackageVerdict(v.verdict, v.note, v.reviewer, v.at_us)
            for v in self._repo.events.verdict_history(e.event_id)
        )
        return PackageItem(
            event=e,
            signature=stored.signature,
            blobs=blobs,
            integrity=stored.integrity,
            integrity_note=stored.integrity_note,
            received_at_us=stored.received_at_us,
            verdicts=verdicts,
            predecessor=predecessor,
            predecessor_missing=missing,
        )

    def export_files(self, who: Principal | str, event_ids: Sequence[str]) -> dict[str, bytes]:
        """Every file of the evidence package for ``event_ids`` (path -> bytes)."""
        ids = list(dict.fromkeys(event_ids))
        if not 1 <= len(ids) <= MAX_EXPORT:
            raise QueryError(f"export 1..{MAX_EXPORT} events at a time (got {len(ids)})")
        stored = [self._stored(i) for i in ids]
        self._auditor.record(who, "review.export", {"event_ids": ids})
        items = [self._item(s) for s in stored]
        keys = {
            gid: public_key_pem(Ed25519PublicKey.from_public_bytes(self._key(gid)))
            for gid in {s.event.gateway_id for s in stored}
        }
        audit = self._auditor.entries_about(set(ids))
        return package_files(items, audit, keys, self._clock())
