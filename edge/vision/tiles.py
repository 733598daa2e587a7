"""Detection where the pixels are: a second pass over overlapping tiles of a large frame.

A 1080p frame squeezed into a 640 px detector input shrinks everything three times: a
plate 60 px wide becomes 20 px and a 40 px face 13 px, below what y5fu and SCRFD find.
Tiles of ``size`` source pixels keep them at 2/3 of their size or better. Tile
detections are shifted back to frame coordinates and merged with the full-frame pass
by non-maximum suppression, so a target seen by both is reported once (the more
confident box wins). Pure geometry here; the wrappers take any detector.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from edge.config import TileConfig
from edge.vision.protocols import FaceDetector, PlateDetector
from edge.vision.types import Box, FaceDetection, Image, PlateDetection, Point

T = TypeVar("T", FaceDetection, PlateDetection)
#: a tile detection this close to an inner tile edge was cut by it
EDGE_MARGIN_PX = 2.0


def _starts(length: int, size: int, overlap: int) -> list[int]:
    """Evenly spaced tile origins covering ``length`` with at least ``overlap`` shared."""
    if length <= size:
        return [0]
    n = math.ceil((length - overlap) / (size - overlap))
    step = (length - size) / (n - 1)
    return [round(i * step) for i in range(n)]


def tile_grid(width: int, height: int, config: TileConfig) -> list[Box]:
    """Tiles of a ``width`` x ``height`` frame; none when the frame is small enough."""
    if max(width, height) < config.min_frame_px:
        return []
    size, overlap = config.size, config.overlap
    return [
        Box(float(x), float(y), float(min(x + size, width)), float(min(y + size, height)))
        for y in _starts(height, size, overlap)
        for x in _starts(width, size, overlap)
    ]


def _shift_points(points: Sequence[Point], dx: float, dy: float) -> list[Point]:
    return [(x + dx, y + dy) for x, y in points]


def shift(detection: T, dx: float, dy: float) -> T:
    """The same detection in the coordinates of an image ``(dx, dy)`` larger."""
    b = detection.box
    box = Box(b.x1 + dx, b.y1 + dy, b.x2 + dx, b.y2 + dy)
    if isinstance(detection, FaceDetection):
        m = _shift_points(detection.landmarks, dx, dy)
        return FaceDetection(box, detection.score, (m[0], m[1], m[2], m[3], m[4]))
    c = _shift_points(detection.corners, dx, dy)
    return PlateDetection(box, (c[0], c[1], c[2], c[3]), detection.score, detection.double_row)


def merge(detections: Sequence[T], iou: float) -> list[T]:
    """Greedy NMS, best score first: a target seen by several passes is reported once."""
    kept: list[T] = []
    for d in sorted(detections, key=lambda d: -d.score):
        if all(d.box.iou(k.box) <= iou for k in kept):
            kept.append(d)
    return kept


def cut_by_tile(box: Box, tile: Box, width: int, height: int) -> bool:
    """Whether ``box`` touches an edge of ``tile`` inside the frame: the tile cut the
    target, and the overlap guarantees a neighbour (or the full frame) sees it whole."""
    m = EDGE_MARGIN_PX
    return (
        (tile.x1 > 0 and box.x1 <= tile.x1 + m)
        or (tile.y1 > 0 and box.y1 <= tile.y1 + m)
        or (tile.x2 < width and box.x2 >= tile.x2 - m)
        or (tile.y2 < height and box.y2 >= tile.y2 - m)
    )


def detect_tiled(
    detect: Callable[[Image], Sequence[T]],
    image: Image,
    config: TileConfig,
    detect_tile: Callable[[Image], Sequence[T]] | None = None,
) -> list[T]:
    """Full-frame pass plus one pass per tile (``detect_tile``, default ``detect``), merged."""
    tile_pass = detect_tile or detect
    found = list(detect(image))
    h, w = image.shape[:2]
    for tile in tile_grid(w, h, config):
        x1, y1, x2, y2 = int(tile.x1), int(tile.y1), int(tile.x2), int(tile.y2)
        crop = np.ascontiguousarray(image[y1:y2, x1:x2])
        for d in tile_pass(crop):
            moved = shift(d, float(x1), float(y1))
            if not cut_by_tile(moved.box, tile, w, h):
                found.append(moved)
    return merge(found, config.merge_iou)


class TiledFaceDetector:
    """FaceDetector: the wrapped detector on the full frame, ``tile_pass`` (default the
    same detector) on its tiles."""

    def __init__(
        self, inner: FaceDetector, config: TileConfig, tile_pass: FaceDetector | None = None
    ) -> None:
        self._inner = inner
        self._config = config
        self._tile_pass = tile_pass or inner

    @property
    def model_id(self) -> str:
        return str(getattr(self._inner, "model_id", type(self._inner).__name__))

    def detect(self, image: Image) -> list[FaceDetection]:
        return detect_tiled(self._inner.detect, image, self._config, self._tile_pass.detect)


class TiledPlateDetector:
    """PlateDetector: the wrapped detector on the full frame and on its tiles."""

    def __init__(self, inner: PlateDetector, config: TileConfig) -> None:
        self._inner = inner
        self._config = config

    @property
    def model_id(self) -> str:
        return str(getattr(self._inner, "model_id", type(self._inner).__name__))

    def detect(self, image: Image) -> list[PlateDetection]:
        return detect_tiled(self._inner.detect, image, self._config)
