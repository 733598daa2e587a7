"""Street scenes through the gateway's real recognition stages (tracks, votes, fusion).

``tests.support.street_score`` scores still-frame recognisers; here a burst of a scene
(consecutive frames of one target, ``render(..., frames=n)``) goes through the real
``FaceStage`` / ``PlateStage`` of ``edge.gateway.recognise`` with a watchlist matcher,
exactly as a camera's frames do, and the scene is scored by the matches they trigger:

- plates: the scene is exact when a triggered track's voted read is the labelled text;
- faces: a hit when a triggered track names the right subject; a stranger scene that
  triggers anything is a false match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.config import MatchConfig
from edge.gateway.config import TrackerConfig
from edge.gateway.plate_stage import PlateStage
from edge.gateway.recognise import FaceStage, FrameMatches, PipelineStats
from edge.vision.faces import FaceAnalyzer
from edge.vision.plates import PlateRecognizer
from edge.vision.types import FaceEmbedding, Image
from edge.watchlist.gallery import FaceGallery
from edge.watchlist.matcher import WatchlistMatcher
from edge.watchlist.types import FaceMatch, Subject, WatchlistSnapshot, empty_matrix
from tests.support.street import Condition, render
from tests.support.street_score import FaceSet, PlateSample, load_bgr


@dataclass
class TrackScore:
    condition: str
    hits: int = 0
    total: int = 0
    strangers_matched: int = 0
    strangers: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.hits / self.total if self.total else 0.0


def plate_matcher(samples: Sequence[PlateSample]) -> WatchlistMatcher:
    """Every sample's plate is listed (one subject each): a read must still be exact."""
    texts = sorted({s.text for s in samples})
    snapshot = WatchlistSnapshot(
        version=1,
        face_model_id=None,
        subjects=tuple(Subject(f"p{i}", f"plate {i}") for i in range(len(texts))),
        face_subject_ids=(),
        face_matrix=empty_matrix(),
        plates=tuple((f"p{i}", t) for i, t in enumerate(texts)),
    )
    return WatchlistMatcher(snapshot, MatchConfig())


@dataclass(frozen=True)
class GalleryMatcher:
    """The face half of ``WatchlistMatcher`` over the face set's gallery (same rule:
    the best subject at or above the threshold)."""

    gallery: FaceGallery
    threshold: float

    def match_face(self, embedding: FaceEmbedding) -> FaceMatch | None:
        return self.gallery.best(embedding, self.threshold)


def _run(stage: FaceStage | PlateStage, frames: Sequence[Image], matcher: Any) -> set[str]:
    """(subject, read) pairs of every match the burst triggered; the stage starts fresh."""
    stage.reset()
    found: set[str] = set()
    for index, image in enumerate(frames):
        out = FrameMatches()
        stage.scan(image, index, None, matcher, out)
        for t in out.triggers:
            found.add(f"{t.subject_id}|{t.text}")
    stage.reset()
    return found


def score_plate_tracks(
    samples: Sequence[PlateSample],
    cond: Condition,
    recognizer: PlateRecognizer,
    eval_dir: Path,
    frames: int,
    tracker: TrackerConfig | None = None,
) -> TrackScore:
    tracker = tracker or TrackerConfig()
    matcher = plate_matcher(samples)
    stage = PlateStage(recognizer, tracker, PipelineStats(), None, lambda: None, "plates")
    score = TrackScore(cond.name)
    for s in samples:
        scene = render(load_bgr(eval_dir / s.file), s.box, cond, s.file, 0, frames)
        reads = {pair.split("|", 1)[1] for pair in _run(stage, scene.frames, matcher)}
        score.total += 1
        if s.text in reads:
            score.hits += 1
        else:
            score.misses.append(s.file)
    return score


def score_face_tracks(
    faces: FaceSet,
    cond: Condition,
    analyzer: FaceAnalyzer,
    eval_dir: Path,
    frames: int,
    tracker: TrackerConfig | None = None,
    threshold: float = MatchConfig().face_threshold,
) -> TrackScore:
    tracker = tracker or TrackerConfig()
    matcher = GalleryMatcher(faces.gallery, threshold)
    stage = FaceStage(analyzer, tracker, PipelineStats(), None, lambda: None)
    score = TrackScore(cond.name)
    for p in faces.probes:
        scene = render(load_bgr(eval_dir / p.file), p.box, cond, p.file, 0, frames)
        subjects = {pair.split("|", 1)[0] for pair in _run(stage, scene.frames, matcher)}
        score.total += 1
        if subjects == {p.identity}:
            score.hits += 1
        else:
            score.misses.append(p.file)
    for p in faces.strangers:
        scene = render(load_bgr(eval_dir / p.file), p.box, cond, p.file, 0, frames)
        score.strangers += 1
        score.strangers_matched += bool(_run(stage, scene.frames, matcher))
    return score
