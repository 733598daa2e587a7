"""Irreversible redaction of faces and plates that did not match anything.

Every region goes through a bottleneck of at most ``MAX_BLOCKS`` blocks across, with
noise added and colours quantised, before it is drawn back: what leaves this module
holds a handful of coarse colours per region, from which no face or plate can be
recovered (unlike a plain Gaussian blur, which deconvolution can partly undo).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, Literal, cast

import cv2
import numpy as np

from edge.vision.types import Box, Image, Point

Method = Literal["pixelate", "blur"]

MAX_BLOCKS: Final = 8
#: regions grow by this factor first, so a slightly tight box still covers the object
EXPAND: Final = 1.15
_QUANT: Final = 32  # colour levels step after averaging
_NOISE: Final = 12  # +- uniform noise on block colours before quantising


def _scramble(region: Image, method: Method, rng: np.random.Generator) -> Image:
    """The redacted replacement for ``region`` (same shape)."""
    h, w = region.shape[:2]
    side = max(h, w)
    cols = max(1, min(MAX_BLOCKS, round(MAX_BLOCKS * w / side)))
    rows = max(1, min(MAX_BLOCKS, round(MAX_BLOCKS * h / side)))
    small = cv2.resize(region, (cols, rows), interpolation=cv2.INTER_AREA).astype(np.int16)
    small += rng.integers(-_NOISE, _NOISE + 1, size=small.shape, dtype=np.int16)
    small = (small // _QUANT) * _QUANT + _QUANT // 2
    coarse = np.clip(small, 0, 255).astype(np.uint8)
    if method == "pixelate":
        return cast(Image, cv2.resize(coarse, (w, h), interpolation=cv2.INTER_NEAREST))
    smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    sigma = max(1.0, side / MAX_BLOCKS / 2)
    return cast(Image, cv2.GaussianBlur(smooth, (0, 0), sigma))


def _pixel_box(box: Box, width: int, height: int) -> tuple[int, int, int, int] | None:
    b = box.expand(EXPAND).clip(width, height)
    x1, y1 = math.floor(b.x1), math.floor(b.y1)
    x2, y2 = math.ceil(b.x2), math.ceil(b.y2)
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None
    return x1, y1, x2, y2


def _check(image: Image, method: str) -> None:
    if image.ndim not in (2, 3) or image.dtype != np.uint8:
        raise ValueError(f"expected an HxW[xC] uint8 image, got {image.shape} {image.dtype}")
    if method not in ("pixelate", "blur"):
        raise ValueError(f"redaction method {method!r} unknown (allowed: pixelate, blur)")


def redact(image: Image, boxes: Sequence[Box], method: Method = "pixelate") -> Image:
    """A new image in which every box (grown a little, clipped) is destroyed."""
    _check(image, method)
    out = image.copy()
    rng = np.random.default_rng()
    height, width = image.shape[:2]
    for box in boxes:
        px = _pixel_box(box, width, height)
        if px is None:
            continue
        x1, y1, x2, y2 = px
        out[y1:y2, x1:x2] = _scramble(out[y1:y2, x1:x2], method, rng)
    return out


def redact_polygon(
    image: Image, polygons: Sequence[Sequence[Point]], method: Method = "pixelate"
) -> Image:
    """Like :func:`redact` for quadrilaterals (plate corners): only the grown polygon changes."""
    _check(image, method)
    out = image.copy()
    rng = np.random.default_rng()
    height, width = image.shape[:2]
    for polygon in polygons:
        pts = np.asarray(polygon, dtype=np.float32).reshape(-1, 2)
        if len(pts) < 3:
            continue
        centre = pts.mean(axis=0)
        grown = (pts - centre) * EXPAND + centre
        x1, y1 = grown.min(axis=0)
        x2, y2 = grown.max(axis=0)
        px = _pixel_box(Box(float(x1), float(y1), float(x2), float(y2)), width, height)
        if px is None:
            continue
        bx1, by1, bx2, by2 = px
        mask = np.zeros((by2 - by1, bx2 - bx1), dtype=np.uint8)
        local = np.round(grown - [bx1, by1]).astype(np.int32)
        cv2.fillPoly(mask, [local], 1)
        region = out[by1:by2, bx1:bx2]
        scrambled = _scramble(region, method, rng)
        inside = mask.astype(bool)
        region[inside] = scrambled[inside]
    return out
