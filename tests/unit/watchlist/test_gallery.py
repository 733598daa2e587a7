"""Face gallery: top-k cosine, best template per subject, model-id guard."""

from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ModelMismatchError, WatchlistError
from edge.vision.types import FaceEmbedding
from edge.watchlist.gallery import FaceGallery

MODEL = "mobilefacenet_128"


def _unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v / np.linalg.norm(v), dtype=np.float32)


def _emb(v: np.ndarray, model: str = MODEL) -> FaceEmbedding:
    return FaceEmbedding(vector=_unit(v), model_id=model)


@pytest.fixture
def basis() -> np.ndarray:
    return np.eye(8, dtype=np.float32)


def test_search_ranks_subjects_by_best_template(basis: np.ndarray) -> None:
    # subject b has two templates; its better one (axis 2) must count
    ids = ["a", "b", "c", "b"]
    matrix = np.stack([basis[0], basis[1], basis[3], basis[2]])
    gallery = FaceGallery(MODEL, ids, {"a": "A", "b": "B", "c": "C"}, matrix)
    probe = _emb(basis[2] * 0.9 + basis[0] * 0.3)
    result = gallery.search(probe, 3)
    assert [m.subject_id for m in result] == ["b", "a", "c"]
    assert result[0].label == "B"
    assert result[0].similarity == pytest.approx(0.9 / np.hypot(0.9, 0.3), abs=1e-6)
    assert result[2].similarity == pytest.approx(0.0, abs=1e-6)
    assert len(gallery) == 3
    assert gallery.template_count == 4


def test_search_top_k_is_exact_against_brute_force() -> None:
    rng = np.random.default_rng(5)
    n, dim = 3000, 128
    ids = [f"s{i % 1000}" for i in range(n)]  # three templates per subject
    matrix = rng.standard_normal((n, dim)).astype(np.float32)
    gallery = FaceGallery(MODEL, ids, {}, matrix)
    norm = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    for _ in range(5):
        probe = rng.standard_normal(dim).astype(np.float32)
        sims = norm @ _unit(probe)
        best: dict[str, float] = {}
        for sid, s in zip(ids, sims, strict=True):
            best[sid] = max(best.get(sid, -2.0), float(s))
        expected = sorted(best.items(), key=lambda kv: -kv[1])[:7]
        got = gallery.search(_emb(probe), 7)
        assert [m.subject_id for m in got] == [sid for sid, _ in expected]
        assert [m.similarity for m in got] == pytest.approx([s for _, s in expected], abs=1e-5)


def test_best_applies_threshold(basis: np.ndarray) -> None:
    gallery = FaceGallery(MODEL, ["a"], {"a": "A"}, basis[:1] * 3.0)  # rows are re-normalised
    close = _emb(basis[0] + 0.5 * basis[1])  # cosine 0.894
    assert gallery.best(close, 0.85) is not None
    assert gallery.best(close, 0.9) is None
    hit = gallery.best(close, 0.5)
    assert hit is not None and hit.subject_id == "a"


def test_k_larger_than_gallery_and_empty_gallery(basis: np.ndarray) -> None:
    gallery = FaceGallery(MODEL, ["a", "b"], {}, basis[:2])
    assert len(gallery.search(_emb(basis[0]), 10)) == 2
    empty = FaceGallery(None, [], {}, np.zeros((0, 8), dtype=np.float32))
    assert empty.search(_emb(basis[0]), 5) == []
    assert empty.best(_emb(basis[0]), 0.1) is None
    with pytest.raises(WatchlistError, match="at least 1"):
        gallery.search(_emb(basis[0]), 0)


def test_refuses_embedding_of_another_model(basis: np.ndarray) -> None:
    gallery = FaceGallery(MODEL, ["a"], {}, basis[:1])
    with pytest.raises(ModelMismatchError) as err:
        gallery.best(_emb(basis[0], model="buffalo_l_w600k_r50"), 0.3)
    assert "buffalo_l_w600k_r50" in str(err.value) and MODEL in str(err.value)
    with pytest.raises(ModelMismatchError, match="4 dimensions"):
        gallery.search(_emb(np.ones(4, dtype=np.float32)), 1)


def test_rejects_inconsistent_templates(basis: np.ndarray) -> None:
    with pytest.raises(WatchlistError, match="2 subject ids for 1"):
        FaceGallery(MODEL, ["a", "b"], {}, basis[:1])
    with pytest.raises(WatchlistError, match="all-zero"):
        FaceGallery(MODEL, ["a"], {}, np.zeros((1, 8), dtype=np.float32))
    with pytest.raises(WatchlistError, match="without the id"):
        FaceGallery(None, ["a"], {}, basis[:1])
