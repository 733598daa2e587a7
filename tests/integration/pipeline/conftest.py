"""Real models, real outbox, real signing key for pipeline tests."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from edge.config import FaceConfig, ImageLimits, PlateConfig, RuntimeConfig
from edge.imageio import load_image
from edge.modelpack import PackManifest
from edge.vision.faces import FaceAnalyzer, load_face_analyzer
from edge.vision.plates import PlateRecognizer, load_plate_recognizer
from edge.vision.types import Image
from edge.watchlist.store import WatchlistFile


@pytest.fixture(scope="session")
def face_analyzer(models_dir: Path, manifest: PackManifest, runtime: RuntimeConfig) -> FaceAnalyzer:
    return load_face_analyzer(models_dir, FaceConfig(), runtime, manifest)


@pytest.fixture(scope="session")
def plate_recognizer(
    models_dir: Path, manifest: PackManifest, runtime: RuntimeConfig
) -> PlateRecognizer:
    return load_plate_recognizer(models_dir, PlateConfig(), runtime, manifest)


def read(path: Path) -> Image:
    img: Image = load_image(path, ImageLimits()).image
    return img


@pytest.fixture(scope="session")
def person_photos(eval_dir: Path) -> list[Path]:
    """Photos of the identity with the most single-face photos in the eval set."""
    rows = list(csv.DictReader((eval_dir / "faces_manifest.csv").open(encoding="utf-8")))
    by_id: dict[str, list[Path]] = {}
    for r in rows:
        if r["role"] == "enroll_or_probe" and r["n_faces"] == "1":
            by_id.setdefault(r["identity"], []).append(eval_dir / r["file"])
    best = max(by_id.values(), key=len)
    assert len(best) >= 3
    return best


@pytest.fixture(scope="session")
def toll_rows(eval_dir: Path) -> list[tuple[Path, str]]:
    rows = list(csv.DictReader((eval_dir / "plates_manifest.csv").open(encoding="utf-8")))
    out = [
        (eval_dir / r["file"], r["plate_text"])
        for r in rows
        if r["subset"] == "toll_station_hyperlpr" and r["label_quality"] == "verified_visual"
    ]
    assert out, "no verified toll rows in the eval manifest"
    return out


def side_by_side(a: Image, b: Image) -> Image:
    h = max(a.shape[0], b.shape[0])
    pad = lambda x: np.pad(x, ((0, h - x.shape[0]), (0, 0), (0, 0)))  # noqa: E731
    return np.ascontiguousarray(np.hstack([pad(a), pad(b)]))


@pytest.fixture()
def watchlist(tmp_path: Path) -> WatchlistFile:
    wl = WatchlistFile(tmp_path / "watchlist.db")
    wl.open()
    yield wl  # type: ignore[misc]
    wl.close()


def enrol_person(faces: FaceAnalyzer, watchlist: WatchlistFile, photo: Path) -> str:
    """A watchlisted person enrolled from ``photo`` (one face); returns the subject id."""
    enrol = faces.analyze(read(photo))
    assert len(enrol) == 1 and enrol[0].embedding is not None
    sid = watchlist.add_subject("person")
    watchlist.add_face_template(sid, enrol[0].embedding)
    return sid
