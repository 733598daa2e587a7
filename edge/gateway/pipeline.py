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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from edge.evidence.model import MatchEvent
from edge.gateway.config import CameraConfig, TrackingConfig
from edge.gateway.evidence import EvidenceBuilder, SceneMatches, upscale_scene
from edge.gateway.motion import MotionGate
from edge.gateway.outbox import Builder, OutboxEntry
from edge.gateway.plate_stage import PlateStage
from edge.gateway.recognise import (
    FACE_REDACT_MARGIN,
    FaceStage,
    FrameMatches,
    PipelineStats,
    to_box,
)
from edge.gateway.sources import Frame
from edge.gateway.stages import StageTimer, timed
from edge.vision.faces import FaceAnalyzer
from edge.vision.plates import PlateRecognizer
from edge.vision.privacy import redact
from edge.vision.types import Box, Image, PlateDetection
from edge.watchlist.matcher import WatchlistMatcher
from edge.wire.mapping import event_to_proto

__all__ = ["CameraPipeline", "EvidenceSink", "MatcherSource", "PipelineStats"]

log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class Look:
    """A frame as the models see it (privacy zones destroyed) and the detectors due."""

    image: Image
    masks: tuple[Box, ...]
    due: frozenset[str]


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
        self._matchers = matchers
        self._builder = builder
        self._sink = sink
        self._gate = MotionGate(camera.analysis)
        self._timer = timer
        #: independent pictures (a drop folder): each frame is its own scene, so no
        #: tracking across frames and no motion gating
        self._stills = stills
        self._faces = faces if "faces" in camera.recognisers else None
        self._plates = plates if "plates" in camera.recognisers else None
        self.stats = PipelineStats()
        self._stages: dict[str, FaceStage | PlateStage] = {}
        if faces is not None and "faces" in camera.recognisers:
            self._stages["faces"] = FaceStage(
                faces, tracking.faces, self.stats, timer, lambda: self._gate.follow_up("faces")
            )
        if plates is not None and "plates" in camera.recognisers:
            self._stages["plates"] = PlateStage(
                plates,
                tracking.plates,
                self.stats,
                timer,
                lambda: self._gate.follow_up("plates"),
                plate_model_id,
            )

    @property
    def reads_plates(self) -> bool:
        return "plates" in self._stages

    def look(self, frame: Frame) -> Look:
        """The analysed picture and which detectors are due on it (the motion gate)."""
        if self._stills:
            self.finish()
        h, w = frame.image.shape[:2]
        masks = tuple(to_box(r, w, h) for r in self._camera.privacy_masks)
        # privacy zones are never analysed: destroy them before any model sees them
        image = redact(frame.image, list(masks)) if masks else frame.image
        with timed(self._timer, "motion"):
            self._gate.look(image, masks)
        at = frame.captured_at_us
        due = frozenset(k for k in self._stages if self._stills or self._gate.due(k, at))
        return Look(image, masks, due)

    def process(
        self,
        frame: Frame,
        look: Look | None = None,
        plates: Sequence[PlateDetection] | None = None,
    ) -> list[MatchEvent]:
        """Analyse one frame; returns the events it committed to the outbox.

        ``look``: ``look(frame)``, if the caller already took it; ``plates``: the plate
        detector's output on its picture, if the caller ran it (two cameras' frames
        share one detector run: ``PlateRecognizer.detect_pair``)."""
        self.stats.frames += 1
        if look is None:
            look = self.look(frame)
        image = look.image
        h, w = image.shape[:2]
        roi = to_box(self._camera.roi, w, h) if self._camera.roi else None
        matcher = self._matchers.current()
        found = FrameMatches(unmatched=list(look.masks))
        skipped = []
        for kind, stage in self._stages.items():
            if kind in look.due:
                self._run(kind, stage, image, frame, roi, matcher, found, plates)
            else:
                skipped.append((kind, stage))
        if not found.triggers:
            return []
        # privacy: an emitted scene must have been seen by every detector, so that
        # every face and plate in it that matched nothing is known and redacted
        for kind, stage in skipped:
            self.stats.completions += 1
            self._run(kind, stage, image, frame, roi, matcher, found, plates)
        with timed(self._timer, "evidence"):
            return [self._commit(frame, image, found)]

    def _run(
        self,
        kind: str,
        stage: FaceStage | PlateStage,
        image: Image,
        frame: Frame,
        roi: Box | None,
        matcher: WatchlistMatcher,
        found: FrameMatches,
        plates: Sequence[PlateDetection] | None = None,
    ) -> None:
        main = frame.hires if self._camera.analysis.recognise_on_main else None
        if isinstance(stage, PlateStage):
            stage.scan(
                image, frame.index, roi, matcher, found, frame.captured_at_us, main,
                plates,
            )  # fmt: skip
        else:
            stage.scan(image, frame.index, roi, matcher, found, frame.captured_at_us, main)
        self._gate.ran(kind, frame.captured_at_us)
        if kind == "faces":
            self.stats.face_scans += 1
        else:
            self.stats.plate_scans += 1

    def _on_hires(self, scene: SceneMatches, hires: Image) -> SceneMatches:
        """The scene moved onto the main-stream picture. Privacy: a face or plate too
        small to be found at the sub-stream's resolution may be recognisable at the
        main stream's, so the detectors look at the main picture too and everything
        they find that is not a match is redacted as well."""
        up = upscale_scene(scene, hires)
        if self._builder.sweeps:
            return up  # the sweep looks at the main picture closer than this would
        with timed(self._timer, "hires_privacy"):
            matched = [f.box for f in up.faces] + [p.box for p in up.plates]
            extra: list[Box] = []
            if self._faces is not None:
                confident, faint = self._faces.detect_all(hires)
                extra += [
                    d.box.expand(FACE_REDACT_MARGIN)
                    for d in confident + faint
                    if not _is_matched(d.box, matched)
                ]
            if self._plates is not None:
                dets = self._plates.detector.detect(hires)
                extra += [d.box for d in dets if not _is_matched(d.box, matched)]
        return replace(up, redact_boxes=up.redact_boxes + tuple(extra))

    def finish(self) -> None:
        """End of stream: forget every track (their matches were already sent)."""
        for stage in self._stages.values():
            stage.reset()
        self._gate.reset()

    # -- evidence ----------------------------------------------------------------

    def _commit(self, frame: Frame, image: Image, found: FrameMatches) -> MatchEvent:
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
        if frame.hires is not None:  # analysed on the sub-stream: evidence from the main
            hires = frame.hires()
            if hires is not None:
                scene = self._on_hires(scene, hires)
            else:
                log.warning(
                    "main-stream picture not buffered; evidence at analysis resolution",
                    extra={"camera_id": self._camera.id},
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
        # two broken tracks of one subject share one match: count its update once
        for state in {id(s): s for s in found.triggers}.values():
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


def _is_matched(box: Box, matched: list[Box]) -> bool:
    """``box`` is (a detection of) one of the matched faces or plates."""
    return any(box.iou(m) >= 0.3 for m in matched)
