"""`edgewatch config check`: every error with its key path, the bad value and what is allowed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

BAD = """\
kind: analyze
vision:
  runtime:
    providers: [cpu, tpu]
    intra_op_threads: many
  faces:
    det_size: 650
    det_threshold: 1.5
    colour: red
  plates:
    detector: y5fu_1280
  images:
    max_pixels: 10
  extra_section: {}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_error_is_explained(tmp_path: Path, edge_cli: Callable[..., Any]) -> None:
    path = _write(tmp_path, "bad.yaml", BAD)
    r = edge_cli("config", "check", str(path))
    assert r.code == 1
    assert "Traceback" not in r.err
    assert r.out == ""
    lines = r.err.splitlines()
    expected = {
        "vision.runtime.providers.1": ["'tpu'", "'cpu', 'cuda', 'tensorrt' or 'openvino'"],
        "vision.runtime.intra_op_threads": ["'many'", "valid integer"],
        "vision.faces.det_size": ["650", "multiple of 32"],
        "vision.faces.det_threshold": ["1.5", "less than 1"],
        "vision.faces.colour": ["'red'", "allowed keys here: enabled, detector, det_size"],
        "vision.plates.detector": ["'y5fu_1280'", "'y5fu_320' or 'y5fu_640'"],
        "vision.images.max_pixels": ["10", "greater than or equal to 1000000"],
        "vision.extra_section": ["allowed keys here: models_dir, runtime, faces, plates"],
    }
    assert len(lines) == len(expected)
    for key, fragments in expected.items():
        line = next((ln for ln in lines if ln.startswith(f"{path}: {key}: ")), None)
        assert line is not None, f"no line for {key} in {lines}"
        for fragment in fragments:
            assert fragment in line, (fragment, line)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("kind: analyze\nvision: [1, 2\n", "not valid YAML"),
        ("kind: nope\n", "kind: must be one of analyze"),
        ("- a\n- b\n", "top level must be a mapping of keys, got list"),
        ("vision: {}\n", "kind: must be one of"),
        ("kind: analyze\nvision:\n  faces: yes\n", "vision.faces: Input should be"),
    ],
)
def test_malformed_files_are_one_line(
    tmp_path: Path, edge_cli: Callable[..., Any], text: str, fragment: str
) -> None:
    path = _write(tmp_path, "c.yaml", text)
    r = edge_cli("config", "check", str(path))
    assert r.code == 1
    assert "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert str(path) in r.err and fragment in r.err


def test_good_and_bad_files_together(tmp_path: Path, edge_cli: Callable[..., Any]) -> None:
    good = _write(tmp_path, "good.yaml", "kind: analyze\nvision:\n  faces:\n    det_size: 320\n")
    missing = tmp_path / "missing.yaml"
    r = edge_cli("config", "check", str(good), str(missing))
    assert r.code == 1
    assert r.out.strip() == f"{good}: ok"
    assert "does not exist" in r.err and str(missing) in r.err
    assert edge_cli("config", "check", str(good)).code == 0


def test_analyze_refuses_a_bad_config(
    tmp_path: Path, edge_cli: Callable[..., Any], models_dir: Path
) -> None:
    path = _write(tmp_path, "bad.yaml", "kind: analyze\nvision:\n  plates:\n    nms_iou: 2\n")
    r = edge_cli("analyze", "--models", str(models_dir), "--config", str(path), str(tmp_path))
    assert r.code == 1
    assert "Traceback" not in r.err
    assert "vision.plates.nms_iou: Input should be less than 1 (got 2)" in r.err
