"""The privacy sweep's pure parts: tiling, config checks, and failing closed.

Detectors here are small fakes (pure logic); the real models are exercised by
tests/integration/privacy/test_stored_scenes.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from edge.config import PrivacyConfig
from edge.evidence.signing import generate_signing_key
from edge.gateway.evidence import EvidenceBuilder, MatchedPlate, SceneMatches
from edge.vision.scene_privacy import PrivacySweep, full_pass_side, tile_starts, tiles
from edge.vision.types import Box, FaceDetection, Image


def test_tiles_cover_the_frame_with_overlap() -> None:
    assert tile_starts(1920, 640, 128) == [0, 512, 1024, 1280]
    assert tile_starts(500, 640, 128) == [0]
    windows = tiles(1920, 1080, 640, 128)
    covered = np.zeros((1080, 1920), dtype=bool)
    for x1, y1, x2, y2 in windows:
        assert x2 - x1 == 640 and y2 - y1 == 640  # never a half-empty tile
        covered[y1:y2, x1:x2] = True
    assert covered.all()


def test_config_refuses_inputs_the_detector_cannot_take() -> None:
    with pytest.raises(ValidationError, match="exceeds the face detector's largest input"):
        PrivacyConfig(face_tile=1024, face_upscale=1.5)
    with pytest.raises(ValidationError, match="tile_overlap 320 must be smaller"):
        PrivacyConfig(face_tile=320, tile_overlap=320)
    with pytest.raises(ValidationError, match="extra"):
        PrivacyConfig(face_tresh=0.1)  # type: ignore[call-arg]


class _FindsCorner:
    """Finds one 'face' wherever the top-left 24x24 of its input is bright."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def detect(self, image: Image) -> Sequence[FaceDetection]:
        self.calls.append(image.shape[:2])
        if image[:24, :24].mean() < 200:
            return []
        pts = ((5.0, 5.0),) * 5
        return [FaceDetection(box=Box(0, 0, 24, 24), score=0.9, landmarks=pts)]  # type: ignore[arg-type]


def test_tile_boxes_come_back_in_frame_coordinates() -> None:
    img = np.zeros((1080, 1920, 3), dtype=np.uint8)
    img[0:24, 512:536] = 255  # at the top-left of the second tile
    det = _FindsCorner()
    found = PrivacySweep(det, None, PrivacyConfig()).sweep(img)  # type: ignore[arg-type]
    assert (1080, 1920) in det.calls and det.calls.count((640, 640)) == 8
    assert Box(512, 0, 536, 24) in found.faces


class _Sized(_FindsCorner):
    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[list[tuple[int, int]]] = []

    def at_sizes(self, sizes: Sequence[tuple[int, int]]) -> _Sized:
        self.sizes.append(list(sizes))
        return self


def test_the_full_pass_sees_the_frame_at_its_own_resolution_once() -> None:
    img = np.zeros((1080, 1920, 3), dtype=np.uint8)
    img[:24, :24] = 255
    det = _Sized()
    found = PrivacySweep(det, None, PrivacyConfig(face_pass="full")).sweep(img)
    assert det.sizes == [[(128, 128), (640, 640), (1920, 1920)]] and det.calls == [(1080, 1920)]
    assert found.faces == (Box(0, 0, 24, 24),)
    full = PrivacyConfig(face_pass="full", face_upscale=1.5)
    assert full_pass_side(1920, 1080, full) is None  # 2880 px
    assert full_pass_side(1000, 700, full) == 1504
    assert full_pass_side(1920, 1080, PrivacyConfig()) is None  # tiles by default
    tiled = _Sized()
    PrivacySweep(tiled, None, full).sweep(img)
    assert tiled.sizes == [] and len(tiled.calls) > 1  # too large for one pass: tiles


class _Broken:
    def detect(self, image: Image) -> Sequence[FaceDetection]:
        raise RuntimeError("session lost")

    def at_sizes(self, sizes: Sequence[tuple[int, int]]) -> _Broken:
        return self


def _scene(img: Image) -> SceneMatches:
    plate = MatchedPlate(
        box=Box(10, 10, 90, 40),
        subject_id="s1",
        text="粤B12345",
        listed_text="粤B12345",
        kind="exact",
        confidence=0.99,
        color="blue",
        model_id="m",
    )
    return SceneMatches("cam", 1, img, (), (plate,), ())


def test_a_sweep_that_fails_leaves_only_the_match_clear() -> None:
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    img = cv2.GaussianBlur(noise, (0, 0), 1.5)  # detail JPEG keeps, pixelation destroys
    sweep = PrivacySweep(_Broken(), None, PrivacyConfig())
    builder = EvidenceBuilder("gw", generate_signing_key(), ["m"], sweep=sweep)
    _, blobs = builder.encode_blobs(_scene(img))
    stored = cv2.imdecode(np.frombuffer(blobs["scene.jpg"], np.uint8), cv2.IMREAD_COLOR)
    # the match is intact (up to JPEG), everything else has lost its detail
    assert _corr(stored[12:38, 12:88], img[12:38, 12:88]) > 0.9
    assert abs(_corr(stored[100:, 150:], img[100:, 150:])) < 0.2


def _corr(a: Image, b: Image) -> float:
    return float(np.corrcoef(a.astype(float).ravel(), b.astype(float).ravel())[0, 1])
