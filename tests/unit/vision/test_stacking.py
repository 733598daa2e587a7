"""Two frames through one detector run (edge.vision.stacking): pure geometry."""

from __future__ import annotations

import numpy as np

from edge.vision.stacking import STACK_GAP_PX, can_stack, detect_stacked, stack_scale
from edge.vision.types import Box, Image, PlateDetection


def _det(x1: float, y1: float, x2: float, y2: float, score: float = 0.9) -> PlateDetection:
    return PlateDetection(
        Box(x1, y1, x2, y2), ((x1, y1), (x2, y1), (x2, y2), (x1, y2)), score, False
    )


def test_small_wide_frames_stack_and_1080p_frames_do_not() -> None:
    sub = np.zeros((360, 640, 3), np.uint8)
    full = np.zeros((1080, 1920, 3), np.uint8)
    assert round(stack_scale(sub, sub, 640), 3) == round(640 / (720 + STACK_GAP_PX), 3)
    assert can_stack(sub, sub, 640)
    assert not can_stack(full, full, 640)  # 0.29 of their size instead of 0.33 alone
    assert not can_stack(sub, np.zeros((360, 480, 3), np.uint8), 640)  # widths differ
    assert not can_stack(np.zeros((640, 640, 3), np.uint8), np.zeros((640, 640, 3), np.uint8), 640)


def test_detections_go_back_to_their_own_frame() -> None:
    a = np.full((360, 640, 3), 10, np.uint8)
    b = np.full((360, 640, 3), 20, np.uint8)
    seen: list[Image] = []
    below = 360 + STACK_GAP_PX

    def detect(image: Image) -> list[PlateDetection]:
        seen.append(image)
        return [
            _det(100, 300, 160, 330),  # in a
            _det(200, below + 40, 260, below + 70),  # in b
            _det(300, 350, 360, below + 5),  # centre in the blank band: neither
            _det(400, below - 4, 460, below + 30),  # centre in b, top cut by the band
        ]

    first, second = detect_stacked(detect, a, b)
    assert len(seen) == 1 and seen[0].shape == (720 + STACK_GAP_PX, 640, 3)
    assert not seen[0][360:below].any() and (seen[0][:360] == 10).all()
    assert [d.box for d in first] == [Box(100, 300, 160, 330)]
    assert [d.box for d in second] == [Box(200, 40, 260, 70), Box(400, 0, 460, 30)]
    assert second[1].corners[0] == (400, 0)  # clipped onto b
