"""int8 variants against the pack's fp32 models: speed per role and dev-set accuracy.

Make the variants with the project command first, then:

    EDGE_MODELS_DIR=/work/shared/models EDGE_EVAL_DIR=/work/shared/eval \\
      .venv/bin/edgewatch models quantize --to /tmp/int8 \\
        --only scrfd_500m_bnkps y5fu_640x plate_rec_color
    ... edgewatch models quantize --to /tmp/int8 --only mobilefacenet_128 --calibrate percentile
    EDGE_MODELS_DIR=... EDGE_EVAL_DIR=... .venv/bin/python bench/quantize.py --variants /tmp/int8

Speed: each role's fp32 and int8 sessions run the same real inputs (captured from the
product pipeline on a seed-1 sample, not the calibration one), interleaved round by
round in this process, with the product's session options (spinning off) at 1 and 2
intra-op threads; medians with min-max over rounds. Accuracy: the shipped pipelines
with one role switched at a time, then all. Decision rule (issue 9): a variant is
adopted only if plate exact reads and face rank-1 drop by <= 0.5 points and it is
measurably faster. The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quantize_accuracy import (
    face_photos,
    plate_score,
    runtime_with,
    score_faces,
    single_photo_count,
)

from edge.config import RuntimeConfig
from edge.modelpack import PackManifest, load_manifest, load_verified
from edge.variants import load_variant_manifest, load_verified_variant
from edge.vision.calibration import capture
from edge.vision.runtime import create_session

ROLES = {
    "face_detector": "scrfd_500m_bnkps",
    "face_embedder": "mobilefacenet_128",
    "plate_detector": "y5fu_640x",
    "plate_reader": "plate_rec_color",
}
MAX_DROP_POINTS = 0.5


def _time_role(
    pack: Path, manifest: PackManifest, eval_dir: Path, variants: Path, model_id: str, args: Any
) -> dict[str, Any]:
    entry = manifest.by_id(model_id)
    feeds = capture(pack, manifest, entry, eval_dir, seed=1, images=args.images).feeds[:12]
    models = {
        "fp32": load_verified(pack, entry),
        "int8": load_verified_variant(variants, entry, "int8"),
    }
    out: dict[str, Any] = {"inputs": len(feeds)}
    for threads in args.threads:
        runtime = RuntimeConfig(intra_op_threads=threads, allow_spinning=False)
        sessions = {v: create_session(m, runtime) for v, m in models.items()}
        for s in sessions.values():  # first runs allocate buffers
            for f in feeds:
                s.run(None, f)
        samples: dict[str, list[float]] = {v: [] for v in sessions}
        for r in range(args.rounds):
            order = list(sessions) if r % 2 == 0 else list(sessions)[::-1]
            for v in order:
                t0 = time.perf_counter()
                for _ in range(args.repeat):
                    for f in feeds:
                        sessions[v].run(None, f)
                samples[v].append((time.perf_counter() - t0) * 1000 / (args.repeat * len(feeds)))
        row = {
            v: {
                "median_ms": float(np.median(s)),
                "min_ms": float(np.min(s)),
                "max_ms": float(np.max(s)),
            }
            for v, s in samples.items()
        }
        row["ratio_int8_over_fp32"] = row["int8"]["median_ms"] / row["fp32"]["median_ms"]
        out[f"threads_{threads}"] = row
        print(
            f"[speed] {model_id:<18} threads {threads}: fp32 {row['fp32']['median_ms']:.2f} ms "
            f"({row['fp32']['min_ms']:.2f}-{row['fp32']['max_ms']:.2f}), int8 "
            f"{row['int8']['median_ms']:.2f} ms ({row['int8']['min_ms']:.2f}-"
            f"{row['int8']['max_ms']:.2f}), ratio {row['ratio_int8_over_fp32']:.2f}",
            flush=True,
        )
    return out


def _calibration_files(variants: Path) -> set[str]:
    return {
        f
        for v in load_variant_manifest(variants).variants
        if v.calibration
        for f in v.calibration.files
    }


def _plates(pack: Path, manifest: PackManifest, eval_dir: Path, variants: Path) -> dict[str, Any]:
    calib = _calibration_files(variants)
    configs = {
        "fp32": {},
        "int8 detector": {"plate_detector": "int8"},
        "int8 reader": {"plate_reader": "int8"},
        "int8 both": {"plate_detector": "int8", "plate_reader": "int8"},
    }
    out: dict[str, Any] = {}
    for name, roles in configs.items():
        s = plate_score(pack, manifest, eval_dir, runtime_with(variants, **roles), calib)
        out[name] = s.__dict__ | {"exact_pct": 100 * s.exact / s.frames}
        print(
            f"[plates] {name:<14} exact {s.exact}/{s.frames} ({100 * s.exact / s.frames:.1f} %), "
            f"not in calibration {s.held_out_exact}/{s.held_out}, detector recall "
            f"{s.detected}/{s.frames}, crops {s.crops_exact}/{s.crops}",
            flush=True,
        )
    return out


def _faces(pack: Path, manifest: PackManifest, eval_dir: Path, variants: Path) -> dict[str, Any]:
    photos = single_photo_count(eval_dir)
    emb = {
        name: face_photos(pack, manifest, eval_dir, runtime_with(variants, **roles))
        for name, roles in {
            "fp32": {},
            "int8 detector": {"face_detector": "int8"},
            "int8 embedder": {"face_embedder": "int8"},
            "int8 both": {"face_detector": "int8", "face_embedder": "int8"},
        }.items()
    }
    pairs = {name: (e, e) for name, e in emb.items()}
    # a watchlist enrolled by the fp32 store, probed by an int8 gateway
    pairs["fp32 gallery, int8-embedder probes"] = (emb["fp32"], emb["int8 embedder"])
    out: dict[str, Any] = {}
    for name, (gallery, probes) in pairs.items():
        s = score_faces(gallery, probes, eval_dir, photos)
        out[name] = s.__dict__ | {"rank1_pct": 100 * s.rank1 / s.probes}
        print(
            f"[faces] {name:<35} rank-1 {s.rank1}/{s.probes}, TAR@FAR0.1% "
            f"{s.tar_at_far:.1%}, at 0.48 TAR {s.tar_shipped:.1%} FAR {s.far_shipped:.2%}, "
            f"photos with a face {s.photos_with_face}/{s.photos}",
            flush=True,
        )
    return out


def _decide(speed: dict[str, Any], plates: dict[str, Any], faces: dict[str, Any]) -> dict[str, str]:
    accuracy = {
        "face_detector": faces["fp32"]["rank1_pct"] - faces["int8 detector"]["rank1_pct"],
        "face_embedder": max(
            faces["fp32"]["rank1_pct"] - faces["int8 embedder"]["rank1_pct"],
            faces["fp32"]["rank1_pct"] - faces["fp32 gallery, int8-embedder probes"]["rank1_pct"],
        ),
        "plate_detector": plates["fp32"]["exact_pct"] - plates["int8 detector"]["exact_pct"],
        "plate_reader": plates["fp32"]["exact_pct"] - plates["int8 reader"]["exact_pct"],
    }
    # rank-1 over 15 enrolled identities barely moves; the watchlist also relies on
    # the shipped threshold's FAR <= 0.1 % and TAR at FAR 0.1 % (the face accuracy tests)
    verification = {
        "face_detector": ["int8 detector"],
        "face_embedder": ["int8 embedder", "fp32 gallery, int8-embedder probes"],
    }
    out = {}
    for role, drop in accuracy.items():
        broken = [
            f"{name}: TAR@FAR0.1% {faces[name]['tar_at_far']:.1%}, FAR at 0.48 "
            f"{faces[name]['far_shipped']:.2%}"
            for name in verification.get(role, [])
            if faces[name]["far_shipped"] > 0.001
            or 100 * (faces["fp32"]["tar_at_far"] - faces[name]["tar_at_far"]) > MAX_DROP_POINTS
        ]
        ratios = [v["ratio_int8_over_fp32"] for k, v in speed[role].items() if k.startswith("thr")]
        faster = all(r < 0.9 for r in ratios)
        ok = drop <= MAX_DROP_POINTS
        verdict = "adopt" if ok and faster and not broken else "not adopted"
        why = f"drop {drop:.1f} points ({'ok' if ok else '> 0.5'}), int8/fp32 time " + "/".join(
            f"{r:.2f}" for r in ratios
        )
        if broken:
            why += "; verification worse than fp32: " + "; ".join(broken)
        out[role] = f"{verdict}: {why}"
        print(f"[decision] {role:<15} {out[role]}")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--variants", type=Path, required=True, help="folder from models quantize")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--repeat", type=int, default=3, help="passes over the inputs per round")
    p.add_argument("--images", type=int, default=4, help="images whose inputs are timed")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    pack, eval_dir = Path(os.environ["EDGE_MODELS_DIR"]), Path(os.environ["EDGE_EVAL_DIR"])
    manifest = load_manifest()
    speed = {
        role: _time_role(pack, manifest, eval_dir, args.variants, model_id, args)
        for role, model_id in ROLES.items()
    }
    plates = _plates(pack, manifest, eval_dir, args.variants)
    faces = _faces(pack, manifest, eval_dir, args.variants)
    decision = _decide(speed, plates, faces)
    print(json.dumps({"speed": speed, "plates": plates, "faces": faces, "decision": decision}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
