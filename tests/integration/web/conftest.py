"""Web fixtures: one real store per test module and backend (SQLite, PostgreSQL).

PostgreSQL: one fresh database per test session (dropped at the end), a fresh schema
per store inside it.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


def load_helpers() -> ModuleType:
    name = "edgewatch_web_test_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("helpers.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


helpers = load_helpers()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[object]:
    root = tmp_path_factory.mktemp(f"web-{request.param}")
    pg = None
    if request.param == "postgresql":
        pg = request.getfixturevalue("pg_schema")()
    with helpers.open_stack(root, request.param, pg) as s:
        yield s
