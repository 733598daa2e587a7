"""Looking again, closer: detections of a small analysis picture re-found on a larger one.

A camera's sub-stream (e.g. 640x360) is cheap to analyse, but a face there is a third of
its size on the main stream (1080p): ~33 px instead of ~100 px, too small for the
embedder. Where the sub-stream saw a face, the detector looks again at a square region
of the main picture around it, and the face is aligned and embedded from there. Pure
geometry here; the callers choose the detector and the pictures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edge.vision.tiles import T, merge, shift
from edge.vision.types import Box, FaceDetection, Image, PlateDetection

#: a region is this many times the (scaled) box's longer side, so the detector sees
#: the whole head however the small box was cut
REGION_CONTEXT = 2.5
#: and at least this many main-picture pixels, so that a tiny box still gives the
#: detector a face-sized view
REGION_MIN_PX = 96


@dataclass(frozen=True, slots=True)
class Scale:
    """How a larger picture relates to the analysed one (same view, other size)."""

    sx: float
    sy: float

    @staticmethod
    def between(small: Image, large: Image) -> Scale:
        return Scale(large.shape[1] / small.shape[1], large.shape[0] / small.shape[0])

    def up(self, box: Box) -> Box:
        return Box(box.x1 * self.sx, box.y1 * self.sy, box.x2 * self.sx, box.y2 * self.sy)

    def down(self, box: Box) -> Box:
        return Box(box.x1 / self.sx, box.y1 / self.sy, box.x2 / self.sx, box.y2 / self.sy)

    def down_face(self, d: FaceDetection) -> FaceDetection:
        m = [(x / self.sx, y / self.sy) for x, y in d.landmarks]
        return FaceDetection(self.down(d.box), d.score, (m[0], m[1], m[2], m[3], m[4]))

    def up_plate(self, d: PlateDetection) -> PlateDetection:
        c = [(x * self.sx, y * self.sy) for x, y in d.corners]
        return PlateDetection(self.up(d.box), (c[0], c[1], c[2], c[3]), d.score, d.double_row)


def region_around(box: Box, width: int, height: int) -> Box:
    """A square of ``REGION_CONTEXT`` times ``box`` (at least ``REGION_MIN_PX``) centred
    on it, shifted to lie inside a ``width`` x ``height`` picture where it fits."""
    side = min(max(REGION_CONTEXT * max(box.width, box.height), REGION_MIN_PX), width, height)
    cx, cy = box.center
    x1 = min(max(cx - side / 2, 0.0), width - side)
    y1 = min(max(cy - side / 2, 0.0), height - side)
    return Box(x1, y1, x1 + side, y1 + side)


def detect_in_regions(
    detect: Callable[[Image], Sequence[T]],
    image: Image,
    regions: Sequence[Box],
    merge_iou: float = 0.5,
) -> list[T]:
    """``detect`` on each region of ``image``, in ``image`` coordinates; a target inside
    several overlapping regions is reported once (the most confident box)."""
    found: list[T] = []
    for r in regions:
        x1, y1, x2, y2 = int(r.x1), int(r.y1), int(np.ceil(r.x2)), int(np.ceil(r.y2))
        if x2 <= x1 or y2 <= y1:
            continue
        crop = np.ascontiguousarray(image[y1:y2, x1:x2])
        found.extend(shift(d, float(x1), float(y1)) for d in detect(crop))
    return merge(found, merge_iou)


def covered(box: Box, others: Sequence[Box], iou: float = 0.3) -> bool:
    """Whether one of ``others`` is (a detection of) the same target as ``box``."""
    return any(box.iou(o) >= iou for o in others)
