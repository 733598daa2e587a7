"""Plates: detect corners (HyperLPR3 y5fu), rectify, read, normalise and validate.

``load_plate_recognizer`` is the factory a composition root calls; everything else is
plain objects around already-created sessions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.config import PlateConfig, RuntimeConfig
from edge.errors import ModelPackError
from edge.modelpack import ModelEntry, PackManifest
from edge.variants import load_for_runtime
from edge.vision.plate_grammar import is_sign_text, validate_plate
from edge.vision.plate_readers import (
    Normalisation,
    Tensor,
    check_image,
    load_plate_reader,
    require_resize,
)
from edge.vision.protocols import PlateDetector, PlateReader
from edge.vision.runtime import create_session
from edge.vision.stacking import can_stack, detect_stacked
from edge.vision.tiles import TiledPlateDetector
from edge.vision.types import Box, Image, Plate, PlateDetection, Point

log = logging.getLogger(__name__)

DETECTOR_MODEL_IDS: Final = {"y5fu_320": "y5fu_320x", "y5fu_640": "y5fu_640x"}
#: double-row plates: the upper strip holds province + letter, the lower the serial
UPPER_ROW: Final = 5 / 12
LOWER_ROW_START: Final = 1 / 3


@dataclass(frozen=True, slots=True)
class Letterbox:
    """Where a frame landed inside the square model input."""

    scale: float
    dx: int
    dy: int


def nms(boxes: NDArray[np.float32], scores: NDArray[np.float32], iou: float) -> list[int]:
    """Greedy non-maximum suppression over xyxy boxes; indices by descending score."""
    order = scores.argsort()[::-1]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        overlap = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[overlap <= iou]
    return keep


class Y5fuPlateDetector:
    """HyperLPR3 y5fu: rows cx, cy, w, h, obj, 4 corners, score single, score double."""

    def __init__(
        self,
        session: Any,
        entry: ModelEntry,
        norm: Normalisation,
        threshold: float,
        nms_iou: float,
    ) -> None:
        self.session = session
        self.entry = entry
        self.norm = norm
        self.threshold = threshold
        self.nms_iou = nms_iou

    @classmethod
    def create(
        cls, session: Any, entry: ModelEntry, threshold: float, nms_iou: float
    ) -> Y5fuPlateDetector:
        require_resize(entry, "letterbox_center")
        _, _, h, w = entry.input.shape
        if h != w or h <= 0:
            raise ModelPackError(f"model {entry.id}: expected a square input, got {h}x{w}")
        return cls(session, entry, Normalisation.from_contract(entry.input), threshold, nms_iou)

    @property
    def model_id(self) -> str:
        return self.entry.id

    @property
    def input_size(self) -> int:
        return self.entry.input.shape[2]

    def preprocess(self, image: Image) -> tuple[Tensor, Letterbox]:
        size = self.input_size
        h, w = image.shape[:2]
        scale = min(size / h, size / w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        dx, dy = (size - nw) // 2, (size - nh) // 2
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        # pad_value is the value of the normalised tensor (same as pixel 0 here: mean 0)
        blob = np.full((1, 3, size, size), self.entry.input.pad_value, dtype=np.float32)
        self.norm.into(resized, blob[0, :, dy : dy + nh, dx : dx + nw])
        return blob, Letterbox(scale, dx, dy)

    def postprocess(
        self, rows: Tensor, lb: Letterbox, width: int, height: int
    ) -> list[PlateDetection]:
        rows = rows[rows[:, 4] > self.threshold]
        if not rows.size:
            return []
        cls_scores = rows[:, 13:15] * rows[:, 4:5]
        scores = cls_scores.max(axis=1)
        good = scores > self.threshold
        rows, scores, double = rows[good], scores[good], cls_scores[good].argmax(axis=1) == 1
        half = rows[:, 2:4] / 2
        boxes = np.concatenate([rows[:, 0:2] - half, rows[:, 0:2] + half], axis=1)
        keep = nms(boxes, scores, self.nms_iou)
        offset = np.array([lb.dx, lb.dy], dtype=np.float32)
        limit = np.array([width, height], dtype=np.float32)
        boxes_px = ((boxes[keep].reshape(-1, 2, 2) - offset) / lb.scale).clip(0, limit)
        corners_px = ((rows[keep, 5:13].reshape(-1, 4, 2) - offset) / lb.scale).clip(0, limit)
        out = []
        for b, c, s, d in zip(boxes_px, corners_px, scores[keep], double[keep], strict=True):
            corners: tuple[Point, Point, Point, Point] = tuple(  # type: ignore[assignment]
                (float(x), float(y)) for x, y in c
            )
            box = Box(float(b[0, 0]), float(b[0, 1]), float(b[1, 0]), float(b[1, 1]))
            out.append(PlateDetection(box=box, corners=corners, score=float(s), double_row=bool(d)))
        return out

    def detect(self, image: Image) -> list[PlateDetection]:
        check_image(image)
        blob, lb = self.preprocess(image)
        (out,) = self.session.run(None, {self.entry.input.name: blob})
        return self.postprocess(out[0], lb, image.shape[1], image.shape[0])


def rectify_plate(image: Image, detection: PlateDetection) -> Image:
    """Warp the 4 corners to a flat plate; a double-row plate becomes one row."""
    src = np.asarray(detection.corners, dtype=np.float32)
    tl, tr, br, bl = src
    w = max(round(float(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))), 8)
    h = max(round(float(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))), 4)
    # corners land on the outermost output pixel centres. PP-OCR is sensitive to this
    # +-1 px: outer-edge mapping, a +1 px size or a margin each lost 1-2 special plates.
    dst = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    flat = cast(
        Image,
        cv2.warpPerspective(
            image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        ),
    )
    if detection.double_row:
        flat = join_rows(flat)
    return flat


def join_rows(plate: Image) -> Image:
    """Cut the upper ~5/12 and lower 2/3 of a double-row plate and put them side by side."""
    h = plate.shape[0]
    upper = plate[: max(1, int(UPPER_ROW * h))]
    lower = plate[int(LOWER_ROW_START * h) :]
    size = (lower.shape[1], lower.shape[0])
    upper_resized = cv2.resize(upper, size, interpolation=cv2.INTER_LINEAR)
    return cast(Image, np.hstack((upper_resized, lower)))


@dataclass(frozen=True, slots=True)
class PlateScan:
    """Everything the detector found in one frame.

    ``rejected`` are detections read as non-plates (signs, junk); they are still plate-
    shaped regions, so a privacy filter should redact them too.
    """

    plates: tuple[Plate, ...]
    rejected: tuple[PlateDetection, ...]


class PlateRecognizer:
    """Detect, rectify, read, normalise and validate every plate in a frame."""

    def __init__(self, detector: PlateDetector, reader: PlateReader, config: PlateConfig) -> None:
        self.detector = detector
        self.reader = reader
        self.config = config

    @property
    def model_ids(self) -> tuple[str, ...]:
        """Ids of the models behind every plate read (recorded with evidence)."""
        parts = (self.detector, self.reader)
        return tuple(str(getattr(p, "model_id", type(p).__name__)) for p in parts)

    def read_detection(self, image: Image, detection: PlateDetection) -> Plate | None:
        """Read one detection; None when it is not a plate (sign, or junk with low confidence)."""
        read = self.reader.read(rectify_plate(image, detection))
        grammar = validate_plate(read.text)
        if is_sign_text(grammar.text):
            return None
        if not grammar.valid and read.confidence < self.config.min_confidence:
            return None
        return Plate(
            detection=detection,
            raw_text=read.text,
            text=grammar.text,
            confidence=read.confidence,
            color=read.color,
            valid=grammar.valid,
            kind=grammar.kind,
        )

    def pairs(self, image: Image) -> bool:
        """Whether a frame of this size could share a detector run with another."""
        detector = self.detector
        return isinstance(detector, Y5fuPlateDetector) and can_stack(
            image, image, detector.input_size
        )

    def detect_pair(
        self, a: Image, b: Image
    ) -> tuple[list[PlateDetection], list[PlateDetection]] | None:
        """Two frames' plates from one detector run (``edge.vision.stacking``), or None
        when stacking would shrink them too much or the detector is tiled."""
        detector = self.detector
        if not isinstance(detector, Y5fuPlateDetector):
            return None
        if not can_stack(a, b, detector.input_size):
            return None
        return detect_stacked(detector.detect, a, b)

    def scan(self, image: Image) -> PlateScan:
        plates: list[Plate] = []
        rejected: list[PlateDetection] = []
        for detection in self.detector.detect(image):
            plate = self.read_detection(image, detection)
            if plate is None:
                rejected.append(detection)
            else:
                plates.append(plate)
        return PlateScan(tuple(plates), tuple(rejected))

    def recognize(self, image: Image) -> list[Plate]:
        """Plates in ``image``, best detector score first (non-plates dropped)."""
        return list(self.scan(image).plates)

    def warm_up(self) -> None:
        """One pass through every session so the first real frame is not slow."""
        frame = np.zeros((64, 64, 3), dtype=np.uint8)
        self.detector.detect(frame)
        self.reader.read(np.zeros((24, 94, 3), dtype=np.uint8))


def load_plate_detector(
    pack_dir: Path, config: PlateConfig, runtime: RuntimeConfig, manifest: PackManifest
) -> Y5fuPlateDetector:
    entry = manifest.by_id(DETECTOR_MODEL_IDS[config.detector])
    session = create_session(load_for_runtime(pack_dir, entry, runtime), runtime)
    return Y5fuPlateDetector.create(session, entry, config.det_threshold, config.nms_iou)


def load_plate_recognizer(
    pack_dir: Path, config: PlateConfig, runtime: RuntimeConfig, manifest: PackManifest
) -> PlateRecognizer:
    """Verified models -> sessions -> recogniser, warmed up once."""
    detector: PlateDetector = load_plate_detector(pack_dir, config, runtime, manifest)
    if config.tiles.enabled:
        detector = TiledPlateDetector(detector, config.tiles)
    reader = load_plate_reader(pack_dir, config, runtime, manifest)
    recognizer = PlateRecognizer(detector, reader, config)
    recognizer.warm_up()
    log.info(
        "plate recogniser ready",
        extra={"detector": config.detector, "reader": config.reader},
    )
    return recognizer


__all__: Sequence[str] = (
    "PlateRecognizer",
    "PlateScan",
    "Y5fuPlateDetector",
    "join_rows",
    "load_plate_detector",
    "load_plate_recognizer",
    "nms",
    "rectify_plate",
)
