"""`edgewatch analyze` on real eval images and on the bad-input matrix (issue 2, section 6).

The CLI runs in a subprocess, as a user runs it; every test image is built in tmp
from the evaluation set (never committed).
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

pytestmark = [pytest.mark.models, pytest.mark.eval]

#: toll frames whose plate text the tests compare with the eval manifest
TOLL = ("toll_001.jpg", "toll_004.jpg", "toll_008.jpg")


def plate_truth(eval_dir: Path) -> dict[str, str]:
    with (eval_dir / "plates_manifest.csv").open(encoding="utf-8") as f:
        return {
            Path(row["file"]).name: row["plate_text"]
            for row in csv.DictReader(f)
            if row["subset"] == "toll_station_hyperlpr"
        }


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(PILImage.open(path).convert("RGB"))


def build_matrix(src: Path, out: Path) -> dict[str, Path]:
    """Good images in awkward encodings plus every kind of broken file."""
    out.mkdir(parents=True, exist_ok=True)
    t1, t4, t8 = (src / name for name in TOLL)
    files: dict[str, Path] = {}

    def put(key: str, name: str) -> Path:
        files[key] = out / name
        return files[key]

    shutil.copy(t1, put("chinese", "a_浙江收费站 照片.jpg"))
    PILImage.open(t8).convert("L").save(put("gray", "b_gray.png"))
    rgba = np.dstack([_rgb(t1), np.full(_rgb(t1).shape[:2], 255, np.uint8)])
    rgba[:, :80, 3] = 0  # a transparent strip far from the plate
    PILImage.fromarray(rgba, "RGBA").save(put("alpha", "c_alpha.png"))
    bgr16 = _rgb(t4)[:, :, ::-1].astype(np.uint16) * 257  # Pillow cannot write 48-bit RGB
    ok, png16 = cv2.imencode(".png", bgr16)
    assert ok
    put("bit16", "d_16bit.png").write_bytes(png16.tobytes())
    PILImage.open(t8).convert("CMYK").save(put("cmyk", "e_cmyk.jpg"), quality=95)
    exif = PILImage.Exif()
    exif[0x0112] = 6  # stored rotated 90 degrees counter-clockwise; viewers turn it back
    PILImage.open(t1).transpose(PILImage.Transpose.ROTATE_90).save(
        put("rotated", "f_rotated.jpg"), quality=95, exif=exif.tobytes()
    )
    PILImage.new("L", (8000, 7000), 128).save(put("huge", "g_huge.jpg"), quality=40)
    put("empty", "h_empty.jpg").write_bytes(b"")
    data = t4.read_bytes()
    put("truncated", "i_truncated.jpg").write_bytes(data[: len(data) // 3])
    put("text", "j_notes.jpg").write_text("not a picture, 不是图片\n", encoding="utf-8")
    put("corrupt", "k_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    PILImage.new("RGB", (5, 3000)).save(put("strip", "l_strip.png"))
    files["explicit_txt"] = out / "readme.txt"
    files["explicit_txt"].write_text("hello", encoding="utf-8")
    files["missing"] = out / "no_such_photo.jpg"
    return files


BROKEN = ("empty", "truncated", "text", "corrupt", "strip", "explicit_txt", "missing")


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory, eval_dir: Path) -> dict[str, Path]:
    return build_matrix(eval_dir / "plates" / "toll_hyperlpr", tmp_path_factory.mktemp("m") / "in")


@pytest.fixture(scope="module")
def json_run(
    matrix: dict[str, Path], models_dir: Path, edge_cli: Callable[..., Any]
) -> tuple[Any, dict[str, dict[str, Any]]]:
    folder = matrix["chinese"].parent
    r = edge_cli(
        "analyze", "--json", "--models", str(models_dir),
        str(folder), str(matrix["explicit_txt"]), str(matrix["missing"]),
    )  # fmt: skip
    rows = [json.loads(line) for line in r.out.splitlines()]
    by_path = {row["path"]: row for row in rows}
    return r, {key: by_path[str(path)] for key, path in matrix.items() if str(path) in by_path}


def test_every_input_gets_one_line_and_exit_1(json_run: Any, matrix: dict[str, Path]) -> None:
    r, rows = json_run
    assert r.code == 1
    assert "Traceback" not in r.err
    assert set(rows) == set(matrix)  # every input reported once, the folder walked
    assert len(r.out.splitlines()) == len(matrix)
    errors = [ln for ln in r.err.splitlines() if ln.startswith("edgewatch: error: ")]
    assert len(errors) == len(BROKEN)
    for key in BROKEN:
        assert set(rows[key]) == {"path", "error"}
        assert sum(str(matrix[key]) in ln for ln in errors) == 1, key


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("empty", "file is empty"),
        ("truncated", "truncated or corrupt"),
        ("text", "not a readable image (allowed: JPEG, PNG, BMP, WebP, TIFF)"),
        ("corrupt", "allowed: JPEG, PNG, BMP, WebP, TIFF"),
        ("strip", "a 5x3000 image cannot be analysed"),
        ("explicit_txt", "not a readable image"),
        ("missing", "no such file"),
    ],
)
def test_broken_input_messages(json_run: Any, key: str, fragment: str) -> None:
    _, rows = json_run
    assert fragment in rows[key]["error"]


def _only_plate(row: dict[str, Any]) -> dict[str, Any]:
    assert len(row["plates"]) == 1, row["plates"]
    plate: dict[str, Any] = row["plates"][0]
    return plate


def test_json_schema_and_plate_reads(json_run: Any, eval_dir: Path) -> None:
    _, rows = json_run
    truth = plate_truth(eval_dir)
    row = rows["chinese"]
    assert set(row) == {"path", "width", "height", "ms", "faces", "plates"}
    assert (row["width"], row["height"]) == (650, 580)
    assert isinstance(row["ms"], float) and row["ms"] > 0
    plate = _only_plate(row)
    assert set(plate) == {"bbox", "corners", "text", "confidence", "color", "valid", "match"}
    assert plate["text"] == truth["toll_001.jpg"]
    assert plate["valid"] is True and plate["match"] is None
    assert plate["color"] == "blue"
    assert len(plate["bbox"]) == 4 and len(plate["corners"]) == 4
    assert all(len(pt) == 2 for pt in plate["corners"])
    for face in row["faces"]:
        assert set(face) == {"bbox", "score", "quality", "match"}


@pytest.mark.parametrize(
    ("key", "source"),
    [("gray", "toll_008.jpg"), ("alpha", "toll_001.jpg"), ("bit16", "toll_004.jpg"),
     ("cmyk", "toll_008.jpg")],
)  # fmt: skip
def test_awkward_encodings_still_read(json_run: Any, eval_dir: Path, key: str, source: str) -> None:
    _, rows = json_run
    assert _only_plate(rows[key])["text"] == plate_truth(eval_dir)[source]


def test_exif_rotation_gives_upright_coordinates(json_run: Any) -> None:
    _, rows = json_run
    upright, rotated = rows["chinese"], rows["rotated"]
    assert (rotated["width"], rotated["height"]) == (upright["width"], upright["height"])
    a, b = _only_plate(upright), _only_plate(rotated)
    assert a["text"] == b["text"]
    assert np.allclose(a["bbox"], b["bbox"], atol=6.0), (a["bbox"], b["bbox"])


def test_huge_image_is_downscaled_with_a_warning(json_run: Any, matrix: dict[str, Path]) -> None:
    r, rows = json_run
    row = rows["huge"]
    assert row["width"] * row["height"] <= 50_000_000
    assert row["width"] / row["height"] == pytest.approx(8000 / 7000, rel=0.01)
    warnings = [ln for ln in r.err.splitlines() if ln.startswith("edgewatch: warning: ")]
    assert len(warnings) == 1
    assert str(matrix["huge"]) in warnings[0] and "downscaled" in warnings[0]


def test_table_mode(
    matrix: dict[str, Path], models_dir: Path, edge_cli: Callable[..., Any], eval_dir: Path
) -> None:
    r = edge_cli(
        "analyze", "--models", str(models_dir), str(matrix["chinese"]), str(matrix["empty"])
    )
    assert r.code == 1
    lines = r.out.splitlines()
    assert lines[0].startswith(f"{matrix['chinese']}  650x580  ")
    assert any(
        ln.startswith("  plate ") and plate_truth(eval_dir)["toll_001.jpg"] in ln for ln in lines
    )
    assert lines[-1].startswith(f"{matrix['empty']}  ERROR  ") and "file is empty" in lines[-1]
    assert r.err.strip().splitlines() == [
        f"edgewatch: error: {matrix['empty']}: file is empty "
        "(allowed: JPEG, PNG, BMP, WebP, TIFF images)"
    ]


def test_huge_image_refused_when_downscaling_is_off(
    tmp_path: Path, matrix: dict[str, Path], models_dir: Path, edge_cli: Callable[..., Any]
) -> None:
    cfg = tmp_path / "strict.yaml"
    cfg.write_text("kind: analyze\nvision:\n  images:\n    downscale_oversized: false\n")
    r = edge_cli("analyze", "--models", str(models_dir), "--config", str(cfg), str(matrix["huge"]))
    assert r.code == 1
    assert "Traceback" not in r.err
    assert "image too large (8000x7000 = 56.0 MP, limit is 50.0 MP)" in r.err


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_broken_model_pack_is_one_line(
    tmp_path: Path,
    matrix: dict[str, Path],
    models_dir: Path,
    edge_cli: Callable[..., Any],
    damage: str,
) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(models_dir, pack)
    victim = pack / "plate" / "y5fu_640x_sim.onnx"
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:1000])
    else:
        victim.unlink()
    r = edge_cli("analyze", "--models", str(pack), str(matrix["chinese"]))
    assert r.code == 1
    assert r.out == ""
    assert "Traceback" not in r.err
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert str(victim) in lines[0] and "edgewatch models fetch" in lines[0]
    assert ("missing" if damage == "delete" else "has 1000 bytes") in lines[0]


def test_no_model_pack_configured(matrix: dict[str, Path], edge_cli: Callable[..., Any]) -> None:
    r = edge_cli("analyze", str(matrix["chinese"]), env_extra={"EDGE_MODELS_DIR": ""})
    assert r.code == 1
    assert r.err.strip().splitlines() == [
        "edgewatch: error: no model pack: pass --models DIR or set EDGE_MODELS_DIR "
        "(e.g. EDGE_MODELS_DIR=../shared/models)"
    ]


def test_empty_folder_is_an_error(
    tmp_path: Path, models_dir: Path, edge_cli: Callable[..., Any]
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    r = edge_cli("analyze", "--models", str(models_dir), str(tmp_path / "empty"))
    assert r.code == 1 and r.out == ""
    assert r.err.strip().splitlines() == [
        f"edgewatch: error: no image files found in {tmp_path / 'empty'} "
        "(looked for .jpg .jpeg .png .bmp .webp .tif .tiff)"
    ]
