"""Tiling geometry and merging (pure logic; a fake detector stands in for a model)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from pydantic import ValidationError

from edge.config import TileConfig
from edge.vision.tiles import cut_by_tile, detect_tiled, merge, shift, tile_grid
from edge.vision.types import Box, FaceDetection, Image, PlateDetection


def _plate(x1: float, y1: float, x2: float, y2: float, score: float) -> PlateDetection:
    corners = ((x1, y1), (x2, y1), (x2, y2), (x1, y2))
    return PlateDetection(Box(x1, y1, x2, y2), corners, score, False)


def test_1080p_frame_gets_two_overlapping_square_tiles() -> None:
    tiles = tile_grid(1920, 1080, TileConfig(enabled=True, size=1080, overlap=192))
    assert tiles == [Box(0, 0, 1080, 1080), Box(840, 0, 1920, 1080)]


def test_tiles_cover_the_frame_with_at_least_the_overlap() -> None:
    cfg = TileConfig(enabled=True, size=640, overlap=128)
    tiles = tile_grid(1920, 1080, cfg)
    xs = sorted({(t.x1, t.x2) for t in tiles})
    assert xs[0][0] == 0 and xs[-1][1] == 1920
    assert all(a[1] - b[0] >= 128 for a, b in pairwise(xs))
    assert max(t.y2 for t in tiles) == 1080 and len(tiles) == len(xs) * 2


def test_small_frames_are_not_tiled() -> None:
    assert tile_grid(1280, 720, TileConfig(enabled=True, min_frame_px=1281)) == []


def test_overlap_must_be_smaller_than_the_tile() -> None:
    with pytest.raises(ValidationError, match="overlap 960 must be smaller than the tile size"):
        TileConfig(size=960, overlap=960)


def test_shift_moves_boxes_corners_and_landmarks() -> None:
    p = shift(_plate(1, 2, 3, 4, 0.9), 10, 20)
    assert p.box == Box(11, 22, 13, 24) and p.corners[2] == (13, 24)
    marks = ((1.0, 1.0),) * 5
    f = shift(FaceDetection(Box(0, 0, 2, 2), 0.8, marks), 5, 5)  # type: ignore[arg-type]
    assert f.box == Box(5, 5, 7, 7) and f.landmarks[4] == (6.0, 6.0) and f.score == 0.8


def test_merge_keeps_the_best_of_twins() -> None:
    whole = _plate(100, 100, 160, 120, 0.8)
    twin = _plate(101, 100, 161, 120, 0.9)
    other = _plate(500, 100, 560, 120, 0.5)
    assert merge([whole, twin, other], 0.5) == [twin, other]


def test_boxes_cut_by_an_inner_tile_edge_are_dropped_not_frame_edges() -> None:
    tile = Box(840, 0, 1920, 1080)
    assert cut_by_tile(Box(840, 10, 870, 30), tile, 1920, 1080)  # left edge is inside
    assert not cut_by_tile(Box(1890, 0, 1920, 30), tile, 1920, 1080)  # frame corner
    assert not cut_by_tile(Box(900, 10, 960, 30), tile, 1920, 1080)


def test_a_target_cut_by_one_tile_is_reported_whole_once() -> None:
    image: Image = np.zeros((1080, 1920, 3), dtype=np.uint8)
    image[500:520, 1050:1110] = 255  # straddles the first tile's right edge (1080)

    def detect(img: Image) -> list[PlateDetection]:
        ys, xs = np.nonzero(img[:, :, 0])
        if not len(xs) or img.shape[1] == 1920:
            return []
        x1, x2 = float(xs.min()), float(xs.max()) + 1
        return [_plate(x1, float(ys.min()), x2, float(ys.max()) + 1, 0.9)]

    found = detect_tiled(detect, image, TileConfig(enabled=True, size=1080, overlap=192))
    assert [d.box for d in found] == [Box(1050, 500, 1110, 520)]


def test_detect_tiled_maps_tile_hits_to_frame_coordinates() -> None:
    image: Image = np.zeros((1080, 1920, 3), dtype=np.uint8)
    image[500:520, 1500:1560] = 255  # a bright "plate" only a tile pass "sees"
    calls: list[tuple[int, int]] = []

    def detect(img: Image) -> list[PlateDetection]:
        calls.append(img.shape[:2])
        if img.shape[1] == 1920:
            return []  # the full frame pass misses it
        ys, xs = np.nonzero(img[:, :, 0])
        if not len(xs):
            return []
        return [
            _plate(float(xs.min()), float(ys.min()), float(xs.max()) + 1, float(ys.max()) + 1, 0.7)
        ]

    found = detect_tiled(detect, image, TileConfig(enabled=True, size=1080, overlap=192))
    assert calls == [(1080, 1920), (1080, 1080), (1080, 1080)]
    assert [d.box for d in found] == [Box(1500, 500, 1560, 520)]
