"""Motion gating: which detector looks at which frame."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pydantic import ValidationError

from edge.gateway.config import AnalysisConfig, CameraConfig, MotionConfig
from edge.gateway.motion import MotionGate, changed_fraction, thumbnail
from edge.vision.privacy import redact
from edge.vision.types import Box

FRAME_US = 40_000  # 25 fps


def scene(x: int, size: int = 120) -> np.ndarray:
    """A 1080p grey background with one bright square whose left edge is at ``x``."""
    img = np.full((1080, 1920, 3), 90, np.uint8)
    img[400 : 400 + size, x : x + size] = 230
    return img


def run(gate: MotionGate, frames: list[np.ndarray], kind: str = "faces") -> list[int]:
    """Indices of the frames the detector ran on."""
    out = []
    for i, img in enumerate(frames):
        gate.look(img)
        if gate.due(kind, i * FRAME_US):
            gate.ran(kind, i * FRAME_US)
            out.append(i)
    return out


def test_still_scene_runs_the_detector_once() -> None:
    gate = MotionGate(AnalysisConfig())
    assert run(gate, [scene(100)] * 20) == [0]
    assert gate.counts("faces") == (1, 19, 0)


def test_moving_scene_is_capped_at_the_configured_rate() -> None:
    cfg = AnalysisConfig(face_detect_fps=10.0, plate_detect_fps=5.0)
    frames = [scene(100 + 30 * i) for i in range(50)]  # 2 s of motion at 25 fps
    faces = run(MotionGate(cfg), frames, "faces")
    plates = run(MotionGate(cfg), frames, "plates")
    assert plates == list(range(0, 50, 5))
    assert len(faces) == 20 and faces[:5] == [0, 3, 5, 8, 10]


def test_no_rate_cap_runs_on_every_moving_frame() -> None:
    cfg = AnalysisConfig(face_detect_fps=None)
    frames = [scene(100 + 30 * i) for i in range(10)]
    assert run(MotionGate(cfg), frames) == list(range(10))


def test_change_is_measured_against_the_last_frame_the_detector_saw() -> None:
    # a slow drift, each step below the threshold area, adds up and triggers a run
    cfg = AnalysisConfig(motion=MotionConfig(min_area=0.01), face_detect_fps=None)
    frames = [scene(100 + 4 * i, size=300) for i in range(40)]
    ran = run(MotionGate(cfg), frames)
    assert ran[0] == 0 and 1 < len(ran) < 40
    assert all(b - a > 1 for a, b in itertools.pairwise(ran))


def test_keyframe_runs_even_without_motion() -> None:
    cfg = AnalysisConfig(motion=MotionConfig(keyframe_s=1.0))
    ran = run(MotionGate(cfg), [scene(100)] * 60)
    assert ran == [0, 25, 50]


def test_disabled_motion_keeps_only_the_rate_cap() -> None:
    cfg = AnalysisConfig(motion=MotionConfig(enabled=False), plate_detect_fps=5.0)
    assert run(MotionGate(cfg), [scene(100)] * 20, "plates") == [0, 5, 10, 15]


def test_extra_run_does_not_shift_the_schedule() -> None:
    cfg = AnalysisConfig(plate_detect_fps=5.0)
    gate = MotionGate(cfg)
    frames = [scene(100 + 30 * i) for i in range(11)]
    ran = []
    for i, img in enumerate(frames):
        gate.look(img)
        if gate.due("plates", i * FRAME_US) or i == 2:  # frame 2: evidence completion
            gate.ran("plates", i * FRAME_US)
            ran.append(i)
    assert ran == [0, 2, 5, 10]


def test_reset_forgets_the_reference() -> None:
    gate = MotionGate(AnalysisConfig())
    assert run(gate, [scene(100)] * 3) == [0]
    gate.reset()
    gate.look(scene(100))
    assert gate.due("faces", 10 * FRAME_US)


def test_sensor_noise_is_not_motion() -> None:
    rng = np.random.default_rng(7)
    base = scene(100)
    noisy = [
        np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8) for _ in range(5)
    ]
    assert run(MotionGate(AnalysisConfig()), noisy) == [0]


def test_small_face_sized_motion_counts() -> None:
    # a 24 px object (the smallest face the gateway embeds) moving by its own width
    a, b = thumbnail(scene(500, size=24), 320), thumbnail(scene(524, size=24), 320)
    assert changed_fraction(a, b, MotionConfig().pixel_threshold) >= MotionConfig().min_area


def test_resolution_change_is_full_motion() -> None:
    a = thumbnail(np.zeros((1080, 1920, 3), np.uint8), 320)
    b = thumbnail(np.zeros((1080, 1440, 3), np.uint8), 320)
    assert changed_fraction(a, b, 10) == 1.0
    # same aspect ratio, same thumbnail: the gate still sees the new resolution
    gate = MotionGate(AnalysisConfig())
    assert run(gate, [np.zeros((1080, 1920, 3), np.uint8)] * 2) == [0]
    gate.look(np.zeros((720, 1280, 3), np.uint8))
    assert gate.due("faces", 3 * FRAME_US)


def test_analysis_config_is_strict() -> None:
    with pytest.raises(ValidationError, match="face_detect_fps"):
        AnalysisConfig(face_detect_fps=0)
    with pytest.raises(ValidationError, match="extra"):
        CameraConfig.model_validate({"id": "c1", "source": "usb:0", "analysis": {"every": 2}})
    cam = CameraConfig.model_validate(
        {"id": "c1", "source": "usb:0", "analysis": {"plate_detect_fps": None}}
    )
    assert cam.analysis.plate_detect_fps is None and cam.analysis.face_detect_fps == 10.0


def test_redacted_privacy_zones_never_count_as_motion() -> None:
    zone = Box(1500.0, 100.0, 1800.0, 400.0)
    frames = [redact(scene(100), [zone]) for _ in range(10)]  # fresh noise every frame
    assert run(MotionGate(AnalysisConfig()), frames) != [0]  # the noise alone is motion
    gate = MotionGate(AnalysisConfig())
    ran = []
    for i, img in enumerate(frames):
        gate.look(img, [zone])
        if gate.due("faces", i * FRAME_US):
            gate.ran("faces", i * FRAME_US)
            ran.append(i)
    assert ran == [0]


def test_follow_up_runs_once_on_the_next_moving_frame_despite_the_cap() -> None:
    gate = MotionGate(AnalysisConfig(plate_detect_fps=5.0))
    frames = [scene(100 + 30 * i) for i in range(11)]
    ran = []
    for i, img in enumerate(frames):
        gate.look(img)
        if gate.due("plates", i * FRAME_US):
            gate.ran("plates", i * FRAME_US)
            ran.append(i)
            if i == 0:
                gate.follow_up("plates")  # a track started on frame 0
    assert ran == [0, 1, 5, 10]


def test_follow_up_still_needs_motion() -> None:
    gate = MotionGate(AnalysisConfig())
    gate.look(scene(100))
    assert gate.due("plates", 0)
    gate.ran("plates", 0)
    gate.follow_up("plates")
    gate.look(scene(100))
    assert not gate.due("plates", FRAME_US)
