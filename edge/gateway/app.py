"""Gateway composition root: builds every part from the config, starts them in order
(models, outbox, watchlist, uplink, pipelines, sources) and stops them in reverse."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from edge import __version__
from edge.evidence.signing import load_private_key
from edge.gateway.analysis import Analysts, CameraSlot
from edge.gateway.config import CameraConfig, GatewayConfig
from edge.gateway.evidence import EvidenceBuilder
from edge.gateway.local_watchlist import LocalWatchlist
from edge.gateway.metrics import GatewayMetrics
from edge.gateway.outbox import Outbox, outbox_path
from edge.gateway.pipeline import CameraPipeline
from edge.gateway.sampler import RateSampler
from edge.gateway.scheduler import (
    InferenceScheduler,
    LaneStats,
    runtime_for_workers,
    start_sources,
    worker_count,
)
from edge.gateway.sources import Frame, FrameSource, now_us, open_source, parse_uri
from edge.gateway.uplink import Uplink
from edge.gateway.viid_source import ViidReceiver
from edge.health import CameraHealth, GatewayHealth
from edge.modelpack import load_manifest
from edge.vision.faces import DETECTOR_MODEL_IDS as FACE_DETECTOR_IDS
from edge.vision.faces import FaceAnalyzer, load_face_analyzer
from edge.vision.plate_readers import READER_MODEL_IDS
from edge.vision.plates import DETECTOR_MODEL_IDS as PLATE_DETECTOR_IDS
from edge.vision.plates import PlateRecognizer, load_plate_recognizer
from edge.vision.scene_privacy import PrivacySweep, load_privacy_sweep

log = logging.getLogger(__name__)


class Gateway:
    def __init__(self, config: GatewayConfig, models_dir: Path) -> None:
        self._config = config
        self._models_dir = models_dir
        self._stopping = threading.Event()
        self._cameras: dict[str, CameraSlot] = {}
        self._scheduler = InferenceScheduler(config.scheduler, on_drop=self._dropped)
        self._workers: list[threading.Thread] = []
        self.metrics = GatewayMetrics(config.metrics, self._camera_health, self.events_total)
        self._outbox: Outbox | None = None
        self._watchlist: LocalWatchlist | None = None
        self._uplink: Uplink | None = None
        self._faces: FaceAnalyzer | None = None
        self._plates: PlateRecognizer | None = None
        self._sweep: PrivacySweep | None = None
        self._started_us = 0
        #: the GA/T 1400 endpoint that viid: cameras push to (None without such cameras)
        self.viid: ViidReceiver | None = None

    @property
    def uplink(self) -> Uplink:
        assert self._uplink is not None
        return self._uplink

    @property
    def outbox(self) -> Outbox:
        assert self._outbox is not None
        return self._outbox

    # -- lifecycle ---------------------------------------------------------------

    def start(self, wait_for_sync_s: float = 0.0, once: bool = False) -> None:
        cfg = self._config
        self._started_us = now_us()
        self.metrics.start()  # first: a port in use fails before anything else opens
        self._load_models()
        key = load_private_key(cfg.signing_key)
        self._outbox = Outbox(outbox_path(cfg.data_dir), cfg.outbox)
        self._outbox.open()
        face_model = self._faces.model_id if self._faces else None
        self._watchlist = LocalWatchlist(
            cfg.data_dir / "watchlist.db", cfg.vision.match, face_model
        )
        self._watchlist.start()
        self._uplink = Uplink(cfg, self._outbox, self._watchlist, self.health, face_model)
        self._uplink.start()
        if wait_for_sync_s > 0 and not self._uplink.synced.wait(wait_for_sync_s):
            log.warning("store not reachable at start; matching with the local watchlist")
        builder = EvidenceBuilder(cfg.gateway_id, key, self._model_ids(), sweep=self._sweep)
        if cfg.viid is not None:
            self.viid = ViidReceiver(cfg.viid, cfg.vision.images)
        for cam in cfg.cameras:
            self._add_camera(cam, builder)
        analysts = Analysts(
            self._scheduler,
            self._cameras,
            self._plates,
            self.metrics,
            self._outbox,
            self._uplink,
            cfg.outbox.when_full,
            self._stopping,
        )
        for n in range(self._worker_count()):
            worker = threading.Thread(target=analysts.work, name=f"recognition-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)
        if once:
            for c in self._cameras.values():
                c.source.drain()
        start_sources([c.source for c in self._cameras.values()])
        for c in self._cameras.values():
            c.reader = threading.Thread(
                target=self._read, args=(c,), name=f"read-{c.config.id}", daemon=True
            )
            c.reader.start()
        if self.viid is not None:
            self.viid.start()
        log.info(
            "gateway started", extra={"gateway_id": cfg.gateway_id, "cameras": len(self._cameras)}
        )

    def stop(self) -> None:
        """Finish the frame in hand, persist, close everything in reverse order."""
        self._stopping.set()
        if self.viid is not None:
            self.viid.stop()
        for c in self._cameras.values():
            c.source.stop()
            if c.reader is not None:
                c.reader.join(timeout=10)
        self._scheduler.close()
        for worker in self._workers:
            worker.join(timeout=60)
        self.metrics.stop()
        if self._uplink is not None:
            self._uplink.stop()
        if self._watchlist is not None:
            self._watchlist.stop()
        if self._outbox is not None:
            self._outbox.close()
        log.info("gateway stopped", extra={"gateway_id": self._config.gateway_id})

    def _worker_count(self) -> int:
        return worker_count(self._config.scheduler, len(os.sched_getaffinity(0)))

    def _load_models(self) -> None:
        cfg = self._config
        manifest = load_manifest()
        runtime = runtime_for_workers(cfg.vision.runtime, self._worker_count())
        wanted = {r for c in cfg.cameras for r in c.recognisers}
        if "faces" in wanted and cfg.vision.faces.enabled:
            self._faces = load_face_analyzer(self._models_dir, cfg.vision.faces, runtime, manifest)
        if "plates" in wanted and cfg.vision.plates.enabled:
            self._plates = load_plate_recognizer(
                self._models_dir, cfg.vision.plates, runtime, manifest
            )
        if cfg.vision.privacy.enabled and cfg.cameras:
            # both kinds whatever the cameras recognise: a plate camera sees drivers
            self._sweep = load_privacy_sweep(
                self._models_dir, cfg.vision.privacy, cfg.vision.runtime, manifest
            )

    def _model_ids(self) -> list[str]:
        vision = self._config.vision
        ids = []
        if self._faces is not None:
            ids += [FACE_DETECTOR_IDS[vision.faces.detector], self._faces.model_id]
        if self._plates is not None:
            ids += [PLATE_DETECTOR_IDS[vision.plates.detector], self._plate_reader_id()]
        return ids

    def _plate_reader_id(self) -> str:
        return str(READER_MODEL_IDS[self._config.vision.plates.reader])

    def _add_camera(self, cam: CameraConfig, builder: EvidenceBuilder) -> None:
        assert self._outbox is not None and self._watchlist is not None
        kind, target = parse_uri(cam.source)
        if kind == "viid" and self.viid is not None:
            source: FrameSource = self.viid.source(cam.id, target)
        else:
            source = open_source(
                cam.id,
                cam.source,
                self._config.sources,
                data_dir=self._config.data_dir,
                limits=self._config.vision.images,
                fps=cam.fps,
                detect_uri=cam.detect_source,
            )
        # a drop folder or a pushing camera delivers separate snapshots: each is its
        # own scene, each is analysed
        stills = kind in ("folder", "viid")
        pipeline = CameraPipeline(
            cam,
            self._faces,
            self._plates,
            self._watchlist,
            builder,
            self._outbox,
            self._config.tracking,
            plate_model_id=self._plate_reader_id() if self._plates else "",
            timer=self.metrics,
            stills=stills,
        )
        fps = None if stills else cam.fps
        self._cameras[cam.id] = CameraSlot(cam, source, pipeline, RateSampler(fps))
        self._scheduler.add_camera(cam.id)

    # -- threads -----------------------------------------------------------------

    def _read(self, cam: CameraSlot) -> None:
        """Capture thread: sample, then offer frames to the scheduler."""
        src = cam.source
        while not self._stopping.is_set():
            frame = src.read(timeout_s=0.5)
            if frame is None:
                if src.finished:
                    break
                continue
            if not cam.sampler.admit(frame.captured_at_us):
                src.ack(frame)
                continue
            while not self._scheduler.offer(frame, live=src.live, timeout_s=0.5):
                if self._stopping.is_set():
                    return
        cam.done.set()

    def _dropped(self, frame: Frame, reason: str) -> None:
        cam = self._cameras.get(frame.camera_id)
        if cam is not None:
            cam.source.ack(frame)

    # -- --once ------------------------------------------------------------------

    def sources_done(self) -> bool:
        return all(c.done.is_set() for c in self._cameras.values()) and self._scheduler.idle()

    def finish_pipelines(self) -> None:
        for c in self._cameras.values():
            c.pipeline.finish()

    def events_total(self) -> int:
        # list(): the metrics endpoint may ask while cameras are still being added
        return sum(c.pipeline.stats.events for c in list(self._cameras.values()))

    # -- health ------------------------------------------------------------------

    def _camera_health(self) -> list[CameraHealth]:
        lanes = self._scheduler.stats().cameras
        cams = list(self._cameras.values())
        return [_camera_health(c, lanes.get(c.config.id)) for c in cams]

    def health(self) -> GatewayHealth:
        q = self._scheduler.stats()
        ob = self._outbox.stats() if self._outbox else None
        return GatewayHealth(
            gateway_id=self._config.gateway_id,
            sent_at_us=now_us(),
            software_version=__version__,
            cameras=tuple(self._camera_health()),
            queue_depth=q.depth,
            outbox_events=ob.pending_events if ob else 0,
            outbox_bytes=ob.pending_bytes if ob else 0,
            model_ids=tuple(self._model_ids()),
            face_model_id=self._faces.model_id if self._faces else None,
            watchlist_version=self._watchlist.version if self._watchlist else 0,
            last_sequence=ob.head_sequence if ob else 0,
            started_at_us=self._started_us,
        )


def _camera_health(c: CameraSlot, lane: LaneStats | None) -> CameraHealth:
    s = c.source.stats()
    drops = dict(lane.dropped) if lane else {}
    if s.overruns:
        drops["source_overrun"] = s.overruns
    # sources that do not count arrivals and decodes separately deliver what they decode
    decoded = max(s.decoded, s.frames)
    lag = lane.lag_reason if lane else ""
    if not lag and s.overruns:
        lag = "source_overrun"
    return CameraHealth(
        camera_id=c.config.id,
        up=s.connected,
        fps=lane.fps if lane else 0.0,
        frames_analysed=c.pipeline.stats.frames,
        frames_dropped=sum(drops.values()),
        last_error=c.last_error[:200],
        frames_received=max(s.received, decoded + max(s.decode_errors, s.corrupt)),
        frames_decoded=decoded,
        dropped_by_reason=tuple(sorted(drops.items())),
        frame_age_p50_s=lane.age_p50_s if lane else 0.0,
        frame_age_p99_s=lane.age_p99_s if lane else 0.0,
        decode_errors=max(s.decode_errors, s.corrupt),
        reconnects=s.reconnects,
        lag_reason=lag,
    )


def run_once(gateway: Gateway, deadline_s: float | None) -> tuple[int, str]:
    """Process finite sources to their end, then wait for the outbox to drain.

    Returns (exit code, message): 0 when everything was delivered, 2 when the store
    refused the gateway, 3 when the deadline passed first.
    """
    end = None if deadline_s is None else time.monotonic() + deadline_s
    while not gateway.sources_done():
        if end is not None and time.monotonic() > end:
            return 3, "deadline passed before the sources were processed"
        time.sleep(0.2)
    gateway.finish_pipelines()
    while gateway.outbox.stats().pending_events > 0:
        refused = gateway.uplink.refused
        if refused:
            return 2, refused
        if end is not None and time.monotonic() > end:
            n = gateway.outbox.stats().pending_events
            last = gateway.uplink.stats.last_error or "no error seen"
            return 3, f"deadline passed with {n} events not acknowledged by the store ({last})"
        gateway.uplink.notify()
        time.sleep(0.2)
    if gateway.uplink.refused:
        return 2, gateway.uplink.refused
    rejected = gateway.uplink.rejected
    if rejected:
        return 2, f"the store rejected {len(rejected)} event(s), quarantined: {rejected[0]}"
    return 0, f"{gateway.events_total()} match events delivered"
