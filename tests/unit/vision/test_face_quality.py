"""Face quality cues on synthetic faces (pure numpy, no models)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.vision.face_quality import face_quality, frontal_score, sharpness
from edge.vision.types import Box, FaceDetection, Image, Point


def _detection(
    size: float = 100.0,
    score: float = 0.85,
    nose_x: float = 0.5,
    origin: tuple[float, float] = (50.0, 50.0),
) -> FaceDetection:
    """A face box with landmarks in ArcFace proportions; nose_x moves the nose sideways."""
    ox, oy = origin

    def p(x: float, y: float) -> Point:
        return (ox + x * size, oy + y * size)

    marks = (
        p(0.34, 0.46),
        p(0.66, 0.46),
        p(0.34 + 0.32 * nose_x, 0.64),
        p(0.37, 0.82),
        p(0.63, 0.82),
    )
    return FaceDetection(Box(ox, oy, ox + size, oy + size), score, marks)


def _textured(seed: int = 0) -> Image:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(112, 112, 3), dtype=np.uint8)


def _blurred(image: Image) -> Image:
    return np.ascontiguousarray(cv2.GaussianBlur(image, (0, 0), 3), dtype=np.uint8)


FRAME = np.zeros((400, 400, 3), dtype=np.uint8)


def test_frontal_face_scores_high() -> None:
    q = face_quality(FRAME, _detection(), _textured())
    assert q.frontal == pytest.approx(1.0)
    assert q.size == pytest.approx(100.0)
    assert q.score > 0.9


@pytest.mark.parametrize(
    ("nose_x", "low", "high"), [(0.5, 0.99, 1.0), (0.15, 0.3, 0.9), (-0.2, 0.0, 0.01)]
)
def test_turning_the_head_lowers_frontal(nose_x: float, low: float, high: float) -> None:
    assert low <= frontal_score(_detection(nose_x=nose_x)) <= high


def test_blur_lowers_sharpness_and_score() -> None:
    crop = _textured()
    sharp = face_quality(FRAME, _detection(), crop)
    blurred = face_quality(FRAME, _detection(), _blurred(crop))
    assert sharpness(_blurred(crop)) < sharpness(crop) / 10
    assert blurred.score < sharp.score - 0.2


def test_small_faces_and_weak_detections_score_lower() -> None:
    crop = _textured()
    big = face_quality(FRAME, _detection(size=100), crop).score
    small = face_quality(FRAME, _detection(size=16), crop).score
    weak = face_quality(FRAME, _detection(score=0.35), crop).score
    assert small < big - 0.3
    assert weak < big - 0.3


def test_face_cut_by_the_border_scores_lower() -> None:
    crop = _textured()
    inside = face_quality(FRAME, _detection(origin=(50, 50)), crop).score
    cut = face_quality(FRAME, _detection(origin=(-60, 50)), crop).score
    assert cut < inside - 0.1


def test_degenerate_landmarks_are_not_frontal() -> None:
    d = _detection()
    same_point = FaceDetection(d.box, d.score, (d.landmarks[0],) * 5)
    assert frontal_score(same_point) == 0.0
    assert face_quality(FRAME, same_point, _textured()).score == 0.0
