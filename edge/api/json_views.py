"""The JSON shapes of edge.api types: what `review search --json` and `review show
--json` print, and what a REST API serves with the same field names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from edge.api.types import EventDetailView, EventRow
from edge.evidence.model import event_to_dict


def us_to_iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat(timespec="milliseconds")


def event_row_json(r: EventRow) -> dict[str, Any]:
    similarity = r.photo_similarity if r.photo_similarity is not None else r.best_similarity
    return {
        "id": r.event_id,
        "time": us_to_iso(r.captured_at_us),
        "gateway_id": r.gateway_id,
        "camera_id": r.camera_id,
        "kind": r.kind,
        "plate": r.plate_texts[0] if r.plate_texts else None,
        "subject_id": r.subject_ids[0] if r.subject_ids else None,
        "label": r.label,
        "similarity": None if similarity is None else round(similarity, 4),
        "verdict": r.verdict,
        "integrity": r.integrity,
        "sequence": r.sequence,
        "plates": list(r.plate_texts),
        "subject_ids": list(r.subject_ids),
    }


def event_detail_json(d: EventDetailView) -> dict[str, Any]:
    return {
        "event": event_to_dict(d.event),
        "event_hash": d.event_hash,
        "signature": d.signature.hex(),
        "gateway_key_fingerprint": d.gateway_key_fingerprint,
        "integrity": d.integrity,
        "integrity_detail": d.integrity_detail,
        "received_at": us_to_iso(d.received_at_us),
        "verdict": d.verdict,
        "verdicts": [
            {"verdict": v.verdict, "note": v.note, "reviewer": v.reviewer, "at": us_to_iso(v.at_us)}
            for v in d.verdicts
        ],
        "label": d.label,
    }
