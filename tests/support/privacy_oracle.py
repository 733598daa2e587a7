"""An independent check of stored scenes: is any face or plate left clear?

"Independent" means other models than the ones redacting: the gateway's privacy sweep
uses SCRFD-500M and y5fu_320, this oracle uses YuNet (OpenCV's FaceDetectorYN, on 2x
upscaled tiles, so it sees 20 px faces as 40 px) and y5fu_640 on 960 px tiles.

A region is *left clear* when its fine detail survives in the stored scene: the
correlation of the Laplacian (high frequencies) of the source and the stored region.
JPEG keeps it (about 0.8-1.0); pixelation into at most 8 blocks across destroys it
(about 0-0.3). Used by tests/integration/privacy/test_stored_scenes.py and
bench/privacy_sweep.py (which also counts what recognition alone left clear).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from edge.config import PlateConfig, RuntimeConfig
from edge.modelpack import load_manifest
from edge.vision.plates import Y5fuPlateDetector, load_plate_detector
from edge.vision.scene_privacy import tiles
from edge.vision.types import Box, Image

YUNET_FILE = "face/yunet_2026may.onnx"
YUNET_SHA256 = "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0"
#: a YuNet face at or above this score counts (0.6 is YuNet's default threshold)
FACE_SCORE = 0.7
PLATE_SCORE = 0.3
MIN_FACE_PX = 20
#: Laplacian correlation above which a region still shows its detail
CLEAR_CORR = 0.5
VIDEO = "video/pedestrians_arcade_1080p.mp4"
VIDEO_FRAMES = (0, 20, 40, 60, 80, 100)
PEOPLE = ("group_insightface_t1.jpg", "group_multiface.jpg", "street_bus.jpg")
DRIVERS = ("toll_004.jpg", "toll_011.jpg", "toll_025.jpg")
PLATE_WIDTH = 200  # the pasted watchlisted plate, px


@dataclass(frozen=True, slots=True)
class Found:
    kind: str  # "face" | "plate"
    box: Box
    score: float


class IndependentOracle:
    def __init__(self, models_dir: Path) -> None:
        self._models_dir = models_dir
        self._yunet: cv2.FaceDetectorYN | None = None
        self._plates: Y5fuPlateDetector | None = None

    def start(self) -> None:
        data = (self._models_dir / YUNET_FILE).read_bytes()
        if hashlib.sha256(data).hexdigest() != YUNET_SHA256:
            raise RuntimeError(f"{YUNET_FILE} is not the pack's YuNet (sha256 differs)")
        buf = np.frombuffer(data, dtype=np.uint8)
        self._yunet = cv2.FaceDetectorYN.create("onnx", buf, np.array([], np.uint8), (640, 640))
        self._yunet.setScoreThreshold(0.6)
        cfg = PlateConfig(detector="y5fu_640", det_threshold=PLATE_SCORE)
        self._plates = load_plate_detector(self._models_dir, cfg, RuntimeConfig(), load_manifest())

    def faces(self, image: Image, upscale: float = 2.0) -> list[Found]:
        assert self._yunet is not None
        big = cv2.resize(image, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
        h, w = big.shape[:2]
        out: list[Found] = []
        for x1, y1, x2, y2 in [*tiles(w, h, 640, 160), (0, 0, w, h)]:
            part, k = big[y1:y2, x1:x2], 1.0
            if (x2 - x1, y2 - y1) == (w, h):  # whole frame, for faces larger than a tile
                k = 640 / max(w, h)
                part = cv2.resize(part, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
            self._yunet.setInputSize((part.shape[1], part.shape[0]))
            _, rows = self._yunet.detect(part)
            for r in rows if rows is not None else []:
                bx, by, bw, bh, score = (float(v) for v in (r[0], r[1], r[2], r[3], r[14]))
                box = Box(bx / k + x1, by / k + y1, (bx + bw) / k + x1, (by + bh) / k + y1)
                box = Box(box.x1 / upscale, box.y1 / upscale, box.x2 / upscale, box.y2 / upscale)
                if score >= FACE_SCORE and max(box.width, box.height) >= MIN_FACE_PX:
                    out.append(Found("face", box, score))
        return out

    def plates(self, image: Image) -> list[Found]:
        assert self._plates is not None
        h, w = image.shape[:2]
        out = [Found("plate", d.box, d.score) for d in self._plates.detect(image)]
        for x1, y1, x2, y2 in tiles(w, h, 960, 128):
            for d in self._plates.detect(image[y1:y2, x1:x2]):
                b = d.box
                out.append(Found("plate", Box(b.x1 + x1, b.y1 + y1, b.x2 + x1, b.y2 + y1), d.score))
        return out


def _laplacian(region: Image) -> np.ndarray:
    gray = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return cv2.Laplacian(gray, cv2.CV_32F, ksize=3)


def clearness(source: Image, stored: Image, box: Box) -> float:
    """Laplacian correlation of the box in source and stored scene (1 = all detail kept)."""
    h, w = source.shape[:2]
    b = box.clip(w, h)
    x1, y1, x2, y2 = int(b.x1), int(b.y1), int(np.ceil(b.x2)), int(np.ceil(b.y2))
    if x2 - x1 < 4 or y2 - y1 < 4:
        return 0.0
    a = _laplacian(source[y1:y2, x1:x2]).ravel()
    c = _laplacian(stored[y1:y2, x1:x2]).ravel()
    if a.std() < 1e-3 or c.std() < 1e-3:
        return 0.0
    return float(np.corrcoef(a, c)[0, 1])


def leaks(
    oracle: IndependentOracle,
    source: Image,
    stored: Image,
    keep: Sequence[Box],
    in_source: Sequence[Found] | None = None,
) -> list[tuple[Found, float]]:
    """Faces and plates the oracle finds in ``source`` or in ``stored`` that are left
    clear in ``stored``, outside the ``keep`` boxes (the match). ``in_source``: the
    oracle's faces of ``source`` if the caller already has them."""
    out = []
    seen = list(in_source) if in_source is not None else oracle.faces(source)
    # plates are looked for in the source only: y5fu on the stored scene reacts to the
    # random colour noise of pixelated blocks next to it (different boxes every run),
    # and a plate in the stored scene is a plate of the source anyway
    seen += oracle.plates(source) + oracle.faces(stored)
    for found in seen:
        if any(f.kind == found.kind and f.box.iou(found.box) > 0.5 for f, _ in out):
            continue  # the same object, found again on another tile or image
        cx, cy = found.box.center
        if any(k.x1 <= cx <= k.x2 and k.y1 <= cy <= k.y2 for k in keep):
            continue
        corr = clearness(source, stored, found.box)
        if corr > CLEAR_CORR:
            out.append((found, corr))
    return out


# -- the scenes ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListedPlate:
    text: str
    crop: Image


def listed_plate(eval_dir: Path) -> ListedPlate:
    """A CCPD plate (dataset ground truth) cut out at PLATE_WIDTH px wide."""
    rows = csv.DictReader((eval_dir / "plates_manifest.csv").open(encoding="utf-8"))
    row = next(
        r
        for r in rows
        if r["subset"] == "ccpd_fullframe"
        and r["label_quality"] == "dataset_ground_truth"
        and r["n_chars"] == "7"
    )
    image = cv2.imread(str(eval_dir / row["file"]))
    x1, y1, x2, y2 = (int(v) for v in row["bbox_xyxy"].split(","))
    m = 4
    crop = image[y1 - m : y2 + m, x1 - m : x2 + m]
    scale = PLATE_WIDTH / crop.shape[1]
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return ListedPlate(row["plate_text"], crop)


def paste(image: Image, plate: ListedPlate) -> tuple[Image, Box]:
    """The scene with the listed plate near its bottom-right corner, and where it is."""
    out = image.copy()
    h, w = image.shape[:2]
    ph, pw = plate.crop.shape[:2]
    x, y = w - pw - 30, h - ph - 30
    out[y : y + ph, x : x + pw] = plate.crop
    return out, Box(float(x), float(y), float(x + pw), float(y + ph))


def street_scenes(eval_dir: Path) -> list[tuple[str, Image]]:
    """Pedestrian video frames, group and street photos, toll frames with drivers."""
    scenes: list[tuple[str, Image]] = []
    with av.open(str(eval_dir / VIDEO)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in VIDEO_FRAMES:
                scenes.append((f"video-{i:03d}", frame.to_ndarray(format="bgr24")))
            if i >= max(VIDEO_FRAMES):
                break
    for name in PEOPLE:
        scenes.append((name, cv2.imread(str(eval_dir / "privacy" / name))))
    for name in DRIVERS:
        scenes.append((name, cv2.imread(str(eval_dir / "plates" / "toll_hyperlpr" / name))))
    return scenes
