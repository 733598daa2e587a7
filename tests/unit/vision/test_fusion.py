"""Embedding fusion and the per-track shot pool (pure logic)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.errors import InputError
from edge.vision.fusion import ShotPool, fuse
from edge.vision.types import FaceEmbedding


def _emb(*values: float, model: str = "m") -> FaceEmbedding:
    v = np.asarray(values, dtype=np.float32)
    return FaceEmbedding(v / np.linalg.norm(v), model)


def test_fused_vector_is_the_normalised_weighted_mean() -> None:
    f = fuse([_emb(1, 0), _emb(0, 1)], [3.0, 1.0])
    expected = np.array([3.0, 1.0]) / np.hypot(3.0, 1.0)
    assert np.allclose(f.vector, expected) and f.model_id == "m"
    assert np.isclose(np.linalg.norm(f.vector), 1.0)


def test_noise_in_different_directions_cancels() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(size=128).astype(np.float32)
    truth /= np.linalg.norm(truth)
    shots = [_emb(*(truth + rng.normal(scale=0.12, size=128))) for _ in range(3)]
    single = max(float(s.vector @ truth) for s in shots)
    fused = float(fuse(shots, [1.0, 1.0, 1.0]).vector @ truth)
    assert fused > single


@pytest.mark.parametrize(
    ("embs", "weights", "message"),
    [
        ([], [], "as many weights"),
        ([_emb(1, 0)], [1.0, 2.0], "as many weights"),
        ([_emb(1, 0), _emb(0, 1, model="other")], [1.0, 1.0], "different models"),
        ([_emb(1, 0)], [0.0], "positive sum"),
        ([_emb(1, 0)], [float("nan")], "positive sum"),
    ],
)
def test_bad_input_names_the_problem(
    embs: list[FaceEmbedding], weights: list[float], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        fuse(embs, weights)


def test_pool_keeps_the_best_shots_and_fuses_from_two() -> None:
    pool = ShotPool(2)
    pool.add(0.5, _emb(1, 0))
    assert pool.fused() is None and pool.wants(0.1)
    pool.add(0.9, _emb(0, 1))
    assert pool.full() and not pool.wants(0.4) and pool.wants(0.6)
    pool.add(0.7, _emb(1, 1))
    assert [q for q, _ in pool.shots] == [0.9, 0.7] and pool.added == 3
    fused = pool.fused()
    assert fused is not None and fused.vector[1] > fused.vector[0] > 0
