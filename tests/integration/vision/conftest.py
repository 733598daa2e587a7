"""Vision fixtures: real recognisers from the real pack, loaded once per session."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.config import PlateConfig, RuntimeConfig
from edge.modelpack import PackManifest
from edge.vision.plate_readers import load_plate_reader
from edge.vision.plates import PlateRecognizer, load_plate_recognizer

#: rows whose text is trustworthy enough to score exact reads on
SCORED_QUALITY = ("dataset_ground_truth", "verified_visual", "repo_label_spotchecked")


@dataclass(frozen=True)
class PlateRow:
    file: str
    subset: str
    text: str
    color: str
    kind: str
    quality: str
    notes: str

    @property
    def scored(self) -> bool:
        return self.quality.startswith(SCORED_QUALITY[0]) or self.quality in SCORED_QUALITY[1:]

    @property
    def is_crop(self) -> bool:
        return self.subset == "plate_crop_94x24"


@pytest.fixture(scope="session")
def plate_rows(eval_dir: Path) -> list[PlateRow]:
    with (eval_dir / "plates_manifest.csv").open(encoding="utf-8", newline="") as f:
        return [
            PlateRow(
                file=r["file"],
                subset=r["subset"],
                text=r["plate_text"],
                color=r["plate_color"],
                kind=r["plate_type"],
                quality=r["label_quality"],
                notes=r["notes"],
            )
            for r in csv.DictReader(f)
        ]


@pytest.fixture(scope="session")
def plate_recognizer(
    models_dir: Path, manifest: PackManifest, runtime: RuntimeConfig
) -> PlateRecognizer:
    """The default configuration (y5fu_640 + plate_rec_color)."""
    return load_plate_recognizer(models_dir, PlateConfig(), runtime, manifest)


@pytest.fixture(scope="session")
def ppocr_recognizer(
    models_dir: Path,
    manifest: PackManifest,
    runtime: RuntimeConfig,
    plate_recognizer: PlateRecognizer,
) -> PlateRecognizer:
    """Same detector, PP-OCRv4 reader (+ colour classifier)."""
    config = PlateConfig(reader="ppocr_v4")
    reader = load_plate_reader(models_dir, config, runtime, manifest)
    return PlateRecognizer(plate_recognizer.detector, reader, config)
