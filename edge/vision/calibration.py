"""Calibration inputs for static quantization, captured from the product's own pipeline.

Each model's session is wrapped in a recorder and the shipped pipeline (FaceConfig /
PlateConfig defaults, fp32 models) runs over a fixed, seeded sample of evaluation-set
images: the tensors the recorder keeps are exactly what the model sees in production
(letterboxing, alignment, rectification, normalisation), with no second copy of any
preprocessing code. The same files and seed give the same tensors.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from insightface.model_zoo.scrfd import SCRFD

from edge.config import FaceConfig, ImageLimits, PlateConfig, RuntimeConfig
from edge.errors import InputError, ModelPackError
from edge.imageio import load_image
from edge.modelpack import ModelEntry, PackManifest, load_verified
from edge.variants import Calibration
from edge.vision.faces import (
    NMS_IOU,
    SMALL_DET_SIZE,
    ScrfdFaceDetector,
    align_face,
    embedder_from_session,
    load_scrfd_detector,
)
from edge.vision.plate_readers import (
    COLOR_MODEL_ID,
    LiteColorClassifier,
    PlateRecColorReader,
    PpOcrReader,
)
from edge.vision.plates import PlateRecognizer, Y5fuPlateDetector, load_plate_detector
from edge.vision.protocols import PlateReader
from edge.vision.runtime import create_session
from edge.vision.types import Image

Feed = dict[str, np.ndarray]
#: images per role when not given: enough for stable activation ranges, small enough
#: that a detector's captured 640x640 tensors stay in memory (~5 MB each)
DEFAULT_IMAGES = {
    "face_detector": 24,
    "face_embedder": 64,
    "plate_detector": 24,
    "plate_reader": 48,
    "plate_color": 48,
}


class RecordingSession:
    """An onnxruntime session that keeps a copy of every input it is run with."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.feeds: list[Feed] = []

    def run(self, output_names: Any, feeds: Feed, run_options: Any = None) -> Any:
        self.feeds.append({k: np.array(v, copy=True) for k, v in feeds.items()})
        return self._session.run(output_names, feeds, run_options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


@dataclass(frozen=True, slots=True)
class CalibrationSet:
    feeds: list[Feed]
    info: Calibration


def _sample(files: Sequence[str], n: int, seed: int) -> list[str]:
    unique = sorted(set(files))
    if n >= len(unique):
        return unique
    return sorted(random.Random(seed).sample(unique, n))


def _manifest_files(eval_dir: Path, role: str) -> list[str]:
    """Images the role sees in production: portraits and group photos for faces,
    full frames (not the pre-cut crops) for plates."""
    name = "faces_manifest.csv" if role.startswith("face") else "plates_manifest.csv"
    path = eval_dir / name
    if not path.is_file():
        raise InputError(f"evaluation manifest {str(path)!r} is missing (is EDGE_EVAL_DIR right?)")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if role.startswith("face"):
        return [r["file"] for r in rows]
    return [r["file"] for r in rows if r["subset"] != "plate_crop_94x24"]


def calibration_hash(eval_dir: Path, files: Sequence[str]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        digest = hashlib.sha256((eval_dir / name).read_bytes()).hexdigest()
        h.update(f"{name}\t{digest}\n".encode())
    return h.hexdigest()


def _fp32(pack_dir: Path, entry: ModelEntry) -> RecordingSession:
    """The pack's verified fp32 model (never a variant), recorded."""
    return RecordingSession(create_session(load_verified(pack_dir, entry), RuntimeConfig()))


Runner = Callable[[Image], object]


def _face_detector(pack_dir: Path, entry: ModelEntry, _m: PackManifest) -> tuple[Any, Runner]:
    rec = _fp32(pack_dir, entry)
    model = SCRFD(model_file=None, session=rec)
    model.nms_thresh = NMS_IOU
    cfg = FaceConfig()
    sizes = [(SMALL_DET_SIZE, SMALL_DET_SIZE), (cfg.det_size, cfg.det_size)]
    detector = ScrfdFaceDetector(model, entry.id, cfg.redact_threshold, sizes)
    return rec, detector.detect


def _face_embedder(pack_dir: Path, entry: ModelEntry, m: PackManifest) -> tuple[Any, Runner]:
    detector = load_scrfd_detector(pack_dir, FaceConfig(), RuntimeConfig(), m)
    rec = _fp32(pack_dir, entry)
    embedder = embedder_from_session(rec, entry)

    def run(image: Image) -> object:
        faces = detector.detect(image)
        return embedder.embed([align_face(image, d.landmarks) for d in faces])

    return rec, run


def _plate_detector(pack_dir: Path, entry: ModelEntry, _m: PackManifest) -> tuple[Any, Runner]:
    rec = _fp32(pack_dir, entry)
    cfg = PlateConfig()
    return rec, Y5fuPlateDetector.create(rec, entry, cfg.det_threshold, cfg.nms_iou).detect


def _plate_reading(pack_dir: Path, entry: ModelEntry, m: PackManifest) -> tuple[Any, Runner]:
    """Readers and the colour classifier see the detector's rectified plates."""
    cfg = PlateConfig()
    detector = load_plate_detector(pack_dir, cfg, RuntimeConfig(), m)
    rec = _fp32(pack_dir, entry)
    reader: PlateReader
    if entry.id == "plate_rec_color":
        reader = PlateRecColorReader.create(rec, entry)
    elif entry.role == "plate_reader":
        color = m.by_id(COLOR_MODEL_ID)
        classifier = LiteColorClassifier.create(
            create_session(load_verified(pack_dir, color), RuntimeConfig()), color
        )
        reader = PpOcrReader.create(rec, entry, classifier)
    else:
        ppocr = m.by_id("ppocr_v4_rec")
        ppocr_session = create_session(load_verified(pack_dir, ppocr), RuntimeConfig())
        reader = PpOcrReader.create(ppocr_session, ppocr, LiteColorClassifier.create(rec, entry))
    return rec, PlateRecognizer(detector, reader, cfg).recognize


_PIPELINES = {
    "face_detector": _face_detector,
    "face_embedder": _face_embedder,
    "plate_detector": _plate_detector,
    "plate_reader": _plate_reading,
    "plate_color": _plate_reading,
}


def capture(
    pack_dir: Path,
    manifest: PackManifest,
    entry: ModelEntry,
    eval_dir: Path,
    seed: int,
    images: int | None = None,
) -> CalibrationSet:
    """Run the product pipeline over the role's calibration images; keep the inputs."""
    if entry.role not in _PIPELINES:
        raise ModelPackError(f"no calibration pipeline for role {entry.role!r}")
    n = images or DEFAULT_IMAGES[entry.role]
    files = _sample(_manifest_files(eval_dir, entry.role), n, seed)
    rec, run = _PIPELINES[entry.role](pack_dir, entry, manifest)
    rec.feeds.clear()  # probes run while building the pipeline are not real inputs
    limits = ImageLimits()
    for name in files:
        run(load_image(eval_dir / name, limits).image)
    if not rec.feeds:
        raise InputError(
            f"calibration of {entry.id} over {len(files)} images gave no model input "
            f"(nothing detected?); choose more images with --images"
        )
    info = Calibration(
        role=entry.role,
        seed=seed,
        files=files,
        sha256=calibration_hash(eval_dir, files),
        inputs=len(rec.feeds),
    )
    return CalibrationSet(feeds=rec.feeds, info=info)
