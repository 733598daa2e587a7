"""The JSON a case receiver gets (``edgewatch.case`` and ``edgewatch.case.withdrawn``).

The bytes are fixed when a dispatch is created, so every retry sends the same body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from edge.store.repository import StoredEvent


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat(timespec="seconds")


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def case_payload(
    stored: StoredEvent,
    labels: Mapping[str, str | None],
    base_url: str,
    package_url: str,
    by_name: str,
    dispatch_id: str,
    sha: str,
    now: int,
    rule: Mapping[str, str] | None,
) -> str:
    e = stored.event
    doc: dict[str, Any] = {
        "type": "edgewatch.case",
        "version": 1,
        "dispatch_id": dispatch_id,
        "event_id": e.event_id,
        "event_hash": stored.event_hash,
        "kind": e.kind,
        "gateway_id": e.gateway_id,
        "camera_id": e.camera_id,
        "captured_at": iso(e.captured_at_us),
        "captured_at_us": e.captured_at_us,
        "location": {"lat": e.location[0], "lon": e.location[1]} if e.location else None,
        "plates": [
            {
                "text": p.text,
                "listed_text": p.listed_text,
                "match": p.kind,
                "confidence": round(p.confidence, 4),
                "color": p.color,
            }
            for p in e.plates
        ],
        "faces": [
            {"subject_id": f.subject_id, "similarity": round(f.similarity, 4)} for f in e.faces
        ],
        "subjects": [{"subject_id": s, "label": lbl} for s, lbl in labels.items()],
        "verdict": {
            "verdict": stored.verdict,
            "note": stored.verdict_note or "",
            "by": stored.verdict_by,
            "at": iso(stored.verdict_at_us) if stored.verdict_at_us else None,
        },
        "integrity": stored.integrity,
        "evidence_url": f"{base_url}/events/{e.event_id}",
        "package_url": package_url,
        "package_sha256": sha,
        "dispatched_by": by_name,
        "created_at": iso(now),
    }
    if rule is not None:
        doc["rule"] = dict(rule)  # "dispatched automatically by rule R"
    return dumps(doc)


def withdrawal_payload(
    withdrawal_id: str, original_id: str, event_id: str, note: str, by_name: str, now: int
) -> str:
    return dumps(
        {
            "type": "edgewatch.case.withdrawn",
            "version": 1,
            "dispatch_id": withdrawal_id,
            "withdraws": original_id,
            "event_id": event_id,
            "reason": "rejected by a reviewer",
            "note": note,
            "by": by_name,
            "at": iso(now),
        }
    )
