"""Plate detection for two frames in one run (edge/vision/stacking.py): cost and reads.

Toll-station cars (verified labels) are pasted at a random place into plain frames at
a street size, in pairs; each pair is detected alone (two runs) and stacked
(``PlateRecognizer.detect_pair``, one run), interleaved in the same process, and every
detection is read from its own frame. Printed per frame size: exact reads alone and
stacked, and CPU ms per frame with the ratio stacked / alone. 1080p frames are also
stacked here (forcing ``detect_stacked``) to show why the product does not stack them.

    EDGE_MODELS_DIR=../shared/models EDGE_EVAL_DIR=../shared/eval \\
        .venv/bin/python bench/plate_stacking.py [--cars 120]
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

import checkout  # noqa: F401  (puts the checkout root on sys.path)
import cv2
import numpy as np

from edge.config import PlateConfig, RuntimeConfig
from edge.modelpack import load_manifest
from edge.vision.plates import PlateRecognizer, load_plate_recognizer
from edge.vision.stacking import detect_stacked
from edge.vision.types import Image, PlateDetection

SIZES = ((640, 360, 40, 60), (1920, 1080, 110, 180), (1920, 1080, 55, 70))


def _frames(
    pr: PlateRecognizer, rows: list[dict[str, str]], eval_dir: Path, size: tuple[int, ...]
) -> list[tuple[Image, str]]:
    width, height, lo, hi = size
    rng = np.random.default_rng(1)
    out = []
    for r in rows:
        car = cv2.imread(str(eval_dir / r["file"]))
        found = pr.recognize(car)
        if not found or found[0].text != r["plate_text"]:
            continue
        k = rng.uniform(lo, hi) / found[0].detection.box.width
        small = cv2.resize(car, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        frame = rng.normal(110, 12, (height, width, 3)).clip(0, 255).astype(np.uint8)
        h, w = min(small.shape[0], height), min(small.shape[1], width)
        x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        frame[y : y + h, x : x + w] = small[:h, :w]
        out.append((frame, r["plate_text"]))
    return out[: len(out) - len(out) % 2]


def _exact(pr: PlateRecognizer, dets: list[PlateDetection], image: Image, text: str) -> bool:
    return any((p := pr.read_detection(image, d)) is not None and p.text == text for d in dets)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cars", type=int, default=120)
    args = ap.parse_args()
    models, eval_dir = Path(os.environ["EDGE_MODELS_DIR"]), Path(os.environ["EDGE_EVAL_DIR"])
    pr = load_plate_recognizer(
        models, PlateConfig(), RuntimeConfig(intra_op_threads=1), load_manifest()
    )
    with (eval_dir / "plates_manifest.csv").open(encoding="utf-8") as f:
        rows = [
            r
            for r in csv.DictReader(f)
            if r["subset"] == "toll_station_hyperlpr" and r["label_quality"] == "verified_visual"
        ][: args.cars]
    for size in SIZES:
        frames = _frames(pr, rows, eval_dir, size)
        n = len(frames)
        alone = stacked = 0
        cpu = {"alone": 0.0, "stacked": 0.0}
        for i in range(0, n, 2):
            (a, ta), (b, tb) = frames[i], frames[i + 1]
            order = ("alone", "stacked") if i % 4 == 0 else ("stacked", "alone")
            got: dict[str, tuple[list[PlateDetection], list[PlateDetection]]] = {}
            for mode in order:
                t = time.process_time()
                if mode == "alone":
                    got[mode] = (list(pr.detector.detect(a)), list(pr.detector.detect(b)))
                else:
                    got[mode] = detect_stacked(pr.detector.detect, a, b)
                cpu[mode] += time.process_time() - t
            alone += _exact(pr, got["alone"][0], a, ta) + _exact(pr, got["alone"][1], b, tb)
            stacked += _exact(pr, got["stacked"][0], a, ta) + _exact(pr, got["stacked"][1], b, tb)
        w, h, lo, hi = size
        ms = {k: v / n * 1000 for k, v in cpu.items()}
        print(
            f"{w}x{h}, plates {lo}-{hi} px: exact alone {alone}/{n}, stacked {stacked}/{n}; "
            f"detect ms/frame alone {ms['alone']:.1f}, stacked {ms['stacked']:.1f} "
            f"(ratio {ms['stacked'] / ms['alone']:.2f})"
        )


if __name__ == "__main__":
    main()
