"""FaceStage's best-shot pool: which shots are embedded, bounds, and forgetting (pure
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

#: textured, so the aligned crop is "sharp" for the quality score
FRAME: Image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)


class ScriptedDetector:
    """One frontal face per frame at a fixed place; its score follows the script."""

    def __init__(self, scores: Sequence[float | None]) -> None:
        self.scores = list(scores)
        self.frame = 0

    def detect(self, image: Image) -> list[FaceDetection]:
        score = self.scores[self.frame]
        self.frame += 1
        if score is None:
            return []
        marks = ((280.0, 200.0), (360.0, 200.0), (320.0, 240.0), (290.0, 280.0), (350.0, 280.0))
        return [FaceDetection(Box(260, 160, 380, 300), score, marks)]


class CountingEmbedder:
    model_id = "fake"
    dim = 2

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, aligned: Sequence[Image]) -> list[FaceEmbedding]:
        self.calls += len(aligned)
        v = np.array([1.0, 0.0], dtype=np.float32)
        return [FaceEmbedding(v, self.model_id) for _ in aligned]


class MatchEverything:
    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def match_face(self, embedding: FaceEmbedding) -> FaceMatch:
        self.seen.append(embedding.vector)
        return FaceMatch("s1", "s1", 0.9)


def _run(scores: Sequence[float | None], tracker: TrackerConfig) -> tuple[int, FaceStage, int]:
    det, emb, matcher = ScriptedDetector(scores), CountingEmbedder(), MatchEverything()
    config = FaceConfig(min_quality=0.0, min_face_px=8)
    stage = FaceStage(FaceAnalyzer(det, emb, config), tracker, PipelineStats(), None, lambda: None)
    triggers = 0
    for i in range(len(scores)):
        out = FrameMatches()
        stage.scan(FRAME, i, None, matcher, out)  # type: ignore[arg-type]
        triggers += len(out.triggers)
    return emb.calls, stage, triggers


def test_flat_quality_track_embeds_its_first_shots_up_to_the_pool_size() -> None:
    flat = [0.9] * 10  # no shot is clearly better than the first: the old rule embeds once
    assert _run(flat, TrackerConfig(embed_shots=1))[0] == 1
    assert _run(flat, TrackerConfig(embed_shots=3))[0] == 3


def test_embeddings_per_track_are_bounded() -> None:
    rising = [0.5 + 0.01 * i for i in range(40)]  # every shot beats the pool's worst
    calls, _, _ = _run(rising, TrackerConfig(embed_shots=3, max_embeds=3))
    assert calls <= 3 + 3


def test_pools_are_forgotten_when_tracks_finish() -> None:
    scores: list[float | None] = [0.9, 0.9, 0.9] + [None] * 12
    _, stage, _ = _run(scores, TrackerConfig(embed_shots=3, max_missed=2))
    assert stage._pools == {}  # no embedding outlives its track
