"""Plate recognition accuracy on the real evaluation set with the real model pack.

Exact reads are scored only on rows whose label is trustworthy (dataset ground truth,
verified by eye, or spot-checked repository labels). Run with ``pytest -s`` to see the
numbers; docs/accuracy.md records them.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import cv2
import pytest

from edge.vision.plate_grammar import SIGN_CHARS, normalise_plate
from edge.vision.plates import PlateRecognizer
from edge.vision.types import Image, Plate

pytestmark = [pytest.mark.models, pytest.mark.eval]

MIN_EXACT = 0.95
READERS = ["plate_recognizer", "ppocr_recognizer"]
#: manifest plate_type -> grammar kind
KIND_OF_TYPE = {
    "regular_7char": "regular",
    "double_layer": "regular",
    "new_energy_8char": "new_energy",
    "embassy": "embassy",
    "consulate": "consulate",
    "hk_crossborder": "hk_macau",
    "police": "police",
    "civil_aviation": "civil_aviation",
}

#: rows whose text is trustworthy enough to score exact reads on
SCORED_QUALITY = ("dataset_ground_truth", "verified_visual", "repo_label_spotchecked")


@dataclass(frozen=True)
class PlateRow:
    file: str
    subset: str
    text: str
    color: str
    kind: str
    quality: str
    notes: str

    @property
    def scored(self) -> bool:
        return self.quality.startswith(SCORED_QUALITY[0]) or self.quality in SCORED_QUALITY[1:]

    @property
    def is_crop(self) -> bool:
        return self.subset == "plate_crop_94x24"


@pytest.fixture(scope="module")
def plate_rows(eval_dir: Path) -> list[PlateRow]:
    with (eval_dir / "plates_manifest.csv").open(encoding="utf-8", newline="") as f:
        return [
            PlateRow(
                file=r["file"],
                subset=r["subset"],
                text=r["plate_text"],
                color=r["plate_color"],
                kind=r["plate_type"],
                quality=r["label_quality"],
                notes=r["notes"],
            )
            for r in csv.DictReader(f)
        ]


Reads = dict[str, list[Plate]]


@pytest.fixture(scope="module")
def reads_cache() -> dict[str, Reads]:
    """Full-frame reads per recogniser, computed once per module."""
    return {}


def _load(eval_dir: Path, file: str) -> Image:
    img = cv2.imread(str(eval_dir / file), cv2.IMREAD_COLOR)
    assert img is not None, f"cannot read {file}"
    return cast(Image, img)


def _frame_rows(rows: list[PlateRow]) -> list[PlateRow]:
    return [r for r in rows if r.scored and not r.is_crop]


def _recognise_frames(recognizer: PlateRecognizer, rows: list[PlateRow], eval_dir: Path) -> Reads:
    """Every full frame of the manifest (scored or not)."""
    files = sorted({r.file for r in rows if not r.is_crop})
    return {f: recognizer.recognize(_load(eval_dir, f)) for f in files}


def _found(row: PlateRow, plates: list[Plate]) -> Plate | None:
    return next((p for p in plates if p.text == row.text), None)


@pytest.fixture(params=READERS)
def reader_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def frame_reads(
    reader_name: str,
    request: pytest.FixtureRequest,
    plate_rows: list[PlateRow],
    eval_dir: Path,
    reads_cache: dict[str, Reads],
) -> Reads:
    if reader_name not in reads_cache:
        recognizer = request.getfixturevalue(reader_name)
        reads_cache[reader_name] = _recognise_frames(recognizer, plate_rows, eval_dir)
    return reads_cache[reader_name]


def test_full_frames_exact(
    reader_name: str, frame_reads: Reads, plate_rows: list[PlateRow]
) -> None:
    rows = _frame_rows(plate_rows)
    hits, totals = Counter[str](), Counter[str]()
    misses = []
    for row in rows:
        totals[row.subset] += 1
        if _found(row, frame_reads[row.file]):
            hits[row.subset] += 1
        else:
            misses.append(row.file)
    exact = sum(hits.values()) / len(rows)
    print(
        f"\n[plates full-frame, {reader_name}] exact {sum(hits.values())}/{len(rows)} = {exact:.3f}"
    )
    for subset in sorted(totals):
        print(f"  {subset}: {hits[subset]}/{totals[subset]}")
    print(f"  missed: {misses}")
    assert len(rows) >= 130, "evaluation manifest shrank unexpectedly"
    assert exact >= MIN_EXACT


def test_green_and_special_plates_read(frame_reads: Reads, plate_rows: list[PlateRow]) -> None:
    rows = [r for r in _frame_rows(plate_rows) if r.kind != "regular_7char" or r.color == "green"]
    kinds = Counter(r.kind for r in rows)
    assert kinds["new_energy_8char"] >= 6 and len(kinds) >= 6, kinds
    missed = [f"{r.kind}:{r.file}" for r in rows if not _found(r, frame_reads[r.file])]
    assert not missed, f"green / special plates not read exactly: {missed}"


def test_exact_reads_pass_the_grammar_with_the_right_kind(
    frame_reads: Reads, plate_rows: list[PlateRow]
) -> None:
    checked = 0
    for row in _frame_rows(plate_rows):
        plate = _found(row, frame_reads[row.file])
        if plate is None or row.kind not in KIND_OF_TYPE:
            continue
        assert plate.valid, row.file
        assert plate.kind == KIND_OF_TYPE[row.kind], (row.file, plate.kind)
        checked += 1
    assert checked >= 125


def test_double_row_plate_is_split_and_read(frame_reads: Reads, plate_rows: list[PlateRow]) -> None:
    rows = [r for r in _frame_rows(plate_rows) if r.kind == "double_layer"]
    assert rows
    for row in rows:
        plate = _found(row, frame_reads[row.file])
        assert plate is not None, row.file
        assert plate.detection.double_row


def test_plate_colour(frame_reads: Reads, plate_rows: list[PlateRow]) -> None:
    right = total = 0
    for row in _frame_rows(plate_rows):
        plate = _found(row, frame_reads[row.file])
        if plate is None or plate.color is None or row.color not in ("blue", "green", "yellow"):
            continue
        total += 1
        right += plate.color == row.color
    print(f"\n[plate colour] {right}/{total}")
    assert total >= 120
    assert right / total >= MIN_EXACT


def test_no_sign_is_reported_as_a_plate(frame_reads: Reads, plate_rows: list[PlateRow]) -> None:
    """Hazardous-goods signs (危险品) are plate-shaped; they must never come out as plates."""
    for file, plates in frame_reads.items():
        for plate in plates:
            assert not SIGN_CHARS.intersection(plate.text), file
            assert plate.valid or plate.confidence >= 0.6, file
    for row in plate_rows:
        if "危险品" in row.notes or "hazard" in row.notes.lower():
            assert all(SIGN_CHARS.isdisjoint(p.text) for p in frame_reads[row.file])


def test_crops_exact(
    reader_name: str,
    request: pytest.FixtureRequest,
    plate_rows: list[PlateRow],
    eval_dir: Path,
) -> None:
    """94x24 crops are already flat: read them directly with the reader."""
    reader = request.getfixturevalue(reader_name).reader
    rows = [r for r in plate_rows if r.scored and r.is_crop]
    misses = []
    for row in rows:
        read = reader.read(_load(eval_dir, row.file))
        if normalise_plate(read.text) != row.text:
            misses.append(row.file)
    exact = 1 - len(misses) / len(rows)
    print(
        f"\n[plates crops, {reader_name}] exact {len(rows) - len(misses)}/{len(rows)} = {exact:.3f}"
    )
    print(f"  missed: {misses}")
    assert len(rows) >= 140
    assert exact >= MIN_EXACT
