"""The per-camera pipeline on real models: only matches become evidence, and every
face or plate that matched nothing is destroyed in the scene before encoding."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from edge.config import MatchConfig
from edge.evidence.signing import generate_signing_key, verify_event
from edge.gateway.config import CameraConfig, OutboxConfig, TrackingConfig
from edge.gateway.evidence import EvidenceBuilder
from edge.gateway.outbox import Outbox
from edge.gateway.pipeline import CameraPipeline
from edge.gateway.sources import Frame
from edge.vision.faces import FaceAnalyzer
from edge.vision.plates import PlateRecognizer
from edge.vision.types import Image
from edge.watchlist.matcher import WatchlistMatcher
from edge.watchlist.store import WatchlistFile
from edge.wire.mapping import event_from_proto
from edge.wire.v1 import events_pb2

from .conftest import enrol_person, read, side_by_side


class Fixed:
    def __init__(self, matcher: WatchlistMatcher) -> None:
        self.matcher = matcher

    def current(self) -> WatchlistMatcher:
        return self.matcher


def make_pipeline(
    tmp_path: Path,
    faces: FaceAnalyzer,
    plates: PlateRecognizer,
    wl: WatchlistFile,
    camera: CameraConfig | None = None,
) -> tuple[CameraPipeline, Outbox, object]:
    key = generate_signing_key()
    outbox = Outbox(tmp_path / "outbox.db", OutboxConfig())
    outbox.open()
    builder = EvidenceBuilder("gw-test", key, [faces.model_id, "y5fu_640x", "plate_rec_color"])
    pipeline = CameraPipeline(
        camera or CameraConfig(id="cam-1", source="folder:/nowhere"),
        faces,
        plates,
        Fixed(WatchlistMatcher(wl.snapshot(), MatchConfig())),
        builder,
        outbox,
        TrackingConfig(),
        plate_model_id="plate_rec_color",
    )
    return pipeline, outbox, key.public_key()


def frames(image: Image, n: int, start: int = 0) -> list[Frame]:
    return [
        Frame("cam-1", start + i, 1_700_000_000_000_000 + (start + i) * 200_000, image, "t")
        for i in range(n)
    ]


def decode(payload: bytes) -> tuple[object, bytes, dict[str, bytes]]:
    pb = events_pb2.SignedEvent()
    pb.ParseFromString(payload)
    return event_from_proto(pb)


def test_plate_match_becomes_one_signed_event(
    tmp_path: Path,
    face_analyzer: FaceAnalyzer,
    plate_recognizer: PlateRecognizer,
    watchlist: WatchlistFile,
    toll_rows: list[tuple[Path, str]],
) -> None:
    path, text = toll_rows[0]
    sid = watchlist.add_subject("vendor A")
    watchlist.add_plate(sid, text)
    pipeline, outbox, pub = make_pipeline(tmp_path, face_analyzer, plate_recognizer, watchlist)
    image = read(path)
    events = [e for f in frames(image, 4) for e in pipeline.process(f)]
    assert len(events) == 1, "one event per matched track, not one per frame"
    pending = outbox.pending()
    assert len(pending) == 1
    event, sig, blobs = decode(pending[0].payload)
    verify_event(pub, event, sig)  # type: ignore[arg-type]
    assert event.plates[0].text == text and event.plates[0].subject_id == sid  # type: ignore[attr-defined]
    for ref in event.blobs:  # type: ignore[attr-defined]
        assert hashlib.sha256(blobs[ref.name]).hexdigest() == ref.sha256
    assert event.sequence == 1  # type: ignore[attr-defined]


def test_unmatched_scene_produces_nothing(
    tmp_path: Path,
    face_analyzer: FaceAnalyzer,
    plate_recognizer: PlateRecognizer,
    watchlist: WatchlistFile,
    eval_dir: Path,
    toll_rows: list[tuple[Path, str]],
) -> None:
    sid = watchlist.add_subject("someone else")
    watchlist.add_plate(sid, "粤B12345")
    pipeline, outbox, _ = make_pipeline(tmp_path, face_analyzer, plate_recognizer, watchlist)
    for i, p in enumerate([eval_dir / "privacy/group_insightface_t1.jpg", toll_rows[1][0]]):
        for f in frames(read(p), 2, start=10 * i):
            assert pipeline.process(f) == []
    assert pipeline.stats.faces_detected >= 6
    assert outbox.pending() == []


def test_face_match_keeps_only_the_match_sharp(
    tmp_path: Path,
    face_analyzer: FaceAnalyzer,
    plate_recognizer: PlateRecognizer,
    watchlist: WatchlistFile,
    eval_dir: Path,
    person_photos: list[Path],
) -> None:
    sid = enrol_person(face_analyzer, watchlist, person_photos[0])
    pipeline, outbox, _ = make_pipeline(tmp_path, face_analyzer, plate_recognizer, watchlist)
    group = read(eval_dir / "privacy/group_insightface_t1.jpg")
    scene = side_by_side(read(person_photos[1]), group)
    events = [e for f in frames(scene, 3) for e in pipeline.process(f)]
    assert len(events) == 1
    event, _, blobs = decode(outbox.pending()[0].payload)
    assert [h.subject_id for h in event.faces] == [sid]  # type: ignore[attr-defined]
    stored = cv2.imdecode(np.frombuffer(blobs["scene.jpg"], np.uint8), cv2.IMREAD_COLOR)
    assert stored.shape == scene.shape
    matched_box = event.faces[0].box  # type: ignore[attr-defined]
    others = [d for d in face_analyzer.detect(scene) if d.box.iou(_box(matched_box)) < 0.3]
    assert len(others) >= 6
    # recognisability: the embedding of each redacted region vs the original face
    before = face_analyzer.embed_faces(scene, others)
    after = face_analyzer.embed_faces(stored, others)
    for d, a, b in zip(others, before, after, strict=True):
        assert a.embedding is not None and b.embedding is not None
        sim = float(a.embedding.vector @ b.embedding.vector)
        assert sim < 0.3, f"unmatched face at {d.box.as_list()} is still recognisable ({sim:.2f})"
    # nobody else's face survives in the stored scene either
    assert len([d for d in face_analyzer.detect(stored) if d.score > 0.6]) <= 1
    x1, y1, x2, y2 = (int(v) for v in matched_box)
    sharp = np.corrcoef(scene[y1:y2, x1:x2].ravel(), stored[y1:y2, x1:x2].ravel())[0, 1]
    assert sharp > 0.95


def _box(b: tuple[float, float, float, float]):  # type: ignore[no-untyped-def]
    from edge.vision.types import Box

    return Box(*b)


def test_occupants_behind_windshield_are_blurred_in_plate_evidence(
    tmp_path: Path,
    face_analyzer: FaceAnalyzer,
    plate_recognizer: PlateRecognizer,
    watchlist: WatchlistFile,
    eval_dir: Path,
) -> None:
    """privacy_video_manifest.csv: toll_004 shows the driver; keep the plate, blur him."""
    path = eval_dir / "plates/toll_hyperlpr/toll_004.jpg"
    sid = watchlist.add_subject("vehicle")
    watchlist.add_plate(sid, "沪B74992")
    pipeline, outbox, _ = make_pipeline(tmp_path, face_analyzer, plate_recognizer, watchlist)
    image = read(path)
    assert len(pipeline.process(frames(image, 1)[0])) == 1
    _, _, blobs = decode(outbox.pending()[0].payload)
    stored = cv2.imdecode(np.frombuffer(blobs["scene.jpg"], np.uint8), cv2.IMREAD_COLOR)
    confident, faint = face_analyzer.detect_all(image)
    occupants = confident + faint
    assert occupants, "the driver's face is not even faintly detected"
    # these faces are too dim for an embedding to mean much; the criterion is that the
    # detector finds nothing face-like left where they were
    left = [d for group in face_analyzer.detect_all(stored) for d in group]
    for o in occupants:
        # pixel blocks of a head-sized region can still draw weak detector responses
        # (0.2-0.3, noise); a face would be one the pipeline could recognise again
        near = [round(d.score, 2) for d in left if d.box.iou(o.box) > 0.3 and d.score >= 0.5]
        assert not near, f"face left at {o.box.as_list()} (score {o.score:.2f}): {near}"
        # the fine detail (eyes, mouth, edges) is gone: high-pass content uncorrelated
        x1, y1, x2, y2 = (int(v) for v in (o.box.x1, o.box.y1, o.box.x2, o.box.y2))
        hp = [_high_pass(img[y1:y2, x1:x2]) for img in (image, stored)]
        corr = float(np.corrcoef(hp[0].ravel(), hp[1].ravel())[0, 1])
        assert corr < 0.3, f"detail of the face at {o.box.as_list()} survived ({corr:.2f})"


def _high_pass(region: Image) -> np.ndarray:
    grey = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return grey - cv2.GaussianBlur(grey, (0, 0), 2.0)


# A camera analysed on its sub-stream keeps evidence at main-stream resolution
# (Frame.hires): boxes land on the main picture, and every face there that matched
# nothing is destroyed, also where people moved between the two pictures (the main
# picture nearest in time can be a frame away).
SHIFT = 40


def test_sub_stream_match_gives_main_stream_evidence_with_every_other_face_destroyed(
    tmp_path: Path,
    face_analyzer: FaceAnalyzer,
    plate_recognizer: PlateRecognizer,
    watchlist: WatchlistFile,
    eval_dir: Path,
    person_photos: list[Path],
) -> None:
    enrol_person(face_analyzer, watchlist, person_photos[0])
    pipeline, outbox, _ = make_pipeline(tmp_path, face_analyzer, plate_recognizer, watchlist)
    group = read(eval_dir / "privacy/group_insightface_t1.jpg")
    scene = side_by_side(read(person_photos[1]), group)
    h, w = scene.shape[:2]
    sub = cv2.resize(scene, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    # the main picture is the next frame: everyone moved right by SHIFT pixels
    main = np.ascontiguousarray(np.roll(scene, SHIFT, axis=1))
    asked: list[int] = []

    def hires() -> Image:
        asked.append(1)
        return main

    frames = [
        Frame("cam-1", i, 1_700_000_000_000_000 + i * 200_000, sub, "t", hires=hires)
        for i in range(3)
    ]
    events = [e for f in frames for e in pipeline.process(f)]
    assert len(events) == 1 and len(asked) == 1  # decoded only for the one event
    event, _, blobs = decode(outbox.pending()[0].payload)
    stored = cv2.imdecode(np.frombuffer(blobs["scene.jpg"], np.uint8), cv2.IMREAD_COLOR)
    assert stored.shape == main.shape
    matched = _box(event.faces[0].box)  # type: ignore[attr-defined]
    on_main = face_analyzer.detect(main)
    assert max(d.box.iou(matched) for d in on_main) > 0.5  # scaled onto the main picture
    others = [d for d in on_main if d.box.iou(matched) < 0.3]
    found_on_sub = len(face_analyzer.detect(sub)) - 1
    assert len(others) >= 6 and len(others) >= found_on_sub
    before = face_analyzer.embed_faces(main, others)
    after = face_analyzer.embed_faces(stored, others)
    for d, a, b in zip(others, before, after, strict=True):
        assert a.embedding is not None and b.embedding is not None
        sim = float(a.embedding.vector @ b.embedding.vector)
        assert sim < 0.3, f"unmatched face at {d.box.as_list()} is still recognisable ({sim:.2f})"
