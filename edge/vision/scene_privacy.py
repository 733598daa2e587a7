"""The privacy sweep: every face and plate in a scene that is about to be stored.

Recognition looks for faces and plates it can identify: a confident detector on a
downscaled frame. Redaction must be more sensitive than that, because a face too small
or too faint to recognise is still somebody's face. So the sweep runs its own
detectors, at a lower threshold, over tiles of the full-resolution frame (optionally
upscaled) plus one whole-frame pass for large objects. It is expensive, so it runs only
on frames that become evidence.

It returns boxes; the caller pixelates all of them except the match. The caller must
treat any exception here as "the scene cannot be cleared" (fail closed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from edge.config import FaceConfig, PlateConfig, PrivacyConfig, RuntimeConfig
from edge.modelpack import PackManifest
from edge.vision.faces import SMALL_DET_SIZE, load_scrfd_detector
from edge.vision.plates import load_plate_detector
from edge.vision.protocols import FaceDetector, PlateDetector
from edge.vision.types import Box, Image

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sweep:
    """What the sweep found in one scene (boxes in scene pixels)."""

    faces: tuple[Box, ...]
    plates: tuple[Box, ...]
    elapsed_ms: float
    faces_ms: float = 0.0

    @property
    def boxes(self) -> tuple[Box, ...]:
        return self.faces + self.plates


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering ``length`` with tiles of ``tile`` sharing ``overlap``.

    The last tile is aligned to the far edge so no tile hangs over it (a half-empty
    tile would change the detector's scale).
    """
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def tiles(width: int, height: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(x1, y1, x2, y2) windows covering a width x height frame."""
    return [
        (x, y, min(x + tile, width), min(y + tile, height))
        for y in tile_starts(height, tile, overlap)
        for x in tile_starts(width, tile, overlap)
    ]


def _shift(box: Box, dx: int, dy: int) -> Box:
    return Box(box.x1 + dx, box.y1 + dy, box.x2 + dx, box.y2 + dy)


def _tiled(
    image: Image, tile: int, overlap: int, detect: FaceDetector | PlateDetector
) -> list[Box]:
    """Boxes from one pass over the whole frame and one over each tile (if any)."""
    h, w = image.shape[:2]
    found = [d.box for d in detect.detect(image)]
    windows = tiles(w, h, tile, overlap)
    if len(windows) > 1:
        for x1, y1, x2, y2 in windows:
            found.extend(_shift(d.box, x1, y1) for d in detect.detect(image[y1:y2, x1:x2]))
    return found


class ResizableFaceDetector(FaceDetector, Protocol):
    def at_sizes(self, sizes: Sequence[tuple[int, int]]) -> FaceDetector: ...


def full_pass_side(width: int, height: int, config: PrivacyConfig) -> int | None:
    """The detector input side that shows a frame at its own resolution (x upscale),
    or None when the configuration or the frame's size call for tiles."""
    side = -(-round(max(width, height) * config.face_upscale) // 32) * 32
    if config.face_pass != "full" or side > config.face_full_max_px:
        return None
    return side


class PrivacySweep:
    """Finds every face and plate to pixelate in a scene; see the module docstring."""

    def __init__(
        self,
        faces: ResizableFaceDetector | None,
        plates: PlateDetector | None,
        config: PrivacyConfig,
    ) -> None:
        self._faces = faces
        self._plates = plates
        self._config = config

    def _find_faces(self, image: Image) -> list[Box]:
        assert self._faces is not None
        cfg = self._config
        h, w = image.shape[:2]
        side = full_pass_side(w, h, cfg)
        if side is None:
            return _tiled(image, cfg.face_tile, cfg.tile_overlap, self._faces)
        # plus the tiles path's whole-frame passes: the 128 px one finds close-ups
        # larger than SCRFD's anchors at full size, and the downscaled one a blurred
        # face that only looks like a face when small (bench/privacy_sweep.py: a 103 px
        # face in the pedestrian clip that the full-size pass alone left clear)
        whole = round(cfg.face_tile * cfg.face_upscale / 32) * 32
        sizes = [(SMALL_DET_SIZE, SMALL_DET_SIZE), (whole, whole), (side, side)]
        return [d.box for d in self._faces.at_sizes(sizes).detect(image)]

    def sweep(self, image: Image) -> Sweep:
        start = time.perf_counter()
        cfg = self._config
        faces: list[Box] = []
        plates: list[Box] = []
        if self._faces is not None:
            faces = self._find_faces(image)
        faces_ms = (time.perf_counter() - start) * 1000.0
        if self._plates is not None:
            plates = _tiled(image, cfg.plate_tile, cfg.tile_overlap, self._plates)
        elapsed = (time.perf_counter() - start) * 1000.0
        return Sweep(tuple(faces), tuple(plates), elapsed, faces_ms)


def load_privacy_sweep(
    pack_dir: Path,
    config: PrivacyConfig,
    runtime: RuntimeConfig,
    manifest: PackManifest,
    kinds: Sequence[str] = ("faces", "plates"),
) -> PrivacySweep:
    """Its own verified sessions (never shared with recognition's, whose thresholds and
    input sizes differ). ``kinds`` names what the cameras can show."""
    faces = plates = None
    if "faces" in kinds:
        side = round(config.face_tile * config.face_upscale / 32) * 32
        face_cfg = FaceConfig(
            detector=config.face_detector,
            det_size=side,
            det_threshold=max(config.face_threshold, 0.5),
            redact_threshold=config.face_threshold,
        )
        faces = load_scrfd_detector(pack_dir, face_cfg, runtime, manifest)
    if "plates" in kinds:
        plate_cfg = PlateConfig(
            detector=config.plate_detector, det_threshold=config.plate_threshold
        )
        plates = load_plate_detector(pack_dir, plate_cfg, runtime, manifest)
    log.info(
        "privacy sweep ready",
        extra={"faces": faces is not None, "plates": plates is not None},
    )
    return PrivacySweep(faces, plates, config)
