"""Street-conditions accuracy: plates exact %, faces rank-1 %, strangers matched, per condition.

Scenes come from ``tests.support.street`` (seeded; the same pixels on every run), scoring
from ``tests.support.street_score``. Two pipelines are scored on identical frames:

- plain: the still-frame recognisers at their defaults, no street feature: plates
  ``PlateConfig()`` (y5fu at 640 on the whole frame + plate_rec_color), faces
  ``FaceConfig(stretch_dark_below=0)`` (SCRFD-500M at 128 + 640, quality gate,
  MobileFaceNet, no dark-face stretch), one frame. It also enrols the watchlist.
- ours: the product pipeline as a gateway configures it (the ``vision`` section of
  ``--config gateway.yaml``, default ``VisionConfig()``) through ``product_systems``
  below; street features (second pass, votes, fusion) plug in there.

    EDGE_MODELS_DIR=../shared/models EDGE_EVAL_DIR=../shared/eval \\
        .venv/bin/python bench/street.py [--every 1] [--frames 1] [--seed 0]

The last stdout line is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import checkout  # noqa: F401  (puts the checkout root on sys.path)
import yaml

from edge.config import FaceConfig, MatchConfig, PlateConfig, RuntimeConfig, VisionConfig
from edge.modelpack import PackManifest, load_manifest
from edge.vision.faces import FaceAnalyzer, load_face_analyzer
from edge.vision.plates import PlateRecognizer, load_plate_recognizer
from tests.support.street import FACE_CONDITIONS, PLATE_CONDITIONS, Condition
from tests.support.street_score import (
    FaceScore,
    FaceSet,
    FaceSystem,
    PlateSample,
    PlateScore,
    PlateSystem,
    StillFaces,
    StillPlates,
    build_face_set,
    load_plate_samples,
    score_faces,
    score_plates,
    tighten_plate_boxes,
)


@dataclass(frozen=True)
class Systems:
    name: str
    plates: PlateSystem
    faces: FaceSystem
    threshold: float


def plain_systems(
    models: Path, manifest: PackManifest
) -> tuple[Systems, FaceAnalyzer, PlateRecognizer]:
    runtime = RuntimeConfig()
    # the dark-face stretch is a street feature: off here (a no-op on the clean
    # enrolment photos, which are all far brighter than its limit)
    faces = load_face_analyzer(models, FaceConfig(stretch_dark_below=0.0), runtime, manifest)
    plates = load_plate_recognizer(models, PlateConfig(), runtime, manifest)
    systems = Systems("plain", StillPlates(plates), StillFaces(faces), MatchConfig().face_threshold)
    return systems, faces, plates


def product_systems(models: Path, manifest: PackManifest, vision: VisionConfig) -> Systems:
    """The product as configured. Street features (second pass on regions, votes and
    embedding fusion over a burst) belong here once the product has them."""
    faces = load_face_analyzer(models, vision.faces, vision.runtime, manifest)
    plates = load_plate_recognizer(models, vision.plates, vision.runtime, manifest)
    return Systems("ours", StillPlates(plates), StillFaces(faces), vision.match.face_threshold)


def vision_of(config: Path | None) -> VisionConfig:
    if config is None:
        return VisionConfig()
    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    return VisionConfig.model_validate(data.get("vision", {}))


def run(
    systems: Systems,
    plate_samples: list[PlateSample],
    face_set: FaceSet,
    eval_dir: Path,
    args: argparse.Namespace,
    conditions: tuple[list[Condition], list[Condition]],
) -> tuple[list[PlateScore], list[FaceScore]]:
    plates = [
        score_plates(plate_samples, c, systems.plates, eval_dir, args.seed, args.frames)
        for c in conditions[0]
    ]
    faces = [
        score_faces(face_set, c, systems.faces, systems.threshold, eval_dir, args.seed, args.frames)
        for c in conditions[1]
    ]
    return plates, faces


def table(results: dict[str, tuple[list[PlateScore], list[FaceScore]]]) -> list[str]:
    names = list(results)
    head = (
        "| condition | "
        + " | ".join(
            f"plates exact ({n}) | faces rank-1 ({n}) | at threshold ({n}) "
            f"| strangers matched ({n})"
            for n in names
        )
        + " |"
    )
    lines = [head, "|---" * (1 + 4 * len(names)) + "|"]
    conds = [c.name for c in PLATE_CONDITIONS] + [
        c.name for c in FACE_CONDITIONS if c.name not in {p.name for p in PLATE_CONDITIONS}
    ]
    for cond in conds:
        cells = [cond]
        for n in names:
            ps = {s.condition: s for s in results[n][0]}
            fs = {s.condition: s for s in results[n][1]}
            p, f = ps.get(cond), fs.get(cond)
            cells.append(f"{p.rate:.1%} ({p.hits}/{p.total})" if p else "-")
            cells.append(f"{f.rank1_rate:.1%} ({f.rank1}/{f.probes})" if f else "-")
            cells.append(f"{f.hit_rate:.1%}" if f else "-")
            cells.append(f"{f.strangers_matched}/{f.strangers}" if f else "-")
        if any(c != "-" for c in cells[1:]):
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1, help="keep every n-th sample")
    parser.add_argument("--frames", type=int, default=1, help="frames per scene (burst)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conditions", default="", help="comma list (default: all)")
    parser.add_argument("--config", type=Path, help="a gateway/analyze YAML: its vision section")
    parser.add_argument("--only", choices=("ours", "plain", "both"), default="both")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning, module="albumentations")
    models, eval_dir = Path(os.environ["EDGE_MODELS_DIR"]), Path(os.environ["EDGE_EVAL_DIR"])
    wanted = set(filter(None, args.conditions.split(",")))
    conditions = (
        [c for c in PLATE_CONDITIONS if not wanted or c.name in wanted],
        [c for c in FACE_CONDITIONS if not wanted or c.name in wanted],
    )
    manifest = load_manifest()
    plain, analyzer, recognizer = plain_systems(models, manifest)
    samples = tighten_plate_boxes(
        load_plate_samples(eval_dir, every=args.every),
        eval_dir,
        lambda img: [d.box for d in recognizer.detector.detect(img)],
    )
    face_set = build_face_set(eval_dir, analyzer, every=args.every)
    print(
        f"{len(samples)} plate scenes, {len(face_set.probes)} face probes, "
        f"{len(face_set.strangers)} strangers, {len(face_set.gallery)} enrolled; "
        f"seed {args.seed}, {args.frames} frame(s) per scene",
        file=sys.stderr,
    )
    chosen = {"ours": None, "plain": plain} if args.only == "both" else {args.only: None}
    results: dict[str, Any] = {}
    for name in chosen:
        systems = (
            plain if name == "plain" else product_systems(models, manifest, vision_of(args.config))
        )
        t0 = time.perf_counter()
        results[name] = run(systems, samples, face_set, eval_dir, args, conditions)
        print(f"{name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print("\n".join(table(results)))
    print(
        json.dumps(
            {
                n: {
                    "plates": {s.condition: [s.hits, s.total] for s in r[0]},
                    "faces": {
                        s.condition: [s.rank1, s.hits, s.probes, s.strangers_matched, s.strangers]
                        for s in r[1]
                    },
                }
                for n, r in results.items()
            }
        )
    )


if __name__ == "__main__":
    main()
