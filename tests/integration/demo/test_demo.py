"""`edgewatch demo --no-serve` end to end: init, store, enrolment, gateway, review."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_demo_delivers_matches_and_nothing_else(
    tmp_path: Path, models_dir: Path, eval_dir: Path
) -> None:
    env = {**os.environ, "EDGE_MODELS_DIR": str(models_dir), "EDGE_EVAL_DIR": str(eval_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "edge", "demo", "--no-serve", "--dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    # two enrolled people and two enrolled plates are in the sample pictures; the third
    # plate and every bystander are not enrolled and must not become events
    assert summary["faces"] == 2, proc.stdout
    assert summary["plates"] == 2, proc.stdout
    assert summary["events"] == 4, proc.stdout
    assert summary["integrity_ok"] is True
    # a second gateway's two weeks at several cameras tagged as key locations
    assert summary["locations"] == 3
    assert summary["history_events"] == 98, proc.stdout  # every planned match stored
