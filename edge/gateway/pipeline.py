"""Per-camera recognition pipeline: frames in, signed evidence into the outbox.

motion gate -> detect -> track -> embed only the best shots -> match -> evidence.
Faces and plates that match nothing live only in this frame's local variables: they
are redacted in the scene image, never stored, sent or logged.

Detectors do not run on every frame: the motion gate skips a detector when nothing
moved since it last looked and caps its rate while things move (tracks coast in
between). A frame that becomes evidence is always completed first, by running every
detector that skipped it, so the privacy filter knows every face and plate in it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from edge.evidence.model import MatchEvent
from edge.gateway.config import CameraConfig, NormRect, TrackingConfig
from edge.gateway.evidence import EvidenceBuilder, MatchedFace, MatchedPlate, SceneMatches
from edge.gateway.motion import MotionGate
from edge.gateway.outbox import Builder, OutboxEntry
from edge.gateway.sources import Frame
from edge.gateway.stages import StageTimer, timed
from edge.gateway.tracker import Detection, IouTracker, Track
from edge.vision.face_quality import face_quality
from edge.vision.faces import FaceAnalyzer, align_face
from edge.vision.plates import PlateRecognizer
from edge.vision.privacy import redact
from edge.vision.types import Box, FaceEmbedding, Image, Plate
from edge.watchlist.matcher import WatchlistMatcher
from edge.watchlist.plate_index import confusable_distance
from edge.wire.mapping import event_to_proto

log = logging.getLogger(__name__)

#: an update event is sent when a track's similarity improves by at least this much
UPDATE_MARGIN = 0.08
MAX_UPDATES = 1
#: a frame's own plate read may differ from the listed text by this much (confusable
#: substitutions count 0.5) and still be the listed vehicle
READ_AGREEMENT = 2.0
#: SCRFD boxes run from brow to chin; hair, ears and jaw identify people too
FACE_REDACT_MARGIN = 1.4


class MatcherSource(Protocol):
    def current(self) -> WatchlistMatcher: ...


class EvidenceSink(Protocol):
    def append_event(
        self,
        build: Builder,
        *,
        block_timeout_s: float = 1.0,
        resume: tuple[str, int] | None = None,
    ) -> OutboxEntry: ...


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


def _read_agrees(text: str, state: _TrackMatch, matcher: WatchlistMatcher) -> bool:
    """Whether this frame's read is the listed plate, not merely its track's.

    A track may have been handed from one vehicle to another (occlusion, a parked car
    replaced): the plate in THIS frame stays sharp only if its own read matches the
    same subject or is within a few OCR confusions of the listed text.
    """
    m = matcher.match_plate(text)
    if m is not None:
        return m.subject_id == state.subject_id
    return confusable_distance(text, state.listed, limit=READ_AGREEMENT) <= READ_AGREEMENT


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
        timer: StageTimer | None = None,
        stills: bool = False,
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
        self._gate = MotionGate(camera.analysis)
        self._timer = timer
        #: independent pictures (a drop folder): each frame is its own scene, so no
        #: tracking across frames and no motion gating
        self._stills = stills
        self.stats = PipelineStats()

    def _timed(self, stage: str) -> AbstractContextManager[None]:
        return timed(self._timer, stage)

    def process(self, frame: Frame) -> list[MatchEvent]:
        """Analyse one frame; returns the events it committed to the outbox."""
        self.stats.frames += 1
        if self._stills:
            self.finish()
        h, w = frame.image.shape[:2]
        masks = [_to_box(r, w, h) for r in self._camera.privacy_masks]
        # privacy zones are never analysed: destroy them before any model sees them
        image = redact(frame.image, masks) if masks else frame.image
        roi = _to_box(self._camera.roi, w, h) if self._camera.roi else None
        matcher = self._matchers.current()
        found = _FrameMatches(unmatched=list(masks))
        scans: list[tuple[str, Callable[[], None]]] = []
        if self._faces is not None:
            scans.append(
                ("faces", lambda: self._scan_faces(image, frame.index, roi, matcher, found))
            )
        if self._plates is not None:
            scans.append(
                ("plates", lambda: self._scan_plates(image, frame.index, roi, matcher, found))
            )
        with self._timed("motion"):
            self._gate.look(image, masks)
        skipped = []
        for kind, scan in scans:
            if self._stills or self._gate.due(kind, frame.captured_at_us):
                self._run(kind, scan, frame.captured_at_us)
            else:
                skipped.append((kind, scan))
        if not found.triggers:
            return []
        # privacy: an emitted scene must have been seen by every detector, so that
        # every face and plate in it that matched nothing is known and redacted
        for kind, scan in skipped:
            self.stats.completions += 1
            self._run(kind, scan, frame.captured_at_us)
        with self._timed("evidence"):
            return [self._commit(frame, image, found)]

    def _run(self, kind: str, scan: Callable[[], None], captured_at_us: int) -> None:
        scan()
        self._gate.ran(kind, captured_at_us)
        if kind == "faces":
            self.stats.face_scans += 1
        else:
            self.stats.plate_scans += 1

    def finish(self) -> None:
        """End of stream: forget every track (their matches were already sent)."""
        self._face_tracks.flush()
        self._plate_tracks.flush()
        self._face_state.clear()
        self._plate_state.clear()
        self._gate.reset()

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
            if _inside(d.box, roi)
        ]
        with self._timed("track_match"):
            tracks = self._face_tracks.update(tracked, index)
            self._forget(tracks, self._face_state)
            self._follow_new(tracks, index, "faces")
        chosen = [
            (t, tracked[t.detection_index].payload)
            for t in tracks
            if t.embed
            and t.detection_index is not None
            and self._faces.usable(quality[tracked[t.detection_index].payload])
        ]
        with self._timed("face_embed"):
            vectors = self._faces.embedder.embed([aligned[i] for _, i in chosen]) if chosen else []
        self.stats.faces_embedded += len(chosen)
        with self._timed("track_match"):
            self._match_faces(chosen, vectors, matcher)
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
        out.unmatched.extend(
            d.box.expand(FACE_REDACT_MARGIN) for i, d in enumerate(dets) if i not in matched
        )

    def _match_faces(
        self,
        chosen: Sequence[tuple[Track[int], int]],
        vectors: Sequence[FaceEmbedding],
        matcher: WatchlistMatcher,
    ) -> None:
        for (t, _), vec in zip(chosen, vectors, strict=True):
            m = matcher.match_face(vec)
            if m is None:
                continue
            state = self._face_state.get(t.track_id)
            if state is None or m.similarity > state.score:
                prev = state or _TrackMatch(m.subject_id, m.similarity)
                prev.subject_id, prev.score = m.subject_id, m.similarity
                self._face_state[t.track_id] = prev

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
        with self._timed("plate_detect"):
            detections = self._plates.detector.detect(image)
        plates: list[Plate] = []
        with self._timed("plate_read"):
            for d in detections:
                plate = self._plates.read_detection(image, d)
                if plate is None:
                    out.unmatched.append(d.box)  # a sign or junk: still plate-shaped, redact
                else:
                    plates.append(plate)
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
        with self._timed("track_match"):
            tracks = self._plate_tracks.update(tracked, index)
            self._forget(tracks, self._plate_state)
            self._follow_new(tracks, index, "plates")
            states = {
                t.track_id: self._match_plate(t, matcher)
                for t in tracks
                if t.detection_index is not None and t.vote is not None
            }
        matched: set[int] = set()
        for t in tracks:
            if t.detection_index is None or t.vote is None:
                continue
            i = tracked[t.detection_index].payload
            state = states[t.track_id]
            p = plates[i]
            if state is None or not _read_agrees(p.text, state, matcher):
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

    def _follow_new(self, tracks: Sequence[Track[int]], index: int, kind: str) -> None:
        if any(t.first_frame == index and t.state != "finished" for t in tracks):
            self._gate.follow_up(kind)

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

        resume = (frame.resume_key, frame.position) if frame.resume_key else None
        self._sink.append_event(build, resume=resume)
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
