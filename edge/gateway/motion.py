"""Motion gating: decide per frame which detectors need to look at it.

A cheap grey thumbnail of each frame is compared with the thumbnail of the last frame
a detector actually ran on. When too few pixels changed since then, that detector's
previous answer still stands (its tracks stay alive, untouched) and it is skipped.
While things move, each detector runs at most at its configured rate and the tracker
predicts boxes in between. Every detector also runs at least every ``keyframe_s``.

The thumbnails live only in memory (a few KB of grey pixels at 1/6 scale, too coarse
to recognise anyone) and are never stored or sent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.gateway.config import AnalysisConfig, MotionConfig
from edge.vision.types import Box, Image

Thumb = NDArray[np.uint8]
#: grows ignored boxes a little more than the redaction does (edge.vision.privacy)
IGNORE_GROW = 1.25


def thumbnail(image: Image, width: int) -> Thumb:
    """Grey, averaged (which also smooths sensor noise), ``width`` pixels wide."""
    h, w = image.shape[:2]
    tw = min(width, w)
    th = max(1, round(h * tw / w))
    src: NDArray[np.integer[Any] | np.floating[Any]] = image
    if w > 2 * tw:
        # area-averaging a 1080p frame in one go costs ~2 ms; a bilinear step to twice
        # the size first (4 samples per pixel) then an area step costs ~0.5 ms
        src = cv2.resize(image, (2 * tw, 2 * th), interpolation=cv2.INTER_LINEAR)
    small = cv2.resize(src, (tw, th), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    return np.asarray(grey, dtype=np.uint8)


def changed_fraction(a: Thumb, b: Thumb, pixel_threshold: int) -> float:
    """Fraction of pixels whose grey level differs by more than ``pixel_threshold``."""
    if a.shape != b.shape:
        return 1.0  # the camera changed resolution: everything is new
    diff = cv2.absdiff(a, b)
    return float(np.count_nonzero(diff > pixel_threshold)) / float(diff.size)


@dataclass
class _Detector:
    period_us: int | None  # None: no rate cap
    reference: Thumb | None = None
    reference_shape: tuple[int, ...] = ()
    last_run_us: int | None = None
    next_due_us: int | None = None
    follow_up: bool = False  # a track just started: look again at the next moving frame
    runs: int = 0
    still_skips: int = 0  # nothing moved since the last run
    rate_skips: int = 0  # moved, but the detector ran too recently


class MotionGate:
    """One per camera; tracks every detector kind ("faces", "plates") separately."""

    def __init__(self, config: AnalysisConfig) -> None:
        self._motion: MotionConfig = config.motion
        rates = {"faces": config.face_detect_fps, "plates": config.plate_detect_fps}
        self._kinds = {
            k: _Detector(None if fps is None else round(1_000_000 / fps))
            for k, fps in rates.items()
        }
        self._thumb: Thumb | None = None
        self._shape: tuple[int, ...] = ()

    def look(self, image: Image, ignore: Sequence[Box] = ()) -> None:
        """Take this frame's thumbnail (once per frame, shared by every detector).

        ``ignore``: regions that never count as motion. Privacy zones are redacted
        with fresh noise on every frame, so without this they would always "move"."""
        thumb = thumbnail(image, self._motion.thumb_width)
        h, w = image.shape[:2]
        sy, sx = thumb.shape[0] / h, thumb.shape[1] / w
        for box in ignore:
            b = box.expand(IGNORE_GROW).clip(w, h)
            x1, y1 = math.floor(b.x1 * sx), math.floor(b.y1 * sy)
            thumb[y1 : math.ceil(b.y2 * sy), x1 : math.ceil(b.x2 * sx)] = 0
        self._thumb = thumb
        self._shape = image.shape

    def due(self, kind: str, captured_at_us: int) -> bool:
        """Whether ``kind``'s detector should run on the frame given to ``look``."""
        d = self._kinds[kind]
        if d.reference is None or d.last_run_us is None or self._thumb is None:
            return True
        if d.reference_shape != self._shape:
            return True  # the camera changed resolution: everything is new
        if captured_at_us - d.last_run_us >= self._motion.keyframe_s * 1_000_000:
            return True
        if self._motion.enabled:
            moved = changed_fraction(self._thumb, d.reference, self._motion.pixel_threshold)
            if moved < self._motion.min_area or moved == 0.0:
                d.still_skips += 1
                return False
        if d.follow_up:
            d.follow_up = False
            return True
        p, due = d.period_us, d.next_due_us
        # a frame slightly early for its slot still takes it (capture jitter)
        if p is not None and due is not None and captured_at_us < due - p // 10:
            d.rate_skips += 1
            return False
        return True

    def ran(self, kind: str, captured_at_us: int) -> None:
        """``kind``'s detector looked at the current frame: it is the new reference."""
        d = self._kinds[kind]
        d.reference = self._thumb
        d.reference_shape = self._shape
        d.last_run_us = captured_at_us
        d.runs += 1
        p, due = d.period_us, d.next_due_us
        if p is None:
            return
        if due is None or captured_at_us > due + p:
            d.next_due_us = captured_at_us + p  # first run, or after a pause
        elif captured_at_us >= due - p // 10:
            d.next_due_us = due + p  # on schedule: keep the average rate
        # else an extra run (keyframe, evidence completion): the schedule stays

    def follow_up(self, kind: str) -> None:
        """Run ``kind`` on the next frame that moved, whatever the rate cap: a new
        track's second sighting, one frame later, gives the tracker its velocity, so
        the track survives the longer gaps that follow instead of splitting in two."""
        self._kinds[kind].follow_up = True

    def counts(self, kind: str) -> tuple[int, int, int]:
        """(runs, skipped because still, skipped because of the rate cap)."""
        d = self._kinds[kind]
        return d.runs, d.still_skips, d.rate_skips

    def reset(self) -> None:
        """End of stream: the next frame starts from scratch."""
        self._thumb = None
        for d in self._kinds.values():
            d.reference = None
            d.last_run_us = None
            d.next_due_us = None
            d.follow_up = False
