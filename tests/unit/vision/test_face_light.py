"""Dark-face stretch before embedding (edge.vision.face_light) and unit rows."""

from __future__ import annotations

import numpy as np

from edge.vision.face_light import lift_dark, mean_luma, stretch_luma
from edge.vision.faces import unit_rows


def _dark_face(seed: int = 0) -> np.ndarray:
    """A 112x112 crop whose grey levels span 10-40, like a street face at night."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(10, 40, 112, dtype=np.float32)[None, :, None]
    img = np.broadcast_to(ramp, (112, 112, 3)) + rng.normal(0, 1, (112, 112, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_stretch_maps_the_luma_range_onto_the_full_range() -> None:
    dark = _dark_face()
    out = stretch_luma(dark)
    assert out.shape == dark.shape and out.dtype == np.uint8
    grey = out.mean(axis=2)
    assert np.percentile(grey, 1) <= 8 and np.percentile(grey, 99) >= 247
    assert 100 < mean_luma(out) < 155
    assert mean_luma(dark) < 30


def test_stretch_keeps_the_order_of_levels_and_of_channels() -> None:
    dark = _dark_face()
    dark[:, :, 2] = np.minimum(dark[:, :, 2].astype(np.int32) + 6, 255).astype(np.uint8)
    out = stretch_luma(dark).astype(np.int32)
    # one monotone map for every channel: a redder pixel stays at least as red
    assert np.all(out[:, :, 2] >= out[:, :, 0])
    row = out[56, :, 1]
    assert np.all(np.diff(row[::8]) >= -40), "levels reordered beyond the noise"
    assert row[-1] > row[0]


def test_flat_crop_is_left_alone() -> None:
    flat = np.full((112, 112, 3), 20, dtype=np.uint8)
    assert stretch_luma(flat) is flat


def test_lift_dark_only_below_its_limit() -> None:
    dark = _dark_face()
    bright = np.clip(_dark_face().astype(np.int32) + 100, 0, 255).astype(np.uint8)
    assert lift_dark(bright, 60.0) is bright
    assert lift_dark(dark, 0.0) is dark, "0 means off"
    assert not np.array_equal(lift_dark(dark, 60.0), dark)
    assert np.array_equal(lift_dark(dark, 60.0), stretch_luma(dark))


def test_unit_rows() -> None:
    rows = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0], [-1.0, 0.0]], dtype=np.float32))
    assert rows.dtype == np.float32
    assert np.allclose(rows, [[0.6, 0.8], [0.0, 0.0], [-1.0, 0.0]])
