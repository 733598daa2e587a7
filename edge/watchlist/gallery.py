"""Face gallery: top-k cosine search over an L2-normalised template matrix.

Templates are grouped by subject at build time, so "best template per subject" is one
``maximum.reduceat`` over a single matrix-vector product, and top-k is an
``argpartition`` over subjects rather than a sort over every template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from edge.errors import ModelMismatchError, WatchlistError
from edge.vision.types import FaceEmbedding
from edge.watchlist.types import FaceMatch, WatchlistSnapshot

_EPS = 1e-12


def normalise_rows(matrix: NDArray[np.floating]) -> NDArray[np.float32]:
    """Float32 copy with unit-length rows; an all-zero row is refused (it cannot match)."""
    m = np.asarray(matrix, dtype=np.float32)
    if m.ndim != 2:
        raise WatchlistError(f"face templates must be an N x D matrix, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise WatchlistError("face templates contain NaN or infinite values")
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    if m.shape[0] and float(norms.min()) < _EPS:
        raise WatchlistError("a face template is an all-zero vector")
    return np.ascontiguousarray(m / np.maximum(norms, _EPS), dtype=np.float32)


class FaceGallery:
    """Face templates of one embedder model, searchable by cosine similarity.

    Built in memory from plain values (pure, no I/O); several templates per subject
    are allowed and a subject scores with its best template.
    """

    def __init__(
        self,
        model_id: str | None,
        subject_ids: Sequence[str],
        labels: Mapping[str, str],
        matrix: NDArray[np.floating],
    ) -> None:
        if len(subject_ids) != len(matrix):
            raise WatchlistError(f"{len(subject_ids)} subject ids for {len(matrix)} face templates")
        if len(subject_ids) and model_id is None:
            raise WatchlistError("face templates without the id of the model that made them")
        order = np.argsort(np.asarray(subject_ids, dtype=object), kind="stable")
        sorted_ids = [subject_ids[i] for i in order]
        starts = [i for i in range(len(sorted_ids)) if i == 0 or sorted_ids[i] != sorted_ids[i - 1]]
        self._model_id = model_id
        self._matrix = normalise_rows(np.asarray(matrix)[order]) if len(order) else None
        self._starts = np.asarray(starts, dtype=np.intp)
        self._subjects = [sorted_ids[i] for i in starts]
        self._labels = {sid: labels.get(sid, "") for sid in self._subjects}

    @classmethod
    def from_snapshot(cls, snapshot: WatchlistSnapshot) -> FaceGallery:
        return cls(
            snapshot.face_model_id,
            snapshot.face_subject_ids,
            snapshot.labels(),
            snapshot.face_matrix,
        )

    @property
    def model_id(self) -> str | None:
        return self._model_id

    @property
    def dim(self) -> int:
        return 0 if self._matrix is None else int(self._matrix.shape[1])

    def __len__(self) -> int:
        """Number of subjects with at least one template."""
        return len(self._subjects)

    @property
    def template_count(self) -> int:
        return 0 if self._matrix is None else int(self._matrix.shape[0])

    def _check(self, embedding: FaceEmbedding) -> NDArray[np.float32]:
        if self._model_id is not None and embedding.model_id != self._model_id:
            raise ModelMismatchError(
                f"face embedding from model {embedding.model_id!r} cannot be matched against "
                f"templates built with model {self._model_id!r}; re-enroll the watchlist with "
                f"{embedding.model_id!r} or run {self._model_id!r} on this gateway"
            )
        vec = np.asarray(embedding.vector, dtype=np.float32).reshape(-1)
        if self._matrix is not None and vec.shape[0] != self._matrix.shape[1]:
            raise ModelMismatchError(
                f"face embedding has {vec.shape[0]} dimensions, templates of model "
                f"{self._model_id!r} have {self._matrix.shape[1]}"
            )
        return vec

    def subject_scores(self, embedding: FaceEmbedding) -> NDArray[np.float32]:
        """Best cosine similarity per subject, in ``subjects`` order."""
        vec = self._check(embedding)
        if self._matrix is None:
            return np.zeros(0, dtype=np.float32)
        norm = float(np.linalg.norm(vec))
        sims = self._matrix @ (vec / norm if norm > _EPS else vec)
        return np.maximum.reduceat(sims, self._starts)

    def search(self, embedding: FaceEmbedding, k: int) -> list[FaceMatch]:
        """The ``k`` most similar subjects, most similar first (no threshold)."""
        if k < 1:
            raise WatchlistError(f"top-k must be at least 1, got {k}")
        scores = self.subject_scores(embedding)
        if scores.size == 0:
            return []
        # argpartition finds the k best in linear time; only those k get sorted
        top = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            FaceMatch(self._subjects[i], self._labels[self._subjects[i]], float(scores[i]))
            for i in top
        ]

    def best(self, embedding: FaceEmbedding, threshold: float) -> FaceMatch | None:
        """The most similar subject if its similarity reaches ``threshold``."""
        scores = self.subject_scores(embedding)
        if scores.size == 0:
            return None
        i = int(np.argmax(scores))
        if float(scores[i]) < threshold:
            return None
        sid = self._subjects[i]
        return FaceMatch(sid, self._labels[sid], float(scores[i]))
