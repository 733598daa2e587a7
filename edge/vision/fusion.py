"""Face embedding fusion across a track's good shots (pure numpy).

One blurred or noisy shot puts its embedding off in a random direction; the same face
in a few frames of a track is off in different directions, so their quality-weighted
mean, re-normalised, lies closer to the person's clean template (the usual template
pooling of video face recognition). Vectors live only in memory, per live track.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edge.errors import InputError
from edge.vision.types import FaceEmbedding


def fuse(embeddings: Sequence[FaceEmbedding], weights: Sequence[float]) -> FaceEmbedding:
    """Weighted mean of L2-normalised embeddings of one model, L2-normalised again."""
    if not embeddings or len(embeddings) != len(weights):
        raise InputError(
            f"fuse needs as many weights as embeddings (>= 1), got {len(embeddings)} "
            f"embeddings and {len(weights)} weights"
        )
    models = {e.model_id for e in embeddings}
    if len(models) != 1:
        raise InputError(f"cannot fuse embeddings of different models: {sorted(models)}")
    w = np.asarray(weights, dtype=np.float32)
    if not np.all(np.isfinite(w)) or np.any(w < 0) or float(w.sum()) <= 0.0:
        raise InputError(f"fusion weights must be >= 0 with a positive sum, got {list(weights)}")
    mean = (np.stack([e.vector for e in embeddings]) * w[:, None]).sum(axis=0)
    norm = float(np.linalg.norm(mean))
    vector = (mean / max(norm, 1e-12)).astype(np.float32)
    vector.setflags(write=False)
    return FaceEmbedding(vector=vector, model_id=embeddings[0].model_id)


@dataclass
class ShotPool:
    """The ``size`` best (quality, embedding) shots of one track."""

    size: int
    shots: list[tuple[float, FaceEmbedding]] = field(default_factory=list)
    added: int = 0  # shots ever offered (bounds the embedding cost of a long track)

    def full(self) -> bool:
        return len(self.shots) >= self.size

    def wants(self, quality: float) -> bool:
        """Whether a shot of this quality would enter the pool."""
        return not self.full() or quality > self.shots[-1][0]

    def add(self, quality: float, embedding: FaceEmbedding) -> None:
        self.added += 1
        self.shots.append((quality, embedding))
        self.shots.sort(key=lambda s: -s[0])
        del self.shots[self.size :]

    def fused(self) -> FaceEmbedding | None:
        """The fused embedding once two shots or more are pooled, else None."""
        if len(self.shots) < 2:
            return None
        return fuse([e for _, e in self.shots], [q for q, _ in self.shots])
