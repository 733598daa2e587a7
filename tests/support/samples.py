"""Realistic sample events with real JPEG blobs, for tests and benchmarks.

Deterministic: the same arguments give byte-identical events and blobs. Nothing here
touches disk or the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import cv2
import numpy as np

from edge.evidence.model import (
    GENESIS_HASH,
    BlobRef,
    BlobRole,
    FaceHit,
    MatchEvent,
    PlateHit,
    event_hash,
)

Sample = tuple[MatchEvent, dict[str, bytes]]


def sample_jpeg(seed: int, width: int, height: int) -> bytes:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return bytes(buf)


def _ref(name: str, role: BlobRole, data: bytes) -> BlobRef:
    return BlobRef(name, role, "image/jpeg", hashlib.sha256(data).hexdigest(), len(data))


def sample_event(
    sequence: int = 1,
    prev_hash: str = GENESIS_HASH,
    gateway_id: str = "gw-1",
    **changes: Any,
) -> Sample:
    """A linked face + plate match with scene, face and plate crops.

    ``changes`` replaces MatchEvent fields (e.g. ``camera_id="cam-2"``).
    """
    blobs = {
        "scene.jpg": sample_jpeg(sequence, 96, 64),
        "face-0.jpg": sample_jpeg(1000 + sequence, 32, 32),
        "plate-0.jpg": sample_jpeg(2000 + sequence, 48, 16),
    }
    d = hashlib.sha256(f"{gateway_id}/{sequence}".encode()).hexdigest()
    event = MatchEvent(
        event_id=f"0190c0de-{d[:4]}-7{d[4:7]}-8{d[7:10]}-{d[10:22]}",  # UUIDv7-shaped
        gateway_id=gateway_id,
        camera_id="cam-1",
        captured_at_us=1_750_000_000_000_000 + sequence * 1_000_000,
        sequence=sequence,
        prev_hash=prev_hash,
        faces=(
            FaceHit(
                "subj-7", 0.61234567, (10.5, 11.25, 40.0, 52.125), 0.8, "w600k_mbf", "face-0.jpg"
            ),
        ),
        plates=(
            PlateHit(
                "subj-7",
                "粤B12345",
                "粤B12345",
                "exact",
                0.97,
                "blue",
                (50.0, 40.0, 90.0, 55.0),
                "plate_rec_color",
                "plate-0.jpg",
            ),
        ),
        blobs=(
            _ref("scene.jpg", "scene", blobs["scene.jpg"]),
            _ref("face-0.jpg", "face_crop", blobs["face-0.jpg"]),
            _ref("plate-0.jpg", "plate_crop", blobs["plate-0.jpg"]),
        ),
        models=("scrfd_500m", "w600k_mbf", "y5fu_640", "plate_rec_color"),
        location=(22.543096, 114.057865),
    )
    return dataclasses.replace(event, **changes), blobs


def sample_chain(n: int, gateway_id: str = "gw-1") -> list[Sample]:
    """``n`` correctly linked events of one gateway, sequences 1..n."""
    out: list[Sample] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        e, blobs = sample_event(seq, prev, gateway_id)
        out.append((e, blobs))
        prev = event_hash(e)
    return out


def with_scene(
    event: MatchEvent, blobs: dict[str, bytes], scene: bytes
) -> tuple[MatchEvent, dict[str, bytes]]:
    """The sample event with ``scene`` as its scene.jpg (the reference updated to match)."""
    digest = hashlib.sha256(scene).hexdigest()
    refs = tuple(
        BlobRef(b.name, b.role, b.media_type, digest, len(scene)) if b.name == "scene.jpg" else b
        for b in event.blobs
    )
    return dataclasses.replace(event, blobs=refs), {**blobs, "scene.jpg": scene}
