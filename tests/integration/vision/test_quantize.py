"""`edgewatch models quantize` and int8 variant loading, with the real pack and dev set.

The smallest reader (plate_rec_color, ~0.7 MB) is quantized on 8 calibration images so
the module stays within seconds; bench/quantize.py measures every role on the full set.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import yaml

from edge.config import ModelVariants, PlateConfig, RuntimeConfig
from edge.errors import ModelPackError
from edge.modelpack import PackManifest
from edge.variants import VARIANTS_FILE, load_for_runtime, load_variant_manifest
from edge.vision.plates import load_plate_recognizer
from edge.vision.quantize import QuantizeRequest, quantize_model

pytestmark = [pytest.mark.models, pytest.mark.eval]

MODEL = "plate_rec_color"
IMAGES = 8
SCORED = ("dataset_ground_truth", "verified_visual", "repo_label_spotchecked")


def _quantize_cli(out: Path, models: Path, eval_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDGE_MODELS_DIR": str(models), "EDGE_EVAL_DIR": str(eval_dir)}
    args = ["models", "quantize", "--to", str(out), "--only", MODEL, "--images", str(IMAGES)]
    return subprocess.run(
        [sys.executable, "-m", "edge", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory, models_dir: Path, eval_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("int8")
    proc = _quantize_cli(out, models_dir, eval_dir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"INT8      {MODEL}" in proc.stdout
    return out


def _int8_reader(variants: Path) -> RuntimeConfig:
    return RuntimeConfig(variants=ModelVariants(plate_reader="int8"), variants_dir=variants)


def test_quantize_writes_a_verified_reproducible_variant(
    variants: Path, models_dir: Path, eval_dir: Path, manifest: PackManifest
) -> None:
    parent = manifest.by_id(MODEL)
    (entry,) = load_variant_manifest(variants).variants
    data = (variants / entry.file).read_bytes()
    assert entry.parent_id == MODEL and entry.parent_sha256 == parent.sha256
    assert entry.sha256 == hashlib.sha256(data).hexdigest() and entry.size == len(data)
    assert len(data) < parent.size  # int8 weights
    assert entry.calibration is not None and len(entry.calibration.files) == IMAGES
    assert entry.calibration.inputs >= IMAGES  # one reader input per plate found
    assert all((eval_dir / f).is_file() for f in entry.calibration.files)

    # same pack, same seed and images: byte-identical, also when made in-process
    again = variants.parent / "int8-again"
    req = QuantizeRequest(models_dir, manifest, eval_dir, again, seed=0, images=IMAGES)
    second = quantize_model(req, parent)
    assert second.sha256 == entry.sha256
    assert second.calibration == entry.calibration
    assert (again / entry.file).read_bytes() == data

    model = load_for_runtime(models_dir, parent, _int8_reader(variants))
    assert model.path == variants / entry.file and model.data == data


def test_fp32_stays_the_default(models_dir: Path, manifest: PackManifest) -> None:
    model = load_for_runtime(models_dir, manifest.by_id(MODEL), RuntimeConfig())
    assert model.path == models_dir / manifest.by_id(MODEL).file


def test_tampered_variant_is_refused(
    variants: Path, tmp_path: Path, models_dir: Path, manifest: PackManifest
) -> None:
    folder = tmp_path / "v"
    shutil.copytree(variants, folder)
    (entry,) = load_variant_manifest(folder).variants
    path = folder / entry.file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    runtime = _int8_reader(folder)
    with pytest.raises(ModelPackError, match=r"variant file .* has sha256 .* altered or replaced"):
        load_plate_recognizer(models_dir, PlateConfig(), runtime, manifest)


def test_variant_of_another_parent_or_missing_is_refused(
    variants: Path, tmp_path: Path, models_dir: Path, manifest: PackManifest
) -> None:
    folder = tmp_path / "v"
    shutil.copytree(variants, folder)
    doc = yaml.safe_load((folder / VARIANTS_FILE).read_text(encoding="utf-8"))
    doc["variants"][0]["parent_sha256"] = "0" * 64
    (folder / VARIANTS_FILE).write_text(yaml.safe_dump(doc), encoding="utf-8")
    entry = manifest.by_id(MODEL)
    with pytest.raises(ModelPackError, match=f"was made from {MODEL} sha256 0000"):
        load_for_runtime(models_dir, entry, _int8_reader(folder))
    empty = RuntimeConfig(variants=ModelVariants(plate_reader="int8"), variants_dir=tmp_path)
    with pytest.raises(ModelPackError, match=f"no int8 variant of '{MODEL}'.*models quantize"):
        load_for_runtime(models_dir, entry, empty)


def test_unverified_parent_is_refused(tmp_path: Path, models_dir: Path, eval_dir: Path) -> None:
    pack = tmp_path / "pack"
    (pack / "plate").mkdir(parents=True)
    data = bytearray((models_dir / "plate" / "plate_rec_color.onnx").read_bytes())
    data[-1] ^= 0x01
    (pack / "plate" / "plate_rec_color.onnx").write_bytes(bytes(data))
    proc = _quantize_cli(tmp_path / "out", pack, eval_dir)
    assert proc.returncode == 1
    assert "plate_rec_color.onnx' has sha256" in proc.stderr
    assert "manifest expects" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / VARIANTS_FILE).exists()


def _scored_frames(eval_dir: Path, exclude: set[str]) -> list[tuple[str, str]]:
    with (eval_dir / "plates_manifest.csv").open(encoding="utf-8", newline="") as f:
        rows = [
            (r["file"], r["plate_text"])
            for r in csv.DictReader(f)
            if r["subset"] != "plate_crop_94x24"
            and (r["label_quality"].startswith(SCORED[0]) or r["label_quality"] in SCORED[1:])
        ]
    return [r for r in rows if r[0] not in exclude][::4]


def test_int8_reader_reads_the_dev_subset_as_fp32_does(
    variants: Path, models_dir: Path, eval_dir: Path, manifest: PackManifest
) -> None:
    """Every 4th scored frame not used for calibration: the int8 reader loses no exact
    read (the adoption rule allows 0.5 points; on this subset one read is 3)."""
    (entry,) = load_variant_manifest(variants).variants
    assert entry.calibration is not None
    rows = _scored_frames(eval_dir, set(entry.calibration.files))
    assert len(rows) >= 25
    exact = {}
    for name, runtime in {"fp32": RuntimeConfig(), "int8": _int8_reader(variants)}.items():
        rec = load_plate_recognizer(models_dir, PlateConfig(), runtime, manifest)
        exact[name] = {
            file
            for file, text in rows
            if any(p.text == text for p in rec.recognize(cv2.imread(str(eval_dir / file))))
        }
    print(f"\n[int8 reader] exact fp32 {len(exact['fp32'])}/{len(rows)}, int8 {len(exact['int8'])}")
    assert len(exact["fp32"]) >= 0.9 * len(rows)
    assert exact["fp32"] - exact["int8"] == set(), "reads lost by the int8 reader"


def _analyze(config: Path, image: Path, models: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDGE_MODELS_DIR": str(models)}
    return subprocess.run(
        [sys.executable, "-m", "edge", "analyze", "--json", "--config", str(config), str(image)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_analyze_runs_the_configured_variant_and_refuses_a_tampered_one(
    variants: Path, tmp_path: Path, models_dir: Path, eval_dir: Path
) -> None:
    """The config switch reaches the product: `edgewatch analyze` with
    runtime.variants.plate_reader int8 reads the plate; altered bytes stop it."""
    image = eval_dir / "plates" / "toll_hyperlpr" / "toll_001.jpg"
    with (eval_dir / "plates_manifest.csv").open(encoding="utf-8", newline="") as f:
        truth = next(
            r["plate_text"] for r in csv.DictReader(f) if r["file"].endswith("toll_001.jpg")
        )
    folder = tmp_path / "v"
    shutil.copytree(variants, folder)
    config = tmp_path / "analyze.yaml"
    config.write_text(
        "kind: analyze\nvision:\n  runtime:\n"
        f"    variants: {{plate_reader: int8}}\n    variants_dir: {folder}\n",
        encoding="utf-8",
    )
    ok = _analyze(config, image, models_dir)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert [p["text"] for p in json.loads(ok.stdout)["plates"]] == [truth]

    (entry,) = load_variant_manifest(folder).variants
    (folder / entry.file).write_bytes((folder / entry.file).read_bytes()[:-16])
    bad = _analyze(config, image, models_dir)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    (line,) = bad.stderr.strip().splitlines()
    assert line.startswith("edgewatch: error: int8 variant file")
    assert "altered or replaced" in line and str(folder / entry.file) in line


def test_models_verify_checks_variants(variants: Path, tmp_path: Path, models_dir: Path) -> None:
    env = {**os.environ, "EDGE_MODELS_DIR": str(models_dir)}

    def verify(folder: Path) -> subprocess.CompletedProcess[str]:
        args = [sys.executable, "-m", "edge", "models", "verify", "--variants", str(folder)]
        return subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)

    good = verify(variants)
    assert good.returncode == 0, good.stderr[-2000:]
    assert f"OK        {MODEL} int8" in good.stdout
    assert f"and 1 variants in {variants} verified" in good.stdout
    folder = tmp_path / "v"
    shutil.copytree(variants, folder)
    (entry,) = load_variant_manifest(folder).variants
    (folder / entry.file).write_bytes(b"not a model")
    bad = verify(folder)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert f"BAD       {MODEL} int8" in bad.stdout and "expected " + entry.sha256 in bad.stdout
    assert "failed verification" in bad.stderr
