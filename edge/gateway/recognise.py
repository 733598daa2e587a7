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
from edge.gateway.stages import StageTimer, timed
from edge.gateway.tracker import Detection, IouTracker, Track
from edge.vision.face_quality import face_quality
from edge.vision.faces import FaceAnalyzer, align_face
from edge.vision.fusion import ShotPool
from edge.vision.plates import PlateRecognizer
from edge.vision.types import Box, FaceDetection, FaceEmbedding, FaceQuality, Image, Plate
from edge.watchlist.matcher import WatchlistMatcher
from edge.watchlist.plate_index import confusable_distance

#: an update event is sent when a track's similarity improves by at least this much
UPDATE_MARGIN = 0.08
MAX_UPDATES = 1
#: a frame's own plate read may differ from the listed text by this much (confusable
#: substitutions count 0.5) and still be the listed vehicle
READ_AGREEMENT = 2.0
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


def read_agrees(text: str, state: TrackMatch, matcher: WatchlistMatcher) -> bool:
    """Whether this frame's read is the listed plate, not merely its track's.

    A track may have been handed from one vehicle to another (occlusion, a parked car
    replaced): the plate in THIS frame stays sharp only if its own read matches the
    same subject or is within a few OCR confusions of the listed text.
    """
    m = matcher.match_plate(text)
    if m is not None:
        return m.subject_id == state.subject_id
    return confusable_distance(text, state.listed, limit=READ_AGREEMENT) <= READ_AGREEMENT


def trigger(state: TrackMatch, score: float) -> bool:
    """First match of a track, or a clearly better shot worth one update event."""
    if state.event_id is None:
        return True
    return state.updates < MAX_UPDATES and score >= state.emitted_score + UPDATE_MARGIN


class _Stage:
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


class FaceStage(_Stage):
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
    ) -> None:
        self._now_us = at_us
        with self._timed("face_detect"):
            dets, faint = self._faces.detect_all(image)
        # too faint to recognise, still a face
        out.unmatched.extend(d.box.expand(FACE_REDACT_MARGIN) for d in faint)
        self.stats.faces_detected += len(dets)
        with self._timed("face_align_quality"):
            aligned = [align_face(image, d.landmarks) for d in dets]
            quality = [face_quality(image, d, a) for d, a in zip(dets, aligned, strict=True)]
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


class PlateStage(_Stage):
    """Plates of one camera: detect, read, track, vote the reads, match."""

    def __init__(
        self,
        plates: PlateRecognizer,
        config: TrackerConfig,
        stats: PipelineStats,
        timer: StageTimer | None,
        on_new_track: Callable[[], None],
        model_id: str,
    ) -> None:
        super().__init__("plate", config, stats, timer, on_new_track)
        self._plates = plates
        self._plate_model_id = model_id

    def scan(
        self,
        image: Image,
        index: int,
        roi: Box | None,
        matcher: WatchlistMatcher,
        out: FrameMatches,
        at_us: int | None = None,
    ) -> None:
        self._now_us = at_us
        plates = self._read(image, out)
        tracked = [
            Detection(
                box=p.detection.box,
                score=p.detection.score,
                quality=p.confidence,
                payload=i,
                text=p.text if p.valid else None,
                text_confidence=p.confidence,
            )
            for i, p in enumerate(plates)
            if inside(p.detection.box, roi)
        ]
        with self._timed("track_match"):
            tracks = self._tracks.update(tracked, index)
            self._forget(tracks, self._states)
            self._follow_new(tracks, index)
        matched = self._emit(tracks, tracked, plates, matcher, out)
        out.unmatched.extend(p.detection.box for i, p in enumerate(plates) if i not in matched)

    def _read(self, image: Image, out: FrameMatches) -> list[Plate]:
        """Detect and read; non-plates (signs, junk) go straight to redaction."""
        with self._timed("plate_detect"):
            detections = self._plates.detector.detect(image)
        plates: list[Plate] = []
        with self._timed("plate_read"):
            for d in detections:
                plate = self._plates.read_detection(image, d)
                if plate is None:
                    out.unmatched.append(d.box)  # still plate-shaped: redact
                else:
                    plates.append(plate)
        self.stats.plates_read += len(plates)
        return plates

    def _emit(
        self,
        tracks: Sequence[Track[int]],
        tracked: Sequence[Detection[int]],
        plates: Sequence[Plate],
        matcher: WatchlistMatcher,
        out: FrameMatches,
    ) -> set[int]:
        """Match voted reads; the plates of this frame that stay sharp go into ``out``."""
        matched: set[int] = set()
        for t in tracks:
            if t.detection_index is None or t.vote is None:
                continue
            with self._timed("track_match"):
                state = self._match(t, matcher)
            i = tracked[t.detection_index].payload
            p = plates[i]
            if state is None or not read_agrees(p.text, state, matcher):
                continue
            matched.add(i)
            out.plates.append(
                MatchedPlate(
                    p.detection.box,
                    state.subject_id,
                    state.text,
                    state.listed,
                    state.kind,
                    state.score,
                    p.color or state.color,
                    self._plate_model_id,
                )
            )
            self._seen(state)
            if trigger(state, state.score):
                out.triggers.append(state)
        return matched

    def _match(self, t: Track[int], matcher: WatchlistMatcher) -> TrackMatch | None:
        vote = t.vote
        assert vote is not None
        state = self._states.get(t.track_id)
        for text in dict.fromkeys((vote.text, vote.best_read)):
            m = matcher.match_plate(text)
            if m is None:
                continue
            if state is None or state.subject_id != m.subject_id:
                state = self._new_state(m.subject_id, vote.confidence)
                self._states[t.track_id] = state
            state.score, state.text, state.listed, state.kind = (
                vote.confidence,
                text,
                m.plate,
                m.kind,
            )
            return state
        return state
