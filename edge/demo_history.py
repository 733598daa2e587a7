"""A week of past matches for `edgewatch demo`: several cameras at key locations.

The demo's second gateway (gw-2) "was running" for the last 14 days at four street
cameras, three of them tagged as key locations in the demo's store.yaml. Its matches
are real signed, chained events (evidence images: the demo's own sample scenes and
noise crops) delivered over the real Ingest stream with gw-2's certificate, so the
store verifies them like any other. The plan is deterministic: vendors come back to
the market in the mornings and to the night market in the evenings, more often in the
last seven days than in the seven before (the trend), with a few one-off passers.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.evidence.model import GENESIS_HASH, MatchEvent, event_hash
from edge.evidence.samples import sample_event, with_scene
from edge.evidence.signing import load_private_key, sign_event
from edge.store.loadgen import Deployment, SignedSample

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
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
    """(camera, capture time, subject index) for 14 days: busier in the last 7."""
    out = []
    for day in range(14):
        recent = day >= 7
        start = now_us - (14 - day) * DAY_US
        for camera, hours, per_day in (
            ("market-east", (7, 8, 9, 10), 3 if recent else 1),
            ("market-west", (8, 9), 2 if recent else 1),
            ("night-market", (19, 20, 21, 22, 23), 3 if recent else 2),
            ("school-gate", (7, 8, 16), 1),
        ):
            for _ in range(per_day):
                hour = rng.choice(hours)
                t = start + (hour - 8) * HOUR_US + rng.randrange(HOUR_US)  # local = UTC+8
                out.append((camera, t, rng.randrange(10)))
    return sorted(out, key=lambda x: x[1])


def _event(
    seq: int, prev: str, camera: str, at_us: int, subject: Subject, scene: bytes | None
) -> tuple[MatchEvent, dict[str, bytes]]:
    e, blobs = sample_event(seq, prev, GATEWAY, camera_id=camera, captured_at_us=at_us,
                            location=CAMERAS[camera])  # fmt: skip
    if subject.plate is None:
        faces = tuple(dataclasses.replace(f, subject_id=subject.subject_id) for f in e.faces)
        keep, drop = "face_crop", "plate-0.jpg"
        e = dataclasses.replace(e, faces=faces, plates=())
    else:
        p = e.plates[0]
        sid, text = subject.subject_id, subject.plate
        plate = dataclasses.replace(p, subject_id=sid, text=text, listed_text=text)
        keep, drop = "plate_crop", "face-0.jpg"
        e = dataclasses.replace(e, faces=(), plates=(plate,))
    crops = tuple(b for b in e.blobs if b.role in ("scene", keep))
    e = dataclasses.replace(e, blobs=crops)
    blobs.pop(drop)
    if scene is not None:
        e, blobs = with_scene(e, blobs, scene)
    return e, blobs


def history(
    dep: Deployment, subjects: Sequence[Subject], scenes: Sequence[Path], now_us: int
) -> int:
    """Deliver the two weeks of gw-2 matches; returns how many were stored."""
    if not subjects:
        return 0
    rng = random.Random(20250615)
    key = load_private_key(dep.path("gw-2.signing.key"))
    pictures = [p.read_bytes() for p in scenes if p.suffix.lower() in (".jpg", ".jpeg")]
    samples, prev = [], GENESIS_HASH
    for i, (camera, at, pick) in enumerate(_plan(now_us, rng), start=1):
        # the first subjects are the regulars; a few others pass once in a while
        subject = (
            subjects[pick % min(2, len(subjects))] if pick < 8 else subjects[pick % len(subjects)]
        )
        scene = pictures[i % len(pictures)] if pictures else None
        e, blobs = _event(i, prev, camera, at, subject, scene)
        samples.append(SignedSample(e, sign_event(key, e), blobs))
        prev = event_hash(e)
    with dep.gateway(2) as gw:
        acks = gw.deliver(samples, batch=32)
    return sum(a.status == "stored" for a in acks)
