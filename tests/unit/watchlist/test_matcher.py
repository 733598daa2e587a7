"""WatchlistMatcher over a snapshot: thresholds and limits come from MatchConfig."""

from __future__ import annotations

import numpy as np
import pytest

from edge.config import MatchConfig
from edge.errors import ModelMismatchError
from edge.vision.types import FaceEmbedding
from edge.watchlist.matcher import WatchlistMatcher
from edge.watchlist.types import Subject, WatchlistSnapshot, empty_matrix

MODEL = "mobilefacenet_128"


def _snapshot() -> WatchlistSnapshot:
    eye = np.eye(4, dtype=np.float32)
    return WatchlistSnapshot(
        version=7,
        face_model_id=MODEL,
        subjects=(Subject("s1", "vendor one"), Subject("s2", "vendor two")),
        face_subject_ids=("s1", "s2"),
        face_matrix=eye[:2],
        plates=(("s2", "粤B12345"),),
    )


def _probe(cos_to_first_axis: float, model: str = MODEL) -> FaceEmbedding:
    c = cos_to_first_axis
    v = np.array([c, 0.0, np.sqrt(1 - c * c), 0.0], dtype=np.float32)
    return FaceEmbedding(vector=v, model_id=model)


def test_face_threshold_from_config() -> None:
    matcher = WatchlistMatcher(_snapshot(), MatchConfig(face_threshold=0.5))
    hit = matcher.match_face(_probe(0.6))
    assert hit is not None and (hit.subject_id, hit.label) == ("s1", "vendor one")
    assert hit.similarity == pytest.approx(0.6, abs=1e-6)
    assert matcher.match_face(_probe(0.4)) is None
    strict = WatchlistMatcher(_snapshot(), MatchConfig(face_threshold=0.7))
    assert strict.match_face(_probe(0.6)) is None
    assert matcher.version == 7 and matcher.face_model_id == MODEL


def test_search_face_returns_top_k_without_threshold() -> None:
    matcher = WatchlistMatcher(_snapshot(), MatchConfig(face_top_k=1))
    result = matcher.search_face(_probe(0.1))
    assert [m.subject_id for m in result] == ["s1"]


def test_refuses_other_model_ids() -> None:
    matcher = WatchlistMatcher(_snapshot(), MatchConfig())
    with pytest.raises(ModelMismatchError, match="other_model_512"):
        matcher.match_face(_probe(0.9, model="other_model_512"))


def test_plate_matching_uses_configured_distance() -> None:
    loose = WatchlistMatcher(_snapshot(), MatchConfig(plate_max_distance=1.0))
    exact = loose.match_plate("粤B12345")
    assert exact is not None and (exact.subject_id, exact.kind) == ("s2", "exact")
    fuzzy = loose.match_plate("粤812345")
    assert fuzzy is not None and (fuzzy.kind, fuzzy.distance, fuzzy.plate) == (
        "fuzzy",
        0.5,
        "粤B12345",
    )
    strict = WatchlistMatcher(_snapshot(), MatchConfig(plate_max_distance=0.0))
    assert strict.match_plate("粤812345") is None
    assert loose.match_plate("京A00000") is None


def test_empty_snapshot_matches_nothing() -> None:
    snap = WatchlistSnapshot(0, None, (), (), empty_matrix(), ())
    matcher = WatchlistMatcher(snap, MatchConfig())
    assert matcher.match_face(_probe(1.0)) is None
    assert matcher.match_plate("粤B12345") is None
