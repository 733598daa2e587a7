"""Privacy sweep: what it costs per evidence frame and what it adds over recognition.

For each street scene (pedestrian video frames, group photos, toll frames with drivers,
a watchlisted plate pasted in) the stored scene is built twice, in process, with the
real models: redacting only what recognition found (the gateway before the sweep), and
redacting that plus what the sweep found. An independent oracle (YuNet on 2x tiles,
y5fu_640 on 960 px tiles; tests/support/privacy_oracle.py) counts faces >= 20 px and
plates outside the match left clear in each. Cost: the sweep's own time per frame
against recognition's detection time on the same frame (same process, same threads).

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
    sweep = load_privacy_sweep(args.models, PrivacyConfig(), runtime, manifest)
    oracle = IndependentOracle(args.models)
    oracle.start()
    plate = listed_plate(args.eval)
    before: dict[str, int] = {"face": 0, "plate": 0}
    after: dict[str, int] = {"face": 0, "plate": 0}
    recog_ms: list[float] = []
    sweep_ms: list[float] = []
    face_ms: list[float] = []
    for name, raw in street_scenes(args.eval):
        image, keep = paste(raw, plate)
        t0 = time.perf_counter()
        confident, faint = faces.detect_all(image)
        scan = plates.scan(image)
        recog_ms.append((time.perf_counter() - t0) * 1000)
        seen = [d.box for d in confident + faint]
        seen += [p.detection.box for p in scan.plates] + [d.box for d in scan.rejected]
        found = sweep.sweep(image)
        sweep_ms.append(found.elapsed_ms)
        face_ms.append(found.faces_ms)
        b = leaks(oracle, image, _stored(image, seen, keep), [keep])
        a = leaks(oracle, image, _stored(image, seen + list(found.boxes), keep), [keep])
        for count, found_clear in ((before, b), (after, a)):
            for f, _ in found_clear:
                count[f.kind] += 1
        shown = [(f.kind, round(f.box.width), round(f.score, 2), round(c, 2)) for f, c in a]
        print(
            f"{name:26s} {image.shape[1]}x{image.shape[0]} clear before {len(b):2d} "
            f"after {len(a):2d} sweep {found.elapsed_ms:5.0f} ms {shown}"
        )
    med_r, med_s = statistics.median(recog_ms), statistics.median(sweep_ms)
    print(
        f"left clear outside the match (faces >= 20 px / plates): recognition only "
        f"{before['face']} / {before['plate']}, with the sweep {after['face']} / {after['plate']}"
    )
    print(
        f"median per frame: recognition detect {med_r:.0f} ms, sweep {med_s:.0f} ms "
        f"(ratio {med_s / med_r:.2f}; faces {statistics.median(face_ms):.0f} ms of it); "
        f"sweep max {max(sweep_ms):.0f} ms"
    )


if __name__ == "__main__":
    main()
