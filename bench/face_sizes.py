"""How much the pack's face embedder limits small faces: accuracy against face size.

Two measurements per face width (detector box width, px):

- embedder only: the clean photo is shrunk so its face is N px wide, then aligned with
  the clean photo's landmarks (scaled): a perfect detector, so what is left is what
  MobileFaceNet can still tell apart from N px. Verification on faces_pairs.csv (one
  side shrunk, the other clean) at the shipped threshold, and rank-1 / at-threshold
  identification against a watchlist enrolled from clean photos.
- product: the face pasted into a 1080p frame at N px and found by the shipped
  detector (``tests.support.street``, condition ``clean`` at N px).

    EDGE_MODELS_DIR=../shared/models EDGE_EVAL_DIR=../shared/eval \\
        .venv/bin/python bench/face_sizes.py

The last stdout line is one JSON object with every number.
"""

from __future__ import annotations

import csv
import json
import os
import warnings
from pathlib import Path

import checkout  # noqa: F401  (puts the checkout root on sys.path)
import cv2
import numpy as np

from edge.config import FaceConfig, MatchConfig, RuntimeConfig
from edge.modelpack import load_manifest
from edge.vision.faces import FaceAnalyzer, align_face, load_face_analyzer
from edge.vision.types import FaceEmbedding, Image
from tests.support.street import condition, sized
from tests.support.street_score import (
    IDENTITY_ALIASES,
    FaceSet,
    StillFaces,
    build_face_set,
    load_bgr,
    score_faces,
)

SIZES = (112, 80, 64, 48, 40, 32, 24)
THRESHOLD = MatchConfig().face_threshold


def shrunk_embedding(analyzer: FaceAnalyzer, image: Image, width: float) -> FaceEmbedding:
    """Embed the photo's largest face as if it had been ``width`` px wide (oracle landmarks)."""
    det = max(analyzer.detect(image), key=lambda d: d.box.area)
    scale = min(1.0, width / det.box.width)
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    marks = [(x * scale, y * scale) for x, y in det.landmarks]
    (emb,) = analyzer.embedder.embed([align_face(np.ascontiguousarray(small), marks)])
    return emb


def embedder_only(
    analyzer: FaceAnalyzer, eval_dir: Path, faces: FaceSet, width: int
) -> dict[str, float]:
    with (eval_dir / "faces_pairs.csv").open(encoding="utf-8", newline="") as f:
        pairs = list(csv.DictReader(f))
    files = {p["file_a"] for p in pairs} | {p["file_b"] for p in pairs}
    files |= {p.file for p in faces.probes} | {p.file for p in faces.strangers}
    clean, small = {}, {}
    for file in sorted(files):
        img = load_bgr(eval_dir / file)
        clean[file] = shrunk_embedding(analyzer, img, 10_000.0).vector
        small[file] = shrunk_embedding(analyzer, img, float(width))
    genuine = [
        float(clean[p["file_a"]] @ small[p["file_b"]].vector) for p in pairs if p["same"] == "1"
    ]
    impostor = [
        float(clean[p["file_a"]] @ small[p["file_b"]].vector) for p in pairs if p["same"] == "0"
    ]
    rank1 = hits = 0
    for p in faces.probes:
        top = faces.gallery.search(small[p.file], 1)[0]
        rank1 += top.subject_id == p.identity
        hits += top.subject_id == p.identity and top.similarity >= THRESHOLD
    strangers = [faces.gallery.search(small[p.file], 1)[0].similarity for p in faces.strangers]
    return {
        "tar": float(np.mean(np.asarray(genuine) >= THRESHOLD)),
        "far": float(np.mean(np.asarray(impostor) >= THRESHOLD)),
        "genuine_mean": float(np.mean(genuine)),
        "impostor_max": float(np.max(impostor)),
        "rank1": rank1 / len(faces.probes),
        "hits": hits / len(faces.probes),
        "stranger_max": float(max(strangers)),
    }


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning, module="albumentations")
    models, eval_dir = Path(os.environ["EDGE_MODELS_DIR"]), Path(os.environ["EDGE_EVAL_DIR"])
    analyzer = load_face_analyzer(models, FaceConfig(), RuntimeConfig(), load_manifest())
    faces = build_face_set(eval_dir, analyzer)
    assert not set(IDENTITY_ALIASES) & {p.identity for p in faces.probes}
    print(f"embedder {analyzer.model_id}; threshold {THRESHOLD}; {len(faces.probes)} probes")
    print(
        "| face px | pairs TAR at thr (one side shrunk) | FAR | genuine mean | impostor max "
        "| rank-1 (embedder only) | at thr | stranger max | rank-1 (product, 1080p) | at thr "
        "| strangers matched |"
    )
    print("|---" * 11 + "|")
    out = {}
    for width in SIZES:
        e = embedder_only(analyzer, eval_dir, faces, width)
        cond = sized(condition("face", "clean"), width)
        p = score_faces(faces, cond, StillFaces(analyzer), THRESHOLD, eval_dir)
        out[width] = {**e, "product_rank1": p.rank1_rate, "product_hits": p.hit_rate}
        out[width]["product_strangers"] = p.strangers_matched
        print(
            f"| {width} | {e['tar']:.1%} | {e['far']:.1%} | {e['genuine_mean']:.3f} "
            f"| {e['impostor_max']:.3f} | {e['rank1']:.0%} | {e['hits']:.0%} "
            f"| {e['stranger_max']:.3f} | {p.rank1_rate:.0%} | {p.hit_rate:.0%} "
            f"| {p.strangers_matched}/{p.strangers} |",
            flush=True,
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
