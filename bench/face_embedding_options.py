"""Probe-side face embedding options on the street suite: flip averaging, dark-face lift.

Every face scene of ``tests.support.street`` is rendered and detected once; the usable
faces (the shipped quality gate) are then embedded under each option and scored
against a watchlist enrolled from the clean photos (``tests.support.street_score``):
rank-1, at the match threshold, strangers reaching it. Options:

- ``flip``: the aligned 112x112 crop and its mirror are embedded, averaged, re-normalised.
- ``clahe<T>`` / ``gamma<T>``: when the crop's mean luma is below T, CLAHE on the L
  channel (Lab) or a gamma lift towards a mean of 110 before embedding.

Galleries: ``enrol=plain`` (the shipped templates) and ``enrol=flip`` (both sides).
Cost: median ms per face of the product's embedder with each adopted option against
plain (10 clean + 10 night crops, interleaved, same process).

    EDGE_MODELS_DIR=../shared/models EDGE_EVAL_DIR=../shared/eval \\
        nice -n 19 .venv/bin/python bench/face_embedding_options.py [--every 1]

The last stdout line is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import checkout  # noqa: F401  (puts the checkout root on sys.path)
import cv2
import numpy as np

from edge.config import FaceConfig, MatchConfig, RuntimeConfig
from edge.modelpack import load_manifest
from edge.vision.face_light import lift_dark
from edge.vision.face_quality import face_quality
from edge.vision.faces import FaceAnalyzer, align_face, load_face_analyzer
from edge.vision.protocols import FaceEmbedder
from edge.vision.types import FaceEmbedding, Image
from edge.watchlist.gallery import FaceGallery
from tests.support.street import FACE_CONDITIONS, Condition, render
from tests.support.street_score import FaceSet, build_face_set, load_bgr

Transform = Callable[[Image], Image]
THRESHOLD = MatchConfig().face_threshold


def luma(crop: Image) -> float:
    return float(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).mean())


def clahe_below(limit: float, clip: float = 2.0, grid: int = 4) -> Transform:
    clahe = cv2.createCLAHE(clipLimit=clip, tileGridSize=(grid, grid))

    def run(crop: Image) -> Image:
        if luma(crop) >= limit:
            return crop
        lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB)
        lab[:, :, 0] = clahe.apply(np.ascontiguousarray(lab[:, :, 0]))
        return np.ascontiguousarray(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR))

    return run


def gamma_below(limit: float, target: float = 110.0) -> Transform:
    def run(crop: Image) -> Image:
        m = luma(crop)
        if m >= limit or m < 1.0:
            return crop
        g = np.log(target / 255.0) / np.log(m / 255.0)
        lut = np.clip(255.0 * (np.arange(256) / 255.0) ** g, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(cv2.LUT(crop, lut))

    return run


def stretch_below(
    limit: float, denoise: bool = False, low: float = 1.0, high: float = 99.0
) -> Transform:
    """Linear stretch of the crop's 1st-99th luma percentiles to 0-255 (dark crops)."""

    def run(crop: Image) -> Image:
        if luma(crop) >= limit:
            return crop
        src = cv2.GaussianBlur(crop, (3, 3), 0) if denoise else crop
        grey = cv2.cvtColor(src, cv2.COLOR_BGR2GRAY)
        lo, hi = (float(v) for v in np.percentile(grey, [low, high]))
        scale = 255.0 / max(hi - lo, 1.0)
        out = np.clip((src.astype(np.float32) - lo) * scale, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(out)

    return run


def identity(crop: Image) -> Image:
    return crop


@dataclass(frozen=True)
class Option:
    name: str
    transform: Transform
    flip: bool


def embed_option(base: FaceEmbedder, crops: Sequence[Image], opt: Option) -> list[FaceEmbedding]:
    if not crops:
        return []
    ready = [opt.transform(c) for c in crops]
    out = base.embed(ready)
    if not opt.flip:
        return list(out)
    mirrored = base.embed([np.ascontiguousarray(c[:, ::-1]) for c in ready])
    fused = []
    for a, b in zip(out, mirrored, strict=True):
        v = a.vector + b.vector
        fused.append(
            FaceEmbedding(vector=v / max(float(np.linalg.norm(v)), 1e-12), model_id=a.model_id)
        )
    return fused


OPTIONS = [
    Option("plain", identity, False),
    Option("flip", identity, True),
    Option("clahe60", clahe_below(60), False),
    Option("clahe60_c3g2", clahe_below(60, 3.0, 2), False),
    Option("clahe_all", clahe_below(256), False),
    Option("gamma60", gamma_below(60), False),
    Option("gamma60_t80", gamma_below(60, 80.0), False),
    # the product's stretch (FaceConfig.stretch_dark_below = 60)
    Option("stretch60", lambda c: lift_dark(c, 60.0), False),
    Option("stretch60_p05", stretch_below(60, low=0.5, high=99.5), False),
    Option("blur_stretch60", stretch_below(60, denoise=True), False),
    Option("stretch_all", stretch_below(256), False),
    Option("flip+stretch60", lambda c: lift_dark(c, 60.0), True),
]


def best(gallery: FaceGallery, embs: Sequence[FaceEmbedding]) -> tuple[str, float] | None:
    tops = [m for e in embs for m in gallery.search(e, 1)]
    top = max(tops, key=lambda m: m.similarity, default=None)
    return None if top is None else (top.subject_id, top.similarity)


def own(gallery: FaceGallery, embs: Sequence[FaceEmbedding], subject: str) -> float:
    """Best similarity of the scene's faces to the right person (0 when no face)."""
    n = len(gallery)
    found = [m.similarity for e in embs for m in gallery.search(e, n) if m.subject_id == subject]
    return max(found, default=0.0)


def scene_crops(analyzer: FaceAnalyzer, frame: Image) -> list[Image]:
    """The aligned crops ``FaceAnalyzer.analyze`` would embed (quality gate applied)."""
    crops = []
    for d in analyzer.detect(frame):
        a = align_face(frame, d.landmarks)
        if analyzer.usable(face_quality(frame, d, a)):
            crops.append(a)
    return crops


def cost(embedders: dict[str, FaceEmbedder], crops: Sequence[Image], reps: int) -> dict[str, float]:
    """Median ms per face of each product embedder, one face per call, interleaved so
    the loaded box's swings hit every configuration alike."""
    times: dict[str, list[float]] = {k: [] for k in embedders}
    for _ in range(reps):
        for c in crops:
            for k, e in embedders.items():
                t0 = time.perf_counter()
                e.embed([c])
                times[k].append(time.perf_counter() - t0)
    return {k: 1000.0 * float(np.median(v)) for k, v in times.items()}


@dataclass
class Tally:
    """One (enrolment, option, condition) cell."""

    rank1: int = 0
    hits: int = 0
    probes: int = 0
    strangers_matched: int = 0
    strangers: int = 0
    genuine: list[float] = field(default_factory=list)  # similarity to the right person
    stranger_best: list[float] = field(default_factory=list)

    def add(self, top: tuple[str, float] | None, identity: str | None, own_sim: float) -> None:
        if identity is None:
            self.strangers += 1
            self.stranger_best.append(-1.0 if top is None else top[1])
            self.strangers_matched += top is not None and top[1] >= THRESHOLD
            return
        self.probes += 1
        self.genuine.append(own_sim)
        if top is not None and top[0] == identity:
            self.rank1 += 1
            self.hits += top[1] >= THRESHOLD


Results = dict[str, dict[str, dict[str, Tally]]]  # [enrol][option][condition]


def score_condition(
    cond: Condition,
    analyzer: FaceAnalyzer,
    sets: dict[str, FaceSet],
    eval_dir: Path,
    seed: int,
    res: Results,
) -> list[Image]:
    """Tally every option and gallery on the condition's scenes; returns the crops."""
    base, probes = analyzer.embedder, sets["plain"]
    seen: list[Image] = []
    scenes = [(p, p.identity) for p in probes.probes] + [(p, None) for p in probes.strangers]
    for photo, identity in scenes:
        scene = render(load_bgr(eval_dir / photo.file), photo.box, cond, photo.file, seed)
        crops = scene_crops(analyzer, scene.frames[-1])
        seen.extend(crops)
        for o in OPTIONS:
            embs = embed_option(base, crops, o)
            for g, fs in sets.items():
                own_sim = 0.0 if identity is None else own(fs.gallery, embs, identity)
                tally = res[g][o.name].setdefault(cond.name, Tally())
                tally.add(best(fs.gallery, embs), identity, own_sim)
    return seen


def report(res: Results) -> None:
    for g, by_option in res.items():
        names = list(by_option["plain"])
        print(f"\nenrol={g}: rank-1 / at {THRESHOLD} / strangers matched")
        print("| option | " + " | ".join(names) + " |")
        for o, cells in by_option.items():
            row = [f"{cells[c].rank1}/{cells[c].hits}/{cells[c].strangers_matched}" for c in names]
            print(f"| {o} | " + " | ".join(row) + " |")
        print("mean genuine similarity / max stranger similarity")
        for o, cells in by_option.items():
            row = [
                f"{np.mean(cells[c].genuine):.3f}/{max(cells[c].stranger_best, default=-1):.3f}"
                for c in names
            ]
            print(f"| {o} | " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conditions", default="")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning, module="albumentations")
    models, eval_dir = Path(os.environ["EDGE_MODELS_DIR"]), Path(os.environ["EDGE_EVAL_DIR"])
    manifest, runtime = load_manifest(), RuntimeConfig()
    # the raw embedder: every option is applied by this script
    analyzer = load_face_analyzer(models, FaceConfig(stretch_dark_below=0.0), runtime, manifest)
    flipped = FaceConfig(stretch_dark_below=0.0, flip_average=True)
    sets = {
        "plain": build_face_set(eval_dir, analyzer, every=args.every),
        "flip": build_face_set(
            eval_dir, load_face_analyzer(models, flipped, runtime, manifest), every=args.every
        ),
    }
    wanted = set(filter(None, args.conditions.split(",")))
    res: Results = {g: {o.name: {} for o in OPTIONS} for g in sets}
    lumas: dict[str, list[float]] = {}
    timed: list[Image] = []  # 10 clean and 10 night crops for the cost
    for cond in (c for c in FACE_CONDITIONS if not wanted or c.name in wanted):
        t0 = time.perf_counter()
        crops = score_condition(cond, analyzer, sets, eval_dir, args.seed, res)
        lumas[cond.name] = [luma(c) for c in crops]
        timed.extend(crops[:10] if cond.name in ("clean", "night") else [])
        print(f"{cond.name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    report(res)
    luma_q = {
        c: [round(float(q), 1) for q in np.percentile(v, [10, 50, 90])]
        for c, v in lumas.items()
        if v
    }
    print("crop luma p10/p50/p90:", luma_q)
    product = {
        "plain": analyzer.embedder,
        "stretch60": load_face_analyzer(models, FaceConfig(), runtime, manifest).embedder,
        "flip": load_face_analyzer(models, flipped, runtime, manifest).embedder,
        "flip+stretch60": load_face_analyzer(
            models, FaceConfig(flip_average=True), runtime, manifest
        ).embedder,
    }
    ms = cost(product, timed, reps=10) if timed else {}
    print("ms per face:", {k: round(v, 2) for k, v in ms.items()})
    out = {
        g: {
            o: {
                c: [t.rank1, t.hits, t.probes, t.strangers_matched, t.strangers]
                for c, t in by_c.items()
            }
            for o, by_c in by_o.items()
        }
        for g, by_o in res.items()
    }
    print(json.dumps({"results": out, "luma": luma_q, "ms_per_face": ms}))


if __name__ == "__main__":
    main()
