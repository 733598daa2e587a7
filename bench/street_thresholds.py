"""Calibrate the face quality gate and match threshold on street scenes (strangers at 0).

Every face of every street scene (``tests.support.street``: probes of enrolled people and
never-enrolled strangers, each face condition) is detected with the gate wide open
(``min_quality`` 0, ``min_face_px`` 8) and scored against a watchlist enrolled from
clean photos. Then, for a grid of (min_quality, threshold):

- strangers: stranger scenes in which some face passing the gate reaches the threshold;
- hits per condition: probe scenes whose most similar gated face is the right person
  at or above the threshold.

It prints, per condition, the highest stranger similarity (the lowest threshold that
keeps that condition's strangers at 0) and, per gate, the lowest threshold with no
stranger matched in any condition, with the hit rates it gives. A site re-measures with
its own enrolment photos and camera pictures the same way (docs/accuracy.md).

    EDGE_MODELS_DIR=../shared/models EDGE_EVAL_DIR=../shared/eval \\
        .venv/bin/python bench/street_thresholds.py [--every 1]
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import checkout  # noqa: F401  (puts the checkout root on sys.path)
import numpy as np
from street import vision_of  # bench/street.py (bench/ is on sys.path)

from edge.modelpack import load_manifest
from edge.vision.faces import FaceAnalyzer, load_face_analyzer
from edge.watchlist.gallery import FaceGallery
from tests.support.street import FACE_CONDITIONS, Condition, render
from tests.support.street_score import FacePhoto, build_face_set, load_bgr

GATES = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6)
THRESHOLDS = np.round(np.arange(0.30, 0.61, 0.01), 2)


@dataclass(frozen=True)
class SceneFaces:
    condition: str
    genuine: bool
    identity: str
    #: (quality, top-1 subject, similarity) per detected face
    faces: tuple[tuple[float, str, float], ...]

    def best(self, gate: float) -> tuple[str, float] | None:
        kept = [(s, sim) for q, s, sim in self.faces if q >= gate]
        return max(kept, key=lambda f: f[1], default=None)


def collect(
    analyzer: FaceAnalyzer,
    gallery: FaceGallery,
    photos: list[tuple[FacePhoto, bool]],
    cond: Condition,
    eval_dir: Path,
) -> list[SceneFaces]:
    out = []
    for photo, genuine in photos:
        scene = render(load_bgr(eval_dir / photo.file), photo.box, cond, photo.file)
        faces = []
        for face in analyzer.analyze(scene.frames[-1]):
            if face.embedding is None:
                continue
            top = gallery.search(face.embedding, 1)[0]
            faces.append((face.quality.score, top.subject_id, top.similarity))
        out.append(SceneFaces(cond.name, genuine, photo.identity, tuple(faces)))
    return out


def rates(scenes: list[SceneFaces], gate: float, t: float) -> tuple[dict[str, float], int]:
    hits: dict[str, list[bool]] = {}
    strangers = 0
    for s in scenes:
        best = s.best(gate)
        if s.genuine:
            ok = best is not None and best[0] == s.identity and best[1] >= t
            hits.setdefault(s.condition, []).append(ok)
        else:
            strangers += best is not None and best[1] >= t
    return {c: float(np.mean(v)) for c, v in hits.items()}, strangers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1, help="keep every n-th probe/stranger")
    parser.add_argument("--config", type=Path, help="a gateway/analyze YAML: its vision section")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning, module="albumentations")
    models, eval_dir = Path(os.environ["EDGE_MODELS_DIR"]), Path(os.environ["EDGE_EVAL_DIR"])
    vision = vision_of(args.config)
    manifest, runtime = load_manifest(), vision.runtime
    shipped = load_face_analyzer(models, vision.faces, runtime, manifest)
    faces = build_face_set(eval_dir, shipped, every=args.every)
    wide_open = vision.faces.model_copy(update={"min_quality": 0.0, "min_face_px": 8})
    open_gate = load_face_analyzer(models, wide_open, runtime, manifest)
    photos = [(p, True) for p in faces.probes] + [(p, False) for p in faces.strangers]
    scenes = [
        s for c in FACE_CONDITIONS for s in collect(open_gate, faces.gallery, photos, c, eval_dir)
    ]
    print("| condition | highest stranger similarity (gate 0) | (gate 0.3) |")
    print("|---|---|---|")
    for c in FACE_CONDITIONS:
        worst = [
            max(
                (s.best(g) or ("", -1.0))[1]
                for s in scenes
                if s.condition == c.name and not s.genuine
            )
            for g in (0.0, 0.3)
        ]
        print(f"| {c.name} | {worst[0]:.3f} | {worst[1]:.3f} |")
    names = [c.name for c in FACE_CONDITIONS]
    print("\n| gate | lowest threshold, 0 strangers | " + " | ".join(names) + " |")
    print("|---" * (2 + len(names)) + "|")
    result = {}
    for gate in GATES:
        t = next(float(t) for t in THRESHOLDS if rates(scenes, gate, float(t))[1] == 0)
        hits, _ = rates(scenes, gate, t)
        result[str(gate)] = {"threshold": t, "hits": hits}
        print(f"| {gate} | {t:.2f} | " + " | ".join(f"{hits[n]:.0%}" for n in names) + " |")
    shipped_gate = (vision.faces.min_quality, vision.match.face_threshold)
    hits, matched = rates(scenes, *shipped_gate)
    print(
        f"| configured {shipped_gate[0]} | {shipped_gate[1]} ({matched} strangers) | "
        + " | ".join(f"{hits[n]:.0%}" for n in names)
        + " |"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
