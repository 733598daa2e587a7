"""GA/T 1400 fixtures: a test platform of our own, real deployments with a viid: section.

The platform module is loaded under a fixed name (test folders are not packages).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from edge.deployment import init_deployment
from tests.support.loadgen import Deployment


def load(name: str, file: str) -> ModuleType:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


viid_platform = load("edgewatch_viid_platform", "platform.py")


@pytest.fixture
def platform() -> Iterator[Any]:
    p = viid_platform.TestPlatform(viid_platform.STORE_DEVICE, "edgewatch", viid_platform.PASSWORD)
    p.start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def make_deployment(tmp_path: Path) -> Callable[..., Deployment]:
    """A deployment (`edgewatch init`, 2 gateways) whose store.yaml gets ``changes``."""

    def make(database_url: str | None = None, **changes: Any) -> Deployment:
        address, _ = init_deployment(tmp_path / "dep", gateways=2, database_url=database_url)
        dep = Deployment(tmp_path / "dep", address)
        if changes:
            dep.edit_store_config(**changes)
        return dep

    return make


@pytest.fixture
def webhook() -> Iterator[Any]:
    r = viid_platform.WebhookReceiver(b"k" * 32)
    r.start()
    try:
        yield r
    finally:
        r.stop()
