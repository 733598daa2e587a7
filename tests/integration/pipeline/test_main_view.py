"""A camera analysed on its sub-stream recognises faces and plates from its main stream.

On a 480x270 sub-stream a face that is ~100 px on the 1080p main stream is ~25 px: too
small to recognise well. With ``analysis.recognise_on_main`` the pipeline re-detects it
on the main picture of the same moment (``Frame.hires``) and embeds it there; small
plates are read there too.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.gateway.config import AnalysisConfig, CameraConfig
from edge.gateway.sources import Frame
from edge.vision.faces import FaceAnalyzer
from edge.vision.plates import PlateRecognizer
from edge.vision.types import Image
from edge.watchlist.store import WatchlistFile

from .conftest import enrol_person, read
from .test_pipeline import decode, make_pipeline

#: recognise_on_main is off by default (it costs a main-stream decode)
ON_MAIN = CameraConfig(
    id="cam-1", source="folder:/nowhere", analysis=AnalysisConfig(recognise_on_main=True)
)
MAIN_W, MAIN_H = 1920, 1080
SUB_W, SUB_H = 480, 270


def _street(photo: Image, target_px: float, measured_px: float) -> Image:
    """``photo`` scaled so that its face (or plate) is ``target_px`` wide, on a grey,
    noisy 1080p background."""
    rng = np.random.default_rng(7)
    frame = rng.normal(110, 12, (MAIN_H, MAIN_W, 3)).clip(0, 255).astype(np.uint8)
    k = target_px / measured_px
    small = cv2.resize(photo, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    y, x = 300, 700
    frame[y : y + h, x : x + w] = small[: MAIN_H - y, : MAIN_W - x]
    return frame


def _frames(sub: Image, main: Image | None, asked: list[int]) -> list[Frame]:
    def hires() -> Image:
        asked.append(1)
        assert main is not None
        return main

    return [
        Frame(
            "cam-1",
            i,
            1_700_000_000_000_000 + i * 200_000,
            sub,
            "t",
            hires=hires if main is not None else None,
        )
        for i in range(3)
    ]


def test_face_too_small_on_the_sub_stream_is_recognised_from_the_main_stream(
    tmp_path: Path,
    face_analyzer: FaceAnalyzer,
    plate_recognizer: PlateRecognizer,
    watchlist: WatchlistFile,
    person_photos: list[Path],
) -> None:
    sid = enrol_person(face_analyzer, watchlist, person_photos[0])
    probe = read(person_photos[1])
    face = face_analyzer.detect(probe)[0].box
    main = _street(probe, 100.0, face.width)
    sub = cv2.resize(main, (SUB_W, SUB_H), interpolation=cv2.INTER_AREA)
    assert face_analyzer.detect_all(sub) != ([], []), "the sub-stream must still show a face"

    # the sub-stream alone: a 25 px face, recognised (if at all) far less surely
    alone, _, _ = make_pipeline(tmp_path / "alone", face_analyzer, plate_recognizer, watchlist)
    on_sub = [e for f in _frames(sub, None, []) for e in alone.process(f)]
    sub_similarity = max((h.similarity for e in on_sub for h in e.faces), default=0.0)

    asked: list[int] = []
    pipeline, outbox, _ = make_pipeline(
        tmp_path / "main", face_analyzer, plate_recognizer, watchlist, ON_MAIN
    )
    events = [e for f in _frames(sub, main, asked) for e in pipeline.process(f)]
    assert len(events) == 1 and asked
    event, _, blobs = decode(outbox.pending()[0].payload)
    assert [f.subject_id for f in event.faces] == [sid]  # type: ignore[attr-defined]
    # measured: 0.37-0.70 on the sub-stream, 0.53-0.89 from the main picture
    assert event.faces[0].similarity > sub_similarity + 0.05  # type: ignore[attr-defined]
    stored = cv2.imdecode(np.frombuffer(blobs["scene.jpg"], np.uint8), cv2.IMREAD_COLOR)
    assert stored.shape == main.shape
    crop = cv2.imdecode(np.frombuffer(blobs["face-0.jpg"], np.uint8), cv2.IMREAD_COLOR)
    assert crop.shape[1] >= 100  # cut from the main picture, not the 25 px sub face


def test_small_plate_on_the_sub_stream_is_read_on_the_main_stream(
    tmp_path: Path,
    face_analyzer: FaceAnalyzer,
    plate_recognizer: PlateRecognizer,
    watchlist: WatchlistFile,
    toll_rows: list[tuple[Path, str]],
) -> None:
    photo, text = toll_rows[0]
    car = read(photo)
    plates = plate_recognizer.recognize(car)
    assert plates and plates[0].text == text
    main = _street(car, 150.0, plates[0].detection.box.width)
    sub = cv2.resize(main, (SUB_W, SUB_H), interpolation=cv2.INTER_AREA)
    sid = watchlist.add_subject("vehicle")
    watchlist.add_plate(sid, text)
    asked: list[int] = []
    pipeline, outbox, _ = make_pipeline(
        tmp_path, face_analyzer, plate_recognizer, watchlist, ON_MAIN
    )
    events = [e for f in _frames(sub, main, asked) for e in pipeline.process(f)]
    assert len(events) == 1 and asked
    event, _, blobs = decode(outbox.pending()[0].payload)
    assert [p.text for p in event.plates] == [text]  # type: ignore[attr-defined]
    crop = cv2.imdecode(np.frombuffer(blobs["plate-0.jpg"], np.uint8), cv2.IMREAD_COLOR)
    assert crop.shape[1] >= 140  # cut from the main picture
