"""Regions around faces seen on a smaller picture (edge.vision.regions): pure geometry."""

from __future__ import annotations

import numpy as np

from edge.vision.regions import REGION_MIN_PX, Scale, covered, detect_in_regions, region_around
from edge.vision.types import Box, FaceDetection, Image, PlateDetection


def test_scale_maps_boxes_landmarks_and_corners_both_ways() -> None:
    s = Scale.between(np.zeros((360, 640, 3), np.uint8), np.zeros((1080, 1920, 3), np.uint8))
    assert (s.sx, s.sy) == (3.0, 3.0)
    assert s.up(Box(10, 20, 30, 40)) == Box(30, 60, 90, 120)
    face = FaceDetection(
        Box(30, 60, 90, 120), 0.9, ((33, 66), (60, 66), (45, 90), (36, 105), (57, 105))
    )
    down = s.down_face(face)
    assert down.box == Box(10, 20, 30, 40) and down.landmarks[0] == (11, 22) and down.score == 0.9
    plate = PlateDetection(Box(1, 2, 11, 6), ((1, 2), (11, 2), (11, 6), (1, 6)), 0.8, False)
    up = s.up_plate(plate)
    assert up.box == Box(3, 6, 33, 18) and up.corners[2] == (33, 18) and not up.double_row


def test_region_is_a_context_square_inside_the_picture() -> None:
    r = region_around(Box(900, 500, 1000, 600), 1920, 1080)
    assert r.width == r.height == 250 and r.center == (950, 550)
    tiny = region_around(Box(100, 100, 110, 110), 1920, 1080)
    assert tiny.width == REGION_MIN_PX
    corner = region_around(Box(1880, 1050, 1920, 1080), 1920, 1080)
    assert corner.x2 == 1920 and corner.y2 == 1080 and corner.width == 100
    assert region_around(Box(0, 0, 500, 500), 640, 360).height == 360


def test_detections_in_regions_come_back_in_picture_coordinates_once() -> None:
    image = np.zeros((400, 400, 3), np.uint8)
    seen: list[tuple[int, int]] = []

    def detect(crop: Image) -> list[FaceDetection]:
        seen.append(crop.shape[:2])
        # the same face, at the crop's centre
        h, w = crop.shape[:2]
        c = (w / 2, h / 2)
        return [FaceDetection(Box(c[0] - 10, c[1] - 10, c[0] + 10, c[1] + 10), 0.8, (c,) * 5)]

    regions = [Box(100, 100, 200, 200), Box(102, 98, 202, 198), Box(300, 0, 400, 100)]
    found = detect_in_regions(detect, image, regions)
    assert seen == [(100, 100)] * 3
    assert sorted(d.box.center for d in found) == [(150, 150), (350, 50)]  # overlap merged


def test_covered_means_the_same_target() -> None:
    assert covered(Box(0, 0, 10, 10), [Box(1, 1, 11, 11)])
    assert not covered(Box(0, 0, 10, 10), [Box(8, 8, 18, 18)])
    assert not covered(Box(0, 0, 10, 10), [])
