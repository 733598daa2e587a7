"""Redaction destroys the region's information and touches nothing else."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.vision.privacy import MAX_BLOCKS, redact, redact_polygon
from edge.vision.types import Box, Image


def _noise(h: int = 240, w: int = 320, seed: int = 1) -> Image:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _text_image() -> Image:
    """Black-on-white 'plate' text: the kind of detail redaction must remove."""
    img = np.full((240, 320, 3), 255, dtype=np.uint8)
    cv2.putText(img, "B 12345", (70, 135), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 3)
    return img


def _corr(a: Image, b: Image) -> float:
    x = a.astype(np.float64).ravel()
    y = b.astype(np.float64).ravel()
    if x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


BOX = Box(100, 80, 220, 160)
# BOX grown by EXPAND (1.15) and rounded outwards
INNER = (slice(80, 160), slice(100, 220))
OUTER = (slice(74, 166), slice(91, 229))


@pytest.mark.parametrize("method", ["pixelate", "blur"])
def test_outside_untouched_and_input_unchanged(method: str) -> None:
    img = _noise()
    before = img.copy()
    out = redact(img, [BOX], method)  # type: ignore[arg-type]
    assert out is not img
    assert np.array_equal(img, before)
    outside = np.ones(img.shape[:2], dtype=bool)
    outside[OUTER] = False
    assert np.array_equal(out[outside], img[outside])
    assert not np.array_equal(out[INNER], img[INNER])


@pytest.mark.parametrize("method", ["pixelate", "blur"])
def test_fine_detail_is_gone(method: str) -> None:
    img = _noise()
    out = redact(img, [BOX], method)  # type: ignore[arg-type]
    assert abs(_corr(img[INNER], out[INNER])) < 0.1


def test_blur_leaves_no_text_edges() -> None:
    # (pixelation has block edges by design; test_pixelation_is_coarse covers it)
    img = _text_image()
    out = redact(img, [BOX], "blur")
    gray_before = cv2.cvtColor(img[INNER], cv2.COLOR_BGR2GRAY)
    gray_after = cv2.cvtColor(out[INNER], cv2.COLOR_BGR2GRAY)
    edges_before = cv2.Canny(gray_before, 50, 150).mean()
    edges_after = cv2.Canny(gray_after, 50, 150).mean()
    assert edges_after < 0.2 * edges_before


def test_pixelation_is_coarse() -> None:
    img = _noise()
    out = redact(img, [BOX])
    region = out[OUTER]
    # at most MAX_BLOCKS distinct columns/rows of blocks across the grown box
    col_changes = np.count_nonzero(np.any(region[:, 1:] != region[:, :-1], axis=(0, 2)))
    row_changes = np.count_nonzero(np.any(region[1:] != region[:-1], axis=(1, 2)))
    assert col_changes <= MAX_BLOCKS - 1
    assert row_changes <= MAX_BLOCKS - 1


@pytest.mark.parametrize("method", ["pixelate", "blur"])
def test_redacted_plate_cannot_be_told_from_another(method: str) -> None:
    a = _text_image()
    b = np.full_like(a, 255)
    cv2.putText(b, "B 98765", (70, 135), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 3)
    red = redact(a, [BOX], method)[INNER]  # type: ignore[arg-type]
    # the redaction resembles the true text no more than a different one
    assert abs(_corr(red, a[INNER]) - _corr(red, b[INNER])) < 0.1


def test_boxes_outside_or_empty_are_ignored() -> None:
    img = _noise()
    out = redact(img, [Box(-50, -50, -10, -10), Box(10, 10, 10, 10), Box(400, 10, 500, 50)])
    assert np.array_equal(out, img)


def test_box_crossing_the_border_is_clipped() -> None:
    img = _noise()
    out = redact(img, [Box(280, 200, 400, 300)])
    assert out.shape == img.shape
    assert not np.array_equal(out[200:, 290:], img[200:, 290:])
    assert np.array_equal(out[:150], img[:150])


def test_polygon_only_changes_inside() -> None:
    img = _noise()
    quad = [(120.0, 90.0), (200.0, 100.0), (200.0, 140.0), (120.0, 130.0)]
    out = redact_polygon(img, [quad])
    mask = np.zeros(img.shape[:2], dtype=np.uint8)
    grown = np.array(quad) - np.mean(quad, axis=0)
    grown = np.round(grown * 1.3 + np.mean(quad, axis=0)).astype(np.int32)
    cv2.fillPoly(mask, [grown], 1)
    outside = mask == 0
    assert np.array_equal(out[outside], img[outside])
    assert abs(_corr(img[100:130, 130:190], out[100:130, 130:190])) < 0.35


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        redact(np.zeros((4, 4, 3), dtype=np.float32), [])
    with pytest.raises(ValueError, match="pixelate, blur"):
        redact(_noise(), [], "smudge")  # type: ignore[arg-type]
