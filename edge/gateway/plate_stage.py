"""The plate stage of the camera pipeline: detect, read, track, vote the reads, match.

Unmatched detections and reads are local to the call: never kept, stored or logged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from edge.gateway.config import TrackerConfig
from edge.gateway.evidence import MatchedPlate
from edge.gateway.mainview import (
    READ_ON_MAIN_BELOW_PX,
    MainPicture,
    MainView,
    main_view,
    read_on_main,
    wants_main,
)
from edge.gateway.recognise import (
    FrameMatches,
    PipelineStats,
    TrackedStage,
    TrackMatch,
    inside,
    trigger,
)
from edge.gateway.stages import StageTimer
from edge.gateway.tracker import Detection, Track
from edge.vision.plates import PlateRecognizer
from edge.vision.types import Box, Image, Plate, PlateDetection
from edge.watchlist.matcher import WatchlistMatcher
from edge.watchlist.plate_index import confusable_distance

#: a frame's own plate read may differ from the listed text by this much (confusable
#: substitutions count 0.5) and still be the listed vehicle
READ_AGREEMENT = 2.0


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


class PlateStage(TrackedStage):
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
        main: MainPicture | None = None,
        detections: Sequence[PlateDetection] | None = None,
    ) -> None:
        """``main``: the camera's main-stream picture of this frame, when ``image`` is
        its sub-stream (small plates are then read there); ``detections``: the plate
        detector's output on ``image``, when the caller already ran it."""
        self._now_us = at_us
        plates = self._read(image, out, main, detections)
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

    def _read(
        self,
        image: Image,
        out: FrameMatches,
        main: MainPicture | None,
        detections: Sequence[PlateDetection] | None,
    ) -> list[Plate]:
        """Detect and read; non-plates (signs, junk) go straight to redaction."""
        if detections is None:
            with self._timed("plate_detect"):
                detections = self._plates.detector.detect(image)
        view: MainView | None = None
        if main is not None and wants_main(detections):
            with self._timed("main_picture"):
                view = main_view(image, main)
        plates: list[Plate] = []
        with self._timed("plate_read"):
            for d in detections:
                if view is not None and d.box.width < READ_ON_MAIN_BELOW_PX:
                    plate = read_on_main(self._plates, view, d)
                else:
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
