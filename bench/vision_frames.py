"""Evaluation frames for bench/vision.py, letterboxed to 1080p and decoded up front."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.vision.types import Image

W, H = 1920, 1080
SCORED = ("dataset_ground_truth", "verified_visual", "repo_label_spotchecked")


def to_1080p(image: NDArray[Any] | None) -> Image:
    """Letterbox any frame into 1920x1080 (scaled to fit, centred, black bars)."""
    if image is None:
        raise SystemExit("an evaluation image cannot be read")
    h, w = image.shape[:2]
    s = min(W / w, H / h)
    nw, nh = round(w * s), round(h * s)
    frame = np.zeros((H, W, 3), dtype=np.uint8)
    x, y = (W - nw) // 2, (H - nh) // 2
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    frame[y : y + nh, x : x + nw] = cv2.resize(image, (nw, nh), interpolation=interp)
    return frame


@dataclass
class PlateFrame:
    file: str
    frame: Image
    texts: list[str]


def plate_frames(eval_dir: Path, quick: bool) -> list[PlateFrame]:
    """Scored full-frame rows; --quick keeps every special plate and a quarter of the rest."""
    by_file: dict[str, list[str]] = {}
    special: set[str] = set()
    with (eval_dir / "plates_manifest.csv").open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            q = r["label_quality"]
            if r["subset"] == "plate_crop_94x24" or not (q.startswith(SCORED[0]) or q in SCORED):
                continue
            by_file.setdefault(r["file"], []).append(r["plate_text"])
            if r["plate_type"] != "regular_7char" or r["plate_color"] == "green":
                special.add(r["file"])
    files = sorted(by_file)
    if quick:
        files = [f for i, f in enumerate(files) if f in special or i % 4 == 0]
    out = []
    for f in files:
        img = cv2.imread(str(eval_dir / f), cv2.IMREAD_COLOR)
        out.append(PlateFrame(f, to_1080p(img), by_file[f]))
    return out


def face_frames(eval_dir: Path, quick: bool) -> list[Image]:
    """Frames of the 1080p pedestrian clip plus the group photos, letterboxed to 1080p."""
    step = 10 if quick else 3
    frames = []
    cap = cv2.VideoCapture(str(eval_dir / "video" / "pedestrians_arcade_1080p.mp4"))
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i % step == 0:
            frames.append(to_1080p(frame))
        i += 1
    cap.release()
    for name in ("group_insightface_t1.jpg", "group_multiface.jpg", "street_bus.jpg"):
        img = cv2.imread(str(eval_dir / "privacy" / name), cv2.IMREAD_COLOR)
        if img is not None:
            frames.append(to_1080p(img))
    return frames
