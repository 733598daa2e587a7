"""Face fixtures: the real face analyzer from the real pack, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import FaceConfig, RuntimeConfig
from edge.modelpack import PackManifest
from edge.vision.faces import FaceAnalyzer, load_face_analyzer


@pytest.fixture(scope="session")
def face_config() -> FaceConfig:
    return FaceConfig()


@pytest.fixture(scope="session")
def face_analyzer(
    models_dir: Path, face_config: FaceConfig, runtime: RuntimeConfig, manifest: PackManifest
) -> FaceAnalyzer:
    return load_face_analyzer(models_dir, face_config, runtime, manifest)
