"""One `edgewatch init` run (as a real subprocess) shared by the tests of this folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def run_edgewatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(folder, stdout) of `edgewatch init DIR --gateways 2`."""
    root = tmp_path_factory.mktemp("init") / "deploy"
    result = run_edgewatch("init", str(root), "--gateways", "2")
    assert result.returncode == 0, result.stderr
    return root, result.stdout
