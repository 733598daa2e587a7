"""Two cameras' sub-stream frames share one plate detector run and give the same matches.

The gateway's workers take a second waiting frame and, when both need the plate
detector and their pictures are small, run it once on the two stacked
(``PlateRecognizer.detect_pair``); each pipeline then reads and matches its own plates.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.gateway.sources import Frame
from edge.vision.faces import FaceAnalyzer
from edge.vision.plates import PlateRecognizer
from edge.vision.types import Image
from edge.watchlist.store import WatchlistFile

from .conftest import read
from .test_pipeline import decode, make_pipeline


def _sub_frame(car: Image, plate_width: float, target: float, x: int, y: int) -> Image:
    rng = np.random.default_rng(x)
    frame = rng.normal(110, 12, (360, 640, 3)).clip(0, 255).astype(np.uint8)
    small = cv2.resize(car, None, fx=target / plate_width, fy=target / plate_width)
    h, w = min(small.shape[0], 360 - y), min(small.shape[1], 640 - x)
    frame[y : y + h, x : x + w] = small[:h, :w]
    return frame


def test_paired_plate_detection_matches_like_single_frames(
    tmp_path: Path,
    face_analyzer: FaceAnalyzer,
    plate_recognizer: PlateRecognizer,
    watchlist: WatchlistFile,
    toll_rows: list[tuple[Path, str]],
) -> None:
    cars = []
    for photo, text in toll_rows[:2]:
        car = read(photo)
        plates = plate_recognizer.recognize(car)
        assert plates and plates[0].text == text
        cars.append((car, plates[0].detection.box.width, text))
        watchlist.add_plate(watchlist.add_subject("vehicle"), text)
    a = _sub_frame(cars[0][0], cars[0][1], 55.0, 60, 20)
    b = _sub_frame(cars[1][0], cars[1][1], 50.0, 300, 80)
    pair = plate_recognizer.detect_pair(a, b)
    assert pair is not None
    big = cv2.resize(a, (1920, 1080))
    assert plate_recognizer.detect_pair(big, big) is None  # 1080p: alone, not shrunk
    assert plate_recognizer.pairs(a) and not plate_recognizer.pairs(big)

    texts: dict[str, list[str]] = {}
    for mode in ("alone", "paired"):
        pa, out_a, _ = make_pipeline(
            tmp_path / mode / "a", face_analyzer, plate_recognizer, watchlist
        )
        pb, out_b, _ = make_pipeline(
            tmp_path / mode / "b", face_analyzer, plate_recognizer, watchlist
        )
        fa = Frame("cam-1", 0, 1_700_000_000_000_000, a, "t")
        fb = Frame("cam-1", 0, 1_700_000_000_000_000, b, "t")
        if mode == "alone":
            pa.process(fa)
            pb.process(fb)
        else:
            la, lb = pa.look(fa), pb.look(fb)
            assert "plates" in la.due and "plates" in lb.due
            pa.process(fa, la, pair[0])
            pb.process(fb, lb, pair[1])
        texts[mode] = [
            p.text  # type: ignore[attr-defined]
            for out in (out_a, out_b)
            for e in out.pending()
            for p in decode(e.payload)[0].plates  # type: ignore[attr-defined]
        ]
    assert texts["paired"] == texts["alone"] == [cars[0][2], cars[1][2]]
