"""A listed subject whose track breaks (it moved more than its own size between
analysed frames) continues its last match instead of starting a new event (pure
logic; a scripted detector and embedder stand in for the models)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.config import FaceConfig
from edge.gateway.config import TrackerConfig
from edge.gateway.recognise import FaceStage, FrameMatches, PipelineStats
from edge.vision.faces import FaceAnalyzer
from edge.vision.types import Box, FaceDetection, FaceEmbedding, Image
from edge.watchlist.types import FaceMatch

FRAME: Image = np.random.default_rng(0).integers(0, 256, (480, 1280, 3), dtype=np.uint8)


class JumpingFace:
    """One face per frame, 200 px further right each time: IoU 0, a new track each frame."""

    def __init__(self) -> None:
        self.frame = 0

    def detect(self, image: Image) -> list[FaceDetection]:
        dx = 200.0 * (self.frame % 5)
        self.frame += 1
        marks = (
            (40 + dx, 60.0),
            (100 + dx, 60.0),
            (70 + dx, 90.0),
            (45 + dx, 120.0),
            (95 + dx, 120.0),
        )
        return [FaceDetection(Box(20 + dx, 20, 120 + dx, 140), 0.9, marks)]


class Embedder:
    model_id = "fake"
    dim = 2

    def embed(self, aligned: Sequence[Image]) -> list[FaceEmbedding]:
        v = np.array([1.0, 0.0], dtype=np.float32)
        return [FaceEmbedding(v, self.model_id) for _ in aligned]


class Listed:
    def match_face(self, embedding: FaceEmbedding) -> FaceMatch:
        return FaceMatch("s1", "s1", 0.9)


def _events(tracker: TrackerConfig, frame_gap_s: float, frames: int = 5) -> int:
    """Frames scanned ``frame_gap_s`` apart; each trigger is committed as an event."""
    config = FaceConfig(min_quality=0.0, min_face_px=8)
    analyzer = FaceAnalyzer(JumpingFace(), Embedder(), config)
    stage = FaceStage(analyzer, tracker, PipelineStats(), None, lambda: None)
    events = 0
    for i in range(frames):
        out = FrameMatches()
        at_us = 1_000_000_000 + round(i * frame_gap_s * 1_000_000)
        stage.scan(FRAME, i, None, Listed(), out, at_us)  # type: ignore[arg-type]
        for state in {id(s): s for s in out.triggers}.values():  # as _commit does
            state.event_id, state.emitted_score = f"ev{events}", state.score
            events += 1
    return events


def test_a_broken_track_of_one_pass_is_one_event() -> None:
    assert _events(TrackerConfig(max_missed=0), frame_gap_s=0.2) == 1


def test_without_the_window_every_fragment_is_an_event() -> None:
    assert _events(TrackerConfig(max_missed=0, repeat_window_s=0), frame_gap_s=0.2) == 5


def test_a_later_pass_is_a_new_event() -> None:
    # 12 s between analysed frames: beyond the default 10 s window
    assert _events(TrackerConfig(max_missed=0), frame_gap_s=12.0) == 5
