"""Motion gating on real models: a frame that becomes evidence is completed by every
detector that the gate skipped, so unmatched plates in it are still redacted."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.config import MatchConfig
from edge.evidence.signing import generate_signing_key
from edge.gateway.config import AnalysisConfig, CameraConfig, OutboxConfig, TrackingConfig
from edge.gateway.evidence import EvidenceBuilder
from edge.gateway.outbox import Outbox
from edge.gateway.pipeline import CameraPipeline
from edge.vision.faces import FaceAnalyzer
from edge.vision.plates import PlateRecognizer
from edge.watchlist.matcher import WatchlistMatcher
from edge.watchlist.store import WatchlistFile

from .conftest import enrol_person, read, side_by_side
from .test_pipeline import Fixed, decode, frames


def test_evidence_frame_skipped_by_the_plate_detector_is_completed(
    tmp_path: Path,
    face_analyzer: FaceAnalyzer,
    plate_recognizer: PlateRecognizer,
    person_photos: list[Path],
    toll_rows: list[tuple[Path, str]],
) -> None:
    wl = WatchlistFile(tmp_path / "wl.db")
    wl.open()
    sid = enrol_person(face_analyzer, wl, person_photos[0])
    outbox = Outbox(tmp_path / "outbox.db", OutboxConfig())
    outbox.open()
    # the plate detector may run only once a second: frame 1 (0.2 s later) is skipped
    camera = CameraConfig(
        id="cam-1",
        source="folder:/nowhere",
        analysis=AnalysisConfig(face_detect_fps=None, plate_detect_fps=1.0),
    )
    pipeline = CameraPipeline(
        camera,
        face_analyzer,
        plate_recognizer,
        Fixed(WatchlistMatcher(wl.snapshot(), MatchConfig())),
        EvidenceBuilder("gw-test", generate_signing_key(), [face_analyzer.model_id]),
        outbox,
        TrackingConfig(),
        plate_model_id="plate_rec_color",
    )
    toll_path, plate_text = toll_rows[0]
    scene = side_by_side(read(person_photos[1]), read(toll_path))
    assert plate_text in {p.text for p in plate_recognizer.recognize(scene)}
    empty = np.zeros_like(scene)
    events = [e for f in frames(empty, 1) + frames(scene, 3, start=1) for e in pipeline.process(f)]
    assert len(events) == 1
    event, _, blobs = decode(outbox.pending()[0].payload)
    assert [h.subject_id for h in event.faces] == [sid]  # type: ignore[attr-defined]
    stored = cv2.imdecode(np.frombuffer(blobs["scene.jpg"], np.uint8), cv2.IMREAD_COLOR)
    assert plate_text not in {p.text for p in plate_recognizer.recognize(stored)}
    assert pipeline.stats.completions == 1 and pipeline.stats.plate_scans == 2
    assert pipeline.stats.face_scans == 2  # frames 2 and 3 did not move: no detector ran
    outbox.close()
    wl.close()
