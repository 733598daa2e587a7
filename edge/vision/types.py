"""Value types produced by the vision layer (frozen, numpy-friendly)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

#: An image as OpenCV holds it: HxWx3, uint8, BGR channel order.
Image: TypeAlias = NDArray[np.uint8]
#: A float32 vector (embeddings).
Vector: TypeAlias = NDArray[np.float32]
Point: TypeAlias = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box in pixel coordinates, (x1, y1) top-left, (x2, y2) bottom-right."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return max(0.0, self.x2 - self.x1)

    @property
    def height(self) -> float:
        return max(0.0, self.y2 - self.y1)

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> Point:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def clip(self, width: int, height: int) -> Box:
        return Box(
            min(max(self.x1, 0.0), float(width)),
            min(max(self.y1, 0.0), float(height)),
            min(max(self.x2, 0.0), float(width)),
            min(max(self.y2, 0.0), float(height)),
        )

    def expand(self, factor: float) -> Box:
        """Grow the box around its centre by ``factor`` (1.0 = unchanged)."""
        cx, cy = self.center
        hw, hh = self.width * factor / 2.0, self.height * factor / 2.0
        return Box(cx - hw, cy - hh, cx + hw, cy + hh)

    def as_list(self) -> list[float]:
        return [round(self.x1, 1), round(self.y1, 1), round(self.x2, 1), round(self.y2, 1)]


@dataclass(frozen=True, slots=True)
class FaceDetection:
    box: Box
    score: float
    #: five landmarks: left eye, right eye, nose, left mouth corner, right mouth corner
    landmarks: tuple[Point, Point, Point, Point, Point]


@dataclass(frozen=True, slots=True)
class FaceQuality:
    """How usable a face is for recognition; ``score`` in [0, 1] combines the rest."""

    score: float
    size: float  # shorter side of the box, pixels
    sharpness: float  # variance of the Laplacian on the aligned face
    frontal: float  # 1.0 = frontal, 0.0 = profile (landmark symmetry proxy)


@dataclass(frozen=True, slots=True)
class FaceEmbedding:
    vector: Vector  # L2-normalised
    model_id: str


@dataclass(frozen=True, slots=True)
class Face:
    """A detected face with its quality and, when computed, its embedding."""

    detection: FaceDetection
    quality: FaceQuality
    embedding: FaceEmbedding | None = None


@dataclass(frozen=True, slots=True)
class PlateDetection:
    box: Box
    #: corners clockwise from top-left: TL, TR, BR, BL
    corners: tuple[Point, Point, Point, Point]
    score: float
    double_row: bool


@dataclass(frozen=True, slots=True)
class PlateText:
    """What a plate reader returns for one rectified plate image."""

    text: str
    confidence: float
    color: str | None


@dataclass(frozen=True, slots=True)
class PlateGrammarResult:
    text: str  # normalised
    valid: bool
    kind: str | None  # regular / new_energy / special / military / armed_police ...
    reason: str | None  # why invalid, for humans


@dataclass(frozen=True, slots=True)
class Plate:
    """A detected, read and validated plate."""

    detection: PlateDetection
    raw_text: str
    text: str
    confidence: float
    color: str | None
    valid: bool
    kind: str | None
