"""The match event: what a gateway asserts it saw, signed and chained.

This is the one domain definition of evidence. The gateway builds it, the wire layer
maps it to protobuf, the store verifies and persists it, and an exported package
carries it; all of them hash and sign exactly ``canonical_bytes(event)``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

GENESIS_HASH = "0" * 64

BlobRole = Literal["scene", "face_crop", "plate_crop"]
MatchKind = Literal["exact", "fuzzy"]


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A binary attachment (JPEG), identified by its sha256 at capture time."""

    name: str  # unique within the event, e.g. "scene.jpg", "face-0.jpg"
    role: BlobRole
    media_type: str  # "image/jpeg"
    sha256: str  # lowercase hex
    size: int


@dataclass(frozen=True, slots=True)
class FaceHit:
    subject_id: str
    similarity: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in scene pixels
    quality: float
    model_id: str
    crop: str | None  # BlobRef.name of the crop


@dataclass(frozen=True, slots=True)
class PlateHit:
    subject_id: str
    text: str  # normalised read
    listed_text: str  # the watchlist entry it matched
    kind: MatchKind
    confidence: float
    color: str | None
    box: tuple[float, float, float, float]
    model_id: str
    crop: str | None


@dataclass(frozen=True, slots=True)
class MatchEvent:
    event_id: str  # UUIDv7 string, minted once at the gateway
    gateway_id: str
    camera_id: str
    captured_at_us: int  # UTC microseconds since the epoch
    sequence: int  # per-gateway, starts at 1, +1 per event
    prev_hash: str  # event_hash of sequence-1, GENESIS_HASH for sequence 1
    faces: tuple[FaceHit, ...]
    plates: tuple[PlateHit, ...]
    blobs: tuple[BlobRef, ...]
    models: tuple[str, ...]  # model ids used by the pipeline
    location: tuple[float, float] | None = None  # lat, lon of the camera
    supersedes: str | None = None  # event_id of an earlier event this one improves on

    @property
    def kind(self) -> str:
        if self.faces and self.plates:
            return "linked"
        return "face" if self.faces else "plate"


def _round(x: float) -> float:
    # Floats are rounded so every language/encoder produces identical canonical text.
    return round(float(x), 4)


def _box(b: tuple[float, float, float, float]) -> list[float]:
    return [_round(v) for v in b]


def event_to_dict(e: MatchEvent) -> dict[str, Any]:
    """Plain JSON-able form of an event (the canonical field names)."""
    return {
        "v": 1,
        "event_id": e.event_id,
        "gateway_id": e.gateway_id,
        "camera_id": e.camera_id,
        "captured_at_us": e.captured_at_us,
        "sequence": e.sequence,
        "prev_hash": e.prev_hash,
        "faces": [
            {
                "subject_id": f.subject_id,
                "similarity": _round(f.similarity),
                "box": _box(f.box),
                "quality": _round(f.quality),
                "model_id": f.model_id,
                "crop": f.crop,
            }
            for f in e.faces
        ],
        "plates": [
            {
                "subject_id": p.subject_id,
                "text": p.text,
                "listed_text": p.listed_text,
                "kind": p.kind,
                "confidence": _round(p.confidence),
                "color": p.color,
                "box": _box(p.box),
                "model_id": p.model_id,
                "crop": p.crop,
            }
            for p in e.plates
        ],
        "blobs": [
            {
                "name": b.name,
                "role": b.role,
                "media_type": b.media_type,
                "sha256": b.sha256,
                "size": b.size,
            }
            for b in e.blobs
        ],
        "models": list(e.models),
        "location": [_round(e.location[0]), _round(e.location[1])] if e.location else None,
        "supersedes": e.supersedes,
    }


def event_from_dict(d: dict[str, Any]) -> MatchEvent:
    return MatchEvent(
        event_id=d["event_id"],
        gateway_id=d["gateway_id"],
        camera_id=d["camera_id"],
        captured_at_us=int(d["captured_at_us"]),
        sequence=int(d["sequence"]),
        prev_hash=d["prev_hash"],
        faces=tuple(
            FaceHit(
                f["subject_id"],
                f["similarity"],
                tuple(f["box"]),
                f["quality"],
                f["model_id"],
                f["crop"],
            )
            for f in d["faces"]
        ),
        plates=tuple(
            PlateHit(
                p["subject_id"],
                p["text"],
                p["listed_text"],
                p["kind"],
                p["confidence"],
                p["color"],
                tuple(p["box"]),
                p["model_id"],
                p["crop"],
            )
            for p in d["plates"]
        ),
        blobs=tuple(
            BlobRef(b["name"], b["role"], b["media_type"], b["sha256"], int(b["size"]))
            for b in d["blobs"]
        ),
        models=tuple(d["models"]),
        location=(d["location"][0], d["location"][1]) if d.get("location") else None,
        supersedes=d.get("supersedes"),
    )


def canonical_bytes(e: MatchEvent) -> bytes:
    """The exact bytes that are hashed and signed: sorted-key compact UTF-8 JSON."""
    return json.dumps(
        event_to_dict(e), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def event_hash(e: MatchEvent) -> str:
    return hashlib.sha256(canonical_bytes(e)).hexdigest()
