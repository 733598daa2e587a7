"""A camera with a sub-stream, end to end on real parts: the GStreamer RTSP server
serves a main (1280 wide) and a sub-stream (640 wide) of one scene, AvStreamSource
reads the sub-stream for analysis, the pipeline on real models matches the listed
face, and the evidence in the outbox is the main stream's picture."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import MatchConfig
from edge.evidence.signing import generate_signing_key
from edge.gateway.config import CameraConfig, OutboxConfig, TrackingConfig
from edge.gateway.evidence import EvidenceBuilder
from edge.gateway.outbox import Outbox
from edge.gateway.pipeline import CameraPipeline
from edge.gateway.sources import SourceSettings, open_source
from edge.vision.faces import FaceAnalyzer
from edge.vision.plates import PlateRecognizer
from edge.vision.types import Box
from edge.watchlist.matcher import WatchlistMatcher
from edge.watchlist.store import WatchlistFile
from edge.wire.mapping import event_from_proto
from edge.wire.v1 import events_pb2
from tests.support.rtsp import RtspServer, encode_clip, missing_tools

from .conftest import enrol_person, read, side_by_side


class Fixed:
    def __init__(self, matcher: WatchlistMatcher) -> None:
        self.matcher = matcher

    def current(self) -> WatchlistMatcher:
        return self.matcher


def test_sub_stream_camera_over_rtsp_stores_main_stream_evidence(
    tmp_path: Path,
    face_analyzer: FaceAnalyzer,
    plate_recognizer: PlateRecognizer,
    eval_dir: Path,
    person_photos: list[Path],
) -> None:
    why = missing_tools()
    if why:
        pytest.skip(why)
    scene = side_by_side(
        read(person_photos[1]), read(eval_dir / "privacy/group_insightface_t1.jpg")
    )
    still = tmp_path / "scene.png"
    cv2.imwrite(str(still), scene)
    h = round(scene.shape[0] * 1280 / scene.shape[1] / 4) * 4
    main = encode_clip(tmp_path / "main.ts", size=(1280, h), seconds=3, source=str(still))
    sub = encode_clip(tmp_path / "sub.ts", size=(640, h // 2), seconds=3, source=str(still))

    wl = WatchlistFile(tmp_path / "watchlist.db")
    wl.open()
    sid = enrol_person(face_analyzer, wl, person_photos[0])
    outbox = Outbox(tmp_path / "outbox.db", OutboxConfig())
    outbox.open()
    camera = CameraConfig(id="cam-1", source="rtsp://x/main", detect_source="rtsp://x/sub")
    builder = EvidenceBuilder("gw-test", generate_signing_key(), [face_analyzer.model_id])
    pipeline = CameraPipeline(
        camera,
        face_analyzer,
        plate_recognizer,
        Fixed(WatchlistMatcher(wl.snapshot(), MatchConfig())),
        builder,
        outbox,
        TrackingConfig(),
    )
    settings = SourceSettings(open_timeout_s=3.0, stall_timeout_s=2.0)
    with RtspServer({"main": main, "sub": sub}, live=True) as server:
        src = open_source(
            "cam-1",
            server.url("main"),
            settings,
            data_dir=tmp_path,
            fps=5,
            detect_uri=server.url("sub"),
        )
        src.start()
        try:
            events = []
            deadline = time.monotonic() + 10
            while not events and time.monotonic() < deadline:
                frame = src.read(0.5)
                if frame is not None and frame.hires is not None:
                    assert frame.image.shape[1] == 640
                    events += pipeline.process(frame)
        finally:
            src.stop()
    assert events, "the listed face was not matched on the sub-stream"
    pb = events_pb2.SignedEvent()
    pb.ParseFromString(outbox.pending()[0].payload)
    event, _, blobs = event_from_proto(pb)
    assert [f.subject_id for f in event.faces] == [sid]
    stored = cv2.imdecode(np.frombuffer(blobs["scene.jpg"], np.uint8), cv2.IMREAD_COLOR)
    assert stored.shape == (h, 1280, 3)
    # the box is in main-stream pixels: it is where the face is on the 1280 picture
    on_main = face_analyzer.detect(cv2.resize(scene, (1280, h), interpolation=cv2.INTER_AREA))
    assert max(d.box.iou(Box(*event.faces[0].box)) for d in on_main) > 0.5
    outbox.close()
    wl.close()
