"""Builders of real, chained match events with real JPEG blobs."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from edge.evidence.model import (
    GENESIS_HASH,
    BlobRef,
    FaceHit,
    MatchEvent,
    PlateHit,
    event_hash,
)

EventFactory = Callable[..., tuple[MatchEvent, dict[str, bytes]]]


def _jpeg(seed: int, size: tuple[int, int]) -> bytes:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return bytes(buf)


def _ref(name: str, role: str, data: bytes) -> BlobRef:
    return BlobRef(name, role, "image/jpeg", hashlib.sha256(data).hexdigest(), len(data))  # type: ignore[arg-type]


@pytest.fixture
def make_event() -> EventFactory:
    """make_event(sequence, prev_hash=..., gateway_id=...) -> (event, blobs by name)."""

    def build(
        sequence: int = 1,
        prev_hash: str = GENESIS_HASH,
        gateway_id: str = "gw-1",
        **changes: object,
    ) -> tuple[MatchEvent, dict[str, bytes]]:
        blobs = {
            "scene.jpg": _jpeg(sequence, (96, 64)),
            "face-0.jpg": _jpeg(1000 + sequence, (32, 32)),
            "plate-0.jpg": _jpeg(2000 + sequence, (48, 16)),
        }
        event = MatchEvent(
            event_id=f"0190c0de-0000-7000-8000-{sequence:012d}",
            gateway_id=gateway_id,
            camera_id="cam-1",
            captured_at_us=1_750_000_000_000_000 + sequence * 1_000_000,
            sequence=sequence,
            prev_hash=prev_hash,
            faces=(
                FaceHit(
                    "subj-7",
                    0.61234567,
                    (10.5, 11.25, 40.0, 52.125),
                    0.8,
                    "w600k_mbf",
                    "face-0.jpg",
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
        return dataclasses.replace(event, **changes), blobs  # type: ignore[arg-type]

    return build


@pytest.fixture
def make_chain(
    make_event: EventFactory,
) -> Callable[..., list[tuple[MatchEvent, dict[str, bytes]]]]:
    """make_chain(n) -> n correctly linked events of one gateway, sequences 1..n."""

    def build(n: int, gateway_id: str = "gw-1") -> list[tuple[MatchEvent, dict[str, bytes]]]:
        out = []
        prev = GENESIS_HASH
        for seq in range(1, n + 1):
            e, blobs = make_event(seq, prev, gateway_id)
            out.append((e, blobs))
            prev = event_hash(e)
        return out

    return build
