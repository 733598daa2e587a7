"""`edgewatch demo --no-serve` end to end: init, store, enrolment, gateway, review; its
temporary deployment (with a CA private key) is removed unless --keep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def _demo(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "edge", "demo", "--no-serve", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return proc, json.loads(proc.stdout.strip().splitlines()[-1])


def test_demo_delivers_matches_and_nothing_else_then_removes_its_deployment(
    tmp_path: Path, models_dir: Path, eval_dir: Path
) -> None:
    env = {
        **os.environ,
        "EDGE_MODELS_DIR": str(models_dir),
        "EDGE_EVAL_DIR": str(eval_dir),
        "TMPDIR": str(tmp_path),  # where its temporary deployment goes
    }
    proc, summary = _demo(env)
    # two enrolled people and two enrolled plates are in the sample pictures; the third
    # plate and every bystander are not enrolled and must not become events
    assert summary["faces"] == 2, proc.stdout
    assert summary["plates"] == 2, proc.stdout
    assert summary["events"] == 4, proc.stdout
    assert summary["integrity_ok"] is True
    # a second gateway's two weeks at several cameras tagged as key locations
    assert summary["locations"] == 3
    assert summary["history_events"] == 98, proc.stdout  # every planned match stored
    assert summary["dir"] is None
    assert list(tmp_path.iterdir()) == [], "the temporary deployment (CA key!) must be gone"
    assert "demo deployment removed" in proc.stdout


def test_demo_keep_says_where_its_deployment_stays(tmp_path: Path, models_dir: Path) -> None:
    """--keep; without the evaluation set (insightface's bundled group photo: quick)."""
    env = {k: v for k, v in os.environ.items() if k != "EDGE_EVAL_DIR"}
    env.update({"EDGE_MODELS_DIR": str(models_dir), "TMPDIR": str(tmp_path)})
    proc, summary = _demo(env, "--keep")
    (kept,) = tmp_path.iterdir()
    assert summary["dir"] == str(kept) and summary["events"] >= 1
    assert (kept / "ca.key").is_file()
    assert f"demo deployment kept in {kept}: it holds the CA's private key" in proc.stdout
