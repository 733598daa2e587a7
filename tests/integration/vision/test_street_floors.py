"""Street-conditions floors: the shipped pipeline on seeded street scenes must not regress.

Scenes: ``tests.support.street`` (clean pictures shrunk into 1080p frames and degraded,
seeded, identical on every run). Subset: every 4th trusted toll/CCPD plate row and every
3rd face probe and stranger, so the module runs in about a minute. The floors are what
the shipped pipeline measured on this subset (docs/accuracy.md, "Street conditions")
minus a small margin (about two scenes), so a regression in detection, alignment,
reading or matching fails here. They are floors, not goals: the goal is >= 90 % in
every condition, and the conditions below it are named in docs/accuracy.md.

    EDGE_MODELS_DIR=../shared/models EDGE_EVAL_DIR=../shared/eval \\
      .venv/bin/pytest tests/integration/vision/test_street_floors.py -s -q
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from edge.config import FaceConfig, MatchConfig, PlateConfig, RuntimeConfig
from edge.modelpack import PackManifest
from edge.vision.faces import FaceAnalyzer, load_face_analyzer
from edge.vision.plates import PlateRecognizer, load_plate_detector
from tests.support.street import FACE_CONDITIONS, PLATE_CONDITIONS, condition, render
from tests.support.street_score import (
    FaceSet,
    PlateSample,
    StillFaces,
    StillPlates,
    build_face_set,
    load_bgr,
    load_plate_samples,
    score_faces,
    score_plates,
    tighten_plate_boxes,
)

pytestmark = [pytest.mark.models, pytest.mark.eval]

PLATE_EVERY = 4
FACE_EVERY = 3
THRESHOLD = MatchConfig().face_threshold

#: exact-read floors per condition (measured on this subset minus ~2 scenes; re-measured
#: at dc809c5, when targets were moved 8 % away from the frame edges: every scene moved)
PLATE_FLOORS = {
    "clean": 0.90,  # measured 30/31
    "night": 0.74,  # 25/31
    "motion_blur": 0.35,  # 13/31
    "distance": 0.74,  # 25/31
    "tilt": 0.90,  # 30/31
    "jpeg": 0.90,  # 30/31
    "h264": 0.90,  # 30/31
    "rain": 0.93,  # 31/31
}
#: rank-1 floors per condition (measured on this subset minus ~2 probes)
FACE_FLOORS = {
    "clean": 0.88,  # measured 17/17
    "night": 0.70,  # 14/17 with the dark-face stretch
    "motion_blur": 0.88,  # 17/17
    "distance": 0.70,  # 14/17
    "tilt": 0.88,  # 17/17
    "jpeg": 0.88,  # 17/17
    "h264": 0.88,  # 17/17
    "rain": 0.88,  # 17/17
}
#: rank-1 *and* at the shipped threshold (an alarm is raised), minus ~2 probes
FACE_HIT_FLOORS = {
    "clean": 0.76,  # measured 15/17
    "night": 0.17,  # 5/17 with the dark-face stretch
    "motion_blur": 0.52,  # 11/17
    "distance": 0.52,  # 11/17
    "tilt": 0.88,  # 17/17
    "jpeg": 0.58,  # 12/17
    "h264": 0.47,  # 10/17
    "rain": 0.76,  # 15/17
}


@pytest.fixture(autouse=True)
def _quiet_albumentations() -> None:
    warnings.filterwarnings("ignore", category=UserWarning, module="albumentations")


@pytest.fixture(scope="module")
def face_analyzer(models_dir: Path, runtime: RuntimeConfig, manifest: PackManifest) -> FaceAnalyzer:
    return load_face_analyzer(models_dir, FaceConfig(), runtime, manifest)


@pytest.fixture(scope="module")
def plate_samples(eval_dir: Path, plate_recognizer: PlateRecognizer) -> list[PlateSample]:
    samples = load_plate_samples(eval_dir, every=PLATE_EVERY)
    return tighten_plate_boxes(
        samples, eval_dir, lambda img: [d.box for d in plate_recognizer.detector.detect(img)]
    )


@pytest.fixture(scope="module")
def face_set(eval_dir: Path, face_analyzer: FaceAnalyzer) -> FaceSet:
    return build_face_set(eval_dir, face_analyzer, every=FACE_EVERY)


def test_floors_cover_every_condition() -> None:
    assert set(PLATE_FLOORS) == {c.name for c in PLATE_CONDITIONS}
    assert set(FACE_FLOORS) == set(FACE_HIT_FLOORS) == {c.name for c in FACE_CONDITIONS}


def test_scenes_are_reproducible_and_degraded(
    eval_dir: Path, plate_samples: list[PlateSample]
) -> None:
    sample = plate_samples[0]
    source = load_bgr(eval_dir / sample.file)
    night = condition("plate", "night")
    a = render(source, sample.box, night, sample.file, seed=0)
    b = render(source, sample.box, night, sample.file, seed=0)
    c = render(source, sample.box, night, sample.file, seed=1)
    assert np.array_equal(a.frames[0], b.frames[0]), "same seed, different pixels"
    assert not np.array_equal(a.frames[0], c.frames[0]), "the seed changes nothing"
    clean = render(source, sample.box, condition("plate", "clean"), sample.file, seed=0)
    assert a.frames[0].mean() < 0.75 * clean.frames[0].mean(), "night is not darker"
    assert clean.frames[0].shape == (1080, 1920, 3)
    assert 0.85 * 120 <= clean.target.width <= 1.15 * 120


@pytest.mark.parametrize("name", [c.name for c in PLATE_CONDITIONS])
def test_plate_floor(
    name: str, eval_dir: Path, plate_samples: list[PlateSample], plate_recognizer: PlateRecognizer
) -> None:
    score = score_plates(
        plate_samples, condition("plate", name), StillPlates(plate_recognizer), eval_dir
    )
    print(f"\n[street plates] {name}: {score.hits}/{score.total} = {score.rate:.1%}")
    assert score.total >= 25, "street subset shrank"
    assert score.rate >= PLATE_FLOORS[name], score.misses


@pytest.mark.parametrize("name", [c.name for c in FACE_CONDITIONS])
def test_face_floor_and_no_stranger(
    name: str, eval_dir: Path, face_set: FaceSet, face_analyzer: FaceAnalyzer
) -> None:
    score = score_faces(
        face_set, condition("face", name), StillFaces(face_analyzer), THRESHOLD, eval_dir
    )
    print(
        f"\n[street faces] {name}: rank-1 {score.rank1}/{score.probes} = {score.rank1_rate:.1%}, "
        f"at {THRESHOLD} {score.hit_rate:.1%}, strangers matched "
        f"{score.strangers_matched}/{score.strangers}"
    )
    assert score.probes >= 15 and score.strangers >= 8, "street subset shrank"
    assert score.strangers_matched == 0
    assert score.rank1_rate >= FACE_FLOORS[name], score.misses
    assert score.hit_rate >= FACE_HIT_FLOORS[name]


def test_distance_floor_catches_a_weaker_detector(
    models_dir: Path,
    runtime: RuntimeConfig,
    manifest: PackManifest,
    eval_dir: Path,
    plate_samples: list[PlateSample],
    plate_recognizer: PlateRecognizer,
) -> None:
    """The suite can fail: the 320 px plate detector (measured 39 % here) loses the
    60 px plates, so the same reader with it falls below the distance floor."""
    config = PlateConfig(detector="y5fu_320")
    weaker = PlateRecognizer(
        load_plate_detector(models_dir, config, runtime, manifest), plate_recognizer.reader, config
    )
    score = score_plates(
        plate_samples, condition("plate", "distance"), StillPlates(weaker), eval_dir
    )
    print(f"\n[street plates] distance with y5fu_320: {score.hits}/{score.total}")
    assert score.rate < PLATE_FLOORS["distance"]
