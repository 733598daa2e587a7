"""Per-camera recognition pipeline: frames in, signed evidence into the outbox.

detect -> track -> embed only the best shots -> match -> evidence. Faces and plates
that match nothing live only in this frame's local variables: they are redacted in the
scene image, never stored, sent or logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from edge.evidence.model import MatchEvent
from edge.gateway.config import CameraConfig, NormRect, TrackingConfig
from edge.gateway.evidence import EvidenceBuilder, MatchedFace, MatchedPlate, SceneMatches
from edge.gateway.outbox import Builder, OutboxEntry
from edge.gateway.sources import Frame
from edge.gateway.tracker import Detection, IouTracker, Track
from edge.vision.face_quality import face_quality
from edge.vision.faces import FaceAnalyzer, align_face
from edge.vision.plates import PlateRecognizer
from edge.vision.privacy import redact
from edge.vision.types import Box, Image
from edge.watchlist.matcher import WatchlistMatcher
from edge.wire.mapping import event_to_proto

log = logging.getLogger(__name__)

#: an update event is sent when a track's similarity improves by at least this much
UPDATE_MARGIN = 0.08
MAX_UPDATES = 1


class MatcherSource(Protocol):
    def current(self) -> WatchlistMatcher: ...


class EvidenceSink(Protocol):
    def append_event(self, build: Builder, *, block_timeout_s: float = 1.0) -> OutboxEntry: ...


@dataclass
class PipelineStats:
    frames: int = 0
    faces_detected: int = 0
    faces_embedded: int = 0
    plates_read: int = 0
    events: int = 0


@dataclass
class _TrackMatch:
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
class _FrameMatches:
    faces: list[MatchedFace] = field(default_factory=list)
    plates: list[MatchedPlate] = field(default_factory=list)
    unmatched: list[Box] = field(default_factory=list)
    triggers: list[_TrackMatch] = field(default_factory=list)


def _to_box(r: NormRect, width: int, height: int) -> Box:
    return Box(r[0] * width, r[1] * height, r[2] * width, r[3] * height)


def _inside(box: Box, roi: Box | None) -> bool:
    if roi is None:
        return True
    cx, cy = box.center
    return roi.x1 <= cx <= roi.x2 and roi.y1 <= cy <= roi.y2


def _trigger(state: _TrackMatch, score: float) -> bool:
    """First match of a track, or a clearly better shot worth one update event."""
    if state.event_id is None:
        return True
    return state.updates < MAX_UPDATES and score >= state.emitted_score + UPDATE_MARGIN


class CameraPipeline:
    def __init__(
        self,
        camera: CameraConfig,
        faces: FaceAnalyzer | None,
        plates: PlateRecognizer | None,
        matchers: MatcherSource,
        builder: EvidenceBuilder,
        sink: EvidenceSink,
        tracking: TrackingConfig,
        plate_model_id: str = "",
    ) -> None:
        self._camera = camera
        self._faces = faces if "faces" in camera.recognisers else None
        self._plates = plates if "plates" in camera.recognisers else None
        self._matchers = matchers
        self._builder = builder
        self._sink = sink
        self._face_tracks: IouTracker[int] = IouTracker("face", tracking.faces)
        self._plate_tracks: IouTracker[int] = IouTracker("plate", tracking.plates)
        self._face_state: dict[int, _TrackMatch] = {}
        self._plate_state: dict[int, _TrackMatch] = {}
        self._plate_model_id = plate_model_id
        self.stats = PipelineStats()

    def process(self, frame: Frame) -> list[MatchEvent]:
        """Analyse one frame; returns the events it committed to the outbox."""
        self.stats.frames += 1
        h, w = frame.image.shape[:2]
        masks = [_to_box(r, w, h) for r in self._camera.privacy_masks]
        # privacy zones are never analysed: destroy them before any model sees them
        image = redact(frame.image, masks) if masks else frame.image
        roi = _to_box(self._camera.roi, w, h) if self._camera.roi else None
        matcher = self._matchers.current()
        found = _FrameMatches(unmatched=list(masks))
        if self._faces is not None:
            self._scan_faces(image, frame.index, roi, matcher, found)
        if self._plates is not None:
            self._scan_plates(image, frame.index, roi, matcher, found)
        if not found.triggers:
            return []
        return [self._commit(frame, image, found)]

    def finish(self) -> None:
        """End of stream: forget every track (their matches were already sent)."""
        self._face_tracks.flush()
        self._plate_tracks.flush()
        self._face_state.clear()
        self._plate_state.clear()

    # -- faces -------------------------------------------------------------------

    def _scan_faces(
        self,
        image: Image,
        index: int,
        roi: Box | None,
        matcher: WatchlistMatcher,
        out: _FrameMatches,
    ) -> None:
        assert self._faces is not None
        dets = [d for d in self._faces.detect(image)]
        self.stats.faces_detected += len(dets)
        aligned = [align_face(image, d.landmarks) for d in dets]
        quality = [face_quality(image, d, a) for d, a in zip(dets, aligned, strict=True)]
        tracked = [
            Detection(box=d.box, score=d.score, quality=q.score, payload=i)
            for i, (d, q) in enumerate(zip(dets, quality, strict=True))
            if _inside(d.box, roi)
        ]
        tracks = self._face_tracks.update(tracked, index)
        self._forget(tracks, self._face_state)
        chosen = [
            (t, tracked[t.detection_index].payload)
            for t in tracks
            if t.embed
            and t.detection_index is not None
            and self._faces.usable(quality[tracked[t.detection_index].payload])
        ]
        vectors = self._faces.embedder.embed([aligned[i] for _, i in chosen]) if chosen else []
        self.stats.faces_embedded += len(chosen)
        for (t, _), vec in zip(chosen, vectors, strict=True):
            m = matcher.match_face(vec)
            if m is None:
                continue
            state = self._face_state.get(t.track_id)
            if state is None or m.similarity > state.score:
                prev = state or _TrackMatch(m.subject_id, m.similarity)
                prev.subject_id, prev.score = m.subject_id, m.similarity
                self._face_state[t.track_id] = prev
        matched: set[int] = set()
        for t in tracks:
            state = self._face_state.get(t.track_id)
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
            if _trigger(state, state.score):
                out.triggers.append(state)
        out.unmatched.extend(d.box for i, d in enumerate(dets) if i not in matched)

    # -- plates ------------------------------------------------------------------

    def _scan_plates(
        self,
        image: Image,
        index: int,
        roi: Box | None,
        matcher: WatchlistMatcher,
        out: _FrameMatches,
    ) -> None:
        assert self._plates is not None
        scan = self._plates.scan(image)
        out.unmatched.extend(d.box for d in scan.rejected)
        plates = list(scan.plates)
        self.stats.plates_read += len(plates)
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
            if _inside(p.detection.box, roi)
        ]
        tracks = self._plate_tracks.update(tracked, index)
        self._forget(tracks, self._plate_state)
        matched: set[int] = set()
        for t in tracks:
            if t.detection_index is None or t.vote is None:
                continue
            i = tracked[t.detection_index].payload
            state = self._match_plate(t, matcher)
            if state is None:
                continue
            matched.add(i)
            p = plates[i]
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
            if _trigger(state, state.score):
                out.triggers.append(state)
        out.unmatched.extend(p.detection.box for i, p in enumerate(plates) if i not in matched)

    def _match_plate(self, t: Track[int], matcher: WatchlistMatcher) -> _TrackMatch | None:
        vote = t.vote
        assert vote is not None
        state = self._plate_state.get(t.track_id)
        for text in dict.fromkeys((vote.text, vote.best_read)):
            m = matcher.match_plate(text)
            if m is None:
                continue
            if state is None or state.subject_id != m.subject_id:
                state = _TrackMatch(m.subject_id, vote.confidence)
                self._plate_state[t.track_id] = state
            state.score, state.text, state.listed, state.kind = (
                vote.confidence,
                text,
                m.plate,
                m.kind,
            )
            return state
        return state

    @staticmethod
    def _forget(tracks: Sequence[Track[int]], states: dict[int, _TrackMatch]) -> None:
        for t in tracks:
            if t.state == "finished":
                states.pop(t.track_id, None)

    # -- evidence ----------------------------------------------------------------

    def _commit(self, frame: Frame, image: Image, found: _FrameMatches) -> MatchEvent:
        loc = self._camera.location
        supersedes = next((s.event_id for s in found.triggers if s.event_id), None)
        scene = SceneMatches(
            camera_id=self._camera.id,
            captured_at_us=frame.captured_at_us,
            image=image,
            faces=tuple(found.faces),
            plates=tuple(found.plates),
            redact_boxes=tuple(found.unmatched),
            location=(loc.lat, loc.lon) if loc else None,
            supersedes=supersedes,
        )
        encoded = self._builder.encode_blobs(scene)
        built: list[MatchEvent] = []

        def build(sequence: int, prev_hash: str) -> tuple[MatchEvent, bytes]:
            ev = self._builder.build(scene, sequence, prev_hash, encoded)
            built.append(ev.event)
            payload = event_to_proto(ev.event, ev.signature, ev.blobs).SerializeToString()
            return ev.event, payload

        self._sink.append_event(build)
        event = built[-1]
        for state in found.triggers:
            if state.event_id is not None:
                state.updates += 1
            state.event_id, state.emitted_score = event.event_id, state.score
        self.stats.events += 1
        log.info(
            "match event stored",
            extra={
                "event_id": event.event_id,
                "camera_id": event.camera_id,
                "sequence": event.sequence,
                "kind": event.kind,
                "subjects": sorted(
                    {f.subject_id for f in event.faces} | {p.subject_id for p in event.plates}
                ),
            },
        )
        return event
