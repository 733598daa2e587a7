"""One small protocol per vision capability; adapters name vendors, these name roles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from edge.vision.types import FaceDetection, FaceEmbedding, Image, PlateDetection, PlateText


class FaceDetector(Protocol):
    def detect(self, image: Image) -> Sequence[FaceDetection]: ...


class FaceEmbedder(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, aligned: Sequence[Image]) -> Sequence[FaceEmbedding]:
        """Embed 112x112 aligned face crops; one L2-normalised vector each."""
        ...


class PlateDetector(Protocol):
    def detect(self, image: Image) -> Sequence[PlateDetection]: ...


class PlateReader(Protocol):
    def read(self, plate: Image) -> PlateText:
        """Read one rectified, single-row plate image."""
        ...


class PlateColorClassifier(Protocol):
    def classify(self, plate: Image) -> str:
        """Colour name of one rectified plate image (labels from the manifest)."""
        ...
