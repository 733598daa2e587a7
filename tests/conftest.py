"""Shared fixtures: where the real model pack and evaluation set live.

The Makefile and .ci/run always set EDGE_MODELS_DIR and EDGE_EVAL_DIR, so a test
that needs them fails loudly (rather than skipping) when they are missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge.config import RuntimeConfig
from edge.modelpack import PackManifest, load_manifest


def _dir_from_env(name: str) -> Path:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set; run through `make test` or export {name}=../shared/...")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"{name}={value} is not a folder")
    return path


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return _dir_from_env("EDGE_MODELS_DIR")


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    return _dir_from_env("EDGE_EVAL_DIR")


@pytest.fixture(scope="session")
def manifest() -> PackManifest:
    return load_manifest()


@pytest.fixture(scope="session")
def runtime() -> RuntimeConfig:
    return RuntimeConfig()
