"""Gateway health as reported in heartbeats (pure value types)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CameraHealth:
    camera_id: str
    up: bool
    fps: float  # analysed frames per second over the last interval
    frames_analysed: int  # since gateway start
    frames_dropped: int
    last_error: str = ""  # short, no personal data


@dataclass(frozen=True, slots=True)
class GatewayHealth:
    gateway_id: str
    sent_at_us: int
    software_version: str
    cameras: tuple[CameraHealth, ...]
    queue_depth: int
    outbox_events: int
    outbox_bytes: int
    model_ids: tuple[str, ...]
    face_model_id: str | None
    watchlist_version: int
    last_sequence: int
    started_at_us: int = 0
