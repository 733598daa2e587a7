"""Dev-set accuracy of the shipped pipelines with a chosen fp32/int8 variant per role.

Used by bench/quantize.py (and by the int8 accuracy test on a subset). Same scoring as
tests/integration/vision/test_plates_accuracy.py and
tests/integration/faces/test_faces_accuracy.py: exact reads on trusted plate labels,
face rank-1 with one enrolled photo per identity and TAR at FAR <= 0.1 %.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import cv2
import numpy as np

from edge.config import (
    FaceConfig,
    ImageLimits,
    MatchConfig,
    ModelVariants,
    PlateConfig,
    RuntimeConfig,
)
from edge.imageio import load_image
from edge.modelpack import PackManifest
from edge.vision.faces import FaceAnalyzer, load_face_analyzer
from edge.vision.plate_grammar import normalise_plate
from edge.vision.plates import PlateRecognizer, load_plate_recognizer
from edge.vision.types import Image

SCORED = ("dataset_ground_truth", "verified_visual", "repo_label_spotchecked")
IDENTITY_ALIASES = {"elon_musk": "deepface_person_06"}  # as the face accuracy test


def runtime_with(variants_dir: Path, **roles: str) -> RuntimeConfig:
    return RuntimeConfig(variants=ModelVariants.model_validate(roles), variants_dir=variants_dir)


def _image(eval_dir: Path, file: str) -> Image:
    return load_image(eval_dir / file, ImageLimits()).image


def _frame(eval_dir: Path, file: str) -> Image:
    """Plate frames are read as the plate accuracy test reads them (cv2.imread), so the
    fp32 row matches docs/accuracy.md."""
    img = cv2.imread(str(eval_dir / file), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(eval_dir / file)
    return cast(Image, img)


@dataclass(frozen=True)
class PlateRow:
    file: str
    text: str
    box: tuple[float, float, float, float]
    is_crop: bool


def plate_rows(eval_dir: Path) -> list[PlateRow]:
    with (eval_dir / "plates_manifest.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        q = r["label_quality"]
        if not (q.startswith(SCORED[0]) or q in SCORED[1:]):
            continue
        box = tuple(float(v) for v in r["bbox_xyxy"].split(",")) if r["bbox_xyxy"] else (0,) * 4
        out.append(
            PlateRow(r["file"], r["plate_text"], box, r["subset"] == "plate_crop_94x24")  # type: ignore[arg-type]
        )
    return out


@dataclass(frozen=True)
class PlateScore:
    exact: int
    frames: int
    detected: int
    crops_exact: int
    crops: int
    held_out_exact: int
    held_out: int


def _inside(row: PlateRow, cx: float, cy: float) -> bool:
    x1, y1, x2, y2 = row.box
    return x1 <= cx <= x2 and y1 <= cy <= y2


def score_plates(
    recognizer: PlateRecognizer,
    eval_dir: Path,
    rows: Sequence[PlateRow],
    calibration_files: set[str],
) -> PlateScore:
    """Exact reads and detector recall (a detection centred inside the labelled box)."""
    frames = [r for r in rows if not r.is_crop]
    scans = {f: recognizer.scan(_frame(eval_dir, f)) for f in sorted({r.file for r in frames})}
    exact = detected = held_exact = held = 0
    for r in frames:
        scan = scans[r.file]
        hit = any(p.text == r.text for p in scan.plates)
        exact += hit
        boxes = [p.detection.box for p in scan.plates] + [d.box for d in scan.rejected]
        detected += any(_inside(r, (b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2) for b in boxes)
        if r.file not in calibration_files:
            held += 1
            held_exact += hit
    crops = [r for r in rows if r.is_crop]
    crops_exact = sum(
        normalise_plate(recognizer.reader.read(_frame(eval_dir, r.file)).text) == r.text
        for r in crops
    )
    return PlateScore(exact, len(frames), detected, crops_exact, len(crops), held_exact, held)


def plate_score(
    pack_dir: Path, manifest: PackManifest, eval_dir: Path, runtime: RuntimeConfig, calib: set[str]
) -> PlateScore:
    rec = load_plate_recognizer(pack_dir, PlateConfig(), runtime, manifest)
    return score_plates(rec, eval_dir, plate_rows(eval_dir), calib)


@dataclass(frozen=True)
class FaceScore:
    rank1: int
    probes: int
    tar_at_far: float
    tar_shipped: float
    far_shipped: float
    photos_with_face: int
    photos: int


def embed_photos(analyzer: FaceAnalyzer, eval_dir: Path) -> dict[str, tuple[str, np.ndarray]]:
    """Largest face of every single-person photo: file -> (identity, vector)."""
    with (eval_dir / "faces_manifest.csv").open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["n_faces"] == "1"]
    out: dict[str, tuple[str, np.ndarray]] = {}
    for r in rows:
        image = _image(eval_dir, r["file"])
        found = analyzer.detect(image)
        if not found:
            continue
        (face,) = analyzer.embed_faces(image, [max(found, key=lambda d: d.box.area)])
        assert face.embedding is not None
        out[r["file"]] = (IDENTITY_ALIASES.get(r["identity"], r["identity"]), face.embedding.vector)
    return out


def score_faces(
    gallery_side: dict[str, tuple[str, np.ndarray]],
    probe_side: dict[str, tuple[str, np.ndarray]],
    eval_dir: Path,
    photos: int,
) -> FaceScore:
    """Rank-1 (first photo of 3 of 4 identities enrolled) and pair verification; the
    gallery and probes may come from different variants (a watchlist enrolled in fp32,
    probed by an int8 gateway)."""
    by_id: dict[str, list[str]] = defaultdict(list)
    for file, (identity, _) in gallery_side.items():
        by_id[identity].append(file)
    multi = {i: sorted(fs) for i, fs in by_id.items() if len(fs) >= 2}
    held_out = set(sorted(multi)[3::4])
    enrolled = {i: fs[0] for i, fs in multi.items() if i not in held_out}
    ids = sorted(enrolled)
    matrix = np.stack([gallery_side[enrolled[i]][1] for i in ids])
    probes = [(i, f) for i in ids for f in multi[i] if f != enrolled[i] and f in probe_side]
    rank1 = sum(ids[int(np.argmax(matrix @ probe_side[f][1]))] == i for i, f in probes)
    genuine, impostor = [], []
    with (eval_dir / "faces_pairs.csv").open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            a, b = gallery_side.get(r["file_a"]), probe_side.get(r["file_b"])
            s = float(a[1] @ b[1]) if a is not None and b is not None else -1.0
            (genuine if r["same"] == "1" else impostor).append(s)
    g, imp = np.asarray(genuine), np.asarray(impostor)
    allowed = int(np.floor(0.001 * imp.size))
    threshold = float(np.nextafter(np.sort(imp)[::-1][allowed], np.inf))
    shipped = MatchConfig().face_threshold
    return FaceScore(
        rank1=int(rank1),
        probes=len(probes),
        tar_at_far=float(np.mean(g >= threshold)),
        tar_shipped=float(np.mean(g >= shipped)),
        far_shipped=float(np.mean(imp >= shipped)),
        photos_with_face=len(probe_side),
        photos=photos,
    )


def face_photos(
    pack_dir: Path, manifest: PackManifest, eval_dir: Path, runtime: RuntimeConfig
) -> dict[str, tuple[str, np.ndarray]]:
    analyzer = load_face_analyzer(pack_dir, FaceConfig(), runtime, manifest)
    return embed_photos(analyzer, eval_dir)


def single_photo_count(eval_dir: Path) -> int:
    with (eval_dir / "faces_manifest.csv").open(encoding="utf-8", newline="") as f:
        return sum(r["n_faces"] == "1" for r in csv.DictReader(f))
