"""No face of 20 px or more and no plate outside the match is left clear in a stored
scene, judged by detectors the gateway does not use.

A real store and a real gateway process analyse street scenes (pedestrian video frames
full of small bystanders, group photos, toll frames with drivers and unlisted plates),
each with a watchlisted plate pasted in so that every scene becomes evidence. Then every
JPEG the deployment wrote (store database, outbox, any file) that is a scene is decoded
and checked with tests/support/privacy_oracle.py: YuNet on 2x upscaled tiles for faces,
y5fu_640 on 960 px tiles for plates (the gateway's sweep uses SCRFD-500M and y5fu_320),
run over both the source and the stored scene; a region is left clear when its fine
detail (Laplacian) still correlates with the source's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from edge.vision.types import Box, Image
from tests.conftest import Deployment
from tests.support.privacy_oracle import (
    IndependentOracle,
    clearness,
    leaks,
    listed_plate,
    paste,
    street_scenes,
)

SOI = b"\xff\xd8\xff"
MAX_JPEG = 8 << 20


def _jpegs(data: bytes) -> Iterator[Image]:
    """Every decodable JPEG embedded anywhere in ``data`` (packs, SQLite pages, ...)."""
    start = data.find(SOI)
    while start >= 0:
        buf = np.frombuffer(data[start : start + MAX_JPEG], dtype=np.uint8)
        image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if image is not None:
            yield image
        start = data.find(SOI, start + 3)


def _sqlite_values(path: Path) -> Iterator[bytes]:
    """Every binary value of every table: a BLOB larger than a page is split over
    overflow pages, so scanning the file's bytes would not find it whole."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                yield from (v for v in row if isinstance(v, bytes))
    finally:
        con.close()


def _stored_scenes(root: Path, shapes: set[tuple[int, ...]]) -> list[Image]:
    """Distinct decoded images the size of a source scene (crops are smaller), from
    every file the deployment wrote and every value of its SQLite databases."""
    seen: dict[bytes, Image] = {}
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix in (".pem", ".key", ".log"):
            continue
        if "drop" in path.parts:
            continue  # the inputs themselves
        if path.name.endswith(("-wal", "-shm", "-journal")):
            continue  # read through the database's connection below
        data = path.read_bytes()
        # a database's raw pages hold BLOBs split over overflow pages, which decode as
        # broken partial images: read its values instead
        sqlite = data.startswith(b"SQLite format 3\x00")
        for chunk in _sqlite_values(path) if sqlite else [data]:
            for image in _jpegs(chunk):
                if image.shape in shapes:
                    seen.setdefault(cv2.resize(image, (32, 32)).tobytes(), image)
    return list(seen.values())


def _source_of(stored: Image, sources: list[tuple[str, Image, Box]]) -> tuple[str, Image, Box]:
    """The input a stored scene was made from: the same size and the closest pixels."""
    small = cv2.resize(stored, (64, 36)).astype(np.float32)
    candidates = [s for s in sources if s[1].shape == stored.shape]
    return min(
        candidates,
        key=lambda s: float(np.abs(cv2.resize(s[1], (64, 36)).astype(np.float32) - small).mean()),
    )


def test_no_face_or_plate_left_clear_in_any_stored_scene(
    deployment: Deployment, eval_dir: Path, models_dir: Path
) -> None:
    d = deployment
    d.start_store()
    plate = listed_plate(eval_dir)
    d.cli(
        "watchlist", "add-plate", "--config", str(d.root / "admin.yaml"), "--label", "v", plate.text
    )
    drop = d.drop_folder()
    sources: list[tuple[str, Image, Box]] = []
    for i, (name, raw) in enumerate(street_scenes(eval_dir)):
        image, keep = paste(raw, plate)
        path = drop / f"{i:02d}.png"  # lossless: the source is exactly what the gateway sees
        assert cv2.imwrite(str(path), image)
        sources.append((name, image, keep))
    d.cli("gateway", "run", "--config", str(d.gateway_config()), "--once", "--deadline", "300")

    stored = _stored_scenes(d.root, {s[1].shape for s in sources})
    matched = {_source_of(s, sources)[0]: s for s in stored}
    assert set(matched) == {s[0] for s in sources}, "every scene should have become evidence"

    oracle = IndependentOracle(models_dir)
    oracle.start()
    left_clear = []
    faces_seen = 0
    for s in stored:
        name, source, keep = _source_of(s, sources)
        # positive control: the comparison does see clear regions (the match stays
        # sharp; its pasted margin around the detected plate box may be pixelated)
        assert clearness(source, s, keep.expand(0.8)) > 0.8, f"{name}: the match is not clear"
        faces = oracle.faces(source)
        faces_seen += len(faces)
        left_clear += [
            (name, f.kind, [round(v) for v in f.box.as_list()], round(corr, 2))
            for f, corr in leaks(oracle, source, s, [keep], faces)
        ]
    assert faces_seen >= 100, f"the oracle found only {faces_seen} faces: is it blind?"
    assert not left_clear, f"left clear in stored scenes: {left_clear}"
