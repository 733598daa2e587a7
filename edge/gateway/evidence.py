"""Evidence builder: turns one frame's matches into a privacy-filtered, signed event.

Privacy rule enforced here: every face and plate box of the frame that did not match
is irreversibly redacted in the scene BEFORE the JPEG is encoded, so the unredacted
pixels never exist in any encoded form. Only matched crops are encoded separately.
Besides what recognition saw, the privacy sweep (more sensitive, full resolution)
looks at the scene; if it fails, everything but the match is pixelated (fail closed).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.errors import EvidenceError
from edge.evidence.model import BlobRef, FaceHit, MatchEvent, PlateHit
from edge.evidence.signing import sign_event
from edge.ids import uuid7
from edge.vision.privacy import redact
from edge.vision.scene_privacy import PrivacySweep
from edge.vision.types import Box, Image

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MatchedFace:
    box: Box
    subject_id: str
    similarity: float
    quality: float
    model_id: str


@dataclass(frozen=True, slots=True)
class MatchedPlate:
    box: Box
    subject_id: str
    text: str
    listed_text: str
    kind: str
    confidence: float
    color: str | None
    model_id: str


@dataclass(frozen=True, slots=True)
class SceneMatches:
    """What the pipeline decided about one frame."""

    camera_id: str
    captured_at_us: int
    image: Image
    faces: tuple[MatchedFace, ...]
    plates: tuple[MatchedPlate, ...]
    #: every other face and plate seen in this frame, plus privacy-zone masks
    redact_boxes: tuple[Box, ...]
    location: tuple[float, float] | None = None
    supersedes: str | None = None


#: unmatched boxes grow by this much on a main-stream picture: it may be a few tens of
#: milliseconds away from the analysed sub-stream frame, and a face that moved must
#: still be covered
HIRES_REDACT_MARGIN = 1.25


def upscale_scene(scene: SceneMatches, hires: Image) -> SceneMatches:
    """The scene on the camera's main-stream picture: boxes found on the analysed
    sub-stream frame are scaled onto ``hires``; unmatched ones also grow by
    ``HIRES_REDACT_MARGIN`` so that redaction still covers them."""
    h, w = scene.image.shape[:2]
    hh, hw = hires.shape[:2]
    sx, sy = hw / w, hh / h

    def scale(b: Box) -> Box:
        return Box(b.x1 * sx, b.y1 * sy, b.x2 * sx, b.y2 * sy)

    return replace(
        scene,
        image=hires,
        faces=tuple(replace(f, box=scale(f.box)) for f in scene.faces),
        plates=tuple(replace(p, box=scale(p.box)) for p in scene.plates),
        redact_boxes=tuple(
            scale(b).expand(HIRES_REDACT_MARGIN).clip(hw, hh) for b in scene.redact_boxes
        ),
    )


@dataclass(frozen=True, slots=True)
class BuiltEvidence:
    event: MatchEvent
    signature: bytes
    blobs: dict[str, bytes]


def encode_jpeg(image: Image, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise EvidenceError("JPEG encoding failed for an evidence image")
    return bytes(buf.tobytes())


def crop(image: Image, box: Box, margin: float = 1.3) -> Image:
    h, w = image.shape[:2]
    b = box.expand(margin).clip(w, h)
    x1, y1, x2, y2 = int(b.x1), int(b.y1), int(np.ceil(b.x2)), int(np.ceil(b.y2))
    if x2 <= x1 or y2 <= y1:
        raise EvidenceError(f"empty crop for box {box.as_list()} in a {w}x{h} image")
    return image[y1:y2, x1:x2].copy()


class EvidenceBuilder:
    def __init__(
        self,
        gateway_id: str,
        signing_key: Ed25519PrivateKey,
        models: Sequence[str],
        jpeg_quality: int = 90,
        sweep: PrivacySweep | None = None,
    ) -> None:
        self._gateway_id = gateway_id
        self._key = signing_key
        self._models = tuple(models)
        self._quality = jpeg_quality
        self._sweep = sweep

    @property
    def sweeps(self) -> bool:
        """Whether every scene gets the privacy sweep (full resolution, sensitive)."""
        return self._sweep is not None

    def _to_redact(self, scene: SceneMatches) -> list[Box]:
        """Recognition's unmatched boxes plus the sweep's; the whole frame if it fails."""
        boxes = list(scene.redact_boxes)
        if self._sweep is None:
            return boxes
        try:
            found = self._sweep.sweep(scene.image)
        except Exception:
            # fail closed: a scene nobody could check is stored with only the match clear
            log.exception("privacy sweep failed; the whole scene is pixelated")
            h, w = scene.image.shape[:2]
            return [Box(0.0, 0.0, float(w), float(h))]
        log.debug(
            "privacy sweep",
            extra={"faces": len(found.faces), "plates": len(found.plates), "ms": found.elapsed_ms},
        )
        return boxes + list(found.boxes)

    def encode_blobs(self, scene: SceneMatches) -> tuple[list[BlobRef], dict[str, bytes]]:
        """Redact, encode and hash; matched crops come from the unredacted frame."""
        matched = [f.box for f in scene.faces] + [p.box for p in scene.plates]
        # A matched box overlapping an unmatched one must stay sharp: redact the
        # unmatched boxes, then paste the matched regions back.
        redacted = redact(scene.image, self._to_redact(scene))
        h, w = scene.image.shape[:2]
        for box in matched:
            b = box.clip(w, h)
            x1, y1, x2, y2 = int(b.x1), int(b.y1), int(np.ceil(b.x2)), int(np.ceil(b.y2))
            redacted[y1:y2, x1:x2] = scene.image[y1:y2, x1:x2]
        blobs: dict[str, bytes] = {"scene.jpg": encode_jpeg(redacted, self._quality)}
        roles: dict[str, str] = {"scene.jpg": "scene"}
        for i, f in enumerate(scene.faces):
            blobs[f"face-{i}.jpg"] = encode_jpeg(crop(redacted, f.box), self._quality)
            roles[f"face-{i}.jpg"] = "face_crop"
        for i, p in enumerate(scene.plates):
            blobs[f"plate-{i}.jpg"] = encode_jpeg(crop(redacted, p.box, 1.1), self._quality)
            roles[f"plate-{i}.jpg"] = "plate_crop"
        refs = [
            BlobRef(
                name=name,
                role=roles[name],  # type: ignore[arg-type]
                media_type="image/jpeg",
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
            )
            for name, data in blobs.items()
        ]
        return refs, blobs

    def build(
        self,
        scene: SceneMatches,
        sequence: int,
        prev_hash: str,
        encoded: tuple[list[BlobRef], dict[str, bytes]] | None = None,
    ) -> BuiltEvidence:
        """Mint, link and sign the event. Pass ``encoded`` (from ``encode_blobs``) to
        keep JPEG encoding out of the outbox's write lock."""
        if not scene.faces and not scene.plates:
            raise EvidenceError("an evidence event needs at least one matched face or plate")
        refs, blobs = encoded if encoded is not None else self.encode_blobs(scene)
        event = MatchEvent(
            event_id=uuid7(scene.captured_at_us // 1000),
            gateway_id=self._gateway_id,
            camera_id=scene.camera_id,
            captured_at_us=scene.captured_at_us,
            sequence=sequence,
            prev_hash=prev_hash,
            faces=tuple(_face_hit(i, f) for i, f in enumerate(scene.faces)),
            plates=tuple(_plate_hit(i, p) for i, p in enumerate(scene.plates)),
            blobs=tuple(refs),
            models=self._models,
            location=scene.location,
            supersedes=scene.supersedes,
        )
        return BuiltEvidence(event=event, signature=sign_event(self._key, event), blobs=blobs)


def _face_hit(i: int, f: MatchedFace) -> FaceHit:
    return FaceHit(
        subject_id=f.subject_id,
        similarity=f.similarity,
        box=_box(f.box),
        quality=f.quality,
        model_id=f.model_id,
        crop=f"face-{i}.jpg",
    )


def _plate_hit(i: int, p: MatchedPlate) -> PlateHit:
    return PlateHit(
        subject_id=p.subject_id,
        text=p.text,
        listed_text=p.listed_text,
        kind="exact" if p.kind == "exact" else "fuzzy",
        confidence=p.confidence,
        color=p.color,
        box=_box(p.box),
        model_id=p.model_id,
        crop=f"plate-{i}.jpg",
    )


def _box(b: Box) -> tuple[float, float, float, float]:
    return (b.x1, b.y1, b.x2, b.y2)
