"""Privacy sweep: what it costs per evidence frame and what it adds over recognition.

For each street scene (pedestrian video frames, group photos, toll frames with drivers,
a watchlisted plate pasted in) the stored scene is built twice, in process, with the
real models: redacting only what recognition found (the gateway before the sweep), and
redacting that plus what the sweep found. An independent oracle (YuNet on 2x tiles,
y5fu_640 on 960 px tiles; tests/support/privacy_oracle.py) counts faces >= 20 px and
plates outside the match left clear in each. Cost: the sweep's own time per frame
against recognition's detection time on the same frame (same process, same threads),
for both face passes (``vision.privacy.face_pass``: one full-resolution pass, or tiles),
run alternately on the same frames.

    EDGE_MODELS_DIR=../shared/models EDGE_EVAL_DIR=../shared/eval PYTHONPATH=. \
        python bench/privacy_sweep.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from edge.config import FaceConfig, PlateConfig, PrivacyConfig, RuntimeConfig
from edge.modelpack import load_manifest
from edge.vision.faces import load_face_analyzer
from edge.vision.plates import load_plate_recognizer
from edge.vision.privacy import redact
from edge.vision.scene_privacy import load_privacy_sweep
from edge.vision.types import Box, Image
from tests.support.privacy_oracle import (
    IndependentOracle,
    leaks,
    listed_plate,
    paste,
    street_scenes,
)


def _stored(image: Image, boxes: list[Box], keep: Box) -> Image:
    """What EvidenceBuilder stores (minus JPEG): redact, then paste the match back."""
    out = redact(image, boxes)
    x1, y1, x2, y2 = int(keep.x1), int(keep.y1), int(keep.x2), int(keep.y2)
    out[y1:y2, x1:x2] = image[y1:y2, x1:x2]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=Path(os.environ["EDGE_MODELS_DIR"]))
    ap.add_argument("--eval", type=Path, default=Path(os.environ["EDGE_EVAL_DIR"]))
    args = ap.parse_args()
    runtime, manifest = RuntimeConfig(), load_manifest()
    faces = load_face_analyzer(args.models, FaceConfig(), runtime, manifest)
    plates = load_plate_recognizer(args.models, PlateConfig(), runtime, manifest)
    sweeps = {
        kind: load_privacy_sweep(args.models, PrivacyConfig(face_pass=kind), runtime, manifest)
        for kind in ("full", "tiles")
    }
    oracle = IndependentOracle(args.models)
    oracle.start()
    plate = listed_plate(args.eval)
    clear: dict[str, dict[str, int]] = {
        k: {"face": 0, "plate": 0} for k in ("recognition", *sweeps)
    }
    recog_ms: list[float] = []
    sweep_ms: dict[str, list[float]] = {k: [] for k in sweeps}
    face_ms: dict[str, list[float]] = {k: [] for k in sweeps}
    for i, (name, raw) in enumerate(street_scenes(args.eval)):
        image, keep = paste(raw, plate)
        t0 = time.perf_counter()
        confident, faint = faces.detect_all(image)
        scan = plates.scan(image)
        recog_ms.append((time.perf_counter() - t0) * 1000)
        seen = [d.box for d in confident + faint]
        seen += [p.detection.box for p in scan.plates] + [d.box for d in scan.rejected]
        left = {"recognition": leaks(oracle, image, _stored(image, seen, keep), [keep])}
        # alternate which sweep runs first: caches and clocks favour neither
        for kind in sorted(sweeps, reverse=i % 2 == 1):
            found = sweeps[kind].sweep(image)
            sweep_ms[kind].append(found.elapsed_ms)
            face_ms[kind].append(found.faces_ms)
            stored = _stored(image, seen + list(found.boxes), keep)
            left[kind] = leaks(oracle, image, stored, [keep])
        for kind, found_clear in left.items():
            for f, _ in found_clear:
                clear[kind][f.kind] += 1
        shown = [(f.kind, round(f.box.width), round(f.score, 2)) for f, _ in left["full"]]
        print(
            f"{name:26s} {image.shape[1]}x{image.shape[0]} clear: recognition "
            f"{len(left['recognition']):2d} tiles {len(left['tiles']):2d} full "
            f"{len(left['full']):2d}; sweep ms tiles {sweep_ms['tiles'][-1]:4.0f} full "
            f"{sweep_ms['full'][-1]:4.0f} {shown}"
        )
    print("left clear outside the match (faces >= 20 px / plates):")
    for kind, c in clear.items():
        print(f"  {kind:12s} {c['face']:3d} / {c['plate']}")
    med_r = statistics.median(recog_ms)
    for kind in sweeps:
        med_s = statistics.median(sweep_ms[kind])
        print(
            f"sweep face_pass={kind}: median {med_s:.0f} ms per frame (faces "
            f"{statistics.median(face_ms[kind]):.0f} ms), max {max(sweep_ms[kind]):.0f} ms; "
            f"recognition detect {med_r:.0f} ms; ratio sweep/recognition {med_s / med_r:.2f}"
        )
    ratio = statistics.median(sweep_ms["full"]) / statistics.median(sweep_ms["tiles"])
    print(f"full / tiles sweep time: {ratio:.2f}")


if __name__ == "__main__":
    main()
