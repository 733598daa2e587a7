"""Building blocks of bench/gateway.py: models, the naive loop, stage recording."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from insightface.model_zoo.arcface_onnx import ArcFaceONNX
from insightface.model_zoo.scrfd import SCRFD
from insightface.utils import face_align

from edge.config import FaceConfig, PlateConfig, RuntimeConfig
from edge.evidence.signing import generate_signing_key
from edge.gateway.config import AnalysisConfig, CameraConfig, OutboxConfig, TrackingConfig
from edge.gateway.evidence import EvidenceBuilder
from edge.gateway.outbox import Outbox
from edge.gateway.pipeline import CameraPipeline
from edge.gateway.stages import STAGES, timed
from edge.modelpack import load_manifest, load_verified
from edge.vision.faces import DETECTOR_MODEL_IDS, FaceAnalyzer, load_face_analyzer
from edge.vision.plates import PlateRecognizer, load_plate_recognizer
from edge.vision.runtime import create_session
from edge.vision.types import FaceEmbedding, Image
from edge.watchlist.matcher import WatchlistMatcher
from edge.wire.mapping import event_from_proto
from edge.wire.v1 import events_pb2

OURS_STAGES = STAGES
#: what insightface's FaceAnalysis.prepare() uses when det_size is not given
FACE_ANALYSIS_SIZES = [(128, 128), (640, 640)]
RUNTIME = RuntimeConfig()  # intra-op spinning off, same for both sides

# scikit-image deprecates the estimate() call insightface's norm_crop uses
warnings.filterwarnings("ignore", category=FutureWarning)


@dataclass
class Models:
    faces: FaceAnalyzer  # ours
    plates: PlateRecognizer  # ours
    naive_det: Any  # insightface SCRFD
    naive_rec: Any  # insightface ArcFaceONNX
    naive_plates: PlateRecognizer  # own sessions, same options

    @classmethod
    def load(cls, pack: Path) -> Models:
        manifest = load_manifest()
        faces = load_face_analyzer(pack, FaceConfig(), RUNTIME, manifest)
        plates = load_plate_recognizer(pack, PlateConfig(), RUNTIME, manifest)
        det_entry = manifest.by_id(DETECTOR_MODEL_IDS[FaceConfig().detector])
        det = SCRFD(
            model_file=None, session=create_session(load_verified(pack, det_entry), RUNTIME)
        )
        det.prepare(0, input_size=FACE_ANALYSIS_SIZES, det_thresh=0.5)
        rec_entry = manifest.by_id(FaceConfig().embedder)
        rec_model = load_verified(pack, rec_entry)
        rec = ArcFaceONNX(
            model_file=str(rec_model.path), session=create_session(rec_model, RUNTIME)
        )
        naive_plates = load_plate_recognizer(pack, PlateConfig(), RUNTIME, manifest)
        warm = np.zeros((1080, 1920, 3), np.uint8)
        det.detect(warm, max_num=0, metric="default")
        rec.get_feat(np.zeros((112, 112, 3), np.uint8))
        return cls(faces, plates, det, rec, naive_plates)


class Recorder:
    """StageTimer summing each stage per frame; one sample per frame it ran in."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}
        self._frame: dict[str, float] = {}

    def record(self, stage: str, seconds: float) -> None:
        self._frame[stage] = self._frame.get(stage, 0.0) + seconds

    def end_frame(self) -> None:
        for k, v in self._frame.items():
            self.samples.setdefault(k, []).append(v)
        self._frame.clear()


@dataclass
class PassResult:
    frames: int
    seconds: float
    hits: set[tuple[str, int | None]]  # (subject id, car index or None)
    samples: dict[str, list[float]] = field(repr=False)
    runs: dict[str, int]


class NaiveLoop:
    """FaceAnalysis.get (detect, then norm_crop + embed every face) and the full plate
    pipeline on every frame; every result is matched. Stages are timed separately but
    run exactly as ArcFaceONNX.get and PlateRecognizer.scan run them."""

    def __init__(self, models: Models, matcher: WatchlistMatcher, rec: Recorder) -> None:
        self._m = models
        self._matcher = matcher
        self._rec = rec
        self._model_id = models.faces.model_id

    def process(self, img: Image) -> set[str]:
        m, rec, out = self._m, self._rec, set()
        with timed(rec, "face_detect"):
            bboxes, kpss = m.naive_det.detect(img, max_num=0, metric="default")
        for i in range(bboxes.shape[0]):
            with timed(rec, "face_align_quality"):
                aligned = face_align.norm_crop(img, landmark=kpss[i], image_size=112)
            with timed(rec, "face_embed"):
                feat = m.naive_rec.get_feat(aligned).flatten()
            with timed(rec, "track_match"):
                vec = (feat / max(float(np.linalg.norm(feat)), 1e-12)).astype(np.float32)
                hit = self._matcher.match_face(FaceEmbedding(vec, self._model_id))
            if hit is not None:
                out.add(hit.subject_id)
        with timed(rec, "plate_detect"):
            detections = m.naive_plates.detector.detect(img)
        for d in detections:
            with timed(rec, "plate_read"):
                plate = m.naive_plates.read_detection(img, d)
            if plate is None:
                continue
            with timed(rec, "track_match"):
                pm = self._matcher.match_plate(plate.text)
            if pm is not None:
                out.add(pm.subject_id)
        return out


class _Fixed:
    def __init__(self, matcher: WatchlistMatcher) -> None:
        self.matcher = matcher

    def current(self) -> WatchlistMatcher:
        return self.matcher


def make_pipeline(
    models: Models,
    matcher: WatchlistMatcher,
    tmp: Path,
    timer: Recorder | None,
    analysis: AnalysisConfig,
) -> tuple[CameraPipeline, Outbox]:
    """Our pipeline exactly as the gateway builds it, on a 25 fps camera, writing into
    a real outbox in ``tmp``."""
    outbox = Outbox(tmp / "outbox.db", OutboxConfig())
    outbox.open()
    ids = [models.faces.model_id, "y5fu_640x", "plate_rec_color"]
    pipeline = CameraPipeline(
        CameraConfig(id="cam-1", source="file:bench.mp4", fps=25.0, analysis=analysis),
        models.faces,
        models.plates,
        _Fixed(matcher),
        EvidenceBuilder("gw-bench", generate_signing_key(), ids),
        outbox,
        TrackingConfig(),
        plate_model_id="plate_rec_color",
        timer=timer,
    )
    return pipeline, outbox


def outbox_subjects(
    outbox: Outbox, car_of: Callable[[int], int | None]
) -> set[tuple[str, int | None]]:
    """(subject, car) for every hit of every event committed to the outbox."""
    out: set[tuple[str, int | None]] = set()
    after = 0
    while batch := outbox.pending(limit=500, after_sequence=after):
        for entry in batch:
            pb = events_pb2.SignedEvent()
            pb.ParseFromString(entry.payload)
            event, _, _ = event_from_proto(pb)
            car = car_of(event.captured_at_us)
            out |= {(h.subject_id, car) for h in (*event.faces, *event.plates)}
            after = event.sequence
    return out
