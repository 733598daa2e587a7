"""Street features: what tiles (second detector pass) and track fusion gain, and cost.

Same process, same frames, same sessions' options, interleaved:

- cost: ms per 1080p street frame of the face analyser and the plate recogniser, plain
  (``FaceConfig()`` / ``PlateConfig()``) against tiled (``tiles.enabled``, the given
  tile size), and the ratio;
- still frames: ``tests.support.street_score`` per condition, plain against tiled;
- tracks: a burst of ``--frames`` frames per scene through the real gateway stages
  (``tests.support.street_tracks``): before = plain detectors and no fusion (plate
  votes already existed), after = tiles + ``embed_shots`` best shots per face track (+ ``--fuse``).

    EDGE_MODELS_DIR=../shared/models EDGE_EVAL_DIR=../shared/eval \\
        .venv/bin/python bench/street_features.py [--every 4] [--frames 5] [--tile 1080]

The last stdout line is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import checkout  # noqa: F401  (puts the checkout root on sys.path)

from edge.config import FaceConfig, PlateConfig, RuntimeConfig, TileConfig
from edge.gateway.config import TrackerConfig
from edge.modelpack import load_manifest
from edge.vision.faces import load_face_analyzer
from edge.vision.plates import load_plate_recognizer
from edge.vision.types import Image
from tests.support.street import FACE_CONDITIONS, PLATE_CONDITIONS, render
from tests.support.street_score import (
    StillFaces,
    StillPlates,
    build_face_set,
    load_bgr,
    load_plate_samples,
    score_faces,
    score_plates,
    tighten_plate_boxes,
)
from tests.support.street_tracks import score_face_tracks, score_plate_tracks


def _cost(
    runs: dict[str, Callable[[Image], object]], frames: list[Image], rounds: int
) -> dict[str, float]:
    """Median ms per frame of each callable, interleaved frame by frame."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(rounds):
        for i, frame in enumerate(frames):
            order = list(runs) if (i + r) % 2 == 0 else list(reversed(runs))
            for name in order:
                t0 = time.perf_counter()
                runs[name](frame)
                times[name].append((time.perf_counter() - t0) * 1000)
    return {k: round(statistics.median(v), 1) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--tile", type=int, default=1080)
    parser.add_argument("--shots", type=int, default=3, help="tracking.faces.embed_shots")
    parser.add_argument("--fuse", action="store_true", help="tracking.faces.fuse_embeddings")
    parser.add_argument("--conditions", default="", help="comma list (default: all)")
    parser.add_argument("--skip-tracks", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning, module="albumentations")
    models, eval_dir = Path(os.environ["EDGE_MODELS_DIR"]), Path(os.environ["EDGE_EVAL_DIR"])
    wanted = set(filter(None, args.conditions.split(",")))
    manifest, runtime = load_manifest(), RuntimeConfig()
    tiles = TileConfig(enabled=True, size=args.tile)
    faces = {
        "plain": load_face_analyzer(models, FaceConfig(), runtime, manifest),
        "tiled": load_face_analyzer(models, FaceConfig(tiles=tiles), runtime, manifest),
    }
    plates = {
        "plain": load_plate_recognizer(models, PlateConfig(), runtime, manifest),
        "tiled": load_plate_recognizer(models, PlateConfig(tiles=tiles), runtime, manifest),
    }
    samples = tighten_plate_boxes(
        load_plate_samples(eval_dir, every=args.every),
        eval_dir,
        lambda img: [d.box for d in plates["plain"].detector.detect(img)],
    )
    face_set = build_face_set(eval_dir, faces["plain"], every=args.every)
    street = next(c for c in PLATE_CONDITIONS if c.name == "distance")
    frames = [
        render(load_bgr(eval_dir / s.file), s.box, street, s.file).frames[0] for s in samples[:12]
    ]
    runs: dict[str, Callable[[Image], object]] = {}
    for k in ("plain", "tiled"):
        runs[f"faces_{k}"] = faces[k].analyze
        runs[f"plates_{k}"] = plates[k].recognize
    cost = _cost(runs, frames, 2)
    result: dict[str, Any] = {
        "cost_ms": cost,
        "cost_ratio": {
            "faces": round(cost["faces_tiled"] / cost["faces_plain"], 2),
            "plates": round(cost["plates_tiled"] / cost["plates_plain"], 2),
        },
        "still": {},
        "tracks": {},
    }
    print(f"cost per 1080p frame (ms): {cost} ratio {result['cost_ratio']}", flush=True)
    before = TrackerConfig(embed_shots=1)
    after = TrackerConfig(embed_shots=args.shots, fuse_embeddings=args.fuse)
    for c in PLATE_CONDITIONS:
        if wanted and c.name not in wanted:
            continue
        still = [
            score_plates(samples, c, StillPlates(plates[k]), eval_dir).hits
            for k in ("plain", "tiled")
        ]
        result["still"][f"plates/{c.name}"] = [*still, len(samples)]
        if not args.skip_tracks:
            tracks = [
                score_plate_tracks(samples, c, plates[k], eval_dir, args.frames, cfg).hits
                for k, cfg in (("plain", before), ("tiled", after))
            ]
            result["tracks"][f"plates/{c.name}"] = [*tracks, len(samples)]
        print(c.name, "plates", result["still"].get(f"plates/{c.name}"), flush=True)
        print(c.name, "plate tracks", result["tracks"].get(f"plates/{c.name}"), flush=True)
    for c in FACE_CONDITIONS:
        if wanted and c.name not in wanted:
            continue
        s = [
            score_faces(face_set, c, StillFaces(faces[k]), 0.48, eval_dir)
            for k in ("plain", "tiled")
        ]
        result["still"][f"faces/{c.name}"] = [s[0].rank1, s[1].rank1, s[0].probes]
        if not args.skip_tracks:
            t = [
                score_face_tracks(face_set, c, faces[k], eval_dir, args.frames, cfg)
                for k, cfg in (("plain", before), ("tiled", after))
            ]
            result["tracks"][f"faces/{c.name}"] = [
                t[0].hits,
                t[1].hits,
                t[0].total,
                t[0].strangers_matched,
                t[1].strangers_matched,
                t[0].strangers,
            ]
        print(c.name, "faces", result["still"][f"faces/{c.name}"], flush=True)
        print(c.name, "face tracks", result["tracks"].get(f"faces/{c.name}"), flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
