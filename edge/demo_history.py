"""Two weeks of past matches for `edgewatch demo`: several cameras at key locations.

The demo's second gateway (gw-2) "was running" for the last 14 days at four street
cameras, three of them tagged as key locations in the demo's store.yaml. Its matches
are real signed, chained events (scenes: the demo's own sample pictures, crops cut from
them) delivered over the real Ingest stream with gw-2's client certificate, so the
store verifies them like any other. The plan is deterministic: vendors come back to
the market in the mornings and to the night market in the evenings, more often in the
last seven days than in the seven before (the trend), with a few one-off passers.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import grpc
import numpy as np

from edge.evidence.model import GENESIS_HASH, BlobRef, FaceHit, MatchEvent, PlateHit, event_hash
from edge.evidence.signing import load_private_key, sign_event
from edge.ids import uuid7
from edge.wire.mapping import event_to_proto
from edge.wire.v1 import ingest_pb2, ingest_pb2_grpc

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
LOCAL_OFFSET_US = 8 * HOUR_US
GATEWAY = "gw-2"
#: camera -> (lat, lon); the first three are key locations in the demo config
CAMERAS: dict[str, tuple[float, float]] = {
    "market-east": (22.54310, 114.05790),
    "market-west": (22.54262, 114.05602),
    "night-market": (22.53512, 114.05031),
    "school-gate": (22.54950, 114.06300),
}
LOCATIONS: list[dict[str, Any]] = [
    {
        "id": "market",
        "name": "东门市场",
        "cameras": [f"{GATEWAY}/market-east", f"{GATEWAY}/market-west"],
        "polygon": [[22.5440, 114.0550], [22.5440, 114.0595], [22.5415, 114.0595],
                    [22.5415, 114.0550]],
        "schedule": [{"from": "06:00", "to": "11:00"}],
    },
    {
        "id": "night-market",
        "name": "夜市街",
        "cameras": [f"{GATEWAY}/night-market"],
        "point": {"lat": 22.53512, "lon": 114.05031},
        "schedule": [{"from": "18:00", "to": "02:00"}],
    },
    {
        "id": "school",
        "name": "学校门口",
        "cameras": [f"{GATEWAY}/school-gate", "gw-1/cam-folder"],
        "point": {"lat": 22.54950, "lon": 114.06300},
        "schedule": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "07:00",
                      "to": "09:00"}],
    },
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Subject:
    subject_id: str
    plate: str | None  # None: a face subject


def _plan(now_us: int, rng: random.Random) -> list[tuple[str, int, int]]:
    """(camera, capture time, pick) for the 14 days before today: busier in the last 7.

    Hours are local (UTC+8, the demo's web.utc_offset_minutes)."""
    out = []
    today = (now_us + LOCAL_OFFSET_US) // DAY_US * DAY_US - LOCAL_OFFSET_US  # local midnight
    for day in range(14):
        recent = day >= 7
        start = today - (14 - day) * DAY_US
        for camera, hours, per_day in (
            ("market-east", (7, 8, 9, 10), 3 if recent else 1),
            ("market-west", (8, 9), 2 if recent else 1),
            ("night-market", (19, 20, 21, 22, 23), 3 if recent else 2),
            ("school-gate", (7, 8, 16), 1),
        ):
            for _ in range(per_day):
                hour = rng.choice(hours)
                t = start + hour * HOUR_US + rng.randrange(HOUR_US)
                out.append((camera, t, rng.randrange(10)))
    return sorted(out, key=lambda x: x[1])


def _jpeg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return bytes(buf)


def _ref(name: str, role: Any, data: bytes) -> BlobRef:
    return BlobRef(name, role, "image/jpeg", hashlib.sha256(data).hexdigest(), len(data))


def _event(
    seq: int, prev: str, camera: str, at_us: int, subject: Subject, scene: np.ndarray
) -> tuple[MatchEvent, dict[str, bytes]]:
    h, w = scene.shape[:2]
    box = (w * 0.35, h * 0.35, w * 0.65, h * 0.65)
    x1, y1, x2, y2 = (int(v) for v in box)
    scene_jpg, crop_jpg = _jpeg(scene), _jpeg(scene[y1:y2, x1:x2])
    crop = "face-0.jpg" if subject.plate is None else "plate-0.jpg"
    blobs = {"scene.jpg": scene_jpg, crop: crop_jpg}
    role = "face_crop" if subject.plate is None else "plate_crop"
    faces: tuple[FaceHit, ...] = ()
    plates: tuple[PlateHit, ...] = ()
    if subject.plate is None:
        faces = (FaceHit(subject.subject_id, 0.62, box, 0.8, "demo-history", crop),)
    else:
        plates = (
            PlateHit(subject.subject_id, subject.plate, subject.plate, "exact", 0.95, "blue",
                     box, "demo-history", crop),
        )  # fmt: skip
    event = MatchEvent(
        event_id=uuid7(at_us // 1000),
        gateway_id=GATEWAY,
        camera_id=camera,
        captured_at_us=at_us,
        sequence=seq,
        prev_hash=prev,
        faces=faces,
        plates=plates,
        blobs=(_ref("scene.jpg", "scene", scene_jpg), _ref(crop, role, crop_jpg)),
        models=("demo-history",),
        location=CAMERAS[camera],
    )
    return event, blobs


def _deliver(root: Path, address: str, requests: list[ingest_pb2.DeliverRequest]) -> int:
    creds = grpc.ssl_channel_credentials(
        root_certificates=(root / "ca.pem").read_bytes(),
        private_key=(root / "gw-2.key").read_bytes(),
        certificate_chain=(root / "gw-2.pem").read_bytes(),
    )
    with grpc.secure_channel(address, creds) as channel:
        stub = ingest_pb2_grpc.IngestStub(channel)
        replies = stub.Deliver(iter(requests), timeout=120)
        return sum(a.status == ingest_pb2.ACK_STATUS_STORED for r in replies for a in r.acks)


def history(
    root: Path, address: str, subjects: Sequence[Subject], scenes: Sequence[Path], now_us: int
) -> int:
    """Deliver the two weeks of gw-2 matches; returns how many the store stored."""
    if not subjects:
        return 0
    rng = random.Random(20250615)
    key = load_private_key(root / "gw-2.signing.key")
    pictures = [img for p in scenes if (img := cv2.imread(str(p))) is not None]
    if not pictures:
        pictures = [np.full((480, 640, 3), 96, np.uint8)]
    pictures = [cv2.resize(p, (640, 480)) for p in pictures]
    signed, prev = [], GENESIS_HASH
    for i, (camera, at, pick) in enumerate(_plan(now_us, rng), start=1):
        # the first subjects are the regulars; the others pass once in a while
        regular = pick < 8
        subject = subjects[pick % (min(2, len(subjects)) if regular else len(subjects))]
        e, blobs = _event(i, prev, camera, at, subject, pictures[i % len(pictures)])
        signed.append(event_to_proto(e, sign_event(key, e), blobs))
        prev = event_hash(e)
    requests = [
        ingest_pb2.DeliverRequest(events=signed[i : i + 32]) for i in range(0, len(signed), 32)
    ]
    return _deliver(root, address, requests)
