"""Analyzer composition and the JSON shape, with fake detectors (pure logic)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest

from edge.analysis import Analyzer, analysis_to_json, check_face_model
from edge.config import MatchConfig
from edge.errors import ModelMismatchError
from edge.vision.types import (
    Box,
    Face,
    FaceDetection,
    FaceEmbedding,
    FaceQuality,
    Image,
    Plate,
    PlateDetection,
)
from edge.watchlist.matcher import WatchlistMatcher
from edge.watchlist.types import Subject, WatchlistSnapshot

MODEL = "fake_embedder"


def _unit(axis: int) -> np.ndarray:
    v = np.zeros(16, np.float32)
    v[axis] = 1.0
    return v


def _face(x: float, vector: np.ndarray | None) -> Face:
    lm = ((x + 3, 5.0), (x + 7, 5.0), (x + 5, 7.0), (x + 3, 9.0), (x + 7, 9.0))
    return Face(
        detection=FaceDetection(Box(x, 0.0, x + 10.0, 12.0), 0.91234, lm),
        quality=FaceQuality(score=0.8, size=10.0, sharpness=50.0, frontal=0.9),
        embedding=None if vector is None else FaceEmbedding(vector, MODEL),
    )


def _plate(text: str, valid: bool) -> Plate:
    corners = ((1.04, 2.0), (40.0, 2.0), (40.0, 12.0), (1.0, 12.0))
    det = PlateDetection(Box(1.0, 2.0, 40.0, 12.0), corners, 0.9, double_row=False)
    return Plate(det, text, text, 0.98765, "blue", valid, "regular" if valid else None)


class FakeFaces:
    model_id = MODEL

    def __init__(self, faces: Sequence[Face]) -> None:
        self.faces = faces
        self.embed_calls: list[bool] = []

    def analyze(self, image: Image, embed: bool = True) -> Sequence[Face]:
        self.embed_calls.append(embed)
        return self.faces


class FakePlates:
    def __init__(self, plates: Sequence[Plate]) -> None:
        self.plates = plates

    def recognize(self, image: Image) -> Sequence[Plate]:
        return self.plates


def _snapshot() -> WatchlistSnapshot:
    return WatchlistSnapshot(
        version=3,
        face_model_id=MODEL,
        subjects=(Subject("s1", "甲"), Subject("s2", "乙")),
        face_subject_ids=("s1",),
        face_matrix=_unit(1).reshape(1, -1),
        plates=(("s2", "粤B12345"),),
    )


IMAGE = np.zeros((30, 50, 3), np.uint8)


def test_matches_faces_and_plates_and_shapes_json() -> None:
    faces = FakeFaces([_face(0, _unit(1)), _face(20, _unit(2)), _face(30, None)])
    plates = FakePlates([_plate("粤B12345", True), _plate("粤B1234S", True), _plate("", False)])
    analyzer = Analyzer(faces, plates, WatchlistMatcher(_snapshot(), MatchConfig()))
    result = analyzer.analyze(IMAGE)
    assert faces.embed_calls == [True]
    assert [f.match.subject_id if f.match else None for f in result.faces] == ["s1", None, None]
    kinds = [p.match.kind if p.match else None for p in result.plates]
    assert kinds == ["exact", "fuzzy", None]

    row = analysis_to_json("图/a.jpg", result, 12.345)
    assert json.loads(json.dumps(row, ensure_ascii=False)) == row
    assert (row["path"], row["width"], row["height"], row["ms"]) == ("图/a.jpg", 50, 30, 12.3)
    assert row["faces"][0] == {
        "bbox": [0.0, 0.0, 10.0, 12.0],
        "score": 0.9123,
        "quality": 0.8,
        "match": {"subject_id": "s1", "label": "甲", "similarity": 1.0},
    }
    assert row["plates"][1] == {
        "bbox": [1.0, 2.0, 40.0, 12.0],
        "corners": [[1.0, 2.0], [40.0, 2.0], [40.0, 12.0], [1.0, 12.0]],
        "text": "粤B1234S",
        "confidence": 0.9877,
        "color": "blue",
        "valid": True,
        "match": {"subject_id": "s2", "label": "乙", "kind": "fuzzy"},
    }


def test_without_watchlist_nothing_is_embedded_or_matched() -> None:
    faces = FakeFaces([_face(0, None)])
    result = Analyzer(faces, None).analyze(IMAGE)
    assert faces.embed_calls == [False]
    assert result.plates == () and result.faces[0].match is None


def test_face_model_check() -> None:
    check_face_model(None, MODEL)
    check_face_model(MODEL, MODEL)
    with pytest.raises(ModelMismatchError, match=r"'other' .* 'fake_embedder'"):
        check_face_model("other", MODEL)
