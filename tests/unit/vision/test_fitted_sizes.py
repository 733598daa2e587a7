"""SCRFD's input cut to the picture's aspect: same scale, less padding."""

from __future__ import annotations

from edge.vision.faces import fitted_sizes


def test_landscape_frames_keep_the_width_and_cut_the_height_to_a_stride() -> None:
    assert fitted_sizes([(128, 128), (640, 640)], 1920, 1080) == [(128, 96), (640, 384)]
    assert fitted_sizes([(640, 640)], 640, 360) == [(640, 384)]


def test_portrait_and_square_pictures() -> None:
    assert fitted_sizes([(640, 640)], 1080, 1920) == [(384, 640)]
    assert fitted_sizes([(640, 640)], 500, 500) == [(640, 640)]


def test_never_larger_than_the_configured_square() -> None:
    assert fitted_sizes([(640, 640)], 1000, 999) == [(640, 640)]
    assert fitted_sizes([(320, 320)], 4, 3) == [(320, 256)]
