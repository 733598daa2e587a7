"""Value types of the watchlist (frozen; shared by the matcher, the file and sync)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Subject:
    """A watchlist entry. ``label`` is the operator's text: never logged."""

    subject_id: str
    label: str


@dataclass(frozen=True, slots=True)
class SubjectSummary:
    """One subject as `watchlist list` shows it, wherever the list lives."""

    subject_id: str
    label: str
    faces: int
    plates: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FaceMatch:
    subject_id: str
    label: str
    similarity: float  # cosine, in [-1, 1]


@dataclass(frozen=True, slots=True)
class PlateMatch:
    subject_id: str
    label: str
    plate: str  # the watchlist's normalised plate, not the read text
    kind: Literal["exact", "fuzzy"]
    distance: float  # confusable-weighted edit distance, 0.0 for exact


@dataclass(frozen=True, slots=True, eq=False)  # numpy fields: compare by identity
class WatchlistSnapshot:
    """Everything a matcher needs, at one version.

    ``face_matrix`` row i (L2-normalised, float32) belongs to ``face_subject_ids[i]``;
    all rows were embedded by ``face_model_id`` (None when there are no templates).
    """

    version: int
    face_model_id: str | None
    subjects: tuple[Subject, ...]
    face_subject_ids: tuple[str, ...]
    face_matrix: NDArray[np.float32]
    plates: tuple[tuple[str, str], ...]  # (subject_id, normalised plate)

    @property
    def face_dim(self) -> int:
        return int(self.face_matrix.shape[1]) if self.face_matrix.ndim == 2 else 0

    def labels(self) -> dict[str, str]:
        return {s.subject_id: s.label for s in self.subjects}


def empty_matrix(dim: int = 0) -> NDArray[np.float32]:
    return np.zeros((0, dim), dtype=np.float32)
