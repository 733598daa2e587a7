"""Match one face embedding or one plate read against a watchlist snapshot (pure)."""

from __future__ import annotations

from edge.config import MatchConfig
from edge.vision.types import FaceEmbedding
from edge.watchlist.gallery import FaceGallery
from edge.watchlist.plate_index import PlateIndex
from edge.watchlist.types import FaceMatch, PlateMatch, WatchlistSnapshot


class WatchlistMatcher:
    """Immutable matcher over one snapshot; build a new one when the watchlist changes.

    The constructor builds the in-memory gallery and plate index (pure computation on
    the snapshot's values, no I/O); matching is then read-only and thread-safe.
    """

    def __init__(self, snapshot: WatchlistSnapshot, config: MatchConfig) -> None:
        self._snapshot = snapshot
        self._config = config
        self._gallery = FaceGallery.from_snapshot(snapshot)
        self._plates = PlateIndex.from_snapshot(snapshot)

    @property
    def version(self) -> int:
        return self._snapshot.version

    @property
    def face_model_id(self) -> str | None:
        return self._snapshot.face_model_id

    @property
    def gallery(self) -> FaceGallery:
        return self._gallery

    @property
    def plates(self) -> PlateIndex:
        return self._plates

    def match_face(self, embedding: FaceEmbedding) -> FaceMatch | None:
        """Best subject at or above ``face_threshold``; ModelMismatchError for another model."""
        return self._gallery.best(embedding, self._config.face_threshold)

    def search_face(self, embedding: FaceEmbedding) -> list[FaceMatch]:
        """Top ``face_top_k`` subjects regardless of threshold (for review tools)."""
        return self._gallery.search(embedding, self._config.face_top_k)

    def match_plate(self, text: str) -> PlateMatch | None:
        """Exact, else fuzzy within ``plate_max_distance``; ``text`` must be normalised."""
        return self._plates.match(text, self._config.plate_max_distance)
