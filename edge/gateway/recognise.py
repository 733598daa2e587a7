"""Recognition stages of the camera pipeline: faces and plates, each with its tracker.

A stage turns one frame into matched faces/plates (kept sharp in evidence) and boxes
to redact (everything else). Unmatched detections, embeddings and reads are local to
the call: they are never kept, stored or logged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from edge.gateway.config import NormRect, TrackerConfig
from edge.gateway.evidence import MatchedFace, MatchedPlate
from edge.gateway.mainview import MainPicture, faces_on_main, main_view
from edge.gateway.stages import StageTimer, timed
from edge.gateway.tracker import Detection, IouTracker, Track
from edge.vision.face_quality import face_quality
from edge.vision.faces import FaceAnalyzer, align_face
from edge.vision.fusion import ShotPool
from edge.vision.types import Box, FaceDetection, FaceEmbedding, FaceQuality, Image
from edge.watchlist.matcher import WatchlistMatcher

#: an update event is sent when a track's similarity improves by at least this much
UPDATE_MARGIN = 0.08
MAX_UPDATES = 1
#: SCRFD boxes run from brow to chin; hair, ears and jaw identify people too
FACE_REDACT_MARGIN = 1.4


@dataclass
class PipelineStats:
    frames: int = 0
    faces_detected: int = 0
    faces_embedded: int = 0
    plates_read: int = 0
    events: int = 0
    face_scans: int = 0  # frames the face detector ran on
    plate_scans: int = 0
    completions: int = 0  # detector runs added so that an evidence frame is complete


@dataclass
class TrackMatch:
    subject_id: str
    score: float  # similarity (faces) or read confidence (plates)
    event_id: str | None = None
    emitted_score: float = 0.0
    updates: int = 0
    text: str = ""
    listed: str = ""
    kind: str = "exact"
    color: str | None = None


@dataclass
class FrameMatches:
    faces: list[MatchedFace] = field(default_factory=list)
    plates: list[MatchedPlate] = field(default_factory=list)
    unmatched: list[Box] = field(default_factory=list)
    triggers: list[TrackMatch] = field(default_factory=list)


def to_box(r: NormRect, width: int, height: int) -> Box:
    return Box(r[0] * width, r[1] * height, r[2] * width, r[3] * height)


def inside(box: Box, roi: Box | None) -> bool:
    if roi is None:
        return True
    cx, cy = box.center
    return roi.x1 <= cx <= roi.x2 and roi.y1 <= cy <= roi.y2


def trigger(state: TrackMatch, score: float) -> bool:
    """First match of a track, or a clearly better shot worth one update event."""
    if state.event_id is None:
        return True
    return state.updates < MAX_UPDATES and score >= state.emitted_score + UPDATE_MARGIN


class TrackedStage:
    """What both stages share: a tracker, the match state of its tracks, timing."""

    def __init__(
        self,
        kind: str,
        config: TrackerConfig,
        stats: PipelineStats,
        timer: StageTimer | None,
        on_new_track: Callable[[], None],
    ) -> None:
        self._tracks: IouTracker[int] = IouTracker(kind, config)
        self._config = config
        self._states: dict[int, TrackMatch] = {}
        #: subject id -> its last match on this camera and when (capture time, us)
        self._recent: dict[str, tuple[TrackMatch, int]] = {}
        self._now_us: int | None = None  # capture time of the frame being scanned
        self.stats = stats
        self._timer = timer
        self._on_new_track = on_new_track

    def reset(self) -> None:
        """Forget every track (end of stream, or the next picture is a new scene)."""
        self._tracks.flush()
        self._states.clear()
        self._recent.clear()

    def _new_state(self, subject_id: str, score: float) -> TrackMatch:
        """A new track's match: the subject's recent match on this camera if it was
        within ``repeat_window_s`` (the same pass, its track broken), else a new one."""
        recent = self._recent.get(subject_id)
        window_us = self._config.repeat_window_s * 1_000_000
        now = self._now_us
        if recent is not None and now is not None and 0 <= now - recent[1] <= window_us:
            return recent[0]
        return TrackMatch(subject_id, score)

    def _seen(self, state: TrackMatch) -> None:
        if self._now_us is not None:
            self._recent[state.subject_id] = (state, self._now_us)

    def _timed(self, stage: str) -> AbstractContextManager[None]:
        return timed(self._timer, stage)

    def _follow_new(self, tracks: Sequence[Track[int]], index: int) -> None:
        if any(t.first_frame == index and t.state != "finished" for t in tracks):
            self._on_new_track()

    @staticmethod
    def _forget(tracks: Sequence[Track[int]], states: dict[int, Any]) -> None:
        for t in tracks:
            if t.state == "finished":
                states.pop(t.track_id, None)


class FaceStage(TrackedStage):
    """Faces of one camera: detect, track, embed only clearly better shots, match."""

    def __init__(
        self,
        faces: FaceAnalyzer,
        config: TrackerConfig,
        stats: PipelineStats,
        timer: StageTimer | None,
        on_new_track: Callable[[], None],
    ) -> None:
        super().__init__("face", config, stats, timer, on_new_track)
        self._faces = faces
        #: the best embedded shots of each live track (optionally fused before matching)
        self._pools: dict[int, ShotPool] = {}

    def reset(self) -> None:
        super().reset()
        self._pools.clear()

    def scan(
        self,
        image: Image,
        index: int,
        roi: Box | None,
        matcher: WatchlistMatcher,
        out: FrameMatches,
        at_us: int | None = None,
        main: MainPicture | None = None,
    ) -> None:
        """``main``: the camera's main-stream picture of this frame, when ``image`` is
        its sub-stream (faces are then embedded from the main picture)."""
        self._now_us = at_us
        view, on_view, dets, faint = self._detect(image, main)
        # too faint to recognise, still a face
        out.unmatched.extend(d.box.expand(FACE_REDACT_MARGIN) for d in faint)
        self.stats.faces_detected += len(dets)
        with self._timed("face_align_quality"):
            aligned = [align_face(view, d.landmarks) for d in on_view]
            quality = [face_quality(view, d, a) for d, a in zip(on_view, aligned, strict=True)]
        tracked = [
            Detection(box=d.box, score=d.score, quality=q.score, payload=i)
            for i, (d, q) in enumerate(zip(dets, quality, strict=True))
            if inside(d.box, roi)
        ]
        with self._timed("track_match"):
            tracks = self._tracks.update(tracked, index)
            self._forget(tracks, self._states)
            self._forget(tracks, self._pools)
            self._follow_new(tracks, index)
        self._embed_best_shots(tracks, tracked, aligned, quality, matcher)
        matched = self._emit(tracks, tracked, dets, quality, out)
        out.unmatched.extend(
            d.box.expand(FACE_REDACT_MARGIN) for i, d in enumerate(dets) if i not in matched
        )

    def _detect(
        self, image: Image, main: MainPicture | None
    ) -> tuple[Image, list[FaceDetection], list[FaceDetection], list[FaceDetection]]:
        """(picture to embed from, its faces there, the same faces on ``image``, faint
        faces on ``image``)."""
        with self._timed("face_detect"):
            dets, faint = self._faces.detect_all(image)
        if main is None or not (dets or faint):
            return image, dets, dets, faint
        with self._timed("main_picture"):
            view = main_view(image, main)
        if view is None:
            return image, dets, dets, faint
        with self._timed("face_detect_main"):
            found = faces_on_main(self._faces, view, dets, faint)
        return view.image, found.on_main, found.faces, found.faint

    def _embed_best_shots(
        self,
        tracks: Sequence[Track[int]],
        tracked: Sequence[Detection[int]],
        aligned: Sequence[Image],
        quality: Sequence[FaceQuality],
        matcher: WatchlistMatcher,
    ) -> None:
        """Embed the tracks whose current shot is clearly better or still wanted for
        fusion, then match."""
        chosen = [
            (t, i)
            for t in tracks
            if t.detection_index is not None
            and self._faces.usable(quality[i := tracked[t.detection_index].payload])
            and self._embed_now(t, quality[i].score)
        ]
        with self._timed("face_embed"):
            vectors = self._faces.embedder.embed([aligned[i] for _, i in chosen]) if chosen else []
        self.stats.faces_embedded += len(chosen)
        with self._timed("track_match"):
            self._match(chosen, vectors, [quality[i].score for _, i in chosen], matcher)

    def _embed_now(self, track: Track[int], quality: float) -> bool:
        """Embed this shot: the tracker calls it clearly better, or the pool is not full
        or the shot beats its worst; at most ``max_embeds + embed_shots`` per track."""
        if self._config.embed_shots < 2:
            return track.embed
        pool = self._pools.get(track.track_id)
        if pool is None:
            return True
        if pool.added >= self._config.max_embeds + pool.size:
            return False
        return track.embed or pool.wants(quality)

    def _emit(
        self,
        tracks: Sequence[Track[int]],
        tracked: Sequence[Detection[int]],
        dets: Sequence[FaceDetection],
        quality: Sequence[FaceQuality],
        out: FrameMatches,
    ) -> set[int]:
        """Matched faces of this frame into ``out``; returns their detection indexes."""
        matched: set[int] = set()
        for t in tracks:
            state = self._states.get(t.track_id)
            if state is None or t.detection_index is None:
                continue
            i = tracked[t.detection_index].payload
            matched.add(i)
            out.faces.append(
                MatchedFace(
                    dets[i].box,
                    state.subject_id,
                    state.score,
                    quality[i].score,
                    self._faces.model_id,
                )
            )
            self._seen(state)
            if trigger(state, state.score):
                out.triggers.append(state)
        return matched

    def _match(
        self,
        chosen: Sequence[tuple[Track[int], int]],
        vectors: Sequence[FaceEmbedding],
        qualities: Sequence[float],
        matcher: WatchlistMatcher,
    ) -> None:
        for (t, _), vec, q in zip(chosen, vectors, qualities, strict=True):
            candidates = [vec]
            if self._config.embed_shots >= 2:
                pool = self._pools.setdefault(t.track_id, ShotPool(self._config.embed_shots))
                pool.add(q, vec)
                fused = pool.fused() if self._config.fuse_embeddings else None
                if fused is not None:
                    candidates.append(fused)
            found = [m for m in map(matcher.match_face, candidates) if m is not None]
            if not found:
                continue
            m = max(found, key=lambda m: m.similarity)
            state = self._states.get(t.track_id)
            if state is None:
                state = self._new_state(m.subject_id, m.similarity)
                self._states[t.track_id] = state
            elif m.similarity > state.score:
                state.subject_id, state.score = m.subject_id, m.similarity
