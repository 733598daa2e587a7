"""The analysis workers: frames from the scheduler through their camera's pipeline.

Each worker takes the frame the scheduler picks; if it is small enough to share a plate
detector run (edge/vision/stacking.py), it also takes another camera's waiting frame,
looks at both (motion gate) and, when both need the plate detector, runs it once for
the two. A frame whose analysis fails is counted on its camera and acknowledged: one
bad frame must not stop a gateway that runs unattended.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from edge.errors import OutboxFullError
from edge.gateway.config import CameraConfig
from edge.gateway.metrics import GatewayMetrics
from edge.gateway.outbox import Outbox
from edge.gateway.pipeline import CameraPipeline, Look
from edge.gateway.sampler import RateSampler
from edge.gateway.scheduler import InferenceScheduler, Taken
from edge.gateway.sources import Frame, FrameSource
from edge.gateway.stages import timed
from edge.gateway.uplink import Uplink
from edge.vision.plates import PlateRecognizer
from edge.vision.types import PlateDetection

log = logging.getLogger(__name__)


@dataclass
class CameraSlot:
    """One camera as the gateway runs it: config, source, pipeline, sampler, state."""

    config: CameraConfig
    source: FrameSource
    pipeline: CameraPipeline
    sampler: RateSampler
    errors: int = 0
    last_error: str = ""
    reader: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Analysts:
    """What every analysis worker thread runs (``work``); built by the gateway."""

    def __init__(
        self,
        scheduler: InferenceScheduler,
        cameras: dict[str, CameraSlot],
        plates: PlateRecognizer | None,
        metrics: GatewayMetrics,
        outbox: Outbox,
        uplink: Uplink,
        when_full: Literal["block", "refuse_new"],
        stopping: threading.Event,
    ) -> None:
        self._scheduler = scheduler
        self._cameras = cameras
        self._plates = plates
        self._metrics = metrics
        self._outbox = outbox
        self._uplink = uplink
        self._when_full = when_full
        self._stopping = stopping

    def work(self) -> None:
        """One analysis worker thread: until the scheduler closes."""
        while True:
            taken = self._scheduler.take(timeout_s=0.5)
            if taken is None:
                if self._stopping.is_set():
                    return
                continue
            # another camera's frame, if one waits: small pictures share a plate
            # detector run (edge/vision/stacking.py); large ones would only wait
            pairs = self._plates is not None and self._plates.pairs(taken.frame.image)
            partner = self._scheduler.take(timeout_s=0) if pairs else None
            if partner is None:
                self._run_one(taken)
            else:
                self._run_pair(taken, partner)

    def _run_pair(self, a: Taken, b: Taken) -> None:
        assert self._plates is not None
        pa = self._cameras[a.frame.camera_id].pipeline
        pb = self._cameras[b.frame.camera_id].pipeline
        try:
            la, lb = pa.look(a.frame), pb.look(b.frame)
        except Exception:  # analysed again, alone, where the error is handled
            self._run_one(a)
            self._run_one(b)
            return
        pair = None
        if {"plates"} <= la.due & lb.due and pa.reads_plates and pb.reads_plates:
            with timed(self._metrics, "plate_detect_pair"):
                pair = self._plates.detect_pair(la.image, lb.image)
        self._run_one(a, la, pair[0] if pair else None)
        self._run_one(b, lb, pair[1] if pair else None)

    def _run_one(
        self,
        taken: Taken,
        look: Look | None = None,
        plates: Sequence[PlateDetection] | None = None,
    ) -> None:
        cam = self._cameras[taken.frame.camera_id]
        self._metrics.frame_age(cam.config.id, taken.age_s)
        stats = cam.pipeline.stats
        scans = stats.face_scans + stats.plate_scans
        try:
            self._analyse(taken.frame, look, plates)
        finally:
            # a detector ran: something moved (or a keyframe) - this camera goes first
            moved = stats.face_scans + stats.plate_scans > scans
            self._scheduler.done(cam.config.id, moving=moved)

    def _already_evidence(self, frame: Frame) -> bool:
        """A recorded input re-read after a crash: skip what already became evidence."""
        if frame.resume_key is None:
            return False
        done = self._outbox.resume_position(frame.resume_key)
        return done is not None and frame.position <= done

    def _analyse(
        self,
        frame: Frame,
        look: Look | None = None,
        plates: Sequence[PlateDetection] | None = None,
    ) -> None:
        cam = self._cameras[frame.camera_id]
        if self._already_evidence(frame):
            cam.source.ack(frame)
            return
        while True:
            try:
                cam.pipeline.process(frame, look, plates)
                break
            except OutboxFullError as e:
                cam.last_error = "outbox full"
                if self._when_full != "block" or self._stopping.is_set():
                    break  # refuse_new: the outbox already logged it loudly and counted it
                log.error("analysis stalled: outbox full", extra={"camera_id": cam.config.id})
                self._stopping.wait(1.0)
                del e
            except Exception as e:  # one bad frame must not stop a 24/7 gateway
                cam.errors += 1
                cam.last_error = type(e).__name__
                log.exception("frame analysis failed", extra={"camera_id": cam.config.id})
                break
        cam.source.ack(frame)
        self._uplink.notify()
