"""Pure parts of the plate pipeline: NMS, CTC, normalisation, rectification, filtering."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pytest

from edge.config import PlateConfig
from edge.errors import ModelPackError
from edge.modelpack import InputContract, load_manifest
from edge.vision.plate_readers import Normalisation, PlateRecColorReader, ctc_greedy, softmax
from edge.vision.plates import PlateRecognizer, Y5fuPlateDetector, join_rows, nms, rectify_plate
from edge.vision.types import Box, Image, PlateDetection, PlateText


def test_nms_keeps_best_of_overlapping() -> None:
    boxes = np.array(
        [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], dtype=np.float32
    )
    scores = np.array([0.8, 0.9, 0.5, 0.1], dtype=np.float32)
    assert nms(boxes, scores, 0.5) == [1, 2]
    assert nms(boxes, scores, 0.99) == [1, 0, 2, 3]


def test_ctc_greedy_collapses_repeats_and_blanks() -> None:
    alphabet = "#AB"
    # A A # A B B #  -> "AAB"
    idx = [1, 1, 0, 1, 2, 2, 0]
    probs = np.full((len(idx), 3), 0.05, dtype=np.float32)
    probs[np.arange(len(idx)), idx] = 0.9
    text, conf = ctc_greedy(probs, alphabet)
    assert text == "AAB"
    assert conf == pytest.approx(0.9)
    assert ctc_greedy(np.eye(3, dtype=np.float32)[[0, 0]], alphabet) == ("", 0.0)


def test_softmax_rows_sum_to_one() -> None:
    x = np.array([[1000.0, 0.0], [1.0, 1.0]], dtype=np.float32)
    p = softmax(x)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert p[0, 0] == pytest.approx(1.0)


def test_normalisation_follows_the_contract() -> None:
    contract = InputContract(
        name="x",
        shape=[1, 3, 2, 2],
        layout="NCHW",
        color="RGB",
        mean=(10.0, 20.0, 30.0),
        std=(2.0, 4.0, 5.0),
        resize="stretch",
    )
    norm = Normalisation.from_contract(contract)
    bgr = np.zeros((2, 2, 3), dtype=np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 50, 60, 70  # B, G, R
    out = norm.chw(bgr)
    assert out.shape == (3, 2, 2)
    assert np.allclose(out[0], (70 - 10) / 2)  # R first for an RGB model
    assert np.allclose(out[1], (60 - 20) / 4)
    assert np.allclose(out[2], (50 - 30) / 5)


def _detection(corners: Sequence[tuple[float, float]], double: bool = False) -> PlateDetection:
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return PlateDetection(
        box=Box(min(xs), min(ys), max(xs), max(ys)),
        corners=(corners[0], corners[1], corners[2], corners[3]),
        score=0.9,
        double_row=double,
    )


def test_rectify_recovers_an_axis_aligned_plate() -> None:
    img = np.zeros((100, 200, 3), dtype=np.uint8)
    img[30:60, 50:150] = 255
    img[30:60, 50:100, 0] = 0  # left half of the plate is yellow-ish
    det = _detection([(50, 30), (150, 30), (150, 60), (50, 60)])
    flat = rectify_plate(img, det)
    assert flat.shape == (30, 100, 3)
    assert flat[2:-2, 5:45, 0].max() == 0
    assert flat[2:-2, 55:95].min() == 255


def test_rectify_straightens_a_tilted_plate() -> None:
    img = np.zeros((200, 300, 3), dtype=np.uint8)
    quad = np.array([[60, 80], [220, 50], [225, 100], [65, 130]], dtype=np.int32)
    cv2.fillPoly(img, [quad], (255, 255, 255))
    flat = rectify_plate(img, _detection([tuple(map(float, p)) for p in quad]))  # type: ignore[misc]
    assert flat.shape[1] > 3 * flat.shape[0]
    inner = flat[3:-3, 3:-3]
    assert inner.mean() > 250


def test_join_rows_puts_upper_strip_left_of_lower() -> None:
    plate = np.zeros((120, 200, 3), dtype=np.uint8)
    plate[:40] = 100  # upper row
    plate[40:] = 200  # lower row
    joined = join_rows(plate)
    assert joined.shape == (80, 400, 3)
    assert joined[:, :200].mean() < joined[:, 200:].mean()
    # double-row detections are joined by rectify_plate
    det = _detection([(0, 0), (200, 0), (200, 120), (0, 120)], double=True)
    assert rectify_plate(plate, det).shape[1] == 2 * 200


class _Detector:
    def __init__(self, n: int) -> None:
        self.n = n

    def detect(self, image: Image) -> list[PlateDetection]:
        return [_detection([(i, 0), (i + 40, 0), (i + 40, 12), (i, 12)]) for i in range(self.n)]


class _Reader:
    def __init__(self, reads: list[PlateText]) -> None:
        self.reads = list(reads)

    def read(self, plate: Image) -> PlateText:
        return self.reads.pop(0)


def test_recognizer_filters_by_grammar_and_confidence() -> None:
    reads = [
        PlateText("粤B·6R678", 0.95, "blue"),  # valid
        PlateText("危险品", 0.99, "yellow"),  # sign: never a plate
        PlateText("B16", 0.3, "blue"),  # invalid and unsure: dropped
        PlateText("B16", 0.9, "blue"),  # invalid but sure: kept, flagged
        PlateText("粤B6R678", 0.2, "blue"),  # valid even when unsure
    ]
    rec = PlateRecognizer(_Detector(len(reads)), _Reader(reads), PlateConfig(min_confidence=0.6))
    scan = rec.scan(np.zeros((20, 60, 3), dtype=np.uint8))
    assert [(p.text, p.valid, p.kind) for p in scan.plates] == [
        ("粤B6R678", True, "regular"),
        ("B16", False, None),
        ("粤B6R678", True, "regular"),
    ]
    assert scan.plates[0].raw_text == "粤B·6R678"
    assert len(scan.rejected) == 2


def test_detector_refuses_a_contract_it_does_not_implement() -> None:
    manifest = load_manifest()
    entry = manifest.by_id("y5fu_640x")
    stretched = entry.model_copy(
        update={"input": entry.input.model_copy(update={"resize": "stretch"})}
    )
    with pytest.raises(ModelPackError, match="letterbox_center"):
        Y5fuPlateDetector.create(None, stretched, 0.3, 0.5)


def test_reader_needs_alphabet_and_labels() -> None:
    entry = load_manifest().by_id("plate_rec_color").model_copy(update={"alphabet": None})
    with pytest.raises(ModelPackError, match="alphabet"):
        PlateRecColorReader.create(None, entry)
