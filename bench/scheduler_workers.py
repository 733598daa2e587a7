"""Detector throughput: one analysis thread (today) against N workers, interleaved.

Baseline: one thread runs face detection (SCRFD) and plate detection (y5fu) on each
frame, sessions with onnxruntime's default intra-op threads (what one recognition
thread did before the scheduler). Candidate: ``--workers`` threads take the same
frames, sessions with intra_op_threads=1 (what the scheduler sets with >1 worker).
A third variant runs the workers with default sessions, to separate the two
effects. Every session comes from ``edge.vision.runtime.create_session`` (spinning
off). Rounds alternate the variants; medians with min/max, and the CPU cores the
process used (process time / wall time) while a variant ran.

    EDGE_MODELS_DIR=../shared/models EDGE_EVAL_DIR=../shared/eval \\
        .venv/bin/python bench/scheduler_workers.py --frames 40 --rounds 3

The last stdout line is one JSON object with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.config import FaceConfig, PlateConfig, RuntimeConfig
from edge.modelpack import load_manifest
from edge.vision.faces import FaceAnalyzer, load_face_analyzer
from edge.vision.plates import PlateRecognizer, load_plate_recognizer

CLIP = "video/pedestrians_arcade_1080p.mp4"


def frames(eval_dir: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(eval_dir / CLIP))
    out = []
    while len(out) < n:
        ok, img = cap.read()
        if not ok:
            break
        out.append(img)
    cap.release()
    return out


def load(models: Path, intra: int) -> tuple[FaceAnalyzer, PlateRecognizer]:
    runtime = RuntimeConfig(intra_op_threads=intra)
    manifest = load_manifest()
    return (
        load_face_analyzer(models, FaceConfig(), runtime, manifest),
        load_plate_recognizer(models, PlateConfig(), runtime, manifest),
    )


def run(
    models: tuple[FaceAnalyzer, PlateRecognizer], imgs: list[Any], workers: int
) -> dict[str, float]:
    faces, plates = models

    def one(img: Any) -> int:
        return len(faces.detect_all(img)[0]) + len(plates.detector.detect(img))

    t0, c0 = time.perf_counter(), time.process_time()
    if workers == 1:
        found = sum(one(img) for img in imgs)
    else:
        with ThreadPoolExecutor(workers) as pool:
            found = sum(pool.map(one, imgs))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"fps": len(imgs) / wall, "cores": cpu / wall, "found": found}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()
    models_dir = Path(os.environ["EDGE_MODELS_DIR"])
    imgs = frames(Path(os.environ["EDGE_EVAL_DIR"]), args.frames)
    default, single = load(models_dir, 0), load(models_dir, 1)
    variants = {
        "one_thread_default_sessions": (default, 1),
        f"{args.workers}_workers_intra1": (single, args.workers),
        f"{args.workers}_workers_default_sessions": (default, args.workers),
    }
    run(default, imgs[:4], 1)  # warm-up: first runs allocate
    run(single, imgs[:4], args.workers)
    results: dict[str, list[dict[str, float]]] = {k: [] for k in variants}
    for r in range(args.rounds):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))
        for name in order:
            m, w = variants[name]
            results[name].append(run(m, imgs, w))
    base = statistics.median(x["fps"] for x in results["one_thread_default_sessions"])
    summary: dict[str, Any] = {
        "frames": len(imgs),
        "rounds": args.rounds,
        "load": os.getloadavg()[0],
    }
    for name, rs in results.items():
        fps = [x["fps"] for x in rs]
        summary[name] = {
            "fps_median": round(statistics.median(fps), 2),
            "fps_min": round(min(fps), 2),
            "fps_max": round(max(fps), 2),
            "cores_median": round(statistics.median(x["cores"] for x in rs), 2),
            # CPU per frame hardly depends on other load on the box; fps does
            "cpu_ms_per_frame": round(
                statistics.median(1000 * x["cores"] / x["fps"] for x in rs), 1
            ),
            "ratio_vs_baseline": round(statistics.median(fps) / base, 2),
            "detections": rs[0]["found"],
        }
        print(f"{name:<36} {summary[name]}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
