"""Privacy on real runs: a real store and a real gateway process analyse eval pictures
with bystanders and unlisted plates; afterwards every file they wrote (logs, outbox,
databases with their WAL files and the evidence images in them, journals) is scanned.
Nothing that matched nothing may appear: not its plate text, not its face embedding;
and the logs show not even the watchlisted plates in clear."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from edge.config import FaceConfig, ImageLimits, RuntimeConfig
from edge.imageio import load_image
from edge.modelpack import PackManifest
from edge.vision.faces import load_face_analyzer

LISTED = 2  # plates enrolled; the rest of the toll pictures are bystanders' cars


def _cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "edge", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{args}: {proc.stderr[-1500:]}"
    return proc


@pytest.fixture()
def deployment(tmp_path: Path, models_dir: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    env = {**os.environ, "EDGE_MODELS_DIR": str(models_dir)}
    root = tmp_path / "dep"
    _cli("init", str(root), "--gateways", "1", env=env)
    log = (root / "store.log").open("w")
    store = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge",
            "--log-level",
            "DEBUG",
            "store",
            "serve",
            "--config",
            str(root / "store.yaml"),
        ],
        stdout=log,
        stderr=log,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while "serving" not in (root / "store.log").read_text(errors="replace"):
            assert store.poll() is None, (root / "store.log").read_text()
            assert time.monotonic() < deadline, "store did not start"
            time.sleep(0.2)
        yield root, env
    finally:
        store.send_signal(signal.SIGTERM)
        store.wait(timeout=30)
        log.close()


def _scenes(eval_dir: Path) -> tuple[list[tuple[Path, str]], list[Path]]:
    rows = [
        r
        for r in csv.DictReader((eval_dir / "plates_manifest.csv").open(encoding="utf-8"))
        if r["subset"] == "toll_station_hyperlpr" and r["label_quality"] == "verified_visual"
    ][:8]
    plates = [(eval_dir / r["file"], r["plate_text"]) for r in rows]
    people = [
        eval_dir / "privacy" / n
        for n in ("group_insightface_t1.jpg", "group_multiface.jpg", "street_bus.jpg")
    ]
    return plates, people


def _files(root: Path) -> Iterator[Path]:
    for p in root.rglob("*"):
        if p.is_file():
            yield p


def test_nothing_unmatched_reaches_disk_or_logs(
    deployment: tuple[Path, dict[str, str]],
    eval_dir: Path,
    models_dir: Path,
    manifest: PackManifest,
) -> None:
    root, env = deployment
    plates, people = _scenes(eval_dir)
    listed, unlisted = plates[:LISTED], plates[LISTED:]
    for _, text in listed:
        _cli(
            "watchlist",
            "add-plate",
            "--config",
            str(root / "admin.yaml"),
            "--label",
            "v",
            text,
            env=env,
        )
    gw_path = root / "gateway-1.yaml"
    cfg = yaml.safe_load(gw_path.read_text())
    cfg["logging"] = {"path": str(root / "gw-1" / "logs" / "gateway.log"), "level": "DEBUG"}
    gw_path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    drop = root / "gw-1" / "drop"
    for i, p in enumerate([p for p, _ in plates] + people):
        shutil.copyfile(p, drop / f"{i:02d}.jpg")
    _cli("gateway", "run", "--config", str(gw_path), "--once", "--deadline", "300", env=env)

    blobs = {p: p.read_bytes() for p in _files(root) if p.suffix not in (".pem", ".key")}
    # evidence images live in the store's database (SQLite file or its WAL)
    stored = [d for p, d in blobs.items() if p.name.startswith("store.db")]
    assert any(b"\xff\xd8\xff" in d for d in stored), "no evidence images were written"
    logs = [p for p in blobs if ".log" in p.name]
    assert logs and any(blobs[p] for p in logs), "no logs were written"

    # the scan does see text inside SQLite files: listed plates are stored as evidence
    for _, text in listed:
        assert any(
            text.encode("utf-8") in data
            for p, data in blobs.items()
            if "store" in p.name or p.suffix in (".db", ".sqlite")
        ), f"positive control: {text[:2]} not stored"
    # 1. plate texts of unlisted vehicles appear nowhere (not even inside SQLite pages)
    for _, text in unlisted:
        needle = text.encode("utf-8")
        hits = [str(p) for p, data in blobs.items() if needle in data]
        assert not hits, f"unlisted plate {text[:2]}*** found in {hits}"
    # 2. logs never show plates in clear, listed ones included
    for _, text in plates:
        for p in logs:
            assert text.encode("utf-8") not in blobs[p], f"plate in clear in {p.name}"
    # 3. no bystander's face embedding was stored anywhere
    faces = load_face_analyzer(models_dir, FaceConfig(), RuntimeConfig(), manifest)
    vectors = []
    for p in people:
        for f in faces.analyze(load_image(p, ImageLimits()).image):
            if f.embedding is not None:
                vectors.append(np.asarray(f.embedding.vector, dtype="<f4").tobytes())
    assert len(vectors) >= 6
    for v in vectors:
        for needle in (v[:16], v[-16:]):
            hits = [str(p) for p, data in blobs.items() if needle in data]
            assert not hits, f"a bystander's embedding bytes found in {hits}"
