"""Faces at the centre: embed enrolment and query photos, search the watchlist gallery.

Design choice (documented in docs/store.md): ingest never runs a model, so it stays
fast and the store needs no model pack to accept evidence. Face search by photo embeds
the query photo with the configured pack (loaded lazily, once), finds the watchlist
subjects it resembles in an in-memory gallery of all templates (one matrix product;
about 100 ms per million 128-d templates on one core), and returns the events
of those subjects ranked by that similarity. The gallery is rebuilt when the watchlist
version changes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.config import VisionConfig, resolve_models_dir
from edge.imageio import decode_image
from edge.store.repository import WatchlistRepository
from edge.vision.faces import FaceAnalyzer
from edge.vision.types import FaceEmbedding
from edge.watchlist.gallery import FaceGallery
from edge.watchlist.types import FaceMatch

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PhotoOutcome:
    embedding: FaceEmbedding | None
    reason: str  # why no embedding: "no face", "2 faces", "face too small", ...


class CentralFaces:
    """The configured face analyzer, loaded on first use and shared by all calls."""

    def __init__(self, vision: VisionConfig, models_dir: Path | None = None) -> None:
        self._vision = vision
        self._models_dir = models_dir
        self._analyzer: FaceAnalyzer | None = None
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        """Embedder model id from the config (known without loading the model)."""
        return self._vision.faces.embedder

    def _load(self) -> FaceAnalyzer:
        if self._analyzer is None:
            from edge.modelpack import load_manifest
            from edge.vision.faces import load_face_analyzer

            pack = resolve_models_dir(self._models_dir, self._vision.models_dir)
            self._analyzer = load_face_analyzer(
                pack, self._vision.faces, self._vision.runtime, load_manifest()
            )
        return self._analyzer

    def embed_photo(self, data: bytes, name: str, largest: bool) -> PhotoOutcome:
        """Embed the one face of a photo (or the largest, when asked)."""
        image = decode_image(data, name, self._vision.images).image
        cfg = self._vision.faces
        with self._lock:  # 2-4 cores: one photo at a time beats thrashing sessions
            faces = self._load().analyze(image, embed=True)
        if not faces:
            return PhotoOutcome(None, "no face")
        if len(faces) > 1 and not largest:
            return PhotoOutcome(None, f"{len(faces)} faces (crop to one person or use largest)")
        face = max(faces, key=lambda f: f.detection.box.area)
        if face.quality.size < cfg.min_face_px:
            return PhotoOutcome(None, f"face too small ({face.quality.size:.0f} px)")
        if face.embedding is None or face.quality.score < cfg.min_quality:
            return PhotoOutcome(None, f"face quality too low ({face.quality.score:.2f})")
        return PhotoOutcome(face.embedding, "")


class FaceSearchIndex:
    """Watchlist templates of one model as a gallery, rebuilt when the version moves."""

    def __init__(self, watchlist: WatchlistRepository, model_id: str) -> None:
        self._watchlist = watchlist
        self._model_id = model_id
        self._gallery: FaceGallery | None = None
        self._version = -1
        self._lock = threading.Lock()

    def _current(self) -> FaceGallery:
        version = self._watchlist.version()
        with self._lock:
            if self._gallery is None or version != self._version:
                templates = self._watchlist.all_templates(self._model_id)
                ids = [t.subject_id for t in templates]
                matrix = (
                    np.stack([np.frombuffer(t.vector, dtype="<f4") for t in templates])
                    if templates
                    else np.zeros((0, 0), dtype=np.float32)
                )
                self._gallery = FaceGallery(self._model_id if ids else None, ids, {}, matrix)
                self._version = version
                log.info("face search index built", extra={"templates": len(ids)})
            return self._gallery

    def search(self, embedding: FaceEmbedding, k: int, min_similarity: float) -> list[FaceMatch]:
        gallery = self._current()
        if gallery.template_count == 0:
            return []
        return [m for m in gallery.search(embedding, k) if m.similarity >= min_similarity]
