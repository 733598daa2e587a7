"""Embedder input preparation for dark faces (pure numpy/OpenCV, no models).

A face at night reaches the embedder as a 112x112 crop whose pixels span a few tens
of grey levels (street night scenes: mean luma 9-27 for 80 % of the crops, against
96-170 by day), so after the embedder's fixed normalisation most of its input range
is unused. Stretching the crop's own luma range back to 0-255 before embedding raised
night rank-1 on the street suite from 76 % to 86 % and lowered the best stranger
similarity (docs/accuracy.md, "Face embedding options"). CLAHE did as well on rank-1
but worse at the threshold; a gamma lift was worse than nothing (it amplifies the
sensor noise of the darkest pixels most).
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.vision.types import Image

#: the stretch maps these luma percentiles to 0 and 255 (ignores a few hot/dead pixels)
STRETCH_LOW_PCT = 1.0
STRETCH_HIGH_PCT = 99.0
#: a crop whose range is narrower than this is flat (a wall, a black frame): left as is
MIN_RANGE = 4.0


def mean_luma(crop: Image) -> float:
    """Mean grey level (0-255) of a BGR crop."""
    return float(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).mean())


def stretch_luma(crop: Image) -> Image:
    """The crop with its 1st-99th luma percentiles mapped linearly onto 0-255.

    The same map is applied to the three channels, so hues are kept; a flat crop
    (range < ``MIN_RANGE``) is returned unchanged rather than amplifying pure noise.
    """
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    lo, hi = (float(v) for v in np.percentile(grey, [STRETCH_LOW_PCT, STRETCH_HIGH_PCT]))
    if hi - lo < MIN_RANGE:
        return crop
    levels = (np.arange(256, dtype=np.float32) - lo) * (255.0 / (hi - lo))
    lut = np.clip(levels, 0.0, 255.0).astype(np.uint8)
    return np.ascontiguousarray(cv2.LUT(crop, lut))


def lift_dark(crop: Image, below: float) -> Image:
    """``stretch_luma`` when the crop's mean luma is under ``below`` (0 = never)."""
    if below <= 0.0 or mean_luma(crop) >= below:
        return crop
    return stretch_luma(crop)
