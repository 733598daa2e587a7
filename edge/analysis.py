"""Still-image analysis: faces + plates + optional watchlist matching, one result per image.

This is the composition the CLI (``edgewatch analyze``) and enrolment use; the gateway
pipeline has its own tracker-based flow. ``load_analyzer`` loads every model once;
``Analyzer.analyze`` is then pure computation on one frame.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from edge.config import VisionConfig
from edge.errors import ModelMismatchError
from edge.modelpack import PackManifest
from edge.vision.types import Face, Image, Plate
from edge.watchlist.matcher import WatchlistMatcher
from edge.watchlist.types import FaceMatch, PlateMatch, WatchlistSnapshot

log = logging.getLogger(__name__)


class FaceAnalysis(Protocol):
    """Detect, quality-score and (optionally) embed every face of a frame."""

    @property
    def model_id(self) -> str: ...

    def analyze(self, image: Image, embed: bool = True) -> Sequence[Face]: ...


class PlateRecognition(Protocol):
    """Detect, read and validate every plate of a frame."""

    def recognize(self, image: Image) -> Sequence[Plate]: ...


@dataclass(frozen=True, slots=True)
class FaceResult:
    face: Face
    match: FaceMatch | None


@dataclass(frozen=True, slots=True)
class PlateResult:
    plate: Plate
    match: PlateMatch | None


@dataclass(frozen=True, slots=True)
class ImageAnalysis:
    width: int
    height: int
    faces: tuple[FaceResult, ...]
    plates: tuple[PlateResult, ...]


class Analyzer:
    """Faces and plates of one frame, matched against a watchlist when one is given."""

    def __init__(
        self,
        faces: FaceAnalysis | None,
        plates: PlateRecognition | None,
        matcher: WatchlistMatcher | None = None,
    ) -> None:
        self.faces = faces
        self.plates = plates
        self.matcher = matcher

    def analyze(self, image: Image) -> ImageAnalysis:
        height, width = image.shape[:2]
        return ImageAnalysis(
            width=int(width),
            height=int(height),
            faces=self._faces(image),
            plates=self._plates(image),
        )

    def _faces(self, image: Image) -> tuple[FaceResult, ...]:
        if self.faces is None:
            return ()
        results = []
        # embeddings only serve matching; without a watchlist they are not computed
        for face in self.faces.analyze(image, embed=self.matcher is not None):
            match = None
            if self.matcher is not None and face.embedding is not None:
                match = self.matcher.match_face(face.embedding)
            results.append(FaceResult(face, match))
        return tuple(results)

    def _plates(self, image: Image) -> tuple[PlateResult, ...]:
        if self.plates is None:
            return ()
        results = []
        for plate in self.plates.recognize(image):
            match = None
            # invalid reads are matched too: one confusable character can break the
            # grammar (O for 0) and the fuzzy index exists for exactly that case
            if self.matcher is not None and plate.text:
                match = self.matcher.match_plate(plate.text)
            results.append(PlateResult(plate, match))
        return tuple(results)


def load_analyzer(
    models_dir: Path,
    vision: VisionConfig,
    manifest: PackManifest,
    snapshot: WatchlistSnapshot | None = None,
) -> Analyzer:
    """Load the enabled models once and refuse a watchlist built for another face model."""
    faces: FaceAnalysis | None = None
    plates: PlateRecognition | None = None
    if vision.faces.enabled:
        from edge.vision.faces import load_face_analyzer

        faces = load_face_analyzer(models_dir, vision.faces, vision.runtime, manifest)
    if vision.plates.enabled:
        from edge.vision.plates import load_plate_recognizer

        plates = load_plate_recognizer(models_dir, vision.plates, vision.runtime, manifest)
    matcher = None
    if snapshot is not None:
        if faces is not None:
            check_face_model(snapshot.face_model_id, faces.model_id)
        matcher = WatchlistMatcher(snapshot, vision.match)
    return Analyzer(faces, plates, matcher)


def check_face_model(stored: str | None, model_id: str) -> None:
    """Face templates of one embedder are meaningless to another: refuse, naming both."""
    if stored is not None and stored != model_id:
        raise ModelMismatchError(
            f"the watchlist's face templates were made with model {stored!r} but this model "
            f"pack's face embedder is {model_id!r}; use the matching pack or re-enrol the faces"
        )


def _r(value: float, digits: int) -> float:
    return round(float(value), digits)


def analysis_to_json(path: str, result: ImageAnalysis, ms: float) -> dict[str, Any]:
    """The one JSON shape of an analysed image (the CLI's --json line)."""
    return {
        "path": path,
        "width": result.width,
        "height": result.height,
        "ms": _r(ms, 1),
        "faces": [_face_json(f) for f in result.faces],
        "plates": [_plate_json(p) for p in result.plates],
    }


def _face_json(r: FaceResult) -> dict[str, Any]:
    match = None
    if r.match is not None:
        match = {
            "subject_id": r.match.subject_id,
            "label": r.match.label,
            "similarity": _r(r.match.similarity, 4),
        }
    return {
        "bbox": r.face.detection.box.as_list(),
        "score": _r(r.face.detection.score, 4),
        "quality": _r(r.face.quality.score, 4),
        "match": match,
    }


def _plate_json(r: PlateResult) -> dict[str, Any]:
    p = r.plate
    match = None
    if r.match is not None:
        match = {"subject_id": r.match.subject_id, "label": r.match.label, "kind": r.match.kind}
    return {
        "bbox": p.detection.box.as_list(),
        "corners": [[_r(x, 1), _r(y, 1)] for x, y in p.detection.corners],
        "text": p.text,
        "confidence": _r(p.confidence, 4),
        "color": p.color,
        "valid": bool(p.valid),
        "match": match,
    }
