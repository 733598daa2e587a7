"""Vision fixtures: real recognisers from the real pack, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import PlateConfig, RuntimeConfig
from edge.modelpack import PackManifest
from edge.vision.plate_readers import load_plate_reader
from edge.vision.plates import PlateRecognizer, load_plate_recognizer


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
